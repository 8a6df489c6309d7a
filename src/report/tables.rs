//! The report's tables, built once from the analysis as [`Table`] rows; the Markdown and HTML
//! renderers write the same rows in their own markup.
use super::table::{Cell, Table};
use super::text::num;
use crate::analysis::{Analysis, Section};
use crate::stats::conformance::CheckStatus;
use crate::stats::original::OriginalRequest;
use crate::stats::server::CountBound;
use crate::stats::summary::Summary;
use crate::stats::telemetry::MinMax;
use crate::stats::Aggregate;

/// Headline figures of the run.
pub(crate) fn summary(a: &Analysis) -> Table {
    let s = &a.summary;
    let mut t = Table::pairs();
    let warm = if s.warmup > 0 {
        format!("; {} warm-up not counted", s.warmup)
    } else {
        String::new()
    };
    t.push(vec![
        Cell::label("Requests"),
        Cell::text(format!(
            "{} ({} ok, {} partial, {} failed{warm})",
            s.requests, s.ok, s.partial, s.failed
        )),
    ]);
    t.push(vec![
        Cell::label("Success rate"),
        Cell::Mark(a.all_ok(), format!("{:.1} %", a.success_rate_pct())),
    ]);
    let span = (
        "Decode rate, mean of successful requests",
        format!("{} tok/s", num(s.decode_tok_s.map(|a| a.mean), 2)),
    );
    let gap = (
        "Decode rate from the median gap, 1000 / median ITL, mean of successful requests",
        format!(
            "{} tok/s",
            num(s.decode_tok_s_median_gap.map(|a| a.mean), 2)
        ),
    );
    let (lead, second, why) = if a.leads_with_median_gap() {
        (
            gap,
            span,
            format!(
                "the median gap: the token count is {} (a server sends nothing for a token without text), which makes (N − 1) / (t_N − t1) read low; a missing token lengthens one gap and barely moves the median",
                match a.output_bound() {
                    CountBound::Estimate => "an estimate",
                    _ => "a lower bound",
                }
            ),
        )
    } else if a.output_bound() == CountBound::Exact {
        (
            span,
            gap,
            "(N − 1) / (t_N − t1): every token was counted, and it uses every gap".to_string(),
        )
    } else {
        (
            span,
            gap,
            "(N − 1) / (t_N − t1), though the token count is not exact: the median gap is 0 (chunks read together) in some requests, which gives no rate".to_string(),
        )
    };
    t.push(vec![
        Cell::label("Decode rate this summary leads with"),
        Cell::text(why),
    ]);
    for (label, value) in [
        lead,
        second,
        (
            "Decode rate, token-weighted (all measured tokens)",
            format!("{} tok/s", num(s.decode_tok_s_token_weighted, 2)),
        ),
        (
            "TTFT, median",
            format!("{} ms", num(s.ttft_ms.map(|a| a.median), 1)),
        ),
        (
            "Prefill rate, mean",
            format!("{} tok/s", num(s.prefill_tok_s.map(|a| a.mean), 2)),
        ),
        (
            "Peak memory (runtime VmHWM)",
            format!("{} MB", num(s.peak_memory_mb, 1)),
        ),
        (
            "Total duration",
            format!("{} s", num(Some(s.duration_ms / 1e3), 1)),
        ),
    ] {
        t.push(vec![Cell::label(label), Cell::text(value)]);
    }
    t
}

/// Token totals. A server run counts with its count source and checks against the server's
/// totals, not runtime callbacks.
pub(crate) fn tokens(a: &Analysis) -> Table {
    let s = &a.summary;
    let mut t = Table::pairs();
    let rows: [(String, String); 4] = match &a.server {
        None => [
            (
                "Input tokens (runtime count)".into(),
                s.input_tokens.to_string(),
            ),
            (
                "Output tokens (one callback = one token, partial requests included)".into(),
                s.output_tokens.to_string(),
            ),
            (
                "Output tokens per successful request, mean".into(),
                num(s.output_tokens_per_request.map(|a| a.mean), 1),
            ),
            (
                "Requests where the runtime's count differs from the callbacks".into(),
                a.token_count_mismatches().to_string(),
            ),
        ],
        Some(sv) => [
            (
                "Input tokens (the server's prompt count)".into(),
                sv.prompt_tokens
                    .map_or_else(|| "- (not sent)".into(), |n| n.to_string()),
            ),
            (
                format!(
                    "Output tokens (count source {}, {}, partial requests included)",
                    sv.source.map_or("none", |c| c.as_str()),
                    match sv.bound {
                        CountBound::Exact => "exact",
                        CountBound::LowerBound => "a lower bound: tokens without text send nothing",
                        CountBound::Estimate => "an estimate",
                    }
                ),
                format!(
                    "{}{}",
                    match sv.bound {
                        CountBound::Exact => "",
                        CountBound::LowerBound => "≥ ",
                        CountBound::Estimate => "≈ ",
                    },
                    s.output_tokens
                ),
            ),
            (
                "Output tokens per successful request, mean".into(),
                num(s.output_tokens_per_request.map(|a| a.mean), 1),
            ),
            (
                "Requests where the server's total differs from the chunks' tokens".into(),
                sv.mismatched_requests().to_string(),
            ),
        ],
    };
    for (label, value) in rows {
        t.push(vec![Cell::label(&label), Cell::text(value)]);
    }
    t
}

/// The run parameters (everything but the board facts).
pub(crate) fn parameters(a: &Analysis) -> Table {
    let mut t = Table::grid(&["parameter", "value", "meaning"]);
    for p in a
        .params
        .iter()
        .filter(|p| !matches!(p.section, Section::Board | Section::BoardState))
    {
        let value = if p.section == Section::Invocation {
            Cell::Code(p.value_with_unit())
        } else {
            Cell::Text(p.value_with_unit())
        };
        t.push(vec![
            Cell::label(p.name.clone()),
            value,
            Cell::text(p.meaning),
        ]);
    }
    t
}

/// The board facts recorded at the start; empty when there are none.
pub(crate) fn board(a: &Analysis) -> Table {
    let mut t = Table::grid(&["fact", "value"]);
    for p in a
        .params
        .iter()
        .filter(|p| matches!(p.section, Section::Board | Section::BoardState))
    {
        t.push(vec![
            Cell::text(p.name.clone()),
            Cell::text(p.value.display()),
        ]);
    }
    t
}

/// One aggregate of the per-request figures: its JSON key, its row label, how many decimals
/// the tables show (the JSON keeps 3) and where it is in the summary.
pub(crate) struct SummaryAggregate {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    pub(crate) decimals: usize,
    pub(crate) of: fn(&Summary) -> Option<Aggregate>,
}

const fn agg(
    key: &'static str,
    label: &'static str,
    decimals: usize,
    of: fn(&Summary) -> Option<Aggregate>,
) -> SummaryAggregate {
    SummaryAggregate {
        key,
        label,
        decimals,
        of,
    }
}

/// Every aggregate over the successful requests, in report order: the performance table's rows
/// and the JSON summary's keys.
pub(crate) const SUMMARY_AGGREGATES: [SummaryAggregate; 10] = [
    agg("ttft_ms", "TTFT (ms)", 1, |s| s.ttft_ms),
    agg("prefill_tok_s", "Prefill rate (tok/s)", 2, |s| {
        s.prefill_tok_s
    }),
    agg("decode_tok_s", "Decode rate (tok/s)", 2, |s| s.decode_tok_s),
    agg(
        "decode_tok_s_median_gap",
        "Decode rate from the median gap, 1000 / median ITL (tok/s)",
        2,
        |s| s.decode_tok_s_median_gap,
    ),
    agg(
        "generation_speed_tok_s",
        "Wall-clock generation speed N / (E2E − TTFT) (tok/s)",
        2,
        |s| s.generation_speed_tok_s,
    ),
    agg("e2e_ms", "E2E latency (ms)", 1, |s| s.e2e_ms),
    agg(
        "output_tokens_per_request",
        "Output tokens per request",
        1,
        |s| s.output_tokens_per_request,
    ),
    agg(
        "runtime_prefill_tok_s",
        "Runtime-reported prefill (tok/s)",
        2,
        |s| s.runtime_prefill_tok_s,
    ),
    agg(
        "runtime_decode_tok_s",
        "Runtime-reported decode (tok/s)",
        2,
        |s| s.runtime_decode_tok_s,
    ),
    agg(
        "itl_ms_pooled",
        "ITL, pooled over all measured tokens (ms)",
        1,
        |s| s.itl_ms,
    ),
];

/// An aggregate's statistics, named, in the order the tables' columns and the JSON list them.
pub(crate) fn aggregate_stats(a: &Aggregate) -> [(&'static str, f64); 7] {
    [
        ("mean", a.mean),
        ("median", a.median),
        ("min", a.min),
        ("max", a.max),
        ("stddev", a.stddev),
        ("p90", a.p90),
        ("p99", a.p99),
    ]
}

/// Aggregates over the successful requests.
pub(crate) fn performance(a: &Analysis) -> Table {
    let mut t = Table::grid(&[
        "metric", "#n", "#mean", "#median", "#min", "#max", "#stddev", "#p90", "#p99",
    ]);
    for g in &SUMMARY_AGGREGATES {
        let mut row = vec![Cell::label(g.label)];
        match (g.of)(&a.summary) {
            Some(x) => {
                row.push(Cell::num(x.n.to_string()));
                for (_, v) in aggregate_stats(&x) {
                    row.push(Cell::num(num(Some(v), g.decimals)));
                }
            }
            None => {
                row.push(Cell::num("0"));
                row.extend((0..7).map(|_| Cell::num("-")));
            }
        }
        t.push(row);
    }
    t
}

fn warmup_suffix(warmup: bool) -> &'static str {
    if warmup {
        " (warm-up)"
    } else {
        ""
    }
}

/// One row per request.
pub(crate) fn requests(a: &Analysis) -> Table {
    let mut t = Table::grid(&[
        "##",
        "test",
        "status",
        "#in",
        "#out",
        "#TTFT ms",
        "#prefill tok/s",
        "#decode tok/s",
        "#ITL p50/p99/max ms",
        "#stalls",
        "#E2E s",
    ]);
    for m in &a.summary.metrics {
        t.push(vec![
            Cell::num(m.index.to_string()),
            Cell::Request {
                index: m.index,
                id: m.id.clone(),
                suffix: warmup_suffix(m.warmup),
            },
            Cell::Status(m.status),
            Cell::num(super::reference::input_cell(a, m.index, m.input_tokens)),
            Cell::num(m.output_tokens.to_string()),
            Cell::num(num(m.ttft_ms, 1)),
            Cell::num(num(m.prefill_tok_s, 2)),
            Cell::num(num(m.decode_tok_s, 2)),
            Cell::num(m.itl.map_or_else(
                || "-".into(),
                |i| format!("{:.1}/{:.1}/{:.1}", i.p50, i.p99, i.max),
            )),
            Cell::num(m.stalls.to_string()),
            Cell::num(num(Some(m.e2e_ms / 1e3), 2)),
        ]);
    }
    t
}

/// A frequency range in MHz: `600–1000`, or one value when it did not move.
fn mhz_range(r: Option<MinMax>, per_mhz: f64) -> String {
    match r {
        None => "-".into(),
        Some(r) if r.min == r.max => format!("{:.0}", r.min as f64 / per_mhz),
        Some(r) => format!(
            "{:.0}–{:.0}",
            r.min as f64 / per_mhz,
            r.max as f64 / per_mhz
        ),
    }
}

/// Board state during each request; `None` when the trace has no telemetry.
pub(crate) fn board_state(a: &Analysis) -> Option<Table> {
    let tele = a.request_telemetry.as_ref()?;
    let mut policies: Vec<&str> = tele
        .iter()
        .flat_map(|t| t.cpu_freq_khz.iter().map(|(p, _)| p.as_str()))
        .collect();
    policies.sort();
    policies.dedup();
    let mut titles: Vec<String> = [
        "##",
        "test",
        "#samples",
        "#NPU load %",
        "#NPU MHz",
        "#DDR MHz",
    ]
    .map(String::from)
    .to_vec();
    titles.extend(policies.iter().map(|p| format!("#CPU {p} MHz")));
    // The process that runs the model: rkbench's own for a bare run, the server's otherwise.
    let process = if a.server.is_some() {
        ["#server process CPU %", "#server RSS MB"]
    } else {
        ["#process CPU %", "#RSS MB"]
    };
    titles.extend(["#max °C"].into_iter().chain(process).map(String::from));
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    let mut t = Table::grid(&titles);
    for (r, _, tel) in a.requests() {
        let Some(tel) = tel else { continue };
        let mut row = vec![
            Cell::num(r.index.to_string()),
            Cell::Request {
                index: r.index,
                id: r.test_id.clone(),
                suffix: warmup_suffix(r.warmup),
            },
            Cell::num(tel.samples.to_string()),
            Cell::num(format!(
                "{} / {}",
                num(tel.npu_load_pct, 0),
                num(tel.npu_load_decode_pct, 0)
            )),
            Cell::num(mhz_range(tel.npu_freq_hz, 1e6)),
            Cell::num(mhz_range(tel.dmc_freq_hz, 1e6)),
        ];
        for p in &policies {
            let f = tel
                .cpu_freq_khz
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, r)| *r);
            row.push(Cell::num(mhz_range(f, 1e3)));
        }
        row.push(match &tel.max_temp_mc {
            Some((zone, v)) => Cell::text(format!("{:.1} ({zone})", *v as f64 / 1e3)),
            None => Cell::num("-"),
        });
        row.push(Cell::num(num(tel.process_cpu_pct, 0)));
        row.push(Cell::num(num(tel.rss_max_kb.map(|k| k as f64 / 1024.0), 0)));
        t.push(row);
    }
    Some(t)
}

/// The same trace under each peer tool's definitions.
pub(crate) fn peers(a: &Analysis) -> Table {
    let mut t = Table::grid(&[
        "tool",
        "metric",
        "definition",
        "over",
        "#n",
        "#mean",
        "#median",
        "#p99",
        "#σ",
        "σ and percentiles",
    ]);
    for m in &a.peers {
        let d = if m.unit == "ms" { 1 } else { 2 };
        t.push(vec![
            Cell::text(m.tool),
            Cell::text(format!("{} ({})", m.metric, m.unit)),
            Cell::text(m.definition),
            Cell::text(m.population),
            Cell::num(m.n.to_string()),
            Cell::num(num(m.mean, d)),
            Cell::num(num(m.median, d)),
            Cell::num(num(m.p99, d)),
            Cell::num(num(m.std, d)),
            Cell::text(format!(
                "σ {}; percentiles {}",
                m.sigma.label(),
                m.percentiles.label()
            )),
        ]);
    }
    t
}

/// vLLM's run-level figures (`calculate_metrics`), goodput only when SLOs were given.
pub(crate) fn throughput(a: &Analysis) -> Table {
    let th = &a.throughput;
    let mut t = Table::grid(&["metric", "#value", "unit", "definition"]);
    let mut row = |metric: &str, value: String, unit: &str, def: String| {
        t.push(vec![
            Cell::label(metric),
            Cell::num(value),
            Cell::text(unit),
            Cell::text(def),
        ]);
    };
    row(
        "Benchmark duration",
        num(th.duration_us.map(|d| d as f64 / 1e6), 3),
        "s",
        "first measured request sent → last measured request finished (failed ones included)"
            .into(),
    );
    row(
        "Successful requests",
        th.completed.to_string(),
        "",
        format!("ended ok with at least one token; {} failed", th.failed),
    );
    row(
        "Total input tokens",
        th.total_input.map_or_else(|| "-".into(), |v| v.to_string()),
        "",
        "Σ the runtime's prefill_tokens over successful requests (through a server, its prompt counts): chat template included, where vLLM counts the raw prompt with its own tokenizer (prompt_len), which rkbench does not have".into(),
    );
    row(
        "Total generated tokens",
        th.total_output.to_string(),
        "",
        "Σ output tokens over successful requests (a failed request counts 0)".into(),
    );
    row(
        "Request throughput",
        num(th.request_per_s, 4),
        "req/s",
        "successful requests / duration".into(),
    );
    row(
        "Output token throughput",
        num(th.output_tok_per_s, 2),
        "tok/s",
        "total generated tokens / duration".into(),
    );
    row(
        "Total token throughput",
        num(th.total_tok_per_s, 2),
        "tok/s",
        "(total input + total generated tokens) / duration".into(),
    );
    if let Some(g) = &th.goodput {
        let slos: Vec<String> = g
            .slos
            .iter()
            .map(|s| format!("{} ≤ {} ms", s.metric.key(), s.ms))
            .collect();
        row(
            "Request goodput",
            num(g.per_s, 4),
            "req/s",
            format!(
                "successful requests meeting every SLO ({}) / duration: {} of {}",
                slos.join(", "),
                g.good,
                th.completed
            ),
        );
    }
    t
}

/// The original report's Performance Metrics table, with its definitions.
pub(crate) fn original_performance(a: &Analysis) -> Table {
    let o = &a.original;
    let mut t = Table::grid(&["Metric", "#Average", "#Median", "#Min", "#Max"]);
    for (label, s) in [
        ("Generation Speed (tok/s)", o.tokens_per_second),
        ("Time to First Token (ms)", o.ttft_ms),
    ] {
        t.push(vec![
            Cell::label(label),
            Cell::num(num(s.map(|x| x.mean), 2)),
            Cell::num(num(s.map(|x| x.median), 2)),
            Cell::num(num(s.map(|x| x.min), 2)),
            Cell::num(num(s.map(|x| x.max), 2)),
        ]);
    }
    t.push(vec![
        Cell::label("Input Processing (tok/s)"),
        Cell::num(num(o.input_tokens_per_second.map(|x| x.mean), 2)),
        Cell::num("-"),
        Cell::num("-"),
        Cell::num("-"),
    ]);
    t
}

/// One successful test as the original's per-test table showed it.
pub(crate) fn original_test(r: &OriginalRequest) -> Table {
    let mut t = Table::grid(&["Metric", "Value"]);
    for (label, value) in [
        ("Status", "✅ Success".to_string()),
        (
            "Generation Speed",
            format!("{} tok/s", num(Some(r.tokens_per_second), 2)),
        ),
        (
            "Time to First Token",
            format!("{} ms", num(Some(r.ttft_ms), 2)),
        ),
        (
            "Total Time",
            format!("{} seconds", num(Some(r.total_time_ms / 1e3), 2)),
        ),
        ("Input Tokens", r.input_tokens.to_string()),
        ("Output Tokens", r.output_tokens.to_string()),
        (
            "Memory Usage",
            format!("{} MB", num(Some(r.memory_usage_mb), 2)),
        ),
    ] {
        t.push(vec![Cell::label(label), Cell::text(value)]);
    }
    t
}

/// Runtime conformance: one row per check.
pub fn conformance(a: &Analysis) -> Table {
    let mut t = Table::grid(&["check", "status", "evidence"]);
    for c in &a.conformance.checks {
        let status = match c.status {
            CheckStatus::Pass => Cell::Mark(true, "pass".into()),
            CheckStatus::Fail => Cell::Mark(false, "fail".into()),
            CheckStatus::Unknown => Cell::Static("unknown".into()),
        };
        t.push(vec![
            Cell::Static(c.check.to_string()),
            status,
            Cell::text(&c.evidence),
        ]);
    }
    t
}

/// How each output cap that was reached was enforced; `None` when no request reached its cap.
pub fn cap_enforcement(a: &Analysis) -> Option<Table> {
    let mut caps = a
        .conformance
        .caps
        .iter()
        .filter(|c| c.tokens >= c.cap)
        .peekable();
    caps.peek()?;
    let mut t = Table::grid(&["request", "#cap", "#tokens", "enforced"]);
    for c in caps {
        t.push(vec![
            Cell::Request {
                index: c.index,
                id: c.test_id.clone(),
                suffix: "",
            },
            Cell::num(c.cap.to_string()),
            Cell::num(c.tokens.to_string()),
            Cell::Mark(c.held, c.how.clone()),
        ]);
    }
    Some(t)
}

/// The energy of a trace with power samples: the sentence saying how it was measured, the
/// run's figures and each request's (one definition for Markdown and HTML).
pub(crate) fn energy(a: &Analysis) -> Option<(String, Table, Table)> {
    let e = a.energy.as_ref()?;
    let f = |x: Option<f64>, d: usize| crate::analysis::fixed(x, d).unwrap_or_else(|| "-".into());
    let note = format!(
        "Power from {} ({}), polled every {} ms{}; {} samples. Method: {}.{}",
        e.spec,
        e.device,
        f(Some(e.interval_ms), 0),
        e.source_update_ms
            .map(|u| format!(" (the source refreshes every ~{} ms)", f(Some(u), 0)))
            .unwrap_or_default(),
        e.samples,
        e.run.method.map_or("none", |m| m.as_str()),
        e.run
            .reason
            .as_ref()
            .map(|r| format!(" The run has no energy figure: {r}."))
            .unwrap_or_default(),
    );
    let mut rows = vec![
        ("Idle power (W)", f(e.idle_w, 3)),
        ("Run energy (J)", f(e.run.j, 3)),
        ("Run energy above idle (J)", f(e.run.above_idle_j, 3)),
        ("Sampling error (± J)", f(e.run.error_j, 3)),
        ("Mean power (W)", f(e.run.mean_w, 3)),
        ("Peak power (W)", f(e.peak_w, 3)),
        ("J per output token", f(e.j_per_output_token, 6)),
        ("Output tokens per J", f(e.tokens_per_j, 6)),
    ];
    if e.idle_after_w.is_some() {
        rows.insert(1, ("Idle power after the run (W)", f(e.idle_after_w, 3)));
    }
    let mut run = Table::grid(&["figure", "#value"]);
    for (k, v) in rows {
        run.push(vec![Cell::Static(k.into()), Cell::num(v)]);
    }
    let mut reqs = Table::grid(&[
        "##",
        "request",
        "#energy J",
        "#above idle J",
        "#± J",
        "#prefill J",
        "#decode J",
        "note",
    ]);
    for (r, x) in a.trace.requests.iter().zip(&e.requests) {
        reqs.push(vec![
            Cell::num(r.index.to_string()),
            Cell::Request {
                index: r.index,
                id: r.test_id.clone(),
                suffix: warmup_suffix(r.warmup),
            },
            Cell::num(f(x.total.j, 3)),
            Cell::num(f(x.total.above_idle_j, 3)),
            Cell::num(f(x.total.error_j, 3)),
            Cell::num(f(x.prefill.j, 3)),
            Cell::num(f(x.decode.j, 3)),
            Cell::Static(x.total.reason.clone().unwrap_or_default()),
        ]);
    }
    Some((note, run, reqs))
}

#[cfg(test)]
mod tests {
    use crate::analysis::Analysis;
    use crate::report::html::testdata;
    use crate::trace::server::{ChunkKind, ServerRequest, ServerTrace};
    use crate::trace::{RunHeader, Status};

    /// A run through a server that sends one chunk per token, 30 ms apart, and nothing for
    /// every 5th token (no text): counted by chunks, a lower bound.
    fn dropping_server_run() -> crate::trace::Trace {
        let mut requests = Vec::new();
        for index in 0..3u32 {
            let mut r = ServerRequest {
                index,
                status: Status::Ok,
                finish_reason: "stop".into(),
                ..Default::default()
            };
            for i in (0..60u64).filter(|i| i % 5 != 4) {
                r.push_chunk(
                    400_000 + i * 30_000,
                    i as u32,
                    0,
                    ChunkKind::Content,
                    None,
                    b"x",
                );
            }
            r.end_us = 400_000 + 60 * 30_000;
            crate::http::capture::attribute(&mut r, None);
            requests.push(r);
        }
        let views = requests.iter().map(ServerRequest::token_view).collect();
        let mut t = testdata::trace(RunHeader::default(), views, Vec::new(), None);
        t.server = Some(ServerTrace {
            run: Default::default(),
            requests,
        });
        t
    }

    #[test]
    fn a_lower_bound_count_is_labelled_and_the_summary_leads_with_the_median_gap() {
        let t = dropping_server_run();
        let a = Analysis::of(&t);
        assert!(a.leads_with_median_gap());
        let summary = super::summary(&a).markdown();
        let lead = summary
            .lines()
            .position(|l| l.contains("1000 / median ITL"))
            .unwrap();
        let span = summary
            .lines()
            .position(|l| l.contains("Decode rate, mean of successful requests"))
            .unwrap();
        assert!(lead < span, "{summary}");
        assert!(summary.contains("| 33.33 tok/s |"), "{summary}");
        assert!(summary.contains("a lower bound"), "{summary}");
        let tokens = super::tokens(&a).markdown();
        assert!(tokens.contains("| ≥ 144 |"), "{tokens}");
        let j: serde_json::Value = serde_json::from_str(&crate::report::json::render(&a)).unwrap();
        assert_eq!(j["summary"]["output_tokens_exact"], false);
        assert_eq!(j["summary"]["output_tokens_count"], "lower-bound");
        assert_eq!(j["summary"]["decode_rate_lead"], "decode_tok_s_median_gap");
        let r0 = j["requests"][0]["decode_tok_s_median_gap"]
            .as_f64()
            .unwrap();
        assert!((r0 - 1000.0 / 30.0).abs() < 1e-3, "{r0}");
        // A bare run counts every callback: exact, led by (N − 1) / (t_N − t1).
        let mut bare = testdata::trace(RunHeader::default(), Vec::new(), Vec::new(), None);
        bare.requests = t.requests.clone();
        let b = Analysis::of(&bare);
        assert!(!b.leads_with_median_gap());
        let j: serde_json::Value = serde_json::from_str(&crate::report::json::render(&b)).unwrap();
        assert_eq!(
            (
                &j["summary"]["output_tokens_exact"],
                &j["summary"]["decode_rate_lead"]
            ),
            (&serde_json::json!(true), &serde_json::json!("decode_tok_s"))
        );
    }
}
