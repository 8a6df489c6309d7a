//! Summary statistics over a sample, with one documented percentile method.
//!
//! Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the default
//! of numpy and R): for sorted x[0..n], p in [0,100], h = (n−1)·p/100, the result is
//! x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). `nearest_rank` (MLPerf's method) is also provided.

/// Percentile of an ascending-sorted, non-empty slice (type 7).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    if sorted.len() == 1 {
        return sorted[0];
    }
    let h = (sorted.len() - 1) as f64 * (p / 100.0).clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// MLPerf LoadGen's percentile: the sorted value at index ⌊n·p⌋ (no interpolation), clamped
/// to the last element.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let idx = ((p / 100.0) * sorted.len() as f64).floor() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Sort a sample of finite values (NaNs are dropped).
pub fn sorted(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Type-7 percentiles of integer samples by selection (no sort), reordering `buf`. `ps` must be
/// ascending: each selection then only searches the part above the previous one. Gives exactly
/// what [`percentile`] gives on the sorted values. `buf` must be non-empty.
pub fn percentiles_u32(buf: &mut [u32], ps: &[f64]) -> Vec<f64> {
    let n = buf.len();
    let mut base = 0; // every element below `base` is ≤ every element at or above it
    ps.iter()
        .map(|&p| {
            if n == 1 {
                return f64::from(buf[0]);
            }
            let h = (n - 1) as f64 * (p / 100.0).clamp(0.0, 1.0);
            let lo = (h.floor() as usize).max(base);
            let (_, &mut x_lo, upper) = buf[base..].select_nth_unstable(lo - base);
            let x_hi = upper.iter().copied().min().unwrap_or(x_lo);
            base = lo;
            f64::from(x_lo) + (h - h.floor()) * (f64::from(x_hi) - f64::from(x_lo))
        })
        .collect()
}

/// An [`Aggregate`] of integer samples (e.g. µs deltas) without sorting, scaled by `scale`.
pub fn aggregate_u32(buf: &mut [u32], scale: f64) -> Option<Aggregate> {
    let n = buf.len();
    if n == 0 {
        return None;
    }
    // One pass, exact integer sums (u128 cannot overflow for any realistic n).
    let (mut sum, mut sq, mut min, mut max) = (0u64, 0u128, u32::MAX, 0u32);
    for &x in buf.iter() {
        sum += u64::from(x);
        sq += u128::from(x) * u128::from(x);
        min = min.min(x);
        max = max.max(x);
    }
    let mean = sum as f64 / n as f64;
    let stddev = if n > 1 {
        // Σ(x − mean)² = (nΣx² − (Σx)²)/n, exact before the divisions.
        let ss = sq * n as u128 - u128::from(sum) * u128::from(sum);
        (ss as f64 / n as f64 / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let p = percentiles_u32(buf, &[50.0, 90.0, 99.0]);
    Some(Aggregate {
        n,
        mean: mean * scale,
        median: p[0] * scale,
        min: f64::from(min) * scale,
        max: f64::from(max) * scale,
        stddev: stddev * scale,
        p90: p[1] * scale,
        p99: p[2] * scale,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation (n − 1); 0 for n = 1.
    pub stddev: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Aggregate {
    /// `None` for an empty sample.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Aggregate> {
        let s = sorted(values);
        Self::of_sorted(&s)
    }

    /// An aggregate of integer microseconds, in ms: every statistic is computed on the µs values
    /// and converted once, so it prints the same digits as any other statistic computed that way
    /// over the same population (the peer rows, `aggregate_u32`).
    pub fn of_us(values: impl IntoIterator<Item = u64>) -> Option<Aggregate> {
        let a = Self::of(values.into_iter().map(|v| v as f64))?;
        let ms = |x: f64| x * 1e-3;
        Some(Aggregate {
            n: a.n,
            mean: ms(a.mean),
            median: ms(a.median),
            min: ms(a.min),
            max: ms(a.max),
            stddev: ms(a.stddev),
            p90: ms(a.p90),
            p99: ms(a.p99),
        })
    }

    pub fn of_sorted(s: &[f64]) -> Option<Aggregate> {
        if s.is_empty() {
            return None;
        }
        let n = s.len();
        let mean = s.iter().sum::<f64>() / n as f64;
        let stddev = if n > 1 {
            (s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Aggregate {
            n,
            mean,
            median: percentile(s, 50.0),
            min: s[0],
            max: s[n - 1],
            stddev,
            p90: percentile(s, 90.0),
            p99: percentile(s, 99.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_matches_numpy() {
        // numpy.percentile([1,2,3,4], [50, 90, 99]) = [2.5, 3.7, 3.97]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&s, 50.0) - 2.5).abs() < 1e-12);
        assert!((percentile(&s, 90.0) - 3.7).abs() < 1e-12);
        assert!((percentile(&s, 99.0) - 3.97).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn nearest_rank_is_mlperf() {
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        // index ⌊n·p⌋: 10·0.9 = 9 → the 10th value; 10·0.5 = 5 → the 6th.
        assert_eq!(nearest_rank(&s, 90.0), 10.0);
        assert_eq!(nearest_rank(&s, 99.0), 10.0);
        assert_eq!(nearest_rank(&s, 50.0), 6.0);
        assert_eq!(nearest_rank(&s, 0.0), 1.0);
    }

    #[test]
    fn selection_matches_sorting() {
        let mut x: u64 = 7;
        for n in [1usize, 2, 3, 10, 101, 1000] {
            let v: Vec<u32> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 100_000) as u32
                })
                .collect();
            let s = sorted(v.iter().map(|&u| f64::from(u)));
            let mut buf = v.clone();
            let got = percentiles_u32(&mut buf, &[0.0, 50.0, 90.0, 99.0, 100.0]);
            for (g, p) in got.iter().zip([0.0, 50.0, 90.0, 99.0, 100.0]) {
                assert_eq!(*g, percentile(&s, p), "n={n} p={p}");
            }
            let a = aggregate_u32(&mut v.clone(), 1.0).unwrap();
            let b = Aggregate::of_sorted(&s).unwrap();
            assert_eq!(
                (a.n, a.median, a.p90, a.p99, a.min, a.max),
                (b.n, b.median, b.p90, b.p99, b.min, b.max)
            );
            assert!((a.mean - b.mean).abs() < 1e-6 && (a.stddev - b.stddev).abs() < 1e-6);
        }
        assert!(aggregate_u32(&mut [], 1.0).is_none());
    }

    #[test]
    fn aggregate_hand_computed() {
        let a = Aggregate::of([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(a.n, 8);
        assert_eq!(a.mean, 5.0);
        assert_eq!(a.median, 4.5);
        assert_eq!((a.min, a.max), (2.0, 9.0));
        // sample stddev = sqrt(32/7)
        assert!((a.stddev - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!(Aggregate::of(std::iter::empty()).is_none());
        let one = Aggregate::of([3.0]).unwrap();
        assert_eq!((one.stddev, one.p99), (0.0, 3.0));
        assert!(Aggregate::of([f64::NAN]).is_none());
    }
}
