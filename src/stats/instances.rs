//! How several runtime instances in one process shared the NPU, from the trace alone
//! (`record --concurrency N` on the runtime; docs/INSTANCES.md).
//!
//! Definition. Every request's token times are on the run's one clock (`start_us` plus the
//! cumulative gaps). A request is *in prefill* from its start to its first token and *in
//! decode* from its first token to its last. The run is cut at every such boundary into
//! windows in which the number of requests in decode (k) and in prefill stay the same. Each
//! decode token (every token after a request's first) is spread evenly over the interval since
//! its request's previous token, so a token that waited behind another instance's work counts
//! where it waited. Windows with any request in prefill are left out (a prefill occupies the NPU
//! too, and would make "decoding alone" look slower than it is). For each k the aggregate decode
//! rate is the tokens that fall in its windows over their total length; the **aggregate speedup**
//! of k instances is that rate over the k = 1 rate. k instances that take turns on one NPU
//! deliver together what one delivers alone (≈ 1×); instances that do not share anything
//! deliver k× — so the speedup places the run between "in turn" and "in parallel".
//! Every request counts, warm-ups included: they run on instance 0 alone before the level and
//! are the cleanest stretch of one instance decoding alone.
use crate::trace::load::LoadRun;
use crate::trace::{Fact, Trace};

use crate::trace::load::fact::{base_domain_id, SIMULATED_NPU};

/// Fewest decode tokens a window class needs before its rate is compared.
pub(crate) const MIN_TOKENS: f64 = 10.0;

/// How the instances shared the NPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// Aggregate speedup within a quarter of the way from 1× to k×.
    Serial,
    /// Within a quarter of k×.
    Parallel,
    /// In between.
    Partial,
    /// Not enough overlap or not enough decoding alone to compare.
    Unknown,
}

impl Sharing {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Sharing::Serial => "serial",
            Sharing::Parallel => "parallel",
            Sharing::Partial => "partial",
            Sharing::Unknown => "unknown",
        }
    }
}

/// The windows in which exactly `decoding` requests were in decode (none in prefill).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Windows {
    pub decoding: u32,
    /// Total length of these windows, seconds.
    pub seconds: f64,
    /// Decode tokens falling in them (fractional: tokens are spread over their gaps).
    pub tokens: f64,
    /// `tokens / seconds`.
    pub rate_tok_s: Option<f64>,
    /// This rate over the one-alone rate.
    pub speedup: Option<f64>,
}

/// The NPU sharing of one trace with several runtime instances.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceSharing {
    pub instances: u32,
    pub sharing: Sharing,
    /// The k compared with one alone (the most instances decoding together with enough tokens).
    pub compared: Option<u32>,
    /// Aggregate decode rate of `compared` instances over one alone.
    pub aggregate_speedup: Option<f64>,
    /// One entry per k ≥ 1 that occurred, ascending.
    pub windows: Vec<Windows>,
    /// Time with some request in prefill (left out), seconds.
    pub prefill_s: f64,
    /// Why the sharing could not be told (empty otherwise).
    pub why_unknown: String,
    /// The simulated runtime's stated contention model (`serial`/`parallel`), if the trace
    /// came from it.
    pub simulated: Option<String>,
    /// `base_domain_id` of each instance, as recorded.
    pub base_domain_ids: Vec<String>,
}

/// The analysis, for a trace of several runtime instances (`None` otherwise).
pub(crate) fn of(trace: &Trace) -> Option<InstanceSharing> {
    let run = trace.load.run.as_ref().filter(|r| r.instances >= 2)?;
    let mut decode: Vec<(u64, u64)> = Vec::new();
    let mut prefill: Vec<(u64, u64)> = Vec::new();
    // Every decode token's gap: (its previous token's time, its time).
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    for r in &trace.requests {
        let times: Vec<u64> = r
            .token_times_us()
            .into_iter()
            .map(|t| r.start_us.saturating_add(t))
            .collect();
        match (times.first(), times.last()) {
            (Some(&first), Some(&last)) => {
                prefill.push((r.start_us, first));
                if last > first {
                    decode.push((first, last));
                }
                gaps.extend(times.windows(2).map(|w| (w[0], w[1])));
            }
            _ => prefill.push((r.start_us, r.start_us.saturating_add(r.end_us))),
        }
    }
    Some(sharing(run, &decode, &prefill, &gaps))
}

/// The windows and the verdict from the phases and token gaps (µs on the run clock).
fn sharing(
    run: &LoadRun,
    decode: &[(u64, u64)],
    prefill: &[(u64, u64)],
    gaps: &[(u64, u64)],
) -> InstanceSharing {
    // Boundaries, and the state (decoding, prefilling) of each window (b[i], b[i+1]].
    let mut events: Vec<(u64, i64, i64)> = Vec::new();
    for &(a, b) in decode.iter().filter(|(a, b)| b > a) {
        events.push((a, 1, 0));
        events.push((b, -1, 0));
    }
    for &(a, b) in prefill.iter().filter(|(a, b)| b > a) {
        events.push((a, 0, 1));
        events.push((b, 0, -1));
    }
    events.sort_unstable();
    let mut bounds: Vec<u64> = Vec::new();
    let mut state: Vec<(i64, i64)> = Vec::new();
    let (mut dec, mut pre) = (0i64, 0i64);
    let mut i = 0;
    while i < events.len() {
        let t = events[i].0;
        while i < events.len() && events[i].0 == t {
            dec += events[i].1;
            pre += events[i].2;
            i += 1;
        }
        bounds.push(t);
        state.push((dec, pre));
    }
    let windows_n = bounds.len().saturating_sub(1);
    // Tokens per window: each gap is a density of 1/len over [a, b); its integral up to every
    // window bound, in one sweep (linear in gaps + windows, whatever a trace holds).
    let mut density_steps: Vec<(u64, f64)> = Vec::with_capacity(gaps.len() * 2);
    for &(a, b) in gaps.iter().filter(|(a, b)| b > a) {
        let d = 1.0 / (b - a) as f64;
        density_steps.push((a, d));
        density_steps.push((b, -d));
    }
    density_steps.sort_unstable_by_key(|s| s.0);
    let mut integral_at = Vec::with_capacity(bounds.len());
    let (mut j, mut density, mut last, mut integral) = (0usize, 0f64, 0u64, 0f64);
    for &t in &bounds {
        while let Some(&(at, d)) = density_steps.get(j).filter(|s| s.0 <= t) {
            integral += density * (at - last) as f64;
            last = at;
            density += d;
            j += 1;
        }
        integral += density * (t - last) as f64;
        last = t;
        integral_at.push(integral);
    }
    let tokens: Vec<f64> = integral_at
        .windows(2)
        .map(|w| (w[1] - w[0]).max(0.0))
        .collect();
    let mut by_k: std::collections::BTreeMap<u32, (u64, f64)> = Default::default();
    let mut prefill_us = 0u64;
    for w in 0..windows_n {
        let span = bounds[w + 1] - bounds[w];
        let (d, p) = state[w];
        if p > 0 {
            prefill_us += span;
        } else if d > 0 {
            let e = by_k.entry(d as u32).or_default();
            e.0 += span;
            e.1 += tokens[w];
        }
    }
    let rate = |us: u64, n: f64| (us > 0).then(|| n / (us as f64 / 1e6));
    let alone = by_k
        .get(&1)
        .filter(|(_, n)| *n >= MIN_TOKENS)
        .and_then(|&(us, n)| rate(us, n));
    let windows: Vec<Windows> = by_k
        .iter()
        .map(|(&k, &(us, n))| {
            let r = rate(us, n);
            Windows {
                decoding: k,
                seconds: us as f64 / 1e6,
                tokens: n,
                rate_tok_s: r,
                speedup: match (r, alone) {
                    (Some(r), Some(a)) if a > 0.0 => Some(r / a),
                    _ => None,
                },
            }
        })
        .collect();
    let compared = windows
        .iter()
        .filter(|w| w.decoding >= 2 && w.tokens >= MIN_TOKENS && w.speedup.is_some())
        .max_by_key(|w| w.decoding);
    let (sharing, why) = match (alone, compared) {
        (None, _) => (
            Sharing::Unknown,
            format!(
                "fewer than {MIN_TOKENS:.0} decode tokens while one instance decoded alone (and none in prefill): nothing to compare with"
            ),
        ),
        (_, None) => (
            Sharing::Unknown,
            format!(
                "fewer than {MIN_TOKENS:.0} decode tokens while two or more instances decoded together (and none in prefill)"
            ),
        ),
        (Some(_), Some(w)) => {
            let s = w.speedup.unwrap_or(1.0);
            let p = (s - 1.0) / (f64::from(w.decoding) - 1.0);
            let v = if p < 0.25 {
                Sharing::Serial
            } else if p > 0.75 {
                Sharing::Parallel
            } else {
                Sharing::Partial
            };
            (v, String::new())
        }
    };
    let fact = |k: &str| -> Option<&Fact> { run.facts.iter().find(|f| f.key == k) };
    InstanceSharing {
        instances: run.instances,
        sharing,
        compared: compared.map(|w| w.decoding),
        aggregate_speedup: compared.and_then(|w| w.speedup),
        prefill_s: prefill_us as f64 / 1e6,
        why_unknown: why,
        simulated: fact(SIMULATED_NPU)
            .map(|f| f.value.split_whitespace().next().unwrap_or("").to_string()),
        base_domain_ids: (0..run.instances)
            .map(|i| fact(&base_domain_id(i)).map_or_else(|| "?".to_string(), |f| f.value.clone()))
            .collect(),
        windows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: u32) -> LoadRun {
        LoadRun {
            mode: "concurrency".into(),
            concurrency: n,
            instances: n,
            facts: vec![Fact {
                key: SIMULATED_NPU.into(),
                value: "serial (the simulated runtime's contention model: …)".into(),
            }],
            ..Default::default()
        }
    }

    /// Tokens of one request every `dt` µs from `first` to `last` (its gaps).
    fn gaps(first: u64, last: u64, dt: u64) -> Vec<(u64, u64)> {
        (first..last)
            .step_by(dt as usize)
            .map(|t| (t, t + dt))
            .collect()
    }

    #[test]
    fn taking_turns_gives_one_times_and_independent_gives_k_times() {
        // One instance alone for 100 ms at 1 token/ms, then two together.
        // In turn: each gets a token every 2 ms. In parallel: every 1 ms each.
        for (dt2, want, verdict) in [
            (2000u64, 1.0, Sharing::Serial),
            (1000, 2.0, Sharing::Parallel),
            (1333, 1.5, Sharing::Partial),
        ] {
            let mut g = gaps(0, 100_000, 1000);
            g.extend(gaps(200_000, 400_000, dt2));
            g.extend(gaps(200_000, 400_000, dt2));
            let decode = [(0, 100_000), (200_000, 400_000), (200_000, 400_000)];
            let prefill = [(150_000, 200_000), (150_000, 200_000)];
            let s = sharing(&run(2), &decode, &prefill, &g);
            assert_eq!(s.sharing, verdict, "{s:?}");
            let got = s.aggregate_speedup.unwrap();
            assert!((got - want).abs() < 0.02, "{got} vs {want}");
            assert_eq!(s.compared, Some(2));
            assert!((s.prefill_s - 0.05).abs() < 1e-9);
            assert_eq!(s.simulated.as_deref(), Some("serial"));
        }
    }

    #[test]
    fn a_token_that_waited_out_a_prefill_counts_where_it_waited() {
        // Instance 0 decodes alone at 1 token/ms, except one gap of 50 ms spent behind
        // instance 1's prefill: that gap is left out with the prefill window, so the alone
        // rate stays 1000 tok/s.
        let mut g = gaps(0, 100_000, 1000);
        g.push((100_000, 150_000));
        g.extend(gaps(150_000, 250_000, 1000));
        let s = sharing(&run(2), &[(0, 250_000)], &[(100_000, 150_000)], &g);
        let alone = &s.windows[0];
        assert_eq!(alone.decoding, 1);
        assert!(
            (alone.rate_tok_s.unwrap() - 1000.0).abs() < 1e-6,
            "{alone:?}"
        );
        assert_eq!(s.sharing, Sharing::Unknown);
        assert!(s.why_unknown.contains("together"), "{}", s.why_unknown);
    }

    #[test]
    fn no_alone_stretch_is_unknown() {
        let mut g = gaps(0, 100_000, 2000);
        g.extend(gaps(0, 100_000, 2000));
        let s = sharing(&run(2), &[(0, 100_000), (0, 100_000)], &[], &g);
        assert_eq!(s.sharing, Sharing::Unknown);
        assert!(s.why_unknown.contains("alone"));
        assert_eq!(s.aggregate_speedup, None);
        assert_eq!(s.windows.len(), 1);
        assert_eq!(s.base_domain_ids, vec!["?", "?"]);
    }
}
