//! Warnings about the conditions a run was measured under, in the spirit of hyperfine's: each
//! names the cause found in the trace and the command that fixes it.
//!
//! Why: RK3588 figures differ by 2× between boards mostly because of board state, not the model
//! (DDR/DMC clock, governors, heat; see docs/field-notes.md §4). A report that prints tok/s without
//! saying "your DDR had no DVFS and the NPU throttled" invites wrong comparisons. Everything here
//! is a pure function of the trace (header board facts, telemetry, per-request metrics), and the
//! warnings come in a fixed order, so the same trace always gives the same list.
//!
//! Evidence rules: a warning fires only on evidence in the trace. No board facts (an old trace,
//! a hand-made one) means no board warnings; Rockchip-specific ones (DMC, NPU load access) need
//! `board.compatible` to say `rockchip`.
use super::request::RequestMetrics;
use super::telemetry::{self, Timeline, NOT_READ};
use super::Summary;
use crate::trace::vocab;
use crate::trace::{Fact, RequestRecord, Status, Trace};
use std::ops::Range;

/// One warning: what was found, how to fix it, and whether it makes the run's figures
/// unfit for comparison with runs made under other conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Stable identifier (see [`CODES`]).
    pub code: &'static str,
    /// The cause, with the evidence (values, requests, times).
    pub message: String,
    /// What to do about it, with the command where there is one.
    pub fix: String,
    /// The figures depend on a board state another run may not share.
    pub invalidates_comparison: bool,
}

/// Every code, in the order warnings are emitted.
pub const CODES: [&str; 9] = [
    "cpu-governor",
    "npu-not-max",
    "dmc-missing",
    "dmc-not-max",
    "throttling",
    "hot",
    "npu-load-low",
    "npu-load-unavailable",
    "first-request-outlier",
];

/// Above this (m°C) a zone is reported as hot. RK3588 kernels start passive cooling (throttling)
/// around 85 °C, so 80 °C leaves a margin.
pub const HOT_MC: i64 = 80_000;
/// A sampled frequency below this fraction of the run's highest counts as a drop.
pub const FREQ_DROP: f64 = 0.95;
/// Decode this much slower (ratio of mean ITL) counts as a decode-rate drop.
pub const DECODE_DROP: f64 = 1.10;
/// Mean NPU load during decode below this (%) suggests memory-bound decode.
pub const LOW_NPU_LOAD: f64 = 50.0;
/// The first request is an outlier when its TTFT or decode rate is this many times off the
/// median of the rest.
pub const OUTLIER_RATIO: f64 = 2.0;

/// Warnings for a trace.
pub fn of(trace: &Trace, s: &Summary) -> Vec<Warning> {
    let tl = Timeline::of(&trace.telemetry);
    compute(&trace.header.board, &tl, &trace.requests, &s.metrics)
}

/// Warnings from the parts of a trace (requests and metrics in the same order).
pub(crate) fn compute(
    board: &[Fact],
    tl: &Timeline,
    reqs: &[RequestRecord],
    metrics: &[RequestMetrics],
) -> Vec<Warning> {
    let b = Board(board);
    let measured: Vec<(&RequestRecord, &RequestMetrics)> = reqs
        .iter()
        .zip(metrics)
        .filter(|(r, _)| !r.warmup)
        .collect();
    let windows: Vec<Range<usize>> = measured
        .iter()
        .map(|(r, _)| tl.window(r.start_us, r.start_us.saturating_add(r.end_us)))
        .collect();
    let mut w = Vec::new();
    w.extend(cpu_governor(&b));
    w.extend(devfreq_not_max(&b, tl, &measured, &windows, &NPU));
    w.extend(dmc_missing(&b));
    w.extend(devfreq_not_max(&b, tl, &measured, &windows, &DMC));
    w.extend(throttling(&b, tl, &measured));
    w.extend(hot(tl));
    w.extend(npu_load_low(&b, tl, &measured));
    w.extend(npu_load_unavailable(&b));
    w.extend(first_request_outlier(&measured));
    w
}

struct Board<'a>(&'a [Fact]);

impl Board<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str())
    }

    /// The value if it was read (not `unavailable (…)`).
    fn ok(&self, key: &str) -> Option<&str> {
        self.get(key)
            .filter(|v| vocab::unavailable_reason(v).is_none())
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.ok(key).and_then(|v| v.trim().parse().ok())
    }

    fn is_rockchip(&self) -> bool {
        self.ok("board.compatible")
            .is_some_and(|c| c.contains("rockchip"))
    }

    /// A frequency source is trusted to sit at max: its governor is `performance` or unknown.
    fn pinned(&self, governor_key: &str) -> bool {
        performance_or_unknown(self.ok(governor_key))
    }
}

fn performance_or_unknown(gov: Option<&str>) -> bool {
    gov.map_or(true, |g| g == "performance")
}

fn mhz(v: i64, unit: &str) -> String {
    let m = match unit {
        "kHz" => v as f64 / 1e3,
        "MHz" => v as f64,
        _ => v as f64 / 1e6,
    };
    format!("{m:.0} MHz")
}

fn cpu_governor(b: &Board) -> Option<Warning> {
    let mut bad: Vec<(String, String)> =
        b.0.iter()
            .filter_map(|f| {
                let p = f.key.strip_prefix("cpu.")?.strip_suffix(".governor")?;
                let g = b.ok(&f.key)?;
                (g != "performance").then(|| (p.to_string(), g.to_string()))
            })
            .collect();
    bad.sort();
    if bad.is_empty() {
        return None;
    }
    let message = if bad.len() == 1 {
        format!(
            "CPU {} governor is {}, not performance: frequencies change under load.",
            bad[0].0, bad[0].1
        )
    } else {
        let list: Vec<String> = bad.iter().map(|(p, g)| format!("{p} {g}")).collect();
        format!(
            "CPU governors are not performance ({}): frequencies change under load.",
            list.join(", ")
        )
    };
    Some(Warning {
        code: "cpu-governor",
        message,
        fix: "echo performance | sudo tee /sys/devices/system/cpu/cpufreq/policy*/scaling_governor"
            .into(),
        invalidates_comparison: true,
    })
}

/// A devfreq device the "not at its max" warning watches: its header facts' prefix, its
/// telemetry series, its name, the warning's code and its sysfs directory.
struct Dev {
    fact: &'static str,
    series: &'static str,
    name: &'static str,
    code: &'static str,
    sysfs: &'static str,
}

const NPU: Dev = Dev {
    fact: "npu",
    series: "npu.freq",
    name: "NPU",
    code: "npu-not-max",
    sysfs: "/sys/class/devfreq/*npu",
};

const DMC: Dev = Dev {
    fact: "dmc",
    series: "dmc.freq",
    name: "DMC (DDR memory)",
    code: "dmc-not-max",
    sysfs: "/sys/class/devfreq/dmc",
};

/// NPU or DMC below its max: from telemetry during the measured requests when there is any,
/// else from the header (governor, and the frequency when the run started).
fn devfreq_not_max(
    b: &Board,
    tl: &Timeline,
    measured: &[(&RequestRecord, &RequestMetrics)],
    windows: &[Range<usize>],
    dev: &Dev,
) -> Option<Warning> {
    let f = dev.fact;
    let gov = b.ok(&format!("{f}.governor"));
    let max = b.int(&format!("{f}.max_hz"));
    let cur = b.int(&format!("{f}.cur_hz"));
    if gov.is_none() && max.is_none() {
        return None;
    }
    let unit = "Hz";
    // Lowest value sampled during a measured request, and where.
    let mut low: Option<(i64, &str)> = None;
    if let Some(c) = tl.column(dev.series) {
        for ((r, _), w) in measured.iter().zip(windows) {
            for &v in &c.values[w.clone()] {
                if v != NOT_READ && low.map_or(true, |(lo, _)| v < lo) {
                    low = Some((v, r.test_id.as_str()));
                }
            }
        }
    }
    let gov_txt = gov.map(|g| format!("governor {g}")).unwrap_or_default();
    let (evidence, fire) = match (low, max) {
        (Some((lo, id)), Some(max)) => (
            format!(
                "it ran as low as {} (max {}) during the measured requests (lowest in {id}){}",
                mhz(lo, unit),
                mhz(max, unit),
                if gov_txt.is_empty() {
                    String::new()
                } else {
                    format!("; {gov_txt}")
                }
            ),
            lo < max,
        ),
        (Some(_), None) => (String::new(), false),
        (None, _) => {
            let mut e = Vec::new();
            if let Some(g) = gov.filter(|g| *g != "performance") {
                e.push(format!("governor is {g}, not performance"));
            }
            if let (Some(c), Some(m)) = (cur, max) {
                if c < m {
                    e.push(format!(
                        "it was at {} of {} when the run started",
                        mhz(c, unit),
                        mhz(m, unit)
                    ));
                }
            }
            let fire = !e.is_empty();
            (
                format!(
                    "{} (no telemetry during the requests, so the clock under load is unknown)",
                    e.join("; ")
                ),
                fire,
            )
        }
    };
    if !fire {
        return None;
    }
    let fix = if performance_or_unknown(gov) {
        format!(
            "The governor is already performance, so something capped the clock (thermal throttling or a lowered max_freq): improve cooling, check {}/max_freq, and re-run.",
            dev.sysfs
        )
    } else {
        format!("echo performance | sudo tee {}/governor", dev.sysfs)
    };
    Some(Warning {
        code: dev.code,
        message: format!(
            "{} is not at its maximum frequency: {evidence}. A lower clock slows every token, so these figures are not comparable with full-clock runs.",
            dev.name
        ),
        fix,
        invalidates_comparison: true,
    })
}

fn dmc_missing(b: &Board) -> Option<Warning> {
    if !b.is_rockchip() {
        return None;
    }
    let v = b.get("dmc.cur_hz")?;
    let missing = v.starts_with("unavailable")
        && (v.contains("not present") || v.contains("no devfreq device"));
    missing.then(|| Warning {
        code: "dmc-missing",
        message: "No DMC devfreq device (/sys/class/devfreq/dmc): this firmware has no DDR frequency scaling, so the DDR runs at whatever clock the bootloader set, often below its 2112 MHz maximum. LLM decode is memory-bound, and this is the usual cause of results at 0.5–0.8× published figures.".into(),
        fix: "Use a bootloader/kernel with DMC DVFS enabled (the vendor 6.1 BSP images have it), then pin it: echo performance | sudo tee /sys/class/devfreq/dmc/governor. Otherwise state the DDR clock with the results.".into(),
        invalidates_comparison: true,
    })
}

/// A throttled request: which series dropped, to what, when, and how decode changed.
struct Throttled {
    id: String,
    key: String,
    low: i64,
    high: i64,
    unit: String,
    at_us: u64,
    decode: String,
}

/// A frequency drop during a request (below [`FREQ_DROP`] × the series' run maximum) that
/// coincides with slower decode: either decode right after the drop is [`DECODE_DROP`]× slower
/// than right before it, or the request decoded slower than the median of the requests that
/// saw no drop. Only sources whose governor is `performance` (or unknown) count: under another
/// governor a lower clock is the governor's doing, reported by `cpu-governor` / `*-not-max`.
fn throttling(
    b: &Board,
    tl: &Timeline,
    measured: &[(&RequestRecord, &RequestMetrics)],
) -> Option<Warning> {
    let sources: Vec<(&telemetry::Column, i64)> = tl
        .columns
        .iter()
        .filter(|c| {
            let gov = if c.key == "npu.freq" {
                "npu.governor".to_string()
            } else if c.key == "dmc.freq" {
                "dmc.governor".to_string()
            } else if let Some(p) = c
                .key
                .strip_prefix("cpu.")
                .and_then(|k| k.strip_suffix(".freq"))
            {
                format!("cpu.{p}.governor")
            } else {
                return false;
            };
            b.pinned(&gov)
        })
        .filter_map(|c| {
            let max = c.values.iter().copied().filter(|&v| v != NOT_READ).max()?;
            Some((c, max))
        })
        .collect();
    if sources.is_empty() {
        return None;
    }
    // First sample in the window where any pinned source is low: (t_us, column, value, max).
    let first_drop = |r: &RequestRecord| {
        let w = tl.window(r.start_us, r.start_us.saturating_add(r.end_us));
        w.clone().find_map(|i| {
            sources.iter().find_map(|(c, max)| {
                let v = c.values[i];
                (v != NOT_READ && (v as f64) < FREQ_DROP * *max as f64)
                    .then(|| (tl.t_us[i], *c, v, *max))
            })
        })
    };
    let drops: Vec<_> = measured.iter().map(|(r, _)| first_drop(r)).collect();
    let clean = super::aggregate::sorted(
        measured
            .iter()
            .zip(&drops)
            .filter(|(_, d)| d.is_none())
            .filter_map(|((_, m), _)| m.decode_tok_s),
    );
    let clean_median = (!clean.is_empty()).then(|| super::aggregate::percentile(&clean, 50.0));
    let mut events = Vec::new();
    for ((r, m), d) in measured.iter().zip(&drops) {
        let Some((at_us, c, low, high)) = *d else {
            continue;
        };
        let decode = match local_decode_change(r, at_us) {
            Some((before, after)) if after / before >= DECODE_DROP => Some(format!(
                "decode {:.2} → {:.2} tok/s around the drop",
                1000.0 / before,
                1000.0 / after
            )),
            _ => match (m.decode_tok_s, clean_median) {
                (Some(d), Some(med)) if d * DECODE_DROP <= med => Some(format!(
                    "decode {d:.2} tok/s vs a median of {med:.2} tok/s in requests without a drop"
                )),
                _ => None,
            },
        };
        if let Some(decode) = decode {
            events.push(Throttled {
                id: r.test_id.clone(),
                key: c.key.clone(),
                low,
                high,
                unit: c.unit.clone(),
                at_us,
                decode,
            });
        }
    }
    if events.is_empty() {
        return None;
    }
    let list: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}: {} fell to {} (run max {}) at {:.1} s, {}",
                e.id,
                e.key,
                mhz(e.low, &e.unit),
                mhz(e.high, &e.unit),
                e.at_us as f64 / 1e6,
                e.decode
            )
        })
        .collect();
    let hottest = telemetry::max_temp(tl, 0..tl.t_us.len())
        .map(|(z, t)| format!(" Hottest zone in the run: {z} at {:.1} °C.", t as f64 / 1e3))
        .unwrap_or_default();
    Some(Warning {
        code: "throttling",
        message: format!(
            "Throttling: a frequency drop coincided with slower decode in {} request(s) ({}).{hottest}",
            events.len(),
            list.join("; ")
        ),
        fix: "Cool the board (heatsink and fan), let it cool down between runs, and re-run; see where it throttles in /sys/class/thermal/thermal_zone*/trip_point_*_temp.".into(),
        invalidates_comparison: true,
    })
}

/// Mean ITL (ms) of up to 32 tokens just before and just after `at_us` (absolute), when both
/// sides have at least 3. Local, so the normal growth of ITL with context does not count.
fn local_decode_change(r: &RequestRecord, at_us: u64) -> Option<(f64, f64)> {
    const SIDE: usize = 32;
    let mut t = r.start_us;
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (i, &d) in r.tokens.token_dt_us.iter().enumerate() {
        t += u64::from(d);
        if i == 0 {
            continue; // the first delay is TTFT, not an ITL
        }
        if t <= at_us {
            before.push(f64::from(d));
        } else if after.len() < SIDE {
            after.push(f64::from(d));
        }
    }
    let before = &before[before.len().saturating_sub(SIDE)..];
    if before.len() < 3 || after.len() < 3 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64 / 1e3;
    Some((mean(before), mean(&after)))
}

fn hot(tl: &Timeline) -> Option<Warning> {
    let mut best: Option<(i64, &str, u64)> = None;
    for c in tl.columns_with("thermal.") {
        for (i, &v) in c.values.iter().enumerate() {
            if v != NOT_READ && best.map_or(true, |(b, _, _)| v > b) {
                best = Some((v, &c.key["thermal.".len()..], tl.t_us[i]));
            }
        }
    }
    let (t, zone, at) = best.filter(|(t, _, _)| *t > HOT_MC)?;
    Some(Warning {
        code: "hot",
        message: format!(
            "{zone} reached {:.1} °C at {:.1} s (above {} °C; RK3588 kernels start throttling around 85 °C).",
            t as f64 / 1e3,
            at as f64 / 1e6,
            HOT_MC / 1000
        ),
        fix: "Add a heatsink and fan or improve airflow, and leave time between runs; watch it with: cat /sys/class/thermal/thermal_zone*/temp".into(),
        invalidates_comparison: false,
    })
}

fn npu_load_low(
    b: &Board,
    tl: &Timeline,
    measured: &[(&RequestRecord, &RequestMetrics)],
) -> Option<Warning> {
    let mut idx: Vec<usize> = Vec::new();
    let mut requests = 0;
    for (r, _) in measured {
        let Some(&first) = r.tokens.token_dt_us.first() else {
            continue;
        };
        let w = tl.window(
            r.start_us + u64::from(first),
            r.start_us.saturating_add(r.end_us),
        );
        if !w.is_empty() {
            requests += 1;
        }
        idx.extend(w);
    }
    idx.sort_unstable();
    idx.dedup();
    let load = telemetry::npu_load_at(tl, idx)?;
    if load.mean >= LOW_NPU_LOAD {
        return None;
    }
    // One busy core and idle others is a core-count question, not memory-bound decode.
    let busiest = load.per_core.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    if busiest >= LOW_NPU_LOAD && load.per_core.iter().any(|(_, v)| *v < 5.0) {
        return None;
    }
    let cores: Vec<String> = load
        .per_core
        .iter()
        .map(|(c, v)| format!("{c} {v:.0} %"))
        .collect();
    let dmc = if b.ok("dmc.governor").is_none() && b.is_rockchip() {
        " This board has no DMC devfreq, so the DDR clock cannot be raised from Linux: use firmware with DMC DVFS."
    } else {
        " Pin the DDR at its max: echo performance | sudo tee /sys/class/devfreq/dmc/governor."
    };
    Some(Warning {
        code: "npu-load-low",
        message: format!(
            "Mean NPU load during decode was {:.0} % ({}; {} samples in {requests} request(s)): the NPU spends most of each token waiting for memory, so decode is memory-bound and follows the DDR clock more than the NPU clock.",
            load.mean,
            cores.join(", "),
            load.samples
        ),
        fix: format!(
            "Check the DDR (DMC) frequency before anything else.{dmc} A smaller or more heavily quantized model moves less memory per token."
        ),
        invalidates_comparison: false,
    })
}

fn npu_load_unavailable(b: &Board) -> Option<Warning> {
    if !b.is_rockchip() {
        return None;
    }
    let v = b.get(&vocab::fact::telemetry(vocab::series::NPU_LOAD_GROUP))?;
    let reason = vocab::unavailable_reason(v)?;
    Some(Warning {
        code: "npu-load-unavailable",
        message: format!(
            "NPU load was not sampled ({reason}), so this report cannot tell compute-bound from memory-bound decode."
        ),
        fix: "Run rkbench record as root with debugfs mounted: sudo mount -t debugfs none /sys/kernel/debug".into(),
        invalidates_comparison: false,
    })
}

fn first_request_outlier(measured: &[(&RequestRecord, &RequestMetrics)]) -> Option<Warning> {
    let ok: Vec<&RequestMetrics> = measured
        .iter()
        .filter(|(_, m)| m.status == Status::Ok)
        .map(|(_, m)| *m)
        .collect();
    let (first, rest) = ok.split_first()?;
    if rest.len() < 2 {
        return None;
    }
    let mut parts = Vec::new();
    let mut check = |name: &str, unit: &str, f: &dyn Fn(&RequestMetrics) -> Option<f64>| {
        let (Some(x), Some(med)) = (
            f(first),
            Some(super::aggregate::sorted(rest.iter().filter_map(|m| f(m))))
                .filter(|v| !v.is_empty())
                .map(|v| super::aggregate::percentile(&v, 50.0)),
        ) else {
            return;
        };
        if x <= 0.0 || med <= 0.0 {
            return;
        }
        let ratio = (x / med).max(med / x);
        if ratio > OUTLIER_RATIO {
            parts.push(format!(
                "{name} {x:.1} {unit} vs a median of {med:.1} {unit} for the other {} ({ratio:.1}× off)",
                rest.len()
            ));
        }
    };
    // TTFT grows with the prompt, so compare the prefill rate (TTFT per input token) where the
    // runtime reports input tokens; raw TTFT only when it does not.
    if first.prefill_tok_s.is_some() && rest.iter().all(|m| m.prefill_tok_s.is_some()) {
        check("prefill", "tok/s", &|m| m.prefill_tok_s);
    } else {
        check("TTFT", "ms", &|m| m.ttft_ms);
    }
    check("decode", "tok/s", &|m| m.decode_tok_s);
    if parts.is_empty() {
        return None;
    }
    Some(Warning {
        code: "first-request-outlier",
        message: format!(
            "The first measured request ({}) is an outlier: {}. A first run pays one-time costs (clock ramp-up, page cache, runtime allocations) and pulls the means.",
            first.id,
            parts.join("; ")
        ),
        fix: "Run a warm-up request before measuring (`--warmup 1`: warm-up requests stay in the trace but are left out of the statistics), or compare medians.".into(),
        invalidates_comparison: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "record")]
    use crate::board::{self, SysRoot};
    use crate::trace::TokenColumns;
    use crate::trace::{Series, TelemetryBatch};
    #[cfg(feature = "record")]
    use std::path::PathBuf;

    #[cfg(feature = "record")]
    fn fixture(name: &str) -> SysRoot {
        SysRoot(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/sysfs")
                .join(name),
        )
    }

    fn fact(k: &str, v: &str) -> Fact {
        Fact {
            key: k.into(),
            value: v.into(),
        }
    }

    /// A request starting at `start_ms` with TTFT `ttft_ms` then `n` tokens `itl_ms` apart
    /// (`slow_from` on: `slow_itl_ms` apart).
    fn req(id: &str, start_ms: u64, ttft_ms: u32, itls: &[u32]) -> RequestRecord {
        let mut dts = vec![ttft_ms * 1000];
        dts.extend(itls.iter().map(|i| i * 1000));
        let total: u64 = dts.iter().map(|&d| u64::from(d)).sum();
        RequestRecord {
            test_id: id.into(),
            start_us: start_ms * 1000,
            end_us: total + 1000,
            tokens: TokenColumns {
                token_ids: vec![0; dts.len()],
                text_len: vec![0; dts.len()],
                token_dt_us: dts,
                ..TokenColumns::default()
            },
            ..Default::default()
        }
    }

    fn codes(w: &[Warning]) -> Vec<&'static str> {
        w.iter().map(|w| w.code).collect()
    }

    fn run(board: &[Fact], batches: &[TelemetryBatch], reqs: &[RequestRecord]) -> Vec<Warning> {
        let metrics: Vec<RequestMetrics> = reqs.iter().map(RequestMetrics::of).collect();
        compute(board, &Timeline::of(batches), reqs, &metrics)
    }

    #[test]
    fn nothing_without_evidence() {
        let reqs = vec![
            req("a", 0, 100, &[100; 10]),
            req("b", 2000, 100, &[100; 10]),
        ];
        assert!(run(&[], &[], &reqs).is_empty());
        assert!(run(&[], &[], &[]).is_empty());
    }

    #[test]
    fn governor_message_names_policy_and_fix() {
        let b = [
            fact("cpu.policy0.governor", "performance"),
            fact("cpu.policy4.governor", "ondemand"),
            fact("cpu.policy6.governor", "unavailable (not present)"),
        ];
        let w = run(&b, &[], &[]);
        assert_eq!(codes(&w), ["cpu-governor"]);
        assert_eq!(
            w[0].message,
            "CPU policy4 governor is ondemand, not performance: frequencies change under load."
        );
        assert_eq!(
            w[0].fix,
            "echo performance | sudo tee /sys/devices/system/cpu/cpufreq/policy*/scaling_governor"
        );
        assert!(w[0].invalidates_comparison);
    }

    #[test]
    fn devfreq_from_header_when_no_telemetry() {
        let b = [
            fact("board.compatible", "radxa,rock-5b rockchip,rk3588"),
            fact("dmc.governor", "dmc_ondemand"),
            fact("dmc.cur_hz", "528000000"),
            fact("dmc.max_hz", "2112000000"),
            fact("npu.governor", "performance"),
            fact("npu.cur_hz", "1000000000"),
            fact("npu.max_hz", "1000000000"),
        ];
        let w = run(&b, &[], &[]);
        assert_eq!(codes(&w), ["dmc-not-max"]);
        assert!(w[0].message.contains("governor is dmc_ondemand"));
        assert!(w[0].message.contains("528 MHz of 2112 MHz"));
        assert_eq!(
            w[0].fix,
            "echo performance | sudo tee /sys/class/devfreq/dmc/governor"
        );
    }

    #[test]
    fn devfreq_at_max_under_load_is_fine_even_if_idle_low() {
        // dmc_ondemand idles low at start but sits at max during the request: no warning.
        let b = [
            fact("dmc.governor", "dmc_ondemand"),
            fact("dmc.cur_hz", "528000000"),
            fact("dmc.max_hz", "2112000000"),
        ];
        let t = TelemetryBatch {
            t_us: vec![0, 500_000, 1_000_000],
            series: vec![Series {
                key: "dmc.freq".into(),
                unit: "Hz".into(),
                values: vec![528_000_000, 2_112_000_000, 2_112_000_000],
            }],
        };
        let r = req("a", 400, 100, &[100; 5]);
        assert!(run(&b, &[t], &[r]).is_empty());
    }

    #[test]
    fn first_request_outlier_fires_on_slow_first() {
        let reqs = vec![
            req("cold", 0, 3000, &[100; 10]),
            req("b", 10_000, 1000, &[100; 10]),
            req("c", 20_000, 1100, &[100; 10]),
            req("d", 30_000, 900, &[100; 10]),
        ];
        let w = run(&[], &[], &reqs);
        assert_eq!(codes(&w), ["first-request-outlier"]);
        assert!(w[0].message.contains("(cold)"), "{}", w[0].message);
        assert!(w[0]
            .message
            .contains("TTFT 3000.0 ms vs a median of 1000.0 ms for the other 3 (3.0× off)"));
        // Warm-up requests are not "first".
        let mut warm = reqs.clone();
        warm[0].warmup = true;
        assert!(run(&[], &[], &warm).is_empty());
    }

    #[test]
    fn intra_request_throttle_detected() {
        // NPU (governor performance) drops from 1 GHz to 600 MHz at 2.0 s; ITL goes 100 → 150 ms.
        let b = [
            fact("npu.governor", "performance"),
            fact("npu.max_hz", "1000000000"),
        ];
        let mut itls = vec![100; 15];
        itls.extend([150; 15]);
        let r = req("long", 0, 500, &itls); // tokens at 0.5 s, 0.6 s … 2.0 s, then every 150 ms
        let t_us: Vec<u64> = (0..=10).map(|i| i * 500_000).collect();
        let vals: Vec<i64> = t_us
            .iter()
            .map(|&t| {
                if t < 2_000_000 {
                    1_000_000_000
                } else {
                    600_000_000
                }
            })
            .collect();
        let tb = TelemetryBatch {
            t_us,
            series: vec![Series {
                key: "npu.freq".into(),
                unit: "Hz".into(),
                values: vals,
            }],
        };
        let w = run(&b, &[tb], &[r]);
        assert_eq!(codes(&w), ["npu-not-max", "throttling"]);
        assert!(
            w[1].message.contains(
                "long: npu.freq fell to 600 MHz (run max 1000 MHz) at 2.0 s, decode 10.00 → 6.67 tok/s around the drop"
            ),
            "{}",
            w[1].message
        );
        assert!(w[0].fix.starts_with("The governor is already performance"));
    }

    #[test]
    fn ondemand_cpu_dips_are_not_throttling() {
        let b = [fact("cpu.policy4.governor", "ondemand")];
        let mut itls = vec![100; 15];
        itls.extend([150; 15]);
        let r = req("x", 0, 500, &itls);
        let tb = TelemetryBatch {
            t_us: vec![0, 1_000_000, 3_000_000],
            series: vec![Series {
                key: "cpu.policy4.freq".into(),
                unit: "kHz".into(),
                values: vec![2_352_000, 2_352_000, 408_000],
            }],
        };
        assert_eq!(codes(&run(&b, &[tb], &[r])), ["cpu-governor"]);
    }

    /// Telemetry for `n` samples every `step_ms`, read from a fixture tree with the sampler's
    /// probe (so `.seq` files play out exactly as they would during a recording).
    #[cfg(feature = "record")]
    fn sampled(root: &SysRoot, n: u64, step_ms: u64) -> TelemetryBatch {
        let mut p = crate::record::telemetry::Probe::discover(root);
        let mut t_us = Vec::new();
        let mut cols: Vec<Vec<i64>> = vec![Vec::new(); p.keys().len()];
        for i in 0..n {
            t_us.push(i * step_ms * 1000);
            for (c, v) in cols.iter_mut().zip(p.sample_once()) {
                c.push(*v);
            }
        }
        TelemetryBatch {
            t_us,
            series: p
                .keys()
                .iter()
                .zip(cols)
                .map(|((k, u), values)| Series {
                    key: k.clone(),
                    unit: (*u).to_string(),
                    values,
                })
                .collect(),
        }
    }

    /// Three requests, 2 s apart; the third decodes slower (ITL 150 ms instead of 100 ms).
    fn three_requests() -> Vec<RequestRecord> {
        vec![
            req("r0", 0, 200, &[100; 15]),
            req("r1", 2000, 200, &[100; 15]),
            req("r2", 4000, 200, &[150; 15]),
        ]
    }

    #[cfg(feature = "record")]
    #[test]
    fn healthy_tree_gives_no_warnings() {
        let root = fixture("rk3588-healthy");
        let mut board = board::facts(&root);
        let p = crate::record::telemetry::Sampler::start(
            root.clone(),
            std::time::Duration::from_secs(3600),
            std::time::Instant::now(),
        );
        board.extend(p.facts());
        drop(p);
        let w = run(&board, &[sampled(&root, 14, 500)], &three_requests()[..2]);
        assert!(w.is_empty(), "{w:?}");
    }

    #[cfg(feature = "record")]
    #[test]
    fn throttling_tree_fires_board_warnings_in_order() {
        let root = fixture("rk3588-throttling");
        let board = board::facts(&root);
        // Samples at 0, 1, 2 … s: npu-thermal 70 → 92 °C, npu.freq 1 GHz ×3 → 800 → 600 MHz,
        // so r2 (4.0–6.7 s) runs at 600 MHz and decodes at 6.67 instead of 10 tok/s.
        let w = run(&board, &[sampled(&root, 8, 1000)], &three_requests());
        assert_eq!(
            codes(&w),
            [
                "cpu-governor",
                "npu-not-max",
                "dmc-missing",
                "throttling",
                "hot",
                "npu-load-low"
            ],
            "{w:#?}"
        );
        assert_eq!(
            w[0].message,
            "CPU governors are not performance (policy0 ondemand, policy4 ondemand, policy6 ondemand): frequencies change under load."
        );
        assert!(
            w[1].message.contains("as low as 600 MHz (max 1000 MHz)"),
            "{}",
            w[1].message
        );
        assert!(
            w[3].message
                .contains("r2: npu.freq fell to 600 MHz (run max 1000 MHz) at 4.0 s"),
            "{}",
            w[3].message
        );
        assert!(
            w[3].message
                .contains("decode 6.67 tok/s vs a median of 10.00 tok/s"),
            "{}",
            w[3].message
        );
        assert!(w[3].message.contains("npu-thermal at 92.0 °C"));
        assert!(
            w[4].message
                .starts_with("npu-thermal reached 92.0 °C at 5.0 s"),
            "{}",
            w[4].message
        );
        assert!(
            w[5].message
                .starts_with("Mean NPU load during decode was 36 %"),
            "{}",
            w[5].message
        );
        assert!(w[5].fix.contains("no DMC devfreq"));
        let inv: Vec<bool> = w.iter().map(|w| w.invalidates_comparison).collect();
        assert_eq!(inv, [true, true, true, true, false, false]);
        // Deterministic: the same input gives the same list.
        assert_eq!(
            w,
            run(&board, &[sampled(&root, 8, 1000)], &three_requests())
        );
    }

    #[test]
    fn npu_load_unavailable_on_rockchip_only() {
        let mut b = vec![
            fact("board.compatible", "xunlong,orangepi-5-max rockchip,rk3588"),
            fact(
                "telemetry.npu.load",
                "unavailable (permission denied; run as root)",
            ),
        ];
        let w = run(&b, &[], &[]);
        assert_eq!(codes(&w), ["npu-load-unavailable"]);
        assert!(w[0].message.contains("(permission denied; run as root)"));
        b[0].value = "unavailable (not present)".into();
        assert!(run(&b, &[], &[]).is_empty());
    }

    #[test]
    fn one_busy_core_is_not_memory_bound() {
        let tb = TelemetryBatch {
            t_us: vec![1_000_000],
            series: ["core0", "core1", "core2"]
                .iter()
                .zip([95, 0, 0])
                .map(|(c, v)| Series {
                    key: format!("npu.load.{c}"),
                    unit: "%".into(),
                    values: vec![v],
                })
                .collect(),
        };
        let r = req("a", 0, 100, &[100; 20]);
        assert!(run(&[], &[tb], &[r]).is_empty());
    }

    /// Write a real trace file and read it back, so the reports see exactly what `report` would.
    fn write_and_read(
        name: &str,
        board: Vec<Fact>,
        reqs: Vec<RequestRecord>,
        tele: Vec<TelemetryBatch>,
    ) -> Trace {
        use crate::trace::{Record, RunHeader, TraceWriter};
        let path = std::env::temp_dir().join(format!(
            "rkbench-warn-{name}-{}.rktrace",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let mut wr = TraceWriter::create(&path).unwrap();
        let header = RunHeader {
            board,
            ..Default::default()
        };
        wr.append(&Record::Header(header)).unwrap();
        for (i, mut r) in reqs.into_iter().enumerate() {
            r.index = i as u32;
            wr.append(&Record::Request(r)).unwrap();
        }
        for t in tele {
            wr.append(&Record::Telemetry(t)).unwrap();
        }
        wr.sync().unwrap();
        drop(wr);
        let t = crate::trace::reader::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        t
    }

    #[cfg(feature = "record")]
    #[test]
    fn reports_carry_warnings_and_board_state() {
        let root = fixture("rk3588-throttling");
        let mut board = board::facts(&root);
        board.push(fact("telemetry.interval_ms", "1000"));
        board.sort();
        let trace = write_and_read(
            "throttling",
            board,
            three_requests(),
            vec![sampled(&root, 8, 1000)],
        );
        let md = crate::report::render(&trace, crate::report::Format::Markdown);
        // rkbench's additions follow the original report's sections (issue #12), with the
        // verdict and the number of warnings named before any figure.
        let warn_at = md.find("## ⚠️ Warnings").expect("warnings section");
        assert!(
            warn_at > md.find("## 🎯 Conclusion").unwrap(),
            "warnings follow the original's sections"
        );
        assert!(
            md.find("❌ INVALID for comparison; ").unwrap()
                < md.find("## 📊 Executive Summary").unwrap(),
            "the verdict is named before any figure"
        );
        assert!(md.contains("- ⛔ **cpu-governor**: CPU governors are not performance"));
        assert!(md.contains("  - **Fix:** echo performance \\| sudo tee"));
        assert!(md.contains("### 🌡️ Board state during each request"));
        assert!(md.contains("Telemetry sampled every 1000 ms"));
        assert!(md.contains(
            "| # | test | samples | NPU load % | NPU MHz | DDR MHz | CPU policy0 MHz | CPU policy4 MHz | CPU policy6 MHz | max °C | process CPU % | RSS MB |"
        ));
        // r2 runs 4.0–6.7 s: samples at 4, 5, 6 s; NPU 600 MHz; npu-thermal 92 °C.
        assert!(
            md.contains("| 2 | r2 | 3 | 36 / 36 | 600 | - | 1008 | 1608 | 1608 | 92.0 (npu-thermal) | 0 | 5030 |"),
            "{md}"
        );

        let json = crate::report::render(&trace, crate::report::Format::Json);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let codes: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "cpu-governor",
                "npu-not-max",
                "dmc-missing",
                "throttling",
                "hot",
                "npu-load-low"
            ]
        );
        assert_eq!(v["warnings"][2]["invalidates_comparison"], true);
        assert!(v["warnings"][0]["fix"]
            .as_str()
            .unwrap()
            .starts_with("echo performance"));
        let t = &v["requests"][2]["telemetry"];
        assert_eq!(t["samples"], 3);
        assert_eq!(t["npu_freq_hz"]["min"], 600_000_000);
        assert_eq!(t["dmc_freq_hz"], serde_json::Value::Null);
        assert_eq!(t["cpu_freq_khz"]["policy4"]["max"], 1_608_000);
        assert_eq!(t["max_temp"]["zone"], "npu-thermal");
        assert_eq!(t["max_temp"]["millicelsius"], 92_000);
        assert_eq!(t["rss_max_kb"], 5_150_208);
        // Existing fields are untouched.
        assert_eq!(v["requests"][2]["id"], "r2");
        assert!(v["requests"][2]["prompt"].is_string());
    }

    #[test]
    fn reports_without_telemetry_or_warnings() {
        let trace = write_and_read("plain", Vec::new(), three_requests(), Vec::new());
        let md = crate::report::render(&trace, crate::report::Format::Markdown);
        assert!(!md.contains("Warnings") && !md.contains("Board state"));
        let json = crate::report::render(&trace, crate::report::Format::Json);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["warnings"], serde_json::json!([]));
        assert_eq!(v["requests"][0]["telemetry"], serde_json::Value::Null);
    }
}
