//! Is a candidate run different from a baseline, and by how much? A ratio with a bootstrap
//! confidence interval and a permutation test, over requests grouped by test id.
//!
//! **Estimate.** Requests are paired by test id (a *stratum*). In each stratum the figure of a
//! side is the median of its requests (repeats are used; on a busy machine one repetition in a
//! few is slowed down by others' work, and the median ignores it where a mean would not), and the
//! stratum's ratio is candidate median / baseline median. The overall ratio is the geometric
//! mean of the strata's ratios, so every test weighs the same whatever its scale (a 40-token
//! prompt and a 4,000-token one), and a ratio and its inverse are symmetric (1.1× slower ↔
//! 1/1.1× faster). With one stratum it is that test's ratio.
//!
//! **Interval.** A 95 % percentile bootstrap with [`RESAMPLES`] resamples, two-stage: first the
//! tests, with replacement (the ratio's spread across prompts), then within each drawn test each
//! side's requests, with replacement (the spread of repetitions). With one test only the second
//! stage varies, and it needs ≥ 2 requests on each side; with ≥ 2 tests a single request per side
//! and test is enough. Otherwise there is no interval.
//!
//! **Significance.** A two-sided permutation test of "no difference" that keeps the pairing:
//! labels (baseline/candidate) are exchanged only within a test, and the statistic is the log of
//! the overall ratio (the statistic of the estimate itself). When all relabellings number at most [`RESAMPLES`] they are enumerated
//! (exact p); otherwise [`RESAMPLES`] random ones are drawn and p = (1 + hits) / (1 + draws)
//! (Phipson & Smyth, 2010, so p is never 0). Significant means p < [`ALPHA`].
//!
//! Everything is driven by one small seeded generator ([`SplitMix64`]) with a fixed seed, so the
//! same inputs always give the same interval and p, byte for byte; each comparison starts from
//! the seed afresh, so adding a candidate or a metric does not change another row's figures.
use super::aggregate::percentile;
use super::request::RequestMetrics;
use crate::trace::Status;

/// Bootstrap resamples and the permutation budget.
pub const RESAMPLES: usize = 10_000;
/// Significance level of the permutation test; the interval is the matching 95 %.
pub const ALPHA: f64 = 0.05;
/// The seed of every comparison ("rkbench" in ASCII).
pub const SEED: u64 = 0x0072_6b62_656e_6368;

/// SplitMix64 (Steele, Lea & Flood, 2014): tiny, fast, and fully specified, so a resample is the
/// same on every machine and in every release.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`) by multiply-shift (Lemire); the bias is below n / 2⁶⁴.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// One test's figures on each side (positive, finite values).
#[derive(Debug, Clone, PartialEq)]
pub struct Stratum {
    pub base: Vec<f64>,
    pub cand: Vec<f64>,
}

/// The outcome of comparing a candidate with a baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Candidate / baseline: geometric mean over tests of the ratio of medians.
    pub ratio: f64,
    /// 95 % bootstrap interval of `ratio`; `None` when the data cannot vary (see the module doc).
    pub ci: Option<(f64, f64)>,
    /// Two-sided permutation p-value.
    pub p_value: f64,
    /// Whether the p-value came from enumerating every relabelling.
    pub exact: bool,
    /// Tests compared, and requests on each side.
    pub tests: usize,
    pub n_base: usize,
    pub n_cand: usize,
}

impl Estimate {
    pub fn significant(&self) -> bool {
        self.p_value < ALPHA
    }
}

fn median_in_place(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    percentile(v, 50.0)
}

fn median(v: &[f64]) -> f64 {
    median_in_place(&mut v.to_vec())
}

/// ln(median of the candidate's values / median of the baseline's).
fn log_ratio(s: &Stratum) -> f64 {
    median(&s.cand).ln() - median(&s.base).ln()
}

/// Compare; `None` when no test has a figure on both sides. Strata with an empty side and values
/// that are not positive and finite are left out (a ratio needs both).
pub fn compare(strata: &[Stratum], seed: u64) -> Option<Estimate> {
    let clean = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .copied()
            .filter(|x| x.is_finite() && *x > 0.0)
            .collect()
    };
    let strata: Vec<Stratum> = strata
        .iter()
        .map(|s| Stratum {
            base: clean(&s.base),
            cand: clean(&s.cand),
        })
        .filter(|s| !s.base.is_empty() && !s.cand.is_empty())
        .collect();
    if strata.is_empty() {
        return None;
    }
    let observed = strata.iter().map(log_ratio).sum::<f64>() / strata.len() as f64;
    let (p_value, exact) = permutation_p(&strata, observed, seed);
    Some(Estimate {
        ratio: observed.exp(),
        ci: bootstrap_ci(&strata, seed),
        p_value,
        exact,
        tests: strata.len(),
        n_base: strata.iter().map(|s| s.base.len()).sum(),
        n_cand: strata.iter().map(|s| s.cand.len()).sum(),
    })
}

/// The two-stage percentile bootstrap of the ratio (module doc).
fn bootstrap_ci(strata: &[Stratum], seed: u64) -> Option<(f64, f64)> {
    let k = strata.len();
    if k < 2 && strata.iter().any(|s| s.base.len() < 2 || s.cand.len() < 2) {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut buf = Vec::new();
    let mut draw_median = |rng: &mut SplitMix64, v: &[f64]| {
        buf.clear();
        buf.extend((0..v.len()).map(|_| v[rng.below(v.len())]));
        median_in_place(&mut buf)
    };
    let mut stats: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let mut sum = 0.0;
            for _ in 0..k {
                let s = &strata[if k == 1 { 0 } else { rng.below(k) }];
                let b = draw_median(&mut rng, &s.base);
                sum += draw_median(&mut rng, &s.cand).ln() - b.ln();
            }
            sum / k as f64
        })
        .collect();
    stats.sort_unstable_by(f64::total_cmp);
    let lo = percentile(&stats, 100.0 * ALPHA / 2.0).exp();
    let hi = percentile(&stats, 100.0 * (1.0 - ALPHA / 2.0)).exp();
    Some((lo, hi))
}

/// Binomial coefficient, saturating (only compared against the budget).
fn choose(n: usize, k: usize) -> u64 {
    let k = k.min(n - k);
    let mut c: u64 = 1;
    for i in 0..k {
        c = c.saturating_mul((n - i) as u64) / (i as u64 + 1);
        if c > u64::from(u32::MAX) {
            return u64::MAX;
        }
    }
    c
}

/// Every way to pick `1 ≤ k ≤ n ≤ 24` of `n` positions, as bit masks in increasing order
/// (Gosper's hack: the next larger integer with the same number of set bits).
fn combinations(n: usize, k: usize) -> Vec<u32> {
    let mut v = Vec::new();
    let mut m: u32 = (1 << k) - 1;
    while m < 1 << n {
        v.push(m);
        let low = m & m.wrapping_neg();
        let r = m + low;
        m = (((r ^ m) >> 2) / low) | r;
    }
    v
}

/// The permutation test's p-value and whether it is exact (module doc).
fn permutation_p(strata: &[Stratum], observed: f64, seed: u64) -> (f64, bool) {
    let k = strata.len() as f64;
    // Relabellings that tie with the observed statistic up to rounding count as extreme.
    let extreme = |t: f64| t.abs() >= observed.abs() * (1.0 - 1e-9) - 1e-12;
    let pooled: Vec<Vec<f64>> = strata
        .iter()
        .map(|s| s.base.iter().chain(&s.cand).copied().collect())
        .collect();
    let (mut b, mut c) = (Vec::new(), Vec::new());
    // The stratum's log ratio when the pooled values at `is_base` positions are the baseline.
    let mut term = |pool: &[f64], is_base: &dyn Fn(usize) -> bool| {
        b.clear();
        c.clear();
        for (i, &x) in pool.iter().enumerate() {
            if is_base(i) {
                b.push(x);
            } else {
                c.push(x);
            }
        }
        median_in_place(&mut c).ln() - median_in_place(&mut b).ln()
    };
    let mut total: u64 = 1;
    for s in strata {
        let n = s.base.len() + s.cand.len();
        total = if n > 24 {
            u64::MAX
        } else {
            total.saturating_mul(choose(n, s.base.len()))
        };
    }
    if total <= RESAMPLES as u64 {
        // Exact: a mixed-radix counter over each stratum's list of baseline label sets, with
        // each stratum's term per label set computed once.
        let mut terms: Vec<Vec<f64>> = Vec::new();
        for (s, pool) in strata.iter().zip(&pooled) {
            let masks = combinations(pool.len(), s.base.len());
            terms.push(
                masks
                    .into_iter()
                    .map(|m| term(pool, &|i| m >> i & 1 == 1))
                    .collect(),
            );
        }
        let mut idx = vec![0usize; strata.len()];
        let mut hits = 0u64;
        loop {
            let t = idx.iter().zip(&terms).map(|(&i, t)| t[i]).sum::<f64>() / k;
            hits += u64::from(extreme(t));
            let mut d = 0;
            loop {
                if d == idx.len() {
                    return (hits as f64 / total as f64, true);
                }
                idx[d] += 1;
                if idx[d] < terms[d].len() {
                    break;
                }
                idx[d] = 0;
                d += 1;
            }
        }
    }
    let mut rng = SplitMix64::new(seed ^ 0x7065_726d); // "perm": a stream apart from the bootstrap's
    let (mut order, mut is_base) = (Vec::new(), Vec::new());
    let mut hits = 0u64;
    for _ in 0..RESAMPLES {
        let mut t = 0.0;
        for (s, pool) in strata.iter().zip(&pooled) {
            // Partial Fisher–Yates: the first |base| positions of a random order are "baseline".
            order.clear();
            order.extend(0..pool.len());
            is_base.clear();
            is_base.resize(pool.len(), false);
            for i in 0..s.base.len() {
                let j = i + rng.below(pool.len() - i);
                order.swap(i, j);
                is_base[order[i]] = true;
            }
            t += term(pool, &|i| is_base[i]);
        }
        hits += u64::from(extreme(t / k));
    }
    ((1 + hits) as f64 / (1 + RESAMPLES) as f64, false)
}

/// A per-request figure `compare` judges, and which direction is slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Decode,
    Prefill,
    Ttft,
    E2e,
    Itl,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 5] = [
        Metric::Decode,
        Metric::Prefill,
        Metric::Ttft,
        Metric::E2e,
        Metric::Itl,
    ];

    /// The name used by `--metric`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Decode => "decode",
            Metric::Prefill => "prefill",
            Metric::Ttft => "ttft",
            Metric::E2e => "e2e",
            Metric::Itl => "itl",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::Decode => "Decode rate",
            Metric::Prefill => "Prefill rate",
            Metric::Ttft => "TTFT",
            Metric::E2e => "E2E latency",
            Metric::Itl => "ITL p50",
        }
    }

    pub fn unit(self) -> &'static str {
        if self.is_rate() {
            "tok/s"
        } else {
            "ms"
        }
    }

    /// Rates (larger is faster) as opposed to times (smaller is faster).
    pub fn is_rate(self) -> bool {
        matches!(self, Metric::Decode | Metric::Prefill)
    }

    /// The request's figure (successful measured requests only; see [`strata`]).
    pub fn value(self, m: &RequestMetrics) -> Option<f64> {
        match self {
            Metric::Decode => m.decode_tok_s,
            Metric::Prefill => m.prefill_tok_s,
            Metric::Ttft => m.ttft_ms,
            Metric::E2e => Some(m.e2e_ms),
            Metric::Itl => m.itl.map(|i| i.p50),
        }
    }

    pub fn parse(s: &str) -> Result<Metric, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.key() == s.trim())
            .ok_or_else(|| {
                format!("unknown metric {s:?}; use decode, prefill, ttft, e2e or itl (comma-separated for several)")
            })
    }

    /// Time-per-work ratio − 1 for a value ratio candidate/baseline: +0.1 means the candidate
    /// takes 10 % longer (a rate 1/1.1 of the baseline's, or a latency 1.1×).
    pub fn slowdown(self, ratio: f64) -> f64 {
        if self.is_rate() {
            1.0 / ratio - 1.0
        } else {
            ratio - 1.0
        }
    }
}

/// A candidate against the baseline on one metric (over all tests, or one test).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub estimate: Estimate,
    /// Candidate time per unit of work / baseline's − 1: positive is slower (see
    /// [`Metric::slowdown`]).
    pub slowdown: f64,
    /// The 95 % interval of `slowdown`.
    pub slowdown_ci: Option<(f64, f64)>,
}

impl Change {
    fn of(metric: Metric, e: Estimate) -> Change {
        let ci = e.ci.map(|(lo, hi)| {
            let (a, b) = (metric.slowdown(lo), metric.slowdown(hi));
            (a.min(b), a.max(b))
        });
        Change {
            estimate: e,
            slowdown: metric.slowdown(e.ratio),
            slowdown_ci: ci,
        }
    }

    pub fn significant(&self) -> bool {
        self.estimate.significant()
    }
}

/// One metric compared: over all tests, and test by test.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    pub metric: Metric,
    pub overall: Option<Change>,
    /// Every test id of the baseline (in run order), then the candidate's other ids.
    pub per_test: Vec<(String, Option<Change>)>,
}

/// Each test id's figures on both sides, ids in baseline run order then the candidate's others.
/// Only measured (not warm-up), successful requests count.
pub fn strata(
    base: &[RequestMetrics],
    cand: &[RequestMetrics],
    metric: Metric,
) -> Vec<(String, Stratum)> {
    let mut out: Vec<(String, Stratum)> = Vec::new();
    for (side, run) in [(0, base), (1, cand)] {
        for m in run.iter().filter(|m| !m.warmup && m.status == Status::Ok) {
            let i = match out.iter().position(|(id, _)| *id == m.id) {
                Some(i) => i,
                None => {
                    out.push((
                        m.id.clone(),
                        Stratum {
                            base: Vec::new(),
                            cand: Vec::new(),
                        },
                    ));
                    out.len() - 1
                }
            };
            if let Some(v) = metric.value(m) {
                let s = &mut out[i].1;
                if side == 0 { &mut s.base } else { &mut s.cand }.push(v);
            }
        }
    }
    out
}

/// Compare a candidate's requests with the baseline's on every metric.
pub fn compare_runs(base: &[RequestMetrics], cand: &[RequestMetrics]) -> Vec<MetricChange> {
    Metric::ALL
        .into_iter()
        .map(|metric| {
            let st = strata(base, cand, metric);
            let all: Vec<Stratum> = st.iter().map(|(_, s)| s.clone()).collect();
            MetricChange {
                metric,
                overall: compare(&all, SEED).map(|e| Change::of(metric, e)),
                per_test: st
                    .into_iter()
                    .map(|(id, s)| (id, compare(&[s], SEED).map(|e| Change::of(metric, e))))
                    .collect(),
            }
        })
        .collect()
}

fn not_a_percentage(s: &str) -> String {
    format!(
        "{s:?} is not a percentage; use e.g. 5% (fail when the candidate is significantly more than 5 % slower)"
    )
}

/// The regression gate of `compare --fail-if-slower`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// Slowdown allowed, as a fraction (0.05 for `5%`).
    pub threshold: f64,
    pub metrics: Vec<Metric>,
}

impl Gate {
    /// Parse `5%`; 0 ≤ threshold < 1000 %. The unit is required: a bare `0.05` reads as a
    /// fraction (5 %) to some and as a percentage (0.05 %) to others, and a CI gate must not
    /// guess — one retry costs less than a gate 100 times too strict or too lax.
    pub fn parse_threshold(s: &str) -> Result<f64, String> {
        let t = s.trim();
        let Some(n) = t.strip_suffix('%').map(str::trim) else {
            if t.parse::<f64>().is_ok() {
                return Err(format!(
                    "{s:?} has no unit; write the percentage with %, e.g. 5% for a 5 % slowdown (a bare number could mean a fraction or a percentage)"
                ));
            }
            return Err(not_a_percentage(s));
        };
        match n.parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..1000.0).contains(&v) => Ok(v / 100.0),
            _ => Err(not_a_percentage(s)),
        }
    }

    /// A change fails the gate when it is significant and its slowdown exceeds the threshold.
    pub fn fails(&self, c: &Change) -> bool {
        c.significant() && c.slowdown > self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(base: &[f64], cand: &[f64]) -> Stratum {
        Stratum {
            base: base.to_vec(),
            cand: cand.to_vec(),
        }
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // SplitMix64 seeded with 1234567, as an independent Python transcription of Vigna's
        // splitmix64.c gives.
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
        let mut r = SplitMix64::new(9);
        for n in [1usize, 2, 3, 7, 1000] {
            assert!((0..1000).all(|_| r.below(n) < n));
        }
    }

    #[test]
    fn exact_permutation_p_hand_worked() {
        // One test, 3 vs 3, fully separated: medians 2 and 5. Of the C(6,3) = 20 relabellings,
        // baseline {1,2,3} and {1,2,4} both give medians 2 and 5 (ratio 2.5, the largest), and
        // their mirror images (labels swapped) 1/2.5 → p = 4/20.
        let e = compare(&[s(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0])], SEED).unwrap();
        assert!(e.exact);
        assert!((e.p_value - 0.2).abs() < 1e-12, "{}", e.p_value);
        assert!((e.ratio - 2.5).abs() < 1e-12);
        assert!(!e.significant());
        // 2 vs 2 (the median of two is their mean): C(4,2) = 6 relabellings, only {1,2}|{3,4}
        // and its mirror give |ln(3.5/1.5)| → 2/6.
        let e = compare(&[s(&[1.0, 2.0], &[3.0, 4.0])], SEED).unwrap();
        assert!((e.p_value - 2.0 / 6.0).abs() < 1e-12);
        // 5 vs 5 separated (medians 12 and 22): the ratio stays 22/12 whenever the baseline keeps
        // 10, 11, 12 and the candidate 22, 23, 24 (the other two may swap), 6 ways, and as many
        // mirrored → 12 / C(10,5) = 12/252 < 0.05.
        let e = compare(
            &[s(
                &[10.0, 11.0, 12.0, 13.0, 14.0],
                &[20.0, 21.0, 22.0, 23.0, 24.0],
            )],
            SEED,
        )
        .unwrap();
        assert!((e.p_value - 12.0 / 252.0).abs() < 1e-12);
        assert!(e.significant());
    }

    #[test]
    fn stratified_permutation_keeps_the_pairing() {
        // Three tests at very different scales, one request per side, each 10 % slower. Labels
        // swap only within a test: 2³ = 8 relabellings; the observed and its mirror are the
        // extremes → p = 2/8. Pooled across tests without strata this would look like noise.
        let st = [
            s(&[10.0], &[11.0]),
            s(&[100.0], &[110.0]),
            s(&[1000.0], &[1100.0]),
        ];
        let e = compare(&st, SEED).unwrap();
        assert!(e.exact);
        assert!((e.p_value - 0.25).abs() < 1e-12, "{}", e.p_value);
        assert!((e.ratio - 1.1).abs() < 1e-12);
        // Ten such tests: 2 / 2¹⁰.
        let st: Vec<Stratum> = (1..=10)
            .map(|i| s(&[f64::from(i)], &[1.1 * f64::from(i)]))
            .collect();
        let e = compare(&st, SEED).unwrap();
        assert!((e.p_value - 2.0 / 1024.0).abs() < 1e-12);
        assert!(e.significant());
        // Every test has the same ratio, so every bootstrap resample has it too.
        let (lo, hi) = e.ci.unwrap();
        assert!((lo - 1.1).abs() < 1e-9 && (hi - 1.1).abs() < 1e-9);
    }

    #[test]
    fn identical_runs_are_not_significant() {
        let v = [5.0, 5.1, 4.9, 5.05, 4.95];
        let e = compare(&[s(&v, &v), s(&v, &v)], SEED).unwrap();
        assert_eq!(e.ratio, 1.0);
        assert!(!e.significant());
        assert!(e.p_value > 0.5);
        let (lo, hi) = e.ci.unwrap();
        assert!(lo <= 1.0 && hi >= 1.0);
    }

    #[test]
    fn monte_carlo_when_relabellings_exceed_the_budget() {
        // 12 vs 12 in one test: C(24,12) ≈ 2.7 M relabellings → random ones; the runs differ by
        // 10 % with ±1 % noise, so p is the smallest possible: 1 / (1 + RESAMPLES).
        let mut r = SplitMix64::new(5);
        let mut noisy = |m: f64| -> Vec<f64> {
            (0..12)
                .map(|_| m * (1.0 + 0.01 * ((r.below(2001) as f64 - 1000.0) / 1000.0)))
                .collect()
        };
        let (b, c) = (noisy(10.0), noisy(11.0));
        let e = compare(&[s(&b, &c)], SEED).unwrap();
        assert!(!e.exact);
        assert_eq!(e.p_value, 1.0 / (1.0 + RESAMPLES as f64));
        let (lo, hi) = e.ci.unwrap();
        assert!(lo < e.ratio && e.ratio < hi);
        assert!(lo > 1.07 && hi < 1.13, "[{lo}, {hi}]");
        // Deterministic: the same inputs give the same figures.
        assert_eq!(compare(&[s(&b, &c)], SEED), Some(e));
    }

    #[test]
    fn bootstrap_interval_hand_checked_two_tests() {
        // Two tests, one request per side, ratios 1.0 and 1.21. A resample draws each test with
        // probability ½ per slot: the statistic is exp(mean of 2 logs) ∈ {1.0, 1.1, 1.21} with
        // probabilities ¼, ½, ¼, so the 2.5th and 97.5th percentiles are 1.0 and 1.21.
        let e = compare(&[s(&[1.0], &[1.0]), s(&[1.0], &[1.21])], SEED).unwrap();
        assert!((e.ratio - 1.1).abs() < 1e-12);
        let (lo, hi) = e.ci.unwrap();
        assert!(
            (lo - 1.0).abs() < 1e-12 && (hi - 1.21).abs() < 1e-12,
            "[{lo}, {hi}]"
        );
    }

    #[test]
    fn too_little_data_has_no_interval() {
        let e = compare(&[s(&[1.0], &[2.0])], SEED).unwrap();
        assert_eq!(e.ci, None);
        assert_eq!(e.p_value, 1.0); // 2 relabellings, both as extreme
        assert!(compare(&[s(&[], &[2.0])], SEED).is_none());
        assert!(compare(&[s(&[0.0, f64::NAN], &[2.0])], SEED).is_none());
        assert!(compare(&[], SEED).is_none());
        assert_eq!(choose(24, 12), 2_704_156);
        assert_eq!(combinations(4, 2).len(), 6);
    }

    #[test]
    fn exact_p_matches_an_independent_brute_force() {
        // Two tests of unequal sizes: C(7,3)·C(5,2) = 350 relabellings, 18 as extreme as the
        // observed (counted with itertools and statistics.median in Python from the definition).
        let st = [
            s(&[3.1, 2.9, 3.3], &[3.0, 3.4, 3.6, 3.5]),
            s(&[10.0, 12.0], &[11.5, 12.5, 13.0]),
        ];
        let e = compare(&st, SEED).unwrap();
        assert!(e.exact);
        assert!((e.p_value - 18.0 / 350.0).abs() < 1e-12, "{}", e.p_value);
        assert!((e.ratio - 1.124_572_254_947_738_2).abs() < 1e-12);
        assert_eq!((e.tests, e.n_base, e.n_cand), (2, 5, 7));
    }

    fn req(id: &str, decode: f64, ttft: f64, ok: bool, warmup: bool) -> RequestMetrics {
        RequestMetrics {
            index: 0,
            id: id.into(),
            name: id.into(),
            category: String::new(),
            status: if ok { Status::Ok } else { Status::Timeout },
            warmup,
            input_tokens: None,
            output_tokens: 10,
            ttft_ms: Some(ttft),
            e2e_ms: ttft + 1000.0,
            prefill_tok_s: None,
            decode_tok_s: Some(decode),
            decode_tok_s_median_gap: None,
            generation_speed_tok_s: None,
            itl: None,
            stalls: 0,
            context_slope_ms_per_1k: None,
            runtime: None,
            token_count_mismatch: false,
            think: None,
            hit_cap: false,
        }
    }

    #[test]
    fn strata_pair_by_test_id_and_skip_warmup_and_failures() {
        let base = [
            req("a", 10.0, 100.0, true, true), // warm-up: not counted
            req("a", 10.0, 100.0, true, false),
            req("b", 20.0, 100.0, true, false),
            req("a", 11.0, 100.0, true, false),
            req("only-base", 5.0, 100.0, true, false),
        ];
        let cand = [
            req("b", 18.0, 110.0, true, false),
            req("a", 9.0, 110.0, false, false), // timed out: not counted
            req("a", 9.5, 110.0, true, false),
            req("only-cand", 5.0, 100.0, true, false),
        ];
        let st = strata(&base, &cand, Metric::Decode);
        let ids: Vec<&str> = st.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, ["a", "b", "only-base", "only-cand"]);
        assert_eq!(st[0].1, s(&[10.0, 11.0], &[9.5]));
        assert_eq!(st[1].1, s(&[20.0], &[18.0]));
        let changes = compare_runs(&base, &cand);
        let decode = &changes[0];
        assert_eq!(decode.metric, Metric::Decode);
        let o = decode.overall.unwrap();
        assert_eq!(o.estimate.tests, 2); // the unmatched ids do not count
                                         // Rates: slowdown = baseline/candidate − 1 (the time per token grew).
        let expect = (10.5f64 / 9.5 * 20.0 / 18.0).sqrt() - 1.0; // medians 10.5 and 9.5
        assert!((o.slowdown - expect).abs() < 1e-12);
        assert!(decode.per_test[2].1.is_none());
        // Times: slowdown = candidate/baseline − 1.
        let ttft = changes.iter().find(|c| c.metric == Metric::Ttft).unwrap();
        assert!((ttft.overall.unwrap().slowdown - 0.1).abs() < 1e-12);
    }

    #[test]
    fn gate_threshold_needs_its_unit() {
        // #21 G15: a bare 0.05 was read as 0.05 %, not the 5 % a fraction would mean.
        for bare in ["0.05", "5", " 12.5 ", "0"] {
            let e = Gate::parse_threshold(bare).unwrap_err();
            assert!(
                e.contains("has no unit") && e.contains("e.g. 5%"),
                "{bare}: {e}"
            );
        }
        assert_eq!(Gate::parse_threshold("0.05%"), Ok(0.0005));
        assert_eq!(Gate::parse_threshold("0%"), Ok(0.0));
    }

    #[test]
    fn gate_needs_significance_and_size() {
        assert_eq!(Gate::parse_threshold("5%"), Ok(0.05));
        assert_eq!(Gate::parse_threshold(" 12.5 % "), Ok(0.125));
        assert!(Gate::parse_threshold("-1%").is_err());
        assert!(Gate::parse_threshold("fast").is_err());
        assert_eq!(Metric::parse("ttft"), Ok(Metric::Ttft));
        assert!(Metric::parse("speed").is_err());
        let g = Gate {
            threshold: 0.05,
            metrics: vec![Metric::Decode],
        };
        let change = |slowdown: f64, p_value: f64| Change {
            estimate: Estimate {
                ratio: 1.0,
                ci: None,
                p_value,
                exact: true,
                tests: 1,
                n_base: 1,
                n_cand: 1,
            },
            slowdown,
            slowdown_ci: None,
        };
        assert!(g.fails(&change(0.10, 0.001)));
        assert!(!g.fails(&change(0.10, 0.2))); // not significant
        assert!(!g.fails(&change(0.03, 0.001))); // significant but within the threshold
        assert!(!g.fails(&change(-0.10, 0.001))); // faster
                                                  // A rate 1/1.1 of the baseline's is 10 % slower; a latency 1.1× too.
        assert!((Metric::Decode.slowdown(1.0 / 1.1) - 0.1).abs() < 1e-12);
        assert!((Metric::Ttft.slowdown(1.1) - 0.1).abs() < 1e-12);
    }
}
