//! A trace as one level of load (docs/LOAD.md): what was offered, what completed, how long the
//! requests waited, and — across the levels of a sweep — where the server saturated.
//!
//! Every figure a peer also prints keeps that peer's one definition here: the duration and the
//! throughputs are vLLM's (`stats::throughput`), TTFT/TPOT/ITL/E2EL are vLLM's rows of
//! `stats::peers` (linear percentiles, as numpy). What is rkbench's own: the rejections (HTTP 503
//! answers, not waited out under load), the requests in flight, the client's send lateness, the
//! latencies from the intended send time for an open loop (wrk2's coordinated-omission
//! correction), and the queueing the server's own prefill time reveals.
//!
//! A trace without load records is a sequential run: one level, concurrency 1, each request
//! scheduled when it was sent, on stream 0.
use super::peers::{linear, vllm_successful, PeerMetric, US_TO_MS};
use super::significance::{self, Estimate, Stratum};
use super::throughput::{Slos, Throughput};
use super::warnings::Warning;
use crate::trace::load::{LoadMode, LoadRun};
use crate::trace::{RequestRecord, Status, Trace};

/// Warning codes of this module, in the order they are emitted.
pub const WARNING_CODES: [&str; 2] = ["load-client-late", "load-client-cpu"];

/// The send lateness p99 (ms) above which the client's own delay is a warning.
pub const LATE_P99_MS: f64 = 1.0;
/// rkbench's own CPU time over the level's duration above which it may be the bottleneck
/// (a fraction of one core).
pub const CLIENT_CPU_SHARE: f64 = 0.8;
/// A level holds while it completes at least this share of the rate offered to it.
pub const HOLD_SHARE: f64 = 0.95;

/// Mean, median and p99 of one latency (ms); `None` inside when no request has it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Trio {
    pub n: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p99: Option<f64>,
}

impl Trio {
    /// numpy's mean and linear percentiles of integer µs, converted to ms once at the end:
    /// `stats::peers`'s own statistics, so equal populations print equal digits.
    fn of_us(values: impl IntoIterator<Item = i64>) -> Trio {
        let s = linear(values.into_iter().map(|x| x as f64).collect(), 0, US_TO_MS);
        Trio {
            n: s.n,
            mean: s.mean,
            median: s.median,
            p99: s.p99,
        }
    }

    fn of_peer(m: Option<&PeerMetric>) -> Trio {
        m.map_or_else(Trio::default, |m| Trio {
            n: m.n,
            mean: m.mean,
            median: m.median,
            p99: m.p99,
        })
    }
}

/// One request's place in the load, times in ms since the level started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestLoad {
    pub index: u32,
    pub stream: u32,
    pub scheduled_ms: f64,
    pub sent_ms: f64,
}

/// One level of load: the figures of `load.levels[]` (docs/JSON.md).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadLevel {
    /// The mode as recorded (`sequential`, `concurrency`, `rate`, or what a later recorder
    /// names its levels); `sequential` without a level record.
    pub mode: String,
    pub concurrency: u32,
    /// Open loop: requests/s offered; `None` for a closed loop.
    pub rate_rps: Option<f64>,
    /// Open loop: `poisson` or `constant`.
    pub arrivals: Option<String>,
    pub burstiness: Option<f64>,
    pub seed: Option<u64>,
    /// Runtime instances of a bare run under load (0 = a server run).
    pub instances: u32,
    /// The level's origin on the run clock (µs): the level record's start, else the first
    /// request's start.
    pub start_us: u64,
    /// Measured requests that vLLM counts as completed (ok, at least one token).
    pub completed: usize,
    /// Measured requests that did not complete, rejections excluded.
    pub failed: usize,
    /// Measured requests the server refused with HTTP 503.
    pub rejected: usize,
    /// vLLM's benchmark duration: first measured request sent → last finished (s).
    pub duration_s: Option<f64>,
    pub request_throughput: Option<f64>,
    pub output_throughput: Option<f64>,
    pub total_token_throughput: Option<f64>,
    /// Requests/s meeting every `--goodput` SLO; `None` without SLOs.
    pub goodput: Option<f64>,
    pub ttft_ms: Trio,
    pub tpot_ms: Trio,
    pub itl_ms: Trio,
    pub e2el_ms: Trio,
    /// Σ time each measured request was in flight ÷ the duration: the time-weighted mean.
    pub in_flight_mean: Option<f64>,
    pub in_flight_max: u32,
    /// Requests in flight over time: (µs since `start_us`, count from then on), one point per
    /// change, in time order.
    pub in_flight: Vec<(i64, u32)>,
    /// sent − scheduled over the measured requests (ms): open loop, the client's lateness
    /// against its schedule; closed loop, its reaction time once a stream was free.
    pub send_lateness_p50_ms: Option<f64>,
    pub send_lateness_p99_ms: Option<f64>,
    /// Open loop only: TTFT and E2EL from the intended send time (wrk2's correction).
    pub ttft_from_scheduled_ms: Option<Trio>,
    pub e2el_from_scheduled_ms: Option<Trio>,
    /// TTFT − the server's own prefill time, where the server reports one.
    pub queue_ms: Option<Trio>,
    /// rkbench's own CPU time over the level (ms), when the recorder wrote it.
    pub client_cpu_ms: Option<f64>,
    /// One per request of the trace, in the trace's order.
    pub requests: Vec<RequestLoad>,
    /// vLLM's per-request TTFT, TPOT and E2EL (µs) of the successful requests, in trace
    /// order: the samples behind the medians, which `compare` of two sweeps tests.
    pub samples: LevelSamples,
}

/// The per-request latencies a level's medians are taken over (vLLM's successful requests;
/// TPOT only where a request has two tokens or more).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LevelSamples {
    pub ttft_us: Vec<f64>,
    pub tpot_us: Vec<f64>,
    pub e2el_us: Vec<f64>,
}

impl LoadLevel {
    pub fn is_open_loop(&self) -> bool {
        self.rate_rps.is_some()
    }

    /// Sequential: one request at a time, with the idle wait between them.
    pub fn is_sequential(&self) -> bool {
        LoadMode::parse(&self.mode) == LoadMode::Sequential && self.rate_rps.is_none()
    }

    /// How the level names itself in tables and charts: `concurrency=4`, `rate=2.5`,
    /// `sequential` (a mode a later recorder adds is shown with its figure).
    pub fn label(&self) -> String {
        match (self.mode.as_str(), self.rate_rps) {
            ("rate", Some(r)) => format!("rate={}", short(r)),
            ("concurrency", _) => format!("concurrency={}", self.concurrency),
            ("sequential", None) => "sequential".to_string(),
            (m, Some(r)) => format!("{m} rate={}", short(r)),
            (m, None) => format!("{m} concurrency={}", self.concurrency),
        }
    }

    /// Request `index`'s place in the load (the requests are in index order, as the reader
    /// gives them; a linear search covers any other order).
    pub fn request(&self, index: u32) -> Option<&RequestLoad> {
        match self.requests.binary_search_by_key(&index, |r| r.index) {
            Ok(i) => self.requests.get(i),
            Err(_) => self.requests.iter().find(|r| r.index == index),
        }
    }

    /// The key levels of two sweeps are matched by: equal offered load.
    pub fn key(&self) -> (String, u32, Option<u64>) {
        (
            self.mode.clone(),
            self.concurrency,
            self.rate_rps.map(f64::to_bits),
        )
    }
}

/// A rate as few digits as say it (2, 2.5, 0.125), never locale-dependent.
fn short(r: f64) -> String {
    let s = format!("{r:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// a − b in µs without overflow (a hostile trace may hold any u64).
fn diff_us(a: u64, b: u64) -> i64 {
    (i128::from(a) - i128::from(b)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn measured(r: &RequestRecord) -> bool {
    !r.warmup
}

/// The server's record of request `index`.
fn server_request(trace: &Trace, index: u32) -> Option<&crate::trace::server::ServerRequest> {
    trace.server.as_ref()?.request(index)
}

/// Whether request `index` was refused with HTTP 503 (a rejection under load, never retried).
fn rejected(trace: &Trace, index: u32) -> bool {
    server_request(trace, index).is_some_and(|r| r.http_status == 503 && r.status != Status::Ok)
}

/// The level a trace holds. `throughput` and `peers` are the trace's own (computed once by the
/// analysis), so every figure here has the one definition the rest of the report uses.
pub fn of(trace: &Trace, throughput: &Throughput, peers: &[PeerMetric]) -> LoadLevel {
    let run: Option<&LoadRun> = trace.load.run.as_ref();
    let reqs = &trace.requests;
    let first_start = reqs.iter().map(|r| r.start_us).min().unwrap_or(0);
    let start_us = run.map_or(first_start, |r| r.start_us);
    let mode = run
        .map(|r| r.mode.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| LoadMode::Sequential.as_str().to_string());
    let open = run.is_some_and(LoadRun::is_open_loop);
    // (scheduled, sent) on the run clock: a request without a send record was sent when due.
    let times = |r: &RequestRecord| {
        trace
            .load
            .of(r.index)
            .map_or((r.start_us, r.start_us), |s| (s.scheduled_us, s.sent_us))
    };
    let since = |t: u64| diff_us(t, start_us) as f64 / 1e3;
    let requests = reqs
        .iter()
        .map(|r| {
            let (sch, sent) = times(r);
            RequestLoad {
                index: r.index,
                stream: trace.load.stream_of(r.index),
                scheduled_ms: since(sch),
                sent_ms: since(sent),
            }
        })
        .collect();

    let meas: Vec<&RequestRecord> = reqs.iter().filter(|r| measured(r)).collect();
    let n_rejected = meas.iter().filter(|r| rejected(trace, r.index)).count();
    let completed = throughput.completed;
    let failed = meas.len().saturating_sub(completed + n_rejected);

    // In flight: each measured request from its send to its end. The integral of the count is
    // Σ (end − sent), so the time-weighted mean over the duration is exact.
    let mut events: Vec<(u64, i32)> = Vec::with_capacity(2 * meas.len());
    for r in &meas {
        events.push((r.start_us, 1));
        events.push((r.start_us.saturating_add(r.end_us), -1));
    }
    // An end before a start at the same instant: a closed loop's next request does not overlap
    // the one it follows.
    events.sort_by_key(|&(t, d)| (t, d));
    let mut in_flight: Vec<(i64, u32)> = Vec::new();
    let (mut now, mut max) = (0i64, 0u32);
    for (t, d) in events {
        now += i64::from(d);
        let c = u32::try_from(now.max(0)).unwrap_or(u32::MAX);
        max = max.max(c);
        let at = diff_us(t, start_us);
        match in_flight.last_mut() {
            Some(last) if last.0 == at => last.1 = c,
            _ => in_flight.push((at, c)),
        }
    }
    let busy_us: u64 = meas.iter().fold(0u64, |a, r| a.saturating_add(r.end_us));
    let in_flight_mean = throughput
        .duration_us
        .filter(|&d| d > 0)
        .map(|d| busy_us as f64 / d as f64);

    let lateness: Vec<i64> = meas
        .iter()
        .map(|r| {
            let (sch, sent) = times(r);
            diff_us(sent, sch)
        })
        .collect();
    // The p50 is the trio's median: one sort, one definition.
    let late = Trio::of_us(lateness);

    let ok = vllm_successful(reqs);
    let from_scheduled = |f: &dyn Fn(&super::peers::VllmRequest) -> u64| {
        Trio::of_us(ok.iter().map(|v| {
            let (sch, sent) = times(v.record);
            diff_us(sent, sch).saturating_add(i64::try_from(f(v)).unwrap_or(i64::MAX))
        }))
    };
    let (ttft_sched, e2el_sched) = if open {
        (
            Some(from_scheduled(&|v| v.ttft_us)),
            Some(from_scheduled(&|v| v.e2el_us)),
        )
    } else {
        (None, None)
    };

    let queue: Vec<i64> = trace.server.as_ref().map_or_else(Vec::new, |_| {
        ok.iter()
            .filter_map(|v| {
                let sr = server_request(trace, v.record.index)?;
                let (_, prefill_ms) = super::server::server_prefill_ms(sr)?;
                prefill_ms.is_finite().then(|| {
                    i64::try_from(v.ttft_us)
                        .unwrap_or(i64::MAX)
                        .saturating_sub((prefill_ms * 1e3).round() as i64)
                })
            })
            .collect()
    });
    let queue_ms = (!queue.is_empty()).then(|| Trio::of_us(queue));

    let vllm = |metric: &str| {
        Trio::of_peer(
            peers
                .iter()
                .find(|m| m.tool == "vLLM" && m.metric == metric),
        )
    };
    let client_cpu_ms = run.and_then(|r| {
        r.facts
            .iter()
            .find(|f| f.key == crate::trace::load::fact::CLIENT_CPU)
            .and_then(|f| f.value.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    });
    LoadLevel {
        mode,
        concurrency: run.map_or(1, |r| r.concurrency),
        rate_rps: open.then(|| run.map_or(0.0, |r| r.rate_rps)),
        arrivals: run
            .filter(|_| open)
            .map(|r| r.arrivals.clone())
            .filter(|a| !a.is_empty()),
        burstiness: run.filter(|_| open).map(|r| r.burstiness),
        seed: run.filter(|_| open).map(|r| r.seed),
        instances: run.map_or(0, |r| r.instances),
        start_us,
        completed,
        failed,
        rejected: n_rejected,
        duration_s: throughput.duration_us.map(|d| d as f64 / 1e6),
        request_throughput: throughput.request_per_s,
        output_throughput: throughput.output_tok_per_s,
        total_token_throughput: throughput.total_tok_per_s,
        goodput: throughput.goodput.as_ref().and_then(|g| g.per_s),
        ttft_ms: vllm("TTFT"),
        tpot_ms: vllm("TPOT"),
        itl_ms: vllm("ITL"),
        e2el_ms: vllm("E2EL"),
        in_flight_mean,
        in_flight_max: max,
        in_flight,
        send_lateness_p50_ms: late.median,
        send_lateness_p99_ms: late.p99,
        ttft_from_scheduled_ms: ttft_sched,
        e2el_from_scheduled_ms: e2el_sched,
        queue_ms,
        client_cpu_ms,
        requests,
        samples: LevelSamples {
            ttft_us: ok.iter().map(|v| v.ttft_us as f64).collect(),
            tpot_us: ok.iter().filter_map(|v| v.tpot_us).collect(),
            e2el_us: ok.iter().map(|v| v.e2el_us as f64).collect(),
        },
    }
}

/// The client's own warnings: late against its schedule, or busy enough to be the bottleneck.
/// A sequential level has neither (it waits for an idle server on purpose).
pub fn warnings(l: &LoadLevel) -> Vec<Warning> {
    let mut w = Vec::new();
    if l.is_sequential() {
        return w;
    }
    if let Some(p99) = l.send_lateness_p99_ms.filter(|&p| p > LATE_P99_MS) {
        let (what, fix) = if l.is_open_loop() {
            (
                "behind its schedule",
                "TTFT and E2EL from the scheduled time (ttft_from_scheduled_ms, e2el_from_scheduled_ms) include the delay; lower --rate or --max-concurrency, or record from a less loaded machine",
            )
        } else {
            (
                "slow to send a stream's next request",
                "record from a less loaded machine, or with fewer --concurrency streams",
            )
        };
        w.push(Warning {
            code: WARNING_CODES[0],
            message: format!(
                "the client was late: send lateness p99 {p99:.3} ms > {LATE_P99_MS} ms ({what}); latencies measured from the actual send understate what a user would see"
            ),
            fix: fix.into(),
            invalidates_comparison: false,
        });
    }
    if let (Some(cpu), Some(d)) = (l.client_cpu_ms, l.duration_s.filter(|&d| d > 0.0)) {
        let share = cpu / (d * 1e3);
        if share > CLIENT_CPU_SHARE {
            w.push(Warning {
                code: WARNING_CODES[1],
                message: format!(
                    "rkbench used {:.0} % of one CPU core over the level ({cpu:.0} ms in {d:.3} s): rkbench itself may be the bottleneck",
                    share * 100.0
                ),
                fix: "record from another machine than the server's, or offer less load (--concurrency, --rate)".into(),
                invalidates_comparison: false,
            });
        }
    }
    w
}

/// Where a set of levels saturated (`load.saturation`).
#[derive(Debug, Clone, PartialEq)]
pub struct Saturation {
    /// Index (into the levels given) of the highest level that held with every lower one
    /// holding; `None` when the lowest did not hold.
    pub level: Option<usize>,
    /// What ended it, at the first level that did not hold; or that none did.
    pub rule: String,
    /// How the offered rate was obtained.
    pub offered_basis: String,
    /// Per level (in the order given): requests/s offered, and whether it held.
    pub offered_rps: Vec<Option<f64>>,
    pub holds: Vec<bool>,
    /// The levels' indices in increasing offered rate (an unknown rate last; ties in the
    /// order given): the order they are judged in, and the order the curve joins them in.
    pub order: Vec<usize>,
}

impl Saturation {
    /// The saturation level among `levels` (the levels it was found over), if one held.
    pub fn at<'l>(&self, levels: &[&'l LoadLevel]) -> Option<&'l LoadLevel> {
        self.level.and_then(|i| levels.get(i).copied())
    }
}

/// The saturation point of the levels of one sweep (or of one trace: whether its level holds).
///
/// Offered rate: open loop, its `rate_rps`; closed loop, concurrency × 1 / mean E2EL at the
/// lowest-concurrency closed level (what N users would offer if each were served as one is);
/// a sequential level offers what it completes (it waits for an idle server between requests).
/// A level holds when it completes ≥ 95 % of the offered rate and, with a TTFT SLO, its p99
/// TTFT is within it. Levels are taken in increasing offered rate.
pub fn saturation(levels: &[&LoadLevel], slos: &Slos) -> Saturation {
    let base = levels
        .iter()
        .filter(|l| !l.is_open_loop())
        .min_by_key(|l| l.concurrency)
        .copied();
    let base_e2el_ms = base.and_then(|b| b.e2el_ms.mean).filter(|&m| m > 0.0);
    let offered_rps: Vec<Option<f64>> = levels
        .iter()
        .map(|l| match l.rate_rps {
            Some(r) => Some(r),
            None if l.is_sequential() => l.request_throughput,
            None => base_e2el_ms.map(|m| f64::from(l.concurrency) * 1e3 / m),
        })
        .collect();
    let closed = levels
        .iter()
        .any(|l| !l.is_open_loop() && !l.is_sequential());
    let open = levels.iter().any(|l| l.is_open_loop());
    let mut basis = Vec::new();
    if open {
        basis.push("open loop: the rate requested (rate_rps)".to_string());
    }
    if closed {
        basis.push(match (base, base_e2el_ms) {
            (Some(b), Some(m)) => format!(
                "closed loop: concurrency × 1 / mean E2EL at concurrency {} ({m:.3} ms), the rate that many users would offer if each were served as one is",
                b.concurrency
            ),
            _ => "closed loop: unknown (no request completed at the lowest concurrency, so there is no E2EL to offer from)".to_string(),
        });
    }
    if levels.iter().any(|l| l.is_sequential()) {
        basis.push(
            "sequential: what it completed (one request at a time, each when the server was idle)"
                .to_string(),
        );
    }
    let mut order: Vec<usize> = (0..levels.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| offered_rps[i].unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    let mut why: Vec<Option<String>> = vec![None; levels.len()];
    for (i, l) in levels.iter().enumerate() {
        let rate_fail = match (offered_rps[i], l.request_throughput) {
            _ if l.is_sequential() => None,
            (None, _) => Some("the offered rate is unknown".to_string()),
            (Some(_), None) => Some("no duration to rate completions over".to_string()),
            (Some(o), Some(c)) if c < HOLD_SHARE * o => Some(format!(
                "completed {c:.2} of {o:.2} offered requests/s ({:.0} %)",
                100.0 * c / o
            )),
            _ => None,
        };
        let slo_fail = slos.ttft_ms.and_then(|slo| match l.ttft_ms.p99 {
            None => Some(format!(
                "no request completed to hold the TTFT SLO {slo} ms"
            )),
            Some(p) if p > slo => Some(format!("p99 TTFT {p:.0} ms > SLO {slo} ms")),
            _ => None,
        });
        let reasons: Vec<String> = rate_fail.into_iter().chain(slo_fail).collect();
        if !reasons.is_empty() {
            why[i] = Some(reasons.join("; "));
        }
    }
    let mut level = None;
    let mut rule = None;
    for &i in &order {
        match &why[i] {
            None => level = Some(i),
            Some(w) => {
                rule = Some(format!("{} did not hold: {w}", levels[i].label()));
                break;
            }
        }
    }
    let rule = rule.unwrap_or_else(|| match levels.len() {
        0 => "no level".to_string(),
        1 => "the level held: not saturated at this load".to_string(),
        _ => "every level held: not saturated within the sweep".to_string(),
    });
    Saturation {
        level,
        rule,
        offered_basis: basis.join("; "),
        offered_rps,
        holds: why.iter().map(Option::is_none).collect(),
        order,
    }
}

/// One figure of a level in two sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureChange {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub base: Option<f64>,
    pub cand: Option<f64>,
    /// candidate ÷ baseline (`None` when either is absent or the baseline is 0).
    pub ratio: Option<f64>,
    /// For a median of per-request figures: the ratio's 95 % bootstrap interval and the
    /// permutation p of "one distribution" (`stats::significance`, the requests of each level
    /// pooled as one stratum, so its ratio is the ratio of the medians shown). `None` for a
    /// level aggregate (throughputs, p99, in flight, rejections): one number per level.
    pub test: Option<Estimate>,
}

/// A level both sweeps ran at the same offered load.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChange {
    pub label: String,
    /// Indices into each sweep's levels.
    pub base: usize,
    pub cand: usize,
    pub figures: Vec<FigureChange>,
}

/// Two sweeps level by level: the levels matched by (mode, concurrency, rate), and those only
/// one of them ran.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelComparison {
    pub matched: Vec<LevelChange>,
    pub only_base: Vec<String>,
    pub only_cand: Vec<String>,
}

/// A figure of a level: key, label, unit, how to read it, and for a median the per-request
/// samples it is the median of.
type Compared = (
    &'static str,
    &'static str,
    &'static str,
    fn(&LoadLevel) -> Option<f64>,
    Option<fn(&LoadLevel) -> &[f64]>,
);

/// The figures a level comparison shows, in order.
const COMPARED: [Compared; 9] = [
    (
        "request_throughput",
        "request throughput",
        "req/s",
        |l| l.request_throughput,
        None,
    ),
    (
        "output_throughput",
        "output throughput",
        "tok/s",
        |l| l.output_throughput,
        None,
    ),
    (
        "ttft_ms_median",
        "TTFT median",
        "ms",
        |l| l.ttft_ms.median,
        Some(|l| &l.samples.ttft_us),
    ),
    ("ttft_ms_p99", "TTFT p99", "ms", |l| l.ttft_ms.p99, None),
    (
        "tpot_ms_median",
        "TPOT median",
        "ms",
        |l| l.tpot_ms.median,
        Some(|l| &l.samples.tpot_us),
    ),
    (
        "e2el_ms_median",
        "E2EL median",
        "ms",
        |l| l.e2el_ms.median,
        Some(|l| &l.samples.e2el_us),
    ),
    ("e2el_ms_p99", "E2EL p99", "ms", |l| l.e2el_ms.p99, None),
    (
        "in_flight_mean",
        "in flight (mean)",
        "",
        |l| l.in_flight_mean,
        None,
    ),
    (
        "rejected",
        "rejected",
        "requests",
        |l| Some(l.rejected as f64),
        None,
    ),
];

/// Compare two sweeps at equal offered load: a baseline level and the candidate level of the
/// same (mode, concurrency, rate), each figure with candidate ÷ baseline, and each median with
/// its interval and p. The first level of a key in each sweep is the one compared.
///
/// The median's test pools a level's requests (one stratum, not one per test id as `compare`
/// of traces does), so its ratio is exactly the ratio of the two medians printed beside it.
/// Requests of one level wait in one queue, so they are not independent: the interval is a
/// lower bound on the spread a repeat of the sweep would show (docs/LOAD.md).
pub fn compare(base: &[&LoadLevel], cand: &[&LoadLevel]) -> LevelComparison {
    let mut matched = Vec::new();
    let mut only_base = Vec::new();
    let mut used = vec![false; cand.len()];
    for (bi, b) in base.iter().enumerate() {
        let found = cand
            .iter()
            .enumerate()
            .find(|(ci, c)| !used[*ci] && c.key() == b.key());
        let Some((ci, c)) = found else {
            only_base.push(b.label());
            continue;
        };
        used[ci] = true;
        let figures = COMPARED
            .iter()
            .map(|&(key, label, unit, f, samples)| {
                let (x, y) = (f(b), f(c));
                FigureChange {
                    key,
                    label,
                    unit,
                    base: x,
                    cand: y,
                    ratio: x.zip(y).filter(|(x, _)| *x != 0.0).map(|(x, y)| y / x),
                    test: samples.and_then(|s| {
                        let pooled = Stratum {
                            base: s(b).to_vec(),
                            cand: s(c).to_vec(),
                        };
                        significance::compare(&[pooled], significance::SEED)
                    }),
                }
            })
            .collect();
        matched.push(LevelChange {
            label: b.label(),
            base: bi,
            cand: ci,
            figures,
        });
    }
    let only_cand = cand
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(c, _)| c.label())
        .collect();
    LevelComparison {
        matched,
        only_base,
        only_cand,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::peers;
    use crate::stats::peers::fixture::req;
    use crate::stats::throughput;
    use crate::trace::load::{LoadRecords, RequestSent};
    use crate::trace::server::{ServerRequest, ServerTiming, ServerTrace};
    use crate::trace::Fact;

    fn trace(requests: Vec<RequestRecord>, run: Option<LoadRun>, sent: Vec<RequestSent>) -> Trace {
        let mut t = Trace {
            format_minor: 3,
            requests,
            load: LoadRecords { run, sent },
            ..Default::default()
        };
        for (i, r) in t.requests.iter_mut().enumerate() {
            r.index = i as u32;
        }
        t
    }

    fn level_of(t: &Trace, slos: &Slos) -> LoadLevel {
        of(
            t,
            &throughput::of(&t.requests, t.server.as_ref(), slos),
            &peers::of(&t.requests),
        )
    }

    fn closed(c: u32) -> LoadRun {
        LoadRun {
            mode: "concurrency".into(),
            concurrency: c,
            ..Default::default()
        }
    }

    /// A server with `k` slots and a fixed service time `s` ms (one token at the end), driven
    /// closed-loop by `c` streams for `rounds` requests per stream: request j of stream i is
    /// sent when the stream's previous one ended; it waits for a slot, then takes `s`.
    fn k_slots(k: usize, c: usize, per_stream: usize, s: u64) -> Trace {
        let mut slot_free = vec![0u64; k];
        let mut stream_free = vec![0u64; c];
        let mut reqs = Vec::new();
        let mut sent = Vec::new();
        for _round in 0..per_stream {
            for (i, free) in stream_free.iter_mut().enumerate() {
                let send = *free;
                let (si, &slot) = slot_free
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &t)| t)
                    .unwrap();
                let begin = slot.max(send);
                let done = begin + s;
                slot_free[si] = done;
                *free = done;
                let mut r = req(Status::Ok, 0, &[(done - send) as f64], 0, 10);
                r.start_us = send * 1000;
                sent.push(RequestSent {
                    index: reqs.len() as u32,
                    stream: i as u32,
                    scheduled_us: send * 1000,
                    sent_us: send * 1000,
                });
                reqs.push(r);
            }
        }
        trace(reqs, Some(closed(c as u32)), sent)
    }

    fn close(got: Option<f64>, want: f64) {
        let g = got.expect("a value");
        assert!((g - want).abs() < 1e-6, "got {g}, want {want}");
    }

    #[test]
    fn k_slots_scale_until_k_streams_then_queue() {
        // K = 2 slots of 100 ms. One stream: 10 req/s; two: 20; four: still 20, and each
        // request waits one service time for a slot, so TTFT doubles.
        let (l1, l2, l4) = (
            level_of(&k_slots(2, 1, 8, 100), &Slos::default()),
            level_of(&k_slots(2, 2, 8, 100), &Slos::default()),
            level_of(&k_slots(2, 4, 8, 100), &Slos::default()),
        );
        close(l1.request_throughput, 10.0);
        close(l2.request_throughput, 20.0);
        close(l4.request_throughput, 20.0);
        close(l1.ttft_ms.median, 100.0);
        close(l2.ttft_ms.median, 100.0);
        close(l4.ttft_ms.median, 200.0);
        assert_eq!(
            (l1.in_flight_max, l2.in_flight_max, l4.in_flight_max),
            (1, 2, 4)
        );
        // Four in flight until streams 0 and 1 finish their eighth request at 1500 ms, two for
        // the last 100 ms: (4 · 1500 + 2 · 100) / 1600 = 3.875.
        close(l4.in_flight_mean, 3.875);
        assert_eq!(l4.completed, 32);
        // Saturation: the offered rate of c streams is c / 100 ms; 4 streams offer 40 req/s and
        // complete 20.
        let s = saturation(&[&l1, &l2, &l4], &Slos::default());
        assert_eq!(s.level, Some(1));
        assert_eq!(s.holds, vec![true, true, false]);
        assert_eq!(
            s.rule,
            "concurrency=4 did not hold: completed 20.00 of 40.00 offered requests/s (50 %)"
        );
        assert!(s.offered_basis.contains("concurrency 1 (100.000 ms)"));
        // With a TTFT SLO of 150 ms, two streams still hold; the 4-stream level fails both
        // rules, named together.
        let slo = Slos::parse("ttft:150").unwrap();
        let s = saturation(&[&l4, &l1, &l2], &slo);
        assert_eq!(s.level, Some(2));
        assert!(
            s.rule.ends_with("(50 %); p99 TTFT 200 ms > SLO 150 ms"),
            "{}",
            s.rule
        );
    }

    #[test]
    fn sweeps_compare_level_by_level_at_equal_offered_load() {
        // Baseline: 2 slots at c = 1, 2, 4; candidate: 4 slots at c = 2, 4, 8.
        let b: Vec<LoadLevel> = [1, 2, 4]
            .iter()
            .map(|&c| level_of(&k_slots(2, c, 4, 100), &Slos::default()))
            .collect();
        let c: Vec<LoadLevel> = [2, 4, 8]
            .iter()
            .map(|&c| level_of(&k_slots(4, c, 4, 100), &Slos::default()))
            .collect();
        let cmp = compare(&b.iter().collect::<Vec<_>>(), &c.iter().collect::<Vec<_>>());
        let labels: Vec<&str> = cmp.matched.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["concurrency=2", "concurrency=4"]);
        assert_eq!((cmp.matched[1].base, cmp.matched[1].cand), (2, 1));
        assert_eq!(cmp.only_base, ["concurrency=1"]);
        assert_eq!(cmp.only_cand, ["concurrency=8"]);
        // At four streams twice the slots double the throughput and halve the median TTFT.
        let f = |key: &str| {
            cmp.matched[1]
                .figures
                .iter()
                .find(|f| f.key == key)
                .unwrap()
                .ratio
        };
        close(f("request_throughput"), 2.0);
        close(f("ttft_ms_median"), 0.5);
        assert_eq!(f("rejected"), None);
        // A median is tested: its pooled estimate is the ratio of the printed medians, inside
        // its interval, and significant here; an aggregate is one number a level, untested.
        let test = |key: &str| {
            cmp.matched[1]
                .figures
                .iter()
                .find(|f| f.key == key)
                .unwrap()
                .test
        };
        // One token a request here: no TPOT, so nothing to test either.
        assert_eq!((f("tpot_ms_median"), test("tpot_ms_median")), (None, None));
        for key in ["ttft_ms_median", "e2el_ms_median"] {
            let e = test(key).unwrap_or_else(|| panic!("{key} untested"));
            close(Some(e.ratio), f(key).unwrap());
            let (lo, hi) = e.ci.unwrap();
            assert!(lo <= e.ratio && e.ratio <= hi, "{key}: {e:?}");
        }
        let ttft = test("ttft_ms_median").unwrap();
        assert!(ttft.ci.unwrap().1 < 1.0, "{ttft:?}");
        // The p is the permutation test's over the samples: two clearly apart are significant.
        let mut x = b[0].clone();
        x.samples.ttft_us = (1..=20).map(|i| 1000.0 + f64::from(i)).collect();
        let mut y = x.clone();
        y.samples.ttft_us = (1..=20).map(|i| 2000.0 + f64::from(i)).collect();
        let apart = compare(&[&x], &[&y]).matched[0].figures[2].test.unwrap();
        assert!(apart.significant() && apart.p_value < 0.001, "{apart:?}");
        close(Some(apart.ratio), 2010.5 / 1010.5);
        for key in [
            "request_throughput",
            "ttft_ms_p99",
            "in_flight_mean",
            "rejected",
        ] {
            assert_eq!(test(key), None, "{key}");
        }
        // A level against itself: ratio 1, nothing significant.
        let same = compare(&[&b[2]], &[&b[2]]);
        for f in same.matched[0].figures.iter().filter_map(|f| f.test) {
            close(Some(f.ratio), 1.0);
            assert!(!f.significant(), "{f:?}");
        }
    }

    #[test]
    fn levels_are_judged_and_joined_in_increasing_offered_rate() {
        // Given out of order (4, 1, 2 streams): offered = N / mean E2EL at 1 stream.
        let l: Vec<LoadLevel> = [4, 1, 2]
            .iter()
            .map(|&c| level_of(&k_slots(2, c, 4, 100), &Slos::default()))
            .collect();
        let s = saturation(&l.iter().collect::<Vec<_>>(), &Slos::default());
        assert_eq!(s.order, [1, 2, 0]);
        assert_eq!(s.holds, [false, true, true]);
        assert_eq!(s.level, Some(2), "{}", s.rule);
        assert!(
            s.rule.starts_with("concurrency=4 did not hold"),
            "{}",
            s.rule
        );
    }

    #[test]
    fn the_slo_rule_alone_ends_a_sweep() {
        let l1 = level_of(&k_slots(2, 1, 4, 100), &Slos::default());
        let l2 = level_of(&k_slots(2, 2, 4, 100), &Slos::default());
        let s = saturation(&[&l1, &l2], &Slos::parse("ttft:50").unwrap());
        assert_eq!(s.level, None);
        assert_eq!(
            s.rule,
            "concurrency=1 did not hold: p99 TTFT 100 ms > SLO 50 ms"
        );
        let s = saturation(&[&l1, &l2], &Slos::parse("ttft:100").unwrap());
        assert_eq!(s.level, Some(1));
        assert_eq!(s.rule, "every level held: not saturated within the sweep");
        let s = saturation(&[&l2], &Slos::default());
        assert_eq!(s.rule, "the level held: not saturated at this load");
    }

    #[test]
    fn hostile_times_give_figures_not_panics() {
        let mut reqs = vec![
            req(Status::Ok, 0, &[5.0], 0, 1),
            req(Status::Ok, 0, &[5.0], 0, 1),
        ];
        reqs[0].start_us = u64::MAX - 1;
        reqs[0].end_us = u64::MAX;
        reqs[1].start_us = 0;
        let sent = vec![RequestSent {
            index: 1,
            stream: u32::MAX,
            scheduled_us: u64::MAX,
            sent_us: 0,
        }];
        let run = LoadRun {
            mode: "rate".into(),
            rate_rps: 1e300,
            start_us: u64::MAX / 2,
            facts: vec![Fact {
                key: crate::trace::load::fact::CLIENT_CPU.into(),
                value: "NaN".into(),
            }],
            ..Default::default()
        };
        let mut t = trace(reqs, Some(run), sent);
        t.server = Some(ServerTrace {
            requests: vec![ServerRequest {
                index: 1,
                timings: vec![ServerTiming {
                    field: "timings.prompt_ms".into(),
                    raw: -1e300,
                    unit: "ms".into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let l = level_of(&t, &Slos::default());
        assert_eq!(l.client_cpu_ms, None);
        assert!(l.send_lateness_p50_ms.is_some());
        let _ = warnings(&l);
        let _ = saturation(&[&l, &l], &Slos::parse("ttft:1").unwrap());
    }

    #[test]
    fn in_flight_mean_is_time_weighted_and_exact() {
        // A [0, 300), B [100, 200), C [250, 400) ms: in flight 1, 2, 1, 2, 1 over 100, 100,
        // 50, 50, 100 ms → (100 + 200 + 50 + 100 + 100) / 400 = 1.375; at most 2.
        let mk = |start: u64, dur: f64| {
            let mut r = req(Status::Ok, start, &[dur], 0, 1);
            r.start_us = start * 1000;
            r
        };
        let t = trace(
            vec![mk(0, 300.0), mk(100, 100.0), mk(250, 150.0)],
            Some(closed(2)),
            vec![],
        );
        let l = level_of(&t, &Slos::default());
        close(l.in_flight_mean, 1.375);
        assert_eq!(l.in_flight_max, 2);
        assert_eq!(
            l.in_flight,
            vec![
                (0, 1),
                (100_000, 2),
                (200_000, 1),
                (250_000, 2),
                (300_000, 1),
                (400_000, 0)
            ]
        );
    }

    #[test]
    fn rejections_are_not_failures() {
        let mut reqs = vec![
            req(Status::Ok, 0, &[10.0, 5.0], 0, 4),
            req(Status::Error, 0, &[], 0, 0),
            req(Status::Timeout, 0, &[10.0], 0, 4),
        ];
        reqs[1].start_us = 1000;
        reqs[1].end_us = 2000;
        let mut t = trace(reqs, Some(closed(2)), vec![]);
        t.server = Some(ServerTrace {
            requests: vec![ServerRequest {
                index: 1,
                status: Status::Error,
                http_status: 503,
                ..Default::default()
            }],
            ..Default::default()
        });
        let l = level_of(&t, &Slos::default());
        assert_eq!((l.completed, l.failed, l.rejected), (1, 1, 1));
        // A 503 that ended ok (impossible, but crafted) is not a rejection.
        t.server.as_mut().unwrap().requests[0].status = Status::Ok;
        let l = level_of(&t, &Slos::default());
        assert_eq!((l.failed, l.rejected), (2, 0));
    }

    #[test]
    fn open_loop_lateness_and_latency_from_the_schedule() {
        // Rate 10/s: scheduled at 0, 100, 200, 300 ms; sent 0, 101, 205, 300 ms (lateness
        // 0, 1, 5, 0). TTFT 50 ms each, E2EL 60 ms.
        let sched = [0u64, 100, 200, 300];
        let sent = [0u64, 101, 205, 300];
        let reqs: Vec<RequestRecord> = sent
            .iter()
            .map(|&s| {
                let mut r = req(Status::Ok, 0, &[50.0, 10.0], 0, 3);
                r.start_us = 5_000_000 + s * 1000;
                r
            })
            .collect();
        let recs = (0..4)
            .map(|i| RequestSent {
                index: i as u32,
                stream: i as u32 % 2,
                scheduled_us: 5_000_000 + sched[i] * 1000,
                sent_us: 5_000_000 + sent[i] * 1000,
            })
            .collect();
        let run = LoadRun {
            mode: "rate".into(),
            rate_rps: 10.0,
            arrivals: "constant".into(),
            start_us: 5_000_000,
            ..Default::default()
        };
        let t = trace(reqs, Some(run), recs);
        let l = level_of(&t, &Slos::default());
        assert!(l.is_open_loop());
        // Lateness sorted 0, 0, 1, 5 ms: p50 = 0.5, p99 = 1 + 0.97 · 4 = 4.88.
        close(l.send_lateness_p50_ms, 0.5);
        close(l.send_lateness_p99_ms, 4.88);
        let ts = l.ttft_from_scheduled_ms.unwrap();
        close(ts.mean, 51.5);
        close(ts.median, 50.5);
        close(l.e2el_from_scheduled_ms.unwrap().mean, 61.5);
        close(l.ttft_ms.mean, 50.0);
        assert_eq!(l.requests[2].stream, 0);
        close(Some(l.requests[2].scheduled_ms), 200.0);
        close(Some(l.requests[2].sent_ms), 205.0);
        assert_eq!(l.label(), "rate=10");
        let w = warnings(&l);
        assert_eq!(w.len(), 1);
        assert!(w[0]
            .message
            .starts_with("the client was late: send lateness p99 4.880 ms"));
        // Saturation of an open loop: offered = rate; 4 completed over 360 ms is 11.1/s ≥ 9.5.
        let s = saturation(&[&l], &Slos::default());
        assert_eq!(s.level, Some(0));
        assert_eq!(s.offered_rps, vec![Some(10.0)]);
    }

    #[test]
    fn a_trace_without_load_records_is_one_sequential_level() {
        let mut reqs = vec![
            req(Status::Ok, 0, &[20.0, 10.0], 0, 3),
            req(Status::Ok, 0, &[20.0, 10.0], 0, 3),
        ];
        reqs[0].start_us = 1_000_000;
        reqs[1].start_us = 2_000_000;
        let t = trace(reqs, None, vec![]);
        let l = level_of(&t, &Slos::default());
        assert_eq!(
            (l.mode.as_str(), l.concurrency, l.rate_rps),
            ("sequential", 1, None)
        );
        assert!(l.is_sequential());
        close(l.send_lateness_p99_ms, 0.0);
        assert_eq!(l.ttft_from_scheduled_ms, None);
        assert_eq!(l.queue_ms, None);
        close(Some(l.requests[1].sent_ms), 1000.0);
        assert_eq!(l.requests[1].stream, 0);
        assert!(warnings(&l).is_empty());
        // Sequential offers what it completes: it holds unless an SLO fails.
        let s = saturation(&[&l], &Slos::default());
        assert_eq!(s.level, Some(0));
        assert!(s.offered_basis.starts_with("sequential"));
        let s = saturation(&[&l], &Slos::parse("ttft:10").unwrap());
        assert_eq!(s.level, None);
        assert_eq!(
            s.rule,
            "sequential did not hold: p99 TTFT 20 ms > SLO 10 ms"
        );
    }

    #[test]
    fn queueing_is_ttft_minus_the_servers_prefill() {
        let reqs = vec![
            req(Status::Ok, 0, &[120.0], 0, 3),
            req(Status::Ok, 0, &[300.0], 0, 3),
        ];
        let mut t = trace(reqs, Some(closed(2)), vec![]);
        let sr = |index, ms| ServerRequest {
            index,
            timings: vec![ServerTiming {
                field: "timings.prompt_ms".into(),
                raw: ms,
                unit: "ms".into(),
            }],
            ..Default::default()
        };
        t.server = Some(ServerTrace {
            requests: vec![sr(0, 100.0), sr(1, 100.0)],
            ..Default::default()
        });
        let q = level_of(&t, &Slos::default()).queue_ms.unwrap();
        assert_eq!(q.n, 2);
        close(q.mean, 110.0);
        close(q.median, 110.0);
    }

    #[test]
    fn a_busy_client_is_a_warning_and_an_absent_fact_is_none() {
        let mut reqs = vec![req(Status::Ok, 0, &[500.0], 500, 3)];
        reqs[0].start_us = 0;
        let mut run = closed(1);
        run.facts = vec![Fact {
            key: crate::trace::load::fact::CLIENT_CPU.into(),
            value: "900".into(),
        }];
        let t = trace(reqs.clone(), Some(run), vec![]);
        let l = level_of(&t, &Slos::default());
        close(l.client_cpu_ms, 900.0);
        let w = warnings(&l);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "load-client-cpu");
        assert!(
            w[0].message.contains("90 % of one CPU core"),
            "{}",
            w[0].message
        );
        let t = trace(reqs, Some(closed(1)), vec![]);
        let l = level_of(&t, &Slos::default());
        assert_eq!(l.client_cpu_ms, None);
        assert!(warnings(&l).is_empty());
    }
}
