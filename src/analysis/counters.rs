//! The run's measured series as counter tracks on the token clock (integer µs), for timeline
//! exports (`report --format perfetto`). The HTML charts hold the same series in seconds; a
//! timeline viewer wants the exact microsecond of each sample, so they are kept here as recorded.
use crate::analysis::charts::{CPU_UNIT, TICKS};
use crate::stats::energy::Energy;
use crate::stats::telemetry::{Timeline, USER_HZ};

/// One sample's value: a telemetry reading as recorded (an integer in the trace's unit), or a
/// figure derived from readings (CPU utilisation, watts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CounterValue {
    Int(i64),
    Float(f64),
}

/// One measured series: `(µs since the run's clock origin, value)`, ascending in time, only
/// samples that were read (a gap is left out, not drawn as 0).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CounterTrack {
    pub key: String,
    pub unit: String,
    pub points: Vec<(u64, CounterValue)>,
}

/// Every telemetry series in key order (a cumulative CPU-tick counter as its utilisation,
/// [`CPU_UNIT`], since a counter that only rises says nothing on a timeline), then the power
/// samples in watts when the run recorded power.
pub(crate) fn of(timeline: &Timeline, energy: Option<&Energy>) -> Vec<CounterTrack> {
    let mut out: Vec<CounterTrack> = timeline
        .series()
        .into_iter()
        .map(|(key, unit, pts)| {
            if unit == TICKS {
                CounterTrack {
                    key,
                    unit: CPU_UNIT.into(),
                    points: ticks_to_percent(&pts),
                }
            } else {
                CounterTrack {
                    key,
                    unit,
                    points: pts
                        .into_iter()
                        .filter_map(|(t, v)| Some((t, CounterValue::Int(v?))))
                        .collect(),
                }
            }
        })
        .collect();
    if let Some(e) = energy {
        out.push(CounterTrack {
            key: "power".into(),
            unit: "W".into(),
            points: e
                .points
                .iter()
                .filter(|(_, w)| w.is_finite())
                .map(|&(t, w)| (t, CounterValue::Float(w)))
                .collect(),
        });
    }
    out
}

/// A cumulative tick counter as % of one CPU between consecutive read samples (a gap restarts
/// the rate; a sample at the same µs as the one before gives none).
fn ticks_to_percent(points: &[(u64, Option<i64>)]) -> Vec<(u64, CounterValue)> {
    let mut out = Vec::with_capacity(points.len());
    let mut prev: Option<(u64, i64)> = None;
    for &(t, v) in points {
        let Some(v) = v else {
            prev = None;
            continue;
        };
        if let Some((t0, v0)) = prev.filter(|&(t0, _)| t > t0) {
            let pct = (v as f64 - v0 as f64) / USER_HZ / ((t - t0) as f64 / 1e6) * 100.0;
            out.push((t, CounterValue::Float(pct)));
        }
        prev = Some((t, v));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::trace::{Series, TelemetryBatch, Trace, NOT_READ};

    fn batch(t_us: Vec<u64>, series: Vec<(&str, &str, Vec<i64>)>) -> TelemetryBatch {
        TelemetryBatch {
            t_us,
            series: series
                .into_iter()
                .map(|(k, u, values)| Series {
                    key: k.into(),
                    unit: u.into(),
                    values,
                })
                .collect(),
        }
    }

    #[test]
    fn readings_keep_their_microsecond_and_gaps_are_left_out() {
        let mut trace = header_only();
        // Out of order on purpose: the timeline sorts.
        trace.telemetry = vec![
            batch(vec![3_000], vec![("npu.load.core0", "%", vec![40])]),
            batch(
                vec![1_000, 2_000],
                vec![("npu.load.core0", "%", vec![10, NOT_READ])],
            ),
        ];
        let c = of(&Timeline::of(&trace.telemetry), None);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].key, "npu.load.core0");
        assert_eq!(c[0].unit, "%");
        assert_eq!(
            c[0].points,
            vec![
                (1_000, CounterValue::Int(10)),
                (3_000, CounterValue::Int(40))
            ]
        );
    }

    /// A trace with only a run header (what a run that recorded nothing reads as).
    pub(crate) fn header_only() -> Trace {
        use crate::trace::{encode_frame, encode_record, file_header, reader, Record};
        let mut out = file_header(0).to_vec();
        let (k, p) = encode_record(&Record::Header(Default::default())).unwrap();
        encode_frame(0, k, &p, &mut out);
        reader::parse(&out, "t.rktrace".into()).unwrap()
    }

    #[test]
    fn cpu_ticks_become_utilisation_and_a_gap_restarts_the_rate() {
        // 50 ticks in 0.5 s = 100 % of one CPU; after the gap, 25 ticks in 0.5 s = 50 %.
        let p = [
            (0, Some(100)),
            (500_000, Some(150)),
            (1_000_000, None),
            (1_500_000, Some(300)),
            (2_000_000, Some(325)),
            (2_000_000, Some(330)),
        ];
        assert_eq!(
            ticks_to_percent(&p),
            vec![
                (500_000, CounterValue::Float(100.0)),
                (2_000_000, CounterValue::Float(50.0))
            ]
        );
    }
}
