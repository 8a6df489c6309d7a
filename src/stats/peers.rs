//! The same trace under each peer tool's own code (shared/docs/peer-definitions.md), so a number
//! from rkbench can be set beside one from vLLM, guidellm, genai-perf, llmperf, MLPerf LoadGen or
//! llama-bench without guessing which "ITL" or "TPOT" was meant, and equals what that tool prints.
//!
//! Mapping: t0 = request sent; one RKLLM token callback = one streamed chunk = one token; a
//! request ends, for every peer, at t_N (its last token), not at the FINISH callback; warm-up
//! requests are outside the measured window; a request that did not end `ok` is a failed request
//! for every peer. Each value is computed from integer microseconds (or the nanoseconds the tool
//! itself uses) and converted to the printed unit once, at the end, so the same statistic over the
//! same population gives the same digits wherever it is printed (e.g. vLLM's pooled ITL and the
//! summary's pooled ITL when no request was partial).
use super::aggregate::{nearest_rank, percentile};
use crate::trace::{RequestRecord, Status};

/// How a tool computes its standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sigma {
    /// `np.std` (ddof 0): √(Σ(x − mean)² / n).
    Population,
    /// pandas `Series.std()` (ddof 1): √(Σ(x − mean)² / (n − 1)); undefined for n = 1.
    Sample,
    /// llama-bench `stdev`: the sample σ, and exactly 0 for a single value.
    SampleZeroForOne,
    /// guidellm: √(Σ p·(v − mean)²) with p = weight / Σ weight.
    WeightedPopulation,
    /// MLPerf LoadGen computes no standard deviation.
    NotComputed,
}

impl Sigma {
    pub fn label(self) -> &'static str {
        match self {
            Sigma::Population => "population (ddof 0)",
            Sigma::Sample => "sample (ddof 1)",
            Sigma::SampleZeroForOne => "sample (ddof 1), 0 for one value",
            Sigma::WeightedPopulation => "weighted population",
            Sigma::NotComputed => "not computed by the tool",
        }
    }
}

/// How a tool takes its percentiles (median and p99 here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Percentiles {
    /// numpy `percentile` / pandas `quantile` default: linear interpolation (type 7).
    Linear,
    /// guidellm `Percentiles.from_pdf`: the first value whose cumulative normalised weight
    /// reaches p (`searchsorted(cdf, p, "left")`), no interpolation.
    WeightedInverseCdf,
    /// MLPerf LoadGen: `sorted[⌊n·p⌋]`.
    NearestRank,
    /// The tool prints none (llama-bench: mean ± σ only).
    NotComputed,
}

impl Percentiles {
    pub fn label(self) -> &'static str {
        match self {
            Percentiles::Linear => "linear interpolation",
            Percentiles::WeightedInverseCdf => "first value whose cumulative weight reaches p",
            Percentiles::NearestRank => "nearest rank, sorted[⌊n·p⌋]",
            Percentiles::NotComputed => "not computed by the tool",
        }
    }
}

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
    /// The count the tool reports (requests or gaps; for guidellm, tokens: round(Σ weight)).
    pub n: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p99: Option<f64>,
    pub std: Option<f64>,
    pub sigma: Sigma,
    pub percentiles: Percentiles,
}

/// µs → ms, the one conversion every time statistic here goes through (the same multiplication
/// `aggregate::aggregate_u32` uses, so equal statistics print equal digits).
pub(super) const US_TO_MS: f64 = 1e-3;
/// ns → ms for the tools that work in integer nanoseconds (genai-perf, MLPerf).
const NS_TO_MS: f64 = 1e-6;

/// The measured requests each peer counts as successful, with their token times (µs since t0).
struct Done<'a> {
    record: &'a RequestRecord,
    t: Vec<u64>,
}

impl Done<'_> {
    fn n(&self) -> u64 {
        self.t.len() as u64
    }
    fn first(&self) -> Option<u64> {
        self.t.first().copied()
    }
    fn last(&self) -> Option<u64> {
        self.t.last().copied()
    }
}

fn successful(requests: &[RequestRecord]) -> Vec<Done<'_>> {
    requests
        .iter()
        .filter(|r| !r.warmup && r.status == Status::Ok)
        .map(|r| Done {
            record: r,
            t: r.token_times_us(),
        })
        .collect()
}

struct Row {
    tool: &'static str,
    metric: &'static str,
    definition: &'static str,
    population: &'static str,
    unit: &'static str,
}

impl Row {
    fn with(self, s: Stats, sigma: Sigma, percentiles: Percentiles) -> PeerMetric {
        PeerMetric {
            tool: self.tool,
            metric: self.metric,
            definition: self.definition,
            population: self.population,
            unit: self.unit,
            n: s.n,
            mean: s.mean,
            median: s.median,
            p99: s.p99,
            std: s.std,
            sigma,
            percentiles,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Stats {
    pub(super) n: usize,
    pub(super) mean: Option<f64>,
    pub(super) median: Option<f64>,
    pub(super) p99: Option<f64>,
    pub(super) std: Option<f64>,
}

/// numpy/pandas statistics of `values` (in the tool's base unit), each result multiplied by
/// `scale` once: mean = Σx/n, linear percentiles, σ with `ddof`.
pub(super) fn linear(mut values: Vec<f64>, ddof: usize, scale: f64) -> Stats {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return Stats::default();
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let std = (n > ddof).then(|| {
        let ss: f64 = values.iter().map(|x| (x - mean).powi(2)).sum();
        (ss / (n - ddof) as f64).sqrt() * scale
    });
    Stats {
        n,
        mean: Some(mean * scale),
        median: Some(percentile(&values, 50.0) * scale),
        p99: Some(percentile(&values, 99.0) * scale),
        std,
    }
}

/// guidellm's `DistributionSummary.from_values` over (value, weight) pairs given as
/// (numerator, weight) with value = numerator / weight, so the weighted mean Σw·v / Σw is the
/// exact integer ratio Σnumerator / Σweight. Equal values merge, zero weights drop, weights are
/// normalised to probabilities and accumulated in order as numpy's `cumsum` does.
fn weighted(items: &[(u64, u64)], scale: f64) -> Stats {
    let mut pdf: Vec<(f64, u64)> = items
        .iter()
        .filter(|&&(_, w)| w > 0)
        .map(|&(num, w)| (num as f64 / w as f64, w))
        .collect();
    pdf.sort_by(|a, b| a.0.total_cmp(&b.0));
    pdf.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 += b.1;
            true
        } else {
            false
        }
    });
    let total: u64 = pdf.iter().map(|&(_, w)| w).sum();
    if total == 0 {
        return Stats::default();
    }
    let num: u128 = items
        .iter()
        .filter(|&&(_, w)| w > 0)
        .map(|&(n, _)| u128::from(n))
        .sum();
    let mean = num as f64 / total as f64;
    let probs: Vec<f64> = pdf.iter().map(|&(_, w)| w as f64 / total as f64).collect();
    let at = |p: f64| {
        let mut cdf = 0.0;
        for (i, q) in probs.iter().enumerate() {
            cdf += q;
            if cdf >= p {
                return pdf[i].0;
            }
        }
        pdf[pdf.len() - 1].0
    };
    let var: f64 = pdf
        .iter()
        .zip(&probs)
        .map(|(&(v, _), p)| (v - mean).powi(2) * p)
        .sum();
    Stats {
        n: total as usize,
        mean: Some(mean * scale),
        median: Some(at(0.5) * scale),
        p99: Some(at(0.99) * scale),
        std: Some(var.sqrt() * scale),
    }
}

/// MLPerf LoadGen over integer nanoseconds: mean by integer division, `sorted[⌊n·p⌋]`, no σ.
fn loadgen(mut ns: Vec<i64>) -> Stats {
    ns.sort_unstable();
    let n = ns.len();
    if n == 0 {
        return Stats::default();
    }
    let as_f64: Vec<f64> = ns.iter().map(|&x| x as f64).collect();
    Stats {
        n,
        mean: Some((ns.iter().sum::<i64>() / n as i64) as f64 * NS_TO_MS),
        median: Some(nearest_rank(&as_f64, 50.0) * NS_TO_MS),
        p99: Some(nearest_rank(&as_f64, 99.0) * NS_TO_MS),
        std: None,
    }
}

/// llama-bench's `avg` and `stdev` (its own formula, √(Σx²/(n−1) − mean²·n/(n−1)), 0 for n ≤ 1);
/// it prints no percentiles.
fn llama_bench(v: &[f64]) -> Stats {
    let n = v.len();
    if n == 0 {
        return Stats::default();
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let std = if n <= 1 {
        0.0
    } else {
        let sq: f64 = v.iter().map(|x| x * x).sum();
        let k = (n - 1) as f64;
        (sq / k - mean * mean * n as f64 / k).max(0.0).sqrt()
    };
    Stats {
        n,
        mean: Some(mean),
        median: None,
        p99: None,
        std: Some(std),
    }
}

/// Python's `round()` of a / b for non-negative integers: to nearest, ties to even.
fn round_half_even(a: u64, b: u64) -> u64 {
    let (q, r) = (a / b, a % b);
    match (2 * r).cmp(&b) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// vLLM's per-request figures of one successful request (µs; TPOT as a ratio).
pub(crate) struct VllmRequest<'a> {
    pub record: &'a RequestRecord,
    pub output_tokens: u64,
    pub ttft_us: u64,
    pub e2el_us: u64,
    /// (latency − TTFT)/(N − 1), `None` for N ≤ 1 (vLLM then uses 0 for goodput).
    pub tpot_us: Option<f64>,
}

/// The requests vLLM counts as successful: measured, ended `ok`, and at least one chunk arrived
/// ("Never received a valid chunk to calculate TTFT" marks the others failed).
pub(crate) fn vllm_successful(requests: &[RequestRecord]) -> Vec<VllmRequest<'_>> {
    vllm_requests(&successful(requests))
}

fn vllm_requests<'a>(done: &[Done<'a>]) -> Vec<VllmRequest<'a>> {
    done.iter()
        .filter_map(|d| {
            let (t1, tn) = (d.first()?, d.last()?);
            Some(VllmRequest {
                record: d.record,
                output_tokens: d.n(),
                ttft_us: t1,
                e2el_us: tn,
                tpot_us: (d.n() > 1).then(|| (tn - t1) as f64 / (d.n() - 1) as f64),
            })
        })
        .collect()
}

/// Every peer metric over the measured (non-warm-up) requests.
pub fn of(requests: &[RequestRecord]) -> Vec<PeerMetric> {
    let done = successful(requests);
    let vllm = vllm_requests(&done);
    let multi: Vec<&Done> = done.iter().filter(|d| d.n() > 1).collect();
    let pooled: Vec<f64> = done
        .iter()
        .filter(|d| d.n() > 0)
        .flat_map(|d| {
            d.record.tokens.token_dt_us[1..]
                .iter()
                .map(|&g| f64::from(g))
        })
        .collect();
    vec![
        Row {
            tool: "vLLM",
            metric: "TTFT",
            definition: "first token − request sent",
            population: "successful requests",
            unit: "ms",
        }
        .with(
            linear(vllm.iter().map(|r| r.ttft_us as f64).collect(), 0, US_TO_MS),
            Sigma::Population,
            Percentiles::Linear,
        ),
        Row {
            tool: "vLLM",
            metric: "TPOT",
            definition: "(latency − TTFT) / (n − 1), latency = last token; excludes the first token",
            population: "successful requests with n > 1",
            unit: "ms",
        }
        .with(
            linear(vllm.iter().filter_map(|r| r.tpot_us).collect(), 0, US_TO_MS),
            Sigma::Population,
            Percentiles::Linear,
        ),
        Row {
            tool: "vLLM",
            metric: "ITL",
            definition: "gap between consecutive chunks (here one callback = one token)",
            population: "every gap of every successful request, pooled",
            unit: "ms",
        }
        .with(
            linear(pooled, 0, US_TO_MS),
            Sigma::Population,
            Percentiles::Linear,
        ),
        Row {
            tool: "vLLM",
            metric: "E2EL",
            definition: "last token − request sent",
            population: "successful requests",
            unit: "ms",
        }
        .with(
            linear(vllm.iter().map(|r| r.e2el_us as f64).collect(), 0, US_TO_MS),
            Sigma::Population,
            Percentiles::Linear,
        ),
        Row {
            tool: "guidellm",
            metric: "ITL",
            definition: "(last token − first token) / (n − 1) per request, weighted by n − 1",
            population: "successful requests; n counts tokens (Σ weight)",
            unit: "ms",
        }
        .with(
            weighted(
                &done
                    .iter()
                    .filter_map(|d| Some((d.last()? - d.first()?, d.n().saturating_sub(1))))
                    .collect::<Vec<_>>(),
                US_TO_MS,
            ),
            Sigma::WeightedPopulation,
            Percentiles::WeightedInverseCdf,
        ),
        Row {
            tool: "guidellm",
            metric: "TPOT",
            definition: "(last token − request start) / n per request, weighted by n; includes TTFT",
            population: "successful requests; n counts tokens (Σ weight)",
            unit: "ms",
        }
        .with(
            weighted(
                &done
                    .iter()
                    .filter_map(|d| Some((d.last()?, d.n())))
                    .collect::<Vec<_>>(),
                US_TO_MS,
            ),
            Sigma::WeightedPopulation,
            Percentiles::WeightedInverseCdf,
        ),
        Row {
            tool: "genai-perf",
            metric: "ITL",
            definition: "round((latency − TTFT) / (OSL − 1)) in ns, one value per request",
            population: "successful requests with n > 1",
            unit: "ms",
        }
        .with(
            linear(
                multi
                    .iter()
                    .map(|d| {
                        let ns = (d.t[d.t.len() - 1] - d.t[0]) * 1000;
                        round_half_even(ns, d.n() - 1) as f64
                    })
                    .collect(),
                0,
                NS_TO_MS,
            ),
            Sigma::Population,
            Percentiles::Linear,
        ),
        Row {
            tool: "genai-perf",
            metric: "TTST",
            definition: "second token − first token",
            population: "successful requests with n > 1",
            unit: "ms",
        }
        .with(
            linear(
                multi.iter().map(|d| (d.t[1] - d.t[0]) as f64).collect(),
                0,
                US_TO_MS,
            ),
            Sigma::Population,
            Percentiles::Linear,
        ),
        Row {
            tool: "llmperf",
            metric: "ITL",
            definition: "(TTFT + every later gap) / n = (last token − request sent) / n; 0 when n = 0; includes TTFT",
            population: "successful requests",
            unit: "ms",
        }
        .with(
            linear(
                done.iter()
                    .map(|d| d.last().map_or(0.0, |tn| tn as f64 / d.n() as f64))
                    .collect(),
                1,
                US_TO_MS,
            ),
            Sigma::Sample,
            Percentiles::Linear,
        ),
        Row {
            tool: "MLPerf",
            metric: "TPOT",
            definition: "(latency − first token) / (n − 1) in integer ns; mean by integer division",
            population: "successful samples with n > 1",
            unit: "ms",
        }
        .with(
            loadgen(
                multi
                    .iter()
                    .map(|d| ((d.t[d.t.len() - 1] - d.t[0]) * 1000 / (d.n() - 1)) as i64)
                    .collect(),
            ),
            Sigma::NotComputed,
            Percentiles::NearestRank,
        ),
        Row {
            tool: "llama-bench",
            metric: "tg t/s",
            definition: "mean ± σ of per-request decode rates (n − 1) / (t_n − t_1), one request = one repetition",
            population: "successful requests with n > 1",
            unit: "tok/s",
        }
        .with(
            llama_bench(
                &multi
                    .iter()
                    .filter(|d| d.t[d.t.len() - 1] > d.t[0])
                    .map(|d| (d.n() - 1) as f64 / ((d.t[d.t.len() - 1] - d.t[0]) as f64 / 1e6))
                    .collect::<Vec<_>>(),
            ),
            Sigma::SampleZeroForOne,
            Percentiles::NotComputed,
        ),
    ]
}

/// Requests with hand-checkable timings, shared by the peer and throughput tests.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::trace::TokenColumns;
    use crate::trace::{PerfStat, RequestRecord, Status};

    /// A request starting at `start_ms` (run clock) with token gaps `dts_ms` (the first since t0)
    /// and its FINISH `tail_ms` after the last token.
    pub(crate) fn req(
        status: Status,
        start_ms: u64,
        dts_ms: &[f64],
        tail_ms: u64,
        input: i32,
    ) -> RequestRecord {
        let dts: Vec<u32> = dts_ms.iter().map(|&d| (d * 1000.0) as u32).collect();
        RequestRecord {
            status,
            start_us: start_ms * 1000,
            end_us: dts.iter().map(|&d| u64::from(d)).sum::<u64>() + tail_ms * 1000,
            tokens: TokenColumns {
                token_ids: vec![0; dts.len()],
                text_len: vec![0; dts.len()],
                token_dt_us: dts,
                ..TokenColumns::default()
            },
            perf: (input > 0).then_some(PerfStat {
                prefill_tokens: input,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The fixture every peer test uses (times in ms, t0 = 0 for each request):
    /// - W warm-up: tokens at 30, 40; never counted.
    /// - A ok, 2 tokens at 100, 110 (gap 10); FINISH 5 ms later.
    /// - B ok, 4 tokens at 200, 220, 240, 261 (gaps 20, 20, 21); FINISH 9 ms later.
    /// - C ok, 6 tokens at 50, 90, 130, 170, 210, 250 (gaps 40 × 5); FINISH 2 ms later.
    /// - D timeout, 3 tokens at 80, 110, 140: a failed request for every peer.
    pub(crate) fn fixture() -> Vec<RequestRecord> {
        let mut w = req(Status::Ok, 0, &[30.0, 10.0], 10, 5);
        w.warmup = true;
        vec![
            w,
            req(Status::Ok, 100, &[100.0, 10.0], 5, 10),
            req(Status::Ok, 300, &[200.0, 20.0, 20.0, 21.0], 9, 20),
            req(
                Status::Ok,
                600,
                &[50.0, 40.0, 40.0, 40.0, 40.0, 40.0],
                2,
                30,
            ),
            req(Status::Timeout, 900, &[80.0, 30.0, 30.0], 860, 40),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{fixture, req};
    use super::*;

    fn row<'a>(m: &'a [PeerMetric], tool: &str, metric: &str) -> &'a PeerMetric {
        m.iter()
            .find(|x| x.tool == tool && x.metric == metric)
            .unwrap()
    }

    /// A row's mean, median, p99 and σ (`None`: σ not checked here), each within 5e-4.
    fn figures(t: &PeerMetric, mean: f64, median: f64, p99: f64, std: Option<f64>) {
        for (name, got, want) in [
            ("mean", t.mean, Some(mean)),
            ("median", t.median, Some(median)),
            ("p99", t.p99, Some(p99)),
            ("σ", t.std, std),
        ] {
            if let Some(want) = want {
                let g = got.unwrap_or_else(|| panic!("{} {}: no {name}", t.tool, t.metric));
                assert!(
                    (g - want).abs() < 5e-4,
                    "{} {} {name}: got {g}, want {want}",
                    t.tool,
                    t.metric
                );
            }
        }
    }

    fn close(got: Option<f64>, want: f64) {
        let g = got.expect("a value");
        assert!((g - want).abs() < 5e-4, "got {g}, want {want}");
    }

    #[test]
    fn vllm_ttft_tpot_itl_e2el() {
        let m = of(&fixture());
        // TTFT over A, B, C: 100, 200, 50 → mean 350/3 = 116.667; sorted 50, 100, 200:
        // median 100, p99 at h = 2·0.99 = 1.98 → 100 + 0.98·100 = 198.
        // Population σ: deviations −16.667, 83.333, −66.667 → (277.78 + 6944.44 + 4444.44)/3
        // = 3888.89 → 62.361.
        let t = row(&m, "vLLM", "TTFT");
        assert_eq!(t.n, 3);
        figures(t, 116.6667, 100.0, 198.0, Some(62.3610));
        // TPOT = (t_N − t_1)/(N − 1): A 10/1 = 10, B 61/3 = 20.3333, C 200/5 = 40.
        // mean 70.3333/3 = 23.4444; median 20.3333; p99 = 20.3333 + 0.98·19.6667 = 39.6067.
        // σ: deviations −13.4444, −3.1111, 16.5556 → (180.753 + 9.679 + 274.086)/3 = 154.840
        // → 12.4435.
        let t = row(&m, "vLLM", "TPOT");
        assert_eq!(t.n, 3);
        figures(t, 23.4444, 20.3333, 39.6067, Some(12.4435));
        // ITL pooled: 10; 20, 20, 21; 40 × 5 → 9 gaps, Σ 271 → mean 30.1111; sorted, the 5th
        // (index 4) is 40 → median 40; p99 at h = 8·0.99 = 7.92 between 40 and 40 → 40.
        // σ: (20.1111² + 2·10.1111² + 9.1111² + 5·9.8889²)/9 = (404.457 + 204.469 + 83.012
        // + 488.951)/9 = 131.210 → 11.4547.
        let t = row(&m, "vLLM", "ITL");
        assert_eq!(t.n, 9);
        figures(t, 30.1111, 40.0, 40.0, Some(11.4547));
        // E2EL ends at the last token, not FINISH: 110, 261, 250 → mean 621/3 = 207;
        // sorted 110, 250, 261: median 250, p99 = 250 + 0.98·11 = 260.78.
        // σ: deviations −97, 54, 43 → (9409 + 2916 + 1849)/3 = 4724.667 → 68.7362.
        let t = row(&m, "vLLM", "E2EL");
        figures(t, 207.0, 250.0, 260.78, Some(68.7362));
        assert_eq!(t.sigma, Sigma::Population);
    }

    #[test]
    fn guidellm_weights_tokens_and_takes_the_inverse_cdf() {
        let m = of(&fixture());
        // ITL values 10 (weight 1), 20.3333 (weight 3), 40 (weight 5); Σw = 9 tokens.
        // mean = (10·1 + 61 + 200)/9 = 271/9 = 30.1111 (an unweighted mean would be 23.4444).
        // cdf = 1/9, 4/9, 1: the first reaching 0.5 and 0.99 is 40 → median 40, p99 40.
        // σ² = (1·20.1111² + 3·9.7778² + 5·9.8889²)/9 = (404.457 + 286.815 + 488.951)/9
        // = 131.136 → σ = 11.4515.
        let t = row(&m, "guidellm", "ITL");
        assert_eq!(t.n, 9, "guidellm counts tokens (Σ weight), not requests");
        figures(t, 30.1111, 40.0, 40.0, Some(11.4515));
        // TPOT = t_N / N: A 110/2 = 55 (w 2), B 261/4 = 65.25 (w 4), C 250/6 = 41.6667 (w 6);
        // Σw = 12. mean = (110 + 261 + 250)/12 = 621/12 = 51.75.
        // Sorted 41.6667, 55, 65.25 with p = 0.5, 0.1667, 0.3333: cdf 0.5, 0.6667, 1 — the cdf
        // reaches 0.5 exactly at the first value → median 41.6667; p99 → 65.25.
        // σ² = (6·10.0833² + 2·3.25² + 4·13.5²)/12 = (610.042 + 21.125 + 729)/12 = 113.347
        // → σ = 10.6465.
        let t = row(&m, "guidellm", "TPOT");
        assert_eq!(t.n, 12);
        figures(t, 51.75, 41.6667, 65.25, Some(10.6465));
        assert_eq!(t.sigma, Sigma::WeightedPopulation);
    }

    #[test]
    fn guidellm_merges_equal_values() {
        // Two requests with the same ITL (10 ms, weights 1 and 1) and one of 30 ms (weight 1):
        // merged pdf 10 → 2/3, 30 → 1/3; median = 10, p99 = 30; mean = 50/3 = 16.6667;
        // σ² = (2/3)·6.6667² + (1/3)·13.3333² = 29.630 + 59.259 = 88.889 → 9.4281.
        let reqs = vec![
            req(Status::Ok, 0, &[5.0, 10.0], 0, 0),
            req(Status::Ok, 0, &[7.0, 10.0], 0, 0),
            req(Status::Ok, 0, &[9.0, 30.0], 0, 0),
        ];
        let m = of(&reqs);
        let t = row(&m, "guidellm", "ITL");
        assert_eq!(t.n, 3);
        figures(t, 16.6667, 10.0, 30.0, Some(9.4281));
    }

    #[test]
    fn genai_perf_rounds_ns_half_to_even() {
        let m = of(&fixture());
        // ITL = round((t_N − t_1) ns / (N − 1)): A 10 000 000, B 61 000 000/3 = 20 333 333.3
        // → 20 333 333, C 40 000 000. mean = 70 333 333/3 = 23 444 444.33 ns = 23.4444 ms;
        // median 20.3333; p99 = 20.333333 + 0.98·19.666667 = 39.606667.
        let t = row(&m, "genai-perf", "ITL");
        figures(t, 23.4444, 20.3333, 39.6067, None);
        // TTST = t_2 − t_1: 10, 20, 40 → mean 23.3333, median 20, population σ
        // √((177.778 + 11.111 + 277.778)/3) = √155.556 = 12.4722.
        let t = row(&m, "genai-perf", "TTST");
        close(t.mean, 23.3333);
        close(t.median, 20.0);
        close(t.std, 12.4722);
        assert_eq!(round_half_even(5, 2), 2);
        assert_eq!(round_half_even(7, 2), 4);
        assert_eq!(round_half_even(61_000_000, 3), 20_333_333);
        assert_eq!(round_half_even(20, 3), 7);
    }

    #[test]
    fn llmperf_divides_t_n_not_t_end() {
        let m = of(&fixture());
        // (t_N − t0)/N: A 110/2 = 55, B 261/4 = 65.25, C 250/6 = 41.6667 (t_end would give
        // 115/2, 270/4, 252/6). mean = 161.9167/3 = 53.9722; sorted 41.6667, 55, 65.25:
        // median 55, p99 = 55 + 0.98·10.25 = 65.045.
        // Sample σ: deviations 1.0278, 11.2778, −12.3056 → (1.0563 + 127.1887 + 151.4267)/2
        // = 139.8361 → 11.8252.
        let t = row(&m, "llmperf", "ITL");
        assert_eq!(t.n, 3);
        figures(t, 53.9722, 55.0, 65.045, Some(11.8252));
        assert_eq!(t.sigma, Sigma::Sample);
    }

    #[test]
    fn mlperf_integer_ns_nearest_rank_no_sigma() {
        let m = of(&fixture());
        // TPOT ns: A 10 000 000, B 61 000 000 / 3 = 20 333 333 (truncated), C 40 000 000.
        // mean = 70 333 333 / 3 = 23 444 444 (integer division) = 23.444444 ms.
        // sorted[⌊3·0.5⌋] = sorted[1] = 20.333333; sorted[⌊3·0.99⌋] = sorted[2] = 40.
        let t = row(&m, "MLPerf", "TPOT");
        assert_eq!(t.mean, Some(23_444_444.0 * 1e-6));
        assert_eq!(t.median, Some(20_333_333.0 * 1e-6));
        assert_eq!(t.p99, Some(40.0));
        assert_eq!((t.std, t.sigma), (None, Sigma::NotComputed));
    }

    #[test]
    fn llama_bench_mean_and_sample_sigma_zero_for_one() {
        let m = of(&fixture());
        // Rates (N − 1)/(t_N − t_1): A 1/0.010 = 100, B 3/0.061 = 49.1803, C 5/0.200 = 25.
        // mean = 174.1803/3 = 58.0601; sample σ: deviations 41.9399, −8.8798, −33.0601 →
        // (1758.955 + 78.851 + 1092.970)/2 = 1465.388 → 38.2804. No percentiles.
        let t = row(&m, "llama-bench", "tg t/s");
        close(t.mean, 58.0601);
        close(t.std, 38.2804);
        assert_eq!((t.median, t.p99), (None, None));
        // One repetition: σ = 0, as llama-bench prints it.
        let one = of(&[req(Status::Ok, 0, &[100.0, 10.0], 1, 0)]);
        assert_eq!(row(&one, "llama-bench", "tg t/s").std, Some(0.0));
        close(row(&one, "llama-bench", "tg t/s").mean, 100.0);
    }

    #[test]
    fn one_statistic_over_one_population_prints_the_same_digits() {
        // Without warm-up or partial requests, the summary's TTFT and pooled ITL are taken over
        // vLLM's populations, so they must be the same numbers (odd µs: medians fall on .5 µs).
        let mut reqs: Vec<RequestRecord> = fixture()
            .into_iter()
            .filter(|r| !r.warmup && r.status == Status::Ok)
            .collect();
        reqs[0].tokens.token_dt_us = vec![1_234_567, 10_001];
        reqs[1].tokens.token_dt_us[0] = 2_345_678;
        let s = crate::stats::Summary::of_requests(&reqs, None);
        let m = of(&reqs);
        for (peer, agg) in [("TTFT", s.ttft_ms.unwrap()), ("ITL", s.itl_ms.unwrap())] {
            let p = row(&m, "vLLM", peer);
            assert_eq!(p.n, agg.n, "{peer}");
            assert_eq!(
                (p.mean, p.median, p.p99),
                (Some(agg.mean), Some(agg.median), Some(agg.p99)),
                "{peer}"
            );
        }
    }

    #[test]
    fn empty_and_single_token() {
        for m in of(&[]) {
            assert_eq!((m.n, m.mean), (0, None));
        }
        let m = of(&[req(Status::Ok, 0, &[5.0], 1, 0)]);
        assert_eq!(row(&m, "vLLM", "TPOT").n, 0, "n = 1 has no TPOT");
        assert_eq!(row(&m, "vLLM", "TTFT").n, 1);
        assert_eq!(row(&m, "guidellm", "ITL").n, 0, "weight n − 1 = 0 drops it");
        assert_eq!(
            row(&m, "llmperf", "ITL").std,
            None,
            "pandas: σ of one value is NaN"
        );
        // A successful request without tokens: llmperf's ITL is 0; vLLM counts it as failed.
        let z = of(&[req(Status::Ok, 0, &[], 1, 0)]);
        assert_eq!(row(&z, "llmperf", "ITL").mean, Some(0.0));
        assert_eq!(row(&z, "vLLM", "TTFT").n, 0);
    }
}
