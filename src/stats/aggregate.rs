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
