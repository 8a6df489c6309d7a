//! What a frame says must be possible, checked on read. A frame's crc and rkyv layout prove its
//! bytes are the ones written, not that a writer told the truth: a frame re-encoded with a valid
//! crc can claim a first token after the request's end, per-chunk columns of different lengths,
//! or a request of 584,000 years, and every figure computed from it would be nonsense presented
//! as a measurement. Each function returns the first impossible fact, named, or `None`.
//!
//! Kinds with nothing numeric to contradict (run header, server run, journal binding, chat
//! template, preset, input options, runtime identity) are not checked beyond their layout.
use super::schema::{
    input_type, Record, RequestInput, RequestRecord, RuntimeObservation, TelemetryBatch,
    TokenChunk, TokenColumns,
};
use super::server::{is_token_chunk, ChunkKind, ServerRequest, MAX_TOKENS_PER_CHUNK};

/// The first impossible fact in `r`, or `None`.
pub(crate) fn impossible(r: &Record) -> Option<String> {
    match r {
        Record::Request(x) => request(x, true),
        Record::Partial(x) => request(x, false),
        Record::Tokens(x) => token_chunk(x),
        Record::Telemetry(x) => telemetry(x),
        Record::ServerRequest(x) | Record::ServerPartial(x) => server_request(x),
        Record::Input(x) => input(x),
        Record::RuntimeObs(x) => observation(x),
        Record::PowerSamples(x) => x.validate().err(),
        Record::LoadRun(x) => super::load::impossible_run(x),
        Record::RequestSent(x) => super::load::impossible_sent(x),
        Record::Header(_)
        | Record::PowerSource(_)
        | Record::End(_)
        | Record::ServerRun(_)
        | Record::Binding(_)
        | Record::TemplateSent(_)
        | Record::PresetUsed(_)
        | Record::InputOptions(_)
        | Record::Identity(_) => None,
    }
}

/// What [`kind_name`] calls a power-sample batch: the energy analysis counts the dropped ones.
pub(crate) const POWER_SAMPLES: &str = "power samples";

/// The name a message gives a record kind.
pub(crate) fn kind_name(r: &Record) -> &'static str {
    match r {
        Record::Header(_) => "run header",
        Record::Request(_) => "request",
        Record::Partial(_) => "request checkpoint",
        Record::Telemetry(_) => "telemetry",
        Record::End(_) => "run end",
        Record::Tokens(_) => "token checkpoint",
        Record::ServerRun(_) => "server run",
        Record::ServerRequest(_) => "server request",
        Record::ServerPartial(_) => "server request checkpoint",
        Record::Binding(_) => "journal binding",
        Record::Input(_) => "request input",
        Record::TemplateSent(_) => "chat template",
        Record::PresetUsed(_) => "preset",
        Record::InputOptions(_) => "input options",
        Record::Identity(_) => "runtime identity",
        Record::RuntimeObs(_) => "runtime observation",
        Record::PowerSource(_) => "power source",
        Record::PowerSamples(_) => POWER_SAMPLES,
        Record::LoadRun(_) => "load level",
        Record::RequestSent(_) => "request send",
    }
}

/// `start_us + end_us` of a request (its end on the run's clock), `None` if it overflows.
pub(crate) fn run_end_of(start_us: u64, end_us: u64) -> Option<u64> {
    start_us.checked_add(end_us)
}

fn columns(c: &TokenColumns, what: &str) -> Option<String> {
    let n = c.len();
    if c.token_ids.len() != n || c.text_len.len() != n {
        return Some(format!(
            "{what}: per-token columns of different lengths (times {n}, ids {}, text lengths {})",
            c.token_ids.len(),
            c.text_len.len()
        ));
    }
    let text: u64 = c.text_len.iter().map(|&l| u64::from(l)).sum();
    if text != c.text.len() as u64 {
        return Some(format!(
            "{what}: the token text lengths add up to {text} bytes, the text holds {}",
            c.text.len()
        ));
    }
    None
}

fn waiting_in(w: &[u32], from: u64, to: u64, what: &str) -> Option<String> {
    let mut prev: Option<u32> = None;
    for &i in w {
        if u64::from(i) < from || u64::from(i) >= to || prev.is_some_and(|p| i <= p) {
            return Some(format!(
                "{what}: waiting token index {i} is out of order or outside tokens {from}..{to}"
            ));
        }
        prev = Some(i);
    }
    None
}

fn request(r: &RequestRecord, last: bool) -> Option<String> {
    let what = format!("request {}", r.index);
    if let Some(e) = columns(&r.tokens, &what) {
        return Some(e);
    }
    if let Some(e) = waiting_in(&r.tokens.waiting, 0, r.tokens.len() as u64, &what) {
        return Some(e);
    }
    if run_end_of(r.start_us, r.end_us).is_none() {
        return Some(format!(
            "{what}: start {} µs + end {} µs is past any clock",
            r.start_us, r.end_us
        ));
    }
    // A checkpoint is written before its end is known; a request that ended did so after its
    // first token arrived (TTFT ≤ E2E).
    let first = r.tokens.token_dt_us.first().map(|&d| u64::from(d));
    match first {
        Some(t) if last && r.final_state == super::vocab::final_state::FINISH && t > r.end_us => {
            Some(format!(
                "{what}: its first token at {t} µs is after its end at {} µs (TTFT longer than E2E)",
                r.end_us
            ))
        }
        _ => None,
    }
}

fn token_chunk(c: &TokenChunk) -> Option<String> {
    let what = format!("tokens {}.. of request {}", c.first, c.index);
    if let Some(e) = columns(&c.tokens, &what) {
        return Some(e);
    }
    let from = u64::from(c.first);
    waiting_in(&c.tokens.waiting, from, from + c.tokens.len() as u64, &what)
}

fn telemetry(t: &TelemetryBatch) -> Option<String> {
    if let Some(w) = t.t_us.windows(2).find(|w| w[1] < w[0]) {
        return Some(format!(
            "telemetry sample times go back, from {} µs to {} µs",
            w[0], w[1]
        ));
    }
    t.series
        .iter()
        .find(|s| s.values.len() != t.t_us.len())
        .map(|s| {
            format!(
                "telemetry series {:?} has {} values for {} sample times",
                s.key,
                s.values.len(),
                t.t_us.len()
            )
        })
}

fn server_request(r: &ServerRequest) -> Option<String> {
    let what = format!("server request {}", r.index);
    let n = r.chunk_us.len();
    let lens = [
        ("chunk_read", r.chunk_read.len()),
        ("chunk_end_byte", r.chunk_end_byte.len()),
        ("chunk_kind", r.chunk_kind.len()),
        ("chunk_server_n", r.chunk_server_n.len()),
        ("chunk_tokens", r.chunk_tokens.len()),
        ("chunk_text_len", r.chunk_text_len.len()),
    ];
    if let Some((col, len)) = lens.iter().find(|(_, l)| *l != n) {
        return Some(format!(
            "{what}: per-chunk columns of different lengths (chunk_us {n}, {col} {len})"
        ));
    }
    let text: u64 = r.chunk_text_len.iter().map(|&l| u64::from(l)).sum();
    if text != r.chunk_text.len() as u64 {
        return Some(format!(
            "{what}: the chunk text lengths add up to {text} bytes, the text holds {}",
            r.chunk_text.len()
        ));
    }
    if run_end_of(r.start_us, r.end_us).is_none() {
        return Some(format!(
            "{what}: start {} µs + end {} µs is past any clock",
            r.start_us, r.end_us
        ));
    }
    for (name, t) in [
        ("response headers", r.headers_us),
        ("first byte", r.first_byte_us),
        ("end of stream", r.done_us),
        ("close", r.close_us),
    ] {
        if let Some(t) = t.filter(|&t| t > r.end_us) {
            return Some(format!(
                "{what}: its {name} at {t} µs is after it ended at {} µs",
                r.end_us
            ));
        }
    }
    if let Some((i, w)) = r.chunk_us.windows(2).enumerate().find(|(_, w)| w[1] < w[0]) {
        return Some(format!(
            "{what}: chunk {} arrived at {} µs, before chunk {i} at {} µs",
            i + 1,
            w[1],
            w[0]
        ));
    }
    if let Some(&t) = r.chunk_us.last().filter(|&&t| t > r.end_us) {
        return Some(format!(
            "{what}: its last chunk at {t} µs is after it ended at {} µs",
            r.end_us
        ));
    }
    for (name, ok) in [
        (
            "read numbers",
            r.chunk_read.windows(2).all(|w| w[0] <= w[1]),
        ),
        (
            "byte offsets",
            r.chunk_end_byte.windows(2).all(|w| w[0] <= w[1]),
        ),
    ] {
        if !ok {
            return Some(format!("{what}: the chunks' {name} go back"));
        }
    }
    let token_chunks = r
        .chunk_kind
        .iter()
        .filter(|&&k| is_token_chunk(ChunkKind::from_code(k)))
        .count() as u64;
    let tokens = r.chunk_token_total();
    let bound = token_chunks.max(1).saturating_mul(MAX_TOKENS_PER_CHUNK);
    (tokens > bound).then(|| {
        format!(
            "{what}: {tokens} tokens attributed to {token_chunks} token chunk(s), more than {MAX_TOKENS_PER_CHUNK} per chunk"
        )
    })
}

fn input(i: &RequestInput) -> Option<String> {
    (i.input_type == input_type::TOKEN && i.id_span == 0).then(|| {
        format!(
            "input of request {}: token ids cycle over a span of 0 ids",
            i.index
        )
    })
}

fn observation(o: &RuntimeObservation) -> Option<String> {
    if o.abort_us < -1 || o.stop_requested_at < -1 {
        return Some(format!(
            "runtime observation of request {}: abort at {} µs / stop at token {} (−1 is the only negative)",
            o.index, o.abort_us, o.stop_requested_at
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_request_is_possible() {
        let mut r = ServerRequest::default();
        r.push_chunk(10, 1, 5, ChunkKind::Content, None, b"ab");
        r.push_chunk(20, 2, 9, ChunkKind::Finish, None, b"{}");
        r.chunk_tokens[0] = 1;
        r.end_us = 30;
        assert_eq!(server_request(&r), None);
        let mut q = RequestRecord::default();
        q.tokens.push(5, 1, b"a", true);
        q.end_us = 5;
        q.final_state = super::super::vocab::final_state::FINISH;
        assert_eq!(request(&q, true), None);
    }
}
