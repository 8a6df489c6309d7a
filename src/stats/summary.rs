//! Run-level aggregates. Per-request means use successful requests; token-level statistics
//! (token-weighted decode rate, pooled ITL) include partial requests, which are never silently
//! dropped: their counts are reported beside every figure.
use super::aggregate::{aggregate_u32, Aggregate};
use super::request::{input_tokens, rate, RequestMetrics};
use crate::trace::{RequestRecord, Status, Trace};

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub requests: usize,
    pub warmup: usize,
    pub ok: usize,
    /// Ended early but with tokens (timeout, interrupted, hung, crashed, in-flight).
    pub partial: usize,
    pub failed: usize,
    pub input_tokens: i64,
    pub output_tokens: usize,
    /// Over successful requests.
    pub ttft_ms: Option<Aggregate>,
    pub prefill_tok_s: Option<Aggregate>,
    pub decode_tok_s: Option<Aggregate>,
    /// Per request 1000 / median ITL ([`RequestMetrics::decode_tok_s_median_gap`]).
    pub decode_tok_s_median_gap: Option<Aggregate>,
    pub generation_speed_tok_s: Option<Aggregate>,
    pub e2e_ms: Option<Aggregate>,
    pub output_tokens_per_request: Option<Aggregate>,
    pub runtime_decode_tok_s: Option<Aggregate>,
    pub runtime_prefill_tok_s: Option<Aggregate>,
    /// Σ(N−1) / Σ(t_N − t_1) over every measured request, partial ones included.
    pub decode_tok_s_token_weighted: Option<f64>,
    /// ITL pooled over every measured request (ms).
    pub itl_ms: Option<Aggregate>,
    pub peak_memory_mb: Option<f64>,
    /// Wall time of the run (ms): from the run's clock origin to its end (or last request end).
    pub duration_ms: f64,
    pub metrics: Vec<RequestMetrics>,
}

fn is_partial(s: Status) -> bool {
    matches!(
        s,
        Status::Timeout | Status::Interrupted | Status::Hung | Status::Crashed | Status::InFlight
    )
}

impl Summary {
    pub fn of(trace: &Trace) -> Summary {
        Self::of_run(
            &trace.requests,
            trace.end.as_ref().map(|e| e.end_us),
            trace.server.as_ref(),
        )
    }

    pub fn of_requests(reqs: &[RequestRecord], end_us: Option<u64>) -> Summary {
        Self::of_run(reqs, end_us, None)
    }

    /// Through a server (`server` given) the input token counts are the server's.
    fn of_run(
        reqs: &[RequestRecord],
        end_us: Option<u64>,
        server: Option<&crate::trace::server::ServerTrace>,
    ) -> Summary {
        let mut buf = Vec::new();
        let metrics: Vec<RequestMetrics> = reqs
            .iter()
            .map(|r| RequestMetrics::of_input(r, input_tokens(r, server), &mut buf))
            .collect();
        let measured: Vec<(&RequestRecord, &RequestMetrics)> = reqs
            .iter()
            .zip(&metrics)
            .filter(|(r, _)| !r.warmup)
            .collect();
        let ok: Vec<&RequestMetrics> = measured
            .iter()
            .filter(|(_, m)| m.status == Status::Ok)
            .map(|(_, m)| *m)
            .collect();
        let partial = measured
            .iter()
            .filter(|(r, _)| is_partial(r.status) && !r.tokens.token_dt_us.is_empty())
            .count();
        let agg = |f: &dyn Fn(&RequestMetrics) -> Option<f64>| {
            Aggregate::of(ok.iter().filter_map(|m| f(m)))
        };
        // Times from integer µs, converted once (as the peer rows: vLLM's TTFT prints the same).
        let ok_records = || {
            measured
                .iter()
                .filter(|(r, _)| r.status == Status::Ok)
                .map(|(r, _)| *r)
        };
        let (mut decode_n, mut decode_us) = (0u64, 0u64);
        for (r, _) in &measured {
            if r.tokens.token_dt_us.len() >= 2 {
                decode_n += r.tokens.token_dt_us.len() as u64 - 1;
                decode_us += r.tokens.token_dt_us[1..]
                    .iter()
                    .map(|&d| u64::from(d))
                    .sum::<u64>();
            }
        }
        let last_end = reqs
            .iter()
            .map(|r| r.start_us + r.end_us)
            .max()
            .unwrap_or(0);
        Summary {
            requests: measured.len(),
            warmup: reqs.len() - measured.len(),
            ok: ok.len(),
            partial,
            failed: measured.len() - ok.len() - partial,
            input_tokens: measured.iter().filter_map(|(_, m)| m.input_tokens).sum(),
            output_tokens: measured.iter().map(|(_, m)| m.output_tokens).sum(),
            ttft_ms: Aggregate::of_us(
                ok_records().filter_map(|r| r.tokens.token_dt_us.first().map(|&d| u64::from(d))),
            ),
            prefill_tok_s: agg(&|m| m.prefill_tok_s),
            decode_tok_s: agg(&|m| m.decode_tok_s),
            decode_tok_s_median_gap: agg(&|m| m.decode_tok_s_median_gap),
            generation_speed_tok_s: agg(&|m| m.generation_speed_tok_s),
            e2e_ms: Aggregate::of_us(ok_records().map(|r| r.end_us)),
            output_tokens_per_request: agg(&|m| Some(m.output_tokens as f64)),
            runtime_decode_tok_s: agg(&|m| m.runtime.and_then(|p| p.decode_tok_s())),
            runtime_prefill_tok_s: agg(&|m| m.runtime.and_then(|p| p.prefill_tok_s())),
            decode_tok_s_token_weighted: rate(decode_n as f64, decode_us as f64 / 1e6),
            itl_ms: {
                buf.clear();
                for (r, _) in &measured {
                    buf.extend_from_slice(r.tokens.token_dt_us.get(1..).unwrap_or(&[]));
                }
                aggregate_u32(&mut buf, 1e-3)
            },
            peak_memory_mb: measured
                .iter()
                .filter_map(|(_, m)| m.runtime.map(|p| p.memory_mb()))
                .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x)))),
            duration_ms: end_us.unwrap_or(last_end).max(last_end) as f64 / 1e3,
            metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenColumns;

    fn r(status: Status, dts: &[u32]) -> RequestRecord {
        RequestRecord {
            status,
            tokens: TokenColumns {
                token_dt_us: dts.to_vec(),
                token_ids: vec![0; dts.len()],
                text_len: vec![0; dts.len()],
                ..TokenColumns::default()
            },
            end_us: dts.iter().map(|&d| u64::from(d)).sum(),
            ..Default::default()
        }
    }

    #[test]
    fn partial_counts_in_token_stats_not_request_means() {
        let reqs = vec![
            r(Status::Ok, &[1000, 100, 100]),
            r(Status::Timeout, &[1000, 300, 300]),
            r(Status::Error, &[]),
        ];
        let s = Summary::of_requests(&reqs, None);
        assert_eq!((s.requests, s.ok, s.partial, s.failed), (3, 1, 1, 1));
        assert_eq!(s.decode_tok_s.unwrap().n, 1);
        // token-weighted: 4 intervals over 800 µs
        assert!((s.decode_tok_s_token_weighted.unwrap() - 4.0 / 0.0008).abs() < 1e-6);
        assert_eq!(s.itl_ms.unwrap().n, 4);
        assert_eq!(s.output_tokens, 6);
    }

    #[test]
    fn all_failed_and_empty() {
        let s = Summary::of_requests(&[r(Status::Error, &[])], None);
        assert_eq!((s.ok, s.failed), (0, 1));
        assert!(
            s.ttft_ms.is_none() && s.itl_ms.is_none() && s.decode_tok_s_token_weighted.is_none()
        );
        let e = Summary::of_requests(&[], None);
        assert_eq!(e.requests, 0);
    }
}
