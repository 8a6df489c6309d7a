//! The HTTP backend's own cost: what rkbench spends on each chunk it reads (framing, JSON,
//! classification, bookkeeping in `Capture`), beside the time between a server's tokens. A
//! chunk's arrival is stamped when `read()` returns, before any of this runs, so this cost delays
//! only the next read: it matters when it approaches the gap between chunks.
use crate::util::{median, Env, Report};
use rkbench::http::capture::{Capture, Protocol};
use rkbench::trace::server::{GapRule, ServerRequest};
use serde_json::json;
use std::time::Instant;

/// Feed `body` one line per `read()` and finish; returns the chunks captured.
fn capture(protocol: Protocol, body: &str) -> usize {
    let mut c = Capture::new(protocol, ServerRequest::default());
    let mut read = 0u32;
    for (i, l) in body.split_inclusive('\n').enumerate() {
        read += 1;
        c.data(l.as_bytes(), i as u64 * 1000, read);
    }
    c.end(u64::from(read) * 1000, read);
    c.finish().chunks()
}

/// The message Rockchip's 1.2.x `/rkllm_chat` sends after its `n`-th character: Python's
/// `json.dumps` of the cumulative response (every earlier character repeated), then a blank line.
fn rkllm_chat_message(n: usize) -> String {
    let choice = r#"{"index": 0, "delta": {"role": "assistant", "content": "x"}, "logprobs": null, "finish_reason": null}"#;
    let choices = vec![choice; n].join(", ");
    format!(
        "{{\"id\": \"rkllm_chat\", \"object\": \"rkllm_chat\", \"created\": null, \"choices\": [{choices}], \"usage\": {{\"prompt_tokens\": null, \"completion_tokens\": null, \"total_tokens\": null}}}}\n\n"
    )
}

pub fn run(env: &Env, out: &mut Report) {
    out.section("7. HTTP backend: rkbench's cost per chunk read (Capture: framing, JSON, kinds)");
    let sse = std::fs::read_to_string(env.root.join("fixtures/streams/llama-server.sse"))
        .expect("fixtures/streams/llama-server.sse");
    let reps = env.size(20_000, 500);
    let mut per_chunk = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut chunks = 0;
        for _ in 0..reps {
            chunks += std::hint::black_box(capture(Protocol::OpenAiSse, &sse));
        }
        per_chunk.push(t.elapsed().as_nanos() as f64 / chunks as f64);
    }
    let ns = median(&per_chunk);
    out.line(
        "http.sse_chunk_ns",
        "OpenAI SSE chunk (llama-server stream fixture)",
        json!({"ns": ns}),
        &format!(
            "{:.1} µs per chunk (a 30 tok/s decode sends one every ~33 000 µs: {:.3} %)",
            ns / 1e3,
            ns / 33e6 * 100.0
        ),
    );
    // Rockchip's legacy server repeats every earlier character in each message: the message
    // after character n is O(n) bytes. rkbench skips the choices it has seen without building
    // them; what one message costs at n characters, next to the 1 ms gap-cluster threshold.
    for n in env.size(vec![500, 1000, 2000, 4000], vec![500, 1000]) {
        let prefix: String = (1..n).map(rkllm_chat_message).collect();
        let last = rkllm_chat_message(n);
        let mut c = Capture::new(Protocol::RkllmChat, ServerRequest::default());
        c.data(prefix.as_bytes(), 0, 1);
        let mut times = Vec::new();
        for i in 0..7 {
            let mut c2 = Capture::new(Protocol::RkllmChat, ServerRequest::default());
            c2.data(prefix.as_bytes(), 0, 1);
            let t = Instant::now();
            c2.data(last.as_bytes(), 1000, 2 + i);
            times.push(t.elapsed().as_nanos() as f64);
            std::hint::black_box(c2.finish());
        }
        std::hint::black_box(c.finish());
        let ns = median(&times);
        out.line(
            &format!("http.rkllm_chat_message_ns_{n}"),
            &format!("/rkllm_chat message after {n} characters"),
            json!({"ns": ns, "bytes": last.len()}),
            &format!(
                "{:.3} ms for {} KB ({:.0} % of the 1 ms gap threshold)",
                ns / 1e6,
                last.len() / 1024,
                ns / 1e6 * 100.0
            ),
        );
    }
}

/// One request of `chars` characters, one per SSE event, as Rockchip's servers stream them:
/// tokens of 4 characters 20 ms apart, each token's characters in one `read()`; the default
/// (adaptive) gap-cluster threshold.
fn rockchip_capture(chars: usize) -> (Capture, std::time::Duration) {
    let one = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n";
    let token = one.repeat(4);
    let mut c = Capture::new(Protocol::OpenAiSse, ServerRequest::default())
        .with_gap_cluster(Some(GapRule::Adaptive));
    let t = Instant::now();
    for k in 0..chars / 4 {
        c.data(token.as_bytes(), k as u64 * 20_000, k as u32 + 1);
        std::hint::black_box(c.tokens_so_far());
    }
    let reads = (chars / 4) as u32;
    c.data(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        reads as u64 * 20_000,
        reads + 1,
    );
    c.end(reads as u64 * 20_000 + 10, reads + 1);
    (c, t.elapsed())
}

/// A request of a million chunks (Rockchip's one character per chunk): capture with the
/// progress count, one checkpoint snapshot, the per-token view, and `rkbench report --format
/// csv --per chunk` on its trace. Each is linear in the chunks; `chunk_text(i)` once made every
/// one of them quadratic.
pub fn long_stream(env: &Env, out: &mut Report) {
    out.section("8. A request of a million chunks (one character each): linear everywhere");
    let chars = env.size(1_000_000, 20_000);
    let (c, took) = rockchip_capture(chars);
    out.line(
        "http.long_capture_ns_per_chunk",
        &format!(
            "capture + progress count, {} chunks",
            crate::util::thousands(chars as u64)
        ),
        json!({"ns": took.as_nanos() as f64 / chars as f64, "s": took.as_secs_f64()}),
        &format!(
            "{:.0} ns per chunk ({:.2} s)",
            took.as_nanos() as f64 / chars as f64,
            took.as_secs_f64()
        ),
    );
    let t = Instant::now();
    let snap = c.snapshot();
    let snap_s = t.elapsed().as_secs_f64();
    assert_eq!(snap.chunk_token_total(), (chars / 4) as u64);
    out.line(
        "http.long_checkpoint_ms",
        "one checkpoint snapshot (adaptive threshold: chosen from all the gaps, attributed in full)",
        json!({"ms": snap_s * 1e3}),
        &format!("{:.1} ms", snap_s * 1e3),
    );
    let r = c.finish();
    let t = Instant::now();
    let view = std::hint::black_box(r.token_view());
    let view_s = t.elapsed().as_secs_f64();
    assert_eq!(view.tokens.len(), chars / 4);
    out.line(
        "http.long_token_view_ms",
        "per-token view",
        json!({"ms": view_s * 1e3}),
        &format!("{:.1} ms", view_s * 1e3),
    );
    use rkbench::trace::server::ServerRun;
    use rkbench::trace::{Record, RunEnd, RunHeader, TraceWriter};
    let path = env.scratch.join("long-stream.rktrace");
    let _ = std::fs::remove_file(&path);
    let mut w = TraceWriter::create(&path).expect("create trace");
    let end_us = r.start_us + r.end_us.max(r.close_us.unwrap_or(0)) + 1;
    let mut r = r;
    r.end_us = r.close_us.unwrap_or(0);
    for rec in [
        Record::Header(RunHeader::default()),
        Record::ServerRun(ServerRun {
            kind: "rkllm-server".into(),
            ..Default::default()
        }),
        Record::ServerRequest(r),
        Record::End(RunEnd {
            end_us,
            requests: 1,
            ..Default::default()
        }),
    ] {
        w.append(&rec).expect("write trace");
    }
    drop(w);
    let csv = env.scratch.join("long-stream.csv");
    let t = Instant::now();
    let o = std::process::Command::new(&env.rkbench)
        .args(["report", "--format", "csv", "--per", "chunk", "-o"])
        .arg(&csv)
        .arg(&path)
        .output()
        .expect("run rkbench report");
    let csv_s = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.line(
        "http.long_csv_s",
        "`rkbench report --format csv --per chunk`",
        json!({"s": csv_s, "bytes": std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0)}),
        &format!("{csv_s:.2} s (read, analysis, one row per chunk)"),
    );
}
