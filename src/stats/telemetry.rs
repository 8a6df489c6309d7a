//! Board telemetry recomputed from a trace: the sampled series merged into one timeline, and the
//! board state during each request (mean NPU load, frequency ranges, hottest zone).
//!
//! Why per request: a run-wide average hides the request that throttled. Samples are selected by
//! time: a request's window is `[start_us, start_us + end_us]` on the recorder's clock, the same
//! clock the sampler stamps (`record::telemetry`). A request shorter than the sample interval may
//! have no sample in its window; its figures are then absent rather than borrowed from neighbours.
//!
//! Units are the trace's: `%` for NPU load, `Hz` for NPU/DMC frequency, `kHz` for CPU frequency,
//! `m°C` for temperature, `kB` for memory, `ticks` (USER_HZ = 100 per second on every Linux
//! architecture rkbench targets) for process CPU time.
use crate::trace::vocab::series;
use crate::trace::{RequestRecord, TelemetryBatch};
use std::collections::BTreeMap;
use std::ops::Range;

/// A value that was not read at that sample.
pub use crate::trace::NOT_READ;

/// Linux USER_HZ: `/proc/<pid>/stat` times are in 1/100 s on arm64 and x86_64.
pub(crate) const USER_HZ: f64 = 100.0;

/// One series over the whole run, aligned with [`Timeline::t_us`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub key: String,
    pub unit: String,
    /// One per sample; [`NOT_READ`] where the series was not read (or not in that batch).
    pub values: Vec<i64>,
    /// One per sample: the sample's batch carried this series (a chart draws a gap where it
    /// was carried but not read, and nothing where it was never sampled).
    pub carried: Vec<bool>,
}

/// Every telemetry batch of a trace merged: one time axis, one column per key (sorted by key).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Timeline {
    /// Sample times, µs since the run's clock origin, ascending.
    pub t_us: Vec<u64>,
    pub columns: Vec<Column>,
}

/// `(t_us, value)` points of one series; `None` where the sample was not read (charts break
/// the line there rather than joining across a gap).
pub(crate) type Points = Vec<(u64, Option<i64>)>;

/// Minimum and maximum of a series over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MinMax {
    pub min: i64,
    pub max: i64,
}

impl Timeline {
    /// Merge batches. Keys missing from a batch read as [`NOT_READ`] there; a series shorter
    /// than its batch's time axis is padded the same way (extra values are ignored). Samples are
    /// put in time order (stable), so batches written out of order still give one timeline.
    pub(crate) fn of(batches: &[TelemetryBatch]) -> Timeline {
        let mut units: BTreeMap<&str, &str> = BTreeMap::new();
        for b in batches {
            for s in &b.series {
                units.entry(s.key.as_str()).or_insert(s.unit.as_str());
            }
        }
        let n: usize = batches.iter().map(|b| b.t_us.len()).sum();
        let mut t_us = Vec::with_capacity(n);
        let mut cols: Vec<Column> = units
            .iter()
            .map(|(k, u)| Column {
                key: (*k).to_string(),
                unit: (*u).to_string(),
                values: Vec::with_capacity(n),
                carried: Vec::with_capacity(n),
            })
            .collect();
        for b in batches {
            t_us.extend_from_slice(&b.t_us);
            for c in &mut cols {
                let s = b.series.iter().find(|s| s.key == c.key);
                for i in 0..b.t_us.len() {
                    c.values
                        .push(s.and_then(|s| s.values.get(i).copied()).unwrap_or(NOT_READ));
                    c.carried.push(s.is_some());
                }
            }
        }
        if t_us.windows(2).any(|w| w[0] > w[1]) {
            let mut order: Vec<usize> = (0..t_us.len()).collect();
            order.sort_by_key(|&i| t_us[i]);
            t_us = order.iter().map(|&i| t_us[i]).collect();
            for c in &mut cols {
                c.values = order.iter().map(|&i| c.values[i]).collect();
                c.carried = order.iter().map(|&i| c.carried[i]).collect();
            }
        }
        Timeline {
            t_us,
            columns: cols,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.t_us.is_empty() || self.columns.is_empty()
    }

    pub(crate) fn column(&self, key: &str) -> Option<&Column> {
        self.columns
            .binary_search_by(|c| c.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.columns[i])
    }

    /// Columns whose key starts with `prefix`, in key order.
    pub(crate) fn columns_with<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Column> + 'a {
        self.columns
            .iter()
            .filter(move |c| c.key.starts_with(prefix))
    }

    /// Indices of the samples with `start_us <= t <= end_us`.
    pub(crate) fn window(&self, start_us: u64, end_us: u64) -> Range<usize> {
        let a = self.t_us.partition_point(|&t| t < start_us);
        let b = self.t_us.partition_point(|&t| t <= end_us);
        a..b.max(a)
    }

    /// Every series as `(key, unit, points)`, sorted by key, each point at a sample of the
    /// timeline. Samples of batches that did not carry the key are left out; samples where it
    /// was carried but not read are `None`.
    pub(crate) fn series(&self) -> Vec<(String, String, Points)> {
        self.columns
            .iter()
            .map(|c| {
                let pts = self
                    .t_us
                    .iter()
                    .zip(&c.values)
                    .zip(&c.carried)
                    .filter(|(_, &carried)| carried)
                    .map(|((&t, &v), _)| (t, (v != NOT_READ).then_some(v)))
                    .collect();
                (c.key.clone(), c.unit.clone(), pts)
            })
            .collect()
    }
}

fn read(values: &[i64]) -> impl Iterator<Item = i64> + '_ {
    values.iter().copied().filter(|&v| v != NOT_READ)
}

/// Min/max of `key` over samples `w`.
pub(crate) fn min_max(tl: &Timeline, key: &str, w: Range<usize>) -> Option<MinMax> {
    let c = tl.column(key)?;
    read(&c.values[w]).fold(None, |a, v| {
        Some(match a {
            None => MinMax { min: v, max: v },
            Some(m) => MinMax {
                min: m.min.min(v),
                max: m.max.max(v),
            },
        })
    })
}

/// NPU load over a set of samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NpuLoad {
    /// Per sample the mean over the cores read, then the mean over samples (%).
    pub mean: f64,
    /// Each core's mean (`core0`, …), in core order.
    pub per_core: Vec<(String, f64)>,
    /// Samples with at least one core read.
    pub samples: usize,
}

/// Mean NPU load over the samples `idx` (indices into the timeline).
pub(crate) fn npu_load_at(tl: &Timeline, idx: impl IntoIterator<Item = usize>) -> Option<NpuLoad> {
    let cores: Vec<&Column> = tl.columns_with("npu.load.").collect();
    if cores.is_empty() {
        return None;
    }
    let (mut sum, mut n) = (0.0, 0usize);
    let mut per: Vec<(i64, usize)> = vec![(0, 0); cores.len()];
    for i in idx {
        let (mut s, mut k) = (0i64, 0usize);
        for (c, p) in cores.iter().zip(per.iter_mut()) {
            let v = c.values[i];
            if v != NOT_READ {
                s += v;
                k += 1;
                p.0 += v;
                p.1 += 1;
            }
        }
        if k > 0 {
            sum += s as f64 / k as f64;
            n += 1;
        }
    }
    (n > 0).then(|| NpuLoad {
        mean: sum / n as f64,
        per_core: cores
            .iter()
            .zip(&per)
            .filter(|(_, p)| p.1 > 0)
            .map(|(c, p)| {
                (
                    c.key["npu.load.".len()..].to_string(),
                    p.0 as f64 / p.1 as f64,
                )
            })
            .collect(),
        samples: n,
    })
}

/// Mean NPU load over samples `w`, see [`npu_load_at`].
pub(crate) fn npu_load(tl: &Timeline, w: Range<usize>) -> Option<NpuLoad> {
    npu_load_at(tl, w)
}

/// Mean NPU load (%) between two times (µs), see [`npu_load`].
pub(crate) fn npu_load_mean(tl: &Timeline, start_us: u64, end_us: u64) -> Option<f64> {
    npu_load(tl, tl.window(start_us, end_us)).map(|l| l.mean)
}

/// The hottest zone over samples `w`: (zone type, m°C). Ties go to the first key in order.
pub(crate) fn max_temp(tl: &Timeline, w: Range<usize>) -> Option<(String, i64)> {
    let mut best: Option<(String, i64)> = None;
    for c in tl.columns_with("thermal.") {
        if let Some(m) = read(&c.values[w.clone()]).max() {
            let hotter = match &best {
                None => true,
                Some((_, b)) => m > *b,
            };
            if hotter {
                best = Some((c.key["thermal.".len()..].to_string(), m));
            }
        }
    }
    best
}

/// Board state during one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RequestTelemetry {
    /// Samples inside `[start, end]`.
    pub samples: usize,
    /// Mean NPU load over the whole request (%, mean over cores).
    pub npu_load_pct: Option<f64>,
    /// Mean NPU load from the first token to the end: the decode phase.
    pub npu_load_decode_pct: Option<f64>,
    pub npu_freq_hz: Option<MinMax>,
    pub dmc_freq_hz: Option<MinMax>,
    /// Per CPU policy (`policy4`), in key order.
    pub cpu_freq_khz: Vec<(String, MinMax)>,
    /// Hottest zone: (type, m°C).
    pub max_temp_mc: Option<(String, i64)>,
    /// Process CPU time over wall time between the first and last sample in the window, in % of
    /// one core (200 % = two cores busy). Needs two samples.
    pub process_cpu_pct: Option<f64>,
    /// Largest process RSS sampled (kB).
    pub rss_max_kb: Option<i64>,
}

/// Board state during `[start_us, end_us]`; `decode_from_us` starts the decode-phase load.
pub(crate) fn window(
    tl: &Timeline,
    start_us: u64,
    end_us: u64,
    decode_from_us: Option<u64>,
) -> RequestTelemetry {
    let w = tl.window(start_us, end_us);
    let cpu_freq_khz = tl
        .columns_with("cpu.")
        .filter(|c| c.key.ends_with(".freq"))
        .filter_map(|c| {
            let policy = c.key["cpu.".len()..c.key.len() - ".freq".len()].to_string();
            min_max(tl, &c.key, w.clone()).map(|m| (policy, m))
        })
        .collect();
    let (cpu_key, rss_key) = model_process(tl);
    let process_cpu_pct = tl.column(cpu_key).and_then(|c| {
        let pts: Vec<(u64, i64)> = w
            .clone()
            .map(|i| (tl.t_us[i], c.values[i]))
            .filter(|&(_, v)| v != NOT_READ)
            .collect();
        match (pts.first(), pts.last()) {
            (Some(&(t0, v0)), Some(&(t1, v1))) if t1 > t0 => {
                Some((v1 - v0) as f64 / USER_HZ / ((t1 - t0) as f64 / 1e6) * 100.0)
            }
            _ => None,
        }
    });
    RequestTelemetry {
        samples: w.len(),
        npu_load_pct: npu_load(tl, w.clone()).map(|l| l.mean),
        npu_load_decode_pct: decode_from_us.and_then(|d| npu_load_mean(tl, d, end_us)),
        npu_freq_hz: min_max(tl, "npu.freq", w.clone()),
        dmc_freq_hz: min_max(tl, "dmc.freq", w.clone()),
        cpu_freq_khz,
        max_temp_mc: max_temp(tl, w.clone()),
        process_cpu_pct,
        rss_max_kb: tl.column(rss_key).and_then(|c| read(&c.values[w]).max()),
    }
}

/// The CPU and RSS series of the process that runs the model: the measured server's when the
/// trace sampled one (`record --server` on this machine), else rkbench's own (the runtime runs
/// inside it).
pub(crate) fn model_process(tl: &Timeline) -> (&'static str, &'static str) {
    if tl.column(series::SERVER_CPU).is_some() || tl.column(series::SERVER_RSS).is_some() {
        (series::SERVER_CPU, series::SERVER_RSS)
    } else {
        (series::PROC_CPU, series::PROC_RSS)
    }
}

/// Board state during one request (decode phase = first token to end).
pub(crate) fn request(tl: &Timeline, r: &RequestRecord) -> RequestTelemetry {
    let start = r.start_us;
    let end = r.start_us.saturating_add(r.end_us);
    let first = r.tokens.token_dt_us.first().map(|&d| start + u64::from(d));
    window(tl, start, end, first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Series;
    use crate::trace::TokenColumns;

    fn s(key: &str, unit: &str, v: &[i64]) -> Series {
        Series {
            key: key.into(),
            unit: unit.into(),
            values: v.to_vec(),
        }
    }

    fn timeline() -> Timeline {
        // Samples every 100 ms; npu-thermal rises, the NPU drops in the second batch, which
        // also lacks dmc.freq (missing keys read as NOT_READ).
        let b1 = TelemetryBatch {
            t_us: vec![0, 100_000, 200_000],
            series: vec![
                s("npu.load.core0", "%", &[80, 90, NOT_READ]),
                s("npu.load.core1", "%", &[60, 70, 50]),
                s("npu.freq", "Hz", &[1_000_000_000; 3]),
                s("dmc.freq", "Hz", &[2_112_000_000; 3]),
                s(
                    "cpu.policy4.freq",
                    "kHz",
                    &[2_352_000, 1_800_000, 2_352_000],
                ),
                s("thermal.soc-thermal", "m°C", &[50_000, 51_000, 52_000]),
                s("thermal.npu-thermal", "m°C", &[70_000, 80_000, 86_000]),
                s("proc.cpu", "ticks", &[1000, 1010, 1030]),
                s("proc.rss", "kB", &[100, 300, 200]),
            ],
        };
        let b2 = TelemetryBatch {
            t_us: vec![300_000, 400_000],
            series: vec![
                s("npu.load.core0", "%", &[40, 40]),
                s("npu.load.core1", "%", &[20]), // short: padded
                s("npu.freq", "Hz", &[600_000_000, 600_000_000]),
                s("thermal.npu-thermal", "m°C", &[92_000, 91_000]),
            ],
        };
        Timeline::of(&[b1, b2])
    }

    #[test]
    fn a_server_runs_figures_are_the_server_process() {
        // rkbench's own process (the HTTP client) idles at 6 MB; the server runs the model.
        let tl = Timeline::of(&[TelemetryBatch {
            t_us: vec![0, 100_000, 200_000],
            series: vec![
                s("proc.cpu", "ticks", &[10, 10, 10]),
                s("proc.rss", "kB", &[6_000, 6_000, 6_000]),
                s("server.cpu", "ticks", &[500, 510, 540]),
                s("server.rss", "kB", &[80_000, 90_000, 85_000]),
            ],
        }]);
        let t = window(&tl, 0, 200_000, None);
        // 40 ticks = 0.4 s of CPU over 0.2 s = 200 %; peak RSS 90 000 kB.
        assert!((t.process_cpu_pct.unwrap() - 200.0).abs() < 1e-9);
        assert_eq!(t.rss_max_kb, Some(90_000));
        // A bare run: rkbench's own process.
        assert_eq!(model_process(&timeline()), ("proc.cpu", "proc.rss"));
    }

    #[test]
    fn merges_batches_by_key() {
        let tl = timeline();
        assert_eq!(tl.t_us, [0, 100_000, 200_000, 300_000, 400_000]);
        let keys: Vec<&str> = tl.columns.iter().map(|c| c.key.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            tl.column("dmc.freq").unwrap().values[3..],
            [NOT_READ, NOT_READ]
        );
        assert_eq!(tl.column("npu.load.core1").unwrap().values[4], NOT_READ);
        // Out-of-order batches give the same timeline.
        let b = |t: u64, v: i64| TelemetryBatch {
            t_us: vec![t],
            series: vec![s("x", "u", &[v])],
        };
        let tl2 = Timeline::of(&[b(200, 2), b(100, 1)]);
        assert_eq!(tl2.t_us, [100, 200]);
        assert_eq!(tl2.columns[0].values, [1, 2]);
        assert!(Timeline::of(&[]).is_empty());
    }

    #[test]
    fn window_selects_inclusive_bounds() {
        let tl = timeline();
        assert_eq!(tl.window(100_000, 300_000), 1..4);
        assert_eq!(tl.window(100_001, 199_999), 2..2);
        assert_eq!(tl.window(500_000, 600_000), 5..5);
    }

    #[test]
    fn request_figures_by_hand() {
        let tl = timeline();
        // Window 0..=200 ms: loads (80+60)/2=70, (90+70)/2=80, 50 (core0 unread) → mean 66.67.
        let t = window(&tl, 0, 200_000, Some(100_000));
        assert_eq!(t.samples, 3);
        assert!((t.npu_load_pct.unwrap() - 200.0 / 3.0).abs() < 1e-9);
        // Decode from 100 ms: (80 + 50) / 2.
        assert!((t.npu_load_decode_pct.unwrap() - 65.0).abs() < 1e-9);
        assert_eq!(
            t.npu_freq_hz,
            Some(MinMax {
                min: 1_000_000_000,
                max: 1_000_000_000
            })
        );
        assert_eq!(
            t.cpu_freq_khz,
            vec![(
                "policy4".to_string(),
                MinMax {
                    min: 1_800_000,
                    max: 2_352_000
                }
            )]
        );
        assert_eq!(t.max_temp_mc, Some(("npu-thermal".to_string(), 86_000)));
        // 30 ticks = 0.3 s of CPU over 0.2 s of wall = 150 %.
        assert!((t.process_cpu_pct.unwrap() - 150.0).abs() < 1e-9);
        assert_eq!(t.rss_max_kb, Some(300));

        let late = window(&tl, 250_000, 400_000, None);
        assert_eq!(
            late.npu_freq_hz,
            Some(MinMax {
                min: 600_000_000,
                max: 600_000_000
            })
        );
        assert_eq!(late.dmc_freq_hz, None);
        assert_eq!(late.max_temp_mc, Some(("npu-thermal".to_string(), 92_000)));
        assert_eq!(late.process_cpu_pct, None);

        let empty = window(&tl, 120_000, 130_000, None);
        assert_eq!(empty.samples, 0);
        assert_eq!((empty.npu_load_pct, empty.max_temp_mc), (None, None));
    }

    #[test]
    fn request_window_uses_start_and_duration() {
        let tl = timeline();
        let r = RequestRecord {
            start_us: 100_000,
            end_us: 200_000,
            tokens: TokenColumns {
                token_dt_us: vec![150_000, 10],
                ..TokenColumns::default()
            },
            ..Default::default()
        };
        let t = request(&tl, &r);
        assert_eq!(t.samples, 3); // 100, 200, 300 ms
                                  // Decode from 250 ms: sample 300 ms only, (40 + 20) / 2.
        assert!((t.npu_load_decode_pct.unwrap() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn series_sorted_with_unread_points_as_gaps() {
        let tl = timeline();
        let all = tl.series();
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        let (_, unit, pts) = all.iter().find(|(k, _, _)| k == "npu.load.core0").unwrap();
        assert_eq!(unit, "%");
        let read: Vec<(u64, i64)> = pts.iter().filter_map(|&(t, v)| Some((t, v?))).collect();
        assert_eq!(
            read,
            vec![(0, 80), (100_000, 90), (300_000, 40), (400_000, 40)]
        );
        assert_eq!(pts[2], (200_000, None), "an unread sample is a gap");
        let dmc = &all.iter().find(|(k, _, _)| k == "dmc.freq").unwrap().2;
        assert_eq!(
            dmc.len(),
            3,
            "not sampled in the second batch: no points there"
        );
    }
}
