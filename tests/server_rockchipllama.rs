//! `record --server` against look-alikes of the original tool's FastAPI server
//! (VenomekPL/RockchipLlama), the server the report this project started from was measured
//! through, detected by `/v1/health`. Its `usage.completion_tokens` are word counts, never taken
//! as tokens. Up to `2445d32` (the original report's `65695c1` included) its finish chunk relayed
//! RKLLM's `generate_tokens` and timings: counted with those, its relayed prefill splitting TTFT,
//! and the original report's figures read from them. Since `806b3fb` (HEAD) its pydantic `Usage`
//! model drops them: counted by chunks.
mod common;

use std::net::TcpStream;
use std::sync::{Arc, Mutex};

/// Answers `/v1/health` and `/v1/models` as the original tool's server does, and streams
/// `fixtures/streams/<stream>` for every completion; the bodies it received are kept.
fn fake_rockchipllama(stream: &'static str) -> (u16, Arc<Mutex<Fake>>) {
    let fake = Fake {
        stream,
        bodies: Vec::new(),
    };
    common::http::serve(fake, handle)
}

/// Records the quick suite into `out` against a fake sending `stream`, which must succeed; the
/// fake is returned for the bodies it received.
fn record_quick(stream: &'static str, out: &std::path::Path) -> Arc<Mutex<Fake>> {
    let (port, fake) = fake_rockchipllama(stream);
    let o = common::server_record(
        &format!("http://127.0.0.1:{port}"),
        "quick",
        &["--quiet-period", "1ms", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    fake
}

/// Which stream the fake sends, and the bodies it received.
struct Fake {
    stream: &'static str,
    bodies: Vec<String>,
}

fn handle(mut c: TcpStream, fake: &Arc<Mutex<Fake>>) -> std::io::Result<()> {
    let req = common::http::read_request(&c)?;
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/health") => common::http::reply(
            &mut c,
            "200 OK",
            "application/json",
            r#"{"status":"healthy","model_loaded":true,"loaded_model":"qwen3-4b","timestamp":1764460800}"#,
        ),
        ("GET", "/v1/models") => common::http::reply(
            &mut c,
            "200 OK",
            "application/json",
            r#"{"object":"list","data":[{"id":"qwen3-4b","object":"model","created":1764460800,"owned_by":"rockchip"}]}"#,
        ),
        ("POST", "/v1/chat/completions") => {
            let name = {
                let mut f = fake.lock().unwrap();
                f.bodies.push(req.body);
                f.stream
            };
            let stream =
                std::fs::read_to_string(common::root().join("fixtures/streams").join(name))?;
            common::http::reply(&mut c, "200 OK", "text/event-stream", &stream)
        }
        _ => common::http::reply(
            &mut c,
            "404 Not Found",
            "application/json",
            r#"{"detail":"Not Found"}"#,
        ),
    }
}

#[test]
fn the_original_tools_server_is_counted_with_rkllms_tokens_not_its_word_counts() {
    let out = common::tempdir("server-rockchipllama").join("orig.rktrace");
    let fake = record_quick("rockchipllama-65695c1.sse", &out);
    assert_eq!(fake.lock().unwrap().bodies.len(), 3);
    let t = common::read_trace(&out);
    let s = t.server.as_ref().unwrap();
    assert_eq!(
        (s.run.kind.as_str(), s.run.kind_source.as_str()),
        ("rockchipllama", "detected")
    );
    assert!(
        s.run
            .evidence
            .iter()
            .any(|f| f.key == "probe GET /v1/health" && f.value.contains("healthy")),
        "{:?}",
        s.run.evidence
    );
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
        // 4 = RKLLM's generate_tokens; the server's usage.completion_tokens says 2 (words).
        assert_eq!(
            (r.server_total, r.server_total_field.as_str()),
            (Some(4), "usage.generate_tokens")
        );
        assert_eq!(r.prompt_tokens, Some(24));
    }
    let j = common::json_report(&out);
    // The original's figures read the server as its client did: RKLLM's counts and timings.
    let orig = &j["original"];
    assert_eq!(orig["total_output_tokens"], 12);
    assert_eq!(
        orig["output_tokens_from"],
        "the server's usage.generate_tokens"
    );
    let r0 = &orig["requests"][0];
    assert_eq!(
        (r0["ttft_ms"].as_f64(), r0["input_tokens"].as_i64()),
        (Some(212.5), Some(24))
    );
    // 4 tokens / 640.3 ms.
    assert!((r0["tokens_per_second"].as_f64().unwrap() - 4.0 / 0.6403).abs() < 1e-3);
    assert_eq!(r0["memory_usage_mb"].as_f64(), Some(5026.3));
    // The server's prefill splits the client's TTFT.
    let split = &j["server"]["requests"][0]["prefill_split"];
    assert_eq!(split["field"], "usage.prefill_time_ms");
    assert_eq!(split["server_prefill_ms"].as_f64(), Some(212.5));
    assert_eq!(j["server"]["prompt_tokens"], 72);
    // Markdown and HTML state the same split.
    for format in ["md", "html"] {
        let r = common::run(&["report", "--format", format, out.to_str().unwrap()], &[]);
        let text = common::stdout(&r);
        assert!(
            text.contains("Client TTFT split into the prefill the server reports")
                && text.contains("usage.prefill_time_ms")
                && text.contains("212.5"),
            "{format}"
        );
    }
}

/// The server as it is since `806b3fb` (HEAD): only word counts reach the client, so rkbench
/// counts chunks and labels every token figure per chunk; the word counts stay raw.
#[test]
fn the_current_original_tools_server_is_counted_by_chunks_not_its_word_counts() {
    let out = common::tempdir("server-rockchipllama-head").join("head.rktrace");
    let fake = record_quick("rockchipllama.sse", &out);
    assert_eq!(fake.lock().unwrap().bodies.len(), 3);
    let t = common::read_trace(&out);
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.run.kind, "rockchipllama");
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
        assert_eq!((r.server_total, r.prompt_tokens), (None, None));
        assert_eq!(r.chunk_token_total(), 3);
    }
    let j = common::json_report(&out);
    assert_eq!(j["server"]["count_source"], "chunks-only");
    // Chunks are a lower bound: a token with no text sends none (here one of 4 never came).
    assert_eq!(
        (
            &j["summary"]["output_tokens_exact"],
            &j["summary"]["output_tokens_count"]
        ),
        (&serde_json::json!(false), &serde_json::json!("lower-bound"))
    );
    let r0 = &j["server"]["requests"][0];
    assert_eq!(
        (r0["tokens"].as_i64(), r0["server_total"].as_i64()),
        (Some(3), None)
    );
    let words = r0["timings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["field"] == "usage.completion_tokens")
        .unwrap();
    assert_eq!(words["raw"].as_f64(), Some(2.0));
    // The original's figures as its benchmark.py computed them through this server: it took
    // usage.completion_tokens (2 words for "Hello there!") and usage.prompt_tokens as tokens.
    let orig = &j["original"];
    assert_eq!(orig["total_output_tokens"], 6);
    assert_eq!(
        orig["output_tokens_from"],
        "the server's word count usage.completion_tokens, which the original took as tokens"
    );
    let o0 = &orig["requests"][0];
    assert_eq!(
        (o0["output_tokens"].as_i64(), o0["input_tokens"].as_i64()),
        (Some(2), Some(9))
    );
    assert_eq!(
        o0["output_tokens_from"],
        "server word count usage.completion_tokens"
    );
    let md = common::stdout(&common::run(
        &["report", "--format", "md", out.to_str().unwrap()],
        &[],
    ));
    assert!(
        md.contains("which the original took as tokens")
            && !md.contains("neither the runtime nor the server counted")
            && md.contains("| ≥ 9 |"),
        "{md}"
    );
}

/// The original tool's server accepts temperature, top_k, … and never uses them (its
/// inference_config.json, read at rkllm_init, decides): the run says so, is not VALID for
/// comparison, and `compare` calls its sampling not comparable. Any version of the server.
#[test]
fn the_original_tools_server_ignores_the_sampling_sent_and_compare_says_so() {
    let dir = common::tempdir("server-rockchipllama-sampling");
    let mut traces = Vec::new();
    for stream in ["rockchipllama.sse", "rockchipllama-65695c1.sse"] {
        let out = dir.join(format!("{stream}.rktrace"));
        record_quick(stream, &out);
        let j = common::json_report(&out);
        assert_eq!(j["server"]["sampling"], "ignored by the server");
        assert!(j["server"]["sampling_note"]
            .as_str()
            .unwrap()
            .contains("inference_config.json"));
        assert_eq!(j["verdict"]["result"], "INVALID");
        assert!(
            j["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["code"] == "server-ignores-sampling"
                    && w["invalidates_comparison"] == true)
        );
        let top_k = j["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "top_k")
            .unwrap();
        assert!(
            top_k["meaning"]
                .as_str()
                .unwrap()
                .contains("ignored by the server"),
            "{top_k}"
        );
        traces.push(out);
    }
    let o = common::run(
        &[
            "compare",
            traces[0].to_str().unwrap(),
            traces[1].to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &j["candidates"][0];
    assert_eq!(c["sampling_comparable"], false);
    assert_eq!(c["sampling_not_comparable"].as_array().unwrap().len(), 2);
    let md = common::stdout(&common::run(
        &[
            "compare",
            traces[0].to_str().unwrap(),
            traces[1].to_str().unwrap(),
        ],
        &[],
    ));
    assert!(md.contains("**Sampling not comparable**"), "{md}");
}
