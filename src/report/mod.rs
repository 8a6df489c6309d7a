//! Report renderers: one file per format, each a pure function of an [`Analysis`]. They only
//! format: every figure, warning, verdict reason and observation comes from the analysis.
pub mod compare;
pub mod csv;
pub mod html;
pub mod json;
pub mod json_writer;
pub mod markdown;
pub mod svg;
pub mod sweep;
pub mod table;
pub mod tables;
pub mod text;

pub use csv::CsvPer;

use crate::analysis::Analysis;
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
}

/// Renderer options that only some formats use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// What one CSV row is (`--per request|token`).
    pub csv_per: CsvPer,
}

impl Format {
    pub fn parse_list(s: &str) -> Result<Vec<Format>, String> {
        let mut v = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let f = match part {
                "md" | "markdown" => Format::Markdown,
                "json" => Format::Json,
                "html" | "htm" => Format::Html,
                "csv" => Format::Csv,
                other => return Err(format!(
                    "unknown report format {other:?}; use md, json, html or csv (comma-separated for several)"
                )),
            };
            if !v.contains(&f) {
                v.push(f);
            }
        }
        if v.is_empty() {
            return Err("--format is empty; use md, json, html or csv".into());
        }
        Ok(v)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Json => "json",
            Format::Html => "html",
            Format::Csv => "csv",
        }
    }
}

/// Render one trace in one format with default options.
pub fn render(trace: &Trace, format: Format) -> String {
    render_with(trace, format, Options::default())
}

/// Render one trace in one format.
pub fn render_with(trace: &Trace, format: Format, options: Options) -> String {
    render_analysis(&Analysis::of(trace), format, options)
}

/// Render an analysis in one format (analyse once, render several formats).
pub fn render_analysis(a: &Analysis, format: Format, options: Options) -> String {
    match format {
        Format::Markdown => markdown::render(a),
        Format::Json => json::render(a),
        Format::Html => html::render(a),
        Format::Csv => csv::render(a, options.csv_per),
    }
}

/// Metric definitions, stated in every report.
pub const DEFINITIONS: [(&str, &str); 9] = [
    ("t0", "the moment rkbench calls rkllm_run; t_i = arrival of the callback carrying token i (i = 1..N); t_end = the FINISH/ERROR callback (or the abort/deadline). One monotonic clock, microsecond resolution."),
    ("TTFT", "t1 − t0 (wall clock, includes prefill). The runtime's own prefill_time_ms is shown beside it where the runtime reports it."),
    ("Prefill rate", "input tokens (the runtime's prefill_tokens) / TTFT."),
    ("Decode rate", "(N − 1) / (t_N − t1): excludes the first token, whose delay is prefill."),
    ("Generation Speed (original definition)", "N / (E2E − TTFT), kept for continuity with the report this project started from."),
    ("ITL", "t_i − t_(i−1) for i ≥ 2; per-request p50/p90/p99/max; stalls = ITL > 3 × the request's median ITL."),
    ("E2E", "t_end − t0."),
    ("Output tokens", "one token callback (NORMAL or WAITING) = one token; never re-tokenized. Cross-checked against the runtime's generate_tokens."),
    ("Aggregates", "per-request figures over successful requests: mean, median, min, max, sample stddev (n−1), p90, p99 by linear interpolation (type 7). Token-weighted decode and pooled ITL include partial (timeout/interrupted) requests."),
];
