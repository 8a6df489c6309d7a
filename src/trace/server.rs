//! Records of a run measured through an HTTP server (`rkbench record --server`), format 1.1.
//!
//! The raw datum is the **chunk** (one SSE event or NDJSON line), never a token: no server sends
//! one token per chunk. Each request keeps every chunk with the time its bytes were read, its
//! kind and text, plus the server's own counters and timings as sent. How many tokens each chunk
//! stands for is decided once, at record time, from the best source available
//! ([`CountSource`]), and stored beside the chunks so a reader never guesses.
//!
//! Compatibility: these are new record kinds (16–18). A format-1.0 reader skips them with its
//! "unsupported record" notice and sees a run with no requests: it can never misread chunks as
//! tokens. This reader derives the per-token view ([`ServerRequest::token_view`]) that the
//! statistics use, so every report works on a server trace unchanged.
use super::schema::{CapSource, Fact, RequestRecord, Status, TokenColumns};
use rkyv::{Archive, Deserialize, Serialize};

/// Frame kinds of the HTTP backend (16–23 reserved for it).
pub mod kind {
    /// The server measured: URL, kind, detection evidence (once, after the header).
    pub const SERVER_RUN: u8 = 16;
    /// A finished request (any status), superseding its checkpoints.
    pub const SERVER_REQUEST: u8 = 17;
    /// Journal: a snapshot of the request in flight.
    pub const SERVER_PARTIAL: u8 = 18;
}

/// What one chunk carried. Stored as `u8` (see [`ChunkKind::code`]); unknown codes read as
/// `Other`, so a later addition never breaks this reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChunkKind {
    /// A delta with only `role` (Rockchip 1.3.0 sends it before the model starts).
    Role,
    /// Non-empty answer text.
    Content,
    /// Non-empty `reasoning_content` / `reasoning` / Ollama `thinking`.
    Reasoning,
    /// A choice with empty text (llama-cpp-python's held-back tokens).
    Empty,
    /// `usage` / final counters with no choice (`"choices": []`).
    Usage,
    /// `finish_reason` set or Ollama `done: true`, with no text.
    Finish,
    /// An SSE comment line (`:` keep-alive).
    Ping,
    /// An error object, or a line that is not JSON.
    Error,
    /// A tool call delta.
    ToolCall,
    /// Anything else (e.g. llama-server `prompt_progress`).
    Other,
}

impl ChunkKind {
    pub const ALL: [ChunkKind; 10] = [
        ChunkKind::Role,
        ChunkKind::Content,
        ChunkKind::Reasoning,
        ChunkKind::Empty,
        ChunkKind::Usage,
        ChunkKind::Finish,
        ChunkKind::Ping,
        ChunkKind::Error,
        ChunkKind::ToolCall,
        ChunkKind::Other,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: u8) -> ChunkKind {
        Self::ALL
            .get(usize::from(c))
            .copied()
            .unwrap_or(ChunkKind::Other)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChunkKind::Role => "role",
            ChunkKind::Content => "content",
            ChunkKind::Reasoning => "reasoning",
            ChunkKind::Empty => "empty",
            ChunkKind::Usage => "usage",
            ChunkKind::Finish => "finish",
            ChunkKind::Ping => "ping",
            ChunkKind::Error => "error",
            ChunkKind::ToolCall => "tool-call",
            ChunkKind::Other => "other",
        }
    }

    /// A chunk that carries generated text: the ones tokens are attributed to.
    pub fn carries_tokens(self) -> bool {
        matches!(self, ChunkKind::Content | ChunkKind::Reasoning)
    }
}

/// Where a request's token count comes from, best first.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub enum CountSource {
    /// The server's running count in every chunk (llama-server `timings_per_token`): exact
    /// per chunk.
    ServerPerChunk,
    /// The server's total (`usage.completion_tokens`, `eval_count`, relayed `generate_tokens`):
    /// one token per text chunk, the rest recorded as unattributed.
    ServerTotal,
    /// No server count: one "token" per text chunk; every token metric is per chunk.
    #[default]
    ChunksOnly,
    /// Rockchip's servers send one character per chunk and no count: chunks closer than a
    /// threshold (recorded as the run's [`GAP_THRESHOLD_FACT`]) are one token, which lands on
    /// the cluster's first chunk. Estimated. Appended last so traces written before it read
    /// unchanged (rkyv stores the variant's position).
    GapCluster,
}

impl CountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CountSource::ServerPerChunk => "server-per-chunk",
            CountSource::ServerTotal => "server-total",
            CountSource::ChunksOnly => "chunks-only",
            CountSource::GapCluster => "gap-cluster",
        }
    }

    /// Best first, as the sources are ranked (a run is labelled by its weakest request).
    pub fn rank(self) -> u8 {
        match self {
            CountSource::ServerPerChunk => 0,
            CountSource::ServerTotal => 1,
            CountSource::GapCluster => 2,
            CountSource::ChunksOnly => 3,
        }
    }
}

/// [`ServerRun::evidence`] key of the gap-cluster threshold, value `<µs> us`: a gap between
/// two text chunks at least this long starts a new token.
pub const GAP_THRESHOLD_FACT: &str = "count gap-cluster threshold";

/// [`ServerRun::evidence`] key saying the server fixes sampling and the output cap itself
/// (Rockchip's `/rkllm_chat`): the run's parameters are the server's, not rkbench's.
pub const FIXED_SAMPLING_FACT: &str = "sampling fixed by the server";

/// How a run's gap-cluster threshold is decided, as its [`GAP_THRESHOLD_FACT`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapRule {
    /// One threshold for every request: `<µs> us`, given with `--token-gap` (`flag`) or the
    /// fixed 1 ms default of traces recorded before the adaptive rule.
    Fixed { us: u64, flag: bool },
    /// `adaptive …`: each request's own, chosen from its gaps ([`super::gap::choose`]).
    Adaptive,
}

impl GapRule {
    /// The fixed threshold `us` of a trace recorded before the adaptive rule.
    pub fn fixed(us: u64) -> Self {
        GapRule::Fixed { us, flag: false }
    }
}

/// The fact's value for `rule` (what [`gap_rule`] reads back).
pub fn gap_rule_fact(rule: GapRule) -> String {
    match rule {
        GapRule::Fixed { us, flag } => format!(
            "{us} us ({}a gap at least this long between two text chunks starts a token; used when the server sends no count)",
            if flag { "--token-gap; " } else { "" }
        ),
        GapRule::Adaptive => format!(
            "adaptive (each request's own threshold, from its gaps between characters: the widest gap in log-space between their two modes, at least {f} us; {f} us when they are not bimodal)",
            f = super::gap::FLOOR_US
        ),
    }
}

/// The gap-cluster rule recorded in a run's evidence.
pub fn gap_rule(run: &ServerRun) -> Option<GapRule> {
    let v = &run
        .evidence
        .iter()
        .find(|f| f.key == GAP_THRESHOLD_FACT)?
        .value;
    if v.starts_with("adaptive") {
        return Some(GapRule::Adaptive);
    }
    let us = v.split_whitespace().next()?.parse().ok()?;
    Some(GapRule::Fixed {
        us,
        flag: v.contains("--token-gap"),
    })
}

/// The run's one gap-cluster threshold, µs; `None` when each request has its own (adaptive).
pub fn gap_threshold_us(run: &ServerRun) -> Option<u64> {
    match gap_rule(run)? {
        GapRule::Fixed { us, .. } => Some(us),
        GapRule::Adaptive => None,
    }
}

/// The most tokens a server's count may claim per token chunk (text, reasoning or an empty
/// choice): a server sends at least one chunk per few tokens (llama-server holds back a stop
/// word's tokens, speculative decoding sends a draft's tokens together); a count beyond this
/// is not a count of what was streamed, and is refused as the count source.
pub const MAX_TOKENS_PER_CHUNK: u64 = 16;

/// Token chunks: text, reasoning, and the empty choices llama-cpp-python sends for held-back
/// tokens (one chunk per token there).
pub fn is_token_chunk(k: ChunkKind) -> bool {
    matches!(
        k,
        ChunkKind::Content | ChunkKind::Reasoning | ChunkKind::Empty
    )
}

/// Why a server's count `n` (from `field`) cannot be this request's token count: more than
/// [`MAX_TOKENS_PER_CHUNK`] per token chunk, or more than the output cap sent. `None` = plausible.
pub fn implausible_count(
    n: u64,
    field: &str,
    token_chunks: u64,
    max_new_tokens: i32,
) -> Option<String> {
    let bound = token_chunks.max(1).saturating_mul(MAX_TOKENS_PER_CHUNK);
    if n > bound {
        return Some(format!(
            "{field} = {n} is more than {MAX_TOKENS_PER_CHUNK} tokens for each of the {token_chunks} token chunk(s) streamed"
        ));
    }
    match u64::try_from(max_new_tokens) {
        Ok(cap) if cap > 0 && n > cap => Some(format!(
            "{field} = {n} is more than the output cap of {cap} tokens sent"
        )),
        _ => None,
    }
}

/// Why a request's server counts cannot be its token count (`None` = they can): a running
/// count that goes down across chunks, a total below the running count it ends, or either
/// implausible ([`implausible_count`]). Record time refuses such a count as the source (the
/// next source counts instead) and the report warns with these lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountRefusals {
    /// The per-chunk running count (`timings.predicted_n`, a running `usage`).
    pub running: Option<String>,
    /// The server's own total (`usage.completion_tokens`, `eval_count`, …).
    pub total: Option<String>,
}

impl CountRefusals {
    pub fn of(r: &ServerRequest) -> CountRefusals {
        let token_chunks = r
            .chunk_kind
            .iter()
            .filter(|&&k| is_token_chunk(ChunkKind::from_code(k)))
            .count() as u64;
        let mut last: Option<i64> = None;
        let mut running = None;
        for &v in r.chunk_server_n.iter().filter(|&&v| v >= 0) {
            if let Some(l) = last.filter(|&l| v < l) {
                running.get_or_insert_with(|| {
                    format!("the running count went down across chunks, from {l} to {v}")
                });
            }
            last = Some(last.map_or(v, |l| l.max(v)));
        }
        if running.is_none() {
            running = last.and_then(|n| {
                implausible_count(
                    n as u64,
                    "the running count",
                    token_chunks,
                    r.max_new_tokens,
                )
            });
        }
        // A running count standing in for a missing total was judged above.
        let total = r
            .server_total
            .filter(|_| r.server_total_field != RUNNING_COUNT_FIELD)
            .and_then(|t| {
                let field = if r.server_total_field.is_empty() {
                    "the server's total"
                } else {
                    r.server_total_field.as_str()
                };
                match last {
                    Some(l) if running.is_none() && t < l as u64 => Some(format!(
                        "{field} = {t} is below the running count {l} it ends"
                    )),
                    _ => implausible_count(t, field, token_chunks, r.max_new_tokens),
                }
            });
        CountRefusals { running, total }
    }

    /// One line per refused count.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.running.iter().chain(&self.total).map(String::as_str)
    }
}

/// [`ServerRequest::server_total_field`] when the total is the last running count (the server
/// sent no total of its own).
pub const RUNNING_COUNT_FIELD: &str = "timings.predicted_n";

/// The server a run measured.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ServerRun {
    /// `http://HOST:PORT` as given.
    pub url: String,
    /// `llama-server`, `rkllama`, `rkllm-server`, `ollama` or `generic`.
    pub kind: String,
    /// `detected` or `--server-kind`.
    pub kind_source: String,
    /// `openai-sse`, `ollama-ndjson` or `rkllm-chat` (Rockchip's `/rkllm_chat`).
    pub protocol: String,
    /// Path of the streaming endpoint, e.g. `/v1/chat/completions`.
    pub endpoint: String,
    /// The server's model name (`--model`).
    pub model: String,
    /// The server's own version or build string, if it says (`/props` `build_info`,
    /// `/api/version`).
    pub version: String,
    /// Each probe and what it answered (`GET /props` → `200, build_info b1234-abcd`), sorted.
    pub evidence: Vec<Fact>,
    /// The host is this machine: board telemetry and the server process share the token clock.
    /// Otherwise network time is included in every figure and telemetry is unavailable.
    pub local: bool,
    /// The server process (0 = unknown) and how it was found.
    pub server_pid: u32,
    pub server_pid_source: String,
    /// How rkbench waits until the server is idle before each request.
    pub idle_method: String,
}

/// One server-reported timing or counter, as sent.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ServerTiming {
    /// JSON path as sent, e.g. `timings.predicted_ms`, `eval_duration`, `usage.completion_tokens`.
    pub field: String,
    pub raw: f64,
    /// The unit the server's API defines for it: `ms`, `ns`, `tokens`, `tok/s`, `s`.
    pub unit: String,
}

/// One request sent to the server: every chunk of its answer.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ServerRequest {
    /// Position in the run (0-based), unique per trace.
    pub index: u32,
    pub test_id: String,
    pub name: String,
    pub category: String,
    pub prompt: String,
    pub repeat_index: u32,
    pub warmup: bool,
    pub think: bool,
    /// Output cap sent (≤ 0 = none).
    pub max_new_tokens: i32,
    pub status: Status,
    pub detail: String,
    /// `POST` path and the body exactly as sent.
    pub endpoint: String,
    pub body: String,
    /// HTTP status code (0 = no response).
    pub http_status: u16,
    /// Time spent waiting for the server to be idle before this request (µs) and how it ended.
    pub idle_wait_us: u64,
    pub idle_wait: String,
    /// t0: the request was written, µs since the run's clock origin.
    pub start_us: u64,
    /// Since t0 (µs): response headers complete, first body byte, `[DONE]` / `done: true`, the
    /// server closing the stream. `None` = never happened.
    pub headers_us: Option<u64>,
    pub first_byte_us: Option<u64>,
    pub done_us: Option<u64>,
    pub close_us: Option<u64>,
    /// Since t0 (µs): when rkbench stopped reading (end of stream, deadline, interrupt).
    pub end_us: u64,
    /// Per chunk: µs since t0 of the `read()` that completed it.
    pub chunk_us: Vec<u64>,
    /// Per chunk: number of that `read()` (chunks sharing it arrived coalesced).
    pub chunk_read: Vec<u32>,
    /// Per chunk: body byte offset where it ended.
    pub chunk_end_byte: Vec<u64>,
    /// Per chunk: [`ChunkKind`] code.
    pub chunk_kind: Vec<u8>,
    /// Per chunk: the server's running token count in it (`timings.predicted_n`), −1 = none.
    pub chunk_server_n: Vec<i64>,
    /// Per chunk: tokens attributed to it by `count_source`.
    pub chunk_tokens: Vec<u32>,
    /// Per chunk: byte length of its text in `chunk_text` (text chunks: the text; usage,
    /// finish, error and other chunks: the raw event, so nothing the server said is lost).
    pub chunk_text_len: Vec<u32>,
    pub chunk_text: Vec<u8>,
    pub count_source: CountSource,
    /// The server's output token total, if it sent one, and the field it came from.
    pub server_total: Option<u64>,
    pub server_total_field: String,
    /// Server total − Σ chunk tokens (0 when they agree or there is no total).
    pub unattributed: i64,
    pub prompt_tokens: Option<u64>,
    /// `finish_reason` / `done_reason` as sent ("" = none).
    pub finish_reason: String,
    /// Every server timing and counter, raw.
    pub timings: Vec<ServerTiming>,
    /// Server process facts sampled around the request (`rss_kb`, `cpu_ms` before/after).
    pub process: Vec<Fact>,
}

/// The most tokens a per-token view holds (more than any context window of the models served
/// on these boards); counts beyond it in a damaged or hostile trace are not expanded.
pub const MAX_VIEW_TOKENS: u64 = 1_000_000;

impl ServerRequest {
    pub fn chunks(&self) -> usize {
        self.chunk_us.len()
    }

    pub fn kind(&self, i: usize) -> ChunkKind {
        ChunkKind::from_code(self.chunk_kind.get(i).copied().unwrap_or(u8::MAX))
    }

    /// Append one chunk: the one place its columns grow together. It carries no tokens until
    /// the count source attributes them.
    pub fn push_chunk(
        &mut self,
        at_us: u64,
        read: u32,
        end_byte: u64,
        kind: ChunkKind,
        server_n: Option<i64>,
        text: &[u8],
    ) {
        self.chunk_us.push(at_us);
        self.chunk_read.push(read);
        self.chunk_end_byte.push(end_byte);
        self.chunk_kind.push(kind.code());
        self.chunk_server_n.push(server_n.unwrap_or(-1));
        self.chunk_tokens.push(0);
        self.chunk_text_len
            .push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        self.chunk_text.extend_from_slice(text);
    }

    /// Text of chunk `i` as raw bytes. O(i): a loop over chunks walks [`Self::chunk_texts`].
    pub fn chunk_text(&self, i: usize) -> &[u8] {
        self.chunk_texts().nth(i).unwrap_or(&[])
    }

    /// Every chunk's text in order, one per chunk (`chunks()` of them), by a running offset:
    /// walking all chunks costs O(chunks + text), never O(chunks²). Lengths past the text
    /// blob (a damaged trace the reader did not check) give empty texts, never a panic.
    pub fn chunk_texts(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0usize;
        (0..self.chunks()).map(move |i| {
            let len = self.chunk_text_len.get(i).map_or(0, |&l| l as usize);
            let start = at;
            at = at.saturating_add(len);
            self.chunk_text.get(start..at).unwrap_or(&[])
        })
    }

    /// Whether chunk `i` has text (O(1)).
    pub fn has_text(&self, i: usize) -> bool {
        self.chunk_text_len.get(i).is_some_and(|&l| l > 0)
    }

    /// Σ tokens attributed to chunks.
    pub fn chunk_token_total(&self) -> u64 {
        self.chunk_tokens.iter().map(|&t| u64::from(t)).sum()
    }

    /// The per-token view the statistics work on: a chunk of k tokens gives k tokens, the
    /// first k − 1 spread evenly over the gap since the previous token chunk (so a chunk of k
    /// tokens adds k gaps of gap/k), the last at the chunk's arrival. Token ids are unknown
    /// (−1); a chunk's text goes with its last token, and the text of a text chunk given no
    /// token (the later characters of a gap-cluster token, a chunk the server's count did not
    /// advance on) with the token before it — or the next one if none came before — so the
    /// view keeps all the text. Unattributed tokens are not invented.
    pub fn token_view(&self) -> RequestRecord {
        let mut times: Vec<u64> = Vec::new();
        let mut text_len: Vec<u16> = Vec::new();
        let mut text: Vec<u8> = Vec::new();
        let mut prev: Option<u64> = None;
        // Text of zero-token chunks before the first token: it goes with the first token.
        let mut pending: Vec<u8> = Vec::new();
        // A trace from elsewhere may claim absurd counts: never expand past this many tokens.
        let mut budget = MAX_VIEW_TOKENS;
        for (i, chunk_text) in self.chunk_texts().enumerate() {
            let k = u64::from(self.chunk_tokens.get(i).copied().unwrap_or(0)).min(budget);
            if k == 0 {
                if self.kind(i).carries_tokens() {
                    let bytes = chunk_text;
                    match text_len.last_mut() {
                        Some(l) => {
                            let keep = bytes.len().min(usize::from(u16::MAX - *l));
                            *l += keep as u16;
                            text.extend_from_slice(&bytes[..keep]);
                        }
                        None => {
                            let keep = bytes.len().min(usize::from(u16::MAX) - pending.len());
                            pending.extend_from_slice(&bytes[..keep]);
                        }
                    }
                }
                continue;
            }
            budget -= k;
            let t = self.chunk_us[i];
            let from = prev.unwrap_or(t).min(t);
            for j in 1..=k {
                let step = (u128::from(t - from) * u128::from(j) / u128::from(k)) as u64;
                times.push(from + step);
                text_len.push(0);
            }
            // Tokens the server counted on a chunk without text (its usage or finish chunk:
            // held back, never sent) have no text; that chunk's raw event is not theirs.
            let bytes: &[u8] = if self.kind(i).carries_tokens() {
                chunk_text
            } else {
                &[]
            };
            let keep = bytes.len().min(usize::from(u16::MAX) - pending.len());
            if let Some(l) = text_len.last_mut() {
                *l = (pending.len() + keep) as u16;
            }
            text.append(&mut pending);
            text.extend_from_slice(&bytes[..keep]);
            prev = Some(t);
        }
        let mut last = 0u64;
        let token_dt_us: Vec<u32> = times
            .iter()
            .map(|&t| {
                let d = t.saturating_sub(last).min(u64::from(u32::MAX)) as u32;
                last = t;
                d
            })
            .collect();
        let n = times.len();
        let finished = !self.finish_reason.is_empty();
        RequestRecord {
            index: self.index,
            test_id: self.test_id.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            prompt: self.prompt.clone(),
            repeat_index: self.repeat_index,
            warmup: self.warmup,
            think: self.think,
            max_new_tokens: self.max_new_tokens,
            cap_source: CapSource::RuntimePerRun,
            status: self.status,
            run_return: if self.status == Status::Ok {
                0
            } else {
                i32::MIN
            },
            detail: self.detail.clone(),
            start_us: self.start_us,
            // Never before its last token: a server may send text after its `[DONE]`, and a
            // request does not end before what it delivered (E2E ≥ TTFT).
            end_us: self
                .done_us
                .or(self.close_us)
                .unwrap_or(self.end_us)
                .max(times.last().copied().unwrap_or(0)),
            return_us: self.close_us.unwrap_or(0),
            tokens: TokenColumns {
                token_dt_us,
                token_ids: vec![-1; n],
                waiting: Vec::new(),
                text_len,
                text,
            },
            final_state: if finished {
                super::vocab::final_state::FINISH
            } else {
                super::vocab::final_state::NONE
            },
            perf: None,
        }
    }
}

/// A server run as read: the server and every request's chunks, in index order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerTrace {
    pub run: ServerRun,
    pub requests: Vec<ServerRequest>,
}

impl ServerTrace {
    /// Add the in-flight requests of the journal that the trace has no final record for.
    pub(crate) fn merge_journal(&mut self, journal: ServerTrace) {
        for r in journal.requests {
            if !self.requests.iter().any(|x| x.index == r.index) {
                self.requests.push(r);
            }
        }
        self.requests.sort_by_key(|r| r.index);
    }

    /// The request with this index (the requests are kept in index order: every request's
    /// figures look theirs up, so not a scan).
    pub fn request(&self, index: u32) -> Option<&ServerRequest> {
        let i = self
            .requests
            .binary_search_by_key(&index, |r| r.index)
            .ok()?;
        self.requests.get(i)
    }
}

/// Server records met while reading a file, before they are merged.
#[derive(Default)]
pub(crate) struct Collected {
    pub run: Option<ServerRun>,
    pub finals: Vec<ServerRequest>,
    pub partials: Vec<ServerRequest>,
}

impl Collected {
    /// Final records win over checkpoints (the latest checkpoint of a request otherwise); each
    /// request's token view joins `requests` (which a server trace otherwise has none of).
    pub(crate) fn into_trace(
        self,
        requests: &mut Vec<RequestRecord>,
        server: &mut Option<ServerTrace>,
    ) {
        if self.run.is_none() && self.finals.is_empty() && self.partials.is_empty() {
            return;
        }
        let mut by_index: std::collections::BTreeMap<u32, ServerRequest> = Default::default();
        for r in self.partials {
            by_index.insert(r.index, r);
        }
        for r in self.finals {
            by_index.insert(r.index, r);
        }
        for r in by_index.values() {
            if !requests.iter().any(|x| x.index == r.index) {
                requests.push(r.token_view());
            }
        }
        requests.sort_by_key(|r| r.index);
        *server = Some(ServerTrace {
            run: self.run.unwrap_or_default(),
            requests: by_index.into_values().collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(chunks: &[(u64, ChunkKind, &str, u32)]) -> ServerRequest {
        let mut r = ServerRequest::default();
        for (i, &(t, k, s, n)) in chunks.iter().enumerate() {
            r.push_chunk(t, i as u32, 0, k, None, s.as_bytes());
            r.chunk_tokens[i] = n;
        }
        r
    }

    #[test]
    fn a_chunk_of_k_tokens_adds_k_gaps_of_gap_over_k() {
        let r = req(&[
            (50, ChunkKind::Role, "", 0),
            (100, ChunkKind::Content, "a", 1),
            (400, ChunkKind::Content, "bcd", 3),
            (500, ChunkKind::Usage, "{}", 0),
        ]);
        let v = r.token_view();
        assert_eq!(v.token_times_us(), vec![100, 200, 300, 400]);
        assert_eq!(v.tokens.text, b"abcd");
        assert_eq!(v.tokens.text_len, vec![1, 0, 0, 3]);
        assert_eq!(v.tokens.token_ids, vec![-1; 4]);
    }

    /// Text a server sent after its `[DONE]`: the request ends at its last token, not before
    /// its first (TTFT ≤ E2E in the view).
    #[test]
    fn the_view_ends_no_earlier_than_its_last_token() {
        let mut r = req(&[
            (500, ChunkKind::Content, "a", 1),
            (900, ChunkKind::Content, "b", 1),
        ]);
        r.done_us = Some(100);
        r.end_us = 1_000;
        let v = r.token_view();
        assert_eq!(v.end_us, 900);
        assert!(v.token_times_us()[0] <= v.end_us);
    }

    #[test]
    fn chunk_kind_codes_round_trip_and_unknown_is_other() {
        for k in ChunkKind::ALL {
            assert_eq!(ChunkKind::from_code(k.code()), k);
        }
        assert_eq!(ChunkKind::from_code(200), ChunkKind::Other);
    }

    /// A trace of a server run: header, server, one request, end.
    fn server_trace(kind_of_server_frames: Option<u8>) -> Vec<u8> {
        use crate::trace::schema::{Record, RunEnd, RunHeader};
        use crate::trace::{encode_frame, encode_record, file_header, frame_crc};
        let mut r = req(&[
            (100, ChunkKind::Role, "", 0),
            (200, ChunkKind::Content, "ab", 2),
            (300, ChunkKind::Finish, "{}", 0),
        ]);
        r.finish_reason = "stop".into();
        // A recorded request ends after its last chunk.
        r.end_us = 300;
        let recs = [
            Record::Header(RunHeader::default()),
            Record::ServerRun(ServerRun {
                kind: "llama-server".into(),
                ..Default::default()
            }),
            Record::ServerRequest(r),
            Record::End(RunEnd::default()),
        ];
        let mut out = file_header(0).to_vec();
        for (i, rec) in recs.iter().enumerate() {
            let (mut k, p) = encode_record(rec).unwrap();
            let at = out.len();
            if (16..=23).contains(&k) {
                k = kind_of_server_frames.unwrap_or(k);
            }
            encode_frame(i as u32, k, &p, &mut out);
            out[at + 4..at + 8].copy_from_slice(&frame_crc(k, &p).to_le_bytes());
        }
        out
    }

    #[test]
    fn this_reader_derives_tokens_from_chunks() {
        let t = crate::trace::reader::parse(&server_trace(None), "s".into()).unwrap();
        let s = t.server.as_ref().unwrap();
        assert_eq!(s.run.kind, "llama-server");
        assert_eq!(s.requests.len(), 1);
        assert_eq!(t.requests.len(), 1);
        assert_eq!(t.requests[0].token_times_us(), vec![200, 200]);
        assert_eq!(t.skipped_unknown, 0);
    }

    #[test]
    fn a_reader_without_these_kinds_skips_them_and_sees_no_tokens() {
        // Kind 99 is as unknown to this reader as 16-18 are to a format-1.0 reader.
        let t = crate::trace::reader::parse(&server_trace(Some(99)), "s".into()).unwrap();
        assert!(t.requests.is_empty());
        assert!(t.server.is_none());
        assert_eq!(t.skipped_unknown, 2);
        assert!(t.end.is_some());
    }

    #[test]
    fn absurd_counts_and_times_in_a_hostile_trace_stay_bounded() {
        let mut r = req(&[
            (u64::MAX, ChunkKind::Content, "a", u32::MAX),
            (5, ChunkKind::Content, "b", u32::MAX),
        ]);
        r.chunk_text_len.truncate(1);
        let v = r.token_view();
        assert!(v.tokens.token_dt_us.len() as u64 <= MAX_VIEW_TOKENS);
        assert_eq!(v.tokens.token_dt_us.len(), v.tokens.text_len.len());
    }
}
