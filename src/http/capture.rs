//! Turns a streamed body into a [`ServerRequest`]'s chunks as the bytes arrive, and decides
//! each request's token count from the best source its server gave (see [`attribute`]).
use super::chunk;
use super::stream::{Frame, Framing, Splitter};
use crate::trace::gap;
use crate::trace::server::{
    is_token_chunk, ChunkKind, CountRefusals, CountSource, GapRule, ServerRequest,
    RUNNING_COUNT_FIELD,
};

/// The most chunks one response may have: twice the characters of a whole 128 k-token context
/// streamed one character per chunk (Rockchip's servers), so only a hostile or broken server
/// reaches it (an endless run of `: ping` comments, each a chunk).
pub const MAX_CHUNKS: usize = 1_000_000;
/// The most chunk text one response may store (text chunks' text, other chunks' raw events):
/// over a hundred times the text of a whole 128 k-token context.
pub const MAX_TEXT: usize = 64 << 20;

/// The wire protocol of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI-compatible `/v1/chat/completions`, Server-Sent Events.
    OpenAiSse,
    /// Ollama `/api/chat`, newline-delimited JSON.
    OllamaNdjson,
    /// Rockchip's demo server 1.1.x–1.2.3 `/rkllm_chat`: blank-line-separated cumulative JSON
    /// objects, `text/plain`, ended by the body's end (docs/SERVERS.md).
    RkllmChat,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAiSse => "openai-sse",
            Protocol::OllamaNdjson => "ollama-ndjson",
            Protocol::RkllmChat => "rkllm-chat",
        }
    }

    /// The streaming endpoint's path.
    pub fn endpoint(self) -> &'static str {
        match self {
            Protocol::OpenAiSse => "/v1/chat/completions",
            Protocol::OllamaNdjson => "/api/chat",
            Protocol::RkllmChat => "/rkllm_chat",
        }
    }

    fn framing(self) -> Framing {
        match self {
            Protocol::OpenAiSse => Framing::Sse,
            Protocol::OllamaNdjson => Framing::Ndjson,
            Protocol::RkllmChat => Framing::BlankLine,
        }
    }
}

/// Collects the chunks of one response into `req`.
pub struct Capture {
    protocol: Protocol,
    splitter: Splitter,
    frames: Vec<(Frame, u64)>,
    /// `/rkllm_chat`: choices already taken from the cumulative messages.
    seen: usize,
    /// The body ended inside an event.
    torn: bool,
    /// How gap clusters count where the server gives no count (Rockchip's character streams).
    gap: Option<GapRule>,
    /// The threshold the chunks are attributed by as they arrive, µs: the fixed one, or the
    /// adaptive rule's choice from the gaps so far (chosen again each time they double).
    live_gap_us: Option<u64>,
    /// Adaptive: the gaps between text chunks so far, and at how many to choose again.
    gaps: Vec<u64>,
    refit_at: usize,
    /// Fields this server fills with something other than tokens (the original tool's server
    /// puts word counts in `usage.completion_tokens` / `usage.prompt_tokens`): never counts.
    not_tokens: &'static [&'static str],
    /// Each count source's figures so far, kept as chunks arrive (the progress line's count).
    tally: Tally,
    /// The source `req.chunk_tokens` are attributed by while the stream runs.
    provisional: CountSource,
    /// Why the response stopped being read: an event, the chunks or their text passed its bound.
    overflow: Option<String>,
    pub req: ServerRequest,
}

impl Capture {
    pub fn new(protocol: Protocol, req: ServerRequest) -> Self {
        Capture {
            protocol,
            splitter: Splitter::new(protocol.framing()),
            frames: Vec::new(),
            seen: 0,
            torn: false,
            gap: None,
            live_gap_us: None,
            gaps: Vec::new(),
            refit_at: gap::MIN_GAPS,
            not_tokens: &[],
            tally: Tally::default(),
            provisional: CountSource::ChunksOnly,
            overflow: None,
            req,
        }
    }

    /// Without a server count, cluster text chunks closer than the threshold `gap` gives into
    /// one token ([`CountSource::GapCluster`]) instead of counting chunks.
    pub fn with_gap_cluster(mut self, gap: Option<GapRule>) -> Self {
        self.gap = gap;
        self.live_gap_us = gap.map(|g| match g {
            GapRule::Fixed { us, .. } => us,
            GapRule::Adaptive => gap::FLOOR_US,
        });
        self
    }

    /// Never take these fields as token counts (they stay in `timings`, raw).
    pub fn ignoring_counts(mut self, fields: &'static [&'static str]) -> Self {
        self.not_tokens = fields;
        self
    }

    /// Body bytes that one `read()` returned at `at_us` (µs since t0).
    pub fn data(&mut self, bytes: &[u8], at_us: u64, read: u32) {
        if self.req.first_byte_us.is_none() && !bytes.is_empty() {
            self.req.first_byte_us = Some(at_us);
        }
        if self.overflow.is_some() {
            return;
        }
        let fed = self.splitter.feed(bytes, &mut self.frames);
        self.take_frames(at_us, read);
        if let Err(e) = fed {
            self.overflow.get_or_insert(e);
        }
    }

    /// The response passed a bound ([`super::stream::MAX_EVENT`], [`MAX_CHUNKS`],
    /// [`MAX_TEXT`]): why, in one line. The request ends there as an error; every chunk before
    /// is kept, and memory stays bounded however long the server goes on.
    pub fn overflow(&self) -> Option<&str> {
        self.overflow.as_deref()
    }

    /// The server closed the stream (or the body ended) at `at_us`.
    pub fn end(&mut self, at_us: u64, read: u32) {
        self.torn = self.splitter.finish(&mut self.frames) && self.overflow.is_none();
        self.take_frames(at_us, read);
        self.req.close_us = Some(at_us);
    }

    /// rkbench closed the stream (deadline, interrupt) at `at_us`: bytes of an event not yet
    /// complete are not a chunk and are dropped; every complete chunk is kept.
    pub fn abandon(&mut self, at_us: u64) {
        self.req.end_us = self.req.end_us.max(at_us);
    }

    /// A response that is not a stream (an HTTP error): its body is one error chunk.
    pub fn error_body(&mut self, body: &[u8], at_us: u64, read: u32) {
        self.push(ChunkKind::Error, body, at_us, read, body.len() as u64, None);
    }

    /// Tokens so far (for progress), counted by the request's count source as it stands
    /// (gap clusters on a Rockchip character stream, the server's running count, else token
    /// chunks); O(1), kept as chunks arrive.
    pub fn tokens_so_far(&self) -> u64 {
        self.tally.tokens(self.live_gap_us)
    }

    /// A stream is complete when the server said how it ended (`finish_reason`, usage or
    /// `done`), not by `[DONE]` alone. `/rkllm_chat` has no end marker (its `finish_reason`
    /// may never come): there the body ending after a whole message is the end.
    pub fn finished(&self) -> bool {
        self.unfinished().is_none()
    }

    /// Why the stream is not complete, in one line; `None` = it is.
    pub fn unfinished(&self) -> Option<String> {
        let r = &self.req;
        if self.protocol == Protocol::RkllmChat {
            return if r.close_us.is_none() {
                Some("the body did not end".into())
            } else if self.torn {
                Some("the body ended inside a message: cut short by the server".into())
            } else if (0..r.chunks()).any(|i| r.kind(i) == ChunkKind::Error) {
                Some("a message of the stream is not /rkllm_chat JSON".into())
            } else {
                None
            };
        }
        if !r.finish_reason.is_empty() || r.server_total.is_some() {
            None
        } else if r.done_us.is_some() {
            Some("the stream ended with [DONE] but no finish_reason, usage or done: cut short by the server".into())
        } else {
            Some("the stream ended without finish_reason, usage or done".into())
        }
    }

    /// The request so far with tokens attributed (a checkpoint of the request in flight).
    pub fn snapshot(&self) -> ServerRequest {
        let mut r = self.req.clone();
        if r.server_total.is_some() || self.gap == Some(GapRule::Adaptive) {
            // A total (usually at the end) can change the source, and an adaptive threshold
            // is chosen from all the gaps: decide it in full, as the end will.
            attribute(&mut r, self.gap);
        } else {
            // The chunks are attributed as they arrive (see `push`).
            r.count_source = self.provisional;
        }
        r
    }

    fn take_frames(&mut self, at_us: u64, read: u32) {
        for (frame, end) in std::mem::take(&mut self.frames) {
            match frame {
                Frame::Done => {
                    self.req.done_us.get_or_insert(at_us);
                }
                Frame::Comment(c) => {
                    self.push(ChunkKind::Ping, c.as_bytes(), at_us, read, end, None)
                }
                Frame::Data(d) => {
                    let p = match self.protocol {
                        Protocol::OpenAiSse => chunk::openai(&d),
                        Protocol::OllamaNdjson => chunk::ollama(&d),
                        Protocol::RkllmChat => chunk::rkllm_chat(&d, &mut self.seen),
                    };
                    if p.done {
                        self.req.done_us.get_or_insert(at_us);
                    }
                    if let Some(f) = &p.finish_reason {
                        self.req.finish_reason = f.clone();
                    }
                    let counts = |f: &str| !self.not_tokens.contains(&f);
                    if let Some((n, field)) = p.total.as_ref().filter(|(_, f)| counts(f)) {
                        self.req.server_total = Some(*n);
                        self.req.server_total_field = field.clone();
                    }
                    if let Some((n, _)) = p.prompt_tokens.as_ref().filter(|(_, f)| counts(f)) {
                        self.req.prompt_tokens = Some(*n);
                    }
                    for t in &p.timings {
                        match self.req.timings.iter_mut().find(|x| x.field == t.field) {
                            Some(x) => *x = t.clone(),
                            None => self.req.timings.push(t.clone()),
                        }
                    }
                    let server_n = p.server_n.filter(|(_, f)| counts(f)).map(|(n, _)| n);
                    self.push(p.kind(), p.text.as_bytes(), at_us, read, end, server_n);
                }
            }
        }
    }

    fn push(
        &mut self,
        kind: ChunkKind,
        text: &[u8],
        at_us: u64,
        read: u32,
        end: u64,
        n: Option<i64>,
    ) {
        if self.overflow.is_some() {
            return;
        }
        let chunks = self.req.chunks();
        if chunks >= MAX_CHUNKS {
            self.overflow = Some(format!(
                "more than {MAX_CHUNKS} chunks, the limit for one response (not a stream rkbench can time); the {chunks} chunks before are kept: check the server"
            ));
            return;
        }
        if self.req.chunk_text.len() + text.len() > MAX_TEXT {
            self.overflow = Some(format!(
                "its chunks are larger than the {} MiB limit for one response's text (not a stream rkbench can time); the {chunks} chunks before are kept: check the server",
                MAX_TEXT >> 20
            ));
            return;
        }
        let prev_text_us = self.tally.last_text_us;
        let tokens = self
            .tally
            .add(kind, !text.is_empty(), at_us, n, self.live_gap_us);
        self.req.push_chunk(at_us, read, end, kind, n, text);
        let refitted = self.refit(kind, !text.is_empty(), prev_text_us, at_us);
        // Keep the chunks attributed by the source as it stands, so a checkpoint copies them
        // instead of attributing every chunk again (O(1) per chunk; the source changes at most
        // twice in a stream, each change re-attributes once; an adaptive threshold changes
        // when the gaps double, O(log chunks) times).
        let source = self.tally.source(false, self.live_gap_us, false);
        if source == self.provisional && !(refitted && source == CountSource::GapCluster) {
            let i = match source {
                CountSource::ServerPerChunk => 0,
                CountSource::GapCluster => 1,
                _ => 2,
            };
            if let Some(t) = self.req.chunk_tokens.last_mut() {
                *t = tokens[i];
            }
        } else {
            self.provisional = source;
            attribute_as(&mut self.req, source, self.live_gap_us);
        }
    }

    /// Adaptive threshold: keep the text chunk's gap; when the gaps have doubled, choose the
    /// threshold again from all of them and recount. True when the threshold changed.
    fn refit(&mut self, kind: ChunkKind, has_text: bool, prev: Option<u64>, at_us: u64) -> bool {
        if self.gap != Some(GapRule::Adaptive) || !(kind.carries_tokens() && has_text) {
            return false;
        }
        let Some(prev) = prev else { return false };
        self.gaps.push(at_us.saturating_sub(prev));
        if self.gaps.len() < self.refit_at {
            return false;
        }
        self.refit_at = self.gaps.len().saturating_mul(2);
        let t = gap::choose(&self.gaps).threshold_us;
        if self.live_gap_us == Some(t) {
            return false;
        }
        self.live_gap_us = Some(t);
        self.tally.gap_tokens = 1 + self.gaps.iter().filter(|&&g| g >= t).count() as u64;
        true
    }

    /// Decide the count source and attribute tokens to chunks; returns the request.
    pub fn finish(mut self) -> ServerRequest {
        attribute(&mut self.req, self.gap);
        self.req
    }
}

/// Count sources, best first:
/// 1. `server-per-chunk`: every token chunk carries the server's running count (llama-server
///    `timings_per_token`, vLLM/SGLang `continuous_usage_stats`), non-decreasing; each chunk
///    gets its increase (a withheld token's
///    count lands on the chunk that finally carries its text).
/// 2. `server-total`: one token per token chunk, the server's total minus that unattributed.
/// 3. `gap-cluster` (only given `gap`: Rockchip's character streams): text chunks less than
///    the threshold (fixed, or chosen from this request's gaps: [`gap::threshold_for`]) after
///    the text chunk before them belong to its token; the token lands on the first chunk of
///    its cluster (TTFT = the first character).
/// 4. `chunks-only`: one per token chunk, and every token figure is "per chunk".
///
/// A server count that [`CountRefusals`] finds implausible (beyond the chunks or the cap,
/// going down) is no source: the next one counts, and the report warns. One pass over the
/// chunks: O(chunks), whatever their number.
pub fn attribute(r: &mut ServerRequest, gap: Option<GapRule>) {
    let gap_us = gap.map(|g| gap::threshold_for(r, g).threshold_us);
    let n = r.chunks();
    let refused = CountRefusals::of(r);
    let mut tally = Tally::default();
    for i in 0..n {
        tally.add(
            r.kind(i),
            r.has_text(i),
            r.chunk_us[i],
            r.chunk_server_n.get(i).copied(),
            gap_us,
        );
    }
    let total_ok = r.server_total.is_some() && refused.total.is_none();
    let source = tally.source(total_ok, gap_us, refused.running.is_some());
    attribute_as(r, source, gap_us);
    if source == CountSource::ServerPerChunk && r.server_total.is_none() {
        r.server_total = Some(
            r.chunk_server_n
                .iter()
                .copied()
                .rev()
                .find(|&v| v >= 0)
                .unwrap_or(0) as u64,
        );
        r.server_total_field = RUNNING_COUNT_FIELD.into();
    }
    r.count_source = source;
    let attributed = r.chunk_token_total() as i64;
    r.unattributed = match r.server_total {
        Some(t) if refused.total.is_none() => i64::try_from(t).unwrap_or(i64::MAX) - attributed,
        _ => 0,
    };
}

/// Attribute every chunk's tokens by `source` (O(chunks)).
fn attribute_as(r: &mut ServerRequest, source: CountSource, gap_us: Option<u64>) {
    let n = r.chunks();
    r.chunk_tokens = vec![0; n];
    match source {
        CountSource::ServerPerChunk => {
            let mut prev = 0i64;
            for i in 0..n {
                let v = r.chunk_server_n[i];
                if v >= 0 {
                    r.chunk_tokens[i] = (v - prev).clamp(0, i64::from(u32::MAX)) as u32;
                    prev = v;
                }
            }
        }
        CountSource::GapCluster => {
            let mut last: Option<u64> = None;
            for i in 0..n {
                if !r.kind(i).carries_tokens() || !r.has_text(i) {
                    continue;
                }
                let t = r.chunk_us[i];
                if starts_token(last, t, gap_us.unwrap_or(0)) {
                    r.chunk_tokens[i] = 1;
                }
                last = Some(t);
            }
        }
        CountSource::ServerTotal | CountSource::ChunksOnly => {
            for i in 0..n {
                if is_token_chunk(r.kind(i)) {
                    r.chunk_tokens[i] = 1;
                }
            }
        }
    }
    r.count_source = source;
}

/// Gap clusters: a text chunk at `t` starts a token when it is the first, or at least `gap`
/// after the text chunk before it.
fn starts_token(last: Option<u64>, t: u64, gap: u64) -> bool {
    last.map_or(true, |l| t.saturating_sub(l) >= gap)
}

/// What each count source says so far, kept as chunks arrive: the progress line's count and
/// [`attribute`]'s choice of source come from the same figures (O(1) per chunk).
#[derive(Debug, Clone, Default)]
struct Tally {
    token_chunks: u64,
    /// Every token chunk so far carried a running count, and it never went down.
    per_chunk: bool,
    running: Option<i64>,
    running_broken: bool,
    gap_tokens: u64,
    last_text_us: Option<u64>,
}

impl Tally {
    /// Count chunk `k` in; the tokens it carries under each source: (per chunk, gap cluster,
    /// one per token chunk).
    fn add(
        &mut self,
        k: ChunkKind,
        has_text: bool,
        at_us: u64,
        server_n: Option<i64>,
        gap_us: Option<u64>,
    ) -> [u32; 3] {
        let mut tokens = [0u32; 3];
        let n = server_n.filter(|&v| v >= 0);
        if is_token_chunk(k) {
            self.token_chunks += 1;
            tokens[2] = 1;
            if n.is_none() {
                self.running_broken = true;
            }
        }
        if let Some(v) = n {
            if self.running.is_some_and(|r| v < r) {
                self.running_broken = true;
            }
            tokens[0] = (v - self.running.unwrap_or(0)).clamp(0, i64::from(u32::MAX)) as u32;
            self.running = Some(v);
        }
        self.per_chunk = self.token_chunks > 0 && !self.running_broken;
        if let (Some(gap), true) = (gap_us, k.carries_tokens() && has_text) {
            if starts_token(self.last_text_us, at_us, gap) {
                self.gap_tokens += 1;
                tokens[1] = 1;
            }
            self.last_text_us = Some(at_us);
        }
        tokens
    }

    /// The source [`attribute`] takes: `total` = a plausible server total exists; `refused` =
    /// the running count is implausible (so not per chunk).
    fn source(&self, total: bool, gap_us: Option<u64>, refused: bool) -> CountSource {
        if self.per_chunk && !refused {
            CountSource::ServerPerChunk
        } else if total {
            CountSource::ServerTotal
        } else if gap_us.is_some() {
            CountSource::GapCluster
        } else {
            CountSource::ChunksOnly
        }
    }

    /// Tokens so far by that source (the server's totals arrive at the end: until then, and
    /// when they are refused, the chunks count).
    fn tokens(&self, gap_us: Option<u64>) -> u64 {
        match self.source(false, gap_us, false) {
            CountSource::ServerPerChunk => self.running.unwrap_or(0).max(0) as u64,
            CountSource::GapCluster => self.gap_tokens,
            _ => self.token_chunks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request of (µs, kind, text) chunks, each its own read.
    fn req(chunks: &[(u64, ChunkKind, &str)]) -> ServerRequest {
        let mut r = ServerRequest::default();
        for (i, &(t, k, s)) in chunks.iter().enumerate() {
            r.push_chunk(t, i as u32, 0, k, None, s.as_bytes());
        }
        r
    }

    fn chars() -> ServerRequest {
        use ChunkKind::*;
        req(&[
            (100, Role, ""),
            (20_000, Content, "H"),
            (20_040, Content, "e"),
            // 860 µs after the character before it: still the same token.
            (20_900, Content, "l"),
            (41_000, Content, "l"),
            (41_001, Content, "o"),
            (41_500, Empty, ""),
            (62_000, Content, "!"),
            // Exactly the threshold after the one before: a gap ≥ 1 ms starts a token.
            (63_000, Content, "你"),
            (63_100, Finish, "{}"),
        ])
    }

    #[test]
    fn gap_clusters_put_one_token_on_each_clusters_first_character() {
        let mut r = chars();
        attribute(&mut r, Some(GapRule::fixed(1000)));
        assert_eq!(r.count_source, CountSource::GapCluster);
        assert_eq!(r.chunk_tokens, [0, 1, 0, 0, 1, 0, 0, 1, 1, 0]);
        assert_eq!((r.chunk_token_total(), r.unattributed), (4, 0));
        // The token view: TTFT at the first character, every character's text kept with its
        // token (the zero-token characters no longer vanish).
        let v = r.token_view();
        assert_eq!(v.token_times_us(), vec![20_000, 41_000, 62_000, 63_000]);
        assert_eq!(v.tokens.text, "Hello!你".as_bytes());
        assert_eq!(v.tokens.text_len, vec![3, 2, 1, 3]);
        // A larger threshold merges the last two tokens.
        attribute(&mut r, Some(GapRule::fixed(1001)));
        assert_eq!(r.chunk_token_total(), 3);
        // A server total wins over gap clusters; without a threshold it is chunks only.
        let mut t = chars();
        t.server_total = Some(5);
        attribute(&mut t, Some(GapRule::fixed(1000)));
        assert_eq!(t.count_source, CountSource::ServerTotal);
        assert_eq!((t.chunk_token_total(), t.unattributed), (8, -3));
        let mut c = chars();
        attribute(&mut c, None);
        assert_eq!(c.count_source, CountSource::ChunksOnly);
        assert_eq!(c.chunk_token_total(), 8, "7 characters and the empty chunk");
    }

    /// 100,000 characters one per chunk, in tokens of 1 to 7 characters: the gap-cluster count
    /// is exact, and the progress count (kept as chunks arrive) says the same at every chunk.
    #[test]
    fn gap_cluster_attribution_on_many_chunks_is_exact_and_progress_counts_tokens() {
        let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default())
            .with_gap_cluster(Some(GapRule::fixed(1000)));
        let (mut t, mut tokens, mut chars) = (0u64, 0u64, 0usize);
        while chars < 100_000 {
            t += 20_000;
            tokens += 1;
            for k in 0..(tokens % 7 + 1) {
                c.push(ChunkKind::Content, b"x", t + k * 10, chars as u32, 0, None);
                chars += 1;
            }
            // G20: the progress line counts tokens, not the characters (chunks) so far.
            assert_eq!(c.tokens_so_far(), tokens);
        }
        assert_eq!(c.snapshot().chunk_token_total(), tokens);
        let r = c.finish();
        assert_eq!(r.count_source, CountSource::GapCluster);
        assert_eq!(r.chunks(), chars);
        assert_eq!(r.chunk_token_total(), tokens);
        let v = r.token_view();
        assert_eq!(
            (v.tokens.len() as u64, v.tokens.text.len()),
            (tokens, chars)
        );
    }

    /// Rockchip 1.2.3: a token's characters 2–4 ms apart (it polls its queue every few ms),
    /// tokens ~30 ms apart. By default the threshold comes from the stream's own gaps: the
    /// count is exact where the old fixed 1 ms counted every character; progress agrees once
    /// there are gaps enough to choose from, and a checkpoint is what the end attributes.
    #[test]
    fn adaptive_threshold_counts_a_polling_servers_characters_as_tokens() {
        let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default())
            .with_gap_cluster(Some(GapRule::Adaptive));
        let (mut t, mut chars) = (0u64, 0u32);
        for token in 1..=35u64 {
            t += 25_000 + (token * 7919) % 10_001;
            for k in 0..(token % 4 + 1) {
                t += if k == 0 {
                    0
                } else {
                    2_000 + (token * k * 104_729) % 2_001
                };
                c.push(ChunkKind::Content, b"x", t, chars, 0, None);
                chars += 1;
            }
            if token >= 8 {
                assert_eq!(c.tokens_so_far(), token, "progress at token {token}");
            }
            let mut full = c.req.clone();
            attribute(&mut full, Some(GapRule::Adaptive));
            assert_eq!(c.snapshot().chunk_tokens, full.chunk_tokens);
        }
        let r = c.finish();
        assert_eq!(r.count_source, CountSource::GapCluster);
        assert_eq!((r.chunk_token_total(), r.chunks()), (35, chars as usize));
        let mut fixed = r.clone();
        attribute(&mut fixed, Some(GapRule::fixed(1000)));
        assert_eq!(
            fixed.chunk_token_total(),
            u64::from(chars),
            "1 ms: every character"
        );
    }

    /// The progress count follows the source: the server's running count where every chunk
    /// has one, token chunks otherwise.
    #[test]
    fn progress_counts_with_the_count_source() {
        let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default());
        c.push(ChunkKind::Role, b"", 1, 1, 0, None);
        c.push(ChunkKind::Content, b"ab", 2, 2, 0, Some(3));
        c.push(ChunkKind::Content, b"c", 3, 3, 0, Some(5));
        assert_eq!(c.tokens_so_far(), 5);
        c.push(ChunkKind::Content, b"d", 4, 4, 0, None);
        assert_eq!(
            c.tokens_so_far(),
            3,
            "a chunk without a count: chunks count"
        );
    }

    /// A checkpoint copies the chunks as attributed while they arrived: at every chunk it is
    /// what attributing them all would give, through each change of source.
    #[test]
    fn checkpoints_attribute_as_they_arrive_like_a_full_attribution() {
        for gap in [None, Some(GapRule::fixed(1000)), Some(GapRule::Adaptive)] {
            let mut c =
                Capture::new(Protocol::OpenAiSse, ServerRequest::default()).with_gap_cluster(gap);
            let chunks: [(ChunkKind, &[u8], u64, Option<i64>); 7] = [
                (ChunkKind::Role, b"", 10, None),
                (ChunkKind::Content, b"a", 20, Some(2)),
                (ChunkKind::Content, b"b", 5000, Some(3)),
                (ChunkKind::Content, b"c", 5100, Some(3)),
                // No count: the running count no longer counts; gap clusters or chunks do.
                (ChunkKind::Content, b"d", 9000, None),
                (ChunkKind::Empty, b"", 9500, None),
                (ChunkKind::Content, b"e", 20000, Some(9)),
            ];
            for (i, &(k, text, t, n)) in chunks.iter().enumerate() {
                c.push(k, text, t, i as u32, 0, n);
                let mut full = c.req.clone();
                attribute(&mut full, gap);
                let snap = c.snapshot();
                assert_eq!(
                    (snap.count_source, &snap.chunk_tokens),
                    (full.count_source, &full.chunk_tokens),
                    "gap {gap:?}, chunk {i}"
                );
            }
        }
    }

    /// A request of one text chunk with the server's counts as given.
    fn counted(total: Option<u64>, running: &[i64], cap: i32) -> ServerRequest {
        let mut r = ServerRequest {
            max_new_tokens: cap,
            server_total: total,
            server_total_field: if total.is_some() {
                "usage.completion_tokens".into()
            } else {
                String::new()
            },
            ..Default::default()
        };
        for (i, &n) in running.iter().enumerate() {
            r.push_chunk(
                i as u64 * 10,
                i as u32,
                0,
                ChunkKind::Content,
                Some(n),
                b"a",
            );
        }
        if running.is_empty() {
            r.push_chunk(10, 1, 0, ChunkKind::Content, None, b"a");
        }
        attribute(&mut r, None);
        r
    }

    /// G9: a count beyond the chunks × MAX_TOKENS_PER_CHUNK, beyond the cap, or going down is
    /// no count source: the next source counts, nothing is unattributed, and the reason is
    /// there for the report's warning.
    #[test]
    fn implausible_server_counts_are_refused_as_the_count_source() {
        let r = counted(Some(i64::MAX as u64), &[], 64);
        assert_eq!(r.count_source, CountSource::ChunksOnly);
        assert_eq!((r.chunk_token_total(), r.unattributed), (1, 0));
        assert_eq!(r.server_total, Some(i64::MAX as u64), "kept as sent");
        let why = CountRefusals::of(&r).total.unwrap();
        assert!(why.contains("usage.completion_tokens = 9223372036854775807 is more than 16 tokens for each of the 1 token chunk(s)"), "{why}");
        let r = counted(Some(16), &[], 0);
        assert_eq!(
            r.count_source,
            CountSource::ServerTotal,
            "16 per chunk is plausible"
        );
        assert_eq!(r.unattributed, 15);
        let r = counted(Some(12), &[], 10);
        assert_eq!(r.count_source, CountSource::ChunksOnly);
        assert!(CountRefusals::of(&r)
            .total
            .unwrap()
            .contains("more than the output cap of 10"));
        // Running counts: going down, or beyond the chunks, are refused; a total still counts.
        let r = counted(Some(3), &[2, 1, 3], 0);
        assert_eq!(r.count_source, CountSource::ServerTotal);
        assert!(CountRefusals::of(&r)
            .running
            .unwrap()
            .contains("went down across chunks, from 2 to 1"));
        let r = counted(None, &[1, 1000], 0);
        assert_eq!(r.count_source, CountSource::ChunksOnly);
        assert_eq!((r.server_total, r.unattributed), (None, 0));
        // A total below the running count it ends.
        let r = counted(Some(1), &[1, 2, 3], 0);
        assert_eq!(r.count_source, CountSource::ServerPerChunk);
        assert_eq!(r.unattributed, 0);
        assert!(CountRefusals::of(&r)
            .total
            .unwrap()
            .contains("below the running count 3"));
        // Plausible counts are untouched.
        let r = counted(Some(3), &[1, 2, 3], 4);
        assert_eq!(r.count_source, CountSource::ServerPerChunk);
        assert_eq!(CountRefusals::of(&r), CountRefusals::default());
    }

    /// `/rkllm_chat` with raw UTF-8 (a server built without `ensure_ascii`), split at every
    /// byte: a character torn across reads is whole in its chunk.
    #[test]
    fn rkllm_chat_raw_utf8_split_anywhere_and_end_rules() {
        let m = |cs: &[&str]| {
            let c: Vec<String> = cs
                .iter()
                .map(|s| format!(r#"{{"index":0,"delta":{{"role":"assistant","content":"{s}"}},"logprobs":null,"finish_reason":null}}"#))
                .collect();
            format!(
                r#"{{"id":"rkllm_chat","choices":[{}],"usage":null}}"#,
                c.join(",")
            ) + "\n\n"
        };
        let body = [m(&["é"]), m(&["é", "t"]), m(&["é", "t", "é"])].concat();
        let body = body.as_bytes();
        for cut in 0..=body.len() {
            let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default())
                .with_gap_cluster(Some(GapRule::fixed(1000)));
            c.data(&body[..cut], 1000, 1);
            c.data(&body[cut..], 5000, 2);
            c.end(6000, 2);
            assert!(c.finished(), "cut {cut}");
            let r = c.finish();
            assert_eq!(r.chunk_text, "été".as_bytes(), "cut {cut}");
            assert_eq!(r.count_source, CountSource::GapCluster);
        }
        // Cut inside the last message: an error, with the whole messages kept.
        let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default());
        c.data(&body[..body.len() - 5], 1000, 1);
        c.end(2000, 1);
        assert!(c.unfinished().unwrap().contains("inside a message"));
        let r = c.finish();
        let kinds: Vec<ChunkKind> = (0..r.chunks()).map(|i| r.kind(i)).collect();
        assert_eq!(
            kinds,
            [ChunkKind::Content, ChunkKind::Content, ChunkKind::Error]
        );
        assert_eq!([r.chunk_text(0), r.chunk_text(1)].concat(), "ét".as_bytes());
        // No end yet: not finished.
        let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default());
        c.data(body, 1000, 1);
        assert!(!c.finished());
    }

    #[test]
    fn a_response_past_its_bounds_stops_keeping_the_chunks_before() {
        // Endless comments: each a chunk, up to the chunk bound.
        let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default());
        let pings = b":\n".repeat(64 * 1024);
        let mut reads = 0u32;
        while c.overflow().is_none() {
            reads += 1;
            assert!(reads < 100, "bounded");
            c.data(&pings, u64::from(reads), reads);
        }
        assert!(c.overflow().unwrap().contains("more than 1000000 chunks"));
        assert_eq!(c.req.chunks(), MAX_CHUNKS);
        // Nothing more is kept after it.
        c.data(b"data: {}\n\n", 1000, 1000);
        assert_eq!(c.req.chunks(), MAX_CHUNKS);
        // Large valid chunks: up to the text bound.
        let mut c = Capture::new(Protocol::OllamaNdjson, ServerRequest::default());
        let line = format!(
            "{{\"message\":{{\"role\":\"assistant\",\"content\":\"{}\"}},\"done\":false}}\n",
            "x".repeat(1 << 20)
        );
        let mut n = 0;
        while c.overflow().is_none() {
            n += 1;
            assert!(n < 100, "bounded");
            c.data(line.as_bytes(), n, n as u32);
        }
        assert!(
            c.overflow().unwrap().contains("64 MiB limit"),
            "{:?}",
            c.overflow()
        );
        assert_eq!(c.req.chunks(), 64);
        assert!(c.req.chunk_text.len() <= MAX_TEXT);
        // An endless line: the event bound.
        let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default());
        c.data(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            1,
            1,
        );
        let x = vec![b'x'; 1 << 20];
        c.data(b"data: ", 2, 2);
        for i in 0..9 {
            c.data(&x, 3 + i, 3 + i as u32);
        }
        assert!(c.overflow().unwrap().contains("8 MiB limit for one event"));
        c.end(20, 20);
        assert_eq!(c.req.chunks(), 1);
        assert_eq!(c.req.chunk_text, b"a");
    }
}
