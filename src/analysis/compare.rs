//! A candidate run against a baseline: both runs' analyses, the figures side by side with the
//! ratio's uncertainty propagated as hyperfine does (r = μ/μ_ref,
//! σ_r = r·√((σ/μ)² + (σ_ref/μ_ref)²)), per-test decode rates, and every run parameter that
//! differs. `report::compare` only formats this.
use super::params::{self, ParamDiff};
use super::Analysis;
use crate::stats::{Aggregate, Summary};
use crate::trace::Status;

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub metric: &'static str,
    pub unit: &'static str,
    /// Whether a larger value is better (rates) or worse (latencies); `None`: neither.
    pub higher_is_better: Option<bool>,
    pub base: Option<Aggregate>,
    pub cand: Option<Aggregate>,
}

impl Row {
    /// (ratio candidate/baseline, its standard deviation).
    pub(crate) fn ratio(&self) -> Option<(f64, f64)> {
        let (b, c) = (self.base?, self.cand?);
        if b.mean == 0.0 || c.mean == 0.0 {
            return None;
        }
        let r = c.mean / b.mean;
        let rel = ((c.stddev / c.mean).powi(2) + (b.stddev / b.mean).powi(2)).sqrt();
        Some((r, r * rel))
    }

    /// "better", "worse", "higher", "lower" or "within noise" (the 1σ interval of r contains 1).
    pub(crate) fn verdict(&self) -> &'static str {
        match self.ratio() {
            None => "-",
            Some((r, s)) if (r - 1.0).abs() <= s => "within noise",
            Some((r, _)) => match self.higher_is_better {
                None if r > 1.0 => "higher",
                None => "lower",
                Some(h) if (r > 1.0) == h => "better",
                Some(_) => "worse",
            },
        }
    }
}

/// Decode rate of one test id in both runs (over its successful, measured repetitions).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TestRow {
    pub id: String,
    pub base: Option<Aggregate>,
    pub cand: Option<Aggregate>,
}

impl TestRow {
    /// Candidate mean / baseline mean.
    pub(crate) fn ratio(&self) -> Option<f64> {
        match (self.base, self.cand) {
            (Some(b), Some(c)) if b.mean > 0.0 => Some(c.mean / b.mean),
            _ => None,
        }
    }
}

/// Everything `rkbench compare` shows.
#[derive(Debug, Clone)]
pub(crate) struct Comparison<'t> {
    pub base: Analysis<'t>,
    pub cand: Analysis<'t>,
    /// Every compared run parameter whose value differs.
    pub differences: Vec<ParamDiff>,
    pub rows: Vec<Row>,
    pub per_test: Vec<TestRow>,
    /// One bare-runtime run and one server run: the server's overhead, or why not comparable.
    pub server_overhead: Option<crate::stats::server::Overhead>,
}

impl<'t> Comparison<'t> {
    pub(crate) fn of(base: Analysis<'t>, cand: Analysis<'t>) -> Comparison<'t> {
        Comparison {
            differences: params::diff(&base.params, &cand.params),
            rows: rows(&base.summary, &cand.summary),
            per_test: per_test(&base.summary, &cand.summary),
            server_overhead: crate::stats::server::overhead(
                base.trace,
                &base.summary,
                cand.trace,
                &cand.summary,
            ),
            base,
            cand,
        }
    }
}

fn rows(b: &Summary, c: &Summary) -> Vec<Row> {
    let row = |metric, unit, higher_is_better, f: fn(&Summary) -> Option<Aggregate>| Row {
        metric,
        unit,
        higher_is_better,
        base: f(b),
        cand: f(c),
    };
    vec![
        row("Decode rate", "tok/s", Some(true), |s| s.decode_tok_s),
        row("Prefill rate", "tok/s", Some(true), |s| s.prefill_tok_s),
        row("TTFT", "ms", Some(false), |s| s.ttft_ms),
        row("E2E latency", "ms", Some(false), |s| s.e2e_ms),
        row("ITL (pooled)", "ms", Some(false), |s| s.itl_ms),
        row("Output tokens per request", "tokens", None, |s| {
            s.output_tokens_per_request
        }),
    ]
}

/// Per-test decode rate, matched by test id (means over repetitions of successful requests).
fn per_test(b: &Summary, c: &Summary) -> Vec<TestRow> {
    let of = |s: &Summary, id: &str| {
        Aggregate::of(
            s.metrics
                .iter()
                .filter(|m| !m.warmup && m.status == Status::Ok && m.id == id)
                .filter_map(|m| m.decode_tok_s),
        )
    };
    let mut ids: Vec<&str> = Vec::new();
    for m in b.metrics.iter().chain(&c.metrics) {
        if !ids.contains(&m.id.as_str()) {
            ids.push(&m.id);
        }
    }
    ids.into_iter()
        .map(|id| TestRow {
            id: id.to_string(),
            base: of(b, id),
            cand: of(c, id),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(mean: f64, stddev: f64) -> Option<Aggregate> {
        Some(Aggregate {
            n: 5,
            mean,
            median: mean,
            min: mean,
            max: mean,
            stddev,
            p90: mean,
            p99: mean,
        })
    }

    #[test]
    fn ratio_propagates_uncertainty_like_hyperfine() {
        let r = Row {
            metric: "m",
            unit: "u",
            higher_is_better: Some(true),
            base: agg(10.0, 1.0),
            cand: agg(20.0, 2.0),
        };
        let (x, s) = r.ratio().unwrap();
        assert!((x - 2.0).abs() < 1e-12);
        assert!((s - 2.0 * (0.02f64).sqrt()).abs() < 1e-12);
        assert_eq!(r.verdict(), "better");
        let slower = Row {
            higher_is_better: Some(false),
            ..r.clone()
        };
        assert_eq!(slower.verdict(), "worse");
        let noisy = Row {
            base: agg(10.0, 3.0),
            cand: agg(11.0, 3.0),
            ..r
        };
        assert_eq!(noisy.verdict(), "within noise");
    }
}
