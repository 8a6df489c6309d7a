//! Prefill scaling: TTFT against exact input length, fitted as
//! `ttft_ms = fixed_ms + ms_per_token · n + attention_ms_per_token2 · n²`.
//!
//! Only requests fed an exact token input count (a text prompt's length depends on the tokenizer
//! and chat template, which would blur the curve). The linear term is the per-token cost of the
//! weights; the quadratic term is attention, whose cost per token grows with the tokens before
//! it. A negative quadratic term has no physical meaning (it is noise on a curve that is really
//! linear), so the fit is least squares with the quadratic term held at ≥ 0: if the free fit
//! gives it < 0, the linear fit is the constrained optimum. Decode rate per input length is
//! given beside it, because a longer context also slows every decode step.
use super::aggregate::{percentile, sorted};
use super::request::RequestMetrics;
use crate::trace::{RequestRecord, Trace};

/// One measured request fed an exact token input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub index: u32,
    pub input_tokens: u32,
    pub ttft_ms: f64,
}

/// The fitted curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Time that does not grow with the input (call overhead, first decode step), ms.
    pub fixed_ms: f64,
    /// The linear term: ms per input token.
    pub ms_per_token: f64,
    /// The quadratic (attention) term: ms per token², ≥ 0; 0 for a linear fit.
    pub attention_ms_per_token2: f64,
    /// `quadratic`, or `linear` (only two lengths, or the free quadratic term came out < 0).
    pub model: &'static str,
    /// Coefficient of determination of the fit over the points.
    pub r_squared: f64,
    /// Root-mean-square residual, ms.
    pub rms_residual_ms: f64,
}

impl Fit {
    /// The fitted TTFT at `n` input tokens, ms.
    pub fn ttft_ms(&self, n: f64) -> f64 {
        self.fixed_ms + self.ms_per_token * n + self.attention_ms_per_token2 * n * n
    }
}

/// Figures of one input length.
#[derive(Debug, Clone, PartialEq)]
pub struct Length {
    pub input_tokens: u32,
    pub requests: usize,
    pub ttft_ms_median: f64,
    /// Input tokens / median TTFT.
    pub prefill_tok_s: Option<f64>,
    /// Median of the requests' decode rates (those with ≥ 2 tokens).
    pub decode_tok_s_median: Option<f64>,
    /// Median of the runtime's own prefill time, where it reports one.
    pub runtime_prefill_ms_median: Option<f64>,
}

/// Prefill scaling of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefillScaling {
    /// Sorted by input length, then request index.
    pub points: Vec<Point>,
    /// Through each length's median TTFT; `None` with fewer than two distinct lengths.
    pub fit: Option<Fit>,
    /// Ascending input length.
    pub lengths: Vec<Length>,
}

/// Prefill scaling over the measured requests that were fed exact token inputs and produced a
/// first token. `None` when fewer than two distinct input lengths qualify (nothing to scale).
pub fn of(trace: &Trace, metrics: &[RequestMetrics]) -> Option<PrefillScaling> {
    of_requests(&trace.requests, metrics, |r| {
        trace
            .input_of(r.index)
            .filter(|i| i.is_exact_tokens())
            .map(|i| i.n_tokens)
    })
}

/// As [`of`], with the exact input length of each request given by `exact_len`.
pub fn of_requests(
    reqs: &[RequestRecord],
    metrics: &[RequestMetrics],
    exact_len: impl Fn(&RequestRecord) -> Option<u32>,
) -> Option<PrefillScaling> {
    let mut rows: Vec<(Point, &RequestMetrics)> = reqs
        .iter()
        .zip(metrics)
        .filter(|(r, _)| !r.warmup)
        .filter_map(|(r, m)| {
            let n = exact_len(r)?;
            let ttft_ms = m.ttft_ms?;
            Some((
                Point {
                    index: r.index,
                    input_tokens: n,
                    ttft_ms,
                },
                m,
            ))
        })
        .collect();
    rows.sort_by_key(|a| (a.0.input_tokens, a.0.index));
    let mut lengths: Vec<Length> = Vec::new();
    for chunk in rows.chunk_by(|a, b| a.0.input_tokens == b.0.input_tokens) {
        let n = chunk[0].0.input_tokens;
        let ttft = sorted(chunk.iter().map(|(p, _)| p.ttft_ms));
        let decode = sorted(chunk.iter().filter_map(|(_, m)| m.decode_tok_s));
        let runtime = sorted(
            chunk
                .iter()
                .filter_map(|(_, m)| m.runtime.map(|p| p.prefill_ms())),
        );
        let median = |v: &[f64]| (!v.is_empty()).then(|| percentile(v, 50.0));
        let ttft_ms_median = percentile(&ttft, 50.0);
        lengths.push(Length {
            input_tokens: n,
            requests: chunk.len(),
            ttft_ms_median,
            prefill_tok_s: super::request::rate(f64::from(n), ttft_ms_median / 1e3),
            decode_tok_s_median: median(&decode),
            runtime_prefill_ms_median: median(&runtime),
        });
    }
    if lengths.len() < 2 {
        return None;
    }
    let points: Vec<Point> = rows.into_iter().map(|(p, _)| p).collect();
    // The fit goes through each length's median, so one disturbed request (a first-run
    // outlier, a preempted process) cannot bend the curve.
    let xy: Vec<(f64, f64)> = lengths
        .iter()
        .map(|l| (f64::from(l.input_tokens), l.ttft_ms_median))
        .collect();
    Some(PrefillScaling {
        fit: fit(&xy),
        points,
        lengths,
    })
}

/// Least-squares fit of `y = a + b·x + c·x²` with `c ≥ 0` (see the module comment); linear when
/// there are only two distinct `x`. `None` with fewer than two distinct `x` or non-finite data.
pub fn fit(xy: &[(f64, f64)]) -> Option<Fit> {
    if xy.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return None;
    }
    let mut xs: Vec<f64> = xy.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() < 2 {
        return None;
    }
    // Work in thousands of tokens so the normal equations stay well conditioned.
    const K: f64 = 1000.0;
    let scaled: Vec<(f64, f64)> = xy.iter().map(|&(x, y)| (x / K, y)).collect();
    let quadratic = (xs.len() >= 3)
        .then(|| least_squares::<3>(&scaled))
        .flatten()
        .filter(|c| c[2] >= 0.0);
    let (coef, model) = match quadratic {
        Some(c) => (c, "quadratic"),
        None => {
            let [a, b] = least_squares::<2>(&scaled)?;
            ([a, b, 0.0], "linear")
        }
    };
    let f = Fit {
        fixed_ms: coef[0],
        ms_per_token: coef[1] / K,
        attention_ms_per_token2: coef[2] / (K * K),
        model,
        r_squared: 0.0,
        rms_residual_ms: 0.0,
    };
    let n = xy.len() as f64;
    let mean = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let ss_tot: f64 = xy.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let ss_res: f64 = xy.iter().map(|&(x, y)| (y - f.ttft_ms(x)).powi(2)).sum();
    Some(Fit {
        r_squared: if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            1.0
        },
        rms_residual_ms: (ss_res / n).sqrt(),
        ..f
    })
}

/// Ordinary least squares of `y = Σ c_k x^k` (k < N) by the normal equations and Gaussian
/// elimination with partial pivoting. `None` if they are singular.
#[allow(clippy::needless_range_loop)] // matrix code reads clearest with indices
fn least_squares<const N: usize>(xy: &[(f64, f64)]) -> Option<[f64; N]> {
    let mut m = [[0.0f64; N]; N];
    let mut v = [0.0f64; N];
    for &(x, y) in xy {
        let mut pw = [1.0f64; N];
        for k in 1..N {
            pw[k] = pw[k - 1] * x;
        }
        for i in 0..N {
            v[i] += pw[i] * y;
            for j in 0..N {
                m[i][j] += pw[i] * pw[j];
            }
        }
    }
    for col in 0..N {
        let pivot = (col..N).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        for row in col + 1..N {
            let f = m[row][col] / m[col][col];
            for k in col..N {
                m[row][k] -= f * m[col][k];
            }
            v[row] -= f * v[col];
        }
    }
    let mut c = [0.0f64; N];
    for i in (0..N).rev() {
        let s: f64 = (i + 1..N).map(|k| m[i][k] * c[k]).sum();
        c[i] = (v[i] - s) / m[i][i];
    }
    c.iter().all(|x| x.is_finite()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::PerfStat;
    use crate::trace::TokenColumns;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    #[test]
    fn recovers_an_exact_quadratic() {
        // 123 ms + 30.8 ms/token + 2e-4 ms/token² (a 4B model's prefill, with attention).
        let xy: Vec<(f64, f64)> = [128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0]
            .iter()
            .map(|&n| (n, 123.0 + 30.8 * n + 2e-4 * n * n))
            .collect();
        let f = fit(&xy).unwrap_or_else(|| panic!("no fit"));
        assert_eq!(f.model, "quadratic");
        assert!(close(f.fixed_ms, 123.0, 1e-6), "{f:?}");
        assert!(close(f.ms_per_token, 30.8, 1e-9), "{f:?}");
        assert!(close(f.attention_ms_per_token2, 2e-4, 1e-6), "{f:?}");
        assert!(f.r_squared > 0.999_999 && f.rms_residual_ms < 1e-6, "{f:?}");
        assert!(close(f.ttft_ms(1000.0), 123.0 + 30_800.0 + 200.0, 1e-9));
    }

    #[test]
    fn a_linear_curve_fits_linear_within_noise() {
        // The simulated runtime: 125 ms + 30 ms/token, with ±1 % noise that would otherwise
        // give a small negative attention term.
        let noise = [1.01, 0.99, 1.0, 1.01, 0.99, 1.0, 0.995, 1.005];
        let xy: Vec<(f64, f64)> = (0..8)
            .map(|k| {
                let n = f64::from(128u32 << k);
                (n, (125.0 + 30.0 * n) * noise[k])
            })
            .collect();
        let f = fit(&xy).unwrap_or_else(|| panic!("no fit"));
        assert!(f.attention_ms_per_token2 >= 0.0);
        assert!(close(f.ms_per_token, 30.0, 0.02), "{f:?}");
        assert!(f.r_squared > 0.999, "{f:?}");
    }

    #[test]
    fn negative_curvature_falls_back_to_linear() {
        // Concave data: the free quadratic term would be negative.
        let xy = [
            (100.0, 100.0),
            (200.0, 180.0),
            (300.0, 240.0),
            (400.0, 280.0),
        ];
        let f = fit(&xy).unwrap_or_else(|| panic!("no fit"));
        assert_eq!(f.model, "linear");
        assert_eq!(f.attention_ms_per_token2, 0.0);
        assert!(close(f.ms_per_token, 0.6, 1e-9), "{f:?}");
        assert!(close(f.fixed_ms, 50.0, 1e-9), "{f:?}");
    }

    #[test]
    fn two_lengths_give_a_line_one_gives_nothing() {
        let f =
            fit(&[(128.0, 10.0), (256.0, 20.0), (256.0, 22.0)]).unwrap_or_else(|| panic!("no fit"));
        assert_eq!(f.model, "linear");
        assert!(close(f.ms_per_token, 11.0 / 128.0, 1e-9), "{f:?}");
        assert_eq!(fit(&[(128.0, 10.0), (128.0, 11.0)]), None);
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[(1.0, f64::NAN), (2.0, 1.0)]), None);
    }

    fn req(index: u32, warmup: bool, ttft_us: u32, itl_us: u32, tokens: usize) -> RequestRecord {
        let mut dt = vec![ttft_us];
        dt.extend(std::iter::repeat(itl_us).take(tokens.saturating_sub(1)));
        RequestRecord {
            index,
            warmup,
            end_us: dt.iter().map(|&d| u64::from(d)).sum(),
            tokens: TokenColumns {
                token_ids: vec![1; dt.len()],
                text_len: vec![0; dt.len()],
                token_dt_us: dt,
                ..TokenColumns::default()
            },
            perf: Some(PerfStat {
                prefill_time_ms: ttft_us as f32 / 1000.0,
                prefill_tokens: 1,
                ..PerfStat::default()
            }),
            ..RequestRecord::default()
        }
    }

    #[test]
    fn points_lengths_and_decode_beside_them() {
        // index: length. 0 is a warm-up; 5 fed a text prompt; 6 produced nothing.
        let lens = [
            Some(128),
            Some(128),
            Some(256),
            Some(128),
            Some(512),
            None,
            Some(512),
        ];
        let reqs = vec![
            req(0, true, 99_000, 1000, 5),
            req(1, false, 4_000, 1000, 5),
            req(2, false, 8_000, 1250, 5),
            req(3, false, 4_200, 1000, 5),
            req(4, false, 16_000, 2000, 5),
            req(5, false, 1_000, 1000, 5),
            RequestRecord {
                index: 6,
                ..RequestRecord::default()
            },
        ];
        let metrics: Vec<RequestMetrics> = reqs.iter().map(RequestMetrics::of).collect();
        let s = of_requests(&reqs, &metrics, |r| lens[r.index as usize])
            .unwrap_or_else(|| panic!("no scaling"));
        let pts: Vec<(u32, u32)> = s.points.iter().map(|p| (p.input_tokens, p.index)).collect();
        assert_eq!(pts, [(128, 1), (128, 3), (256, 2), (512, 4)]);
        let l: Vec<(u32, usize, f64)> = s
            .lengths
            .iter()
            .map(|l| (l.input_tokens, l.requests, l.ttft_ms_median))
            .collect();
        assert_eq!(l, [(128, 2, 4.1), (256, 1, 8.0), (512, 1, 16.0)]);
        assert_eq!(s.lengths[0].decode_tok_s_median, Some(1000.0));
        assert_eq!(s.lengths[1].decode_tok_s_median, Some(800.0));
        assert_eq!(s.lengths[2].decode_tok_s_median, Some(500.0));
        assert_eq!(s.lengths[2].runtime_prefill_ms_median, Some(16.0));
        assert!(close(
            s.lengths[2].prefill_tok_s.unwrap_or(0.0),
            32_000.0,
            1e-12
        ));
        let f = s.fit.unwrap_or_else(|| panic!("no fit"));
        assert!(close(f.ms_per_token, 0.03, 0.05), "{f:?}");

        // A single length is no scaling.
        let one = of_requests(&reqs, &metrics, |r| (r.index == 1).then_some(128));
        assert_eq!(one, None);
    }
}
