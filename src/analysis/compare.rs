//! A baseline and one or more candidate runs: every run's analysis, the descriptive figures side
//! by side, every run parameter that differs, and per metric and per test the ratio with its
//! bootstrap interval and permutation test (`stats::significance`); with a gate, what it found.
//! `report::compare` only formats this.
use super::params::{self, ParamDiff};
use super::Analysis;
use crate::stats::significance::{self, Change, Gate, Metric, MetricChange};
use crate::stats::{Aggregate, Summary};

/// One descriptive figure of every run (baseline first).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub metric: &'static str,
    pub unit: &'static str,
    pub values: Vec<Option<Aggregate>>,
}

/// A candidate and how it compares with the baseline.
#[derive(Debug, Clone)]
pub(crate) struct Candidate<'t> {
    pub analysis: Analysis<'t>,
    /// Every compared run parameter whose value differs from the baseline's.
    pub differences: Vec<ParamDiff>,
    /// Every metric, in [`Metric::ALL`] order.
    pub changes: Vec<MetricChange>,
    /// One bare-runtime run and one server run: the server's overhead, or why not comparable.
    pub server_overhead: Option<crate::stats::server::Overhead>,
    /// Why this run's sampling is not comparable with the baseline's; empty when both sides
    /// applied equal values.
    pub sampling_not_comparable: Vec<String>,
    /// J per output token against the baseline's, when both runs measured power.
    pub energy: Option<crate::stats::significance::Estimate>,
}

/// The sampling parameters a run's output (and so its figures) depends on.
const SAMPLING: [&str; 9] = [
    "top_k",
    "top_p",
    "temperature",
    "repeat_penalty",
    "frequency_penalty",
    "presence_penalty",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
];

/// Two runs' sampling is comparable only when both sides applied their values (the bare
/// runtime and most servers do; Rockchip's `/rkllm_chat` uses its own known values, recorded
/// as the run's) and those values are equal. A server that ignored the values sent (the
/// original tool's) leaves its run's sampling unknown.
fn sampling_not_comparable(
    base: &Analysis,
    cand: &Analysis,
    differences: &[ParamDiff],
) -> Vec<String> {
    let mut why: Vec<String> = [base, cand]
        .iter()
        .filter_map(|a| {
            let s = a.server.as_ref()?;
            (s.sampling == crate::http::kind::SamplingHonour::Ignored).then(|| {
                format!(
                    "{}: sampling {} ({})",
                    a.file_name,
                    s.sampling.as_str(),
                    s.sampling_note
                )
            })
        })
        .collect();
    for d in differences {
        if let (true, Some(b), Some(c)) = (SAMPLING.contains(&d.name.as_str()), &d.base, &d.cand) {
            why.push(format!("sampling differs: {} {b} vs {c}", d.name));
        }
    }
    why
}

impl Candidate<'_> {
    pub(crate) fn change(&self, m: Metric) -> Option<&MetricChange> {
        self.changes.iter().find(|c| c.metric == m)
    }
}

/// One check of the gate: a candidate's metric over all tests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GateCheck {
    pub candidate: String,
    pub metric: Metric,
    /// `None` when no test has the figure on both sides (the gate cannot judge it).
    pub change: Option<Change>,
    pub failed: bool,
}

/// What `--fail-if-slower` found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GateResult {
    pub gate: Gate,
    /// Candidates in order, each with the gate's metrics in order.
    pub checks: Vec<GateCheck>,
}

impl GateResult {
    pub(crate) fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.failed)
    }
}

/// Everything `rkbench compare` shows.
#[derive(Debug, Clone)]
pub(crate) struct Comparison<'t> {
    pub base: Analysis<'t>,
    pub candidates: Vec<Candidate<'t>>,
    pub gate: Option<GateResult>,
}

impl<'t> Comparison<'t> {
    pub(crate) fn of(
        base: Analysis<'t>,
        cands: Vec<Analysis<'t>>,
        gate: Option<Gate>,
    ) -> Comparison<'t> {
        let candidates: Vec<Candidate> = cands
            .into_iter()
            .map(|c| Candidate {
                differences: params::diff(&base.params, &c.params),
                sampling_not_comparable: Vec::new(),
                energy: base
                    .energy
                    .as_ref()
                    .zip(c.energy.as_ref())
                    .and_then(|(b, x)| crate::stats::energy::compare_j_per_token(b, x)),
                changes: significance::compare_runs(&base.summary.metrics, &c.summary.metrics),
                server_overhead: crate::stats::server::overhead(
                    base.trace,
                    &base.summary,
                    c.trace,
                    &c.summary,
                ),
                analysis: c,
            })
            .map(|mut c| {
                c.sampling_not_comparable =
                    sampling_not_comparable(&base, &c.analysis, &c.differences);
                c
            })
            .collect();
        let gate = gate.map(|g| GateResult {
            checks: candidates
                .iter()
                .flat_map(|c| {
                    g.metrics.iter().map(|&m| {
                        let change = c.change(m).and_then(|x| x.overall);
                        GateCheck {
                            candidate: c.analysis.file_name.clone(),
                            metric: m,
                            failed: change.is_some_and(|ch| g.fails(&ch)),
                            change,
                        }
                    })
                })
                .collect(),
            gate: g,
        });
        Comparison {
            base,
            candidates,
            gate,
        }
    }

    /// Every run, baseline first.
    pub(crate) fn runs(&self) -> impl Iterator<Item = &Analysis<'t>> {
        std::iter::once(&self.base).chain(self.candidates.iter().map(|c| &c.analysis))
    }

    /// The descriptive figures of every run (baseline first): mean ± σ over successful requests.
    pub(crate) fn rows(&self) -> Vec<Row> {
        let runs: Vec<&Summary> = self.runs().map(|a| &a.summary).collect();
        let row = |metric, unit, f: fn(&Summary) -> Option<Aggregate>| Row {
            metric,
            unit,
            values: runs.iter().map(|s| f(s)).collect(),
        };
        vec![
            row("Decode rate", "tok/s", |s| s.decode_tok_s),
            row("Prefill rate", "tok/s", |s| s.prefill_tok_s),
            row("TTFT", "ms", |s| s.ttft_ms),
            row("E2E latency", "ms", |s| s.e2e_ms),
            row("ITL (pooled)", "ms", |s| s.itl_ms),
            row("Output tokens per request", "tokens", |s| {
                s.output_tokens_per_request
            }),
        ]
    }

    /// Differing settings over all candidates (first-seen order) with the baseline's value.
    pub(crate) fn difference_names(&self) -> Vec<(&str, Option<&str>)> {
        let mut v: Vec<(&str, Option<&str>)> = Vec::new();
        for c in &self.candidates {
            for d in &c.differences {
                if !v.iter().any(|(n, _)| *n == d.name) {
                    v.push((&d.name, d.base.as_deref()));
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::testdata;
    use crate::trace::server::{ServerRun, ServerTrace};
    use crate::trace::{RequestRecord, RunHeader, Status, Trace};

    fn run(top_k: i32, server_kind: Option<&str>) -> Trace {
        let mut h = RunHeader::default();
        h.params.top_k = top_k;
        let r = RequestRecord {
            status: Status::Ok,
            tokens: testdata::steady_tokens(4),
            end_us: 500_000,
            ..Default::default()
        };
        let mut t = testdata::trace(h, vec![r], Vec::new(), None);
        t.server = server_kind.map(|k| ServerTrace {
            run: ServerRun {
                kind: k.into(),
                protocol: "openai-sse".into(),
                ..Default::default()
            },
            requests: Vec::new(),
        });
        t
    }

    fn reasons(a: &Trace, b: &Trace) -> Vec<String> {
        let c = Comparison::of(Analysis::of(a), vec![Analysis::of(b)], None);
        c.candidates[0].sampling_not_comparable.clone()
    }

    /// Comparable only when both sides applied equal values.
    #[test]
    fn sampling_is_comparable_only_when_both_sides_applied_equal_values() {
        assert!(reasons(&run(1, None), &run(1, None)).is_empty());
        assert!(reasons(&run(1, None), &run(1, Some("llama-server"))).is_empty());
        let differs = reasons(&run(1, None), &run(5, None));
        assert_eq!(differs.len(), 1);
        assert!(
            differs[0].starts_with("sampling differs: top_k"),
            "{differs:?}"
        );
        let ignored = reasons(&run(1, None), &run(1, Some("rockchipllama")));
        assert_eq!(ignored.len(), 1);
        assert!(ignored[0].contains("ignored by the server"), "{ignored:?}");
    }
}
