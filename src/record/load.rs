//! Load planning, beside the recorder: how requests are offered (one at a time, N streams in a
//! closed loop, or an open-loop arrival schedule) and the schedule's intended send times. The
//! recorders (`http::load` for a server, the runtime's instances) only follow it; what a level
//! achieved is computed from the trace in `stats::load`.
//!
//! The open-loop schedule is vLLM's `get_request` (`vllm/benchmarks/serve.py`): before each of
//! the N requests a gap drawn from Gamma(shape = burstiness, scale = 1/(rate·burstiness)) (mean
//! 1/rate; burstiness 1 = exponential, a Poisson process), summed, then scaled so the last
//! request lands exactly at N/rate ("closes the 1-2% gap" of raw sums). Constant arrivals are
//! its `burstiness = inf` case: request i at (i+1)/rate. The draws come from rkbench's own
//! seeded generator (splitmix64, Marsaglia–Tsang), not numpy's: the same `--seed` gives the same
//! schedule on every machine, not vLLM's samples.
use crate::error::{Error, Result};
use crate::trace::load::{Arrivals, LoadMode, LoadRun};
use crate::trace::Fact;

/// Default cap on open-loop requests in flight (the `--max-concurrency` limit): a rate the
/// server cannot follow must not open connections without bound.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: u32 = 256;

/// How a run offers its requests (decided from the flags once, in `record::plan`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoadPlan {
    pub mode: LoadMode,
    /// Closed loop: streams (1 for a sequential run). Open loop: most requests in flight.
    pub concurrency: u32,
    /// Open loop: requests per second (0 otherwise).
    pub rate: f64,
    pub arrivals: Arrivals,
    /// Gamma shape of Poisson gaps (1 = Poisson).
    pub burstiness: f64,
    pub seed: u64,
}

impl Default for LoadPlan {
    fn default() -> Self {
        LoadPlan {
            mode: LoadMode::Sequential,
            concurrency: 1,
            rate: 0.0,
            arrivals: Arrivals::Poisson,
            burstiness: 1.0,
            seed: 0,
        }
    }
}

impl LoadPlan {
    /// The plan the load flags give (each value already checked against `limits`).
    /// `local`: the run loads the runtime (no `--server`), where only `--concurrency` applies.
    pub(crate) fn from_flags(
        concurrency: Option<i64>,
        rate: Option<f64>,
        arrivals: Option<&str>,
        burstiness: Option<f64>,
        max_concurrency: Option<i64>,
        seed: u64,
        local: bool,
    ) -> Result<LoadPlan> {
        let mut p = LoadPlan {
            seed,
            ..Default::default()
        };
        if rate.is_none() {
            for (given, flag) in [
                (arrivals.is_some(), "--arrivals"),
                (burstiness.is_some(), "--burstiness"),
                (max_concurrency.is_some(), "--max-concurrency"),
            ] {
                if given {
                    return Err(Error::usage(format!(
                        "{flag} shapes an open-loop schedule and needs --rate R (requests/s); with --concurrency N the streams themselves set the pace"
                    )));
                }
            }
        }
        match (concurrency, rate) {
            (Some(_), Some(_)) => Err(Error::usage(
                "--concurrency and --rate are two load modes (closed loop, open loop); give one, and cap the requests in flight under --rate with --max-concurrency",
            )),
            (None, None) => Ok(p),
            (Some(n), None) => {
                p.mode = LoadMode::Concurrency;
                p.concurrency = n as u32;
                Ok(p)
            }
            (None, Some(_)) if local => Err(Error::usage(
                "--rate needs --server: an arrival rate is offered to a server that queues or rejects; on the runtime use --concurrency N (N instances in one process)",
            )),
            (None, Some(r)) => {
                p.mode = LoadMode::Rate;
                p.rate = r;
                p.concurrency = max_concurrency.map_or(DEFAULT_MAX_IN_FLIGHT, |m| m as u32);
                p.arrivals = match arrivals {
                    None => Arrivals::Poisson,
                    Some(a) => Arrivals::parse(a).map_err(|e| Error::usage(format!("--arrivals: {e}")))?,
                };
                if let Some(b) = burstiness {
                    if p.arrivals == Arrivals::Constant {
                        return Err(Error::usage(
                            "--burstiness shapes Poisson gaps; --arrivals constant has none (every gap is 1/rate): drop one",
                        ));
                    }
                    p.burstiness = b;
                }
                Ok(p)
            }
        }
    }

    /// Whether requests run together (anything but one at a time).
    pub(crate) fn is_load(&self) -> bool {
        self.mode != LoadMode::Sequential
    }

    /// The level record a trace starts with (`start_us`: when the schedule starts).
    pub(crate) fn level(&self, start_us: u64, instances: u32, mut facts: Vec<Fact>) -> LoadRun {
        facts.sort();
        let open = self.mode == LoadMode::Rate;
        LoadRun {
            mode: self.mode.as_str().into(),
            concurrency: self.concurrency,
            rate_rps: if open { self.rate } else { 0.0 },
            arrivals: if open {
                self.arrivals.as_str().into()
            } else {
                String::new()
            },
            burstiness: if open && self.arrivals == Arrivals::Poisson {
                self.burstiness
            } else {
                0.0
            },
            seed: self.seed,
            start_us,
            instances,
            facts,
        }
    }

    /// Intended send times of `n` requests, µs after the level starts (open loop only).
    pub(crate) fn schedule(&self, n: usize) -> Vec<u64> {
        schedule(self.rate, self.arrivals, self.burstiness, n, self.seed)
    }
}

/// vLLM's open-loop schedule (see the module doc): µs after the level starts, non-decreasing.
pub(crate) fn schedule(
    rate: f64,
    arrivals: Arrivals,
    burstiness: f64,
    n: usize,
    seed: u64,
) -> Vec<u64> {
    if n == 0 || !(rate.is_finite() && rate > 0.0) {
        return vec![0; n];
    }
    let mut rng = Rng(seed ^ 0x6c6f_6164_5f73_6368); // "load_sch": not the --order stream
    let mut t = 0.0f64;
    let mut at: Vec<f64> = Vec::with_capacity(n);
    for _ in 0..n {
        t += match arrivals {
            Arrivals::Constant => 1.0 / rate,
            Arrivals::Poisson => rng.gamma(burstiness) / (rate * burstiness),
        };
        at.push(t);
    }
    let last = at[n - 1];
    let scale = if last > 0.0 {
        (n as f64 / rate) / last
    } else {
        1.0
    };
    at.iter()
        .map(|&s| (s * scale * 1e6).round().clamp(0.0, u64::MAX as f64 / 2.0) as u64)
        .collect()
}

/// The same splitmix64 as `--order shuffled` ([`super::schedule::next`]), on its own stream.
struct Rng(u64);

impl Rng {
    fn u64(&mut self) -> u64 {
        super::schedule::next(&mut self.0)
    }

    /// Uniform in (0, 1): never 0, so logs are finite.
    fn open01(&mut self) -> f64 {
        ((self.u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller; one of the pair is enough here.
        let (u, v) = (self.open01(), self.open01());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 by the boost U^(1/shape).
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.open01();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.open01();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(
        c: Option<i64>,
        r: Option<f64>,
        a: Option<&str>,
        b: Option<f64>,
        m: Option<i64>,
    ) -> Result<LoadPlan> {
        LoadPlan::from_flags(c, r, a, b, m, 7, false)
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let a = schedule(2.0, Arrivals::Poisson, 1.0, 50, 1);
        assert_eq!(a, schedule(2.0, Arrivals::Poisson, 1.0, 50, 1));
        assert_ne!(a, schedule(2.0, Arrivals::Poisson, 1.0, 50, 2));
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        // vLLM's normalisation: the last request lands at N/rate exactly.
        assert_eq!(*a.last().unwrap(), 25_000_000);
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_from_one_gap_in() {
        assert_eq!(
            schedule(4.0, Arrivals::Constant, 1.0, 4, 0),
            vec![250_000, 500_000, 750_000, 1_000_000]
        );
    }

    #[test]
    fn gamma_gaps_have_mean_one_over_rate_and_burstiness_sets_their_spread() {
        // Before normalisation the raw gaps are what the shape says: check the generator.
        let cv = |shape: f64| {
            let mut r = Rng(3);
            let v: Vec<f64> = (0..20_000).map(|_| r.gamma(shape) / shape).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
            (m, var.sqrt() / m)
        };
        for shape in [0.5, 1.0, 4.0] {
            let (m, c) = cv(shape);
            assert!((m - 1.0).abs() < 0.05, "shape {shape}: mean {m}");
            // The coefficient of variation of Gamma(k) is 1/sqrt(k).
            assert!(
                (c - 1.0 / shape.sqrt()).abs() < 0.05,
                "shape {shape}: cv {c}"
            );
        }
    }

    #[test]
    fn flags_choose_one_mode_and_refuse_contradictions() {
        assert_eq!(
            plan(None, None, None, None, None).unwrap().mode,
            LoadMode::Sequential
        );
        let c = plan(Some(4), None, None, None, None).unwrap();
        assert_eq!((c.mode, c.concurrency), (LoadMode::Concurrency, 4));
        let r = plan(None, Some(2.5), Some("constant"), None, Some(8)).unwrap();
        assert_eq!(
            (r.mode, r.rate, r.arrivals, r.concurrency),
            (LoadMode::Rate, 2.5, Arrivals::Constant, 8)
        );
        assert_eq!(
            plan(None, Some(1.0), None, None, None).unwrap().concurrency,
            DEFAULT_MAX_IN_FLIGHT
        );
        for (e, want) in [
            (plan(Some(2), Some(1.0), None, None, None), "two load modes"),
            (
                plan(Some(2), None, Some("poisson"), None, None),
                "--arrivals",
            ),
            (plan(None, None, None, Some(2.0), None), "--burstiness"),
            (plan(None, None, None, None, Some(2)), "--max-concurrency"),
            (
                plan(None, Some(1.0), Some("constant"), Some(2.0), None),
                "drop one",
            ),
            (
                plan(None, Some(1.0), Some("bursty"), None, None),
                "--arrivals",
            ),
            (
                LoadPlan::from_flags(None, Some(1.0), None, None, None, 0, true),
                "needs --server",
            ),
        ] {
            let msg = e.unwrap_err().msg;
            assert!(msg.contains(want), "{msg}");
        }
    }

    #[test]
    fn the_level_record_says_only_what_its_mode_uses() {
        let c = plan(Some(3), None, None, None, None)
            .unwrap()
            .level(10, 0, vec![]);
        assert_eq!(
            (
                c.mode.as_str(),
                c.concurrency,
                c.rate_rps,
                c.arrivals.as_str()
            ),
            ("concurrency", 3, 0.0, "")
        );
        let r = plan(None, Some(2.0), None, Some(0.5), None)
            .unwrap()
            .level(10, 0, vec![]);
        assert_eq!(
            (r.arrivals.as_str(), r.burstiness, r.start_us),
            ("poisson", 0.5, 10)
        );
    }
}
