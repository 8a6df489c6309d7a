//! Per-request metrics, recomputed from raw token times (definitions in the README, §Metrics).
use super::aggregate::percentiles_u32;
use crate::trace::{RequestRecord, Status};

/// ITL percentiles of one request (ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItlStats {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The runtime's own figures, as recorded (`RKLLMPerfStat`): one type from the trace to the
/// reports; the rates and f64 views are computed here.
pub use crate::trace::PerfStat as RuntimePerf;

impl RuntimePerf {
    pub fn prefill_ms(&self) -> f64 {
        f64::from(self.prefill_time_ms)
    }
    pub fn generate_ms(&self) -> f64 {
        f64::from(self.generate_time_ms)
    }
    pub fn memory_mb(&self) -> f64 {
        f64::from(self.memory_usage_mb)
    }
    pub fn prefill_tok_s(&self) -> Option<f64> {
        rate(f64::from(self.prefill_tokens), self.prefill_ms() / 1e3)
    }
    pub fn decode_tok_s(&self) -> Option<f64> {
        rate(f64::from(self.generate_tokens), self.generate_ms() / 1e3)
    }
}

/// Split of a response into `<think>` reasoning and answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThinkSplit {
    /// Tokens up to and including `</think>` (or to the end if it never closed).
    pub think_tokens: usize,
    pub answer_tokens: usize,
    /// Time from t0 to the first token after `</think>` (ms).
    pub time_to_answer_ms: Option<f64>,
    /// The block never closed (e.g. the cap was hit while thinking).
    pub unterminated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics {
    pub index: u32,
    pub id: String,
    pub name: String,
    pub category: String,
    pub status: Status,
    pub warmup: bool,
    pub input_tokens: Option<i64>,
    pub output_tokens: usize,
    pub ttft_ms: Option<f64>,
    pub e2e_ms: f64,
    pub prefill_tok_s: Option<f64>,
    pub decode_tok_s: Option<f64>,
    /// 1000 / the median ITL (ms): the decode rate a token missing from the count cannot bias.
    /// A server that drops a token with no text (a partial UTF-8 character, the last token
    /// before FINISH) lengthens one gap and shortens the count, so (N − 1) / (t_N − t1) reads
    /// low; the median gap moves by at most one rank per missing token.
    pub decode_tok_s_median_gap: Option<f64>,
    /// The original report's "Generation Speed": N / (E2E − TTFT).
    pub generation_speed_tok_s: Option<f64>,
    pub itl: Option<ItlStats>,
    /// ITL values > 3 × the request's median ITL.
    pub stalls: usize,
    /// Least-squares slope of ITL over token position (ms per 1000 tokens).
    pub context_slope_ms_per_1k: Option<f64>,
    pub runtime: Option<RuntimePerf>,
    /// The runtime counted a different number of generated tokens than callbacks arrived.
    pub token_count_mismatch: bool,
    pub think: Option<ThinkSplit>,
    /// The output cap was reached.
    pub hit_cap: bool,
}

/// The tokens a request's prompt became: the runtime's `prefill_tokens`; through a server
/// (`server` given), the server's prompt count for that request (`usage.prompt_tokens`,
/// `prompt_eval_count`, the relayed `prefill_tokens`). `None` when nobody counted.
pub fn input_tokens(
    r: &RequestRecord,
    server: Option<&crate::trace::server::ServerTrace>,
) -> Option<i64> {
    let runtime = r.perf.map(|p| i64::from(p.prefill_tokens));
    let served = || {
        server
            .and_then(|s| s.request(r.index))
            .and_then(|q| q.prompt_tokens)
            .and_then(|n| i64::try_from(n).ok())
    };
    runtime
        .filter(|&t| t > 0)
        .or_else(|| served().filter(|&t| t > 0))
}

pub fn rate(count: f64, secs: f64) -> Option<f64> {
    (secs > 0.0 && count.is_finite()).then(|| count / secs)
}

/// Inter-token latencies in ms (excludes the first token, whose delay is TTFT).
pub fn itl_ms(r: &RequestRecord) -> impl Iterator<Item = f64> + '_ {
    r.tokens
        .token_dt_us
        .iter()
        .skip(1)
        .map(|&d| f64::from(d) / 1e3)
}

impl RequestMetrics {
    pub fn of(r: &RequestRecord) -> RequestMetrics {
        Self::of_with(r, &mut Vec::new())
    }

    /// As [`RequestMetrics::of`], reusing `buf` for the ITL selection (no allocation per request
    /// once it has grown).
    pub fn of_with(r: &RequestRecord, buf: &mut Vec<u32>) -> RequestMetrics {
        Self::of_input(r, input_tokens(r, None), buf)
    }

    /// As [`RequestMetrics::of_with`], with the request's input token count given (see
    /// [`input_tokens`]: through a server it is the server's, not in the token view).
    pub fn of_input(
        r: &RequestRecord,
        input_tokens: Option<i64>,
        buf: &mut Vec<u32>,
    ) -> RequestMetrics {
        let n = r.tokens.token_dt_us.len();
        let t1 = r.tokens.token_dt_us.first().map(|&d| u64::from(d));
        // One pass over the ITL deltas for everything that needs them in order: their sum (t_N),
        // max, and the exact integer sums of the least-squares slope.
        let ys = r.tokens.token_dt_us.get(1..).unwrap_or(&[]);
        let (mut max, mut sum_y, mut sum_iy) = (0u32, 0u64, 0u128);
        for (i, &y) in ys.iter().enumerate() {
            max = max.max(y);
            sum_y += u64::from(y);
            sum_iy += i as u128 * u128::from(y);
        }
        let t_n: u64 = t1.unwrap_or(0) + sum_y;
        let ttft_ms = t1.map(|t| t as f64 / 1e3);
        let e2e_ms = r.end_us as f64 / 1e3;
        let runtime = r.perf;
        let decode_tok_s = match t1 {
            Some(t1) if n >= 2 => rate((n - 1) as f64, (t_n - t1) as f64 / 1e6),
            _ => None,
        };
        let generation_speed_tok_s = ttft_ms.and_then(|t| rate(n as f64, (e2e_ms - t) / 1e3));
        let prefill_tok_s = match (input_tokens, ttft_ms) {
            (Some(i), Some(t)) => rate(i as f64, t / 1e3),
            _ => None,
        };
        buf.clear();
        buf.extend_from_slice(ys);
        let itl_stats = (!buf.is_empty()).then(|| {
            let p = percentiles_u32(buf, &[50.0, 90.0, 99.0]);
            ItlStats {
                p50: p[0] / 1e3,
                p90: p[1] / 1e3,
                p99: p[2] / 1e3,
                max: f64::from(max) / 1e3,
            }
        });
        let stalls = itl_stats
            .map(|s| {
                let limit = 3.0 * s.p50 * 1e3;
                r.tokens
                    .token_dt_us
                    .iter()
                    .skip(1)
                    .filter(|&&d| f64::from(d) > limit)
                    .count()
            })
            .unwrap_or(0);
        RequestMetrics {
            index: r.index,
            id: r.test_id.clone(),
            name: r.name.clone(),
            category: r.category.clone(),
            status: r.status,
            warmup: r.warmup,
            input_tokens,
            output_tokens: n,
            ttft_ms,
            e2e_ms,
            prefill_tok_s,
            decode_tok_s,
            decode_tok_s_median_gap: itl_stats.and_then(|s| rate(1000.0, s.p50)),
            generation_speed_tok_s,
            itl: itl_stats,
            stalls,
            context_slope_ms_per_1k: slope(ys.len(), sum_y, sum_iy),
            token_count_mismatch: runtime.is_some_and(|p| i64::from(p.generate_tokens) != n as i64),
            runtime,
            think: think_split(r),
            hit_cap: r.max_new_tokens > 0 && n >= r.max_new_tokens as usize,
        }
    }
}

/// Least-squares slope of ITL against token position, in ms per 1000 tokens (= µs per token),
/// from exact integer sums over y_i (µs), i = 0..n: Σ(i − ī)(y − ȳ) = Σiy − (n−1)/2·Σy and
/// Σ(i − ī)² = n(n² − 1)/12, so slope = 6·(2Σiy − (n−1)Σy) / (n(n² − 1)).
fn slope(n: usize, sum_y: u64, sum_iy: u128) -> Option<f64> {
    if n < 8 {
        return None;
    }
    let n = n as i128;
    let num = 2 * sum_iy as i128 - (n - 1) * i128::from(sum_y);
    let den = n * (n * n - 1);
    (den > 0).then(|| 6.0 * num as f64 / den as f64)
}

fn think_split(r: &RequestRecord) -> Option<ThinkSplit> {
    // Cheap exit for the common case: no think marker anywhere in the text.
    let has = |pat: &[u8]| {
        let mut rest = &r.tokens.text[..];
        while let Some(i) = rest.iter().position(|&b| b == b'<') {
            if rest[i..].starts_with(pat) {
                return true;
            }
            rest = &rest[i + 1..];
        }
        false
    };
    if !has(b"<think>") && !has(b"</think>") {
        return None;
    }
    let times = r.token_times_us();
    let n = r.tokens.len();
    let mut opened = false;
    let mut close = None;
    for (i, t) in r.tokens.texts().enumerate() {
        if !opened && t.windows(7).any(|w| w == b"<think>") {
            opened = true;
        }
        if t.windows(8).any(|w| w == b"</think>") {
            close = Some(i);
            break;
        }
    }
    match (opened, close) {
        (_, Some(c)) => Some(ThinkSplit {
            think_tokens: c + 1,
            answer_tokens: n - c - 1,
            time_to_answer_ms: times.get(c + 1).map(|&t| t as f64 / 1e3),
            unterminated: false,
        }),
        (true, None) => Some(ThinkSplit {
            think_tokens: n,
            answer_tokens: 0,
            time_to_answer_ms: None,
            unterminated: true,
        }),
        (false, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::PerfStat;
    use crate::trace::TokenColumns;

    fn req(dts: &[u32], texts: &[&str]) -> RequestRecord {
        RequestRecord {
            tokens: TokenColumns {
                token_dt_us: dts.to_vec(),
                token_ids: (0..dts.len() as i32).collect(),
                text_len: texts.iter().map(|t| t.len() as u16).collect(),
                text: texts.concat().into_bytes(),
                ..TokenColumns::default()
            },
            end_us: dts.iter().map(|&d| u64::from(d)).sum::<u64>() + 1000,
            ..Default::default()
        }
    }

    /// A runtime decoding at 33.3 tok/s (30 ms a token, ±0.2 ms jitter) through a server that
    /// drops every 5th token (no text for it): the count is a lower bound, (N − 1)/(t_N − t1)
    /// reads low, 1000 / median ITL gives the true rate within 1 %.
    #[test]
    fn the_median_gap_rate_is_not_biased_by_dropped_tokens() {
        let jitter = [0i64, 200, -150, 100, -200, 50, -50];
        let times: Vec<i64> = (0..200i64)
            .filter(|i| i % 5 != 4)
            .map(|i| 400_000 + i * 30_000 + jitter[(i % 7) as usize])
            .collect();
        let dts: Vec<u32> = times
            .iter()
            .scan(0i64, |prev, &t| {
                let d = t - *prev;
                *prev = t;
                Some(d as u32)
            })
            .collect();
        let texts = vec!["x"; dts.len()];
        let m = RequestMetrics::of(&req(&dts, &texts));
        let truth = 1000.0 / 30.0;
        let gap = m.decode_tok_s_median_gap.unwrap();
        assert!((gap / truth - 1.0).abs() < 0.01, "{gap} vs {truth}");
        // The span rate counts 4 tokens per 5 intervals: 20 % low.
        let span = m.decode_tok_s.unwrap();
        assert!(span < 0.85 * truth, "{span}");
        // Nothing dropped: both agree.
        let all: Vec<u32> = (0..50)
            .map(|i| if i == 0 { 400_000 } else { 30_000 })
            .collect();
        let m = RequestMetrics::of(&req(&all, &vec!["x"; 50]));
        assert_eq!(m.decode_tok_s_median_gap, m.decode_tok_s);
        // One token: no gap, no rate.
        let one = RequestMetrics::of(&req(&[400_000], &["x"]));
        assert_eq!(one.decode_tok_s_median_gap, None);
    }

    #[test]
    fn input_tokens_are_the_runtimes_else_the_servers_prompt_count() {
        use crate::trace::server::{ServerRequest, ServerTrace};
        let mut r = req(&[100_000, 20_000, 20_000], &["a", "b", "c"]);
        r.index = 4;
        let server = ServerTrace {
            run: Default::default(),
            requests: vec![ServerRequest {
                index: 4,
                prompt_tokens: Some(50),
                ..Default::default()
            }],
        };
        assert_eq!(input_tokens(&r, None), None);
        assert_eq!(input_tokens(&r, Some(&server)), Some(50));
        // 50 prompt tokens over a 100 ms TTFT.
        let m = RequestMetrics::of_input(&r, input_tokens(&r, Some(&server)), &mut Vec::new());
        assert_eq!(m.prefill_tok_s, Some(500.0));
        r.perf = Some(PerfStat {
            prefill_tokens: 12,
            ..Default::default()
        });
        assert_eq!(input_tokens(&r, Some(&server)), Some(12));
        r.index = 5;
        r.perf = None;
        assert_eq!(
            input_tokens(&r, Some(&server)),
            None,
            "another request's count"
        );
    }
    #[test]
    fn hand_computed_request() {
        // t1 = 1000 ms, then 3 tokens 100 ms apart: t = 1000, 1100, 1200, 1300 ms; end 1301 ms.
        let mut r = req(
            &[1_000_000, 100_000, 100_000, 100_000],
            &["a", "b", "c", "d"],
        );
        r.perf = Some(PerfStat {
            prefill_tokens: 50,
            prefill_time_ms: 990.0,
            generate_tokens: 4,
            generate_time_ms: 300.0,
            memory_usage_mb: 1.0,
        });
        let m = RequestMetrics::of(&r);
        assert_eq!(m.output_tokens, 4);
        assert_eq!(m.ttft_ms, Some(1000.0));
        assert!((m.decode_tok_s.unwrap() - 10.0).abs() < 1e-9);
        assert!((m.prefill_tok_s.unwrap() - 50.0).abs() < 1e-9);
        // N / (E2E − TTFT) = 4 / 0.301 s
        assert!((m.generation_speed_tok_s.unwrap() - 4.0 / 0.301).abs() < 1e-9);
        assert_eq!(m.itl.unwrap().p50, 100.0);
        assert_eq!(m.stalls, 0);
        assert!(!m.token_count_mismatch);
    }

    #[test]
    fn zero_and_one_token() {
        let z = RequestMetrics::of(&req(&[], &[]));
        assert_eq!(
            (z.output_tokens, z.ttft_ms, z.decode_tok_s, z.itl),
            (0, None, None, None)
        );
        let o = RequestMetrics::of(&req(&[5000], &["x"]));
        assert_eq!(o.ttft_ms, Some(5.0));
        assert_eq!(o.decode_tok_s, None);
        assert!(o.itl.is_none());
    }

    #[test]
    fn think_split_and_stall() {
        let r = req(
            &[10, 10, 10, 10, 100, 10],
            &["<think>", " a", "</think>", "\n\n", " b", " c"],
        );
        let m = RequestMetrics::of(&r);
        let t = m.think.unwrap();
        assert_eq!((t.think_tokens, t.answer_tokens), (3, 3));
        assert_eq!(t.time_to_answer_ms, Some(0.04));
        assert_eq!(m.stalls, 1);
        let lone = RequestMetrics::of(&req(&[10, 10, 10], &[" a", "</think>", " b"]))
            .think
            .unwrap();
        assert_eq!((lone.think_tokens, lone.answer_tokens), (2, 1));
        let open = RequestMetrics::of(&req(&[10, 10], &["<think>", " a"]))
            .think
            .unwrap();
        assert!(open.unterminated);
    }

    #[test]
    fn slope_of_linear_itl() {
        // ITL grows 1 µs per token = 1 ms per 1000 tokens.
        let dts: Vec<u32> = (0..100).map(|i| 1000 + i).collect();
        let texts: Vec<&str> = vec!["x"; 100];
        let m = RequestMetrics::of(&req(&dts, &texts));
        assert!((m.context_slope_ms_per_1k.unwrap() - 1.0).abs() < 1e-9);
    }
}
