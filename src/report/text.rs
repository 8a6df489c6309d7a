//! Formatting shared by the renderers: fixed-precision numbers and model text made safe for
//! each format. Model output can contain anything (fences, HTML, control characters) and must
//! never break a report.

pub use crate::analysis::num;

/// Replace C0/C1 control characters (except newline and tab) with visible escapes.
pub fn visible_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c.is_control() && c != '\n' && c != '\t') || c == '\u{2028}' || c == '\u{2029}' {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A Markdown fenced block that no content can close early: the fence is one backtick longer
/// than the longest run of backticks inside (CommonMark §4.5).
pub fn md_fence(content: &str, info: &str) -> String {
    let content = visible_controls(content);
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body = content.trim_end_matches('\n');
    format!("{fence}{info}\n{body}\n{fence}\n")
}

/// Text for a Markdown table cell or inline position: no pipes, newlines or HTML.
pub fn md_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible_controls(s).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\t' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' | '*' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// HTML text escaping (for element content and quoted attributes).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible_controls(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// CSV field (RFC 4180): quoted when it holds a comma, quote or newline.
pub fn csv_field(s: &str) -> String {
    let s = visible_controls(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Format Unix milliseconds as RFC 3339 UTC (a recorded fact, not the current time).
pub fn utc(unix_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_outlives_content() {
        let f = md_fence("a ```` b", "text");
        assert!(f.starts_with("`````text\n"));
        assert!(f.ends_with("\n`````\n"));
        assert!(md_fence("plain", "").starts_with("```\n"));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<script>&\"'"),
            "&lt;script&gt;&amp;&quot;&#39;"
        );
        assert_eq!(visible_controls("a\u{1b}[31mb\n"), "a\\u{001b}[31mb\n");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(md_inline("a|b\nc"), "a\\|b c");
        assert_eq!(num(Some(1.23456), 2), "1.23");
        assert_eq!(num(Some(f64::NAN), 2), "-");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }
}
