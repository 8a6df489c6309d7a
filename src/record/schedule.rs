//! The order in which a suite's tests run: warm-up requests first, then each test repeated,
//! blocked (a a b b), interleaved (a b a b) or shuffled per round with a seed. Pure, so the
//! order of a run can be reproduced from its command line.
use crate::suite::Suite;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Blocked,
    Interleaved,
    Shuffled,
}

impl std::str::FromStr for Order {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "blocked" => Ok(Order::Blocked),
            "interleaved" => Ok(Order::Interleaved),
            "shuffled" => Ok(Order::Shuffled),
            _ => Err(format!(
                "{s:?} is not an order; use blocked, interleaved or shuffled"
            )),
        }
    }
}

/// One planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Index into `suite.tests`.
    pub test: usize,
    /// 0-based repetition of that test.
    pub repeat: u32,
    pub warmup: bool,
}

/// splitmix64: tiny, seeded, identical everywhere (also the load schedule's generator).
pub(crate) fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Plan the requests: `warmup` warm-up requests (cycling through the tests), then every test
/// `repeat × test.repeat` times in `order`.
pub fn plan(suite: &Suite, repeat: u32, warmup: u32, order: Order, seed: u64) -> Vec<Slot> {
    let n = suite.tests.len();
    let mut v = Vec::new();
    if n == 0 {
        return v;
    }
    for w in 0..warmup as usize {
        v.push(Slot {
            test: w % n,
            repeat: (w / n) as u32,
            warmup: true,
        });
    }
    let reps: Vec<u32> = suite
        .tests
        .iter()
        .map(|t| repeat.max(1) * t.repeat.max(1))
        .collect();
    let rounds = reps.iter().copied().max().unwrap_or(1);
    match order {
        Order::Blocked => {
            for (t, &r) in reps.iter().enumerate() {
                for k in 0..r {
                    v.push(Slot {
                        test: t,
                        repeat: k,
                        warmup: false,
                    });
                }
            }
        }
        Order::Interleaved | Order::Shuffled => {
            let mut state = seed;
            for k in 0..rounds {
                let mut round: Vec<usize> = (0..n).filter(|&t| k < reps[t]).collect();
                if order == Order::Shuffled {
                    for i in (1..round.len()).rev() {
                        let j = (next(&mut state) % (i as u64 + 1)) as usize;
                        round.swap(i, j);
                    }
                }
                v.extend(round.into_iter().map(|t| Slot {
                    test: t,
                    repeat: k,
                    warmup: false,
                }));
            }
        }
    }
    v
}

/// `--max-duration` and `--min-requests`: when a run stops and how far it goes past the plan.
/// The runtime recorder and the server recorder both follow these rules, so a run's length
/// means the same whatever was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunControl {
    /// `--repeat`, so repetitions past the plan continue its numbering.
    pub repeat: u32,
    /// At least this many measured requests (the measured part of the plan repeats if needed).
    pub min_requests: u32,
    /// Stop between requests once the run has lasted this long, but not before `min_requests`.
    pub max_duration: Option<Duration>,
}

impl RunControl {
    /// The request at `position`; past the plan, the measured part repeats only to reach
    /// `min_requests` (`measured` is how many measured requests have run).
    pub(crate) fn next_slot(&self, slots: &[Slot], position: usize, measured: u32) -> Option<Slot> {
        if let Some(s) = slots.get(position) {
            return Some(*s);
        }
        if measured >= self.min_requests || slots.is_empty() {
            return None;
        }
        let measured_slots: Vec<&Slot> = slots.iter().filter(|s| !s.warmup).collect();
        let per_round = measured_slots.len().max(1);
        let past = position - slots.len();
        let mut s = **measured_slots.get(past % per_round).unwrap_or(&&slots[0]);
        s.repeat += (1 + past / per_round) as u32 * self.repeat.max(1);
        Some(s)
    }

    /// Before the next request: why the run stops now (the run end's detail), if it does.
    pub(crate) fn stop_now(&self, elapsed: Duration, measured: u32) -> Option<String> {
        let max = self.max_duration?;
        if elapsed < max || measured < self.min_requests {
            return None;
        }
        let took = humantime::format_duration(Duration::from_secs(elapsed.as_secs()));
        Some(if self.min_requests > 0 {
            format!(
                "stopped after {took} (--max-duration; the {} measured requests of --min-requests done)",
                self.min_requests
            )
        } else {
            format!("stopped after {took} (--max-duration)")
        })
    }

    /// The run end's detail when the schedule ran out (`ran` requests in all): empty for the
    /// plan as given, or why it went further.
    pub(crate) fn completed(&self, slots: &[Slot], ran: usize) -> String {
        match ran.checked_sub(slots.len()) {
            Some(extra) if extra > 0 => format!(
                "ran {extra} requests past the plan, repeating the suite's measured requests, to reach --min-requests {}",
                self.min_requests
            ),
            _ => String::new(),
        }
    }

    /// Requests the run is expected to make, for the progress line: the plan, or more when
    /// `min_requests` reaches past it.
    pub(crate) fn expected(&self, slots: &[Slot]) -> usize {
        let warmup = slots.iter().filter(|s| s.warmup).count();
        slots.len().max(warmup + self.min_requests as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{Suite, TestCase};

    fn suite(n: usize) -> Suite {
        Suite {
            name: "s".into(),
            description: String::new(),
            source: "x".into(),
            sha256: String::new(),
            tests: (0..n)
                .map(|i| TestCase {
                    id: format!("t{i}"),
                    name: String::new(),
                    category: String::new(),
                    prompt: "p".into(),
                    system: None,
                    input_tokens: None,
                    max_new_tokens: None,
                    timeout: None,
                    think: None,
                    repeat: 1,
                })
                .collect(),
            warmup: 0,
            warnings: Vec::new(),
        }
    }

    fn ids(v: &[Slot]) -> Vec<(usize, u32, bool)> {
        v.iter().map(|s| (s.test, s.repeat, s.warmup)).collect()
    }

    #[test]
    fn blocked_and_interleaved() {
        let s = suite(2);
        assert_eq!(
            ids(&plan(&s, 2, 0, Order::Blocked, 0)),
            vec![(0, 0, false), (0, 1, false), (1, 0, false), (1, 1, false)]
        );
        assert_eq!(
            ids(&plan(&s, 2, 1, Order::Interleaved, 0)),
            vec![
                (0, 0, true),
                (0, 0, false),
                (1, 0, false),
                (0, 1, false),
                (1, 1, false)
            ]
        );
    }

    #[test]
    fn per_test_repeat_multiplies() {
        let mut s = suite(2);
        s.tests[1].repeat = 2;
        let p = plan(&s, 1, 0, Order::Interleaved, 0);
        assert_eq!(ids(&p), vec![(0, 0, false), (1, 0, false), (1, 1, false)]);
    }

    #[test]
    fn shuffled_is_seeded_and_complete() {
        let s = suite(6);
        let a = plan(&s, 3, 0, Order::Shuffled, 42);
        assert_eq!(a, plan(&s, 3, 0, Order::Shuffled, 42));
        assert_ne!(a, plan(&s, 3, 0, Order::Shuffled, 43));
        assert_eq!(a.len(), 18);
        for t in 0..6 {
            assert_eq!(a.iter().filter(|x| x.test == t).count(), 3);
        }
    }

    #[test]
    fn min_requests_repeats_the_measured_part_and_max_duration_waits_for_it() {
        let s = suite(2);
        let slots = plan(&s, 2, 1, Order::Interleaved, 0);
        let c = RunControl {
            repeat: 2,
            min_requests: 7,
            max_duration: Some(Duration::from_secs(1)),
        };
        assert_eq!(c.expected(&slots), 8);
        let mut got = Vec::new();
        let (mut position, mut measured) = (0, 0);
        while let Some(slot) = c.next_slot(&slots, position, measured) {
            got.push((slot.test, slot.repeat, slot.warmup));
            position += 1;
            measured += u32::from(!slot.warmup);
        }
        // The warm-up is not repeated; repetitions past the plan continue the numbering.
        assert_eq!(
            got,
            vec![
                (0, 0, true),
                (0, 0, false),
                (1, 0, false),
                (0, 1, false),
                (1, 1, false),
                (0, 2, false),
                (1, 2, false),
                (0, 3, false)
            ]
        );
        assert_eq!(
            c.completed(&slots, got.len()),
            "ran 3 requests past the plan, repeating the suite's measured requests, to reach --min-requests 7"
        );
        assert_eq!(c.completed(&slots, slots.len()), "");
        let late = Duration::from_millis(2500);
        assert_eq!(c.stop_now(late, 6), None, "not before --min-requests");
        assert_eq!(
            c.stop_now(late, 7).as_deref(),
            Some(
                "stopped after 2s (--max-duration; the 7 measured requests of --min-requests done)"
            )
        );
        assert_eq!(c.stop_now(Duration::from_millis(10), 7), None);
        let plain = RunControl {
            min_requests: 0,
            ..c
        };
        assert_eq!(
            plain.stop_now(late, 0).as_deref(),
            Some("stopped after 2s (--max-duration)")
        );
        assert_eq!(plain.next_slot(&slots, slots.len(), 4), None);
        assert_eq!(plain.expected(&slots), slots.len());
    }
}
