//! The order in which a suite's tests run: warm-up requests first, then each test repeated,
//! blocked (a a b b), interleaved (a b a b) or shuffled per round with a seed. Pure, so the
//! order of a run can be reproduced from its command line.
use crate::suite::Suite;

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

/// splitmix64: tiny, seeded, identical everywhere.
fn next(state: &mut u64) -> u64 {
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
}
