//! One table model for the Markdown and HTML reports (as hyperfine's markup exporter feeds
//! Markdown and AsciiDoc from one table): the rows are built once from the analysis in
//! [`super::tables`], and each format only writes them out with its own escaping.
use super::text::{html_escape, md_code_cell, md_inline};
use crate::trace::Status;
use std::fmt::Write;

/// One cell. Text from the trace goes in `Text`/`Code`/`Link` and is escaped per format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// A row label written by rkbench (a `<th>` in HTML).
    Label(String),
    /// Text, escaped for the format.
    Text(String),
    /// Text written by rkbench (labels, units): Markdown keeps its characters (only `|` is
    /// escaped, so it cannot split the cell), HTML escapes it.
    Static(String),
    /// A figure, already formatted (right-aligned in HTML).
    Num(String),
    /// Literal text (paths, hashes, command lines): a code span.
    Code(String),
    /// A request id linking to its details in HTML; `suffix` is rkbench's own text.
    Request {
        index: u32,
        id: String,
        suffix: &'static str,
    },
    /// A request status, coloured in HTML.
    Status(Status),
    /// A figure that is good (`true`) or not: ✅/⚠️ in Markdown, coloured in HTML.
    Mark(bool, String),
}

impl Cell {
    pub(crate) fn num(s: impl Into<String>) -> Cell {
        Cell::Num(s.into())
    }
    pub(crate) fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub(crate) fn label(s: impl Into<String>) -> Cell {
        Cell::Label(s.into())
    }

    fn markdown(&self) -> String {
        match self {
            Cell::Label(s) | Cell::Num(s) => s.clone(),
            Cell::Text(s) => md_inline(s),
            Cell::Static(s) => s.replace('|', "\\|"),
            Cell::Code(s) => md_code_cell(s),
            Cell::Request { id, suffix, .. } => format!("{}{suffix}", md_inline(id)),
            Cell::Status(s) => s.as_str().to_string(),
            Cell::Mark(ok, s) => format!("{} {s}", if *ok { "✅" } else { "⚠️" }),
        }
    }

    fn html(&self) -> String {
        match self {
            Cell::Label(s) => format!("<th>{}</th>", html_escape(s)),
            Cell::Text(s) | Cell::Static(s) => format!("<td>{}</td>", html_escape(s)),
            Cell::Num(s) => format!("<td class=\"num\">{}</td>", html_escape(s)),
            Cell::Code(s) => format!("<td><code>{}</code></td>", html_escape(s)),
            Cell::Request { index, id, suffix } => format!(
                "<td><a href=\"#req-{index}\">{}</a>{}</td>",
                html_escape(id),
                html_escape(suffix)
            ),
            Cell::Status(s) => format!("<td class=\"{}\">{}</td>", status_class(*s), s.as_str()),
            Cell::Mark(ok, s) => format!(
                "<td><span class=\"{}\">{}</span></td>",
                if *ok { "status-ok" } else { "status-bad" },
                html_escape(s)
            ),
        }
    }
}

/// CSS class of a request status in the HTML report.
pub(crate) fn status_class(s: Status) -> &'static str {
    match s {
        Status::Ok => "status-ok",
        Status::Error => "status-bad",
        _ => "status-partial",
    }
}

/// A column heading; `numeric` right-aligns it in HTML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// Escaped per format (policy names come from the trace).
    pub title: String,
    pub numeric: bool,
}

/// A table: with column headings (a grid), or none (label/value pairs).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A grid with these headings; a title starting with `#` (e.g. `#n`) is numeric, the mark
    /// removed.
    pub(crate) fn grid(titles: &[&str]) -> Table {
        Table {
            columns: titles.iter().map(|t| column(t)).collect(),
            rows: Vec::new(),
        }
    }

    /// Label/value pairs without headings.
    pub(crate) fn pairs() -> Table {
        Table::default()
    }

    pub(crate) fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// A GitHub-flavoured Markdown table, followed by a blank line.
    pub(crate) fn markdown(&self) -> String {
        let mut o = String::new();
        let width = self.width();
        if self.columns.is_empty() {
            let _ = writeln!(o, "|{}", " |".repeat(width));
        } else {
            let titles: Vec<String> = self.columns.iter().map(|c| md_inline(&c.title)).collect();
            let _ = writeln!(o, "| {} |", titles.join(" | "));
        }
        let _ = writeln!(o, "|{}", "---|".repeat(width));
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(Cell::markdown).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        o.push('\n');
        o
    }

    /// An HTML table (`class="kv"` for label/value pairs).
    pub(crate) fn html(&self) -> String {
        let mut o = String::new();
        if self.columns.is_empty() {
            o.push_str("<table class=\"kv\">\n");
        } else {
            o.push_str("<table>\n<thead><tr>");
            for c in &self.columns {
                let class = if c.numeric { " class=\"num\"" } else { "" };
                let _ = write!(o, "<th{class}>{}</th>", html_escape(&c.title));
            }
            o.push_str("</tr></thead>\n<tbody>\n");
        }
        for r in &self.rows {
            o.push_str("<tr>");
            for c in r {
                o.push_str(&c.html());
            }
            o.push_str("</tr>\n");
        }
        if !self.columns.is_empty() {
            o.push_str("</tbody>\n");
        }
        o.push_str("</table>\n");
        o
    }

    fn width(&self) -> usize {
        if self.columns.is_empty() {
            self.rows.iter().map(Vec::len).max().unwrap_or(2)
        } else {
            self.columns.len()
        }
    }
}

fn column(t: &str) -> Column {
    match t.strip_prefix('#') {
        Some(rest) if !rest.is_empty() => Column {
            title: rest.to_string(),
            numeric: true,
        },
        _ => Column {
            title: t.to_string(),
            numeric: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_table_two_formats() {
        let mut t = Table::grid(&["metric", "#n", "#"]);
        t.push(vec![
            Cell::label("TTFT (ms)"),
            Cell::num("3"),
            Cell::Request {
                index: 2,
                id: "a|<b>".into(),
                suffix: " (warm-up)",
            },
        ]);
        assert_eq!(
            t.markdown(),
            "| metric | n | # |\n|---|---|---|\n| TTFT (ms) | 3 | a\\|&lt;b&gt; (warm-up) |\n\n"
        );
        let h = t.html();
        assert!(h.contains("<th class=\"num\">n</th><th>#</th>"));
        assert!(h.contains(
            "<tr><th>TTFT (ms)</th><td class=\"num\">3</td><td><a href=\"#req-2\">a|&lt;b&gt;</a> (warm-up)</td></tr>"
        ));
        let mut kv = Table::pairs();
        kv.push(vec![
            Cell::label("Success rate"),
            Cell::Mark(true, "100.0 %".into()),
        ]);
        assert_eq!(
            kv.markdown(),
            "| | |\n|---|---|\n| Success rate | ✅ 100.0 % |\n\n"
        );
        assert!(kv
            .html()
            .starts_with("<table class=\"kv\">\n<tr><th>Success rate</th>"));
    }
}
