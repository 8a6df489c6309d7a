//! The records of a `.rktrace` file, format 1.
//!
//! Everything here is archived with rkyv (little-endian, 32-bit relative pointers, aligned), so the
//! same bytes are produced on aarch64 and x86_64. Only fixed-width integers and floats are used
//! (no `usize`). Times are microseconds on the recorder's monotonic clock; token times are deltas so
//! a token costs 8 bytes (`u32` delta + `u32` id) plus its text.
//!
//! Compatibility rule: a released format's types are never edited. A new minor version may only add
//! new `Record` variants (older readers skip them as "unsupported record"); anything else is a new
//! major version whose reader upgrades the old types on read.
use rkyv::{Archive, Deserialize, Serialize};

/// One framed record. A trace is `Header`, then any mix of `Request`/`Telemetry`, then `End`
/// when the recorder finished cleanly; `Partial`/`Tokens` checkpoints live in the journal beside
/// it. Each variant is archived as its own rkyv root and the kind goes in the frame header, so a
/// small record does not pay for the largest one.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built and written one at a time
pub enum Record {
    Header(RunHeader),
    /// A request that ended (any status). Supersedes checkpoints with the same `index`.
    Request(RequestRecord),
    /// Journal: a request has started (its metadata, no tokens yet).
    Partial(RequestRecord),
    Telemetry(TelemetryBatch),
    End(RunEnd),
    /// Journal: tokens of an in-flight request appended since its last checkpoint (incremental,
    /// so a long request costs O(tokens) to checkpoint, not O(tokens²)).
    Tokens(TokenChunk),
    /// The HTTP server a run measured (kind 16; see [`super::server`]).
    ServerRun(super::server::ServerRun),
    /// A request sent to a server, with every chunk (kind 17).
    ServerRequest(super::server::ServerRequest),
    /// Journal: snapshot of a server request in flight (kind 18).
    ServerPartial(super::server::ServerRequest),
    /// Journal, first frame (format 1.1): which trace this journal belongs to.
    Binding(JournalBinding),
    /// What a request fed the runtime (format 1.1+), written before the request starts.
    Input(RequestInput),
    /// The chat template rkbench set before a request (kind 12; see [`super::plan_extras`]).
    TemplateSent(super::plan_extras::TemplateSent),
    /// The `--preset` the run used (kind 13).
    PresetUsed(super::plan_extras::PresetUsed),
    /// Input settings of the whole run that `RunParams` lacks (format 1.1+), after the header.
    InputOptions(InputOptions),
    /// How the runtime library was identified (after the header; format 1.1).
    Identity(RuntimeIdentity),
    /// What the runtime did during one request beyond its tokens (after that request's
    /// `Request` frame; format 1.1): the facts the conformance checks are computed from.
    RuntimeObs(RuntimeObservation),
    /// The power source and its idle window (kind 24; see [`super::power`]).
    PowerSource(super::power::PowerSource),
    /// Raw power samples (kind 25).
    PowerSamples(super::power::PowerSamples),
    /// How the level was driven (kind 26; see [`super::load`]).
    LoadRun(super::load::LoadRun),
    /// A request's stream and intended send time (kind 27), written when it is sent.
    RequestSent(super::load::RequestSent),
}

/// Frame kinds (byte 10 of the frame header). Never renumbered; unknown kinds are skipped.
pub mod kind {
    pub const HEADER: u8 = 1;
    pub const REQUEST: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const TELEMETRY: u8 = 4;
    pub const END: u8 = 5;
    pub const TOKENS: u8 = 6;
    /// Journal binding (format 1.1).
    pub const BINDING: u8 = 7;
    /// [`super::RequestInput`] (format 1.1). 15 is reserved for more per-request input facts.
    pub const INPUT: u8 = 14;
    /// [`super::InputOptions`] (format 1.1).
    pub const INPUT_OPTIONS: u8 = 15;
    pub const IDENTITY: u8 = 9;
    pub const RUNTIME_OBS: u8 = 10;
}

/// `RequestInput::input_type` values: the `RKLLMInputType` sent.
pub mod input_type {
    /// `RKLLM_INPUT_PROMPT`: text through the runtime's tokenizer and chat template.
    pub const PROMPT: u32 = 0;
    /// `RKLLM_INPUT_TOKEN`: token ids, prefill exactly `n_tokens` long.
    pub const TOKEN: u32 = 1;
}

/// What one request fed the runtime. A request without one (every trace before format 1.1)
/// sent its `prompt` as text.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RequestInput {
    /// The `RequestRecord::index` it belongs to.
    pub index: u32,
    /// See [`input_type`].
    pub input_type: u32,
    /// TOKEN: the number of ids fed (the exact prefill length); PROMPT: 0.
    pub n_tokens: u32,
    /// TOKEN: id `i` was `first_id + i mod id_span` (see `token_input`); PROMPT: 0, 0.
    pub first_id: i32,
    pub id_span: u32,
}

/// Run-wide input settings passed to the runtime that `RunParams` (archived, never edited)
/// has no field for. Absent in older traces: all `false`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct InputOptions {
    /// `RKLLMParam.ignore_eos_token` as passed (1.3.0; always false for older runtimes).
    pub ignore_eos_token: bool,
}

impl RequestInput {
    /// An exact token input of `n_tokens` ids.
    pub fn is_exact_tokens(&self) -> bool {
        self.input_type == input_type::TOKEN
    }
}

/// How the runtime library was identified: every piece of evidence, in order of trust, and the
/// conclusion (`rkbench info` prints the same).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RuntimeIdentity {
    /// ABI generation used (as `RuntimeInfo::abi`).
    pub abi: String,
    /// The release if the file is an official one, else the banner's version, else empty.
    pub version: String,
    /// `git hash-object` of the library file.
    pub git_blob: String,
    /// Bytes `rkllm_createDefaultParam` wrote into the canary buffer (-1: not probed).
    pub param_size: i32,
    pub conclusion: String,
    /// `--force-abi` overrode the evidence.
    pub forced: bool,
    pub evidence: Vec<IdentityEvidence>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct IdentityEvidence {
    /// `file`, `param-size`, `symbols` or `banner`.
    pub source: String,
    pub observed: String,
    /// What it allows, e.g. `ABI 1.2.1`, `inconclusive`.
    pub verdict: String,
}

/// Why rkbench called `rkllm_abort` during a request.
pub mod abort_reason {
    /// The per-request cap (≤ 1.2.0, or a runtime that ignored the callback's stop return).
    pub const CAP: &str = "cap";
    /// The per-request cap, sent at the cap itself together with the stop return, because an
    /// earlier request of the run showed that the runtime ignores the stop return.
    pub const CAP_STOP_IGNORED: &str = "cap-stop-ignored";
    pub const DEADLINE: &str = "deadline";
    pub const INTERRUPT: &str = "interrupt";
}

/// What the runtime did during one request, beyond the tokens in its `RequestRecord`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RuntimeObservation {
    /// The request's `index`.
    pub index: u32,
    /// FINISH callbacks received for this request (1 expected).
    pub finish_callbacks: u32,
    pub error_callbacks: u32,
    /// FINISH/ERROR arrived only after `rkllm_run` had returned.
    pub end_after_return: bool,
    /// Tokens received when the callback first returned "stop" (1.2.1+); -1 never.
    pub stop_requested_at: i32,
    /// Callbacks that still arrived after that.
    pub tokens_after_stop: u32,
    /// First `rkllm_abort` call − t0 (µs); -1 none.
    pub abort_us: i64,
    /// See [`abort_reason`]; empty if no abort.
    pub abort_reason: String,
    /// Tokens received when the abort was sent.
    pub abort_at_token: u32,
    /// Callbacks that ran on the thread blocked in `rkllm_run`, and on any other thread.
    pub callbacks_on_run_thread: u32,
    pub callbacks_on_other_threads: u32,
    /// Return of `rkllm_clear_kv_cache` after this request; `i32::MIN` when not called.
    pub clear_kv_return: i32,
}

impl Default for RuntimeObservation {
    fn default() -> Self {
        RuntimeObservation {
            index: 0,
            finish_callbacks: 0,
            error_callbacks: 0,
            end_after_return: false,
            stop_requested_at: -1,
            tokens_after_stop: 0,
            abort_us: -1,
            abort_reason: String::new(),
            abort_at_token: 0,
            callbacks_on_run_thread: 0,
            callbacks_on_other_threads: 0,
            clear_kv_return: i32::MIN,
        }
    }
}

/// A slice of an in-flight request's tokens, starting at token `first`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TokenChunk {
    pub index: u32,
    pub first: u32,
    /// This chunk's tokens; `waiting` holds absolute token indices.
    pub tokens: TokenColumns,
}

/// The per-token columns of a request, defined once and nested in [`TokenChunk`],
/// [`RequestRecord`] and the recorder's capture, so every copy between them is one method call
/// instead of five field copies that can drift apart.
///
/// Nesting keeps the archived layout: five archived `Vec`s (8 bytes, 4-aligned each) in the same
/// order as the five fields they replace, so traces written before it read unchanged.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TokenColumns {
    /// Per token: µs since the previous token (the first: since t0).
    pub token_dt_us: Vec<u32>,
    /// Per token: the runtime's token id.
    pub token_ids: Vec<i32>,
    /// Indices (into the token arrays) of tokens delivered with state WAITING.
    pub waiting: Vec<u32>,
    /// Per token: byte length of its text in `text`.
    pub text_len: Vec<u16>,
    /// Concatenated raw token bytes (valid UTF-8 only once complete characters arrived).
    pub text: Vec<u8>,
}

/// Who produced the trace, with what, on what, and how it was configured.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RunHeader {
    pub rkbench: BuildInfo,
    /// The full command line as typed (argv).
    pub command_line: Vec<String>,
    pub hostname: String,
    /// Wall-clock start of the run (Unix ms, UTC). A recorded fact shown in reports, never "now".
    pub started_unix_ms: u64,
    pub runtime: RuntimeInfo,
    pub model: ModelInfo,
    pub params: RunParams,
    pub suite: SuiteInfo,
    /// Board facts (`key`, `value`), e.g. `board.model`, `kernel`, `cpu.policy4.governor`.
    /// Sorted by key. A missing source is recorded as `unavailable (reason)`.
    pub board: Vec<Fact>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct BuildInfo {
    pub version: String,
    pub git_commit: String,
    pub git_state: String,
    pub target: String,
    pub profile: String,
    pub rustc: String,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RuntimeInfo {
    pub lib_path: String,
    pub lib_size: u64,
    pub lib_sha256: String,
    /// ABI generation used: `1.1`, `1.2.0`, `1.2.1` (covers 1.2.1–1.2.3) or `1.3.0`.
    pub abi: String,
    /// Version string found in the library, if any (e.g. `1.2.1`).
    pub version: String,
    /// How the ABI was chosen, e.g. `banner "rkllm-runtime version: 1.2.1" in file`.
    pub evidence: String,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ModelInfo {
    pub path: String,
    pub file_name: String,
    pub size: u64,
    /// sha256 over (size as u64 LE ‖ first 1 MiB ‖ last 1 MiB): identifies the file in milliseconds.
    pub fingerprint: String,
}

/// Every parameter handed to the runtime, as passed (not as requested), so reports never print literals.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RunParams {
    pub max_context_len: i32,
    pub max_new_tokens: i32,
    pub top_k: i32,
    pub top_p: f32,
    pub temperature: f32,
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub mirostat: i32,
    pub mirostat_tau: f32,
    pub mirostat_eta: f32,
    pub n_keep: i32,
    pub skip_special_token: bool,
    pub base_domain_id: i32,
    pub embed_flash: i8,
    pub enabled_cpus_num: i8,
    pub enabled_cpus_mask: u32,
    pub n_batch: u8,
    pub think: bool,
    /// Per-request deadline (0 = none).
    pub timeout_ms: u64,
    pub keep_history: bool,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SuiteInfo {
    pub name: String,
    pub source: String,
    pub sha256: String,
    pub tests: u32,
}

#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default,
)]
pub struct Fact {
    pub key: String,
    pub value: String,
}

/// How a request ended.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub enum Status {
    /// FINISH callback received and `rkllm_run` returned 0.
    #[default]
    Ok,
    /// The per-request deadline passed; aborted, tokens so far kept.
    Timeout,
    /// Ctrl-C / SIGTERM during the request; tokens so far kept.
    Interrupted,
    /// The runtime reported an error (ERROR callback or non-zero return).
    Error,
    /// The runtime did not stop after `rkllm_abort` within the bound.
    Hung,
    /// The runtime process died (signal) during the request.
    Crashed,
    /// Still in flight when the frame was written (only in `Partial` frames or a killed recorder).
    InFlight,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Timeout => "timeout",
            Status::Interrupted => "interrupted",
            Status::Error => "error",
            Status::Hung => "hung",
            Status::Crashed => "crashed",
            Status::InFlight => "in-flight",
        }
    }
}

/// Who enforced the per-request output cap.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub enum CapSource {
    /// No cap below the runtime's own `max_new_tokens`.
    #[default]
    Runtime,
    /// 1.3.0 `RKLLMInferParam.max_new_tokens`.
    RuntimePerRun,
    /// Older runtimes: rkbench stopped generation from the callback at the cap.
    Rkbench,
}

/// The runtime's own figures from the FINISH callback (`RKLLMPerfStat`, 1.2.1+).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct PerfStat {
    pub prefill_time_ms: f32,
    pub prefill_tokens: i32,
    pub generate_time_ms: f32,
    pub generate_tokens: i32,
    pub memory_usage_mb: f32,
}

/// One prompt's result: every token callback with its arrival time.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RequestRecord {
    /// Position in the run (0-based), unique per trace.
    pub index: u32,
    pub test_id: String,
    pub name: String,
    pub category: String,
    pub prompt: String,
    pub repeat_index: u32,
    /// Warm-up requests are kept in the trace but excluded from statistics.
    pub warmup: bool,
    pub think: bool,
    /// Requested output cap for this request (≤ 0 = none).
    pub max_new_tokens: i32,
    pub cap_source: CapSource,
    pub status: Status,
    /// Return value of `rkllm_run` (`i32::MIN` if it never returned).
    pub run_return: i32,
    /// Human-readable detail for non-ok statuses.
    pub detail: String,
    /// t0: the call into `rkllm_run`, µs since the run's clock origin.
    pub start_us: u64,
    /// t_end − t0 (µs): FINISH/ERROR callback, or the moment the request was closed otherwise.
    pub end_us: u64,
    /// `rkllm_run` return − t0 (µs), 0 if it never returned.
    pub return_us: u64,
    /// Every token callback's columns.
    pub tokens: TokenColumns,
    /// Final callback state seen: 2 FINISH, 3 ERROR, -1 none.
    pub final_state: i32,
    pub perf: Option<PerfStat>,
}

/// A batch of board telemetry samples, columnar.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TelemetryBatch {
    /// Sample times, µs since the run's clock origin.
    pub t_us: Vec<u64>,
    pub series: Vec<Series>,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// e.g. `npu.load.core0`, `npu.freq`, `thermal.soc-thermal`.
    pub key: String,
    /// e.g. `%`, `Hz`, `m°C`, `kB`.
    pub unit: String,
    /// One per sample; `i64::MIN` = not read at that sample.
    pub values: Vec<i64>,
}

/// How the run ended.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub enum RunStatus {
    #[default]
    Complete,
    Interrupted,
    Hung,
    Crashed,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Hung => "hung",
            RunStatus::Crashed => "crashed",
            RunStatus::Failed => "failed",
        }
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct RunEnd {
    pub status: RunStatus,
    pub detail: String,
    /// µs since the run's clock origin.
    pub end_us: u64,
    pub requests: u32,
}

/// The first frame of a journal (format 1.1): ties it to the one trace whose in-flight request
/// it holds, so a journal left by another run (or planted) is never merged into this trace.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct JournalBinding {
    /// sha256 of the trace's run-header frame payload (the archived `RunHeader` bytes, which
    /// hold the host, start time and command line, so two runs never share it).
    pub header_sha256: Vec<u8>,
    /// The trace's file name when the journal was created (for messages only).
    pub trace_name: String,
}

impl TokenColumns {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.token_dt_us.len()
    }

    pub fn is_empty(&self) -> bool {
        self.token_dt_us.is_empty()
    }

    /// Every token's text in order, one per token (`len()` of them), by a running offset:
    /// walking all tokens costs O(tokens + text), never O(tokens²) as `token_text(i)` in a
    /// loop would. Lengths past the text blob (a damaged record) give empty texts, never a
    /// panic — as `ServerRequest::chunk_texts` does for chunks.
    pub fn texts(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0usize;
        (0..self.len()).map(move |i| {
            let len = self.text_len.get(i).map_or(0, |&l| usize::from(l));
            let start = at;
            at = at.saturating_add(len);
            self.text.get(start..at).unwrap_or(&[])
        })
    }

    /// Empty every column, keeping capacity for `tokens` more tokens (text: ~8 bytes each).
    pub fn clear_reserving(&mut self, tokens: usize) {
        self.token_dt_us.clear();
        self.token_ids.clear();
        self.waiting.clear();
        self.text_len.clear();
        self.text.clear();
        self.token_dt_us.reserve(tokens);
        self.token_ids.reserve(tokens);
        self.text_len.reserve(tokens);
        self.text.reserve(tokens * 8);
        self.waiting.reserve(64);
    }

    /// Append one token (`text` at most `u16::MAX` bytes, the caller truncates).
    pub fn push(&mut self, dt_us: u32, token_id: i32, text: &[u8], waiting: bool) {
        let i = self.len() as u32;
        self.token_dt_us.push(dt_us);
        self.token_ids.push(token_id);
        self.text_len.push(text.len() as u16);
        self.text.extend_from_slice(text);
        if waiting {
            self.waiting.push(i);
        }
    }

    /// Byte length of the text of the first `n` tokens.
    pub fn text_bytes_before(&self, n: usize) -> usize {
        self.text_len[..n.min(self.text_len.len())]
            .iter()
            .map(|&l| usize::from(l))
            .sum()
    }

    /// Whether every per-token column has one entry per token.
    pub fn lengths_agree(&self) -> bool {
        let n = self.len();
        self.token_ids.len() == n && self.text_len.len() == n
    }

    /// The tokens from index `from` on (`waiting` kept as absolute indices ≥ `from`).
    pub fn suffix(&self, from: usize) -> TokenColumns {
        let from = from.min(self.len());
        TokenColumns {
            token_dt_us: self.token_dt_us[from..].to_vec(),
            token_ids: self.token_ids[from..].to_vec(),
            waiting: self
                .waiting
                .iter()
                .copied()
                .filter(|&w| w as usize >= from)
                .collect(),
            text_len: self.text_len[from..].to_vec(),
            text: self
                .text
                .get(self.text_bytes_before(from)..)
                .unwrap_or(&[])
                .to_vec(),
        }
    }

    /// Append `other`'s tokens from index `skip` on, where `other` continues these columns
    /// (its token `skip` is our next token) and holds absolute `waiting` indices.
    pub fn extend_from(&mut self, other: &TokenColumns, skip: usize) {
        let have = self.len();
        let skip = skip.min(other.len());
        self.token_dt_us
            .extend_from_slice(&other.token_dt_us[skip..]);
        self.token_ids
            .extend_from_slice(other.token_ids.get(skip..).unwrap_or(&[]));
        self.text_len
            .extend_from_slice(other.text_len.get(skip..).unwrap_or(&[]));
        self.text.extend_from_slice(
            other
                .text
                .get(other.text_bytes_before(skip)..)
                .unwrap_or(&[]),
        );
        self.waiting.extend(
            other
                .waiting
                .iter()
                .copied()
                .filter(|&w| w as usize >= have),
        );
    }
}

impl RequestRecord {
    /// Absolute token arrival times (µs since t0).
    pub fn token_times_us(&self) -> Vec<u64> {
        let mut t = 0u64;
        self.tokens
            .token_dt_us
            .iter()
            .map(|&d| {
                t += u64::from(d);
                t
            })
            .collect()
    }

    /// The response text, lossily decoded (a torn multi-byte character becomes U+FFFD).
    pub fn response(&self) -> String {
        String::from_utf8_lossy(&self.tokens.text).into_owned()
    }

    /// Text of token `i` as raw bytes.
    pub fn token_text(&self, i: usize) -> &[u8] {
        let start: usize = self.tokens.text_len[..i]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        let end = start + usize::from(self.tokens.text_len[i]);
        self.tokens.text.get(start..end).unwrap_or(&[])
    }

    pub fn output_tokens(&self) -> usize {
        self.tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// The archived layout from before the columns were nested (measured on the flat
    /// structs): traces already written must read unchanged.
    #[test]
    fn nesting_token_columns_keeps_the_archived_layout() {
        assert_eq!(size_of::<ArchivedTokenColumns>(), 40);
        assert_eq!(align_of::<ArchivedTokenColumns>(), 4);
        assert_eq!(size_of::<ArchivedRequestRecord>(), 160);
        assert_eq!(align_of::<ArchivedRequestRecord>(), 8);
        assert_eq!(offset_of!(ArchivedRequestRecord, tokens), 88);
        assert_eq!(offset_of!(ArchivedRequestRecord, final_state), 128);
        assert_eq!(size_of::<ArchivedTokenChunk>(), 48);
        assert_eq!(align_of::<ArchivedTokenChunk>(), 4);
        assert_eq!(offset_of!(ArchivedTokenChunk, tokens), 8);
        let off = |f: usize| offset_of!(ArchivedRequestRecord, tokens) + f;
        assert_eq!(off(offset_of!(ArchivedTokenColumns, token_dt_us)), 88);
        assert_eq!(off(offset_of!(ArchivedTokenColumns, text)), 120);

        // An archived record is that root struct after its out-of-line data.
        let r = RequestRecord {
            test_id: "t".into(),
            tokens: TokenColumns {
                token_dt_us: vec![100, 200],
                token_ids: vec![1, 2],
                waiting: vec![1],
                text_len: vec![1, 2],
                text: b"abc".to_vec(),
            },
            ..RequestRecord::default()
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&r).unwrap();
        let a = rkyv::access::<ArchivedRequestRecord, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(a.tokens.token_ids.as_slice(), &[1, 2]);
        assert_eq!(a.tokens.text.as_slice(), b"abc");
        assert!(bytes.len() >= 160);
        let root = bytes.len() - 160;
        assert_eq!(
            &bytes[root + 88..root + 92],
            &{
                // The first column's relative pointer, as the flat layout placed it.
                let rel = a.tokens.token_dt_us.as_slice().as_ptr() as isize
                    - (bytes.as_ptr() as isize + (root + 88) as isize);
                (rel as i32).to_le_bytes()
            }[..]
        );
    }

    fn cols(ids: &[i32], waiting: &[u32], first: u32) -> TokenColumns {
        let mut c = TokenColumns::default();
        for (k, &id) in ids.iter().enumerate() {
            let text = [b'a' + id as u8];
            c.push(10, id, &text, waiting.contains(&(first + k as u32)));
        }
        c.waiting = c.waiting.iter().map(|w| w + first).collect();
        c
    }

    #[test]
    fn suffix_and_extend_from_round_trip() {
        let all = cols(&[0, 1, 2, 3, 4], &[1, 3], 0);
        assert_eq!(all.len(), 5);
        assert!(all.lengths_agree());
        let tail = all.suffix(2);
        assert_eq!(tail.token_ids, vec![2, 3, 4]);
        assert_eq!(tail.waiting, vec![3]);
        assert_eq!(tail.text, b"cde");
        // A chunk starting at token 1 overlaps two tokens we already have.
        let mut head = all.suffix(0);
        head.token_dt_us.truncate(3);
        head.token_ids.truncate(3);
        head.text_len.truncate(3);
        head.text.truncate(3);
        head.waiting.retain(|&w| w < 3);
        let chunk = all.suffix(1);
        head.extend_from(&chunk, 2);
        assert_eq!(head, all);
        assert!(all.suffix(9).is_empty());
    }
}
