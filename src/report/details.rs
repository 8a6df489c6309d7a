//! The facts listed under each request in the per-request details, built once so the Markdown
//! and HTML reports state the same lines and differ only in markup.
use super::text::num;
use crate::analysis::Analysis;
use crate::stats::RequestMetrics;
use crate::trace::RequestRecord;

/// One line of a request's details: labelled values shown together (joined by " · "), and a
/// condition that qualifies them, which the renderers mark as a warning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetailLine {
    pub(crate) items: Vec<(&'static str, String)>,
    pub(crate) flag: Option<&'static str>,
}

fn line(items: Vec<(&'static str, String)>) -> DetailLine {
    DetailLine { items, flag: None }
}

/// Plain text (not escaped): each renderer escapes values for its own markup.
pub(crate) fn detail_lines(a: &Analysis, r: &RequestRecord, m: &RequestMetrics) -> Vec<DetailLine> {
    let mut v = Vec::new();
    if !r.detail.is_empty() {
        v.push(line(vec![("Detail", r.detail.clone())]));
    }
    if let Some(n) = a.exact_input_tokens(r.index) {
        v.push(line(vec![(
            "Input",
            format!(
                "{n} tokens (exact): token ids fed as RKLLM_INPUT_TOKEN, no tokenizer or chat template"
            ),
        )]));
    }
    v.push(line(vec![
        ("Decode rate", format!("{} tok/s", num(m.decode_tok_s, 2))),
        (
            "Wall-clock generation speed",
            format!("{} tok/s", num(m.generation_speed_tok_s, 2)),
        ),
    ]));
    v.push(line(vec![
        ("TTFT", format!("{} ms", num(m.ttft_ms, 1))),
        ("E2E", format!("{} ms", num(Some(m.e2e_ms), 1))),
        ("Prefill rate", format!("{} tok/s", num(m.prefill_tok_s, 2))),
    ]));
    v.push(line(vec![(
        "Tokens",
        format!(
            "{} in / {} out{}",
            m.input_tokens
                .map_or_else(|| "-".to_string(), |v| v.to_string()),
            m.output_tokens,
            if m.hit_cap {
                " (hit the output cap)"
            } else {
                ""
            }
        ),
    )]));
    if let Some(i) = m.itl {
        v.push(line(vec![(
            "ITL",
            format!(
                "p50 {} · p90 {} · p99 {} · max {} ms · {} stalls",
                num(Some(i.p50), 1),
                num(Some(i.p90), 1),
                num(Some(i.p99), 1),
                num(Some(i.max), 1),
                m.stalls
            ),
        )]));
    }
    if let Some(p) = m.runtime {
        v.push(DetailLine {
            items: vec![(
                "Runtime perf",
                format!(
                    "prefill {} ms for {} tokens, generate {} ms for {} tokens ({} tok/s), memory {} MB",
                    num(Some(p.prefill_ms()), 1),
                    p.prefill_tokens,
                    num(Some(p.generate_ms()), 1),
                    p.generate_tokens,
                    num(p.decode_tok_s(), 2),
                    num(Some(p.memory_mb()), 1),
                ),
            )],
            flag: m
                .token_count_mismatch
                .then_some("token count differs from callbacks"),
        });
    }
    if let Some(t) = m.think {
        v.push(DetailLine {
            items: vec![(
                "Thinking",
                format!(
                    "{} think tokens, {} answer tokens, first answer token at {} ms",
                    t.think_tokens,
                    t.answer_tokens,
                    num(t.time_to_answer_ms, 1),
                ),
            )],
            flag: t.unterminated.then_some("never left the think block"),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::testdata;
    use crate::trace::{PerfStat, RequestRecord, RunHeader, Status};

    #[test]
    fn a_timed_out_request_with_a_miscounting_runtime() {
        let n = 4;
        let r = RequestRecord {
            status: Status::Timeout,
            detail: "deadline passed".into(),
            tokens: testdata::steady_tokens(n),
            end_us: 400_500,
            perf: Some(PerfStat {
                prefill_time_ms: 100.0,
                prefill_tokens: 10,
                generate_time_ms: 300.0,
                generate_tokens: 9,
                memory_usage_mb: 512.0,
            }),
            ..Default::default()
        };
        let t = testdata::trace(RunHeader::default(), vec![r], Vec::new(), None);
        let a = Analysis::of(&t);
        let (r, m, _) = a.requests().next().unwrap();
        let lines = detail_lines(&a, r, m);
        let labels: Vec<&str> = lines
            .iter()
            .flat_map(|l| l.items.iter().map(|(k, _)| *k))
            .collect();
        assert_eq!(
            labels,
            [
                "Detail",
                "Decode rate",
                "Wall-clock generation speed",
                "TTFT",
                "E2E",
                "Prefill rate",
                "Tokens",
                "ITL",
                "Runtime perf"
            ]
        );
        assert_eq!(lines[0].items[0].1, "deadline passed");
        assert_eq!(lines[3].items[0].1, "10 in / 4 out");
        let perf = &lines[5];
        // 9 tokens in 300 ms = 30 tok/s; the runtime counted 9, the callbacks 4.
        assert_eq!(
            perf.items[0].1,
            "prefill 100.0 ms for 10 tokens, generate 300.0 ms for 9 tokens (30.00 tok/s), memory 512.0 MB"
        );
        assert_eq!(perf.flag, Some("token count differs from callbacks"));
    }
}
