//! `rkbench record --server` against a fake of Rockchip's demo server 1.2.x (`flask_server.py`)
//! on 127.0.0.1: only `POST /rkllm_chat` exists (a GET gets Flask's 405), a busy server answers
//! HTTP 503, and the answer is a cumulative character stream with no count and no end marker.
//! Checked: the protocol chosen by that evidence, the body as sent, gap-cluster counts equal to
//! the fake's tokens, the 503 waited out and recorded, and the reports labelling counts estimated.
mod common;

use serde_json::Value;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The answer's tokens: each is sent one character per message, its characters back to back,
/// tokens 20 ms apart (a decode interval).
const TOKENS: [&str; 7] = ["The", " light", "house", " guides", " ships", " 你好", "!"];

#[derive(Default)]
struct State {
    /// Answer the next POST with 503 (a generation of someone else still running).
    busy_once: bool,
    /// Answer every POST with 503.
    always_busy: bool,
    /// Every POST body, and whether it was refused as busy.
    posts: Vec<(String, bool)>,
    /// Like Rockchip's 1.2.3 server, which polls its queue every few ms: each character its
    /// own write, a token's characters 2–4 ms apart, tokens ~30 ms apart.
    polling: bool,
}

type Shared = Arc<Mutex<State>>;

fn fake(state: State) -> (String, Shared) {
    let (port, st) = common::http::serve(state, handle);
    (format!("http://127.0.0.1:{port}"), st)
}

/// A character as Python's `json.dumps` writes it (`ensure_ascii`: `\uXXXX`, surrogate pairs).
fn py_char(c: char) -> String {
    match c {
        '"' => "\\\"".into(),
        '\\' => "\\\\".into(),
        ' '..='~' => c.to_string(),
        _ => {
            let mut buf = [0u16; 2];
            c.encode_utf16(&mut buf)
                .iter()
                .map(|u| format!("\\u{u:04x}"))
                .collect()
        }
    }
}

fn handle(mut c: TcpStream, st: &Shared) -> std::io::Result<()> {
    let common::http::Request { method, path, body } = common::http::read_request(&c)?;
    let reply = common::http::reply;
    match (method.as_str(), path.as_str()) {
        ("POST", "/rkllm_chat") => {}
        (_, "/rkllm_chat") => {
            return reply(
                &mut c,
                "405 METHOD NOT ALLOWED",
                "text/html; charset=utf-8",
                "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n",
            )
        }
        _ => {
            return reply(
                &mut c,
                "404 NOT FOUND",
                "text/html; charset=utf-8",
                "<!doctype html>\n<title>404 Not Found</title>\n",
            )
        }
    }
    let (busy, polling) = {
        let mut s = st.lock().unwrap();
        let busy = s.always_busy || std::mem::take(&mut s.busy_once);
        s.posts.push((body, busy));
        (busy, s.polling)
    };
    if busy {
        return reply(
            &mut c,
            "503 SERVICE UNAVAILABLE",
            "application/json",
            "{\"message\":\"RKLLM_Server is busy! Maybe you can try again later.\",\"status\":\"error\"}\n",
        );
    }
    write!(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
    c.flush()?;
    let mut choices: Vec<String> = Vec::new();
    for token in TOKENS {
        std::thread::sleep(Duration::from_millis(if polling { 30 } else { 20 }));
        // One write for the token's messages: its characters leave microseconds apart.
        let mut out = Vec::new();
        for (k, ch) in token.chars().enumerate() {
            if polling && k > 0 {
                // Each character its own write, 2–4 ms after the one before.
                c.write_all(&std::mem::take(&mut out))?;
                c.flush()?;
                std::thread::sleep(Duration::from_millis(2 + (k as u64 % 3)));
            }
            choices.push(format!(
                "{{\"index\": 0, \"delta\": {{\"role\": \"assistant\", \"content\": \"{}\"}}, \"logprobs\": null, \"finish_reason\": null}}",
                py_char(ch)
            ));
            let msg = format!(
                "{{\"id\": \"rkllm_chat\", \"object\": \"rkllm_chat\", \"created\": null, \"choices\": [{}], \"usage\": {{\"prompt_tokens\": null, \"completion_tokens\": null, \"total_tokens\": null}}}}\n\n",
                choices.join(", ")
            );
            write!(out, "{:x}\r\n{msg}\r\n", msg.len())?;
        }
        c.write_all(&out)?;
        c.flush()?;
    }
    write!(c, "0\r\n\r\n")?;
    c.flush()
}

fn record(url: &str, dir: &std::path::Path, name: &str, extra: &[&str]) -> std::process::Output {
    let out = dir.join(name);
    let mut args = vec![
        "record",
        "-q",
        "--server",
        url,
        "--model",
        "qwen",
        "--no-telemetry",
        "--quiet-period",
        "100ms",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::run(&args, &[])
}

#[test]
fn rockchip_legacy_server_is_recorded_with_gap_cluster_counts_and_its_503_waited_out() {
    let (url, state) = fake(State {
        busy_once: true,
        ..Default::default()
    });
    let dir = common::tempdir("rkllm-chat");
    let o = record(&url, &dir, "r.rktrace", &["--suite", "quick"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let path = dir.join("r.rktrace");
    let t = common::read_trace(&path);
    let s = t.server.as_ref().expect("server records");
    assert_eq!(
        (
            s.run.kind.as_str(),
            s.run.kind_source.as_str(),
            s.run.protocol.as_str(),
            s.run.endpoint.as_str()
        ),
        ("rkllm-server", "detected", "rkllm-chat", "/rkllm_chat")
    );
    let fact = |k: &str| common::fact_value(&s.run.evidence, k);
    assert!(fact("probe GET /rkllm_chat").starts_with("HTTP 405"));
    assert!(
        fact("count gap-cluster threshold").starts_with("adaptive (each request's own threshold")
    );
    assert!(fact("sampling fixed by the server").contains("top_k 1, top_p 0.9"));
    // The run's parameters are the server's own, not rkbench's defaults.
    let p = &t.header.params;
    assert_eq!(
        (p.top_k, p.top_p, p.temperature, p.max_new_tokens),
        (1, 0.9, 0.8, -1)
    );

    let chars: usize = TOKENS.iter().map(|t| t.chars().count()).sum();
    assert_eq!(s.requests.len(), 3);
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
        assert_eq!(r.endpoint, "/rkllm_chat");
        assert_eq!(r.max_new_tokens, -1, "no cap can be sent");
        let b: Value = serde_json::from_str(&r.body).unwrap();
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["enable_thinking", "messages", "stream"]);
        assert_eq!(r.count_source.as_str(), "gap-cluster");
        assert_eq!(
            (0..r.chunks())
                .filter(|&i| r.kind(i).as_str() == "content")
                .count(),
            chars
        );
        // Gap clusters give exactly the fake's tokens.
        assert_eq!(
            r.chunk_token_total(),
            TOKENS.len() as u64,
            "{:?}",
            r.chunk_tokens
        );
        let v = t.requests.iter().find(|x| x.index == r.index).unwrap();
        assert_eq!(v.tokens.token_dt_us.len(), TOKENS.len());
        assert_eq!(v.tokens.text, TOKENS.concat().as_bytes());
        let lens: Vec<u16> = TOKENS.iter().map(|t| t.len() as u16).collect();
        assert_eq!(v.tokens.text_len, lens);
        // TTFT is the first character.
        assert_eq!(v.token_times_us()[0], r.chunk_us[0]);
    }
    // The first request met a busy server: the 503 was waited out, recorded, then sent again.
    let first = &s.requests[0];
    assert!(
        first.idle_wait.contains("1 HTTP 503 (busy) answer(s)")
            && first.idle_wait.contains("RKLLM_Server is busy"),
        "{}",
        first.idle_wait
    );
    assert!(first.idle_wait_us >= 100_000, "{}", first.idle_wait_us);
    assert!(!s.requests[1].idle_wait.contains("503"));
    let st = state.lock().unwrap();
    let refused: Vec<bool> = st.posts.iter().map(|p| p.1).collect();
    assert_eq!(refused, [true, false, false, false]);
    assert_eq!(st.posts[1].0, first.body, "the body as sent is stored");
    drop(st);

    // Every report format says the counts are estimated.
    let o = common::run(&["report", path.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let md = common::stdout(&o);
    assert!(
        md.contains("estimated: the server sends characters and no token count, so text chunks less than each request's own threshold (chosen from the gaps between its characters) apart are counted as one token (gap-cluster)"),
        "{md}"
    );
    // Characters µs apart, tokens 20 ms apart: each request's threshold is chosen (at least
    // the 1 ms floor) and listed.
    assert!(
        md.contains(
            "Gap-cluster thresholds, each chosen from the request's own gaps between characters"
        ) && md.contains("request 0: "),
        "{md}"
    );
    assert!(md.contains("sampling fixed by the server"), "{md}");
    assert!(
        md.contains("**The server was busy before these requests**")
            && md.contains("- request 0 (quick_01): 1 HTTP 503 (busy) answer(s)"),
        "{md}"
    );
    assert!(
        md.contains("count source gap-cluster, so every token figure here is estimated"),
        "{md}"
    );
    let j = common::json_report(&path);
    assert_eq!(j["server"]["count_source"], "gap-cluster");
    assert_eq!(j["server"]["count_estimated"], true);
    assert_eq!(
        j["server"]["gap_threshold_us"],
        Value::Null,
        "one per request"
    );
    assert_eq!(j["server"]["gap_threshold_rule"], "adaptive");
    for r in j["server"]["requests"].as_array().unwrap() {
        assert_eq!(r["ambiguous_gaps"]["gaps"], chars - 1);
        assert_eq!(r["gap_threshold_from"], "adaptive", "{r}");
        let g = r["gap_threshold_us"].as_u64().unwrap();
        assert!((1000..20_000).contains(&g), "{g}");
    }
    let waits: Vec<&str> = j["server"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["idle_wait"].as_str().unwrap())
        .collect();
    assert!(waits[0].contains("RKLLM_Server is busy"), "{waits:?}");
    assert!(!waits[1].contains("503"), "{waits:?}");
    let o = common::run(&["report", path.to_str().unwrap(), "--format", "html"], &[]);
    assert!(common::stdout(&o).contains("estimated: the server sends characters"));
    // The chunk CSV names the source on every row.
    let o = common::run(
        &[
            "report",
            path.to_str().unwrap(),
            "--format",
            "csv",
            "--per",
            "chunk",
        ],
        &[],
    );
    let csv = common::stdout(&o);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(
        csv.lines()
            .skip(1)
            .filter(|l| l.contains(",gap-cluster,"))
            .count(),
        3 * chars,
        "{csv}"
    );
    assert!(
        md.contains("Parameters as the server fixed them when it started (only the prompt and the thinking switch were sent)"),
        "{md}"
    );
    // The parameter table shows the server's fixed values as such.
    assert!(
        md.contains("the server's own, fixed when it started"),
        "{md}"
    );

    // Against a bare run with rkbench's sampling and the suite's caps: not comparable, and why.
    let bare = dir.join("bare.rktrace");
    let o = common::record(
        &common::fake_lib("1.3.0"),
        &bare,
        &["--suite", "quick", "--no-telemetry", "--top-k", "5"],
        &[("FAKE_RKLLM_TIME_SCALE", "0.01")],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::run(
        &["compare", bare.to_str().unwrap(), path.to_str().unwrap()],
        &[],
    );
    let md = common::stdout(&o);
    let ttft = md
        .lines()
        .find(|l| l.starts_with("| TTFT median (ms) |"))
        .unwrap_or_default();
    assert!(
        ttft.contains("not comparable: sampling differs: top_k 5 vs 1"),
        "{md}"
    );
    assert!(ttft.contains("/rkllm_chat takes no cap"), "{ttft}");
    assert!(
        ttft.contains("the server's sampling is fixed when it starts"),
        "{ttft}"
    );
    assert!(
        md.contains("estimated: the server sends characters"),
        "{md}"
    );

    // Another threshold is used and recorded (tokens stay 20 ms apart, characters µs apart).
    let o = record(
        &url,
        &dir,
        "g.rktrace",
        &["--suite", "quick", "--token-gap", "5ms", "--repeat", "1"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let t = common::read_trace(&dir.join("g.rktrace"));
    let s = t.server.as_ref().unwrap();
    assert!(s
        .run
        .evidence
        .iter()
        .any(|f| f.key == "count gap-cluster threshold"
            && f.value.starts_with("5000 us (--token-gap; ")));
    assert!(s
        .requests
        .iter()
        .all(|r| r.chunk_token_total() == TOKENS.len() as u64));
    let md = common::stdout(&common::run(
        &["report", dir.join("g.rktrace").to_str().unwrap()],
        &[],
    ));
    assert!(md.contains("less than 5000 µs apart"), "{md}");
    assert!(!md.contains("Gap-cluster thresholds, each chosen"), "{md}");
    let j = common::json_report(&dir.join("g.rktrace"));
    assert_eq!(j["server"]["gap_threshold_us"], 5000);
    assert_eq!(j["server"]["gap_threshold_rule"], "--token-gap");
    assert_eq!(
        j["server"]["requests"][0]["gap_threshold_from"],
        "--token-gap"
    );
}

/// Rockchip's 1.2.3 server polls its queue every few ms: a token's characters leave 2–4 ms
/// apart, tokens ~30 ms. The threshold chosen from each request's own gaps counts the fake's
/// tokens exactly; the old fixed 1 ms (now only as `--token-gap 1ms`) counted characters.
#[test]
fn a_polling_servers_characters_are_counted_as_tokens_by_the_streams_own_threshold() {
    let (url, _) = fake(State {
        polling: true,
        ..Default::default()
    });
    let dir = common::tempdir("rkllm-chat-polling");
    let chars: usize = TOKENS.iter().map(|t| t.chars().count()).sum();
    let o = record(&url, &dir, "a.rktrace", &["--suite", "quick"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let path = dir.join("a.rktrace");
    let t = common::read_trace(&path);
    let s = t.server.as_ref().unwrap();
    for r in &s.requests {
        assert_eq!(r.count_source.as_str(), "gap-cluster");
        assert_eq!(
            r.chunk_token_total(),
            TOKENS.len() as u64,
            "{:?} {:?}",
            r.chunk_tokens,
            r.chunk_us
        );
    }
    let j = common::json_report(&path);
    for r in j["server"]["requests"].as_array().unwrap() {
        assert_eq!(r["tokens"], TOKENS.len(), "{r}");
        assert_eq!(r["gap_threshold_from"], "adaptive", "{r}");
        let g = r["gap_threshold_us"].as_u64().unwrap();
        assert!((4_000..30_000).contains(&g), "{g}");
    }
    // The old fixed default splits each token into its characters.
    let o = record(
        &url,
        &dir,
        "f.rktrace",
        &["--suite", "quick", "--token-gap", "1ms"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let t = common::read_trace(&dir.join("f.rktrace"));
    for r in &t.server.as_ref().unwrap().requests {
        assert!(
            r.chunk_token_total() > TOKENS.len() as u64 + 10,
            "{} of {chars} characters",
            r.chunk_token_total()
        );
    }
}

#[test]
fn a_server_busy_past_the_idle_timeout_is_never_measured_and_unsendable_flags_are_refused() {
    let (url, state) = fake(State {
        always_busy: true,
        ..Default::default()
    });
    let dir = common::tempdir("rkllm-chat-busy");
    let suite = common::suite_file(
        &dir,
        r#"{"name":"one","tests":[{"id":"a","prompt":"hello"}]}"#,
    );
    let o = record(
        &url,
        &dir,
        "b.rktrace",
        &[
            "--suite",
            suite.to_str().unwrap(),
            "--idle-timeout",
            "600ms",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let t = common::read_trace(&dir.join("b.rktrace"));
    let r = &t.server.as_ref().unwrap().requests[0];
    assert_eq!(r.status.as_str(), "error");
    assert_eq!(r.http_status, 503);
    assert!(r.detail.contains("stayed busy"), "{}", r.detail);
    assert!(r.detail.contains("--idle-timeout 600ms"), "{}", r.detail);
    assert!(r.idle_wait.contains("HTTP 503 (busy)"), "{}", r.idle_wait);
    assert!(r.idle_wait_us >= 600_000, "{}", r.idle_wait_us);
    assert_eq!(r.chunk_token_total(), 0);
    assert!(state.lock().unwrap().posts.len() >= 2, "retried");

    // A server that is not Rockchip's sends no characters to cluster: --token-gap is refused.
    let (port, _) = common::http::serve((), |mut c, _| {
        common::http::read_request(&c)?;
        write!(
            c,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    });
    let other = format!("http://127.0.0.1:{port}");
    let o = record(&other, &dir, "d.rktrace", &["--token-gap", "2ms"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    assert!(common::stderr(&o).contains("--token-gap applies to Rockchip's servers"));

    // Sampling and caps cannot reach /rkllm_chat: asking for them is an error, not a label.
    let o = record(&url, &dir, "c.rktrace", &["--top-k", "5"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    assert!(
        err.contains("--top-k cannot be sent to Rockchip's /rkllm_chat"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.join("c.rktrace").exists());
}
