//! `rkbench record --server` against an in-process fake llama-server on 127.0.0.1: detection,
//! the body as sent, per-chunk counts, a deadline mid-stream keeping its chunks, and the next
//! request waiting until the server is idle (the fake keeps generating after a disconnect).
mod common;

use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    /// The fake is generating until then (also after the client went away).
    busy_until: Option<Instant>,
    /// (arrival, body) of every completion request.
    posts: Vec<(Instant, String)>,
    /// When a client disconnected mid-stream, and until when generation went on.
    abandoned: Vec<Instant>,
    slots_polls: u32,
}

type Shared = Arc<Mutex<State>>;

/// A llama-server look-alike: `/props`, `/slots`, and a chunked SSE stream with per-chunk
/// `timings.predicted_n`, one 3-token chunk, usage, `[DONE]`. A prompt containing "slow" streams
/// 20 chunks 100 ms apart.
fn fake_llama_server() -> (u16, Shared) {
    common::http::serve(State::default(), handle)
}

fn handle(mut c: TcpStream, st: &Shared) -> std::io::Result<()> {
    let common::http::Request { method, path, body } = common::http::read_request(&c)?;
    let json = |c: &mut TcpStream, status: &str, b: &str| {
        common::http::reply(c, status, "application/json", b)
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/props") => json(
            &mut c,
            "200 OK",
            r#"{"build_info":"b9999-fake","n_ctx":1024}"#,
        ),
        ("GET", "/slots") => {
            let mut s = st.lock().unwrap();
            s.slots_polls += 1;
            let busy = s.busy_until.is_some_and(|t| Instant::now() < t);
            json(
                &mut c,
                "200 OK",
                &format!(r#"[{{"id":0,"is_processing":{busy}}}]"#),
            )
        }
        ("POST", "/v1/chat/completions") => stream(c, st, body),
        ("POST", "/v1/completions") => completions(c, st, body),
        _ => json(&mut c, "404 Not Found", r#"{"error":"not found"}"#),
    }
}

fn stream(mut c: TcpStream, st: &Shared, body: String) -> std::io::Result<()> {
    let slow = body.contains("slow");
    let (n, gap) = if slow {
        (20, Duration::from_millis(100))
    } else {
        (6, Duration::from_millis(5))
    };
    {
        let mut s = st.lock().unwrap();
        s.posts.push((Instant::now(), body));
        s.busy_until = Some(Instant::now() + gap * n + Duration::from_millis(50));
    }
    write!(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
    let send = |c: &mut TcpStream, data: &str| -> std::io::Result<()> {
        let ev = format!("data: {data}\n\n");
        write!(c, "{:x}\r\n{ev}\r\n", ev.len())?;
        c.flush()
    };
    send(
        &mut c,
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}"#,
    )?;
    let mut predicted = 0;
    for i in 0..n {
        std::thread::sleep(gap);
        // Chunk 2 holds three tokens (a character completed late).
        predicted += if i == 2 { 3 } else { 1 };
        let r = send(
            &mut c,
            &format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"t{i} "}},"finish_reason":null}}],"timings":{{"predicted_n":{predicted},"predicted_ms":{}}}}}"#,
                (i + 1) * 5
            ),
        );
        if r.is_err() {
            // The client went away: generation goes on (as on rkllama or Rockchip's server).
            let left = gap * (n - i);
            let mut s = st.lock().unwrap();
            s.abandoned.push(Instant::now() + left);
            s.busy_until = Some(Instant::now() + left + Duration::from_millis(300));
            return Ok(());
        }
    }
    send(
        &mut c,
        &format!(
            r#"{{"choices":[{{"index":0,"delta":{{}},"finish_reason":"length"}}],"timings":{{"predicted_n":{predicted},"predicted_ms":{},"prompt_n":5,"prompt_ms":3.0,"cache_n":0}}}}"#,
            n * 5
        ),
    )?;
    send(
        &mut c,
        &format!(
            r#"{{"choices":[],"usage":{{"completion_tokens":{predicted},"prompt_tokens":5}}}}"#
        ),
    )?;
    send(&mut c, "[DONE]")?;
    write!(c, "0\r\n\r\n")?;
    st.lock().unwrap().busy_until = None;
    Ok(())
}

/// llama-server's `/v1/completions` stream: `text` chunks, a running `predicted_n`, a finish
/// chunk; no prompt count (an older build, or a proxy that drops `usage` and `timings`).
fn completions(mut c: TcpStream, st: &Shared, body: String) -> std::io::Result<()> {
    st.lock().unwrap().posts.push((Instant::now(), body));
    let mut sse = String::new();
    for i in 0..3 {
        sse.push_str(&format!(
            "data: {{\"choices\":[{{\"index\":0,\"text\":\"t{i} \",\"finish_reason\":null}}],\"timings\":{{\"predicted_n\":{}}}}}\n\n",
            i + 1
        ));
    }
    sse.push_str("data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n");
    common::http::reply(&mut c, "200 OK", "text/event-stream", &sse)
}

#[test]
fn record_server_deadline_keeps_chunks_and_waits_for_idle() {
    let (port, state) = fake_llama_server();
    let dir = common::tempdir("server-record");
    let suite = common::suite_file(
        &dir,
        r#"{"name":"srv","tests":[
            {"id":"fast","prompt":"a fast answer please","max_new_tokens":16},
            {"id":"slow","prompt":"a slow answer please","max_new_tokens":64,"timeout":"700ms"}
        ]}"#,
    );
    let out = dir.join("srv.rktrace");
    let o = common::run(
        &[
            "record",
            "-q",
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--model",
            "tiny",
            "--suite",
            suite.to_str().unwrap(),
            "--repeat",
            "2",
            "--out",
            out.to_str().unwrap(),
            "--sample-interval",
            "50ms",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = common::read_trace(&out);
    let s = t.server.as_ref().expect("server records");
    assert_eq!(s.run.kind, "llama-server");
    assert_eq!(s.run.kind_source, "detected");
    assert_eq!(s.run.version, "b9999-fake");
    assert!(s
        .run
        .evidence
        .iter()
        .any(|f| f.key == "probe GET /props" && f.value.contains("build_info")));
    assert!(s.run.local);
    assert_eq!(
        s.run.server_pid,
        std::process::id(),
        "found from the listening socket"
    );
    assert_eq!(s.requests.len(), 4);
    assert_eq!(t.requests.len(), 4);
    // The server process's memory and CPU time on the chunks' clock.
    let rss: Vec<i64> = t
        .telemetry
        .iter()
        .flat_map(|b| b.series.iter().filter(|s| s.key == "server.rss"))
        .flat_map(|s| s.values.iter().copied())
        .filter(|&v| v != i64::MIN)
        .collect();
    let keys: Vec<&str> = t
        .telemetry
        .iter()
        .flat_map(|b| b.series.iter().map(|s| s.key.as_str()))
        .collect();
    assert!(
        !rss.is_empty() && rss.iter().all(|&v| v > 0),
        "{rss:?} {keys:?} {}",
        t.telemetry.len()
    );
    let ids: Vec<&str> = s.requests.iter().map(|r| r.test_id.as_str()).collect();
    assert_eq!(ids, ["fast", "slow", "fast", "slow"]);

    for r in s.requests.iter().filter(|r| r.test_id == "fast") {
        assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
        assert_eq!(r.count_source.as_str(), "server-per-chunk");
        assert_eq!(r.server_total, Some(8));
        assert_eq!(r.chunk_token_total(), 8, "3-token chunk attributed");
        assert_eq!(r.unattributed, 0);
        assert_eq!(r.http_status, 200);
        assert!(r.headers_us.is_some() && r.first_byte_us.is_some() && r.done_us.is_some());
        let b: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(b["cache_prompt"], false);
        assert_eq!(b["max_tokens"], 16);
        assert_eq!(b["max_completion_tokens"], 16);
        assert_eq!(b["stream_options"]["include_usage"], true);
        // The token view the reports use: 8 tokens.
        let v = t.requests.iter().find(|x| x.index == r.index).unwrap();
        assert_eq!(v.tokens.token_dt_us.len(), 8);
    }
    for r in s.requests.iter().filter(|r| r.test_id == "slow") {
        assert_eq!(r.status.as_str(), "timeout", "{}", r.detail);
        let content = content_chunks(r);
        assert!((3..20).contains(&content), "partial chunks kept: {content}");
        assert!(r.end_us >= 700_000 && r.end_us < 2_000_000, "{}", r.end_us);
        assert!(r.finish_reason.is_empty());
    }
    // The sent bodies are the stored ones.
    let st = state.lock().unwrap();
    assert_eq!(st.posts.len(), 4);
    for (p, r) in st.posts.iter().zip(&s.requests) {
        assert_eq!(p.1, r.body);
    }
    // After the first timeout the fake kept generating; the next request did not start before
    // it was idle, and the wait is recorded.
    assert!(!st.abandoned.is_empty());
    let busy_end = st.abandoned[0];
    assert!(st.posts[2].0 >= busy_end, "request sent into a busy server");
    let third = &s.requests[2];
    assert!(third.idle_wait_us >= 300_000, "{}", third.idle_wait_us);
    assert!(third.idle_wait.contains("/slots"), "{}", third.idle_wait);
    drop(st);

    // Reports read the server trace.
    let o = common::run(&["report", out.to_str().unwrap(), "--format", "json"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn record_server_refuses_bad_urls_and_absent_servers() {
    let dir = common::tempdir("server-bad");
    let out = dir.join("x.rktrace");
    let o = common::run(
        &[
            "record",
            "--server",
            "https://127.0.0.1:1",
            "--model",
            "m",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no TLS"));
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = common::run(
        &[
            "record",
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--model",
            "m",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no HTTP server answers"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!out.exists());
    let o = common::run(
        &[
            "record",
            "--server",
            "http://127.0.0.1:1",
            "--server-kind",
            "vllm",
            "--model",
            "m",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = common::run(
        &[
            "record",
            "--server",
            "http://127.0.0.1:1",
            "--lib",
            "x.so",
            "--model",
            "m",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn compare_states_the_servers_overhead_or_why_not() {
    let (port, _state) = fake_llama_server();
    let dir = common::tempdir("server-compare");
    let suite = common::suite_file(
        &dir,
        r#"{"name":"srv","tests":[{"id":"fast","prompt":"a fast answer please","max_new_tokens":16}]}"#,
    );
    let suite = suite.to_str().unwrap();
    let bare = dir.join("bare.rktrace");
    let o = common::record(
        &common::fake_lib("1.3.0"),
        &bare,
        &["--suite", suite, "--no-telemetry"],
        &[("FAKE_RKLLM_TIME_SCALE", "0.01")],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let url = format!("http://127.0.0.1:{port}");
    let server = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = common::server_record(&url, suite, &args);
        assert!(o.status.success(), "{}", common::stderr(&o));
    };
    let same = dir.join("same.rktrace");
    server(&same, &[]);
    let o = common::run(
        &["compare", bare.to_str().unwrap(), same.to_str().unwrap()],
        &[],
    );
    let md = common::stdout(&o);
    assert!(md.contains("## Server overhead"), "{md}");
    let ttft = md
        .lines()
        .find(|l| l.starts_with("| TTFT median (ms) |"))
        .unwrap();
    assert!(ttft.contains(" %)"), "an overhead, not a refusal: {ttft}");
    assert!(!md.contains("not comparable"), "{md}");

    let other = dir.join("other.rktrace");
    server(&other, &["--top-k", "5"]);
    let o = common::run(
        &["compare", bare.to_str().unwrap(), other.to_str().unwrap()],
        &[],
    );
    let md = common::stdout(&o);
    let ttft = md
        .lines()
        .find(|l| l.starts_with("| TTFT median (ms) |"))
        .unwrap();
    assert!(
        ttft.contains("not comparable: sampling differs: top_k 1 vs 5"),
        "{ttft}"
    );
}

#[test]
fn a_killed_recorder_loses_no_chunk_already_checkpointed() {
    let (port, _state) = fake_llama_server();
    let dir = common::tempdir("server-kill");
    let suite = slow_suite(&dir);
    let out = dir.join("k.rktrace");
    let mut child = common::server_command(
        &format!("http://127.0.0.1:{port}"),
        suite.to_str().unwrap(),
        &[
            "--checkpoint-interval",
            "50ms",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    // The slow stream sends a chunk every 100 ms; kill the recorder in the middle of it.
    std::thread::sleep(Duration::from_millis(900));
    child.kill().unwrap();
    child.wait().unwrap();
    let t = common::read_trace(&out);
    assert!(t.end.is_none());
    let s = t.server.as_ref().expect("server records");
    assert_eq!(
        s.requests.len(),
        1,
        "the in-flight request comes back from the journal"
    );
    let r = &s.requests[0];
    assert_eq!(r.status.as_str(), "in-flight");
    let content = content_chunks(r);
    assert!(content >= 3, "checkpointed chunks kept: {content}");
    assert_eq!(t.requests.len(), 1);
    assert!(!t.requests[0].tokens.token_dt_us.is_empty());
}

#[test]
fn ctrl_c_closes_the_stream_keeps_its_chunks_and_finishes_the_trace() {
    let (port, _state) = fake_llama_server();
    let dir = common::tempdir("server-int");
    let suite = slow_suite(&dir);
    let out = dir.join("i.rktrace");
    let o = interrupted_record(
        port,
        &suite,
        &["--repeat", "3", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(130), "{}", common::stderr(&o));
    let t = common::read_trace(&out);
    assert_eq!(
        t.end.as_ref().map(|e| e.status.as_str()),
        Some("interrupted")
    );
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.requests.len(), 1, "no request after the interrupt");
    let r = &s.requests[0];
    assert_eq!(r.status.as_str(), "interrupted");
    let content = content_chunks(r);
    assert!(content >= 3, "chunks so far kept: {content}");
}

/// `record --server` of `suite` against the fake on `port` with `extra` flags, sent SIGINT
/// 700 ms in (inside the first "slow" stream, which lasts 2 s); its output once it ended.
fn interrupted_record(port: u16, suite: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let url = format!("http://127.0.0.1:{port}");
    let child = common::server_command(&url, suite.to_str().unwrap(), extra)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    common::kill("INT", child.id());
    child.wait_with_output().unwrap()
}

/// A suite file of one "slow" test (the fake streams a chunk every 100 ms for 2 s).
fn slow_suite(dir: &std::path::Path) -> std::path::PathBuf {
    common::suite_file(
        dir,
        r#"{"name":"srv","tests":[{"id":"slow","prompt":"a slow answer please","max_new_tokens":64}]}"#,
    )
}

/// The chunks of `r` that carried content.
fn content_chunks(r: &rkbench::trace::server::ServerRequest) -> usize {
    (0..r.chunks())
        .filter(|&i| r.kind(i).as_str() == "content")
        .count()
}

/// A suite file of fast tests (the fake streams 8 tokens in 6 chunks for each).
fn fast_suite(dir: &std::path::Path, ids: &[&str]) -> String {
    let tests: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","prompt":"a fast answer please"}}"#))
        .collect();
    let p = dir.join("fast.json");
    std::fs::write(
        &p,
        format!(r#"{{"name":"srv","tests":[{}]}}"#, tests.join(",")),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_server_sweep_records_one_trace_per_combination_with_its_values_sent() {
    let (port, state) = fake_llama_server();
    let dir = common::tempdir("server-sweep");
    let suite = fast_suite(&dir, &["a"]);
    let sweep = dir.join("sweep");
    let url = format!("http://127.0.0.1:{port}");
    let o = common::run(
        &common::server_args(
            &url,
            &suite,
            &[
                "--temperature",
                "0.5",
                "--sweep",
                "temperature=0.2,0.8",
                "--sweep",
                "max-new-tokens=4,8",
                "--out",
                sweep.to_str().unwrap(),
            ],
        ),
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    assert!(err.contains("rkbench: sweep 4/4: "), "{err}");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(sweep.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["axes"],
        serde_json::json!(["temperature", "max-new-tokens"])
    );
    let runs = index["runs"].as_array().unwrap();
    let combos: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["params"]["temperature"].as_str().unwrap(),
                r["params"]["max-new-tokens"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        combos,
        [("0.2", "4"), ("0.2", "8"), ("0.8", "4"), ("0.8", "8")]
    );
    let mut bodies = Vec::new();
    for r in runs {
        assert_eq!(r["exit_code"], 0);
        let (temp, cap) = (
            r["params"]["temperature"].as_str().unwrap(),
            r["params"]["max-new-tokens"].as_str().unwrap(),
        );
        let path = sweep.join(r["trace"].as_str().unwrap());
        let t = common::read_trace(&path);
        assert_eq!(t.end.as_ref().map(|e| e.status.as_str()), Some("complete"));
        // The header records this combination's own command line.
        let cl = t.header.command_line.join(" ");
        assert!(
            cl.contains(&format!(
                "--temperature {temp} --max-new-tokens {cap} --out {}",
                path.display()
            )),
            "{cl}"
        );
        assert!(!cl.contains("--sweep") && !cl.contains("0.5"), "{cl}");
        assert_eq!(t.header.params.temperature, temp.parse::<f32>().unwrap());
        assert_eq!(t.header.params.max_new_tokens, cap.parse::<i32>().unwrap());
        let s = t.server.as_ref().expect("server records");
        assert_eq!(s.requests.len(), 1);
        let req = &s.requests[0];
        assert_eq!(req.status.as_str(), "ok", "{}", req.detail);
        let b: Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(b["temperature"].to_string(), temp, "{}", req.body);
        assert_eq!(b["max_tokens"].to_string(), cap);
        assert_eq!(b["max_completion_tokens"].to_string(), cap);
        assert_eq!(req.max_new_tokens, cap.parse::<i32>().unwrap());
        bodies.push(req.body.clone());
    }
    // What the server received is what each trace stores, in sweep order.
    let st = state.lock().unwrap();
    let posted: Vec<&String> = st.posts.iter().map(|p| &p.1).collect();
    assert_eq!(posted, bodies.iter().collect::<Vec<_>>());
    drop(st);

    let o = common::run(&["report", sweep.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let md = common::stdout(&o);
    assert!(
        md.contains("| temperature | max-new-tokens | ok/requests |"),
        "{md}"
    );
    assert_eq!(
        md.lines().filter(|l| l.contains("| 1/1 |")).count(),
        4,
        "{md}"
    );
    for (temp, cap) in combos {
        assert!(
            md.lines()
                .any(|l| l.starts_with(&format!("| {temp} | {cap} | 1/1 |"))),
            "{temp} {cap}: {md}"
        );
    }
}

#[test]
fn a_server_sweep_of_a_server_setting_is_refused() {
    let (port, state) = fake_llama_server();
    let dir = common::tempdir("server-sweep-threads");
    let sweep = dir.join("sweep");
    let url = format!("http://127.0.0.1:{port}");
    for (key, values) in [("threads", "2,4"), ("max-context-len", "1024,2048")] {
        let o = common::run(
            &[
                "record",
                "--server",
                &url,
                "--model",
                "tiny",
                "--sweep",
                &format!("{key}={values}"),
                "--out",
                sweep.to_str().unwrap(),
            ],
            &[],
        );
        let err = refusal(&o);
        assert!(
            err.contains(&format!(
                "--sweep {key}: with --server, {key} is the server's own setting, fixed when it started, and no request can carry it"
            )),
            "{err}"
        );
        assert!(
            err.contains("temperature"),
            "names what can be swept: {err}"
        );
    }
    // The flag itself is the server's too.
    let o = common::run(
        &[
            "record",
            "--server",
            &url,
            "--model",
            "tiny",
            "--threads",
            "2",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(common::stderr(&o).contains("--threads is not available with --server"));
    assert!(!sweep.exists());
    assert!(state.lock().unwrap().posts.is_empty(), "nothing was sent");
}

#[test]
fn min_requests_repeats_the_suite_against_a_server() {
    let (port, state) = fake_llama_server();
    let dir = common::tempdir("server-min");
    let suite = fast_suite(&dir, &["a", "b"]);
    let out = dir.join("m.rktrace");
    let o = common::run(
        &common::server_args(
            &format!("http://127.0.0.1:{port}"),
            &suite,
            &[
                "--warmup",
                "1",
                "--min-requests",
                "5",
                "--out",
                out.to_str().unwrap(),
            ],
        ),
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    assert!(
        err.contains("[6/6]"),
        "progress counts the extra requests: {err}"
    );
    let t = common::read_trace(&out);
    let s = t.server.as_ref().unwrap();
    let got: Vec<(&str, u32, bool)> = s
        .requests
        .iter()
        .map(|r| (r.test_id.as_str(), r.repeat_index, r.warmup))
        .collect();
    // One warm-up (not counted), then 5 measured: the 2-test suite repeated.
    assert_eq!(
        got,
        [
            ("a", 0, true),
            ("a", 0, false),
            ("b", 0, false),
            ("a", 1, false),
            ("b", 1, false),
            ("a", 2, false)
        ]
    );
    assert!(s.requests.iter().all(|r| r.status.as_str() == "ok"));
    assert_eq!(state.lock().unwrap().posts.len(), 6);
    let end = t.end.unwrap();
    assert_eq!(end.status.as_str(), "complete");
    assert_eq!(end.requests, 6);
    assert_eq!(
        end.detail,
        "ran 3 requests past the plan, repeating the suite's measured requests, to reach --min-requests 5"
    );
    assert!(
        err.contains(&end.detail),
        "the progress says why too: {err}"
    );
}

#[test]
fn max_duration_stops_a_server_run_but_not_before_min_requests() {
    let (port, _state) = fake_llama_server();
    let dir = common::tempdir("server-maxdur");
    let suite = fast_suite(&dir, &["a", "b"]);
    let url = format!("http://127.0.0.1:{port}");
    let record = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut args = vec![
            "--repeat",
            "5",
            "--max-duration",
            "1ms",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = common::server_record(&url, &suite, &args);
        assert!(o.status.success(), "{}", common::stderr(&o));
        common::read_trace(&out)
    };
    // The plan has 10 requests; the duration is spent at once, but 3 measured requests run.
    let t = record("both.rktrace", &["--min-requests", "3"]);
    let ids: Vec<&str> = t.requests.iter().map(|r| r.test_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "a"]);
    let end = t.end.unwrap();
    assert_eq!(end.status.as_str(), "complete");
    assert!(
        end.detail.starts_with("stopped after ")
            && end
                .detail
                .ends_with("(--max-duration; the 3 measured requests of --min-requests done)"),
        "{}",
        end.detail
    );
    // Alone, --max-duration stops before the next request.
    let t = record("dur.rktrace", &[]);
    assert!(t.requests.len() < 10, "{}", t.requests.len());
    assert!(t.end.unwrap().detail.ends_with("(--max-duration)"));
}

#[test]
fn ctrl_c_ends_a_server_sweep_after_the_combination_in_flight() {
    let (port, state) = fake_llama_server();
    let dir = common::tempdir("server-sweep-int");
    let suite = common::suite_file(
        &dir,
        r#"{"name":"srv","tests":[{"id":"slow","prompt":"a slow answer please"}]}"#,
    );
    let sweep = dir.join("sweep");
    let o = interrupted_record(
        port,
        &suite,
        &["--sweep", "top-k=1,5,9", "--out", sweep.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(130), "{}", common::stderr(&o));
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(sweep.join("index.json")).unwrap()).unwrap();
    let runs = index["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "no combination after the interrupt: {index}");
    assert_eq!(runs[0]["exit_code"], 130);
    let t = common::read_trace(&sweep.join(runs[0]["trace"].as_str().unwrap()));
    assert_eq!(
        t.end.as_ref().map(|e| e.status.as_str()),
        Some("interrupted")
    );
    assert_eq!(
        std::fs::read_dir(&sweep).unwrap().count(),
        2,
        "one trace and the index"
    );
    assert_eq!(state.lock().unwrap().posts.len(), 1);
}

/// A llama-server whose `/slots` says it is busy for the whole `--idle-timeout`: the request is
/// never sent (an error saying why), and the run goes on to its end.
#[test]
fn a_server_that_stays_busy_is_never_sent_a_request() {
    let (port, state) = fake_llama_server();
    state.lock().unwrap().busy_until = Some(Instant::now() + Duration::from_secs(600));
    let dir = common::tempdir("server-busy");
    let suite = fast_suite(&dir, &["a"]);
    let out = dir.join("busy.rktrace");
    let o = common::server_record(
        &format!("http://127.0.0.1:{port}"),
        &suite,
        &["--idle-timeout", "300ms", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let st = state.lock().unwrap();
    assert!(st.posts.is_empty(), "a request was sent into a busy server");
    assert!(st.slots_polls >= 2, "{}", st.slots_polls);
    let t = common::read_trace(&out);
    let r = &t.server.as_ref().unwrap().requests[0];
    assert_eq!(r.status.as_str(), "error");
    assert!(
        r.detail.starts_with(
            "not sent: the server was still busy after --idle-timeout 300ms (/slots still busy"
        ),
        "{}",
        r.detail
    );
    assert_eq!((r.chunks(), r.http_status), (0, 0));
}

/// A full disk (here the file-size limit) mid-run: exit 28, one line saying what the trace and
/// the journal kept; the trace verifies and reports.
#[test]
fn a_full_disk_keeps_a_valid_server_trace_and_says_what_was_kept() {
    let (port, _state) = fake_llama_server();
    let dir = common::tempdir("server-full");
    let ids: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let suite = fast_suite(&dir, &ids.iter().map(String::as_str).collect::<Vec<_>>());
    let out = dir.join("full.rktrace");
    // bash counts `ulimit -f` in 1024-byte blocks: room for the header and a few requests.
    let script = r#"ulimit -f 8; exec "$RKB" record -q --server "$URL" --model tiny --suite "$SUITE" --no-telemetry --quiet-period 1ms --out "$OUT""#;
    let o = std::process::Command::new("bash")
        .args(["-c", script])
        .env("RKB", common::bin())
        .env("URL", format!("http://127.0.0.1:{port}"))
        .env("SUITE", &suite)
        .env("OUT", &out)
        .output()
        .unwrap();
    let e = common::stderr(&o);
    assert_eq!(o.status.code(), Some(28), "{e}");
    assert!(
        e.contains("kept:") && e.contains("finished requests") && e.contains(".journal"),
        "{e}"
    );
    let v = common::run(&["verify", out.to_str().unwrap()], &[]);
    assert_eq!(v.status.code(), Some(0), "{}", common::stdout(&v));
    let t = common::read_trace(&out);
    assert_eq!(t.damage, None, "the torn frame was cut off");
    assert!(t.end.is_none());
    let s = t.server.as_ref().unwrap();
    assert!(
        !s.requests.is_empty() && s.requests.len() < 20,
        "{}",
        s.requests.len()
    );
    let r = common::run(&["report", out.to_str().unwrap()], &[]);
    assert_eq!(r.status.code(), Some(0), "{}", common::stderr(&r));
}

/// A whole llama-server answer of one token: text with its running count, finish, `[DONE]`.
const ONE_TOKEN_STREAM: &str =
    "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"timings\":{\"predicted_n\":1}}\n\n\
     data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
     data: [DONE]\n\n";

/// A llama-server that answers two completions and then exits: its port closes.
fn server_that_dies_after_two_answers() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut answered = 0;
        for mut c in l.incoming().flatten() {
            let Ok(req) = common::http::read_request(&c) else {
                continue;
            };
            let _ = match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/props") => common::http::reply(
                    &mut c,
                    "200 OK",
                    "application/json",
                    r#"{"build_info":"b1-dies"}"#,
                ),
                ("GET", "/slots") => common::http::reply(
                    &mut c,
                    "200 OK",
                    "application/json",
                    r#"[{"id":0,"is_processing":false}]"#,
                ),
                ("POST", _) => {
                    answered += 1;
                    common::http::reply(&mut c, "200 OK", "text/event-stream", ONE_TOKEN_STREAM)
                }
                _ => common::http::reply(&mut c, "404 Not Found", "application/json", "{}"),
            };
            if answered == 2 {
                return; // the listener is dropped: connections are refused from now on
            }
        }
    });
    port
}

#[test]
fn a_server_that_stops_answering_ends_the_run_as_crashed_with_every_answer_kept() {
    let port = server_that_dies_after_two_answers();
    let dir = common::tempdir("server-dies");
    let out = dir.join("dies.rktrace");
    let o = common::server_record(
        &format!("http://127.0.0.1:{port}"),
        "quick",
        &["--repeat", "5", "--out", out.to_str().unwrap()],
    );
    // Not 13 more refused requests: the run ends at the first, with exit 7 (crashed).
    assert_eq!(o.status.code(), Some(7), "{}", common::stderr(&o));
    let t = common::read_trace(&out);
    let end = t.end.as_ref().unwrap();
    assert_eq!(end.status.as_str(), "crashed");
    assert!(
        end.detail
            .contains("the server stopped answering at request 2"),
        "{}",
        end.detail
    );
    let s = t.server.as_ref().unwrap();
    let statuses: Vec<&str> = s.requests.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "ok", "error"]);
    assert!(
        s.requests[2].detail.contains("refused"),
        "{}",
        s.requests[2].detail
    );
    // The report says how the run ended.
    let md = common::stdout(&common::run(&["report", out.to_str().unwrap()], &[]));
    assert!(md.contains("Run ended: crashed"), "{md}");
}

/// A llama-server started with `--api-key`: every route wants `Authorization: Bearer <key>`.
fn server_with_api_key(key: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Read};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&h);
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let authorised = head.contains(&format!("Authorization: Bearer {key}\r\n"));
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let _ = match (authorised, path.as_str()) {
                (false, _) => common::http::reply(
                    &mut c,
                    "401 Unauthorized",
                    "application/json",
                    r#"{"error":{"message":"Invalid API Key","code":401}}"#,
                ),
                (true, "/props") => common::http::reply(
                    &mut c,
                    "200 OK",
                    "application/json",
                    r#"{"build_info":"b1-key"}"#,
                ),
                (true, "/slots") => common::http::reply(
                    &mut c,
                    "200 OK",
                    "application/json",
                    r#"[{"id":0,"is_processing":false}]"#,
                ),
                (true, "/v1/chat/completions") => {
                    common::http::reply(&mut c, "200 OK", "text/event-stream", ONE_TOKEN_STREAM)
                }
                (true, _) => common::http::reply(&mut c, "404 Not Found", "application/json", "{}"),
            };
        }
    });
    port
}

#[test]
fn a_servers_api_key_comes_from_the_environment_and_is_never_recorded() {
    let key = "k3y-never-in-a-trace";
    let url = format!("http://127.0.0.1:{}", server_with_api_key(key));
    let dir = common::tempdir("server-api-key");
    // Without the key: one line saying what to do, and each request's error says it too.
    let without = dir.join("without.rktrace");
    let o = common::server_command(&url, "quick", &["--out", without.to_str().unwrap()])
        .env_remove("RKBENCH_API_KEY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    let t = common::read_trace(&without);
    let s = t.server.as_ref().unwrap();
    assert!(s.requests.iter().all(|r| r.status.as_str() == "error"
        && r.detail.contains("HTTP 401")
        && r.detail.contains("set RKBENCH_API_KEY")));
    // With it: detected by /props behind the key, every request ok, the key in no file.
    let with = dir.join("with.rktrace");
    let o = common::server_command(&url, "quick", &["--out", with.to_str().unwrap()])
        .env("RKBENCH_API_KEY", key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    let t = common::read_trace(&with);
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.run.kind, "llama-server");
    assert!(s.requests.iter().all(|r| r.status.as_str() == "ok"));
    for f in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()));
    }
}

/// A server (or a proxy before it) that echoes the API key: in `/props`' build string, split
/// between two writes of an SSE content chunk, and in a 401 body for a prompt saying "deny".
fn server_echoing_the_key(key: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let Ok(req) = common::http::read_request(&c) else {
                continue;
            };
            let _ = match req.path.as_str() {
                "/props" => common::http::reply(
                    &mut c,
                    "200 OK",
                    "application/json",
                    &format!(r#"{{"build_info":"b1-{key}"}}"#),
                ),
                "/slots" => common::http::reply(
                    &mut c,
                    "200 OK",
                    "application/json",
                    r#"[{"id":0,"is_processing":false}]"#,
                ),
                "/v1/chat/completions" if req.body.contains("deny") => common::http::reply(
                    &mut c,
                    "401 Unauthorized",
                    "application/json",
                    &format!(r#"{{"error":"key {key} is not valid here"}}"#),
                ),
                "/v1/chat/completions" => (|| {
                    let (a, b) = key.split_at(key.len() / 2);
                    write!(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")?;
                    write!(
                        c,
                        "data: {{\"choices\":[{{\"delta\":{{\"content\":\"you sent {a}"
                    )?;
                    c.flush()?;
                    std::thread::sleep(Duration::from_millis(30));
                    write!(c, "{b}\"}}}}],\"timings\":{{\"predicted_n\":3}}}}\n\n")?;
                    write!(c, "data: {{\"choices\":[{{\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n")
                })(),
                _ => common::http::reply(&mut c, "404 Not Found", "application/json", "{}"),
            };
        }
    });
    port
}

#[test]
fn an_api_key_the_server_echoes_is_redacted_from_everything_recorded_or_printed() {
    let key = "sk-echoed-0123456789";
    let marker = "[REDACTED:RKBENCH_API_KEY]";
    let url = format!("http://127.0.0.1:{}", server_echoing_the_key(key));
    let dir = common::tempdir("server-api-key-echo");
    let suite = common::suite_file(
        &dir,
        r#"{"name":"srv","tests":[{"id":"echo","prompt":"repeat my key"},{"id":"deny","prompt":"deny me"}]}"#,
    );
    let out = dir.join("t.rktrace");
    let o = std::process::Command::new(common::bin())
        .args(common::server_args(
            &url,
            suite.to_str().unwrap(),
            &["--out", out.to_str().unwrap()],
        ))
        .env_remove("RKLLM_LIB")
        .env("RKBENCH_API_KEY", key)
        .output()
        .unwrap();
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains(key), "{err}");
    assert!(
        err.contains("echoed the API key (RKBENCH_API_KEY) in: chunk 0; redacted"),
        "{err}"
    );
    let t = common::read_trace(&out);
    let s = t.server.as_ref().unwrap();
    assert!(s.run.evidence.iter().any(|f| f.value.contains(marker)));
    let (echo, deny) = (&s.requests[0], &s.requests[1]);
    assert_eq!(echo.status.as_str(), "ok");
    assert!(
        echo.detail.contains("in: chunk 0; redacted"),
        "{}",
        echo.detail
    );
    assert_eq!(echo.chunk_text(0), format!("you sent {marker}").as_bytes());
    assert_eq!(deny.status.as_str(), "error");
    assert!(deny.detail.contains(marker), "{}", deny.detail);
    assert!(
        deny.detail
            .contains("in: error body (chunk 0), detail; redacted"),
        "{}",
        deny.detail
    );
    let json = common::run(&["report", out.to_str().unwrap(), "--format", "json"], &[]);
    let csv = common::run(
        &[
            "report",
            out.to_str().unwrap(),
            "--format",
            "csv",
            "--per",
            "chunk",
        ],
        &[],
    );
    let md = common::run(&["report", out.to_str().unwrap()], &[]);
    for (what, bytes) in [
        ("trace", std::fs::read(&out).unwrap()),
        ("json", json.stdout.clone()),
        ("csv", csv.stdout.clone()),
        ("markdown", md.stdout.clone()),
    ] {
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "{what}"
        );
        assert!(
            bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{what}"
        );
    }
}

/// The stderr of a run refused as a bad input: exit 2, one line.
fn refusal(o: &std::process::Output) -> String {
    let err = common::stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn an_api_key_with_a_line_break_is_refused_before_anything_is_sent() {
    let (port, st) = fake_llama_server();
    let url = format!("http://127.0.0.1:{port}");
    let dir = common::tempdir("server-api-key-crlf");
    let out = dir.join("t.rktrace");
    for key in ["k3y\r\nX-Injected: 1", "k3y\u{7}bell"] {
        let o = common::server_command(&url, "quick", &["--out", out.to_str().unwrap()])
            .env("RKBENCH_API_KEY", key)
            .output()
            .unwrap();
        let err = refusal(&o);
        assert!(
            err.contains("RKBENCH_API_KEY holds a control character"),
            "{err}"
        );
        assert!(!err.contains("k3y"), "{err}");
        assert!(!out.exists());
    }
    // A key that is not UTF-8 cannot be a header value either.
    let o = common::server_command(&url, "quick", &["--out", out.to_str().unwrap()])
        .env(
            "RKBENCH_API_KEY",
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"k3y\xff"),
        )
        .output()
        .unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("RKBENCH_API_KEY is not valid UTF-8"), "{err}");
    let s = st.lock().unwrap();
    assert!(s.posts.is_empty() && s.slots_polls == 0);
}

#[test]
fn an_exact_token_suite_is_sent_as_token_ids_to_llama_servers_completions() {
    let (port, st) = fake_llama_server();
    let url = format!("http://127.0.0.1:{port}");
    let dir = common::tempdir("server-exact-tokens");
    let out = dir.join("t.rktrace");
    let o = common::server_record(&url, "context", &["--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // Every body the server received holds the ids, none a chat message.
    let posts: Vec<Value> = st
        .lock()
        .unwrap()
        .posts
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let t = common::read_trace(&out);
    let s = t.server.as_ref().unwrap();
    assert!(posts.len() >= 2 && posts.len() == s.requests.len());
    let ids = |b: &Value| b["prompt"].as_array().map(|a| a.len()).unwrap_or(0);
    assert_eq!(ids(&posts[0]), 128);
    assert_eq!(posts[0]["prompt"][0], 1000);
    assert_eq!(posts[0]["prompt"][127], 1127);
    assert!(posts.iter().all(|b| b.get("messages").is_none()));
    assert_eq!(posts[0]["max_tokens"], 64);
    let r = &s.requests[0];
    assert_eq!(r.endpoint, "/v1/completions");
    assert!(r.body.contains("\"prompt\":[1000,1001,"), "{}", r.body);
    assert!(
        r.prompt.starts_with("[exact token input: 128 token ids"),
        "{}",
        r.prompt
    );
    assert_eq!(r.prompt_tokens, Some(128));
    assert!(s.run.evidence.iter().any(|f| f.key == "exact token input"));
    assert_eq!(s.run.endpoint, "/v1/completions");
    // The reports say what was fed: 128 exact tokens in, as the runtime's reports do.
    let j = common::json_report(&out);
    let q = &j["requests"][0];
    assert_eq!(q["input"]["kind"], "tokens", "{q}");
    assert_eq!(q["input"]["exact_tokens"], 128, "{q}");
    assert_eq!(q["input_tokens"], 128, "{q}");
    assert_eq!(q["output_tokens"], 3, "{q}");
    let v = common::run(&["verify", out.to_str().unwrap()], &[]);
    assert!(v.status.success(), "{}", common::stderr(&v));
}

#[test]
fn an_exact_token_suite_is_refused_before_any_request_by_a_server_without_token_ids() {
    let (port, st) = fake_llama_server();
    let url = format!("http://127.0.0.1:{port}");
    let dir = common::tempdir("server-exact-tokens-refused");
    let out = dir.join("t.rktrace");
    for kind in ["ollama", "rkllm-server"] {
        let o = common::server_record(
            &url,
            "rockchip",
            &["--out", out.to_str().unwrap(), "--server-kind", kind],
        );
        let err = refusal(&o);
        assert!(
            err.contains("is an exact token input") && err.contains("nothing was sent"),
            "{err}"
        );
        assert!(!out.exists());
    }
    assert!(st.lock().unwrap().posts.is_empty());
}

#[test]
fn power_is_measured_through_a_server_run_too() {
    let (port, _) = fake_llama_server();
    let url = format!("http://127.0.0.1:{port}");
    let dir = common::tempdir("srv-power");
    let suite = slow_suite(&dir);
    let out = dir.join("t.rktrace");
    let o = common::server_record(
        &url,
        suite.to_str().unwrap(),
        &[
            "--out",
            out.to_str().unwrap(),
            "--power",
            "cmd:echo 3.5",
            "--power-interval",
            "100ms",
            "--power-baseline",
            "500ms",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j = common::json_report(&out);
    let e = &j["energy"];
    assert_eq!(e["source"], "cmd", "{e}");
    assert_eq!(e["idle_w"].as_f64(), Some(3.5));
    // A constant 3.5 W: the request's energy is 3.5 W × its duration, nothing above idle.
    let r = &j["requests"][0];
    let dur_s = r["e2e_ms"].as_f64().unwrap() / 1e3;
    let ej = r["energy_j"].as_f64().unwrap_or_else(|| panic!("{r}"));
    assert!((ej - 3.5 * dur_s).abs() < 0.01, "{ej} J over {dur_s} s");
    assert!(r["energy_above_idle_j"].as_f64().unwrap().abs() < 0.01);
}
