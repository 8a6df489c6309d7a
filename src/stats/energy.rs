//! Energy from the raw power samples of a trace (`record --power`), defined once here and only
//! formatted by the renderers (docs/ENERGY.md states the same rules).
//!
//! - **Clock.** A sample stands at the midpoint of the time it was asked for and answered, on
//!   the token clock, so a request's window `[start_us, start_us + end_us]` selects its power.
//! - **Integration.** Power is linear between two neighbouring good samples (trapezoid rule).
//!   A failed, refused or late sample ends the line there: a gap is never interpolated across,
//!   and a window that overlaps a gap has no energy (blank, with the reason), never a guess.
//! - **Counter.** Where the source has a cumulative counter, a window's energy is the counter's
//!   rise (interpolated at the window's edges); it is used instead of integration when its
//!   resolution (smallest rise seen) is ≤ 1 % of that energy and it did not go backwards inside.
//! - **Resolution.** A window shorter than [`MIN_PERIODS`] effective periods (the polling period,
//!   or the source's own refresh period when detected) is too short to resolve: blank, with the
//!   reason. Every figure carries its sampling error bound: period × the power swing around it.
//! - **Idle.** The mean of the good samples inside the `--power-baseline` window; "above idle"
//!   subtracts idle × duration.
use super::warnings::Warning;
use crate::trace::{PowerSamples, RequestRecord, Trace};

/// Readings above this many watts are refused as absurd (a board on a wall socket stays far
/// below; a meter that says more has misread its units or its shunt).
pub const MAX_W: f64 = 5000.0;
/// A window must last this many effective periods to be resolved.
pub const MIN_PERIODS: f64 = 4.0;
/// The counter is used when its resolution is at most this fraction of the energy.
pub const COUNTER_RESOLUTION: f64 = 0.01;
/// Two good samples further apart than this many polling periods are a gap (the poller stalled).
const GAP_PERIODS: f64 = 3.0;
/// Changes of the reading needed before the source's own refresh period is stated.
const MIN_CHANGES: usize = 10;

/// How a figure was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Integration,
    Counter,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Integration => "integration",
            Method::Counter => "counter",
        }
    }
}

/// The energy of one window, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowEnergy {
    pub j: Option<f64>,
    pub above_idle_j: Option<f64>,
    pub method: Option<Method>,
    /// Sampling error bound of `j` (J).
    pub error_j: Option<f64>,
    pub mean_w: Option<f64>,
    /// Why `j` (or `above_idle_j`) is blank.
    pub reason: Option<String>,
}

/// Energy of one request (same order as `trace.requests`).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEnergy {
    pub index: u32,
    /// The suite test it ran (compare matches requests by it).
    pub id: String,
    pub warmup: bool,
    pub output_tokens: usize,
    pub total: WindowEnergy,
    pub prefill: WindowEnergy,
    pub decode: WindowEnergy,
}

/// A problem with the samples, for the warnings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SampleFaults {
    /// Readings the source did not give (no answer, an error): count and first reason.
    pub unanswered: usize,
    pub unanswered_first: Option<(u64, String)>,
    /// Readings refused (NaN, negative, absurd, not a power unit): count and first reason.
    pub refused: usize,
    pub refused_first: Option<(u64, String)>,
    /// Counter going backwards: count and the first time (µs).
    pub backwards: usize,
    pub backwards_first: Option<u64>,
    /// Stretches of the run with no line to integrate (each a gap), and the requests they blank.
    pub gaps: usize,
    pub blank_requests: usize,
    /// Malformed sample batches the reader dropped.
    pub rejected_batches: u32,
}

/// The energy analysis of a trace with power samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Energy {
    /// `hwmon`, `shelly`, … (`--power`'s kind) and the spec and device as recorded.
    pub source: String,
    pub spec: String,
    pub device: String,
    /// Polling period (ms).
    pub interval_ms: f64,
    /// The source's own refresh period detected from when its reading changed (ms).
    pub source_update_ms: Option<f64>,
    pub samples: usize,
    pub idle_w: Option<f64>,
    pub idle_samples: usize,
    /// Idle after the last request (`--power-baseline …,after`): how far the board drifted
    /// (it warmed up) from the idle the figures are taken against.
    pub idle_after_w: Option<f64>,
    /// The measured span: first measured request's start to last one's end.
    pub run_s: f64,
    pub run: WindowEnergy,
    pub peak_w: Option<f64>,
    /// Output tokens of the measured requests.
    pub output_tokens: usize,
    pub j_per_output_token: Option<f64>,
    pub tokens_per_j: Option<f64>,
    /// Both methods over the run where each is possible (they must agree).
    pub run_integration_j: Option<f64>,
    pub run_counter_j: Option<f64>,
    pub counter_resolution_j: Option<f64>,
    pub requests: Vec<RequestEnergy>,
    pub faults: SampleFaults,
    /// Every sample (µs, W) for the timeline chart; NaN where it is not good (breaks the line).
    pub points: Vec<(u64, f64)>,
}

/// Watts per unit of a power reading; `None` for a unit that is not a power.
pub(crate) fn power_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "uW" | "µW" => 1e-6,
        "mW" => 1e-3,
        "W" => 1.0,
        "kW" => 1e3,
        _ => return None,
    })
}

fn counter_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "uJ" | "µJ" => 1e-6,
        "mJ" => 1e-3,
        "J" | "Ws" => 1.0,
        "Wmin" => 60.0,
        "Wh" => 3600.0,
        "kWh" => 3.6e6,
        _ => return None,
    })
}

/// One sample after checking: time, watts (None = not good), counter in J (None = none).
#[derive(Debug, Clone, Copy)]
struct Point {
    t: u64,
    /// When the reading was asked for and answered: an idle sample must lie wholly inside
    /// the idle window (a slow reading that ended after the first request began is not idle).
    asked: u64,
    got: u64,
    w: Option<f64>,
    c: Option<f64>,
}

/// The checked samples of a trace, in time order.
struct Line {
    pts: Vec<Point>,
    faults: SampleFaults,
    /// Max distance between good neighbours that still forms a segment (µs).
    max_step: f64,
    /// The counter's resolution (J): the step its readings are written in.
    counter_quantum_j: Option<f64>,
    /// Segments between neighbouring good samples with no gap between them:
    /// (t0, t1, W at t0, W at t1), in time order.
    segs: Vec<(u64, u64, f64, f64)>,
    /// Readable counter samples (µs, J) in time order, and how many backward steps come
    /// before each.
    counter: Vec<(u64, f64)>,
    backward_before: Vec<usize>,
}

/// The largest decade (10^k of the source's unit, k from 3 down to −6) that every reading is a
/// whole multiple of (at most 10^-6): the counter's resolution (`123` µJ → 1 µJ; `0.125` Wh → 0.001 Wh).
fn quantum(values: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    values.clone().next()?;
    // Finer than 10^-6 of its unit (a float written in full): taken as 10^-6.
    let q = (-6..=3).rev().map(|k| 10f64.powi(k)).find(|q| {
        values.clone().all(|v| {
            let r = v / q;
            (r - r.round()).abs() <= 1e-9 * r.abs().max(1.0)
        })
    });
    Some(q.unwrap_or(1e-6))
}

impl Line {
    fn of(batches: &[PowerSamples], interval_us: u64) -> Line {
        let mut pts = Vec::new();
        let mut f = SampleFaults::default();
        let mut counter_quantum_j: Option<f64> = None;
        for b in batches {
            let pf = power_factor(&b.unit);
            let cf = counter_factor(&b.counter_unit);
            let readable = b.counter.iter().copied().filter(|c| c.is_finite());
            if let Some(q) = cf.zip(quantum(readable)).map(|(k, q)| k * q) {
                counter_quantum_j = Some(counter_quantum_j.map_or(q, |x| x.max(q)));
            }
            for i in 0..b.len() {
                let t = b.requested_us[i] / 2 + b.received_us[i] / 2;
                let v = b.value[i];
                let w = if !b.error[i].is_empty() {
                    f.unanswered += 1;
                    f.unanswered_first.get_or_insert((t, b.error[i].clone()));
                    None
                } else {
                    let refused = match pf {
                        None => Some(format!("unit {:?} is not a power unit", b.unit)),
                        Some(_) if v.is_nan() => Some("NaN".to_string()),
                        Some(k) if !(v * k).is_finite() || v * k > MAX_W => {
                            Some(format!("{v} {} is absurd (over {MAX_W} W)", b.unit))
                        }
                        Some(_) if v < 0.0 => Some(format!("{v} {} is negative", b.unit)),
                        Some(_) => None,
                    };
                    match refused {
                        Some(r) => {
                            f.refused += 1;
                            f.refused_first.get_or_insert((t, r));
                            None
                        }
                        None => pf.map(|k| v * k),
                    }
                };
                let c = cf
                    .filter(|_| w.is_some())
                    .map(|k| b.counter[i] * k)
                    .filter(|c| c.is_finite() && *c >= 0.0);
                pts.push(Point {
                    t,
                    asked: b.requested_us[i],
                    got: b.received_us[i],
                    w,
                    c,
                });
            }
        }
        pts.sort_by_key(|p| p.t);
        let max_step = GAP_PERIODS * interval_us.max(1) as f64;
        let segs = pts
            .windows(2)
            .filter_map(|p| match (p[0].w, p[1].w) {
                (Some(a), Some(b)) if (p[1].t - p[0].t) as f64 <= max_step => {
                    Some((p[0].t, p[1].t, a, b))
                }
                _ => None,
            })
            .collect();
        let counter: Vec<(u64, f64)> = pts.iter().filter_map(|p| p.c.map(|c| (p.t, c))).collect();
        let mut backward_before = Vec::with_capacity(counter.len());
        let mut n = 0;
        for (i, c) in counter.iter().enumerate() {
            if i > 0 && c.1 < counter[i - 1].1 {
                n += 1;
            }
            backward_before.push(n);
        }
        Line {
            pts,
            faults: f,
            max_step,
            counter_quantum_j,
            segs,
            counter,
            backward_before,
        }
    }

    /// Trapezoid energy over `[a, b]` (µs) and how much of it was covered (µs). Only the
    /// segments that overlap the window are visited (binary search), so a report of many
    /// requests over a long run stays linear in its samples.
    fn integrate(&self, a: u64, b: u64) -> (f64, f64) {
        let (mut j, mut covered) = (0.0, 0.0);
        let first = self.segs.partition_point(|s| s.1 <= a);
        for &(t0, t1, wp, wq) in self.segs[first..].iter().take_while(|s| s.0 < b) {
            let lo = t0.max(a);
            let hi = t1.min(b);
            if hi <= lo {
                continue;
            }
            let span = (t1 - t0) as f64;
            let at = |t: u64| wp + (wq - wp) * (t - t0) as f64 / span;
            j += (at(lo) + at(hi)) / 2.0 * (hi - lo) as f64 / 1e6;
            covered += (hi - lo) as f64;
        }
        (j, covered)
    }

    /// The counter's value at `t`, interpolated between the counter samples around it.
    fn counter_at(&self, t: u64) -> Option<f64> {
        let c = &self.counter;
        let k = c.partition_point(|p| p.0 <= t);
        let (p, q) = (c.get(k.checked_sub(1)?)?, c.get(k).or(c.get(k - 1))?);
        if q.0 == p.0 {
            return (p.0 == t).then_some(p.1);
        }
        Some(p.1 + (q.1 - p.1) * (t - p.0) as f64 / (q.0 - p.0) as f64)
    }

    /// Counter samples inside `[a, b]` (with the ones just outside) never go backwards: no
    /// backward step between them (prefix counts, O(log n)).
    fn counter_monotone(&self, a: u64, b: u64) -> bool {
        let c = &self.counter;
        let lo = c.partition_point(|p| p.0 <= a).saturating_sub(1);
        let hi = (c.partition_point(|p| p.0 < b) + 1).min(c.len());
        hi <= lo + 1 || self.backward_before[hi - 1] == self.backward_before[lo]
    }

    /// Power swing (max − min W) of the good samples within `[a, b]` and the one on each side
    /// (they shape the line at the edges).
    fn swing(&self, a: u64, b: u64) -> f64 {
        let from = self.pts.partition_point(|p| p.t < a).saturating_sub(1);
        let to = (self.pts.partition_point(|p| p.t <= b) + 1).min(self.pts.len());
        let ws = self.pts[from..to].iter().filter_map(|p| p.w);
        let (lo, hi) = ws.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), w| {
            (l.min(w), h.max(w))
        });
        if hi >= lo {
            hi - lo
        } else {
            0.0
        }
    }

    /// Length (µs) of the segment the line has at `t` (0 on a sample or outside the line).
    fn segment_at(&self, t: u64) -> f64 {
        let k = self.segs.partition_point(|s| s.1 <= t);
        self.segs
            .get(k)
            .filter(|s| s.0 < t)
            .map_or(0.0, |s| (s.1 - s.0) as f64)
    }
}

/// The source's own refresh period: the 10th percentile of the time between changes of its
/// reading, once it changed at least [`MIN_CHANGES`] times (µs).
fn detect_update_us(line: &Line) -> Option<f64> {
    let mut last: Option<(u64, f64)> = None;
    let mut changes = Vec::new();
    let mut prev_change: Option<u64> = None;
    for p in &line.pts {
        let Some(w) = p.w else {
            last = None;
            continue;
        };
        if let Some((_, lw)) = last {
            if w != lw {
                if let Some(pc) = prev_change {
                    changes.push((p.t - pc) as f64);
                }
                prev_change = Some(p.t);
            }
        }
        last = Some((p.t, w));
    }
    if changes.len() < MIN_CHANGES {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    Some(changes[changes.len() / 10])
}

struct Ctx<'a> {
    line: &'a Line,
    period_us: f64,
    idle_w: Option<f64>,
    resolution_j: Option<f64>,
}

impl Ctx<'_> {
    fn window(&self, a: u64, b: u64) -> WindowEnergy {
        let blank = |reason: String| WindowEnergy {
            j: None,
            above_idle_j: None,
            method: None,
            error_j: None,
            mean_w: None,
            reason: Some(reason),
        };
        let dur = b.saturating_sub(a) as f64;
        if dur < MIN_PERIODS * self.period_us {
            return blank(format!(
                "too short to resolve: {:.0} ms < {MIN_PERIODS:.0} × the {:.0} ms sampling period",
                dur / 1e3,
                self.period_us / 1e3
            ));
        }
        let (ij, covered) = self.line.integrate(a, b);
        let counter = match (self.line.counter_at(a), self.line.counter_at(b)) {
            (Some(ca), Some(cb)) if self.line.counter_monotone(a, b) && cb >= ca => Some(cb - ca),
            _ => None,
        };
        let counter_ok = counter
            .zip(self.resolution_j)
            .is_some_and(|(c, r)| r <= COUNTER_RESOLUTION * c);
        let (j, method) = if counter_ok {
            (counter.unwrap_or_default(), Method::Counter)
        } else if covered + 1.0 >= dur {
            (ij, Method::Integration)
        } else {
            return blank(format!(
                "{:.0} ms of its {:.0} ms have no power line (a gap in the samples)",
                (dur - covered) / 1e3,
                dur / 1e3
            ));
        };
        // Each edge falls between two samples: up to half that segment (at least half the
        // period) of the power swing there, for the counter too (its value at an edge is
        // interpolated), plus the counter's resolution.
        let half = |t: u64| self.line.segment_at(t).max(self.period_us) / 2.0;
        let edges = (half(a) + half(b)) / 1e6 * self.line.swing(a, b);
        let error_j = match method {
            Method::Counter => edges + self.resolution_j.unwrap_or_default(),
            Method::Integration => edges,
        };
        WindowEnergy {
            j: Some(j),
            above_idle_j: self.idle_w.map(|w| j - w * dur / 1e6),
            method: Some(method),
            error_j: Some(error_j),
            mean_w: Some(j / (dur / 1e6)),
            reason: self
                .idle_w
                .is_none()
                .then(|| "no idle baseline was measured (--power-baseline 0s)".to_string()),
        }
    }
}

/// The energy analysis, `None` for a trace without power samples (every older trace).
pub fn of(trace: &Trace) -> Option<Energy> {
    let p = &trace.power;
    let src = p.source.as_ref();
    if p.samples.is_empty() && src.is_none() {
        return None;
    }
    let interval_us = src.map_or(1_000_000, |s| s.interval_us.max(1));
    let mut line = Line::of(&p.samples, interval_us);
    line.faults.rejected_batches = trace
        .impossible
        .iter()
        .filter(|i| i.record == crate::trace::validate::POWER_SAMPLES)
        .count() as u32;
    let update = detect_update_us(&line);
    let period_us = (interval_us as f64).max(update.unwrap_or(0.0));
    let idle: Vec<f64> = src
        .filter(|s| s.idle_to_us > s.idle_from_us)
        .map(|s| {
            line.pts
                .iter()
                .filter(|q| q.asked >= s.idle_from_us && q.got <= s.idle_to_us)
                .filter_map(|q| q.w)
                .collect()
        })
        .unwrap_or_default();
    let idle_w = (!idle.is_empty()).then(|| idle.iter().sum::<f64>() / idle.len() as f64);
    let after: Vec<f64> = src
        .filter(|s| s.idle_after_to_us > s.idle_after_from_us)
        .map(|s| {
            line.pts
                .iter()
                .filter(|q| q.asked >= s.idle_after_from_us && q.got <= s.idle_after_to_us)
                .filter_map(|q| q.w)
                .collect()
        })
        .unwrap_or_default();
    let idle_after_w = (!after.is_empty()).then(|| after.iter().sum::<f64>() / after.len() as f64);
    let ctx = Ctx {
        line: &line,
        period_us,
        idle_w,
        resolution_j: line.counter_quantum_j,
    };
    let requests: Vec<RequestEnergy> = trace.requests.iter().map(|r| request(&ctx, r)).collect();
    let measured: Vec<&RequestRecord> = trace.requests.iter().filter(|r| !r.warmup).collect();
    let a = measured.iter().map(|r| r.start_us).min().unwrap_or(0);
    let b = measured
        .iter()
        .map(|r| r.start_us + r.end_us)
        .max()
        .unwrap_or(0);
    let run = ctx.window(a, b);
    let output_tokens: usize = measured.iter().map(|r| r.output_tokens()).sum();
    let (ij, covered) = line.integrate(a, b);
    let run_integration_j = (b > a && covered + 1.0 >= (b - a) as f64).then_some(ij);
    let run_counter_j = match (line.counter_at(a), line.counter_at(b)) {
        (Some(ca), Some(cb)) if line.counter_monotone(a, b) && b > a => Some(cb - ca),
        _ => None,
    };
    let mut faults = line.faults.clone();
    faults.gaps = gaps(&line);
    faults.blank_requests = requests
        .iter()
        .filter(|r| {
            r.total.j.is_none() && r.total.reason.as_deref().is_some_and(|x| x.contains("gap"))
        })
        .count();
    faults.backwards = 0;
    let c: Vec<&Point> = line.pts.iter().filter(|p| p.c.is_some()).collect();
    for w in c.windows(2) {
        if w[1].c < w[0].c {
            faults.backwards += 1;
            faults.backwards_first.get_or_insert(w[1].t);
        }
    }
    let peak_w = line
        .pts
        .iter()
        .filter(|q| q.t >= a && q.t <= b)
        .filter_map(|q| q.w)
        .max_by(f64::total_cmp);
    Some(Energy {
        source: src.map(|s| s.kind.clone()).unwrap_or_default(),
        spec: src.map(|s| s.spec.clone()).unwrap_or_default(),
        device: src.map(|s| s.device.clone()).unwrap_or_default(),
        interval_ms: interval_us as f64 / 1e3,
        source_update_ms: update.map(|u| u / 1e3),
        samples: line.pts.len(),
        idle_w,
        idle_samples: idle.len(),
        idle_after_w,
        run_s: b.saturating_sub(a) as f64 / 1e6,
        j_per_output_token: run
            .j
            .filter(|_| output_tokens > 0)
            .map(|j| j / output_tokens as f64),
        tokens_per_j: run.j.filter(|j| *j > 0.0).map(|j| output_tokens as f64 / j),
        run,
        peak_w,
        output_tokens,
        run_integration_j,
        run_counter_j,
        counter_resolution_j: ctx.resolution_j,
        requests,
        faults,
        points: line
            .pts
            .iter()
            .map(|q| (q.t, q.w.unwrap_or(f64::NAN)))
            .collect(),
    })
}

/// J per output token, candidate / baseline, with its 95 % bootstrap interval and permutation
/// test (`stats::significance`, per test id as for the speed metrics): over measured requests
/// whose energy is resolved. `None` when no test has such a request on both sides.
pub fn compare_j_per_token(base: &Energy, cand: &Energy) -> Option<super::significance::Estimate> {
    let per_token = |e: &Energy, id: &str| -> Vec<f64> {
        e.requests
            .iter()
            .filter(|r| !r.warmup && r.id == id && r.output_tokens > 0)
            .filter_map(|r| r.total.j.map(|j| j / r.output_tokens as f64))
            .collect()
    };
    let mut ids: Vec<&str> = base.requests.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let strata: Vec<super::significance::Stratum> = ids
        .into_iter()
        .map(|id| super::significance::Stratum {
            base: per_token(base, id),
            cand: per_token(cand, id),
        })
        .collect();
    super::significance::compare(&strata, super::significance::SEED)
}

/// Warning codes of this module, in the order they are emitted (after the board's).
pub const WARNING_CODES: [&str; 3] = ["power-gap", "power-refused", "power-counter-backwards"];

fn secs(us: u64) -> String {
    format!("{:.1} s", us as f64 / 1e6)
}

/// One warning per kind of sample fault: what was found, where first, and what it cost.
pub fn warnings(e: &Energy) -> Vec<Warning> {
    let f = &e.faults;
    let mut w = Vec::new();
    if f.unanswered > 0 || f.gaps > 0 || f.rejected_batches > 0 {
        let first = f
            .unanswered_first
            .as_ref()
            .map(|(t, why)| format!(", first at {}: {why}", secs(*t)))
            .unwrap_or_default();
        w.push(Warning {
            code: WARNING_CODES[0],
            message: format!(
                "the power source ({}) left {} gap(s): {} reading(s) not answered{first}{}; energy is never interpolated across a gap, so {} request(s) and {} have no energy figure",
                e.source,
                f.gaps,
                f.unanswered,
                if f.rejected_batches > 0 {
                    format!(", {} malformed sample batch(es) dropped", f.rejected_batches)
                } else {
                    String::new()
                },
                f.blank_requests,
                if e.run.j.is_none() { "the run" } else { "not the run" },
            ),
            fix: "keep the plug or meter reachable (wired network, closer access point), or poll less often: --power-interval 2s".into(),
            invalidates_comparison: false,
        });
    }
    if f.refused > 0 {
        let (t, why) = f.refused_first.clone().unwrap_or_default();
        w.push(Warning {
            code: WARNING_CODES[1],
            message: format!(
                "{} power reading(s) refused as not a power (first at {}: {why}); each is a gap",
                f.refused,
                secs(t)
            ),
            fix: "check the source's units and wiring (a meter on the wrong shunt or a sensor returning an error value), or use another source".into(),
            invalidates_comparison: false,
        });
    }
    if f.backwards > 0 {
        w.push(Warning {
            code: WARNING_CODES[2],
            message: format!(
                "the energy counter went backwards {} time(s) (first at {}): a reset or a wrap; it is not used across it (power is integrated there instead)",
                f.backwards,
                secs(f.backwards_first.unwrap_or_default())
            ),
            fix: "do not reset the plug's counter during a run".into(),
            invalidates_comparison: false,
        });
    }
    w
}

/// Stretches with no line: runs of samples that are not good, or good neighbours too far apart.
fn gaps(line: &Line) -> usize {
    let mut n = 0;
    let mut in_gap = false;
    let mut last_good: Option<u64> = None;
    for p in &line.pts {
        match p.w {
            None => {
                if !in_gap && last_good.is_some() {
                    n += 1;
                }
                in_gap = true;
            }
            Some(_) => {
                if !in_gap && last_good.is_some_and(|t| (p.t - t) as f64 > line.max_step) {
                    n += 1;
                }
                in_gap = false;
                last_good = Some(p.t);
            }
        }
    }
    n
}

fn request(ctx: &Ctx, r: &RequestRecord) -> RequestEnergy {
    let start = r.start_us;
    let end = r.start_us + r.end_us;
    let first = r.tokens.token_dt_us.first().map(|&d| start + u64::from(d));
    let none = |why: &str| WindowEnergy {
        j: None,
        above_idle_j: None,
        method: None,
        error_j: None,
        mean_w: None,
        reason: Some(why.to_string()),
    };
    RequestEnergy {
        index: r.index,
        id: r.test_id.clone(),
        warmup: r.warmup,
        output_tokens: r.output_tokens(),
        total: ctx.window(start, end),
        prefill: first.map_or_else(|| none("no token arrived"), |f| ctx.window(start, f)),
        decode: first.map_or_else(|| none("no token arrived"), |f| ctx.window(f, end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{PowerSource, RequestRecord, TokenColumns};

    /// Samples every `every_us` from 0 to `until_us` of `f(t)` W (no counter).
    fn samples(every_us: u64, until_us: u64, f: impl Fn(u64) -> f64) -> PowerSamples {
        let mut b = PowerSamples {
            unit: "W".into(),
            ..Default::default()
        };
        let mut t = 0;
        while t <= until_us {
            b.requested_us.push(t);
            b.received_us.push(t);
            b.value.push(f(t));
            b.counter.push(f64::NAN);
            b.error.push(String::new());
            t += every_us;
        }
        b
    }

    fn req(index: u32, start_us: u64, end_us: u64, tokens: usize) -> RequestRecord {
        let mut c = TokenColumns::default();
        for _ in 0..tokens {
            c.push((end_us / tokens as u64) as u32, 1, b"a", false);
        }
        RequestRecord {
            index,
            start_us,
            end_us,
            tokens: c,
            ..Default::default()
        }
    }

    fn trace(batches: Vec<PowerSamples>, reqs: Vec<RequestRecord>, interval_us: u64) -> Trace {
        let mut t = crate::trace::reader::parse(
            &{
                let mut out = crate::trace::file_header(0).to_vec();
                let (k, p) =
                    crate::trace::encode_record(&crate::trace::Record::Header(Default::default()))
                        .unwrap();
                crate::trace::encode_frame(0, k, &p, &mut out);
                out
            },
            "t".into(),
        )
        .unwrap();
        t.requests = reqs;
        t.power.source = Some(PowerSource {
            kind: "cmd".into(),
            interval_us,
            idle_from_us: 0,
            idle_to_us: 1_000_000,
            idle_after_from_us: 5_500_000,
            idle_after_to_us: 6_000_000,
            ..Default::default()
        });
        t.power.samples = batches;
        t
    }

    /// 2 W idle, 5 W from 2 s to 4 s (exactly on sample times): a 3 W × 2 s = 6 J step.
    fn step(t: u64) -> f64 {
        if (2_000_000..4_000_000).contains(&t) {
            5.0
        } else {
            2.0
        }
    }

    #[test]
    fn a_step_integrates_to_step_times_duration_within_the_stated_error() {
        let t = trace(
            vec![samples(100_000, 6_000_000, step)],
            vec![req(0, 2_000_000, 2_000_000, 20)],
            100_000,
        );
        let e = of(&t).unwrap();
        assert_eq!(e.idle_w, Some(2.0));
        assert_eq!(e.idle_after_w, Some(2.0));
        let r = &e.requests[0].total;
        let above = r.above_idle_j.unwrap();
        assert!((above - 6.0).abs() <= r.error_j.unwrap(), "{r:?}");
        assert_eq!(r.method, Some(Method::Integration));
        assert_eq!(e.output_tokens, 20);
        let j = e.run.j.unwrap();
        assert!((e.j_per_output_token.unwrap() - j / 20.0).abs() < 1e-12);
        assert_eq!(e.peak_w, Some(5.0));
    }

    #[test]
    fn an_idle_reading_answered_after_the_idle_window_is_not_idle() {
        let mut b = samples(100_000, 6_000_000, step);
        // The reading asked at 0.9 s was answered at 1.06 s, after the window (0–1 s) closed
        // and the first request began: it saw the load.
        let k = 9;
        b.requested_us[k] = 900_000;
        b.received_us[k] = 1_060_000;
        b.value[k] = 5.0;
        let e = of(&trace(
            vec![b],
            vec![req(0, 2_000_000, 2_000_000, 20)],
            100_000,
        ))
        .unwrap();
        assert_eq!(e.idle_w, Some(2.0));
        assert_eq!(e.idle_samples, 10);
    }

    #[test]
    fn a_request_shorter_than_four_periods_is_blank_with_the_reason_and_the_run_stands() {
        let t = trace(
            vec![samples(1_000_000, 10_000_000, |_| 3.0)],
            vec![
                req(0, 2_000_000, 300_000, 3),
                req(1, 3_000_000, 5_000_000, 10),
            ],
            1_000_000,
        );
        let e = of(&t).unwrap();
        assert_eq!(e.requests[0].total.j, None);
        assert!(e.requests[0]
            .total
            .reason
            .as_ref()
            .unwrap()
            .contains("too short"));
        assert!(e.requests[1].total.j.is_some());
        // The run spans both (2 s to 8 s) at 3 W.
        assert!((e.run.j.unwrap() - 18.0).abs() < 1e-9, "{:?}", e.run);
    }

    #[test]
    fn gaps_garbage_and_a_dead_plug_never_invent_energy() {
        let mut b = samples(100_000, 6_000_000, step);
        b.value[25] = f64::NAN; // 2.5 s: NaN
        b.value[35] = -4.0; // 3.5 s: negative
        for i in 50..b.len() {
            // The plug dies at 5 s.
            b.value[i] = f64::NAN;
            b.error[i] = "connection refused".into();
        }
        let t = trace(
            vec![b],
            vec![
                req(0, 1_000_000, 1_000_000, 5),
                req(1, 2_200_000, 600_000, 5),
                req(2, 4_500_000, 1_400_000, 5),
            ],
            100_000,
        );
        let e = of(&t).unwrap();
        assert!(e.requests[0].total.j.is_some());
        for i in [1, 2] {
            let w = &e.requests[i].total;
            assert_eq!(w.j, None, "{w:?}");
            assert!(w.reason.as_ref().unwrap().contains("gap"), "{w:?}");
        }
        assert_eq!(e.run.j, None);
        assert_eq!(e.faults.refused, 2);
        assert_eq!(e.faults.unanswered, 11);
        assert_eq!(e.faults.gaps, 3);
        assert_eq!(e.faults.blank_requests, 2);
        assert!(e.faults.refused_first.as_ref().unwrap().1.contains("NaN"));
    }

    #[test]
    fn counter_and_integration_agree_and_a_fine_counter_is_preferred() {
        // 4 W constant, counter in µJ exact: 4 J per second.
        let mut b = samples(100_000, 6_000_000, |_| 4.0);
        b.counter_unit = "uJ".into();
        b.counter = b.requested_us.iter().map(|&t| 4.0 * t as f64).collect();
        let t = trace(vec![b], vec![req(0, 1_050_000, 3_000_000, 10)], 100_000);
        let e = of(&t).unwrap();
        let r = &e.requests[0].total;
        assert_eq!(r.method, Some(Method::Counter));
        assert!((r.j.unwrap() - 12.0).abs() < 1e-6);
        assert!((e.run_counter_j.unwrap() - e.run_integration_j.unwrap()).abs() < 1e-6);
    }

    #[test]
    fn a_counter_going_backwards_is_not_used_across_it_and_is_counted() {
        let mut b = samples(100_000, 6_000_000, |_| 4.0);
        b.counter_unit = "uJ".into();
        b.counter = b.requested_us.iter().map(|&t| 4.0 * t as f64).collect();
        b.counter[30] = 0.0; // resets at 3 s
        let t = trace(vec![b], vec![req(0, 1_000_000, 4_000_000, 10)], 100_000);
        let e = of(&t).unwrap();
        let r = &e.requests[0].total;
        assert_eq!(r.method, Some(Method::Integration));
        assert!((r.j.unwrap() - 16.0).abs() < 1e-6);
        assert_eq!(e.faults.backwards, 1);
        assert_eq!(e.faults.backwards_first, Some(3_000_000));
    }

    #[test]
    fn a_coarse_counter_is_not_used_and_wrong_units_are_refused() {
        // Wh counter stepping by 1 Wh (3600 J): far over 1 % of a few joules.
        let mut b = samples(100_000, 6_000_000, |_| 4.0);
        b.counter_unit = "Wh".into();
        b.counter = b
            .requested_us
            .iter()
            .map(|&t| (t / 3_000_000) as f64)
            .collect();
        let t = trace(vec![b], vec![req(0, 1_000_000, 2_000_000, 10)], 100_000);
        let e = of(&t).unwrap();
        assert_eq!(e.requests[0].total.method, Some(Method::Integration));
        let mut b = samples(100_000, 2_000_000, |_| 4.0);
        b.unit = "A".into();
        let e = of(&trace(vec![b], vec![], 100_000)).unwrap();
        assert_eq!(e.faults.refused, 21);
        assert!(e
            .faults
            .refused_first
            .unwrap()
            .1
            .contains("not a power unit"));
    }

    #[test]
    fn a_plug_refreshing_once_a_second_is_detected_and_sets_the_period() {
        // Polled every 200 ms, the value changes only on whole seconds.
        let b = samples(200_000, 20_000_000, |t| {
            3.0 + (t / 1_000_000 % 2) as f64 * 0.1
        });
        let e = of(&trace(
            vec![b],
            vec![req(0, 2_000_000, 3_000_000, 5)],
            200_000,
        ))
        .unwrap();
        assert_eq!(e.source_update_ms, Some(1000.0));
        assert!(e.requests[0]
            .total
            .reason
            .as_ref()
            .unwrap()
            .contains("1000 ms"));
    }

    #[test]
    fn traces_without_power_have_no_energy() {
        let mut t = trace(vec![], vec![], 1);
        t.power = Default::default();
        assert_eq!(of(&t), None);
    }
}
