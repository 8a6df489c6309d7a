//! The one table of numeric run inputs: each one's C type in `rkllm.h` (or rkbench's own use),
//! its valid range and what it means. Command-line flags, suite-file fields and `--sweep` values
//! are all checked here, so `--max-new-tokens 0`, `"max_new_tokens": 0` and
//! `--sweep max-new-tokens=0` get the same answer — and no value reaches `rkllm_init` wrapped,
//! truncated or meaningless (a 2³¹ cap that becomes negative in an `int32_t`, 200 threads in an
//! `int8_t`, a top-p of 7).
use std::time::Duration;

/// The valid values of one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Range {
    /// Integers `min..=max` (also accepted as an integral float such as `512.0`).
    Int { min: i64, max: i64 },
    /// Finite floats in `[min, max]`, or `(min, max]` when `open_min`.
    Float { min: f64, max: f64, open_min: bool },
    /// A CPU bit mask, hex (`0xF0`) or decimal, `1..=max`.
    Mask { max: u32 },
    /// A duration such as `300ms`, `30s`, `5m`, `min..=max`.
    Time { min: Duration, max: Duration },
}

/// One numeric input.
#[derive(Debug)]
pub(crate) struct Limit {
    /// The `record` flag, without `--` (also the `--sweep` key).
    pub flag: &'static str,
    /// The suite-file field that sets the same thing, if any.
    pub field: Option<&'static str>,
    /// Where the value goes: the C field and type, or rkbench's own use.
    pub c_type: &'static str,
    pub range: Range,
    /// What it means, for `--help` and docs.
    pub meaning: &'static str,
}

/// A checked value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    Int(i64),
    Float(f64),
    Time(Duration),
}

impl Value {
    /// The integer (ranges above guarantee it fits the C type it is for).
    pub fn int(self) -> i64 {
        match self {
            Value::Int(i) => i,
            Value::Float(f) => f as i64,
            Value::Time(d) => d.as_millis() as i64,
        }
    }
    pub fn float(self) -> f64 {
        match self {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            Value::Time(d) => d.as_secs_f64(),
        }
    }
    pub fn time(self) -> Duration {
        match self {
            Value::Time(d) => d,
            _ => Duration::ZERO,
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);
/// RKLLM's context window: rkllm.h takes an `int32_t`; no converted RK3588 model goes past 128 k.
const MAX_CONTEXT: i64 = 131_072;

/// Every numeric `record` input. The order is the order of `--help`.
pub(crate) const LIMITS: &[Limit] = &[
    Limit {
        flag: "max-context-len",
        field: None,
        c_type: "RKLLMParam.max_context_len (int32_t)",
        range: Range::Int {
            min: 1,
            max: MAX_CONTEXT,
        },
        meaning: "context window in tokens, prompt plus output",
    },
    Limit {
        flag: "max-new-tokens",
        field: Some("max_new_tokens"),
        c_type: "RKLLMParam.max_new_tokens (int32_t)",
        range: Range::Int {
            min: 1,
            max: MAX_CONTEXT,
        },
        meaning: "output cap in tokens; at most --max-context-len",
    },
    Limit {
        flag: "top-k",
        field: None,
        c_type: "RKLLMParam.top_k (int32_t)",
        range: Range::Int {
            min: 1,
            max: 1_000_000,
        },
        meaning: "sample from the k most likely tokens (1 = greedy)",
    },
    Limit {
        flag: "top-p",
        field: None,
        c_type: "RKLLMParam.top_p (float)",
        range: Range::Float {
            min: 0.0,
            max: 1.0,
            open_min: true,
        },
        meaning: "nucleus sampling: the smallest set of tokens whose probabilities reach p",
    },
    Limit {
        flag: "temperature",
        field: None,
        c_type: "RKLLMParam.temperature (float)",
        range: Range::Float {
            min: 0.0,
            max: 10.0,
            open_min: false,
        },
        meaning: "softmax temperature (0 = greedy)",
    },
    Limit {
        flag: "repeat-penalty",
        field: None,
        c_type: "RKLLMParam.repeat_penalty (float)",
        range: Range::Float {
            min: 0.0,
            max: 10.0,
            open_min: true,
        },
        meaning: "divides the logits of recent tokens (1 = off, below 1 favours repeats)",
    },
    Limit {
        flag: "frequency-penalty",
        field: None,
        c_type: "RKLLMParam.frequency_penalty (float)",
        range: Range::Float {
            min: -2.0,
            max: 2.0,
            open_min: false,
        },
        meaning: "subtracted per earlier occurrence of a token (0 = off)",
    },
    Limit {
        flag: "presence-penalty",
        field: None,
        c_type: "RKLLMParam.presence_penalty (float)",
        range: Range::Float {
            min: -2.0,
            max: 2.0,
            open_min: false,
        },
        meaning: "subtracted once from every token already present (0 = off)",
    },
    Limit {
        flag: "cpus-mask",
        field: None,
        c_type: "RKLLMExtendParam.enabled_cpus_mask (uint32_t, bits CPU0..CPU7)",
        range: Range::Mask { max: 0xFF },
        meaning: "CPUs the runtime may use (0xF0 = CPUs 4-7, the RK3588 A76 cores)",
    },
    Limit {
        flag: "threads",
        field: None,
        c_type: "RKLLMExtendParam.enabled_cpus_num (int8_t)",
        range: Range::Int { min: 1, max: 8 },
        meaning: "runtime CPU threads; at most the CPUs in --cpus-mask",
    },
    Limit {
        flag: "timeout",
        field: Some("timeout"),
        c_type: "rkbench: per-request deadline, then rkllm_abort",
        range: Range::Time {
            min: Duration::from_millis(1),
            max: Duration::from_secs(7 * 24 * 3600),
        },
        meaning: "per-request deadline; leave it out for none",
    },
    Limit {
        flag: "repeat",
        field: Some("repeat"),
        c_type: "rkbench: repetitions of each test",
        range: Range::Int {
            min: 1,
            max: 10_000,
        },
        meaning: "runs of each test (flag × suite value)",
    },
    Limit {
        flag: "warmup",
        field: None,
        c_type: "rkbench: warm-up requests",
        range: Range::Int {
            min: 0,
            max: 10_000,
        },
        meaning: "warm-up requests before the measured ones",
    },
    Limit {
        flag: "min-requests",
        field: None,
        c_type: "rkbench: measured requests at least",
        range: Range::Int {
            min: 0,
            max: 1_000_000,
        },
        meaning: "measured requests to run at least",
    },
    Limit {
        flag: "max-duration",
        field: None,
        c_type: "rkbench: stop between requests after",
        range: Range::Time {
            min: Duration::from_millis(1),
            max: Duration::from_secs(30 * 24 * 3600),
        },
        meaning: "stop cleanly between requests after this long",
    },
    Limit {
        flag: "concurrency",
        field: None,
        c_type: "rkbench: closed-loop streams (server) or runtime instances",
        range: Range::Int { min: 1, max: 256 },
        meaning: "requests in flight at once, each stream sending its next when its last ends",
    },
    Limit {
        flag: "rate",
        field: None,
        c_type: "rkbench: open-loop arrival rate (requests/s)",
        range: Range::Float {
            min: 0.0,
            max: 10_000.0,
            open_min: true,
        },
        meaning: "requests sent per second on a schedule, whatever is in flight",
    },
    Limit {
        flag: "burstiness",
        field: None,
        c_type: "rkbench: gamma shape of Poisson inter-arrival times",
        range: Range::Float {
            min: 0.0,
            max: 1_000.0,
            open_min: true,
        },
        meaning:
            "gamma shape of the gaps between arrivals (1 = Poisson, <1 burstier, >1 more even)",
    },
    Limit {
        flag: "max-concurrency",
        field: None,
        c_type: "rkbench: cap on open-loop requests in flight",
        range: Range::Int { min: 1, max: 256 },
        meaning:
            "most requests in flight at once under --rate (a due request waits for a free slot)",
    },
    Limit {
        flag: "cooldown",
        field: None,
        c_type: "rkbench: pause between requests",
        range: Range::Time {
            min: Duration::ZERO,
            max: HOUR,
        },
        meaning: "pause between requests",
    },
    Limit {
        flag: "sample-interval",
        field: None,
        c_type: "rkbench: telemetry sampling interval",
        range: Range::Time {
            min: Duration::from_millis(10),
            max: HOUR,
        },
        meaning: "board telemetry sampling interval",
    },
    Limit {
        flag: "checkpoint-interval",
        field: None,
        c_type: "rkbench: journal checkpoint interval",
        range: Range::Time {
            min: Duration::from_millis(1),
            max: HOUR,
        },
        meaning: "how often tokens of the request in flight are checkpointed",
    },
    Limit {
        flag: "abort-grace",
        field: None,
        c_type: "rkbench: wait after rkllm_abort",
        range: Range::Time {
            min: Duration::from_millis(10),
            max: HOUR,
        },
        meaning: "how long the runtime may take to stop after rkllm_abort",
    },
];

/// The limit of a `record` flag (without `--`).
pub(crate) fn of(flag: &str) -> Option<&'static Limit> {
    LIMITS.iter().find(|l| l.flag == flag)
}

/// The limit of a flag known to be in the table.
pub(crate) fn get(flag: &str) -> &'static Limit {
    // The flag names are literals of this crate, tested in `every_flag_is_in_the_table`.
    of(flag).unwrap_or(&LIMITS[0])
}

fn trim_float(f: f64) -> String {
    let s = format!("{f}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

impl Range {
    /// The range in words, e.g. `1..=131072`, `(0, 1]`, `0x1..=0xFF`, `10ms..=1h`.
    pub fn describe(&self) -> String {
        match *self {
            Range::Int { min, max } => format!("{min}..={max}"),
            Range::Float { min, max, open_min } => format!(
                "{}{}, {}]",
                if open_min { "(" } else { "[" },
                trim_float(min),
                trim_float(max)
            ),
            Range::Mask { max } => format!("0x1..=0x{max:X}"),
            Range::Time { min, max } => format!(
                "{}..={}",
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        }
    }
}

impl Limit {
    fn out_of_range(&self, shown: &str) -> String {
        format!(
            "{shown} is out of range: use {} ({}; {})",
            self.range.describe(),
            self.meaning,
            self.c_type
        )
    }

    /// Parse and check a command-line or sweep value. The error says what is wrong and the
    /// valid range; the caller prefixes the flag or field.
    pub fn parse(&self, raw: &str) -> Result<Value, String> {
        let s = raw.trim();
        match self.range {
            Range::Int { .. } => {
                let n = s
                    .parse::<i64>()
                    .ok()
                    .or_else(|| integral(s.parse::<f64>().ok()?))
                    .ok_or_else(|| {
                        format!(
                            "{raw:?} is not a whole number; use {}",
                            self.range.describe()
                        )
                    })?;
                self.check_int(n)
            }
            Range::Float { .. } => {
                let f = s.parse::<f64>().map_err(|_| {
                    format!("{raw:?} is not a number; use {}", self.range.describe())
                })?;
                self.check_float(f)
            }
            Range::Mask { max } => {
                let m = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    u64::from_str_radix(h, 16).ok()
                } else {
                    s.parse::<u64>().ok()
                }
                .ok_or_else(|| {
                    format!("{raw:?} is not a CPU mask; use hex like 0xF0 (CPUs 4-7, the RK3588 A76 cores)")
                })?;
                if m == 0 || m > u64::from(max) {
                    return Err(self.out_of_range(raw));
                }
                Ok(Value::Int(m as i64))
            }
            Range::Time { .. } => {
                let d = humantime::parse_duration(s).map_err(|e| {
                    format!("{raw:?} is not a duration ({e}); use e.g. 300ms, 30s, 5m")
                })?;
                self.check_time(d, raw)
            }
        }
    }

    /// Check an integer (suite fields arrive as JSON numbers).
    pub fn check_int(&self, n: i64) -> Result<Value, String> {
        match self.range {
            Range::Int { min, max } if (min..=max).contains(&n) => Ok(Value::Int(n)),
            _ => Err(self.out_of_range(&n.to_string())),
        }
    }

    fn check_float(&self, f: f64) -> Result<Value, String> {
        let Range::Float { min, max, open_min } = self.range else {
            return Err(self.out_of_range(&f.to_string()));
        };
        let above_min = if open_min { f > min } else { f >= min };
        if f.is_finite() && above_min && f <= max {
            Ok(Value::Float(f))
        } else {
            Err(self.out_of_range(&f.to_string()))
        }
    }

    /// Check a duration (suite `timeout` strings arrive parsed).
    pub fn check_time(&self, d: Duration, shown: &str) -> Result<Value, String> {
        match self.range {
            Range::Time { min, max } if d >= min && d <= max => Ok(Value::Time(d)),
            _ => Err(self.out_of_range(shown)),
        }
    }
}

/// `512.0` → 512; `512.5` → none.
fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// A float JSON value that is a whole number, as an integer (the original prompt files wrote
/// `"max_tokens": 512.0`).
pub(crate) fn integral_f64(f: f64) -> Option<i64> {
    integral(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_in_the_table() {
        for f in [
            "max-context-len",
            "max-new-tokens",
            "top-k",
            "top-p",
            "temperature",
            "repeat-penalty",
            "frequency-penalty",
            "presence-penalty",
            "cpus-mask",
            "threads",
            "timeout",
            "repeat",
            "warmup",
            "min-requests",
            "max-duration",
            "cooldown",
            "sample-interval",
            "checkpoint-interval",
            "abort-grace",
            "concurrency",
            "rate",
            "burstiness",
            "max-concurrency",
        ] {
            assert_eq!(of(f).map(|l| l.flag), Some(f));
        }
        assert!(of("model").is_none());
    }

    #[test]
    fn integers_never_wrap_into_the_c_type() {
        let cap = get("max-new-tokens");
        // F4: 2^31 would become -2^31 in int32_t; 2^32-1 made the child reserve 34 GB.
        for bad in ["2147483648", "4294967295", "0", "-1", "1e99", "x", "12.5"] {
            assert!(cap.parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(cap.parse("512"), Ok(Value::Int(512)));
        assert_eq!(cap.parse("512.0"), Ok(Value::Int(512)));
        // F17: 200 would be -56 in int8_t.
        let th = get("threads");
        assert!(th.parse("200").is_err());
        assert!(th.parse("0").is_err());
        assert_eq!(th.parse("4"), Ok(Value::Int(4)));
        let e = get("repeat").parse("4294967295").unwrap_err();
        assert!(e.contains("out of range: use 1..=10000"), "{e}");
    }

    #[test]
    fn sampling_values_are_finite_and_meaningful() {
        // F7.
        let p = get("top-p");
        for bad in ["7", "0", "-0.5", "NaN", "inf", "-inf", "1.0001"] {
            assert!(p.parse(bad).is_err(), "top-p {bad} accepted");
        }
        assert_eq!(p.parse("0.95"), Ok(Value::Float(0.95)));
        assert!(get("temperature").parse("NaN").is_err());
        assert!(get("temperature").parse("-1").is_err());
        assert!(get("temperature").parse("0").is_ok());
        assert!(get("top-k").parse("-3").is_err());
        assert!(get("repeat-penalty").parse("-1").is_err());
        assert!(get("repeat-penalty").parse("0.9").is_ok());
        let e = p.parse("7").unwrap_err();
        assert!(e.contains("(0, 1]") && e.contains("top_p (float)"), "{e}");
    }

    #[test]
    fn masks_and_durations() {
        let m = get("cpus-mask");
        assert_eq!(m.parse("0xF0"), Ok(Value::Int(0xF0)));
        assert_eq!(m.parse("240"), Ok(Value::Int(240)));
        assert!(m.parse("0").is_err());
        assert!(m.parse("0x100").is_err());
        assert!(m.parse("zz").is_err());
        let t = get("timeout");
        assert!(t.parse("0s").is_err());
        assert_eq!(t.parse("5m"), Ok(Value::Time(Duration::from_secs(300))));
        assert!(get("max-duration").parse("0s").is_err());
        assert!(get("cooldown").parse("0s").is_ok());
        assert!(get("sample-interval").parse("1ms").is_err());
    }
}
