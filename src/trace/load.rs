//! Records of a run under load (format 1.3, kinds 26–27): how the level was driven, and for
//! each request the stream it ran on and when the schedule meant it to be sent. Older readers
//! skip these kinds (with their "unsupported record" notice) and read the requests as a
//! sequential run; a trace without them *is* a sequential run (one stream, sent when due).
//!
//! The requests of one level run together: their frames interleave in the file in the order
//! they finished, all on the run's one clock. The send record is written when the request is
//! sent (before any of its chunks), so a crash still says which requests were in flight and
//! when each was meant to go; the analysis computes coordinated omission from these times
//! only (`stats::load`).
use rkyv::{Archive, Deserialize, Serialize};

/// Frame kinds of this module (reserved for load: 26–27).
pub mod kind {
    pub const LOAD_RUN: u8 = 26;
    pub const REQUEST_SENT: u8 = 27;
}

/// Keys of the facts a level record carries ([`LoadRun::facts`]): written by the recorders,
/// read back by the analysis, defined here once.
pub mod fact {
    /// rkbench's own CPU time over the level, ms (`unknown` when procfs could not say).
    pub const CLIENT_CPU: &str = "client cpu_ms";
    /// The one idle wait of a level, before it starts.
    pub const IDLE_BEFORE: &str = "idle wait before the level";
    /// When and why the level ended.
    pub const LEVEL_END: &str = "level end";
    /// `instance.<i>.base_domain_id`.
    pub fn base_domain_id(i: u32) -> String {
        format!("instance.{i}.base_domain_id")
    }
    /// `instance.<i>.mem_available_after_init`: `MemAvailable` once instance i was initialised.
    pub fn mem_after_init(i: u32) -> String {
        format!("instance.{i}.mem_available_after_init")
    }
    /// The model file's size: a lower bound of what each instance maps.
    pub const MODEL_FILE: &str = "memory.per_instance_lower_bound";
    /// `MemAvailable` before the first `rkllm_init`.
    pub const MEM_AVAILABLE: &str = "memory.mem_available_before_init";
    /// The simulated runtime's stated contention model (absent for any real library).
    pub const SIMULATED_NPU: &str = "npu.simulated_contention";
}

/// How requests were offered. Stored as its name ([`LoadMode::as_str`]); an unknown name
/// reads as `Sequential`, so a later mode never breaks this reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// One request at a time, with the idle wait and cool-down between requests.
    Sequential,
    /// Closed loop (`--concurrency N`): N streams, each sends its next request when its last
    /// one ended.
    Concurrency,
    /// Open loop (`--rate R`): requests are sent at the schedule's times whatever is in flight
    /// (at most `--max-concurrency`).
    Rate,
}

impl LoadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Sequential => "sequential",
            LoadMode::Concurrency => "concurrency",
            LoadMode::Rate => "rate",
        }
    }

    pub fn parse(s: &str) -> LoadMode {
        match s {
            "concurrency" => LoadMode::Concurrency,
            "rate" => LoadMode::Rate,
            _ => LoadMode::Sequential,
        }
    }
}

/// Inter-arrival times of an open-loop schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// Gamma-distributed gaps of mean 1/rate and shape `burstiness` (1 = exponential, i.e. a
    /// Poisson process), as vLLM's `get_request`.
    #[default]
    Poisson,
    /// Every gap exactly 1/rate (vLLM's `burstiness = inf`, guidellm's `constant`).
    Constant,
}

impl Arrivals {
    pub fn as_str(self) -> &'static str {
        match self {
            Arrivals::Poisson => "poisson",
            Arrivals::Constant => "constant",
        }
    }

    pub fn parse(s: &str) -> Result<Arrivals, String> {
        match s {
            "poisson" => Ok(Arrivals::Poisson),
            "constant" => Ok(Arrivals::Constant),
            other => Err(format!(
                "{other:?} is not an arrival process; use poisson or constant"
            )),
        }
    }
}

/// The level a trace holds (one per trace; a load sweep writes one trace per level).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct LoadRun {
    /// [`LoadMode::as_str`].
    pub mode: String,
    /// Closed loop: the number of streams. Open loop: `--max-concurrency` (0 = no cap).
    pub concurrency: u32,
    /// Open loop: offered requests per second (0 = closed loop).
    pub rate_rps: f64,
    /// Open loop: [`Arrivals::as_str`] ("" = closed loop).
    pub arrivals: String,
    /// Open loop, Poisson arrivals: the gamma shape (1 = Poisson); 0 otherwise.
    pub burstiness: f64,
    /// Seed of the schedule (the same seed gives the same intended send times).
    pub seed: u64,
    /// When the level's schedule started, µs since the run's clock origin (after the bounded
    /// idle wait that precedes every level); scheduled send times count from here.
    pub start_us: u64,
    /// Runtime instances in the process (`record --concurrency N` on the runtime); 0 = an HTTP
    /// server's run.
    pub instances: u32,
    /// What else the level says of itself (memory per instance, `base_domain_id`s, the
    /// simulated runtime's contention model), `key = value`, sorted.
    pub facts: Vec<super::Fact>,
}

impl LoadRun {
    pub fn mode(&self) -> LoadMode {
        LoadMode::parse(&self.mode)
    }

    /// The arrival process of an open-loop level.
    pub fn arrivals(&self) -> Option<Arrivals> {
        Arrivals::parse(&self.arrivals).ok()
    }

    /// An open loop: requests sent at a rate (a positive `rate_rps`).
    pub fn is_open_loop(&self) -> bool {
        self.rate_rps > 0.0
    }

    /// One request at a time: the sequential mode, at no rate.
    pub fn is_sequential(&self) -> bool {
        self.mode() == LoadMode::Sequential && !self.is_open_loop()
    }
}

/// One request's place in the load: written when it is sent.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestSent {
    /// The request's index (its `Request`/`ServerRequest` record has the same).
    pub index: u32,
    /// The stream it ran on: closed loop, the virtual user (0..N); open loop, the lowest slot
    /// free when it was sent; runtime, the instance. Concurrent requests never share one.
    pub stream: u32,
    /// When the schedule meant it to be sent, µs since the run's clock origin. Closed loop:
    /// when its stream became free (its previous request ended, or the level started).
    pub scheduled_us: u64,
    /// When it was sent (the request's own `start_us`), µs since the run's clock origin.
    pub sent_us: u64,
}

/// The load records of a trace (empty for a sequential run recorded before load existed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadRecords {
    pub run: Option<LoadRun>,
    /// One per request index (the last read wins), sorted by index.
    pub sent: Vec<RequestSent>,
}

impl LoadRecords {
    /// Sort by index, keeping the last record of each index.
    pub(crate) fn settle(&mut self) {
        // A stable sort keeps file order within an index; keep the last one of each.
        self.sent.sort_by_key(|s| s.index);
        let mut out: Vec<RequestSent> = Vec::with_capacity(self.sent.len());
        for s in self.sent.drain(..) {
            match out.last_mut() {
                Some(l) if l.index == s.index => *l = s,
                _ => out.push(s),
            }
        }
        self.sent = out;
    }

    /// The send record of request `index`.
    pub fn of(&self, index: u32) -> Option<&RequestSent> {
        let i = self.sent.binary_search_by_key(&index, |s| s.index).ok()?;
        self.sent.get(i)
    }

    /// The stream of request `index`: 0 when the trace has no load records (a sequential run).
    pub fn stream_of(&self, index: u32) -> u32 {
        self.of(index).map_or(0, |s| s.stream)
    }
}

/// The first impossible fact of a send record (a schedule before the clock existed cannot be
/// told from a crafted one, but a send before its schedule in a closed loop can: not checked,
/// as an open loop may send early by the clock's granularity).
pub(crate) fn impossible_sent(s: &RequestSent) -> Option<String> {
    const YEAR_US: u64 = 365 * 24 * 3600 * 1_000_000;
    if s.scheduled_us > YEAR_US || s.sent_us > YEAR_US {
        return Some(format!(
            "request {} scheduled at {} us and sent at {} us: over a year after the run started",
            s.index, s.scheduled_us, s.sent_us
        ));
    }
    None
}

/// The first impossible fact of a level record.
pub(crate) fn impossible_run(r: &LoadRun) -> Option<String> {
    if !(r.rate_rps.is_finite() && r.rate_rps >= 0.0) {
        return Some(format!("load rate {} requests/s is not a rate", r.rate_rps));
    }
    if !(r.burstiness.is_finite() && r.burstiness >= 0.0) {
        return Some(format!(
            "load burstiness {} is not a gamma shape",
            r.burstiness
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_keeps_the_last_record_of_each_index_in_index_order() {
        let s = |index, stream| RequestSent {
            index,
            stream,
            ..Default::default()
        };
        let mut l = LoadRecords {
            run: None,
            sent: vec![s(2, 0), s(0, 1), s(2, 3), s(1, 2)],
        };
        l.settle();
        assert_eq!(l.sent, vec![s(0, 1), s(1, 2), s(2, 3)]);
        assert_eq!(l.stream_of(2), 3);
        assert_eq!(l.stream_of(9), 0);
    }

    #[test]
    fn modes_and_arrivals_read_back_their_names() {
        for m in [LoadMode::Sequential, LoadMode::Concurrency, LoadMode::Rate] {
            assert_eq!(LoadMode::parse(m.as_str()), m);
        }
        assert_eq!(LoadMode::parse("future-mode"), LoadMode::Sequential);
        assert_eq!(Arrivals::parse("constant"), Ok(Arrivals::Constant));
        assert!(Arrivals::parse("bursty").is_err());
    }

    #[test]
    fn impossible_levels_and_sends_are_named() {
        let r = LoadRun {
            rate_rps: f64::NAN,
            ..Default::default()
        };
        assert!(impossible_run(&r).unwrap().contains("not a rate"));
        let s = RequestSent {
            sent_us: u64::MAX,
            ..Default::default()
        };
        assert!(impossible_sent(&s).unwrap().contains("over a year"));
    }
}
