//! Prompt suites: the built-in ones and the JSON files users bring.
//!
//! A suite is the list of prompts a benchmark run sends, together with the per-test knobs
//! (output cap, deadline, thinking, repetitions) that the original Python tool lacked: it
//! parsed `--max-tokens` and never passed it on, and one slow test timed out and poisoned the
//! rest. Everything that decides what a run measures lives here, so a report can name the
//! suite by `source` and pin it by `sha256`.
//!
//! Two file shapes are read, told apart by their top-level keys:
//! the native shape (`{"name", "description", "defaults", "tests"}`, see `docs/SUITES.md`) and
//! the legacy prompt file of the original tool (`{"performance_tests", "quality_tests",
//! "evaluation_criteria"}`), so its existing prompt files keep working unchanged.
//!
//! Errors are a single line that names the file, gives `line:column` when `serde_json` knows it,
//! and says what to do, because the person reading them is usually on a board's serial console
//! halfway through setting up a run.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A loaded, validated suite. Suite-level defaults are already folded into every test, so
/// runners never need to know the file had a `defaults` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The suite's `name`, or the file stem when the file gives none (always so for legacy files).
    pub name: String,
    /// Free text shown in reports; empty when the file has none.
    pub description: String,
    /// `"built-in:<name>"` for built-ins, otherwise the path exactly as the user gave it, so a
    /// report says where its prompts came from.
    pub source: String,
    /// Lower-case hex SHA-256 of the source bytes: two reports with the same hash ran the same
    /// prompts, even if the file was renamed or edited and edited back.
    pub sha256: String,
    /// The tests in file order (legacy files: performance tests, then quality tests).
    pub tests: Vec<TestCase>,
    /// Warm-up requests the suite asks for before the measured ones (`--warmup` overrides it).
    pub warmup: u32,
    /// What a lenient legacy import ignored or derived (unknown keys, missing ids), one line
    /// each; `suite check`, `suite show` and `record` print them as warnings.
    pub warnings: Vec<String>,
}

/// One prompt to run, with its knobs resolved (test value, else suite default, else unset).
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Unique within the suite and limited to `[A-Za-z0-9_.-]` so it is safe in file names
    /// and report anchors.
    pub id: String,
    /// Human-readable title; defaults to the id.
    pub name: String,
    /// Grouping for reports; `completion` for speed tests, `general` when not given.
    pub category: String,
    /// The user turn sent to the model (for `messages`, the user contents joined by a blank line);
    /// empty for a test with `input_tokens`.
    pub prompt: String,
    /// Exact token input instead of a prompt: this many token ids go to the runtime as
    /// `RKLLM_INPUT_TOKEN` (see [`crate::token_input`]), so prefill is exactly this long.
    pub input_tokens: Option<u32>,
    /// The system prompt, when the test uses `messages` with a `system` entry.
    pub system: Option<String>,
    /// Output cap; `None` leaves it to the runner's own default.
    pub max_new_tokens: Option<u32>,
    /// Per-run deadline after which the runner aborts and records a partial result;
    /// `None` leaves it to the runner.
    pub timeout: Option<Duration>,
    /// Whether to ask for thinking mode; `None` keeps the runtime's default.
    pub think: Option<bool>,
    /// How many times to run the test (at least 1).
    pub repeat: u32,
}

/// A suite could not be loaded. The string is the whole one-line message, ready to print.
#[derive(Debug)]
pub struct SuiteError(pub String);

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SuiteError {}

/// The suites compiled into the binary, as `(name, json text)`. They are embedded rather than
/// installed so that a single static binary copied onto a board can run them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../fixtures/suites/default.json")),
    ("quick", include_str!("../fixtures/suites/quick.json")),
    ("context", include_str!("../fixtures/suites/context.json")),
    ("rockchip", include_str!("../fixtures/suites/rockchip.json")),
];

/// Largest `input_tokens` a test may ask for (no RKLLM context window is longer).
pub const MAX_INPUT_TOKENS: u32 = 1 << 20;

/// Prefix of [`Suite::source`] for built-in suites; [`load`] also accepts it, so a report's
/// `source` can be passed straight back in.
const BUILTIN_PREFIX: &str = "built-in:";

/// Loads a suite by built-in name (`default`, `quick`, `context`, optionally prefixed by
/// `built-in:`) or else from a file path. A built-in name wins over a file of the same name;
/// write `./default` to mean the file.
///
/// # Errors
///
/// A one-line [`SuiteError`] when the file cannot be read, is not UTF-8, or fails [`parse`];
/// the message names the path and points at `rkbench suite list` for the built-ins.
pub fn load(spec: &str) -> Result<Suite, SuiteError> {
    let builtin_name = spec.strip_prefix(BUILTIN_PREFIX).unwrap_or(spec);
    if let Some((name, text)) = BUILTIN.iter().find(|(name, _)| *name == builtin_name) {
        return parse(text, &format!("{BUILTIN_PREFIX}{name}"));
    }
    if spec.starts_with(BUILTIN_PREFIX) {
        return Err(SuiteError::new(format!(
            "suite {spec:?}: there is no such built-in suite; the built-ins are {}; run `rkbench suite list` to see them",
            builtin_names()
        )));
    }
    let bytes = read_bounded(spec).map_err(|e| {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".to_string()
        } else {
            format!("cannot read it ({e})")
        };
        SuiteError::new(format!(
            "suite file {spec}: {what}; give the path of a suite JSON file or a built-in name ({}); run `rkbench suite list` to see them",
            builtin_names()
        ))
    })?;
    let Some(bytes) = bytes else {
        return Err(SuiteError::new(format!(
            "suite file {spec}: larger than {} MiB, which no prompt suite is; check that --suite names the suite JSON file and not the model or a device",
            MAX_SUITE_BYTES >> 20
        )));
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        SuiteError::new(format!(
            "suite file {spec}: is not UTF-8 text (bad byte at offset {}); save it as UTF-8 JSON",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, spec)
}

/// The largest suite file read: the built-in `context` suite is 30 KiB; 16 MiB holds thousands
/// of long prompts. Reading stops there, so `--suite /dev/zero` or a swapped `--suite
/// model.rkllm` costs 16 MiB, not the whole input.
const MAX_SUITE_BYTES: u64 = 16 << 20;

/// Read a file, or `None` if it is larger than [`MAX_SUITE_BYTES`].
fn read_bounded(path: &str) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a directory",
        ));
    }
    let mut bytes = Vec::new();
    f.take(MAX_SUITE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_SUITE_BYTES).then_some(bytes))
}

/// Parses suite JSON. `source` is what errors and [`Suite::source`] call the text (a path or
/// `built-in:<name>`); its file stem names suites that do not name themselves.
///
/// # Errors
///
/// A one-line [`SuiteError`] for invalid JSON, unknown keys, bad values (timeout, zero
/// `repeat` or `max_new_tokens`), bad or duplicate ids, and tests without a usable prompt.
/// Only the first problem is reported, with `line:column` where the JSON parser knows it.
pub fn parse(text: &str, source: &str) -> Result<Suite, SuiteError> {
    let sha256 = hex_sha256(text.as_bytes());
    // Editors on Windows like to prepend a byte-order mark, which serde_json rejects.
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);

    // First pass: syntax only, and a look at the top-level keys to pick the shape.
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| json_error(source, &e))?;
    let Some(top) = value.as_object() else {
        return Err(SuiteError::new(format!(
            "suite file {source}: the top level is not a JSON object; a suite is {{\"name\": ..., \"tests\": [...]}} (see docs/SUITES.md)"
        )));
    };
    let legacy = top.contains_key("performance_tests") || top.contains_key("quality_tests");

    // Second pass: typed, straight from the text, so data errors keep their line:column.
    let mut warnings = Vec::new();
    let (name, description, warmup, raw) = if legacy {
        let file: LegacyFile = serde_json::from_str(body).map_err(|e| json_error(source, &e))?;
        let description = format!("legacy prompt file {source}");
        (
            None,
            description,
            0,
            legacy_tests(source, file, &mut warnings)?,
        )
    } else {
        let file: RawSuite = serde_json::from_str(body).map_err(|e| json_error(source, &e))?;
        let defaults = file.defaults.unwrap_or_default();
        check_field(
            source,
            "defaults",
            "max_new_tokens",
            defaults.max_new_tokens,
        )?;
        check_field(source, "defaults", "repeat", defaults.repeat)?;
        let tests = file
            .tests
            .into_iter()
            .enumerate()
            .map(|(i, t)| native_test(source, i, t, &defaults))
            .collect::<Result<Vec<_>, _>>()?;
        (
            file.name,
            file.description.unwrap_or_default(),
            file.warmup.unwrap_or(0),
            tests,
        )
    };

    let tests = finish_tests(source, raw)?;
    let name = name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| stem(source));
    Ok(Suite {
        name,
        description,
        source: source.to_string(),
        sha256,
        tests,
        warmup,
        warnings,
    })
}

impl Suite {
    /// Removes the exact-token tests whose input plus output cap (`cap_override`, else the
    /// test's) cannot fit a context window of `max_context_len` tokens, and returns one line per
    /// removed test. This is how the `context` suite goes "up to what --max-context-len allows":
    /// the runtime would reject such a request, or silently truncate it, after the model loaded.
    #[cfg_attr(not(feature = "record"), allow(dead_code))] // only `record` plans runs
    pub fn drop_tests_beyond(
        &mut self,
        max_context_len: i32,
        cap_override: Option<u32>,
    ) -> Vec<String> {
        let mut dropped = Vec::new();
        self.tests.retain(|t| {
            let Some(n) = t.input_tokens else {
                return true;
            };
            let cap = cap_override.or(t.max_new_tokens).unwrap_or(0);
            let need = u64::from(n) + u64::from(cap);
            let fits = need <= u64::try_from(max_context_len).unwrap_or(0);
            if !fits {
                dropped.push(format!(
                    "test {} skipped: {n} input + {cap} new tokens do not fit --max-context-len {max_context_len}",
                    t.id
                ));
            }
            fits
        });
        dropped
    }
}

impl TestCase {
    /// What the test sends, for listings and reports: the exact token count, or the prompt size.
    pub fn input_label(&self) -> String {
        match self.input_tokens {
            Some(n) => format!("{n} tokens (exact)"),
            None => format!("{} chars", self.prompt.chars().count()),
        }
    }
}

impl SuiteError {
    /// Builds an error, folding any line breaks so the message stays on one line.
    fn new(msg: String) -> Self {
        if msg.contains(['\r', '\n']) {
            SuiteError(msg.replace(['\r', '\n'], " "))
        } else {
            SuiteError(msg)
        }
    }
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex_sha256(bytes: &[u8]) -> String {
    use fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The name a suite gets when it does not give one: `built-in:x` → `x`, a path → its stem.
fn stem(source: &str) -> String {
    if let Some(name) = source.strip_prefix(BUILTIN_PREFIX) {
        return name.to_string();
    }
    Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| source.to_string())
}

/// Turns a `serde_json` error into `suite file F:L:C: message; hint`. Its own text ends
/// in " at line L column C", which is cut off and moved to the front in the compiler style that
/// editors and terminals can jump to; its backticks become double quotes to read like JSON.
fn json_error(source: &str, e: &serde_json::Error) -> SuiteError {
    let full = e.to_string();
    let (line, column) = (e.line(), e.column());
    let msg = if line > 0 {
        let suffix = format!(" at line {line} column {column}");
        full.strip_suffix(&suffix).unwrap_or(&full).to_string()
    } else {
        full.clone()
    };
    let msg = requote(&msg);
    let hint = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            "the file is not valid JSON; fix the syntax at that point (a missing or trailing comma, or an unclosed quote or bracket, is the usual cause)"
        }
        serde_json::error::Category::Data => "see docs/SUITES.md for the suite format",
        serde_json::error::Category::Io => "check that the file is readable",
    };
    let at = if line > 0 {
        format!("{source}:{line}:{column}")
    } else {
        source.to_string()
    };
    SuiteError::new(format!("suite file {at}: {msg}; {hint}"))
}

/// serde quotes names and values in backticks; in a JSON file a name reads better as `"name"`
/// and a number or boolean reads better bare (`integer -5`, not `integer "-5"`, which looks
/// like a string).
fn requote(msg: &str) -> String {
    let parts: Vec<&str> = msg.split('`').collect();
    if parts.len() % 2 == 0 {
        // Unbalanced: do not guess which backtick opens which quote.
        return msg.replace('`', "\"");
    }
    let mut out = String::with_capacity(msg.len());
    for (i, part) in parts.iter().enumerate() {
        let quoted = i % 2 == 1;
        let bare = part.parse::<f64>().is_ok() || matches!(*part, "true" | "false");
        if quoted && !bare {
            out.push('"');
            out.push_str(part);
            out.push('"');
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Check a suite field with the same rule as the `record` flag that sets the same thing
/// ([`crate::limits`]).
fn check_field(
    source: &str,
    whose: &str,
    field: &str,
    value: Option<u32>,
) -> Result<(), SuiteError> {
    let (Some(v), Some(limit)) = (
        value,
        crate::limits::LIMITS
            .iter()
            .find(|l| l.field == Some(field)),
    ) else {
        return Ok(());
    };
    limit.check_int(i64::from(v)).map(|_| ()).map_err(|e| {
        SuiteError::new(format!(
            "suite file {source}: {whose} has {field} {v}: {e}; leave it out to use the default"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Native shape

/// The native file as written. `deny_unknown_fields` everywhere so that a typo such as
/// `"promt"` is an error instead of a silently ignored key and an empty test.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: Option<String>,
    description: Option<String>,
    /// Warm-up requests before the measured ones.
    warmup: Option<u32>,
    defaults: Option<RawDefaults>,
    tests: Vec<RawTest>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    max_new_tokens: Option<u32>,
    #[serde(default, deserialize_with = "de_timeout")]
    timeout: Option<Duration>,
    think: Option<bool>,
    repeat: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    id: String,
    name: Option<String>,
    category: Option<String>,
    prompt: Option<String>,
    messages: Option<Vec<RawMessage>>,
    input_tokens: Option<u32>,
    max_new_tokens: Option<u32>,
    #[serde(default, deserialize_with = "de_timeout")]
    timeout: Option<Duration>,
    think: Option<bool>,
    repeat: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    role: Role,
    content: String,
}

/// Only the roles a single benchmark turn can use: RKLLM takes one system prompt and one user
/// turn, so assistant turns (few-shot history) could not be replayed faithfully.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Role {
    System,
    User,
}

/// Parses a humantime duration during deserialization, so a bad value is reported with the
/// line:column of the value itself.
fn de_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct TimeoutVisitor;
    impl Visitor<'_> for TimeoutVisitor {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration string such as \"90s\", \"5m\" or \"1h 30m\"")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            match humantime::parse_duration(s.trim()) {
                Ok(d) => crate::limits::get("timeout")
                    .check_time(d, s)
                    .map(|v| Some(v.time()))
                    .map_err(|e| {
                        E::custom(format!(
                            "invalid timeout {s:?}: {e}; leave it out for no deadline"
                        ))
                    }),
                Err(e) => Err(E::custom(format!(
                    "invalid timeout {s:?} ({e}); write it like \"90s\", \"5m\" or \"1h 30m\""
                ))),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(TimeoutVisitor)
}

/// A test from either shape, before the checks that need the whole list (ids, prompts).
struct Pending {
    /// Where it sits in the file, e.g. `tests[3]`, for messages about tests without a usable id.
    at: String,
    id: String,
    name: Option<String>,
    category: String,
    prompt: Option<String>,
    messages: Option<Vec<RawMessage>>,
    input_tokens: Option<u32>,
    max_new_tokens: Option<u32>,
    timeout: Option<Duration>,
    think: Option<bool>,
    repeat: u32,
}

fn native_test(
    source: &str,
    index: usize,
    t: RawTest,
    defaults: &RawDefaults,
) -> Result<Pending, SuiteError> {
    let at = format!("tests[{index}]");
    let whose = format!("test {:?} ({at})", t.id);
    check_field(source, &whose, "max_new_tokens", t.max_new_tokens)?;
    check_field(source, &whose, "repeat", t.repeat)?;
    if t.input_tokens == Some(0) {
        return Err(SuiteError::new(format!(
            "suite file {source}: {whose} has input_tokens 0; it must be at least 1 (leave it out to send the prompt text)"
        )));
    }
    if let Some(n) = t.input_tokens.filter(|&n| n > MAX_INPUT_TOKENS) {
        return Err(SuiteError::new(format!(
            "suite file {source}: {whose} has input_tokens {n}; the most rkbench sends is {MAX_INPUT_TOKENS} (no RKLLM context is longer)"
        )));
    }
    Ok(Pending {
        at,
        id: t.id,
        name: t.name,
        category: t
            .category
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "general".to_string()),
        prompt: t.prompt,
        messages: t.messages,
        input_tokens: t.input_tokens,
        max_new_tokens: t.max_new_tokens.or(defaults.max_new_tokens),
        timeout: t.timeout.or(defaults.timeout),
        think: t.think.or(defaults.think),
        repeat: t.repeat.or(defaults.repeat).unwrap_or(1),
    })
}

// ---------------------------------------------------------------------------------------------
// Legacy shape (the original tool's benchmark_prompts.json)

/// The original tool read these files with `dict.get`, so unknown keys were ignored and a
/// missing `id` got a made-up one; the import is as lenient (each leniency is a warning).
#[derive(Deserialize)]
struct LegacyFile {
    performance_tests: Option<LegacySection>,
    quality_tests: Option<LegacySection>,
    /// Listed by the original tool and never scored; accepted and ignored.
    #[allow(dead_code)]
    evaluation_criteria: Option<IgnoredAny>,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct LegacySection {
    #[allow(dead_code)]
    description: Option<IgnoredAny>,
    tests: Vec<LegacyTest>,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct LegacyTest {
    id: Option<String>,
    name: Option<String>,
    category: Option<String>,
    prompt: String,
    /// A later version of the original runner read `test.get('max_tokens', 2048)`; Python's
    /// JSON gives `512.0` as a float, which it passed on, so an integral float is accepted.
    max_tokens: Option<serde_json::Number>,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

fn ignored(warnings: &mut Vec<String>, source: &str, at: &str, keys: BTreeMap<String, IgnoredAny>) {
    if !keys.is_empty() {
        let names: Vec<String> = keys.keys().map(|k| format!("{k:?}")).collect();
        warnings.push(format!(
            "suite file {source}: {at} has unknown key{} {}, ignored as the original tool did",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ));
    }
}

fn legacy_tests(
    source: &str,
    file: LegacyFile,
    warnings: &mut Vec<String>,
) -> Result<Vec<Pending>, SuiteError> {
    ignored(warnings, source, "the top level", file.unknown);
    let mut out = Vec::new();
    for (section, perf, tests) in [
        ("performance_tests", true, file.performance_tests),
        ("quality_tests", false, file.quality_tests),
    ] {
        let tests = match tests {
            Some(s) => {
                ignored(warnings, source, section, s.unknown);
                s.tests
            }
            None => Vec::new(),
        };
        for (i, t) in tests.into_iter().enumerate() {
            let at = format!("{section}.tests[{i}]");
            ignored(warnings, source, &at, t.unknown);
            let id = match t.id {
                Some(id) => id,
                None => {
                    let id = format!("{section}_{}", i + 1);
                    warnings.push(format!(
                        "suite file {source}: {at} has no id; it is called {id:?}"
                    ));
                    id
                }
            };
            let max_new_tokens = match t.max_tokens {
                None => None,
                Some(n) => {
                    let whole = n
                        .as_i64()
                        .or_else(|| n.as_f64().and_then(crate::limits::integral_f64));
                    let Some(whole) = whole else {
                        return Err(SuiteError::new(format!(
                            "suite file {source}: test {id:?} ({at}) has max_tokens {n}, which is not a whole number; write a whole number of tokens"
                        )));
                    };
                    let limit = crate::limits::get("max-new-tokens");
                    let v = limit.check_int(whole).map_err(|e| {
                        SuiteError::new(format!(
                            "suite file {source}: test {id:?} ({at}) has max_tokens {n}: {e}; leave it out for no cap"
                        ))
                    })?;
                    Some(v.int() as u32)
                }
            };
            // The original tool ran its performance tests as plain completions.
            let category = if perf {
                "completion".to_string()
            } else {
                t.category
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(|| "general".to_string())
            };
            out.push(Pending {
                at,
                id,
                name: t.name,
                category,
                prompt: Some(t.prompt),
                messages: None,
                input_tokens: None,
                max_new_tokens,
                timeout: None,
                think: None,
                repeat: 1,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Checks common to both shapes

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn finish_tests(source: &str, pending: Vec<Pending>) -> Result<Vec<TestCase>, SuiteError> {
    if pending.is_empty() {
        return Err(SuiteError::new(format!(
            "suite file {source}: has no tests; add at least one entry to \"tests\""
        )));
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        let at = &p.at;
        if p.id.is_empty() {
            return Err(SuiteError::new(format!(
                "suite file {source}: {at} has an empty id; give every test a unique id such as \"coding_01\""
            )));
        }
        if !valid_id(&p.id) {
            return Err(SuiteError::new(format!(
                "suite file {source}: {at} has id {:?}; ids may use only letters, digits, '_', '.' and '-'",
                p.id
            )));
        }
        if let Some(first) = seen.get(&p.id) {
            return Err(SuiteError::new(format!(
                "suite file {source}: duplicate test id {:?} at {first} and {at}; ids must be unique, rename one of them",
                p.id
            )));
        }
        seen.insert(p.id.clone(), at.clone());

        let test = format!("test {:?} ({at})", p.id);
        let (prompt, system) = match (p.prompt, p.messages, p.input_tokens) {
            (Some(_), Some(_), _) => {
                return Err(SuiteError::new(format!(
                    "suite file {source}: {test} has both \"prompt\" and \"messages\"; keep only one of them"
                )))
            }
            (Some(_), None, Some(_)) | (None, Some(_), Some(_)) => {
                return Err(SuiteError::new(format!(
                    "suite file {source}: {test} has \"input_tokens\" and a prompt; an exact token input replaces the prompt, keep only one of them"
                )))
            }
            (None, None, None) => {
                return Err(SuiteError::new(format!(
                    "suite file {source}: {test} has neither \"prompt\" nor \"messages\"; give it one of them (or \"input_tokens\" for an exact token input)"
                )))
            }
            (None, None, Some(_)) => (String::new(), None),
            (Some(prompt), None, None) => (prompt, None),
            (None, Some(messages), None) => from_messages(source, &test, messages)?,
        };
        if p.input_tokens.is_none() && prompt.trim().is_empty() {
            return Err(SuiteError::new(format!(
                "suite file {source}: {test} has an empty prompt; write the prompt text or remove the test"
            )));
        }
        // RKLLM takes C strings: a NUL would silently cut the text (and fails at run time).
        for (what, text) in [
            ("prompt", Some(&prompt)),
            ("system message", system.as_ref()),
        ] {
            if let Some(at_char) = text.and_then(|t| t.chars().position(|c| c == '\0')) {
                return Err(SuiteError::new(format!(
                    "suite file {source}: {test} has a NUL character (\\u0000) in its {what} at character {at_char}; RKLLM takes C strings, which end there; remove it"
                )));
            }
        }
        let name = p
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| p.id.clone());
        out.push(TestCase {
            id: p.id,
            name,
            category: p.category,
            prompt,
            system,
            input_tokens: p.input_tokens,
            max_new_tokens: p.max_new_tokens,
            timeout: p.timeout,
            think: p.think,
            repeat: p.repeat,
        });
    }
    Ok(out)
}

/// Folds a `messages` list into (prompt, system): user turns joined by a blank line, at most one
/// system message. Kept this simple because RKLLM's input is one prompt plus one system prompt.
fn from_messages(
    source: &str,
    test: &str,
    messages: Vec<RawMessage>,
) -> Result<(String, Option<String>), SuiteError> {
    let mut system: Option<String> = None;
    let mut user = Vec::new();
    for (i, m) in messages.into_iter().enumerate() {
        if m.content.trim().is_empty() {
            return Err(SuiteError::new(format!(
                "suite file {source}: {test} messages[{i}] has empty content; write the text or remove the message"
            )));
        }
        match m.role {
            Role::System if system.is_some() => {
                return Err(SuiteError::new(format!(
                    "suite file {source}: {test} messages[{i}] is a second system message; merge them into one"
                )))
            }
            Role::System => system = Some(m.content),
            Role::User => user.push(m.content),
        }
    }
    Ok((user.join("\n\n"), system))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse(text, "fixtures/x.json") {
            Ok(s) => panic!("expected an error, parsed {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn assert_one_line(msg: &str) {
        assert!(!msg.contains('\n'), "message is not one line: {msg}");
    }

    #[test]
    fn every_builtin_parses() {
        for (name, _) in BUILTIN {
            let s = load(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&s.name, name);
            assert_eq!(s.source, format!("built-in:{name}"));
            assert_eq!(s.sha256.len(), 64);
            assert!(!s.description.is_empty());
            assert!(!s.tests.is_empty());
            // The prefixed form a report records loads the same suite.
            assert_eq!(
                load(&s.source).map(|t| t.sha256).ok(),
                Some(s.sha256.clone())
            );
        }
    }

    #[test]
    fn builtins_are_ascii_so_bytes_equal_chars() {
        for (name, text) in BUILTIN {
            assert!(text.is_ascii(), "{name}.json has non-ASCII text");
        }
    }

    #[test]
    fn default_has_the_ten_original_ids_in_order() {
        let s = load("default").unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = s.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "completion_01",
                "completion_02",
                "completion_03",
                "completion_04",
                "completion_05",
                "creativity_01",
                "planning_01",
                "coding_01",
                "instruction_following_01",
                "consistency_01"
            ]
        );
        for t in &s.tests {
            assert_eq!(t.max_new_tokens, Some(2048), "{}", t.id);
            assert_eq!(t.timeout, Some(Duration::from_secs(600)), "{}", t.id);
            assert_eq!(t.repeat, 1);
            assert_eq!(t.system, None);
        }
        let cats: Vec<&str> = s.tests.iter().map(|t| t.category.as_str()).collect();
        assert_eq!(
            cats,
            [
                "completion",
                "completion",
                "completion",
                "completion",
                "completion",
                "creativity",
                "planning",
                "coding",
                "instruction_following",
                "consistency"
            ]
        );
        assert_eq!(s.tests[0].name, "Technical Explanation");
        assert_eq!(s.tests[9].name, "Roman Empire Essay");
    }

    #[test]
    fn default_prompt_lengths_match_the_original() {
        let targets = [118, 155, 164, 156, 174, 320, 426, 459, 684, 812];
        let s = load("default").unwrap_or_else(|e| panic!("{e}"));
        for (t, target) in s.tests.iter().zip(targets) {
            let len = t.prompt.chars().count() as f64;
            let target = f64::from(target);
            assert!(
                (len - target).abs() <= 0.25 * target,
                "{}: {len} chars, target {target}",
                t.id
            );
        }
    }

    #[test]
    fn quick_is_short() {
        let s = load("quick").unwrap_or_else(|e| panic!("{e}"));
        let caps: Vec<Option<u32>> = s.tests.iter().map(|t| t.max_new_tokens).collect();
        assert_eq!(caps, [Some(32), Some(48), Some(64)]);
        // 144 tokens at ~3.1 tok/s (Qwen3-4B on RK3588) is ~46 s of decode.
        let total: u32 = caps.iter().flatten().sum();
        assert!(f64::from(total) / 3.1 < 50.0);
        assert!(s.tests.iter().all(|t| t.prompt.len() < 120));
    }

    #[test]
    fn context_is_exact_token_inputs_doubling_from_128() {
        let s = load("context").unwrap_or_else(|e| panic!("{e}"));
        let lengths: Vec<Option<u32>> = s.tests.iter().map(|t| t.input_tokens).collect();
        let want: Vec<Option<u32>> = (0..8).map(|k| Some(128 << k)).collect();
        assert_eq!(lengths, want);
        for t in &s.tests {
            let n = t.input_tokens.unwrap_or(0);
            assert_eq!(t.id, format!("context_{n:04}"));
            assert_eq!(t.prompt, "");
            assert_eq!(t.max_new_tokens, Some(64));
            assert_eq!(t.category, "context");
            assert_eq!(t.input_label(), format!("{n} tokens (exact)"));
        }
    }

    #[test]
    fn context_goes_as_far_as_the_context_window_allows() {
        let mut s = load("context").unwrap_or_else(|e| panic!("{e}"));
        // 2048 + 64 fits 4096; 4096 + 64 does not.
        let dropped = s.drop_tests_beyond(4096, None);
        let kept: Vec<&str> = s.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            kept,
            [
                "context_0128",
                "context_0256",
                "context_0512",
                "context_1024",
                "context_2048"
            ]
        );
        assert_eq!(dropped.len(), 3);
        assert_eq!(
            dropped[0],
            "test context_4096 skipped: 4096 input + 64 new tokens do not fit --max-context-len 4096"
        );
        // The exact boundary fits; a --max-new-tokens override counts instead of the test's cap.
        let mut s = load("context").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.drop_tests_beyond(4160, None).len(), 2);
        let mut s = load("context").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.drop_tests_beyond(4160, Some(65)).len(), 3);
        // Prompt tests are never dropped (their length is the tokenizer's business).
        let mut d = load("default").unwrap_or_else(|e| panic!("{e}"));
        assert!(d.drop_tests_beyond(1, None).is_empty());
        let mut s = load("context").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.drop_tests_beyond(-1, None).len(), 8);
        assert!(s.tests.is_empty());
    }

    #[test]
    fn rockchip_follows_the_published_method() {
        let s = load("rockchip").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.tests.len(), 1);
        let t = &s.tests[0];
        assert_eq!(t.input_tokens, Some(crate::reference::METHOD_INPUT_TOKENS));
        assert_eq!(t.max_new_tokens, Some(crate::reference::METHOD_NEW_TOKENS));
        assert_eq!(t.think, Some(false));
        assert_eq!(t.repeat, 10);
        assert_eq!(s.warmup, 2);
        assert!(s.description.contains("suite show rockchip"));
    }

    #[test]
    fn input_tokens_replaces_the_prompt() {
        let s = parse(
            r#"{"warmup": 3, "tests": [{"id": "x", "input_tokens": 300, "max_new_tokens": 8}]}"#,
            "t.json",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.warmup, 3);
        assert_eq!(s.tests[0].input_tokens, Some(300));
        assert_eq!(s.tests[0].prompt, "");
        assert_eq!(s.tests[0].input_label(), "300 tokens (exact)");
        let p = parse(r#"{"tests": [{"id": "x", "prompt": "abc"}]}"#, "t.json")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.warmup, 0);
        assert_eq!(p.tests[0].input_tokens, None);
        assert_eq!(p.tests[0].input_label(), "3 chars");

        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "input_tokens": 5}]}"#);
        assert!(e.contains("has \"input_tokens\" and a prompt"), "{e}");
        let e = err(
            r#"{"tests": [{"id": "a", "messages": [{"role": "user", "content": "u"}], "input_tokens": 5}]}"#,
        );
        assert!(e.contains("has \"input_tokens\" and a prompt"), "{e}");
        let e = err(r#"{"tests": [{"id": "a", "input_tokens": 0}]}"#);
        assert!(
            e.contains("has input_tokens 0; it must be at least 1"),
            "{e}"
        );
        let e = err(r#"{"tests": [{"id": "a", "input_tokens": 2000000}]}"#);
        assert!(
            e.contains("has input_tokens 2000000; the most rkbench sends is 1048576"),
            "{e}"
        );
        let e = err(r#"{"tests": [{"id": "a", "input_tokens": -3}]}"#);
        assert!(e.contains("invalid value: integer -3"), "{e}");
        let e = err(r#"{"tests": [{"id": "a"}]}"#);
        assert!(
            e.contains("or \"input_tokens\" for an exact token input"),
            "{e}"
        );
        let e = err(r#"{"warmup": -1, "tests": [{"id": "a", "prompt": "p"}]}"#);
        assert!(e.contains("invalid value: integer -1"), "{e}");
    }

    #[test]
    fn defaults_apply_and_tests_win() {
        let s = parse(
            r#"{
              "name": "mine",
              "defaults": {"max_new_tokens": 100, "timeout": "5m", "think": false, "repeat": 3},
              "tests": [
                {"id": "a", "prompt": "hello"},
                {"id": "b", "name": "Bee", "category": "coding", "prompt": "x",
                 "max_new_tokens": 7, "timeout": "90s", "think": true, "repeat": 1}
              ]
            }"#,
            "mine.json",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "mine");
        assert_eq!(s.description, "");
        assert_eq!(s.source, "mine.json");
        let a = &s.tests[0];
        assert_eq!(
            a,
            &TestCase {
                id: "a".into(),
                name: "a".into(),
                category: "general".into(),
                prompt: "hello".into(),
                system: None,
                input_tokens: None,
                max_new_tokens: Some(100),
                timeout: Some(Duration::from_secs(300)),
                think: Some(false),
                repeat: 3,
            }
        );
        let b = &s.tests[1];
        assert_eq!(b.name, "Bee");
        assert_eq!(b.category, "coding");
        assert_eq!(b.max_new_tokens, Some(7));
        assert_eq!(b.timeout, Some(Duration::from_secs(90)));
        assert_eq!(b.think, Some(true));
        assert_eq!(b.repeat, 1);
    }

    #[test]
    fn minimal_suite_takes_name_from_file_stem() {
        let s = parse(
            r#"{"tests": [{"id": "t1", "prompt": "hi"}]}"#,
            "dir/my-suite.json",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "my-suite");
        let t = &s.tests[0];
        assert_eq!(
            (t.max_new_tokens, t.timeout, t.think, t.repeat),
            (None, None, None, 1)
        );
    }

    #[test]
    fn sha256_is_of_the_source_bytes() {
        let text = r#"{"tests": [{"id": "t", "prompt": "p"}]}"#;
        let s = parse(text, "t.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.sha256, hex_sha256(text.as_bytes()));
        // sha256("abc") known answer, to pin the hex formatting.
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // A byte-order mark is tolerated but still part of the hash.
        let bom = format!("\u{feff}{text}");
        let s2 = parse(&bom, "t.json").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(s2.sha256, s.sha256);
        assert_eq!(s2.tests, s.tests);
    }

    #[test]
    fn legacy_shape_parses() {
        let text = r#"{
          "performance_tests": {
            "description": "speed",
            "tests": [
              {"id": "completion_01", "name": "Tech", "prompt": "The future of chips is"},
              {"id": "completion_02", "name": "Story", "prompt": "Once upon a time"}
            ]
          },
          "quality_tests": {
            "description": "quality",
            "tests": [
              {"id": "coding_01", "name": "Code", "category": "coding", "prompt": "Write a function.", "max_tokens": 512},
              {"id": "plan_01", "name": "Plan", "category": "planning", "prompt": "Plan it."}
            ]
          },
          "evaluation_criteria": {
            "performance_metrics": ["ttft", "tokens_per_second"],
            "quality_metrics": {"coding": ["correctness", "style"]}
          }
        }"#;
        let s = parse(text, "config/benchmark_prompts.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "benchmark_prompts");
        let got: Vec<(&str, &str, &str, Option<u32>)> = s
            .tests
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.name.as_str(),
                    t.category.as_str(),
                    t.max_new_tokens,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("completion_01", "Tech", "completion", None),
                ("completion_02", "Story", "completion", None),
                ("coding_01", "Code", "coding", Some(512)),
                ("plan_01", "Plan", "planning", None),
            ]
        );
        assert!(s.tests.iter().all(|t| t.repeat == 1 && t.timeout.is_none()));
    }

    #[test]
    fn legacy_import_is_as_lenient_as_the_original() {
        let text = r#"{
          "version": 2,
          "performance_tests": {"description": "d", "notes": "x", "tests": [
            {"name": "No id", "prompt": "p", "expected_length": 100},
            {"id": "b", "name": "B", "prompt": "q", "max_tokens": 512.0}
          ]},
          "quality_tests": {"tests": [{"name": "Q", "category": "coding", "prompt": "r"}]}
        }"#;
        let s = parse(text, "benchmark_prompts.json").unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = s.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["performance_tests_1", "b", "quality_tests_1"]);
        assert_eq!(s.tests[1].max_new_tokens, Some(512));
        let w = s.warnings.join("\n");
        assert!(
            w.contains("the top level has unknown key \"version\", ignored"),
            "{w}"
        );
        assert!(
            w.contains("performance_tests has unknown key \"notes\""),
            "{w}"
        );
        assert!(
            w.contains("performance_tests.tests[0] has unknown key \"expected_length\""),
            "{w}"
        );
        assert!(
            w.contains(
                "performance_tests.tests[0] has no id; it is called \"performance_tests_1\""
            ),
            "{w}"
        );
        // Still refused: a fractional or non-positive cap, and a missing prompt.
        for (bad, says) in [
            (r#""max_tokens": 512.5"#, "not a whole number"),
            (r#""max_tokens": 0"#, "max_tokens 0: 0 is out of range"),
            (r#""max_tokens": -1"#, "max_tokens -1: -1 is out of range"),
            (r#""max_tokens": 4294967296"#, "is out of range"),
        ] {
            let e = err(&format!(
                r#"{{"performance_tests": {{"tests": [{{"id": "a", "prompt": "p", {bad}}}]}}}}"#
            ));
            assert!(e.contains(says), "{bad}: {e}");
        }
        let e = err(r#"{"performance_tests": {"tests": [{"id": "a"}]}}"#);
        assert!(e.contains("missing field \"prompt\""), "{e}");
        // The native shape stays strict.
        assert!(
            parse(r#"{"tests": [{"id": "a", "prompt": "p"}]}"#, "n.json")
                .map(|s| s.warnings.is_empty())
                .unwrap_or(false)
        );
    }

    #[test]
    fn nul_in_a_prompt_is_refused_at_check_time() {
        // F14: it passed `suite check` and failed at run time.
        let e = err(r#"{"tests": [{"id": "a", "prompt": "ab\u0000c"}]}"#);
        assert!(
            e.contains("has a NUL character (\\u0000) in its prompt at character 2"),
            "{e}"
        );
        let e = err(
            r#"{"tests": [{"id": "a", "messages": [{"role": "system", "content": "\u0000"}, {"role": "user", "content": "u"}]}]}"#,
        );
        assert!(e.contains("in its system message"), "{e}");
    }

    #[test]
    fn caps_and_repeats_follow_the_flag_rules() {
        // F4/F15: values that would wrap in the runtime's int32_t are refused like the flags.
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "max_new_tokens": 4294967295}]}"#);
        assert!(
            e.contains("max_new_tokens 4294967295: 4294967295 is out of range: use 1..=131072"),
            "{e}"
        );
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "repeat": 4294967295}]}"#);
        assert!(
            e.contains("repeat 4294967295: 4294967295 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn oversized_files_are_not_read_whole() {
        // F15: `--suite /dev/zero` grew without bound.
        let e = match load("/dev/zero") {
            Ok(s) => panic!("loaded {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("larger than 16 MiB"), "{e}");
    }

    #[test]
    fn legacy_with_only_quality_tests() {
        let s = parse(
            r#"{"quality_tests": {"tests": [{"id": "q", "name": "Q", "prompt": "p"}]}}"#,
            "old.json",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.tests[0].category, "general");
    }

    #[test]
    fn legacy_duplicate_ids_name_both_sections() {
        let e = err(r#"{
          "performance_tests": {"tests": [{"id": "x", "name": "a", "prompt": "p"}]},
          "quality_tests": {"tests": [{"id": "x", "name": "b", "category": "c", "prompt": "q"}]}
        }"#);
        assert!(e.contains("performance_tests.tests[0]"), "{e}");
        assert!(e.contains("quality_tests.tests[0]"), "{e}");
    }

    #[test]
    fn messages_form() {
        let s = parse(
            r#"{"tests": [{"id": "m", "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "First part."},
                {"role": "user", "content": "Second part."}
            ]}]}"#,
            "m.json",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let t = &s.tests[0];
        assert_eq!(t.prompt, "First part.\n\nSecond part.");
        assert_eq!(t.system.as_deref(), Some("You are terse."));
    }

    #[test]
    fn messages_errors() {
        let e = err(
            r#"{"tests": [{"id": "m", "messages": [{"role": "assistant", "content": "hi"}]}]}"#,
        );
        assert!(e.contains("unknown variant \"assistant\""), "{e}");
        assert!(e.starts_with("suite file fixtures/x.json:1:"), "{e}");

        let e = err(r#"{"tests": [{"id": "m", "messages": [
            {"role": "system", "content": "a"}, {"role": "system", "content": "b"},
            {"role": "user", "content": "c"}]}]}"#);
        assert!(e.contains("second system message"), "{e}");

        let e =
            err(r#"{"tests": [{"id": "m", "messages": [{"role": "system", "content": "a"}]}]}"#);
        assert!(
            e.contains("test \"m\" (tests[0]) has an empty prompt"),
            "{e}"
        );

        let e = err(r#"{"tests": [{"id": "m", "messages": []}]}"#);
        assert!(e.contains("has an empty prompt"), "{e}");

        let e = err(r#"{"tests": [{"id": "m", "messages": [{"role": "user", "content": " "}]}]}"#);
        assert!(e.contains("messages[0] has empty content"), "{e}");
    }

    #[test]
    fn unknown_field_gives_line_and_column() {
        let e = err("{\n  \"tests\": [\n    {\"id\": \"a\",\n     \"promt\": \"hi\"}\n  ]\n}");
        assert!(e.starts_with("suite file fixtures/x.json:4:"), "{e}");
        assert!(
            e.contains("unknown field \"promt\", expected one of"),
            "{e}"
        );
        assert!(e.contains("docs/SUITES.md"), "{e}");
        assert_one_line(&e);

        let e = err(r#"{"tests": [], "nmae": "x"}"#);
        assert!(e.contains("unknown field \"nmae\""), "{e}");

        let e = err(r#"{"defaults": {"max_tokens": 5}, "tests": []}"#);
        assert!(e.contains("unknown field \"max_tokens\""), "{e}");
    }

    #[test]
    fn duplicate_id_names_both_positions() {
        let e = err(r#"{"tests": [
            {"id": "coding_01", "prompt": "a"},
            {"id": "other", "prompt": "b"},
            {"id": "coding_01", "prompt": "c"}
        ]}"#);
        assert_eq!(
            e,
            "suite file fixtures/x.json: duplicate test id \"coding_01\" at tests[0] and tests[2]; ids must be unique, rename one of them"
        );
    }

    #[test]
    fn empty_prompt() {
        let e = err(r#"{"tests": [{"id": "coding_01", "prompt": "  \n "}]}"#);
        assert_eq!(
            e,
            "suite file fixtures/x.json: test \"coding_01\" (tests[0]) has an empty prompt; write the prompt text or remove the test"
        );
    }

    #[test]
    fn prompt_and_messages_are_exclusive() {
        let e = err(
            r#"{"tests": [{"id": "a", "prompt": "p", "messages": [{"role": "user", "content": "u"}]}]}"#,
        );
        assert!(e.contains("has both \"prompt\" and \"messages\""), "{e}");
        let e = err(r#"{"tests": [{"id": "a"}]}"#);
        assert!(e.contains("has neither \"prompt\" nor \"messages\""), "{e}");
    }

    #[test]
    fn bad_timeout() {
        let e = err("{\"tests\": [\n{\"id\": \"a\", \"prompt\": \"p\", \"timeout\": \"5 minz\"}]}");
        assert!(e.starts_with("suite file fixtures/x.json:2:"), "{e}");
        assert!(e.contains("invalid timeout \"5 minz\""), "{e}");
        assert!(e.contains("\"90s\""), "{e}");
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "timeout": 300}]}"#);
        assert!(e.contains("expected a duration string"), "{e}");
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "timeout": "0s"}]}"#);
        assert!(
            e.contains("invalid timeout \"0s\": 0s is out of range: use 1ms..=7days"),
            "{e}"
        );
        let e = err(r#"{"defaults": {"timeout": "soon"}, "tests": [{"id": "a", "prompt": "p"}]}"#);
        assert!(e.contains("invalid timeout \"soon\""), "{e}");
        // Compound humantime values work.
        let s = parse(
            r#"{"tests": [{"id": "a", "prompt": "p", "timeout": "1h 30m"}]}"#,
            "t.json",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.tests[0].timeout, Some(Duration::from_secs(5400)));
    }

    #[test]
    fn repeat_and_max_new_tokens_must_be_positive() {
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "repeat": 0}]}"#);
        assert_eq!(
            e,
            "suite file fixtures/x.json: test \"a\" (tests[0]) has repeat 0: 0 is out of range: use 1..=10000 (runs of each test (flag × suite value); rkbench: repetitions of each test); leave it out to use the default"
        );
        let e = err(r#"{"defaults": {"repeat": 0}, "tests": [{"id": "a", "prompt": "p"}]}"#);
        assert!(e.contains("defaults has repeat 0"), "{e}");
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "max_new_tokens": 0}]}"#);
        assert!(e.contains("has max_new_tokens 0"), "{e}");
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "max_new_tokens": -5}]}"#);
        assert!(e.contains("fixtures/x.json:1:"), "{e}");
        assert!(e.contains("invalid value: integer -5"), "{e}");
    }

    #[test]
    fn bad_ids() {
        let e = err(r#"{"tests": [{"id": "", "prompt": "p"}]}"#);
        assert!(e.contains("tests[0] has an empty id"), "{e}");
        let e = err(r#"{"tests": [{"id": "ok"}, {"id": "my test", "prompt": "p"}]}"#);
        // The first test fails first: errors are reported in file order.
        assert!(e.contains("test \"ok\" (tests[0]) has neither"), "{e}");
        let e = err(r#"{"tests": [{"id": "my test", "prompt": "p"}]}"#);
        assert!(e.contains("has id \"my test\"; ids may use only"), "{e}");
        let e = err(r#"{"tests": [{"name": "x", "prompt": "p"}]}"#);
        assert!(e.contains("missing field \"id\""), "{e}");
    }

    #[test]
    fn not_json() {
        let e = err("tests: [a, b]");
        assert!(e.starts_with("suite file fixtures/x.json:1:"), "{e}");
        assert!(e.contains("not valid JSON"), "{e}");
        let e = err("{\"tests\": [\n{\"id\": \"a\", \"prompt\": \"p\"},\n]}");
        assert!(e.starts_with("suite file fixtures/x.json:3:"), "{e}");
        let e = err("");
        assert!(e.contains("EOF"), "{e}");
        let e = err("[1, 2]");
        assert!(e.contains("not a JSON object"), "{e}");
        let e = err("{}");
        assert!(e.contains("missing field \"tests\""), "{e}");
        let e = err(r#"{"tests": []}"#);
        assert!(e.contains("has no tests"), "{e}");
    }

    #[test]
    fn file_not_found_names_path_and_suggests_list() {
        let path = "/nonexistent/dir/suite.json";
        let e = match load(path) {
            Ok(s) => panic!("loaded {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.starts_with("suite file /nonexistent/dir/suite.json: no such file"),
            "{e}"
        );
        assert!(e.contains("rkbench suite list"), "{e}");
        assert_one_line(&e);

        let e = match load("built-in:nope") {
            Ok(s) => panic!("loaded {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("no such built-in suite"), "{e}");
        assert!(e.contains("rkbench suite list"), "{e}");
    }

    #[test]
    fn load_reads_files_and_checks_utf8() {
        let dir = std::env::temp_dir().join(format!("rkbench-suite-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let good = dir.join("mine.json");
        let text = r#"{"description": "d", "tests": [{"id": "t", "prompt": "p"}]}"#;
        std::fs::write(&good, text).unwrap_or_else(|e| panic!("{e}"));
        let spec = good.to_string_lossy().into_owned();
        let s = load(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "mine");
        assert_eq!(s.description, "d");
        assert_eq!(s.source, spec);
        assert_eq!(s.sha256, hex_sha256(text.as_bytes()));

        let bad = dir.join("bad.json");
        std::fs::write(&bad, b"{\"tests\": \xff}").unwrap_or_else(|e| panic!("{e}"));
        let e = match load(&bad.to_string_lossy()) {
            Ok(s) => panic!("loaded {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("is not UTF-8 text (bad byte at offset 10)"),
            "{e}"
        );

        // A directory is not a suite file either.
        let e = match load(&dir.to_string_lossy()) {
            Ok(s) => panic!("loaded {s:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("cannot read it"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_are_one_line_even_with_newlines_in_values() {
        let e = err("{\"tests\": [{\"id\": \"a\\nb\", \"prompt\": \"p\"}]}");
        assert_one_line(&e);
        let e = err(r#"{"tests": [{"id": "a", "prompt": "p", "timeout": "5\nparsecs"}]}"#);
        assert_one_line(&e);
    }

    #[test]
    fn no_panic_on_truncated_or_mangled_input() {
        let (_, text) = BUILTIN[0];
        let mut cut = 0;
        while cut < text.len() {
            let _ = parse(&text[..cut], "cut.json");
            cut += 7;
        }
        let mut state: u32 = 12345;
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..300 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = (state as usize >> 8) % bytes.len();
            bytes[i] = b"{}[]\":,0a- \\"[(state as usize >> 4) % 12];
            let _ = parse(&String::from_utf8_lossy(&bytes), "mangled.json");
        }
        for odd in [
            "null",
            "0",
            "\"s\"",
            "{\"tests\": null}",
            "{\"tests\": [null]}",
            "{\"performance_tests\": 1}",
        ] {
            let e = err(odd);
            assert!(e.starts_with("suite file fixtures/x.json"), "{e}");
        }
    }
}
