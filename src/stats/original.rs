//! The original report's figures, each with the original's definition (VenomekPL/RockchipLlama
//! `scripts/benchmark.py` `run_single_inference` / `calculate_summary`, rendered by
//! `scripts/generate_report.py`; see shared/docs/field-notes.md §1), so a figure printed under
//! the original's label means what it meant there:
//! - TTFT is the runtime's `prefill_time_ms` (the wall-clock first-token time only when the
//!   runtime sent no timing; the request's total time when that is 0 too);
//! - Generation Speed is `generate_tokens / generate_time_ms × 1000` (generate time falls back
//!   to total − TTFT); its summary is the unweighted mean/median/min/max over successful requests
//!   with a non-zero rate;
//! - input/output tokens are the runtime's `prefill_tokens` / `generate_tokens` (the original's
//!   fallback, `len(text) // 4` characters, when the runtime reports none or 0);
//! - through a server (the way the original measured) its client read the counters the server
//!   sent: the server's own output and prompt counts and RKLLM's perf relayed in `usage` — its
//!   own server's word counts too (`usage.completion_tokens` / `prompt_tokens` =
//!   `len(text.split())`, all it sends since its `806b3fb`), which it took as tokens — and its
//!   TTFT was the first `data:` event of any kind (a role-only chunk too), so a server trace is
//!   read the same way: [`OriginalRequest::of_server`];
//! - memory is the mean of the per-request `memory_usage_mb` (the runtime's VmHWM);
//! - totals count successful requests only, but "Average Output per Request" divides by all;
//! - a failed request (here: any that did not end `ok`) has every metric zeroed and is left out of
//!   every statistic except the success rate.
//!
//! rkbench's own wall-clock figures (stats::request / stats::summary) are separate and keep their
//! own names.
use super::telemetry::NOT_READ;
use crate::trace::server::{ChunkKind, ServerRequest, ServerTrace};
use crate::trace::{Fact, RequestRecord, Status, TelemetryBatch};

/// Where a request's output token count came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputCount {
    /// The runtime's `generate_tokens`.
    Runtime,
    /// A count the server sent, by its field (`usage.completion_tokens`, `eval_count`, …).
    Server(String),
    /// A word count the server sent in a token field (the original tool's server:
    /// `len(text.split())` in `usage.completion_tokens`), by its field: rkbench never counts
    /// with it, but the original's `benchmark.py` took it as tokens, so its figures do.
    ServerWords(String),
    /// The original's estimate `len(text) // 4`: nobody counted.
    Estimate,
}

/// One request as the original's `PerformanceMetrics` held it.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalRequest {
    /// Index of the record in the trace.
    pub index: u32,
    pub success: bool,
    /// The runtime reported its perf stats (directly, or relayed by a server), so the figures
    /// are the runtime's (not the fallbacks).
    pub runtime_timing: bool,
    /// Where `output_tokens` came from (failed requests: `Estimate`, their figures are zeroed).
    pub output_count: OutputCount,
    /// Failed requests: what the original printed after "Failed:" (plus rkbench's detail).
    pub error_message: String,
    pub ttft_ms: f64,
    /// Request sent → end of the response (rkbench: t_end − t0).
    pub total_time_ms: f64,
    pub prefill_time_ms: f64,
    pub generate_time_ms: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub tokens_per_second: f64,
    pub input_tokens_per_second: f64,
    pub memory_usage_mb: f64,
}

/// Python's `len(s) // 4` (code points), the original's token estimate without counters.
fn quarter_len(s: &str) -> i64 {
    (s.chars().count() / 4) as i64
}

impl OriginalRequest {
    /// Every figure zero: what the original kept for a failed request, and the start of a
    /// successful one before the counters and fallbacks fill it.
    fn zeroed(index: u32) -> OriginalRequest {
        OriginalRequest {
            index,
            success: false,
            runtime_timing: false,
            output_count: OutputCount::Estimate,
            error_message: String::new(),
            ttft_ms: 0.0,
            total_time_ms: 0.0,
            prefill_time_ms: 0.0,
            generate_time_ms: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            tokens_per_second: 0.0,
            input_tokens_per_second: 0.0,
            memory_usage_mb: 0.0,
        }
    }

    /// A failed request: every metric zeroed, with what the original printed after "Failed:".
    fn failed(r: &RequestRecord) -> OriginalRequest {
        let what = match r.status {
            Status::Timeout => "Request timed out".to_string(),
            s => format!("Request {}", s.as_str()),
        };
        OriginalRequest {
            error_message: if r.detail.is_empty() {
                what
            } else {
                format!("{what} ({})", r.detail)
            },
            ..Self::zeroed(r.index)
        }
    }

    pub fn of(r: &RequestRecord) -> OriginalRequest {
        if r.status != Status::Ok {
            return Self::failed(r);
        }
        let mut o = OriginalRequest {
            success: true,
            // Wall-clock time of the first chunk; overwritten by the runtime's prefill time.
            ttft_ms: r
                .tokens
                .token_dt_us
                .first()
                .map_or(0.0, |&d| f64::from(d) / 1e3),
            total_time_ms: r.end_us as f64 / 1e3,
            ..Self::zeroed(r.index)
        };
        if let Some(p) = r.perf {
            o.runtime_timing = true;
            o.output_count = OutputCount::Runtime;
            o.prefill_time_ms = f64::from(p.prefill_time_ms);
            o.ttft_ms = o.prefill_time_ms;
            o.generate_time_ms = f64::from(p.generate_time_ms);
            o.input_tokens = i64::from(p.prefill_tokens);
            o.output_tokens = i64::from(p.generate_tokens);
            o.memory_usage_mb = f64::from(p.memory_usage_mb);
        }
        o.with_fallbacks(r)
    }

    /// A request measured through a server, read as the original's client read its server:
    /// TTFT = the first `data:` event of any kind (a role-only or empty chunk too; not a `:`
    /// keep-alive), overwritten by RKLLM's `prefill_time_ms` where the server relays it;
    /// tokens = the server's own counts (the original tool's server relays RKLLM's
    /// `generate_tokens`; others send `usage.completion_tokens` / `eval_count`); generate time =
    /// the relayed `generate_time_ms`, else total − TTFT; memory = the relayed
    /// `memory_usage_mb`. `view` is the request's per-token view (status, end, text).
    pub fn of_server(view: &RequestRecord, s: &ServerRequest) -> OriginalRequest {
        if view.status != Status::Ok {
            return Self::failed(view);
        }
        let relayed = |field: &str| {
            s.timings
                .iter()
                .find(|t| t.field == field)
                .map(|t| t.raw)
                .filter(|x| x.is_finite())
        };
        let count = |n: u64| n.min(i64::MAX as u64) as i64;
        let first_event = (0..s.chunks())
            .find(|&i| s.kind(i) != ChunkKind::Ping)
            .and_then(|i| s.chunk_us.get(i))
            .map_or(0.0, |&t| t as f64 / 1e3);
        let (prefill, generate) = (
            relayed("usage.prefill_time_ms"),
            relayed("usage.generate_time_ms"),
        );
        // What `benchmark.py` took where rkbench refused the server's count as not tokens (the
        // raw field is kept; the capture left it out of `server_total` / `prompt_tokens`).
        let words = |field: &str| {
            relayed(field)
                .filter(|&x| x >= 1.0)
                .map(|x| x.min(i64::MAX as f64) as i64)
        };
        // A total refused as the count source (it cannot be true) is not a count here either.
        let output = s
            .server_total
            .filter(|_| crate::trace::server::CountRefusals::of(s).total.is_none())
            .map(count)
            .filter(|&n| n > 0);
        // The word count only where the server's count field was left out as not tokens (the
        // original tool's server); a count refused as implausible is no count at all.
        let word_count = s
            .server_total
            .is_none()
            .then(|| words("usage.completion_tokens"))
            .flatten();
        let (output, output_count) = match (output, word_count) {
            (Some(n), _) => (Some(n), OutputCount::Server(s.server_total_field.clone())),
            (None, Some(w)) => (
                Some(w),
                OutputCount::ServerWords("usage.completion_tokens".into()),
            ),
            (None, None) => (None, OutputCount::Estimate),
        };
        OriginalRequest {
            success: true,
            runtime_timing: prefill.is_some() && generate.is_some(),
            output_count,
            ttft_ms: prefill.unwrap_or(first_event),
            total_time_ms: view.end_us as f64 / 1e3,
            prefill_time_ms: prefill.unwrap_or(0.0),
            generate_time_ms: generate.unwrap_or(0.0),
            // The capture already prefers RKLLM's relayed prefill_tokens over usage counts.
            input_tokens: s
                .prompt_tokens
                .map(count)
                .or_else(|| words("usage.prompt_tokens"))
                .unwrap_or(0),
            output_tokens: output.unwrap_or(0),
            memory_usage_mb: relayed("usage.memory_usage_mb").unwrap_or(0.0),
            ..Self::zeroed(view.index)
        }
        .with_fallbacks(view)
    }

    /// The original's fallbacks where the runtime or server gave nothing, then its rates.
    fn with_fallbacks(mut self, r: &RequestRecord) -> OriginalRequest {
        if self.ttft_ms == 0.0 {
            self.ttft_ms = self.total_time_ms;
        }
        if self.generate_time_ms == 0.0 {
            self.generate_time_ms = self.total_time_ms - self.ttft_ms;
        }
        if self.input_tokens == 0 {
            self.input_tokens = quarter_len(&r.prompt);
        }
        if self.output_tokens == 0 {
            self.output_tokens = quarter_len(&r.response());
            self.output_count = OutputCount::Estimate;
        }
        let rate = |tokens: i64, ms: f64| {
            if ms > 0.0 && tokens > 0 {
                tokens as f64 / ms * 1000.0
            } else {
                0.0
            }
        };
        self.tokens_per_second = rate(self.output_tokens, self.generate_time_ms);
        self.input_tokens_per_second = rate(self.input_tokens, self.prefill_time_ms);
        self
    }
}

/// Python `statistics` mean, median (middle pair averaged), min and max of a non-empty list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(Spread {
            n,
            mean: v.iter().sum::<f64>() / n as f64,
            median: if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            },
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// The original's `BenchmarkSummary` over the measured requests.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalSummary {
    /// One per measured request, in run order.
    pub requests: Vec<OriginalRequest>,
    pub total_requests: usize,
    pub successful_requests: usize,
    /// Over successful requests.
    pub ttft_ms: Option<Spread>,
    pub total_time_ms: Option<Spread>,
    /// Over successful requests with a non-zero rate.
    pub tokens_per_second: Option<Spread>,
    pub input_tokens_per_second: Option<Spread>,
    /// Σ over successful requests.
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    /// Σ (input + output) over successful requests ("Total Tokens Processed").
    pub total_tokens: i64,
    /// Over successful requests with a non-zero value.
    pub memory_mb: Option<Spread>,
    /// The run's wall time, seconds.
    pub duration_s: f64,
}

impl OriginalSummary {
    /// `duration_ms`: the run's wall time (rkbench's "Total duration"); `server`: the chunks of
    /// a run measured through a server (whose `requests` are their per-token views).
    pub fn of(
        requests: &[RequestRecord],
        server: Option<&ServerTrace>,
        duration_ms: f64,
    ) -> OriginalSummary {
        let requests: Vec<OriginalRequest> = requests
            .iter()
            .filter(|r| !r.warmup)
            .map(|r| match server.and_then(|s| s.request(r.index)) {
                Some(s) => OriginalRequest::of_server(r, s),
                None => OriginalRequest::of(r),
            })
            .collect();
        let ok: Vec<&OriginalRequest> = requests.iter().filter(|r| r.success).collect();
        let spread = |f: &dyn Fn(&OriginalRequest) -> f64, positive: bool| {
            Spread::of(
                ok.iter()
                    .map(|r| f(r))
                    .filter(|&x| !positive || x > 0.0)
                    .collect(),
            )
        };
        OriginalSummary {
            total_requests: requests.len(),
            successful_requests: ok.len(),
            ttft_ms: spread(&|r| r.ttft_ms, false),
            total_time_ms: spread(&|r| r.total_time_ms, false),
            tokens_per_second: spread(&|r| r.tokens_per_second, true),
            input_tokens_per_second: spread(&|r| r.input_tokens_per_second, true),
            // Saturating: a hostile trace's counts must not overflow the sums.
            total_input_tokens: total(ok.iter().map(|r| r.input_tokens)),
            total_output_tokens: total(ok.iter().map(|r| r.output_tokens)),
            total_tokens: total(
                ok.iter()
                    .map(|r| r.input_tokens.saturating_add(r.output_tokens)),
            ),
            memory_mb: spread(&|r| r.memory_usage_mb, true),
            duration_s: duration_ms / 1e3,
            requests,
        }
    }

    /// successful / total × 100 (`None` without requests).
    pub fn success_rate_pct(&self) -> Option<f64> {
        (self.total_requests > 0)
            .then(|| 100.0 * self.successful_requests as f64 / self.total_requests as f64)
    }

    /// "Average Output per Request": successful requests' output tokens / **all** requests.
    pub fn avg_output_per_request(&self) -> Option<f64> {
        (self.total_requests > 0)
            .then(|| self.total_output_tokens as f64 / self.total_requests as f64)
    }

    /// Successful requests whose figures are the runtime's own, and all successful requests.
    pub fn runtime_timed(&self) -> (usize, usize) {
        let ok = self.requests.iter().filter(|r| r.success);
        let timed = ok.clone().filter(|r| r.runtime_timing).count();
        (timed, ok.count())
    }

    /// Successful requests whose output count is the original's `len(text) // 4` estimate, and
    /// the fields the others' counts came from (sorted, distinct).
    pub fn output_counts(&self) -> (usize, Vec<String>) {
        let ok = self.requests.iter().filter(|r| r.success);
        let estimated = ok
            .clone()
            .filter(|r| r.output_count == OutputCount::Estimate)
            .count();
        let mut fields: Vec<String> = ok
            .filter_map(|r| match &r.output_count {
                OutputCount::Runtime => Some("the runtime's generate_tokens".to_string()),
                OutputCount::Server(f) => Some(format!("the server's {f}")),
                OutputCount::ServerWords(f) => Some(format!(
                    "the server's word count {f}, which the original took as tokens"
                )),
                OutputCount::Estimate => None,
            })
            .collect();
        fields.sort();
        fields.dedup();
        (estimated, fields)
    }

    /// Every successful request's output count is the runtime's own (no note needed).
    pub fn counted_by_runtime(&self) -> bool {
        self.requests
            .iter()
            .filter(|r| r.success)
            .all(|r| r.output_count == OutputCount::Runtime)
    }

    /// "Longest output": the first successful request with the most output tokens.
    pub fn longest(&self) -> Option<&OriginalRequest> {
        let mut best: Option<&OriginalRequest> = None;
        for r in self.requests.iter().filter(|r| r.success) {
            if best.map_or(true, |b| r.output_tokens > b.output_tokens) {
                best = Some(r);
            }
        }
        best
    }
}

/// The hardware line, from what the trace recorded (the original hard-coded "Rockchip RK3588
/// NPU (3 cores)").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hardware {
    /// `/proc/device-tree/model`, e.g. "Orange Pi 5 Max".
    pub board: Option<String>,
    /// From the device-tree `compatible` list: the `rockchip,rkNNNN` entry, upper-cased.
    pub soc: Option<String>,
    /// NPU cores whose load was read during the run (`npu.load.coreN` telemetry).
    pub npu_cores: Option<usize>,
}

fn fact<'a>(board: &'a [Fact], key: &str) -> Option<&'a str> {
    board
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.value.trim())
        .filter(|v| !v.is_empty() && !v.starts_with("unavailable"))
}

impl Hardware {
    pub fn of(board: &[Fact], telemetry: &[TelemetryBatch]) -> Hardware {
        let soc = fact(board, "board.compatible").and_then(|c| {
            c.split_whitespace()
                .filter_map(|e| e.strip_prefix("rockchip,"))
                .find(|s| s.starts_with("rk"))
                .map(str::to_ascii_uppercase)
        });
        let mut cores: Vec<&str> = telemetry
            .iter()
            .flat_map(|b| &b.series)
            .filter(|s| {
                s.key.starts_with("npu.load.core") && s.values.iter().any(|&v| v != NOT_READ)
            })
            .map(|s| s.key.as_str())
            .collect();
        cores.sort_unstable();
        cores.dedup();
        Hardware {
            board: fact(board, "board.model").map(str::to_string),
            soc,
            npu_cores: (!cores.is_empty()).then_some(cores.len()),
        }
    }
}

/// Σ counts, saturating.
fn total(counts: impl Iterator<Item = i64>) -> i64 {
    counts.fold(0, i64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenColumns;
    use crate::trace::{PerfStat, Series};

    fn ok(index: u32, dts: &[u32], end_ms: u64, perf: Option<PerfStat>) -> RequestRecord {
        RequestRecord {
            index,
            status: Status::Ok,
            tokens: TokenColumns {
                token_dt_us: dts.to_vec(),
                token_ids: vec![0; dts.len()],
                text_len: vec![1; dts.len()],
                text: vec![b'x'; dts.len()],
                ..TokenColumns::default()
            },
            prompt: "a prompt of 21 chars.".into(),
            end_us: end_ms * 1000,
            perf,
            ..Default::default()
        }
    }

    fn perf(pt: f32, pn: i32, gt: f32, gn: i32, mem: f32) -> Option<PerfStat> {
        Some(PerfStat {
            prefill_time_ms: pt,
            prefill_tokens: pn,
            generate_time_ms: gt,
            generate_tokens: gn,
            memory_usage_mb: mem,
        })
    }

    /// Three successful requests with runtime figures, one without, one timeout, one warm-up.
    fn run() -> Vec<RequestRecord> {
        let mut warm = ok(0, &[1000], 5, perf(1.0, 1, 1.0, 1, 9999.0));
        warm.warmup = true;
        let mut timeout = ok(5, &[2000, 300_000], 300_000, perf(2.0, 50, 9.0, 3, 6000.0));
        timeout.status = Status::Timeout;
        timeout.detail = "deadline 300 s".into();
        vec![
            warm,
            // Runtime: prefill 1000 ms for 30 tokens, generate 40 tokens in 10 000 ms, 5000 MB.
            ok(
                1,
                &[1_100_000, 250_000],
                11_200,
                perf(1000.0, 30, 10_000.0, 40, 5000.0),
            ),
            // prefill 1500 ms / 45 tokens, generate 90 in 30 000 ms, 5002 MB.
            ok(
                2,
                &[1_600_000],
                31_600,
                perf(1500.0, 45, 30_000.0, 90, 5002.0),
            ),
            // prefill 2000 ms / 60, generate 10 in 2 500 ms, 5004 MB.
            ok(3, &[2_100_000], 4_700, perf(2000.0, 60, 2500.0, 10, 5004.0)),
            // No runtime figures: TTFT = first token (800 ms), generate time = total − TTFT
            // = 2000 − 800 = 1200 ms, tokens = len // 4: prompt 21 chars → 5, response 3 → 0.
            ok(4, &[800_000, 100_000, 100_000], 2_000, None),
            timeout,
        ]
    }

    #[test]
    fn per_request_figures_follow_the_original() {
        let r = run();
        let a = OriginalRequest::of(&r[1]);
        // TTFT is the runtime's prefill time, not the wall-clock 1100 ms.
        assert_eq!(a.ttft_ms, 1000.0);
        // 40 / 10 000 ms × 1000 = 4 tok/s; 30 / 1000 ms × 1000 = 30 tok/s.
        assert_eq!(
            (a.tokens_per_second, a.input_tokens_per_second),
            (4.0, 30.0)
        );
        assert_eq!((a.total_time_ms, a.memory_usage_mb), (11_200.0, 5000.0));
        let d = OriginalRequest::of(&r[4]);
        assert_eq!((d.ttft_ms, d.generate_time_ms), (800.0, 1200.0));
        assert_eq!((d.input_tokens, d.output_tokens), (5, 0));
        assert_eq!((d.tokens_per_second, d.input_tokens_per_second), (0.0, 0.0));
        let t = OriginalRequest::of(&r[5]);
        assert!(!t.success);
        assert_eq!(t.error_message, "Request timed out (deadline 300 s)");
        assert_eq!((t.output_tokens, t.ttft_ms, t.total_time_ms), (0, 0.0, 0.0));
    }

    #[test]
    fn summary_follows_the_original() {
        let s = OriginalSummary::of(&run(), None, 1_608_000.0);
        // The warm-up is not a test; the timeout is a failed one.
        assert_eq!((s.total_requests, s.successful_requests), (5, 4));
        assert_eq!(s.success_rate_pct(), Some(80.0));
        // Average Speed: rates 4, 90/30 = 3, 10/2.5 = 4 (the fourth is 0 and left out):
        // mean 11/3 = 3.6667, median 4, min 3, max 4.
        let tps = s.tokens_per_second.unwrap();
        assert_eq!(tps.n, 3);
        assert!((tps.mean - 11.0 / 3.0).abs() < 1e-12);
        assert_eq!((tps.median, tps.min, tps.max), (4.0, 3.0, 4.0));
        // TTFT over all four successful: 1000, 1500, 2000, 800 → mean 1325, median
        // (1000 + 1500)/2 = 1250.
        let ttft = s.ttft_ms.unwrap();
        assert_eq!(
            (ttft.mean, ttft.median, ttft.min, ttft.max),
            (1325.0, 1250.0, 800.0, 2000.0)
        );
        // Input processing: 30, 45/1.5 = 30, 60/2 = 30 → mean 30.
        assert_eq!(s.input_tokens_per_second.unwrap().mean, 30.0);
        // Totals over successful requests: input 30 + 45 + 60 + 5 = 140; output 40 + 90 + 10
        // + 0 = 140; processed 280.
        assert_eq!(
            (s.total_input_tokens, s.total_output_tokens, s.total_tokens),
            (140, 140, 280)
        );
        // Average Output per Request divides by all 5 requests: 140 / 5 = 28.
        assert_eq!(s.avg_output_per_request(), Some(28.0));
        // Memory: mean of 5000, 5002, 5004 (0 left out) = 5002; not the timeout's 6000.
        let mem = s.memory_mb.unwrap();
        assert_eq!((mem.mean, mem.max), (5002.0, 5004.0));
        assert_eq!(s.longest().unwrap().index, 2);
        assert_eq!(s.duration_s, 1608.0);
    }

    /// A server request: a role chunk at 40 ms, text at 100 / 150 / 300 ms, a finish chunk at
    /// 310 ms; the stream ends (`[DONE]`) at 320 ms.
    fn served(timings: &[(&str, f64)], total: Option<u64>) -> (RequestRecord, ServerRequest) {
        use crate::trace::server::ServerTiming;
        let mut s = ServerRequest {
            index: 1,
            prompt: "twelve chars".into(),
            status: Status::Ok,
            finish_reason: "stop".into(),
            done_us: Some(320_000),
            server_total: total,
            server_total_field: "usage.completion_tokens".into(),
            // As the capture takes it: RKLLM's relayed prefill_tokens is the prompt count.
            prompt_tokens: timings
                .iter()
                .find(|(f, _)| *f == "usage.prefill_tokens")
                .map(|&(_, n)| n as u64),
            timings: timings
                .iter()
                .map(|&(f, raw)| ServerTiming {
                    field: f.into(),
                    raw,
                    unit: "ms".into(),
                })
                .collect(),
            ..Default::default()
        };
        for (t, k, text) in [
            (40_000, ChunkKind::Role, ""),
            (100_000, ChunkKind::Content, "abcd"),
            (150_000, ChunkKind::Content, "efgh"),
            (300_000, ChunkKind::Content, "ij"),
            (310_000, ChunkKind::Finish, "{}"),
        ] {
            s.push_chunk(t, 0, 0, k, None, text.as_bytes());
            if let Some(n) = s.chunk_tokens.last_mut() {
                *n = u32::from(k == ChunkKind::Content);
            }
        }
        (s.token_view(), s)
    }

    #[test]
    fn through_a_server_the_counters_are_the_servers() {
        // No count, no relayed perf: TTFT = the role chunk (40 ms, as the original's client
        // timed its first `data:` event), total = [DONE] 320 ms, generate = 280 ms; output =
        // len("abcdefghij") // 4 = 2, an estimate; input = len("twelve chars") // 4 = 3.
        let (v, s) = served(&[], None);
        let a = OriginalRequest::of_server(&v, &s);
        assert_eq!(
            (a.ttft_ms, a.total_time_ms, a.generate_time_ms),
            (40.0, 320.0, 280.0)
        );
        assert_eq!((a.input_tokens, a.output_tokens), (3, 2));
        assert_eq!(a.output_count, OutputCount::Estimate);
        assert!(!a.runtime_timing);
        // The server's count: 7 tokens / 280 ms = 25 tok/s.
        let (v, s) = served(&[], Some(7));
        let b = OriginalRequest::of_server(&v, &s);
        assert_eq!(b.output_tokens, 7);
        assert_eq!(b.tokens_per_second, 25.0);
        assert_eq!(
            b.output_count,
            OutputCount::Server("usage.completion_tokens".into())
        );
        // The original tool's server relays RKLLM's perf: TTFT = prefill 30 ms, 12 input
        // tokens → 400 tok/s; 7 tokens in 200 ms → 35 tok/s; memory 512 MB.
        let (v, s) = served(
            &[
                ("usage.prefill_time_ms", 30.0),
                ("usage.prefill_tokens", 12.0),
                ("usage.generate_time_ms", 200.0),
                ("usage.memory_usage_mb", 512.0),
            ],
            Some(7),
        );
        let c = OriginalRequest::of_server(&v, &s);
        assert_eq!(
            (c.ttft_ms, c.prefill_time_ms, c.generate_time_ms),
            (30.0, 30.0, 200.0)
        );
        assert_eq!(
            (c.input_tokens_per_second, c.tokens_per_second),
            (400.0, 35.0)
        );
        assert_eq!(c.memory_usage_mb, 512.0);
        assert!(c.runtime_timing);
        // The original tool's server since 806b3fb: only its word counts (3 words out, 5 in),
        // which rkbench's capture refused as tokens; the original's client took them.
        let (v, s) = served(
            &[
                ("usage.completion_tokens", 3.0),
                ("usage.prompt_tokens", 5.0),
            ],
            None,
        );
        let d = OriginalRequest::of_server(&v, &s);
        assert_eq!((d.output_tokens, d.input_tokens), (3, 5));
        assert_eq!(
            d.output_count,
            OutputCount::ServerWords("usage.completion_tokens".into())
        );
        let trace = ServerTrace {
            run: Default::default(),
            requests: vec![s],
        };
        let words = OriginalSummary::of(&[v], Some(&trace), 1000.0);
        assert_eq!(
            words.output_counts(),
            (
                0,
                vec!["the server's word count usage.completion_tokens, which the original took as tokens".to_string()]
            )
        );
        // In a summary: one estimated, one counted.
        let (mut v2, s2) = served(&[], None);
        v2.index = 2;
        let mut s2 = s2;
        s2.index = 2;
        let trace = ServerTrace {
            run: Default::default(),
            requests: vec![served(&[], Some(7)).1, s2],
        };
        let sum = OriginalSummary::of(&[served(&[], Some(7)).0, v2], Some(&trace), 1000.0);
        assert_eq!(sum.total_output_tokens, 7 + 2);
        assert_eq!(
            sum.output_counts(),
            (1, vec!["the server's usage.completion_tokens".to_string()])
        );
        assert!(!sum.counted_by_runtime());
        // Without its no-perf request the bare run is counted by the runtime alone.
        let bare: Vec<RequestRecord> = run().into_iter().filter(|r| r.index != 4).collect();
        assert!(OriginalSummary::of(&bare, None, 0.0).counted_by_runtime());
    }

    #[test]
    fn nothing_successful() {
        let mut r = run();
        r.retain(|x| x.status != Status::Ok || x.warmup);
        let s = OriginalSummary::of(&r, None, 0.0);
        assert_eq!((s.total_requests, s.successful_requests), (1, 0));
        assert!(s.tokens_per_second.is_none() && s.ttft_ms.is_none() && s.longest().is_none());
        assert_eq!(s.avg_output_per_request(), Some(0.0));
        let e = OriginalSummary::of(&[], None, 0.0);
        assert_eq!(
            (e.success_rate_pct(), e.avg_output_per_request()),
            (None, None)
        );
    }

    #[test]
    fn hardware_from_recorded_facts() {
        let board = vec![
            Fact {
                key: "board.model".into(),
                value: "Orange Pi 5 Max".into(),
            },
            Fact {
                key: "board.compatible".into(),
                value: "xunlong,orangepi-5-max rockchip,rk3588".into(),
            },
        ];
        let series = |k: &str, v: i64| Series {
            key: k.into(),
            unit: "%".into(),
            values: vec![v],
        };
        let tele = vec![TelemetryBatch {
            t_us: vec![0],
            series: vec![
                series("npu.load.core0", 10),
                series("npu.load.core1", 12),
                series("npu.load.core2", 0),
                series("npu.load.core3", NOT_READ),
                series("npu.freq", 1),
            ],
        }];
        let h = Hardware::of(&board, &tele);
        assert_eq!(h.board.as_deref(), Some("Orange Pi 5 Max"));
        assert_eq!(h.soc.as_deref(), Some("RK3588"));
        assert_eq!(h.npu_cores, Some(3));
        let none = Hardware::of(
            &[Fact {
                key: "board.model".into(),
                value: "unavailable (not present)".into(),
            }],
            &[],
        );
        assert_eq!(none, Hardware::default());
    }
}
