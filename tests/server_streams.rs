//! The stream parsers and count sources on fixtures written from each server's documented format
//! (fixtures/streams/README.md), whole and split at every byte into two reads.
use rkbench::http::capture::{Capture, Protocol};
use rkbench::trace::server::{ChunkKind, CountSource, ServerRequest};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/streams")
            .join(name),
    )
    .unwrap()
}

/// Feed `body` as the given reads; read i arrives at (i + 1) ms.
fn parse(protocol: Protocol, reads: &[&[u8]]) -> ServerRequest {
    let mut c = Capture::new(protocol, ServerRequest::default());
    for (i, r) in reads.iter().enumerate() {
        c.data(r, (i as u64 + 1) * 1000, i as u32 + 1);
    }
    c.end(reads.len() as u64 * 1000 + 500, reads.len() as u32);
    c.finish()
}

fn kinds(r: &ServerRequest) -> Vec<&'static str> {
    (0..r.chunks()).map(|i| r.kind(i).as_str()).collect()
}

fn texts(r: &ServerRequest) -> String {
    (0..r.chunks())
        .filter(|&i| r.kind(i).carries_tokens())
        .map(|i| String::from_utf8(r.chunk_text(i).to_vec()).unwrap())
        .collect()
}

/// Every split into two reads gives the same chunks; a chunk's time is the read that completed it.
fn check_splits(protocol: Protocol, body: &[u8], whole: &ServerRequest) {
    for cut in 0..=body.len() {
        let r = parse(protocol, &[&body[..cut], &body[cut..]]);
        assert_eq!(kinds(&r), kinds(whole), "cut {cut}");
        assert_eq!(r.chunk_text, whole.chunk_text, "cut {cut}");
        assert_eq!(r.chunk_tokens, whole.chunk_tokens, "cut {cut}");
        assert_eq!(r.chunk_server_n, whole.chunk_server_n, "cut {cut}");
        assert_eq!(r.chunk_end_byte, whole.chunk_end_byte, "cut {cut}");
        assert_eq!(
            (r.count_source, r.server_total, r.unattributed),
            (whole.count_source, whole.server_total, whole.unattributed)
        );
        for i in 0..r.chunks() {
            let expect = if r.chunk_end_byte[i] <= cut as u64 {
                1000
            } else {
                2000
            };
            assert_eq!(r.chunk_us[i], expect, "cut {cut} chunk {i}");
        }
        assert_eq!(r.done_us.is_some(), whole.done_us.is_some());
        assert_eq!(r.finish_reason, whole.finish_reason);
    }
}

#[test]
fn llama_server_per_chunk_counts_with_a_multi_token_chunk() {
    let body = fixture("llama-server.sse");
    let r = parse(Protocol::OpenAiSse, &[&body]);
    assert_eq!(
        kinds(&r),
        ["role", "ping", "content", "content", "content", "content", "finish", "usage"]
    );
    assert_eq!(r.count_source, CountSource::ServerPerChunk);
    assert_eq!(r.chunk_tokens, [0, 0, 1, 1, 3, 1, 0, 0]);
    assert_eq!(r.server_total, Some(6));
    assert_eq!(r.server_total_field, "usage.completion_tokens");
    assert_eq!(r.unattributed, 0);
    assert_eq!(r.prompt_tokens, Some(12));
    assert_eq!(r.finish_reason, "length");
    assert_eq!(texts(&r), "Hi there, café! Bye");
    assert!(r.done_us.is_some());
    assert!(r
        .timings
        .iter()
        .any(|t| t.field == "timings.predicted_ms" && t.raw == 60.0 && t.unit == "ms"));
    // The token view spreads the 3-token chunk's gap over its tokens.
    let v = r.token_view();
    assert_eq!(v.tokens.token_dt_us.len(), 6);
    check_splits(Protocol::OpenAiSse, &body, &r);
}

#[test]
fn vllm_continuous_usage_is_a_per_chunk_count() {
    // vLLM/SGLang with `stream_options.continuous_usage_stats`: every chunk with a choice carries
    // the running `usage.completion_tokens` (the role chunk 0); a chunk that waited for a
    // character's second token carries both.
    let body = fixture("vllm-continuous.sse");
    let r = parse(Protocol::OpenAiSse, &[&body]);
    assert_eq!(
        kinds(&r),
        ["role", "content", "content", "content", "content", "usage"]
    );
    assert_eq!(r.count_source, CountSource::ServerPerChunk);
    assert_eq!(r.chunk_tokens, [0, 1, 2, 1, 1, 0]);
    assert_eq!(r.chunk_server_n, [0, 1, 3, 4, 5, -1]);
    assert_eq!(r.server_total, Some(5));
    assert_eq!(r.server_total_field, "usage.completion_tokens");
    assert_eq!((r.unattributed, r.prompt_tokens), (0, Some(9)));
    assert_eq!(r.finish_reason, "length");
    assert_eq!(texts(&r), "Un café noir.");
    check_splits(Protocol::OpenAiSse, &body, &r);
}

#[test]
fn tokens_counted_on_the_usage_chunk_have_no_text() {
    // llama-server at its cap: the last 2 tokens were held back (an incomplete character) and
    // never sent; the usage chunk's timings count them. They are tokens at that chunk's time,
    // and the usage event's raw JSON is not their text.
    let body = b"data: {\"choices\":[{\"delta\":{\"content\":\"ab\"}}],\"timings\":{\"predicted_n\":2}}\n\n\
data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n\
data: {\"choices\":[],\"usage\":{\"completion_tokens\":4},\"timings\":{\"predicted_n\":4}}\n\n\
data: [DONE]\n\n";
    let r = parse(Protocol::OpenAiSse, &[&body[..60], &body[60..]]);
    assert_eq!(kinds(&r), ["content", "finish", "usage"]);
    assert_eq!(r.count_source, CountSource::ServerPerChunk);
    assert_eq!(r.chunk_tokens, [2, 0, 2]);
    let v = r.token_view();
    assert_eq!(v.tokens.token_dt_us.len(), 4);
    assert_eq!(v.response(), "ab");
    check_splits(Protocol::OpenAiSse, body, &r);
}

#[test]
fn a_usage_only_on_the_last_text_chunk_is_a_total_not_a_per_chunk_count() {
    // A server that puts its final usage on the last content chunk: the other chunks carry no
    // count, so the usage is the total and the chunks before it one token each.
    let body = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}],\"usage\":{\"completion_tokens\":3}}\n\n\
data: [DONE]\n\n";
    let r = parse(Protocol::OpenAiSse, &[body]);
    assert_eq!(r.count_source, CountSource::ServerTotal);
    assert_eq!((r.server_total, r.unattributed), (Some(3), 1));
    check_splits(Protocol::OpenAiSse, body, &r);
}

#[test]
fn llama_cpp_python_empty_chunks_are_held_back_tokens() {
    let body = fixture("llama-cpp-python.sse");
    let r = parse(Protocol::OpenAiSse, &[&body]);
    assert_eq!(
        kinds(&r),
        ["role", "content", "empty", "content", "content", "finish"]
    );
    assert_eq!(r.count_source, CountSource::ChunksOnly);
    assert_eq!(r.chunk_token_total(), 4);
    assert_eq!(r.server_total, None);
    assert_eq!(texts(&r), "aébc");
    check_splits(Protocol::OpenAiSse, &body, &r);
}

#[test]
fn rkllama_sse_total_from_its_usage_chunk_rest_unattributed() {
    let body = fixture("rkllama.sse");
    let r = parse(Protocol::OpenAiSse, &[&body]);
    assert_eq!(
        kinds(&r),
        ["content", "content", "content", "finish", "usage"]
    );
    assert_eq!(r.count_source, CountSource::ServerTotal);
    assert_eq!(r.chunk_tokens, [1, 1, 1, 0, 0]);
    assert_eq!((r.server_total, r.unattributed), (Some(7), 4));
    assert_eq!(texts(&r), "Bonjour — ça va");
    // Its absurd tokens_per_second is kept raw, to be flagged by the report's unit check.
    assert!(r
        .timings
        .iter()
        .any(|t| t.field == "usage.tokens_per_second" && t.unit == "tok/s"));
    check_splits(Protocol::OpenAiSse, &body, &r);
}

#[test]
fn rkllama_ndjson_counters_kept_raw_in_ns_fields() {
    let body = fixture("rkllama.ndjson");
    let r = parse(Protocol::OllamaNdjson, &[&body]);
    assert_eq!(kinds(&r), ["content", "content", "content", "finish"]);
    assert_eq!(r.count_source, CountSource::ServerTotal);
    assert_eq!((r.server_total, r.unattributed), (Some(7), 4));
    assert_eq!(r.server_total_field, "eval_count");
    let eval = r
        .timings
        .iter()
        .find(|t| t.field == "eval_duration")
        .unwrap();
    assert_eq!((eval.raw, eval.unit.as_str()), (1200.0, "ns"));
    assert!(r.done_us.is_some());
    check_splits(Protocol::OllamaNdjson, &body, &r);
}

#[test]
fn rockchip_1_3_0_character_stream_is_per_chunk() {
    let body = fixture("rkllm-1.3.0.sse");
    let r = parse(Protocol::OpenAiSse, &[&body]);
    assert_eq!(
        kinds(&r),
        ["role", "content", "content", "content", "content", "finish"]
    );
    assert_eq!(r.count_source, CountSource::ChunksOnly);
    assert_eq!(r.chunk_token_total(), 4);
    assert_eq!(texts(&r), "Hey你");
    // The early role chunk is not a token: the token view starts at the first character.
    assert_eq!(r.token_view().tokens.token_dt_us.len(), 4);
    check_splits(Protocol::OpenAiSse, &body, &r);
}

/// As rkbench records it (the server kind is known): a gap ≥ 1 ms starts a token, so the
/// characters of one token, microseconds apart, count once.
#[test]
fn rockchip_1_3_0_characters_cluster_into_tokens() {
    let body = fixture("rkllm-1.3.0.sse");
    let events: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
    // role, H, e, y, 你, finish, [DONE]: each event is its `data:` line and a blank line.
    let at = [5_000u64, 30_000, 30_010, 30_020, 52_000, 52_100, 52_200];
    assert_eq!(events.len(), 2 * at.len());
    let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default())
        .with_gap_cluster(Some(rkbench::trace::server::GapRule::fixed(1000)));
    for (i, (pair, t)) in events.chunks(2).zip(at).enumerate() {
        c.data(&pair.concat(), t, i as u32 + 1);
    }
    c.end(52_300, 7);
    assert!(c.finished());
    let r = c.finish();
    assert_eq!(r.count_source, CountSource::GapCluster);
    assert_eq!(r.chunk_tokens, [0, 1, 0, 0, 1, 0]);
    let v = r.token_view();
    assert_eq!(v.token_times_us(), vec![30_000, 52_000]);
    assert_eq!(v.tokens.text, "Hey你".as_bytes());
    assert_eq!(v.tokens.text_len, vec![3, 3]);
}

/// Rockchip's 1.2.3/1.3.0 servers poll their queue every few ms: a token's characters leave
/// 2–4 ms apart (each its own read), tokens 30 ± 5 ms apart. As rkbench records by default,
/// each request's threshold comes from its own gaps and the count is exact; the old fixed 1 ms
/// counted every character.
#[test]
fn rockchip_characters_ms_apart_cluster_by_the_streams_own_threshold() {
    use rkbench::trace::server::GapRule;
    let tokens = [
        "The", " light", "house", " guides", " ships", " 你好", "!", " Far", " out",
    ];
    let event = |s: &str| {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{s}\"}}}}]}}\n\n")
    };
    let mut reads: Vec<(String, u64)> = Vec::new();
    let mut t = 5_000u64;
    for (k, tok) in tokens.iter().enumerate() {
        t += 25_000 + (k as u64 * 3_733) % 10_001;
        for (j, ch) in tok.chars().enumerate() {
            if j > 0 {
                t += 2_000 + ((k + j) as u64 * 997) % 2_001;
            }
            reads.push((event(&ch.to_string()), t));
        }
    }
    let chars = reads.len() as u64;
    let finish = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let record = |gap: GapRule| {
        let mut c =
            Capture::new(Protocol::OpenAiSse, ServerRequest::default()).with_gap_cluster(Some(gap));
        for (i, (e, at)) in reads.iter().enumerate() {
            c.data(e.as_bytes(), *at, i as u32 + 1);
        }
        c.data(finish.as_bytes(), t + 100, chars as u32 + 1);
        c.end(t + 200, chars as u32 + 1);
        assert!(c.finished());
        c.finish()
    };
    let r = record(GapRule::Adaptive);
    assert_eq!(r.count_source, CountSource::GapCluster);
    assert_eq!(r.chunk_token_total(), tokens.len() as u64);
    assert_eq!(r.token_view().tokens.text, tokens.concat().as_bytes());
    assert_eq!(record(GapRule::fixed(1000)).chunk_token_total(), chars);
}

#[test]
fn ollama_thinking_then_content() {
    let body = fixture("ollama.ndjson");
    let r = parse(Protocol::OllamaNdjson, &[&body]);
    assert_eq!(kinds(&r), ["reasoning", "content", "content", "finish"]);
    assert_eq!(r.count_source, CountSource::ServerTotal);
    assert_eq!((r.server_total, r.unattributed), (Some(3), 0));
    assert_eq!(r.finish_reason, "stop");
    check_splits(Protocol::OllamaNdjson, &body, &r);
}

#[test]
fn a_stream_cut_mid_event_keeps_whole_chunks_only() {
    let body = fixture("llama-server.sse");
    let cut = body.len() / 2;
    let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default());
    c.data(&body[..cut], 1000, 1);
    let before = c.req.chunks();
    c.end(2000, 1);
    // A torn final event is still parsed at close; it is not JSON, so it is an error chunk.
    let r = c.finish();
    assert!(r.chunks() >= before);
    assert!(r.finish_reason.is_empty());
    assert_eq!(r.kind(r.chunks() - 1), ChunkKind::Error);
}

/// Rockchip's demo server 1.2.x `/rkllm_chat`: every message repeats all earlier choices and
/// appends one character; only the new choices are a chunk's text. No count, no end marker.
#[test]
fn rockchip_1_2_cumulative_character_stream() {
    let body = fixture("rkllm-1.2.txt");
    let r = parse(Protocol::RkllmChat, &[&body]);
    assert_eq!(kinds(&r), ["content"; 6]);
    // json.dumps escapes non-ASCII: 你 and the surrogate pair of 😀 come back whole.
    assert_eq!(texts(&r), "Hi 你😀!");
    assert_eq!(r.chunk_text_len, [1, 1, 1, 3, 4, 1]);
    assert_eq!(r.count_source, CountSource::ChunksOnly);
    assert_eq!(r.finish_reason, "", "this server may never send one");
    assert!(r.done_us.is_none());
    check_splits(Protocol::RkllmChat, &body, &r);

    // Each message its own read, as the server sends them: a token's characters microseconds
    // apart, tokens about 20 ms apart. A gap ≥ 1 ms starts a token.
    let messages: Vec<&[u8]> = body
        .split_inclusive(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|pair| {
            let start = pair[0].as_ptr() as usize - body.as_ptr() as usize;
            &body[start..start + pair.iter().map(|p| p.len()).sum::<usize>()]
        })
        .collect();
    assert_eq!(messages.len(), 6);
    let at = [20_000u64, 20_030, 40_000, 40_020, 61_000, 81_000];
    let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default())
        .with_gap_cluster(Some(rkbench::trace::server::GapRule::fixed(1000)));
    for (i, (m, t)) in messages.iter().zip(at).enumerate() {
        c.data(m, t, i as u32 + 1);
    }
    c.end(81_500, 6);
    assert!(c.finished(), "{:?}", c.unfinished());
    let r = c.finish();
    assert_eq!(r.count_source, CountSource::GapCluster);
    assert_eq!(r.chunk_tokens, [1, 0, 1, 0, 1, 1]);
    let v = r.token_view();
    assert_eq!(v.token_times_us(), vec![20_000, 40_000, 61_000, 81_000]);
    assert_eq!(v.tokens.text, "Hi 你😀!".as_bytes());
    assert_eq!(v.tokens.text_len, vec![2, 4, 4, 1]);
}

/// The same stream cut inside its last message: the whole messages are kept, the torn one is
/// an error chunk (raw), and the request is not complete.
#[test]
fn rockchip_1_2_stream_cut_inside_its_last_message() {
    let body = fixture("rkllm-1.2-torn.txt");
    let whole = {
        let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default());
        c.data(&body, 1000, 1);
        c.end(1500, 1);
        let why = c.unfinished().expect("cut short");
        assert!(why.contains("inside a message"), "{why}");
        c.finish()
    };
    assert_eq!(
        kinds(&whole),
        ["content", "content", "content", "content", "content", "error"]
    );
    assert_eq!(texts(&whole), "Hi 你😀");
    for cut in 0..=body.len() {
        let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default());
        c.data(&body[..cut], 1000, 1);
        c.data(&body[cut..], 2000, 2);
        c.end(2500, 2);
        assert!(!c.finished(), "cut {cut}");
        let r = c.finish();
        assert_eq!(kinds(&r), kinds(&whole), "cut {cut}");
        assert_eq!(r.chunk_text, whole.chunk_text, "cut {cut}");
    }
}

/// The original tool's server as rkbench reads it: `reads` delivered one `read()` each.
fn read_rockchipllama(reads: &[&[u8]]) -> ServerRequest {
    let ignore = rkbench::http::server::ServerKind::RockchipLlama.not_token_counts();
    let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default()).ignoring_counts(ignore);
    for (i, r) in reads.iter().enumerate() {
        c.data(r, (i as u64 + 1) * 1000, i as u32 + 1);
    }
    c.end(reads.len() as u64 * 1000 + 500, reads.len() as u32);
    c.finish()
}

/// Up to `2445d32` (the original report's commit `65695c1` included) the finish chunk's `usage`
/// was a plain dict and carried RKLLM's own counts beside the word counts.
#[test]
fn the_original_tools_server_counts_words_in_usage_and_rkllms_tokens_beside() {
    let body = fixture("rockchipllama-65695c1.sse");
    let read = read_rockchipllama;
    let r = read(&[&body]);
    assert_eq!(kinds(&r), ["content", "content", "content", "finish"]);
    assert_eq!(texts(&r), "Hello there!");
    // RKLLM's generate_tokens (4), never the word count (2); one token's text never came.
    assert_eq!(r.count_source, CountSource::ServerTotal);
    assert_eq!(
        (
            r.server_total,
            r.server_total_field.as_str(),
            r.unattributed
        ),
        (Some(4), "usage.generate_tokens", 1)
    );
    // The prompt: RKLLM's prefill_tokens (24), not the 9 words.
    assert_eq!(r.prompt_tokens, Some(24));
    // Everything the server sent is kept raw, word counts included.
    let raw = |f: &str| r.timings.iter().find(|t| t.field == f).map(|t| t.raw);
    assert_eq!(raw("usage.completion_tokens"), Some(2.0));
    assert_eq!(raw("usage.prefill_time_ms"), Some(212.5));
    assert_eq!(raw("usage.memory_usage_mb"), Some(5026.3));
    // Without the kind's rule, a server sending only word counts would be taken at its word.
    let mut words_only = String::from_utf8(body.clone()).unwrap();
    words_only = words_only
        .replace(",\"generate_tokens\":4", "")
        .replace(",\"prefill_tokens\":24", "");
    let w = read(&[words_only.as_bytes()]);
    assert_eq!((w.server_total, w.prompt_tokens), (None, None));
    assert_eq!(w.count_source, CountSource::ChunksOnly);
    for cut in 0..=body.len() {
        let s = read(&[&body[..cut], &body[cut..]]);
        assert_eq!(kinds(&s), kinds(&r), "cut {cut}");
        assert_eq!(
            (s.server_total, s.prompt_tokens),
            (Some(4), Some(24)),
            "cut {cut}"
        );
    }
}

/// Since `806b3fb` (HEAD included) the finish chunk's `usage` goes through the pydantic `Usage`
/// model, which drops RKLLM's counts and timings: only word counts reach the client, and
/// rkbench counts chunks (a lower bound: a token with no text sends no chunk) rather than words.
#[test]
fn the_current_original_tools_server_sends_only_word_counts_and_is_counted_by_chunks() {
    let body = fixture("rockchipllama.sse");
    let r = read_rockchipllama(&[&body]);
    assert_eq!(kinds(&r), ["content", "content", "content", "finish"]);
    assert_eq!(texts(&r), "Hello there!");
    assert_eq!(r.count_source, CountSource::ChunksOnly);
    assert_eq!((r.server_total, r.prompt_tokens), (None, None));
    assert_eq!((r.chunk_token_total(), r.unattributed), (3, 0));
    assert_eq!(r.finish_reason, "stop");
    // The word counts are kept raw; RKLLM's fields never came.
    let raw = |f: &str| r.timings.iter().find(|t| t.field == f).map(|t| t.raw);
    assert_eq!(raw("usage.completion_tokens"), Some(2.0));
    assert_eq!(raw("usage.prompt_tokens"), Some(9.0));
    for f in ["usage.generate_tokens", "usage.prefill_time_ms"] {
        assert_eq!(raw(f), None, "{f}");
    }
    for cut in 0..=body.len() {
        let s = read_rockchipllama(&[&body[..cut], &body[cut..]]);
        assert_eq!(kinds(&s), kinds(&r), "cut {cut}");
        assert_eq!(
            (s.server_total, s.count_source),
            (None, CountSource::ChunksOnly),
            "cut {cut}"
        );
    }
}
