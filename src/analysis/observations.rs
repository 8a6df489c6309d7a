//! Observations: statements computed from the data, never boilerplate. They are data, not
//! formatted text, so JSON, HTML and Markdown state the same ones: sentence text and text taken
//! from the trace (test ids) are kept apart, and each renderer escapes only the latter.
use super::num;
use crate::stats::{Aggregate, RequestMetrics, Summary};
use crate::trace::Status;

/// A piece of an observation's sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Span {
    /// Plain sentence text. An observation writes only rkbench's own words here
    /// ([`Observation::render`] leaves it unescaped); the reports' span writers escape it.
    Text(String),
    /// Taken from the trace (a test id): escape it for the output format.
    Name(String),
}

/// One observation: a stable code and its sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    /// Stable identifier (`fastest-decode`, `slowest-decode`, `longest-output`,
    /// `not-completed`, `context-slope`, `stalls`, `cold-first-request`).
    pub code: &'static str,
    pub spans: Vec<Span>,
}

impl Observation {
    /// The sentence as plain text.
    pub(crate) fn text(&self) -> String {
        self.spans
            .iter()
            .map(|s| match s {
                Span::Text(t) | Span::Name(t) => t.as_str(),
            })
            .collect()
    }

    /// The sentence with every trace-supplied part passed through `escape`.
    pub(crate) fn render(&self, escape: impl Fn(&str) -> String) -> String {
        self.spans
            .iter()
            .map(|s| match s {
                Span::Text(t) => t.clone(),
                Span::Name(t) => escape(t),
            })
            .collect()
    }
}

fn t(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

fn name(s: &str) -> Span {
    Span::Name(s.to_string())
}

/// The observations for a run, in a fixed order.
pub(crate) fn of(s: &Summary) -> Vec<Observation> {
    let mut v = Vec::new();
    let measured: Vec<&RequestMetrics> = s.metrics.iter().filter(|m| !m.warmup).collect();
    let by_decode = |a: &&&RequestMetrics, b: &&&RequestMetrics| {
        a.decode_tok_s
            .partial_cmp(&b.decode_tok_s)
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let with_decode = || measured.iter().filter(|m| m.decode_tok_s.is_some());
    let extremes = [
        ("fastest-decode", "Fastest", with_decode().max_by(by_decode)),
        ("slowest-decode", "Slowest", with_decode().min_by(by_decode)),
    ];
    for (code, which, m) in extremes {
        if let Some(m) = m {
            v.push(Observation {
                code,
                spans: vec![
                    t(format!("{which} decode: ")),
                    name(&m.id),
                    t(format!(" at {} tok/s.", num(m.decode_tok_s, 2))),
                ],
            });
        }
    }
    if let Some(m) = measured.iter().max_by_key(|m| m.output_tokens) {
        v.push(Observation {
            code: "longest-output",
            spans: vec![
                t("Longest output: "),
                name(&m.id),
                t(format!(" with {} tokens.", m.output_tokens)),
            ],
        });
    }
    let partial: Vec<&&RequestMetrics> =
        measured.iter().filter(|m| m.status != Status::Ok).collect();
    if !partial.is_empty() {
        let mut spans = vec![t("Not completed: ")];
        for (i, m) in partial.iter().enumerate() {
            if i > 0 {
                spans.push(t(", "));
            }
            spans.push(name(&m.id));
            spans.push(t(format!(
                " ({}, {} tokens kept)",
                m.status.as_str(),
                m.output_tokens
            )));
        }
        spans.push(t("."));
        v.push(Observation {
            code: "not-completed",
            spans,
        });
    }
    if let Some(a) = Aggregate::of(measured.iter().filter_map(|m| m.context_slope_ms_per_1k)) {
        v.push(Observation {
            code: "context-slope",
            spans: vec![t(format!(
                "Per-token latency grows by {} ms per 1000 tokens of context (median over {} requests).",
                num(Some(a.median), 2),
                a.n
            ))],
        });
    }
    let stalls: usize = measured.iter().map(|m| m.stalls).sum();
    v.push(Observation {
        code: "stalls",
        spans: vec![t(format!(
            "Stalls (ITL > 3× the request's median): {stalls}."
        ))],
    });
    if let Some(a) = s.ttft_ms.filter(|a| a.n >= 3) {
        if let Some(first) = measured.first().and_then(|m| m.ttft_ms) {
            if first > a.median * 2.0 {
                v.push(Observation {
                    code: "cold-first-request",
                    spans: vec![t(format!(
                        "The first request's TTFT ({} ms) is over twice the median: consider a warm-up request.",
                        num(Some(first), 1)
                    ))],
                });
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::RequestRecord;

    #[test]
    fn names_are_kept_apart_from_sentence_text() {
        let r = |id: &str, dts: &[u32], status| RequestRecord {
            test_id: id.into(),
            status,
            tokens: crate::report::html::testdata::tokens_at(dts),
            end_us: dts.iter().map(|&d| u64::from(d)).sum(),
            ..Default::default()
        };
        let s = Summary::of_requests(
            &[
                r("a|b", &[1000, 100, 100], Status::Ok),
                r("`x`", &[1000, 300], Status::Timeout),
            ],
            None,
        );
        let obs = of(&s);
        let fastest = obs.iter().find(|o| o.code == "fastest-decode").unwrap();
        assert_eq!(fastest.text(), "Fastest decode: a|b at 10000.00 tok/s.");
        assert_eq!(
            fastest.render(|n| format!("<{n}>")),
            "Fastest decode: <a|b> at 10000.00 tok/s."
        );
        let nc = obs.iter().find(|o| o.code == "not-completed").unwrap();
        assert_eq!(nc.text(), "Not completed: `x` (timeout, 2 tokens kept).");
        assert!(obs.iter().any(|o| o.code == "stalls"));
    }
}
