//! Turns a streamed body into a [`ServerRequest`]'s chunks as the bytes arrive, and decides
//! each request's token count from the best source its server gave (see [`attribute`]).
use super::chunk;
use super::stream::{Frame, Framing, Splitter};
use crate::trace::server::{ChunkKind, CountSource, ServerRequest};

/// The wire protocol of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI-compatible `/v1/chat/completions`, Server-Sent Events.
    OpenAiSse,
    /// Ollama `/api/chat`, newline-delimited JSON.
    OllamaNdjson,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAiSse => "openai-sse",
            Protocol::OllamaNdjson => "ollama-ndjson",
        }
    }

    fn framing(self) -> Framing {
        match self {
            Protocol::OpenAiSse => Framing::Sse,
            Protocol::OllamaNdjson => Framing::Ndjson,
        }
    }
}

/// Collects the chunks of one response into `req`.
pub struct Capture {
    protocol: Protocol,
    splitter: Splitter,
    frames: Vec<(Frame, u64)>,
    pub req: ServerRequest,
}

impl Capture {
    pub fn new(protocol: Protocol, req: ServerRequest) -> Self {
        Capture {
            protocol,
            splitter: Splitter::new(protocol.framing()),
            frames: Vec::new(),
            req,
        }
    }

    /// Body bytes that one `read()` returned at `at_us` (µs since t0).
    pub fn data(&mut self, bytes: &[u8], at_us: u64, read: u32) {
        if self.req.first_byte_us.is_none() && !bytes.is_empty() {
            self.req.first_byte_us = Some(at_us);
        }
        self.splitter.feed(bytes, &mut self.frames);
        self.take_frames(at_us, read);
    }

    /// The server closed the stream (or the body ended) at `at_us`.
    pub fn end(&mut self, at_us: u64, read: u32) {
        self.splitter.finish(&mut self.frames);
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

    /// Tokens so far (for progress): text chunks.
    pub fn text_chunks(&self) -> u32 {
        self.req
            .chunk_kind
            .iter()
            .filter(|&&k| ChunkKind::from_code(k).carries_tokens())
            .count() as u32
    }

    /// A stream is complete when the server said how it ended (`finish_reason`, usage or
    /// `done`), not by `[DONE]` alone.
    pub fn finished(&self) -> bool {
        !self.req.finish_reason.is_empty() || self.req.server_total.is_some()
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
                    };
                    if p.done {
                        self.req.done_us.get_or_insert(at_us);
                    }
                    if let Some(f) = &p.finish_reason {
                        self.req.finish_reason = f.clone();
                    }
                    if let Some((n, field)) = &p.total {
                        self.req.server_total = Some(*n);
                        self.req.server_total_field = field.clone();
                    }
                    if p.prompt_tokens.is_some() {
                        self.req.prompt_tokens = p.prompt_tokens;
                    }
                    for t in &p.timings {
                        match self.req.timings.iter_mut().find(|x| x.field == t.field) {
                            Some(x) => *x = t.clone(),
                            None => self.req.timings.push(t.clone()),
                        }
                    }
                    self.push(p.kind(), p.text.as_bytes(), at_us, read, end, p.server_n);
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
        let r = &mut self.req;
        r.chunk_us.push(at_us);
        r.chunk_read.push(read);
        r.chunk_end_byte.push(end);
        r.chunk_kind.push(kind.code());
        r.chunk_server_n.push(n.unwrap_or(-1));
        r.chunk_tokens.push(0);
        r.chunk_text_len.push(text.len() as u32);
        r.chunk_text.extend_from_slice(text);
    }

    /// Decide the count source and attribute tokens to chunks; returns the request.
    pub fn finish(mut self) -> ServerRequest {
        attribute(&mut self.req);
        self.req
    }
}

/// Token chunks: text, reasoning, and the empty choices llama-cpp-python sends for held-back
/// tokens (one chunk per token there).
fn is_token_chunk(k: ChunkKind) -> bool {
    matches!(
        k,
        ChunkKind::Content | ChunkKind::Reasoning | ChunkKind::Empty
    )
}

/// Count sources, best first:
/// 1. `server-per-chunk`: every token chunk carries the server's running count (llama-server
///    `timings_per_token`), non-decreasing; each chunk gets its increase (a withheld token's
///    count lands on the chunk that finally carries its text).
/// 2. `server-total`: one token per token chunk, the server's total minus that unattributed.
/// 3. `chunks-only`: one per token chunk, and every token figure is "per chunk".
pub fn attribute(r: &mut ServerRequest) {
    let n = r.chunks();
    r.chunk_tokens = vec![0; n];
    let token_chunks: Vec<usize> = (0..n).filter(|&i| is_token_chunk(r.kind(i))).collect();
    let per_chunk = !token_chunks.is_empty()
        && token_chunks.iter().all(|&i| r.chunk_server_n[i] >= 0)
        && r.chunk_server_n
            .iter()
            .filter(|&&v| v >= 0)
            .try_fold(0i64, |prev, &v| (v >= prev).then_some(v))
            .is_some();
    if per_chunk {
        let mut prev = 0i64;
        for i in 0..n {
            let v = r.chunk_server_n[i];
            if v >= 0 {
                r.chunk_tokens[i] = (v - prev).clamp(0, i64::from(u32::MAX)) as u32;
                prev = v;
            }
        }
        r.count_source = CountSource::ServerPerChunk;
        if r.server_total.is_none() {
            r.server_total = Some(prev as u64);
            r.server_total_field = "timings.predicted_n".into();
        }
    } else {
        for &i in &token_chunks {
            r.chunk_tokens[i] = 1;
        }
        r.count_source = if r.server_total.is_some() {
            CountSource::ServerTotal
        } else {
            CountSource::ChunksOnly
        };
    }
    let attributed = r.chunk_token_total() as i64;
    r.unattributed = r.server_total.map_or(0, |t| t as i64 - attributed);
}
