//! vLLM's run-level figures as `vllm/benchmarks/serve.py::calculate_metrics` computes them:
//! request, output and total-token throughput, and goodput against SLOs given like vLLM's
//! `--goodput ttft:MS tpot:MS e2el:MS` (here `rkbench report --goodput ttft:500,tpot:350`).
//!
//! The benchmark duration runs from the first measured request sent to the last measured
//! request finished (its FINISH/ERROR callback or the moment it was closed), failed ones
//! included, as vLLM times `asyncio.gather` over every request. A failed request counts 0 output
//! and 0 input tokens (vLLM adds `prompt_len` only for successful requests).
use super::peers::vllm_successful;
use crate::trace::RequestRecord;

/// One of vLLM's SLO keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SloMetric {
    /// Time to first token.
    Ttft,
    /// (latency − TTFT)/(N − 1); 0 for a request with one token.
    Tpot,
    /// Latency to the last token.
    E2el,
}

impl SloMetric {
    pub fn key(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tpot => "tpot",
            SloMetric::E2el => "e2el",
        }
    }
}

/// A service-level objective: the request is good when its metric is ≤ `ms` (vLLM: `s >= r`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    pub metric: SloMetric,
    pub ms: f64,
}

/// The range of an SLO besides 0, in ms: a trace's resolution (1 µs) up to the longest run
/// rkbench records (`--max-duration` 30 days). Bounded so that every SLO prints in a few digits.
const SLO_MIN_MS: f64 = 0.001;
const SLO_MAX_MS: f64 = 2_592_000_000.0;

const GOODPUT_USAGE: &str =
    "give KEY:MS pairs separated by commas with KEY one of ttft, tpot, e2el (vLLM's keys), e.g. --goodput ttft:500,tpot:350";

/// The SLOs of one report: at most one limit per key (a small `Copy` value, so report options
/// stay `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Slos {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub e2el_ms: Option<f64>,
}

impl Slos {
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The limits given, in the fixed order ttft, tpot, e2el.
    pub fn iter(&self) -> impl Iterator<Item = Slo> {
        [
            (SloMetric::Ttft, self.ttft_ms),
            (SloMetric::Tpot, self.tpot_ms),
            (SloMetric::E2el, self.e2el_ms),
        ]
        .into_iter()
        .filter_map(|(metric, ms)| ms.map(|ms| Slo { metric, ms }))
    }

    fn slot(&mut self, m: SloMetric) -> &mut Option<f64> {
        match m {
            SloMetric::Ttft => &mut self.ttft_ms,
            SloMetric::Tpot => &mut self.tpot_ms,
            SloMetric::E2el => &mut self.e2el_ms,
        }
    }

    /// Parse `--goodput` (`ttft:500,tpot:350`): vLLM's keys, non-negative milliseconds, each key
    /// once.
    pub fn parse(s: &str) -> Result<Slos, String> {
        let mut slos = Slos::default();
        for part in s.split(',') {
            let part = part.trim();
            let Some((key, value)) = part.split_once(':') else {
                return Err(format!(
                    "--goodput: {part:?} is not KEY:MS; {GOODPUT_USAGE}"
                ));
            };
            let metric = match key.trim() {
                "ttft" => SloMetric::Ttft,
                "tpot" => SloMetric::Tpot,
                "e2el" => SloMetric::E2el,
                other => {
                    return Err(format!(
                        "--goodput: unknown SLO key {other:?}; {GOODPUT_USAGE}"
                    ))
                }
            };
            let ms: f64 = value.trim().parse().map_err(|_| {
                format!(
                    "--goodput: {:?} for {} is not a number of milliseconds; {GOODPUT_USAGE}",
                    value.trim(),
                    metric.key()
                )
            })?;
            if !ms.is_finite() || ms < 0.0 {
                return Err(format!(
                    "--goodput: {} must be a finite, non-negative number of milliseconds, not {}",
                    metric.key(),
                    value.trim()
                ));
            }
            if ms != 0.0 && !(SLO_MIN_MS..=SLO_MAX_MS).contains(&ms) {
                return Err(format!(
                    "--goodput: {} {} ms is out of range; an SLO is 0 or {SLO_MIN_MS} ..= {SLO_MAX_MS} ms (30 days), to the microsecond",
                    metric.key(),
                    value.trim()
                ));
            }
            // Traces time to the microsecond: a finer limit means nothing, and rounding keeps
            // the printed SLO to at most 3 decimals.
            let ms = (ms * 1000.0).round() / 1000.0;
            let slot = slos.slot(metric);
            if slot.is_some() {
                return Err(format!(
                    "--goodput: {} is given twice; give each key once",
                    metric.key()
                ));
            }
            *slot = Some(ms);
        }
        Ok(slos)
    }
}

/// Requests meeting every SLO, and that count over the benchmark duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Goodput {
    pub slos: Slos,
    pub good: usize,
    /// req/s.
    pub per_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    /// First measured request sent → last measured request finished (µs); `None` without
    /// measured requests.
    pub duration_us: Option<u64>,
    /// Successful requests (ended `ok` with at least one token).
    pub completed: usize,
    pub failed: usize,
    /// Σ runtime prefill_tokens of successful requests; `None` when one of them has no count.
    pub total_input: Option<u64>,
    /// Σ output tokens of successful requests (one callback = one token).
    pub total_output: u64,
    /// completed / duration (req/s).
    pub request_per_s: Option<f64>,
    /// total_output / duration (tok/s).
    pub output_tok_per_s: Option<f64>,
    /// (total_input + total_output) / duration (tok/s).
    pub total_tok_per_s: Option<f64>,
    /// Only when SLOs were given.
    pub goodput: Option<Goodput>,
}

/// vLLM's throughput figures over the measured requests; goodput when `slos` is non-empty.
/// Through a server (`server` given) the input token counts are the server's.
pub fn of(
    requests: &[RequestRecord],
    server: Option<&crate::trace::server::ServerTrace>,
    slos: &Slos,
) -> Throughput {
    let measured: Vec<&RequestRecord> = requests.iter().filter(|r| !r.warmup).collect();
    let ok = vllm_successful(requests);
    let duration_us = measured
        .iter()
        .map(|r| r.start_us)
        .min()
        .zip(
            measured
                .iter()
                .map(|r| r.start_us.saturating_add(r.end_us))
                .max(),
        )
        .map(|(a, b)| b.saturating_sub(a));
    let secs = duration_us.filter(|&d| d > 0).map(|d| d as f64 / 1e6);
    let per_s = |count: f64| secs.map(|s| count / s);
    let total_output: u64 = ok.iter().map(|r| r.output_tokens).sum();
    let total_input: Option<u64> = ok
        .iter()
        .map(|r| super::request::input_tokens(r.record, server).and_then(|t| u64::try_from(t).ok()))
        .sum();
    let goodput = (!slos.is_empty()).then(|| {
        let good = ok
            .iter()
            .filter(|r| {
                slos.iter().all(|s| {
                    let limit_us = s.ms * 1e3;
                    let v = match s.metric {
                        SloMetric::Ttft => r.ttft_us as f64,
                        SloMetric::Tpot => r.tpot_us.unwrap_or(0.0),
                        SloMetric::E2el => r.e2el_us as f64,
                    };
                    v <= limit_us
                })
            })
            .count();
        Goodput {
            slos: *slos,
            good,
            per_s: per_s(good as f64),
        }
    });
    Throughput {
        duration_us,
        completed: ok.len(),
        failed: measured.len() - ok.len(),
        total_input,
        total_output,
        request_per_s: per_s(ok.len() as f64),
        output_tok_per_s: per_s(total_output as f64),
        total_tok_per_s: total_input.and_then(|i| per_s((i + total_output) as f64)),
        goodput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::peers::fixture::{fixture, req};
    use crate::trace::Status;

    fn close(got: Option<f64>, want: f64) {
        let g = got.expect("a value");
        assert!((g - want).abs() < 5e-4, "got {g}, want {want}");
    }

    #[test]
    fn throughput_over_first_sent_to_last_finished() {
        // Measured: A sent at 100 ms, finished 100 + 115 = 215; B 300 + 270 = 570;
        // C 600 + 252 = 852; D (timeout) 900 + 1000 = 1900. The warm-up (0–50) is outside.
        // Duration = 1900 − 100 = 1800 ms = 1.8 s.
        let t = of(&fixture(), None, &Slos::default());
        assert_eq!(t.duration_us, Some(1_800_000));
        assert_eq!((t.completed, t.failed), (3, 1));
        // Output: A 2 + B 4 + C 6 = 12 (D counts 0) → 12 / 1.8 = 6.6667 tok/s.
        assert_eq!(t.total_output, 12);
        close(t.output_tok_per_s, 6.6667);
        // Requests: 3 / 1.8 = 1.6667 req/s.
        close(t.request_per_s, 1.6667);
        // Input: 10 + 20 + 30 = 60 (D's 40 not counted); (60 + 12) / 1.8 = 40 tok/s.
        assert_eq!(t.total_input, Some(60));
        close(t.total_tok_per_s, 40.0);
        assert!(t.goodput.is_none());
    }

    #[test]
    fn goodput_counts_requests_meeting_every_slo() {
        // Per successful request (TTFT, TPOT, E2EL in ms): A (100, 10, 110),
        // B (200, 20.3333, 261), C (50, 40, 250).
        // ttft ≤ 150 and tpot ≤ 25: A only → 1 / 1.8 = 0.5556 req/s.
        let g = of(&fixture(), None, &Slos::parse("ttft:150,tpot:25").unwrap())
            .goodput
            .unwrap();
        assert_eq!(g.good, 1);
        close(g.per_s, 0.5556);
        // Limits are inclusive (vLLM: slo >= value): ttft ≤ 100 keeps A (100) and C (50).
        let g = of(&fixture(), None, &Slos::parse("ttft:100").unwrap())
            .goodput
            .unwrap();
        assert_eq!(g.good, 2);
        close(g.per_s, 1.1111);
        // e2el ends at the last token: A 110 and C 250 meet 250; B 261 does not.
        let g = of(&fixture(), None, &Slos::parse("e2el:250").unwrap())
            .goodput
            .unwrap();
        assert_eq!(g.good, 2);
        // A one-token request has TPOT 0 for goodput, so any tpot limit passes it.
        let one = [req(Status::Ok, 0, &[5.0], 1, 3)];
        assert_eq!(
            of(&one, None, &Slos::parse("tpot:0").unwrap())
                .goodput
                .unwrap()
                .good,
            1
        );
    }

    #[test]
    fn no_input_count_means_no_total_token_throughput() {
        let reqs = [req(Status::Ok, 0, &[5.0, 5.0], 0, 0)];
        let t = of(&reqs, None, &Slos::default());
        assert_eq!(t.total_input, None);
        assert_eq!(t.total_tok_per_s, None);
        // 2 tokens over 10 ms = 200 tok/s.
        close(t.output_tok_per_s, 200.0);
        let e = of(&[], None, &Slos::default());
        assert_eq!((e.duration_us, e.request_per_s), (None, None));
    }

    #[test]
    fn goodput_flag_is_validated() {
        let ok = Slos::parse("ttft:500, tpot:350,e2el:1e4").unwrap();
        assert_eq!(ok.iter().count(), 3);
        assert_eq!(
            ok.iter().last(),
            Some(Slo {
                metric: SloMetric::E2el,
                ms: 10_000.0
            })
        );
        assert!(Slos::default().is_empty());
        for (bad, says) in [
            ("", "is not KEY:MS"),
            ("ttft", "is not KEY:MS"),
            ("ttft:", "not a number"),
            ("ttft:abc", "not a number"),
            ("itl:5", "unknown SLO key \"itl\""),
            ("TTFT:5", "unknown SLO key"),
            ("ttft:-1", "non-negative"),
            ("ttft:nan", "non-negative"),
            ("ttft:inf", "non-negative"),
            ("ttft:1,ttft:2", "given twice"),
            ("ttft:1e308", "0 or 0.001 ..= 2592000000 ms"),
            ("e2el:2592000000.5", "0 or 0.001 ..= 2592000000 ms"),
            ("tpot:1e-300", "0 or 0.001 ..= 2592000000 ms"),
        ] {
            let e = Slos::parse(bad).unwrap_err();
            assert!(
                e.starts_with("--goodput: ") && e.contains(says),
                "{bad}: {e}"
            );
        }
    }
}
