//! The data behind the HTML report's charts. Everything here is a figure (rates, pooled ITL,
//! CPU utilisation); the HTML renderer only scales units, lays out and draws.
use crate::stats::aggregate::{percentile, sorted};
use crate::stats::request::itl_ms;
use crate::stats::telemetry::{Timeline, USER_HZ};
use crate::stats::Summary;
use crate::trace::{Status, Trace};

/// Tokens per sliding window of the decode-rate-over-time chart: long enough to smooth callback
/// jitter, short enough to show a slowdown within a request.
pub(crate) const RATE_WINDOW: usize = 8;

/// Unit of a cumulative CPU-time counter in the trace (`proc.cpu`: utime + stime).
pub(crate) const TICKS: &str = "ticks";
/// What a ticks counter is charted as: its rate, which is what a reader wants to see.
pub(crate) const CPU_UNIT: &str = "% of one CPU";

/// One named line: `(x, y)` points; a non-finite `y` is a gap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One measured request's point on the TTFT-vs-input chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TtftPoint {
    pub index: u32,
    pub id: String,
    pub status: Status,
    pub input_tokens: i64,
    pub ttft_ms: f64,
}

/// One telemetry series over the run: x in seconds since the run's clock origin, y in `unit`
/// (the trace's unit, except CPU ticks, which become [`CPU_UNIT`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TelemetryCurve {
    pub key: String,
    pub unit: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Charts {
    /// Decode rate over time, one curve per measured request with ≥ 2 tokens.
    pub decode_rate: Vec<Curve>,
    /// Every ITL of every measured request (ms), ascending.
    pub itl_pooled_ms: Vec<f64>,
    /// Where the ITL histogram stops and counts the rest as overflow: p99, when the maximum is
    /// beyond 2 × p99 (a few far stalls would otherwise squeeze every other bar into one).
    pub itl_clip_ms: Option<f64>,
    /// TTFT against input tokens, grouped by category in order of first appearance.
    pub ttft_by_category: Vec<(String, Vec<TtftPoint>)>,
    /// Telemetry series, sorted by key.
    pub telemetry: Vec<TelemetryCurve>,
}

impl Charts {
    /// `energy`: its power samples join the telemetry timeline as `power` (W).
    pub(crate) fn of(
        trace: &Trace,
        s: &Summary,
        tl: &Timeline,
        energy: Option<&crate::stats::energy::Energy>,
    ) -> Charts {
        let mut telemetry = telemetry(tl);
        if let Some(e) = energy {
            telemetry.push(TelemetryCurve {
                key: "power".into(),
                unit: "W".into(),
                points: e.points.iter().map(|&(t, w)| (t as f64 / 1e6, w)).collect(),
            });
        }
        let itl_pooled_ms = sorted(trace.requests.iter().filter(|r| !r.warmup).flat_map(itl_ms));
        let itl_clip_ms = itl_pooled_ms.last().and_then(|&max| {
            let p99 = percentile(&itl_pooled_ms, 99.0);
            (max > 2.0 * p99).then_some(p99)
        });
        Charts {
            decode_rate: decode_rate(trace),
            itl_pooled_ms,
            itl_clip_ms,
            ttft_by_category: ttft_by_category(s),
            telemetry,
        }
    }
}

/// For token i ≥ 1 (the first token's delay is prefill, so windows start at t1),
/// k = min(i, RATE_WINDOW) and the rate is k / (t_i − t_(i−k)), at t_i in seconds since t0.
fn decode_rate(trace: &Trace) -> Vec<Curve> {
    trace
        .requests
        .iter()
        .filter(|r| !r.warmup && r.tokens.token_dt_us.len() >= 2)
        .map(|r| {
            let t = r.token_times_us();
            let points = (1..t.len())
                .filter_map(|i| {
                    let k = i.min(RATE_WINDOW);
                    let dt = t[i] - t[i - k];
                    (dt > 0).then(|| (t[i] as f64 / 1e6, k as f64 * 1e6 / dt as f64))
                })
                .collect();
            Curve {
                name: format!("#{} {}", r.index, r.test_id),
                points,
            }
        })
        .collect()
}

fn ttft_by_category(s: &Summary) -> Vec<(String, Vec<TtftPoint>)> {
    let mut out: Vec<(String, Vec<TtftPoint>)> = Vec::new();
    for m in s.metrics.iter().filter(|m| !m.warmup) {
        let (Some(ttft_ms), Some(input_tokens)) = (m.ttft_ms, m.input_tokens) else {
            continue;
        };
        let cat = if m.category.is_empty() {
            "(no category)"
        } else {
            &m.category
        };
        let pos = match out.iter().position(|(c, _)| c == cat) {
            Some(p) => p,
            None => {
                out.push((cat.to_string(), Vec::new()));
                out.len() - 1
            }
        };
        out[pos].1.push(TtftPoint {
            index: m.index,
            id: m.id.clone(),
            status: m.status,
            input_tokens,
            ttft_ms,
        });
    }
    out
}

fn telemetry(tl: &Timeline) -> Vec<TelemetryCurve> {
    tl.series()
        .into_iter()
        .map(|(key, unit, pts)| {
            let points: Vec<(f64, f64)> = pts
                .into_iter()
                .map(|(t, v)| (t as f64 / 1e6, v.map_or(f64::NAN, |v| v as f64)))
                .collect();
            if unit == TICKS {
                TelemetryCurve {
                    key,
                    unit: CPU_UNIT.into(),
                    points: ticks_to_percent(&points),
                }
            } else {
                TelemetryCurve { key, unit, points }
            }
        })
        .collect()
}

/// A cumulative tick counter as CPU utilisation between consecutive readable samples (the
/// counter itself only ever rises, which says nothing at a glance).
pub(crate) fn ticks_to_percent(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    let mut prev: Option<(f64, f64)> = None;
    for &(t, v) in points {
        if !v.is_finite() {
            out.push((t, f64::NAN));
            prev = None;
            continue;
        }
        if let Some((t0, v0)) = prev {
            if t > t0 {
                out.push((t, (v - v0) / USER_HZ / (t - t0) * 100.0));
            }
        }
        prev = Some((t, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_become_utilisation() {
        // 50 ticks in 0.5 s = 1 CPU-second per second = 100 %; a gap restarts the rate.
        let p = [
            (0.0, 100.0),
            (0.5, 150.0),
            (1.0, f64::NAN),
            (1.5, 300.0),
            (2.0, 325.0),
        ];
        let r = ticks_to_percent(&p);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], (0.5, 100.0));
        assert!(r[1].1.is_nan());
        assert_eq!(r[2], (2.0, 50.0));
    }
}
