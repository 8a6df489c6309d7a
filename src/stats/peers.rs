//! The same trace under each peer tool's definitions (shared/docs/peers.md §2), so a number from
//! rkbench can be set beside one from vLLM, guidellm, genai-perf, llmperf, MLPerf or llama-bench
//! without guessing which "ITL" or "TPOT" was meant. Every value is labelled with its source.
use super::aggregate::{nearest_rank, percentile, sorted};
use crate::trace::{RequestRecord, Status};

/// One peer metric over the measured requests.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerMetric {
    pub tool: &'static str,
    pub metric: &'static str,
    pub definition: &'static str,
    /// Over what the statistics are taken.
    pub population: &'static str,
    /// ms, except where `unit` says otherwise.
    pub unit: &'static str,
    pub n: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p99: Option<f64>,
    /// As the peer computes it (population σ for numpy-based tools, n−1 for pandas/llama-bench).
    pub std: Option<f64>,
}

/// Population (`ddof = 0`) or sample (`ddof = 1`) standard deviation.
fn std(v: &[f64], ddof: usize) -> Option<f64> {
    if v.len() <= ddof {
        return None;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    Some((v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - ddof) as f64).sqrt())
}

#[allow(clippy::too_many_arguments)]
fn metric(
    tool: &'static str,
    metric: &'static str,
    definition: &'static str,
    population: &'static str,
    unit: &'static str,
    values: Vec<f64>,
    ddof: usize,
    mlperf: bool,
) -> PeerMetric {
    let s = sorted(values);
    let n = s.len();
    let pct = |p: f64| {
        (n > 0).then(|| {
            if mlperf {
                nearest_rank(&s, p)
            } else {
                percentile(&s, p)
            }
        })
    };
    PeerMetric {
        tool,
        metric,
        definition,
        population,
        unit,
        n,
        mean: (n > 0).then(|| s.iter().sum::<f64>() / n as f64),
        median: pct(50.0),
        p99: pct(99.0),
        std: std(&s, ddof),
    }
}

/// Compute every peer metric over the measured (non-warm-up) requests with at least one token.
/// Request-level metrics use successful requests, as each peer does.
pub fn of(requests: &[RequestRecord]) -> Vec<PeerMetric> {
    let ok: Vec<(&RequestRecord, Vec<f64>)> = requests
        .iter()
        .filter(|r| !r.warmup && r.status == Status::Ok && !r.token_dt_us.is_empty())
        .map(|r| {
            (
                r,
                r.token_times_us()
                    .into_iter()
                    .map(|t| t as f64 / 1e3)
                    .collect::<Vec<f64>>(),
            )
        })
        .collect();
    let per = |f: &dyn Fn(&RequestRecord, &[f64]) -> Option<f64>| -> Vec<f64> {
        ok.iter().filter_map(|(r, t)| f(r, t)).collect()
    };
    // Each tool's "latency" ends at the last token it received.
    let last = |t: &[f64]| t.last().copied();
    let n_of = |t: &[f64]| t.len() as f64;
    let excl_first = per(&|_, t| (t.len() > 1).then(|| (t[t.len() - 1] - t[0]) / (n_of(t) - 1.0)));
    let pooled: Vec<f64> = ok
        .iter()
        .flat_map(|(_, t)| t.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>())
        .collect();
    vec![
        metric(
            "vLLM",
            "TPOT",
            "(latency − TTFT) / (n − 1), latency = last token; excludes the first token",
            "per request",
            "ms",
            excl_first.clone(),
            0,
            false,
        ),
        metric(
            "vLLM",
            "ITL",
            "gap between consecutive tokens (here one callback = one token)",
            "all gaps of all requests pooled",
            "ms",
            pooled,
            0,
            false,
        ),
        metric(
            "guidellm",
            "ITL",
            "(last token − first token) / (n − 1); excludes the first token",
            "per request",
            "ms",
            excl_first.clone(),
            0,
            false,
        ),
        metric(
            "guidellm",
            "TPOT",
            "(last token − request start) / n; includes TTFT",
            "per request",
            "ms",
            per(&|_, t| Some(last(t)? / n_of(t))),
            0,
            false,
        ),
        metric(
            "genai-perf",
            "ITL",
            "(latency − TTFT) / (OSL − 1), one value per request",
            "per request",
            "ms",
            excl_first.clone(),
            0,
            false,
        ),
        metric(
            "genai-perf",
            "TTST",
            "second token − first token",
            "per request",
            "ms",
            per(&|_, t| (t.len() > 1).then(|| t[1] - t[0])),
            0,
            false,
        ),
        metric(
            "llmperf",
            "ITL",
            "e2e / n (sum of TTFT and every later gap, over n); includes TTFT",
            "per request",
            "ms",
            per(&|r, t| Some(r.end_us as f64 / 1e3 / n_of(t))),
            1,
            false,
        ),
        metric(
            "MLPerf",
            "TPOT",
            "(latency − TTFT) / (n − 1); percentiles nearest rank, index ⌊n·p⌋",
            "per sample",
            "ms",
            excl_first,
            0,
            true,
        ),
        metric(
            "llama-bench",
            "tg t/s",
            "mean ± sample stddev of per-request decode rates (n − 1)/(t_n − t_1)",
            "per request",
            "tok/s",
            per(&|_, t| {
                (t.len() > 1 && t[t.len() - 1] > t[0])
                    .then(|| (n_of(t) - 1.0) / ((t[t.len() - 1] - t[0]) / 1e3))
            }),
            1,
            false,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(dts: &[u32]) -> RequestRecord {
        RequestRecord {
            token_dt_us: dts.to_vec(),
            token_ids: vec![0; dts.len()],
            text_len: vec![0; dts.len()],
            end_us: dts.iter().map(|&d| u64::from(d)).sum::<u64>() + 1000,
            ..Default::default()
        }
    }

    #[test]
    fn definitions_differ_as_documented() {
        // TTFT 100 ms, then 3 gaps of 10 ms: t = 100, 110, 120, 130 ms; e2e 131 ms.
        let m = of(&[r(&[100_000, 10_000, 10_000, 10_000])]);
        let get = |tool: &str, metric: &str| {
            m.iter()
                .find(|x| x.tool == tool && x.metric == metric)
                .unwrap()
                .mean
                .unwrap()
        };
        assert!((get("vLLM", "TPOT") - 10.0).abs() < 1e-9);
        assert!(
            (get("guidellm", "TPOT") - 32.5).abs() < 1e-9,
            "includes TTFT: 130/4"
        );
        assert!((get("llmperf", "ITL") - 32.75).abs() < 1e-9, "e2e/n: 131/4");
        assert!((get("genai-perf", "TTST") - 10.0).abs() < 1e-9);
        assert!((get("llama-bench", "tg t/s") - 100.0).abs() < 1e-9);
        assert_eq!(
            m.iter()
                .find(|x| x.tool == "vLLM" && x.metric == "ITL")
                .unwrap()
                .n,
            3
        );
    }

    #[test]
    fn empty_and_single_token() {
        for m in of(&[]) {
            assert_eq!((m.n, m.mean), (0, None));
        }
        let m = of(&[r(&[5000])]);
        assert_eq!(
            m.iter()
                .find(|x| x.metric == "TPOT" && x.tool == "vLLM")
                .unwrap()
                .n,
            0,
            "n = 1 has no TPOT"
        );
    }
}
