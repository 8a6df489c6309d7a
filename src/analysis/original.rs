//! The original report's Observations and Conclusion, computed from the data. The original's
//! generator wrote them as boilerplate ("Reliability: High success rate" at 60 %, "Responses
//! are coherent"); here each statement is a figure of this trace or says what was not measured,
//! so nothing is claimed that the trace does not support.
use super::num;
use super::observations::{Observation, Span};
use crate::stats::original::{Hardware, OriginalSummary};
use crate::stats::verdict::Verdict;
use crate::stats::Summary;
use crate::trace::{RunParams, Status, Trace};

/// The original's "💡 Observations" subsections and "🎯 Conclusion".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OriginalText {
    pub performance: Vec<Observation>,
    pub quality: Vec<Observation>,
    pub long_form: Vec<Observation>,
    /// The sentence before the numbered conclusion.
    pub conclusion_intro: Vec<Span>,
    /// The numbered points, in the original's order of themes.
    pub conclusion: Vec<Observation>,
}

fn t(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

fn name(s: &str) -> Span {
    Span::Name(s.to_string())
}

fn ob(code: &'static str, spans: Vec<Span>) -> Observation {
    Observation { code, spans }
}

/// "Orange Pi 5 Max · Rockchip RK3588 NPU (3 cores)", with "not recorded" for what is missing.
pub(crate) fn hardware_line(h: &Hardware) -> String {
    let cores = |n: usize| {
        if n == 1 {
            "1 core".to_string()
        } else {
            format!("{n} cores")
        }
    };
    let npu = match (&h.soc, h.npu_cores) {
        (Some(s), Some(n)) => format!("Rockchip {s} NPU ({})", cores(n)),
        (Some(s), None) => format!("Rockchip {s} NPU (cores not recorded)"),
        (None, Some(n)) => format!("NPU ({}; SoC not recorded)", cores(n)),
        (None, None) => "SoC and NPU cores not recorded".to_string(),
    };
    match &h.board {
        Some(b) => format!("{b} · {npu}"),
        None => npu,
    }
}

/// Python's `f"{n:,}"` for an integer.
pub(crate) fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn sampling(p: &RunParams) -> String {
    format!(
        "top_k={}, top_p={}, temperature={}, repeat_penalty={}",
        p.top_k,
        short_float(p.top_p),
        short_float(p.temperature),
        short_float(p.repeat_penalty)
    )
}

/// An f32 parameter as typed (0.95, not 0.949999988).
pub(crate) fn short_float(x: f32) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

pub(crate) fn of(
    trace: &Trace,
    s: &Summary,
    o: &OriginalSummary,
    hw: &Hardware,
    verdict: &Verdict,
) -> OriginalText {
    let records: Vec<_> = trace.requests.iter().filter(|r| !r.warmup).collect();
    let metrics: Vec<_> = s.metrics.iter().filter(|m| !m.warmup).collect();
    let mut out = OriginalText::default();
    // Whose figures these are: the runtime's, or the original's fallbacks without runtime timing.
    let (timed, n_ok) = o.runtime_timed();
    let counted = count_phrase(o);
    let first = if trace.server.is_some() {
        "the original client's: the first data event from the server (a role-only chunk counts)"
    } else {
        "the original's fallback: the wall-clock first token"
    };
    let (speed_src, ttft_src, short_src) = if timed == n_ok {
        (
            "the runtime's generate_tokens / generate_time".to_string(),
            "the runtime's prefill time".to_string(),
            "runtime-reported",
        )
    } else if timed == 0 {
        (
            format!("no runtime timing in this trace, so the original's fallback: output tokens ({counted}) / (total time − TTFT)"),
            format!("no runtime timing, so {first}"),
            "the original's fallback without runtime timing",
        )
    } else {
        (
            format!("the runtime's generate_tokens / generate_time for {timed} of {n_ok} requests, the original's fallback for the rest"),
            format!("the runtime's prefill time for {timed} of {n_ok} requests, {first} for the rest"),
            "partly runtime-reported",
        )
    };

    // Performance Analysis.
    match o.tokens_per_second {
        Some(tps) => out.performance.push(ob(
            "average-speed",
            vec![t(format!(
                "Average generation speed of {} tok/s ({speed_src}; mean over {} successful requests; min {}, max {}).",
                num(Some(tps.mean), 2),
                tps.n,
                num(Some(tps.min), 2),
                num(Some(tps.max), 2)
            ))],
        )),
        None => out.performance.push(ob(
            "average-speed",
            vec![t("No successful request has a generation speed.")],
        )),
    }
    // Speed against output length: the shortest and the longest successful outputs.
    let rated: Vec<_> = o
        .requests
        .iter()
        .filter(|r| r.success && r.tokens_per_second > 0.0)
        .collect();
    let shortest = rated.iter().min_by_key(|r| r.output_tokens);
    let longest = rated.iter().rev().max_by_key(|r| r.output_tokens);
    if let (Some(a), Some(b)) = (shortest, longest) {
        if b.output_tokens > a.output_tokens {
            let verb = if b.tokens_per_second < a.tokens_per_second {
                "fell"
            } else if b.tokens_per_second > a.tokens_per_second {
                "rose"
            } else {
                "stayed"
            };
            let id = |i: u32| {
                trace
                    .requests
                    .iter()
                    .find(|r| r.index == i)
                    .map(|r| r.test_id.as_str())
                    .unwrap_or("")
            };
            out.performance.push(ob(
                "speed-vs-length",
                vec![
                    t(format!(
                        "Generation speed {verb} from {} tok/s (",
                        num(Some(a.tokens_per_second), 2)
                    )),
                    name(id(a.index)),
                    t(format!(
                        ", {} tokens) to {} tok/s (",
                        a.output_tokens,
                        num(Some(b.tokens_per_second), 2)
                    )),
                    name(id(b.index)),
                    t(format!(", {} tokens) as outputs grew.", b.output_tokens)),
                ],
            ));
        }
    }
    out.performance.push(ob(
        "sampling",
        vec![t(format!(
            "Sampling as recorded: {}. rkbench does not measure whether these favour quality or speed.",
            sampling(&trace.header.params)
        ))],
    ));
    if let Some(i) = o.input_tokens_per_second {
        out.performance.push(ob(
            "input-processing",
            vec![t(format!(
                "Input processing at {} tok/s (the runtime's prefill_tokens / prefill_time, mean over {} requests).",
                num(Some(i.mean), 2),
                i.n
            ))],
        ));
    }
    if let Some(ttft) = o.ttft_ms {
        out.performance.push(ob(
            "ttft-median",
            vec![t(format!(
                "TTFT: {} ms median ({ttft_src}); wall-clock time to first token {} ms median.",
                num(Some(ttft.median), 0),
                num(s.ttft_ms.map(|a| a.median), 0)
            ))],
        ));
    }

    // Quality Assessment.
    let pct = o.success_rate_pct();
    let mut spans = vec![t(format!(
        "{} {}% success rate across all tests ({}/{}).",
        if o.successful_requests == o.total_requests && o.total_requests > 0 {
            "✅"
        } else {
            "⚠️"
        },
        num(pct, 0),
        o.successful_requests,
        o.total_requests
    ))];
    let failed: Vec<_> = records.iter().filter(|r| r.status != Status::Ok).collect();
    if !failed.is_empty() {
        spans.push(t(" Not completed: "));
        for (i, r) in failed.iter().enumerate() {
            if i > 0 {
                spans.push(t(", "));
            }
            spans.push(name(&r.test_id));
            spans.push(t(format!(" ({})", r.status.as_str())));
        }
        spans.push(t("."));
    }
    out.quality.push(ob("success-rate", spans));
    out.quality.push(ob(
        "quality-not-scored",
        vec![t(
            "Response quality is not scored by rkbench; the responses are listed under Detailed Test Results.",
        )],
    ));
    let mut done: Vec<&str> = Vec::new();
    let mut not_done: Vec<&str> = Vec::new();
    for r in &records {
        if r.category.is_empty() {
            continue;
        }
        let list = if r.status == Status::Ok {
            &mut done
        } else {
            &mut not_done
        };
        if !list.contains(&r.category.as_str()) {
            list.push(&r.category);
        }
    }
    not_done.retain(|c| !done.contains(c));
    if !done.is_empty() || !not_done.is_empty() {
        let mut spans = vec![t("Task categories completed: ")];
        list_spans(&mut spans, &done);
        if !not_done.is_empty() {
            spans.push(t("; with no completed test: "));
            list_spans(&mut spans, &not_done);
        }
        spans.push(t("."));
        out.quality.push(ob("categories", spans));
    }
    let ok_metrics: Vec<_> = metrics.iter().filter(|m| m.status == Status::Ok).collect();
    let capped = ok_metrics.iter().filter(|m| m.hit_cap).count();
    out.quality.push(ob(
        "output-cap",
        vec![t(format!(
            "{capped} of {} successful responses stopped at the output cap.",
            ok_metrics.len()
        ))],
    ));
    let thinking = metrics.iter().filter(|m| m.think.is_some()).count();
    if thinking > 0 {
        let open = metrics
            .iter()
            .filter(|m| m.think.is_some_and(|t| t.unterminated))
            .count();
        out.quality.push(ob(
            "think-blocks",
            vec![t(format!(
                "{thinking} responses contain a think block; {open} never closed it."
            ))],
        ));
    }
    if let Some(m) = o.memory_mb {
        out.quality.push(ob(
            "memory",
            vec![t(format!(
                "Memory (the runtime's VmHWM) between {} and {} MB across {} successful tests (mean ~{} MB).",
                num(Some(m.min), 1),
                num(Some(m.max), 1),
                m.n,
                num(Some(m.mean), 0)
            ))],
        ));
    }

    // Long-Form Generation.
    match o.longest() {
        Some(l) => {
            let rec = trace.requests.iter().find(|r| r.index == l.index);
            let met = s.metrics.iter().find(|m| m.index == l.index);
            out.long_form.push(ob(
                "longest-output",
                vec![
                    t("Longest output: "),
                    name(rec.map(|r| r.name.as_str()).unwrap_or("")),
                    t(format!(" ({} tokens).", l.output_tokens)),
                ],
            ));
            out.long_form.push(ob(
                "generation-time",
                vec![t(format!(
                    "Generation time: {} seconds.",
                    num(Some(l.total_time_ms / 1e3), 1)
                ))],
            ));
            let ending = match (met, rec) {
                (Some(m), Some(r)) if m.hit_cap => format!(
                    "It stopped at the output cap ({} tokens), so it may be cut short.",
                    r.max_new_tokens
                ),
                _ => "It ended with the runtime's FINISH, not at a cap or deadline.".to_string(),
            };
            out.long_form.push(ob("long-form-ending", vec![t(ending)]));
        }
        None => out.long_form.push(ob(
            "longest-output",
            vec![t("No test completed, so there is no long-form output.")],
        )),
    }

    // Conclusion.
    out.conclusion_intro = vec![
        t("The "),
        name(&trace.header.model.file_name),
        t(format!(
            " model running on {}, as this trace records it:",
            hardware_line(hw)
        )),
    ];
    let mut rel = format!(
        "Reliability: {}/{} requests completed ({}%)",
        o.successful_requests,
        o.total_requests,
        num(pct, 0)
    );
    let mut by_status: Vec<(Status, usize)> = Vec::new();
    for r in &failed {
        match by_status.iter_mut().find(|(s, _)| *s == r.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((r.status, 1)),
        }
    }
    for (st, n) in &by_status {
        rel.push_str(&format!("; {n} {}", st.as_str()));
    }
    rel.push('.');
    out.conclusion.push(ob("reliability", vec![t(rel)]));
    let mut quality = vec![t(
        "Quality: not scored by rkbench (the responses are listed above)",
    )];
    if !done.is_empty() {
        quality.push(t("; completed task categories: "));
        list_spans(&mut quality, &done);
    }
    quality.push(t("."));
    out.conclusion.push(ob("quality", quality));
    out.conclusion.push(ob(
        "speed",
        vec![t(format!(
            "Speed: Average Speed {} tok/s ({short_src}); rkbench's wall-clock decode rate {} tok/s (mean over successful requests).",
            num(o.tokens_per_second.map(|x| x.mean), 2),
            num(s.decode_tok_s.map(|a| a.mean), 2)
        ))],
    ));
    out.conclusion.push(ob(
        "efficiency",
        vec![t(format!(
            "Efficiency: input processing {} tok/s; median TTFT {} ms ({short_src}), {} ms wall-clock; {}.",
            num(o.input_tokens_per_second.map(|x| x.mean), 2),
            num(o.ttft_ms.map(|x| x.median), 0),
            num(s.ttft_ms.map(|a| a.median), 0),
            match o.memory_mb {
                Some(m) => format!(
                    "memory ~{} MB (mean of per-request values), peak {} MB",
                    num(Some(m.mean), 0),
                    num(Some(m.max), 1)
                ),
                None => "memory not reported by the runtime".to_string(),
            }
        ))],
    ));
    out.conclusion.push(ob(
        "configuration",
        vec![t(format!(
            "Configuration: {}; {}",
            sampling(&trace.header.params),
            if verdict.valid {
                "the run is VALID for comparison.".to_string()
            } else {
                format!(
                    "the run is INVALID for comparison ({} reason{}; see Verdict below).",
                    verdict.reasons.len(),
                    if verdict.reasons.len() == 1 { "" } else { "s" }
                )
            }
        ))],
    ));
    out
}

/// Where the output token counts came from, as the sentences quoting them say it: one source,
/// or each source with its share, the original's `len(text) // 4` estimate named as such.
pub(crate) fn count_phrase(o: &OriginalSummary) -> String {
    let (estimated, fields) = o.output_counts();
    let n_ok = o.successful_requests;
    let estimate =
        "len(text) // 4, the original's estimate: neither the runtime nor the server counted";
    match (estimated, fields.as_slice()) {
        (0, []) => "none".to_string(),
        (0, [one]) => one.clone(),
        (_, []) => estimate.to_string(),
        (e, f) => format!(
            "{} for {} of {n_ok} requests; {estimate} for {e}",
            f.join(" / "),
            n_ok - e
        ),
    }
}

/// The note after "Total Tokens Generated" where the counts are not all the runtime's own.
pub(crate) fn total_tokens_note(o: &OriginalSummary) -> Option<String> {
    (!o.counted_by_runtime()).then(|| count_phrase(o))
}

fn list_spans(spans: &mut Vec<Span>, items: &[&str]) {
    for (i, c) in items.iter().enumerate() {
        if i > 0 {
            spans.push(t(", "));
        }
        spans.push(name(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{PerfStat, RequestRecord, RunHeader};

    fn req(id: &str, cat: &str, status: Status, n: usize, gen_ms: f32, cap: i32) -> RequestRecord {
        RequestRecord {
            test_id: id.into(),
            name: format!("Name {id}"),
            category: cat.into(),
            status,
            max_new_tokens: cap,
            tokens: crate::report::html::testdata::steady_tokens(n),
            end_us: 100_000 * n as u64 + 1000,
            perf: Some(PerfStat {
                prefill_time_ms: 90.0,
                prefill_tokens: 9,
                generate_time_ms: gen_ms,
                generate_tokens: n as i32,
                memory_usage_mb: 5000.0,
            }),
            ..Default::default()
        }
    }

    fn trace(requests: Vec<RequestRecord>) -> Trace {
        let mut header = RunHeader::default();
        header.model.file_name = "m.rkllm".into();
        header.params.top_k = 20;
        header.params.top_p = 0.95;
        header.params.temperature = 0.6;
        header.params.repeat_penalty = 0.9;
        crate::report::html::testdata::trace(
            header,
            requests
                .into_iter()
                .enumerate()
                .map(|(i, mut r)| {
                    r.index = i as u32;
                    r
                })
                .collect(),
            Vec::new(),
            None,
        )
    }

    fn texts(v: &[Observation]) -> Vec<String> {
        v.iter().map(Observation::text).collect()
    }

    #[test]
    fn statements_come_from_the_data() {
        // Rates: a 10 tokens / 2 s = 5 tok/s, b 40 / 10 s = 4 tok/s, c 80 / 40 s = 2 tok/s
        // (c stopped at its cap of 80); d timed out.
        let t = trace(vec![
            req("a", "completion", Status::Ok, 10, 2000.0, 0),
            req("b", "coding", Status::Ok, 40, 10_000.0, 0),
            req("c", "planning", Status::Ok, 80, 40_000.0, 80),
            req("d", "consistency", Status::Timeout, 5, 1.0, 0),
        ]);
        let s = Summary::of(&t);
        let o = OriginalSummary::of(&t.requests, None, s.duration_ms);
        let v = Verdict {
            valid: false,
            reasons: vec!["x".into()],
        };
        let out = of(&t, &s, &o, &Hardware::default(), &v);
        let perf = texts(&out.performance);
        // mean (5 + 4 + 2)/3 = 3.67
        assert!(
            perf[0].starts_with("Average generation speed of 3.67 tok/s"),
            "{perf:?}"
        );
        assert!(perf[0].contains("min 2.00, max 5.00"));
        assert_eq!(
            perf[1],
            "Generation speed fell from 5.00 tok/s (a, 10 tokens) to 2.00 tok/s (c, 80 tokens) as outputs grew."
        );
        assert!(perf[2].starts_with(
            "Sampling as recorded: top_k=20, top_p=0.95, temperature=0.6, repeat_penalty=0.9."
        ));
        let q = texts(&out.quality);
        assert_eq!(
            q[0],
            "⚠️ 75% success rate across all tests (3/4). Not completed: d (timeout)."
        );
        assert!(q.iter().any(|x| x
            == "Task categories completed: completion, coding, planning; with no completed test: consistency."));
        assert!(q.contains(&"1 of 3 successful responses stopped at the output cap.".to_string()));
        let l = texts(&out.long_form);
        assert_eq!(l[0], "Longest output: Name c (80 tokens).");
        assert_eq!(l[1], "Generation time: 8.0 seconds.");
        assert!(l[2].starts_with("It stopped at the output cap (80 tokens)"));
        let c = texts(&out.conclusion);
        assert_eq!(
            c[0],
            "Reliability: 3/4 requests completed (75%); 1 timeout."
        );
        assert!(c[4].ends_with("the run is INVALID for comparison (1 reason; see Verdict below)."));
        // Nothing the data cannot support.
        let all: Vec<String> = [perf, q, l, c].concat();
        for word in ["coherent", "High success", "excellent", "Fast input"] {
            assert!(!all.iter().any(|x| x.contains(word)), "{word}");
        }
        // Trace text stays apart from sentence text.
        assert!(out
            .quality
            .iter()
            .any(|ob| ob.spans.contains(&Span::Name("d".into()))));
    }

    #[test]
    fn says_when_the_figures_are_the_originals_fallbacks() {
        // No runtime perf stats (an HTTP server, RKLLM < 1.2.1): the original's fallbacks apply,
        // and the sentences must not call them the runtime's.
        let mut a = req("a", "completion", Status::Ok, 10, 0.0, 0);
        a.perf = None;
        let t = trace(vec![a, req("b", "completion", Status::Ok, 10, 2000.0, 0)]);
        let s = Summary::of(&t);
        let v = Verdict {
            valid: true,
            reasons: vec![],
        };
        let mixed = of(
            &t,
            &s,
            &OriginalSummary::of(&t.requests, None, 0.0),
            &Hardware::default(),
            &v,
        );
        assert!(texts(&mixed.performance)[0]
            .contains("the runtime's generate_tokens / generate_time for 1 of 2 requests"));
        let mut only = t.requests[0].clone();
        only.index = 0;
        let t = trace(vec![only]);
        let s = Summary::of(&t);
        let none = of(
            &t,
            &s,
            &OriginalSummary::of(&t.requests, None, 0.0),
            &Hardware::default(),
            &v,
        );
        let perf = texts(&none.performance);
        assert!(
            perf[0].contains("no runtime timing in this trace"),
            "{perf:?}"
        );
        assert!(perf
            .iter()
            .any(|x| x.contains("the wall-clock first token")));
        assert!(
            !perf.iter().any(|x| x.contains("the runtime's")),
            "{perf:?}"
        );
        assert!(
            texts(&none.conclusion)[2].contains("the original's fallback without runtime timing")
        );
    }

    #[test]
    fn nothing_completed() {
        let t = trace(vec![req("d", "x", Status::Error, 0, 0.0, 0)]);
        let s = Summary::of(&t);
        let o = OriginalSummary::of(&t.requests, None, s.duration_ms);
        let v = Verdict {
            valid: false,
            reasons: vec![],
        };
        let out = of(&t, &s, &o, &Hardware::default(), &v);
        assert_eq!(
            texts(&out.long_form),
            ["No test completed, so there is no long-form output."]
        );
        assert_eq!(
            texts(&out.performance)[0],
            "No successful request has a generation speed."
        );
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(thousands(1225), "1,225");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
        assert_eq!(short_float(0.95), "0.95");
        assert_eq!(short_float(0.6), "0.6");
        assert_eq!(short_float(1.0), "1");
        let h = |board: Option<&str>, soc: Option<&str>, cores| Hardware {
            board: board.map(str::to_string),
            soc: soc.map(str::to_string),
            npu_cores: cores,
        };
        assert_eq!(
            hardware_line(&h(Some("Orange Pi 5 Max"), Some("RK3588"), Some(3))),
            "Orange Pi 5 Max · Rockchip RK3588 NPU (3 cores)"
        );
        assert_eq!(
            hardware_line(&h(None, Some("RK3588"), None)),
            "Rockchip RK3588 NPU (cores not recorded)"
        );
        assert_eq!(
            hardware_line(&h(None, None, Some(1))),
            "NPU (1 core; SoC not recorded)"
        );
        assert_eq!(
            hardware_line(&Hardware::default()),
            "SoC and NPU cores not recorded"
        );
    }
}
