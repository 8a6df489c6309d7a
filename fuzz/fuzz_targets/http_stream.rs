//! Fuzz the framing of a streamed body (SSE, NDJSON, blank-line objects) and what turns its
//! events into chunks (the OpenAI, Ollama and `/rkllm_chat` event parsers, the count source):
//! any body, split into reads anywhere, must give chunks whose columns agree, or the one-line
//! error of a bound — never a panic.
//!
//! An input's first byte picks the protocol (its low 2 bits) and the read size (the rest).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkbench::http::capture::{Capture, Protocol};
use rkbench::http::stream::{Framing, Splitter};
use rkbench::trace::server::{GapRule, ServerRequest};

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let (protocol, framing) = match first & 3 {
        0 => (Protocol::OpenAiSse, Framing::Sse),
        1 => (Protocol::OllamaNdjson, Framing::Ndjson),
        _ => (Protocol::RkllmChat, Framing::BlankLine),
    };
    let step = usize::from(first >> 2) + 1;
    // The splitter alone: every frame ends inside the body, offsets never go back.
    let mut s = Splitter::new(framing);
    let mut frames = Vec::new();
    for read in body.chunks(step) {
        if s.feed(read, &mut frames).is_err() {
            break;
        }
    }
    s.finish(&mut frames);
    let mut last = 0;
    for (_, end) in &frames {
        assert!(*end >= last && *end <= body.len() as u64);
        last = *end;
    }
    // The capture: chunks, count source, attribution.
    let mut c = Capture::new(protocol, ServerRequest::default()).with_gap_cluster(
        (protocol == Protocol::RkllmChat).then_some(GapRule::Adaptive),
    );
    for (i, read) in body.chunks(step).enumerate() {
        c.data(read, i as u64 * 700, i as u32 + 1);
    }
    c.end(body.len() as u64 * 700, body.len() as u32);
    let _ = c.unfinished();
    let r = c.finish();
    let n = r.chunks();
    assert_eq!(r.chunk_kind.len(), n);
    assert_eq!(r.chunk_tokens.len(), n);
    assert_eq!(r.chunk_text_len.len(), n);
    let text: u64 = r.chunk_text_len.iter().map(|&l| u64::from(l)).sum();
    assert_eq!(text, r.chunk_text.len() as u64);
});
