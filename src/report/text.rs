//! Formatting shared by the renderers: fixed-precision numbers and model text made safe for
//! each format. Model output can contain anything (fences, HTML, control characters) and must
//! never break a report.

pub(crate) use crate::analysis::num;

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

/// A Markdown code span holding `s` literally (CommonMark §6.1): inside a code span backslash
/// escapes and entities are not processed, so nothing is escaped; instead the delimiter is one
/// backtick longer than the longest backtick run inside, and a space pads content that starts
/// or ends with a backtick (or with spaces at both ends, which a renderer would strip). Line
/// breaks become spaces, control characters visible escapes.
pub fn md_code(s: &str) -> String {
    let s: String = visible_controls(s)
        .chars()
        .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
        .collect();
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && !s.trim().is_empty());
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// [`md_code`] for a table cell: GFM splits cells at `|` before it parses code spans, so a
/// pipe is written `\|` (which GFM turns back into `|` inside the span).
pub fn md_code_cell(s: &str) -> String {
    md_code(s).replace('|', "\\|")
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

/// A CSV text field (RFC 4180): quoted when it holds a comma, quote or newline. A value that
/// a spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`, tab or CR) gets a
/// leading `'`, as OWASP recommends against CSV injection: model text and suite names are
/// untrusted. The exact text stays in the JSON report and the trace.
pub fn csv_field(s: &str) -> String {
    let s = visible_controls(s);
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    };
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
        // F19: formula triggers are defused with a leading quote (OWASP).
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("+cmd"), "'+cmd");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\t=x"), "'\t=x");
        assert_eq!(
            csv_field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("a=b"), "a=b");
        assert_eq!(md_inline("a|b\nc"), "a\\|b c");
        // F20: code spans hold text literally; backticks inside lengthen the delimiter.
        assert_eq!(md_code("a&b\\c<d>"), "`a&b\\c<d>`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code("x``"), "``` x`` ```");
        assert_eq!(md_code(" a "), "`  a  `");
        assert_eq!(md_code("l1\nl2"), "`l1 l2`");
        assert_eq!(md_code_cell("a|b"), "`a\\|b`");
        assert_eq!(num(Some(1.23456), 2), "1.23");
        assert_eq!(num(Some(f64::NAN), 2), "-");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }
}
