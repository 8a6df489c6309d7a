//! Report renderers: one file per format, each a pure function of an [`Analysis`]. They only
//! format: every figure, warning, verdict reason and observation comes from the analysis.
pub(crate) mod compare;
pub(crate) mod csv;
pub(crate) mod details;
pub(crate) mod dump;
pub(crate) mod fleet;
pub(crate) mod html;
pub(crate) mod instances;
pub(crate) mod json;
pub(crate) mod json_writer;
pub(crate) mod load;
pub(crate) mod markdown;
pub(crate) mod perfetto;
pub(crate) mod provenance;
pub(crate) mod reference;
pub(crate) mod server;
pub(crate) mod svg;
pub(crate) mod sweep;
pub(crate) mod table;
pub(crate) mod tables;
pub mod text;
pub(crate) mod wording;

pub use csv::CsvPer;

use crate::analysis::Analysis;
use crate::stats::throughput::Slos;
use crate::trace::Trace;

/// Output formats of `rkbench report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    /// One self-contained page with inline SVG charts.
    Html,
    /// A table for spreadsheets/pandas; rows per request or per token (see [`Options`]).
    Csv,
    /// The run's timeline as Chrome trace-event JSON for ui.perfetto.dev and chrome://tracing.
    Perfetto,
}

/// Report options: how to analyse (goodput SLOs, the published model to compare with) and
/// what only some formats use.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Options<'a> {
    /// What one CSV row is (`--per request|token`).
    pub csv_per: CsvPer,
    /// vLLM-style goodput SLOs (`--goodput ttft:500,tpot:350`); none by default.
    pub goodput: Slos,
    /// Compare with this published model's figures (`--reference-model`) instead of the one
    /// the model file name names.
    pub reference_model: Option<&'a str>,
}

impl Format {
    pub(crate) fn parse_list(s: &str) -> Result<Vec<Format>, String> {
        let mut v = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let f = match part {
                "md" | "markdown" => Format::Markdown,
                "json" => Format::Json,
                "html" | "htm" => Format::Html,
                "csv" => Format::Csv,
                "perfetto" => Format::Perfetto,
                other => return Err(format!(
                    "unknown report format {other:?}; use md, json, html, csv or perfetto (comma-separated for several)"
                )),
            };
            if !v.contains(&f) {
                v.push(f);
            }
        }
        if v.is_empty() {
            return Err("--format is empty; use md, json, html, csv or perfetto".into());
        }
        Ok(v)
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Html => "html",
            Format::Csv => "csv",
            // Not `.json`: beside the JSON report of the same trace in one `-o` directory.
            Format::Perfetto => "perfetto.json",
        }
    }
}

/// Render one trace in one format with default options.
pub fn render(trace: &Trace, format: Format) -> String {
    render_with(trace, format, Options::default())
}

/// Render one trace in one format.
pub fn render_with(trace: &Trace, format: Format, options: Options<'_>) -> String {
    render_analysis(
        &Analysis::with_options(trace, &options.goodput, options.reference_model),
        format,
        options,
    )
}

/// Render an analysis in one format (analyse once, render several formats).
pub(crate) fn render_analysis(a: &Analysis, format: Format, options: Options<'_>) -> String {
    match format {
        Format::Markdown => markdown::render(a),
        Format::Json => json::render(a),
        Format::Html => html::render(a),
        Format::Csv => csv::render(a, options.csv_per),
        Format::Perfetto => perfetto::render(a),
    }
}

/// Metric definitions of rkbench's own figures, stated in every report.
pub(crate) const DEFINITIONS: &[(&str, &str)] = &[
    ("t0", "the moment rkbench calls rkllm_run; t_i = arrival of the callback carrying token i (i = 1..N); t_end = the FINISH/ERROR callback (or the abort/deadline). One monotonic clock, microsecond resolution."),
    ("TTFT", "t1 − t0 (wall clock, includes prefill). The runtime's own prefill_time_ms is shown beside it where the runtime reports it."),
    ("Prefill rate", "input tokens (the runtime's prefill_tokens; through a server, the server's prompt count) / TTFT."),
    ("Decode rate", "(N − 1) / (t_N − t1): excludes the first token, whose delay is prefill. Token-weighted: Σ(N − 1) / Σ(t_N − t1) over every measured request, partial ones included."),
    ("Decode rate from the median gap", "1000 / the request's median ITL (ms). A token the count misses (a server sends nothing for a token without text) lengthens one gap and shortens N, so (N − 1) / (t_N − t1) reads low; the median gap moves by at most one rank. The summary leads with it when the output count is not exact (a lower bound or an estimate), else with (N − 1) / (t_N − t1)."),
    ("Wall-clock generation speed", "N / (E2E − TTFT): the original report's fallback when the runtime sent no timing; its Generation Speed is the runtime-reported decode rate."),
    ("ITL", "t_i − t_(i−1) for i ≥ 2; per-request p50/p90/p99/max; pooled: every gap of every measured request; stalls = ITL > 3 × the request's median ITL; context slope = least-squares slope of ITL against token position."),
    ("E2E", "t_end − t0."),
    ("Output tokens", "one token callback (NORMAL or WAITING) = one token; never re-tokenized. Cross-checked against the runtime's generate_tokens."),
    ("Input tokens (runtime count)", "the runtime's prefill_tokens (RKLLMPerfStat), summed over measured requests."),
    ("Runtime-reported prefill", "prefill_tokens / prefill_time_ms × 1000, both from the runtime's RKLLMPerfStat at FINISH (RKLLM ≥ 1.2.1); the runtime's clock, not rkbench's."),
    ("Runtime-reported decode", "generate_tokens / generate_time_ms × 1000 from the runtime's RKLLMPerfStat; the same as the original's Generation Speed."),
    ("Peak memory (runtime VmHWM)", "the largest memory_usage_mb the runtime reported over the measured requests: its VmHWM, the process's peak resident memory, which never decreases during a run."),
    ("Success rate", "measured requests that ended ok (FINISH received, rkllm_run returned 0) / measured requests; warm-ups are not counted. Partial: ended early (timeout, interrupt, hang, crash) with its tokens kept; failed: error without tokens."),
    ("Total duration", "from the run's clock origin (recorder start) to its end record, or to the last request's end when the trace has none."),
    ("Aggregates", "per-request figures over successful requests: mean, median, min, max, sample stddev (n−1), p90, p99 by linear interpolation (type 7). Token-weighted decode and pooled ITL include partial (timeout/interrupted) requests."),
    ("Peer metrics", "each row computed as the named tool's own code computes it (its population, σ convention and percentile method are stated in the row); for every peer a request ends at its last token, a request that did not end ok is failed, and warm-ups are outside the window. Times are computed in integer µs (ns where the tool uses ns) and converted once, so one statistic over one population prints the same digits in every table."),
    ("Throughput (vLLM)", "vLLM's calculate_metrics: duration = first measured request sent → last measured request finished; request throughput = successful requests / duration; output throughput = Σ output tokens of successful requests / duration (a failed request counts 0); total-token throughput adds the successful requests' input tokens; goodput = successful requests meeting every --goodput SLO / duration."),
    ("Verdict", "VALID when every measured request completed, the trace is intact and no warning marked ⛔ applies; otherwise INVALID for comparison, with the reasons."),
];

/// The original report's figures: its label, and how the original computed it (rkbench
/// computes it the same way from the trace).
pub(crate) const ORIGINAL_DEFINITIONS: &[(&str, &str)] = &[
    ("Duration", "the original: the suite's wall time (time.time() around every request). Here rkbench's Total duration, in seconds and minutes."),
    ("Hardware", "the original printed a fixed \"Rockchip RK3588 NPU (3 cores)\". Here: the board model (/proc/device-tree/model), the SoC from the device-tree compatible list and the NPU cores whose load telemetry was read."),
    ("Success Rate", "successful / total requests as x/y and % (no decimals). A test is failed when it did not end ok (the original: an exception or the 300 s client timeout); a failed test has every metric zeroed and is left out of every figure except this one."),
    ("Total Tokens Generated / Total Output Tokens", "Σ output tokens over successful requests, where a request's output tokens are the runtime's generate_tokens; through a server, the count the server sent (its usage, eval_count or relayed generate_tokens), as the original's client read it — the word count of a server that puts words in usage (the original tool's server: len(text.split())) too, labelled as such, since the original took it as tokens; the original's estimate len(text) // 4 when neither counted, and then the report says so."),
    ("Average Speed / Generation Speed", "per request the runtime's generate_tokens / generate_time_ms × 1000 (generate time falls back to total time − TTFT when the runtime sends none); Average = unweighted mean over successful requests with a non-zero rate, Median = middle value (middle pair averaged), Min, Max over the same."),
    ("Memory Usage", "summary: the mean of the per-request memory_usage_mb (the runtime's VmHWM) over successful requests with a value, printed as ~MB; per test: that request's value."),
    ("Time to First Token", "the runtime's prefill_time_ms (the original overwrote its wall-clock first-chunk time with it); the wall-clock time only when the runtime sends none (through a server: the first data event, a role-only chunk too, as the original's client timed it), and the total time when that is 0 too. Average/Median/Min/Max over successful requests."),
    ("Input Processing", "the runtime's prefill_tokens / prefill_time_ms × 1000 per request; unweighted mean over successful requests with a non-zero rate."),
    ("Total Input Tokens", "Σ the runtime's prefill_tokens over successful requests (len(prompt) // 4 when the runtime reports none)."),
    ("Average Output per Request", "Total Output Tokens (successful requests only) / all requests, failed ones included, as the original divided."),
    ("Total Tokens Processed", "Σ (input + output tokens) over successful requests."),
    ("Total Time", "per test: request sent → end of the response (rkbench: t_end − t0)."),
    ("Configuration", "the original printed a fixed JSON block; here the recorded values (num_npu_cores: NPU cores with load telemetry; num_threads: enabled_cpus_num)."),
    ("Generated", "the original printed the time the report was written; a report here depends only on its trace, so it prints the time the run was recorded."),
    ("Observations and Conclusion", "the original's were fixed text (e.g. \"High success rate\" at 60 %); here each statement is computed from the trace, and response quality is not claimed because rkbench does not score it."),
];
