//! What the report's head says about how the run was measured and whether its trace is whole,
//! built once so the Markdown and HTML reports state the same facts in their own markup.
use crate::analysis::{Analysis, Span};
use crate::trace::RunStatus;

/// What the figures were measured through: the HTTP server (`record --server`: its kind and
/// URL) or librkllmrt.so itself (its version, or "unknown version", and ABI).
pub(crate) fn measured(a: &Analysis) -> Vec<Span> {
    let h = &a.trace.header;
    match &a.server {
        Some(s) => vec![
            Span::Text(format!("the {} server at ", s.run.kind)),
            Span::Name(s.run.url.clone()),
        ],
        None => {
            let version = if h.runtime.version.is_empty() {
                "unknown version"
            } else {
                &h.runtime.version
            };
            vec![Span::Text(format!(
                "RKLLM runtime {version} (ABI {})",
                h.runtime.abi
            ))]
        }
    }
}

/// A condition of the trace that qualifies every figure: a bold head and the plain text after it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceNote {
    pub(crate) head: String,
    pub(crate) text: String,
}

/// A damaged trace, a run without an end record, a run that ended other than complete.
pub(crate) fn trace_notes(a: &Analysis) -> Vec<TraceNote> {
    let trace = a.trace;
    let mut v = Vec::new();
    if let Some(d) = &trace.damage {
        v.push(TraceNote {
            head: "Damaged trace:".into(),
            text: format!("{d}. This report covers the valid part only."),
        });
    }
    if !trace.impossible.is_empty() {
        v.push(TraceNote {
            head: "Frames dropped:".into(),
            text: format!(
                "{}. This report leaves them out.",
                crate::trace::reader::impossible_lines(&trace.impossible).join("; ")
            ),
        });
    }
    match &trace.end {
        None => v.push(TraceNote {
            head: "Incomplete run:".into(),
            text: "the trace has no end record (the recorder was killed or is still running)."
                .into(),
        }),
        Some(e) if e.status != RunStatus::Complete => v.push(TraceNote {
            head: format!("Run ended: {}", e.status.as_str()),
            text: e.detail.clone(),
        }),
        _ => {}
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::testdata;
    use crate::report::text::{html_escape, md_inline};
    use crate::report::{html, markdown};
    use crate::trace::{RunEnd, RunHeader};

    #[test]
    fn both_formats_state_each_note() {
        for (end, head) in [
            (None, "Incomplete run:"),
            (
                Some(RunEnd {
                    status: RunStatus::Hung,
                    detail: "no callback for 30 s | <rkllm_run> *stuck*".into(),
                    ..Default::default()
                }),
                "Run ended: hung",
            ),
        ] {
            let t = testdata::trace(RunHeader::default(), Vec::new(), Vec::new(), end);
            let a = Analysis::of(&t);
            let notes = trace_notes(&a);
            assert_eq!(notes.len(), 1);
            assert_eq!(notes[0].head, head);
            let (md, page) = (markdown::render(&a), html::render(&a));
            let n = &notes[0];
            assert!(md.contains(&format!("> ⚠️ **{head}** {}\n", md_inline(&n.text))));
            assert!(page.contains(&format!(
                "<p class=\"warn\"><strong>{head}</strong> {}</p>",
                html_escape(&n.text)
            )));
        }
        let t = testdata::trace(
            RunHeader::default(),
            Vec::new(),
            Vec::new(),
            Some(RunEnd::default()),
        );
        assert!(trace_notes(&Analysis::of(&t)).is_empty());
        assert_eq!(
            measured(&Analysis::of(&t)),
            [Span::Text("RKLLM runtime unknown version (ABI )".into())]
        );
    }
}
