//! The analysis of one trace: every fact a report shows, computed once.
//!
//! Data flows one way: trace records → [`Analysis::of`] → renderers (`report::{markdown, json,
//! html, csv, sweep}`, `report::compare` through [`compare::Comparison`]). A renderer only
//! formats what it finds here; it never computes a statistic, so every format states the same
//! figures, the same warnings and the same verdict reasons.
//!
//! # Adding a section
//! 1. Compute it: a pure function in `stats/` (or a submodule here) from the trace records, and
//!    a field on [`Analysis`] filled in [`Analysis::of`]. Text that comes from the trace (ids,
//!    names, board facts) stays raw here; each renderer escapes it for its format
//!    ([`Observation`] shows how to keep sentence text and trace text apart).
//! 2. Format it in each renderer: `report/markdown.rs`, `report/html.rs` (tables through
//!    `report::table`, so Markdown and HTML share the row data), `report/json.rs` (and
//!    document the field in `docs/JSON.md`). CSV is the per-request/per-token table and only
//!    grows columns.
//! 3. The cross-format test (`tests/formats_agree.rs`) then checks the new facts appear alike
//!    in every format; extend it with the section's figures.
pub(crate) mod charts;
pub(crate) mod compare;
pub(crate) mod counters;
pub(crate) mod observations;
pub(crate) mod original;
pub(crate) mod params;

pub(crate) use observations::{Observation, Span};
pub(crate) use params::{Param, ParamValue, Section};

use crate::stats::conformance::Conformance;
use crate::stats::original::{Hardware, OriginalSummary};
use crate::stats::peers::{self, PeerMetric};
use crate::stats::prefill::{self, PrefillScaling};
use crate::stats::reference::{self, Reference};
use crate::stats::telemetry::{self, RequestTelemetry, Timeline};
use crate::stats::throughput::{self, Slos, Throughput};
use crate::stats::verdict::{self, Verdict};
use crate::stats::warnings::{self, Warning};
use crate::stats::{RequestMetrics, Summary};
use crate::trace::{RequestRecord, Trace};

/// Everything the reports of one trace show, computed once from its records.
#[derive(Debug, Clone)]
pub(crate) struct Analysis<'t> {
    /// The records themselves: prompts, responses and token times are shown as recorded.
    pub trace: &'t Trace,
    /// The trace's file name without directories (reports must not depend on where a file lives).
    pub file_name: String,
    /// Run parameters (sampling, caps, CPUs, identity, suite, board), in display order.
    pub params: Vec<Param>,
    /// Aggregates over the run; `summary.metrics` holds one entry per request, in run order.
    pub summary: Summary,
    /// The same trace under each peer tool's definitions.
    pub peers: Vec<PeerMetric>,
    /// On a server run: what the peer rows are computed over (the per-token view, not each
    /// tool's own reading of the stream, which the server section shows).
    pub peers_note: Option<String>,
    /// vLLM's throughput figures (and goodput when SLOs were given).
    pub throughput: Throughput,
    /// The original report's figures, each with the original's definition.
    pub original: OriginalSummary,
    /// Board, SoC and NPU cores as the trace recorded them.
    pub hardware: Hardware,
    /// The original report's Observations and Conclusion, computed from the data.
    pub original_text: original::OriginalText,
    /// Every telemetry batch merged on one time axis (the charts, the per-request board state
    /// and the timeline export's counters all read it).
    pub timeline: Timeline,
    /// Board state per request (same order as `summary.metrics`); `None` without telemetry.
    pub request_telemetry: Option<Vec<RequestTelemetry>>,
    /// Conditions that qualify the figures: the board's in `stats::warnings` order, then the
    /// runtime's failed conformance checks.
    pub warnings: Vec<Warning>,
    /// Whether the runtime behaved as the ABI facts say, and how each cap was enforced.
    pub conformance: Conformance,
    pub verdict: Verdict,
    /// Statements computed from the data.
    pub observations: Vec<Observation>,
    /// Data for the HTML report's charts.
    pub charts: charts::Charts,
    /// This run beside Rockchip's published figures, when its model and runtime release have
    /// a published row.
    pub reference: Option<Reference>,
    /// TTFT against exact input length, when the run fed at least two exact lengths.
    pub prefill_scaling: Option<PrefillScaling>,
    /// A run measured through an HTTP server: chunk figures, count source, unit checks.
    pub server: Option<crate::stats::server::ServerAnalysis>,
    /// Energy from the power samples (`record --power`); `None` without them.
    pub energy: Option<crate::stats::energy::Energy>,
    /// The trace as one level of load (a sequential run is one level at concurrency 1).
    pub load: crate::stats::load::LoadLevel,
    /// Whether that level holds (`stats::load::saturation` of the one level).
    pub saturation: crate::stats::load::Saturation,
    /// Several runtime instances in one process: how they shared the NPU.
    pub(crate) instances: Option<crate::stats::instances::InstanceSharing>,
}

impl<'t> Analysis<'t> {
    /// Analyse a trace. Pure: the same trace always gives the same analysis.
    pub(crate) fn of(trace: &'t Trace) -> Analysis<'t> {
        Self::with_goodput(trace, &Slos::default())
    }

    /// As [`Analysis::of`], with vLLM-style goodput against `slos` (`report --goodput`).
    pub(crate) fn with_goodput(trace: &'t Trace, slos: &Slos) -> Analysis<'t> {
        Self::with_options(trace, slos, None)
    }

    /// As [`Analysis::with_goodput`], also comparing with the published figures of
    /// `reference_model` (`--reference-model`) instead of the model the file name names.
    pub(crate) fn with_options(
        trace: &'t Trace,
        slos: &Slos,
        reference_model: Option<&str>,
    ) -> Analysis<'t> {
        let summary = Summary::of(trace);
        let timeline = Timeline::of(&trace.telemetry);
        let request_telemetry = (!timeline.is_empty()).then(|| {
            trace
                .requests
                .iter()
                .map(|r| telemetry::request(&timeline, r))
                .collect()
        });
        let mut warnings = warnings::compute(
            &trace.header.board,
            &timeline,
            &trace.requests,
            &summary.metrics,
        );
        let conformance = Conformance::of(trace);
        warnings.extend(conformance.report_warnings());
        if let Some(s) = &trace.server {
            warnings.extend(crate::stats::server::prompt_cache_warning(s));
            warnings.extend(crate::stats::server::ignored_sampling_warning(s));
            warnings.extend(crate::stats::server::implausible_count_warning(s));
        }
        let energy = crate::stats::energy::of(trace);
        if let Some(e) = &energy {
            warnings.extend(crate::stats::energy::warnings(e));
        }
        let throughput = throughput::of(&trace.requests, trace.server.as_ref(), slos);
        let peers = peers::of(&trace.requests);
        let load = crate::stats::load::of(trace, &throughput, &peers);
        warnings.extend(crate::stats::load::warnings(&load));
        let saturation = crate::stats::load::saturation(&[&load], slos);
        let verdict = verdict::of(trace, &summary, &warnings);
        let observations = observations::of(&summary);
        let charts = charts::Charts::of(trace, &summary, &timeline, energy.as_ref());
        let original =
            OriginalSummary::of(&trace.requests, trace.server.as_ref(), summary.duration_ms);
        let hardware = Hardware::of(&trace.header.board, &trace.telemetry);
        let original_text = original::of(trace, &summary, &original, &hardware, &verdict);
        let reference = reference::of(trace, &summary.metrics, &warnings, reference_model);
        let prefill_scaling = prefill::of(trace, &summary.metrics);
        Analysis {
            trace,
            file_name: file_name(&trace.path),
            params: params::with_input_options(
                params::of(&trace.header, &trace.templates, trace.preset.as_ref()),
                trace.input_options.as_ref(),
            ),
            peers,
            peers_note: trace.server.as_ref().map(peers_over_server),
            throughput,
            original,
            hardware,
            original_text,
            timeline,
            request_telemetry,
            warnings,
            conformance,
            verdict,
            observations,
            charts,
            reference,
            prefill_scaling,
            server: trace.server.as_ref().map(crate::stats::server::analyse),
            energy,
            load,
            saturation,
            instances: crate::stats::instances::of(trace),
            summary,
        }
    }

    /// Where the run parameters went: the runtime, or a server with every request.
    pub(crate) fn params_went_to(&self) -> &'static str {
        match &self.server {
            // Rockchip's /rkllm_chat takes no sampling values or cap: they are the server's.
            Some(s)
                if s.run
                    .evidence
                    .iter()
                    .any(|f| f.key == crate::trace::server::FIXED_SAMPLING_FACT) =>
            {
                "the server fixed them when it started (only the prompt and the thinking switch were sent)"
            }
            Some(_) => "sent to the server with every request",
            None => "passed to the runtime",
        }
    }

    /// The exact token input request `index` was fed (`None`: a text prompt).
    pub(crate) fn exact_input_tokens(&self, index: u32) -> Option<u32> {
        self.trace
            .input_of(index)
            .filter(|i| i.is_exact_tokens())
            .map(|i| i.n_tokens)
    }

    /// Each request's record with its metrics (and board state, when there is telemetry).
    pub(crate) fn requests(
        &self,
    ) -> impl Iterator<Item = (&RequestRecord, &RequestMetrics, Option<&RequestTelemetry>)> {
        let tele = self.request_telemetry.as_deref();
        self.trace
            .requests
            .iter()
            .zip(&self.summary.metrics)
            .enumerate()
            .map(move |(i, (r, m))| (r, m, tele.and_then(|t| t.get(i))))
    }

    /// Measured requests whose runtime token count differs from the callbacks.
    /// How the run's output token count relates to the tokens generated: a bare run counts
    /// every callback; through a server, see [`CountBound`].
    pub(crate) fn output_bound(&self) -> crate::stats::server::CountBound {
        self.server
            .as_ref()
            .map_or(crate::stats::server::CountBound::Exact, |s| s.bound)
    }

    /// The summary leads with the median-gap decode rate (1000 / median ITL) when the count is
    /// not exact: a token missing from it biases (N − 1) / (t_N − t1) low and not the median
    /// gap — provided every request with a decode rate has one (a median gap of 0, from chunks
    /// read together, gives none). With every token counted it leads with (N − 1) / (t_N − t1),
    /// which uses every gap.
    pub(crate) fn leads_with_median_gap(&self) -> bool {
        let n = |a: Option<crate::stats::Aggregate>| a.map_or(0, |a| a.n);
        let s = &self.summary;
        self.output_bound() != crate::stats::server::CountBound::Exact
            && n(s.decode_tok_s_median_gap) > 0
            && n(s.decode_tok_s_median_gap) == n(s.decode_tok_s)
    }

    pub(crate) fn token_count_mismatches(&self) -> usize {
        self.summary
            .metrics
            .iter()
            .filter(|m| m.token_count_mismatch)
            .count()
    }

    /// Successful share of the measured requests, in %.
    pub(crate) fn success_rate_pct(&self) -> f64 {
        let s = &self.summary;
        if s.requests > 0 {
            100.0 * s.ok as f64 / s.requests as f64
        } else {
            0.0
        }
    }

    /// Every measured request completed.
    pub(crate) fn all_ok(&self) -> bool {
        self.summary.ok == self.summary.requests && self.summary.requests > 0
    }

    /// The model's file name, or `model` when none was recorded.
    pub(crate) fn model_name(&self) -> &str {
        let f = &self.trace.header.model.file_name;
        if f.is_empty() {
            "model"
        } else {
            f
        }
    }
}

/// Fixed-point number, or `-` when absent or not finite. Never locale-dependent. (Here because
/// observations state figures in their sentences; renderers use it through `report::text`.)
pub(crate) fn num(x: Option<f64>, decimals: usize) -> String {
    fixed(x, decimals).unwrap_or_else(|| "-".to_string())
}

/// The one spelling of a figure with `decimals` fixed decimals, for every format; `None` when
/// absent or not finite. A value that rounds to zero is "0.00", never "-0.00": the sign of a
/// rounded-away difference is noise, and the formats must print the same text for the same fact.
pub(crate) fn fixed(x: Option<f64>, decimals: usize) -> Option<String> {
    let v = x.filter(|v| v.is_finite())?;
    let s = format!("{:.*}", decimals, v);
    Some(match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|c| c == b'0' || c == b'.') => rest.to_string(),
        _ => s,
    })
}

/// The file name of a path without directories.
pub(crate) fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// What the peer rows of a server run are computed over.
fn peers_over_server(s: &crate::trace::server::ServerTrace) -> String {
    use crate::trace::server::CountSource;
    let source = crate::stats::server::run_source(s);
    format!(
        "Measured through a server: each row applies that tool's formula to rkbench's per-token view of the stream (count source {}{}); how each tool would itself read this stream, by its own chunk rules, is in the Server section.",
        source.map_or("none", CountSource::as_str),
        match source {
            Some(CountSource::ChunksOnly) => ", so every token figure here counts chunks",
            Some(CountSource::GapCluster) => ", so every token figure here is estimated",
            _ => "",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::{fixed, num};

    #[test]
    fn a_difference_rounded_away_has_no_sign() {
        assert_eq!(fixed(Some(-0.001), 2).as_deref(), Some("0.00"));
        assert_eq!(fixed(Some(-0.0), 0).as_deref(), Some("0"));
        assert_eq!(fixed(Some(-0.006), 2).as_deref(), Some("-0.01"));
        assert_eq!(fixed(Some(-12.5), 1).as_deref(), Some("-12.5"));
        assert_eq!(fixed(Some(f64::NAN), 2), None);
        assert_eq!(fixed(Some(f64::NEG_INFINITY), 2), None);
        assert_eq!(num(Some(-0.0004), 3), "0.000");
        assert_eq!(num(None, 3), "-");
    }
}
