//! `rkbench record --server` against a real server: llama-cpp-python's OpenAI-compatible server
//! with a tiny random-weight GGUF, started by `scripts/real-server.sh` (CI runs it as its own
//! step), which sets RKBENCH_REAL_SERVER. Ignored in the plain test run: it needs that server.
mod common;

use rkbench::http::client::{self, Url};
use rkbench::http::server::non_streaming;
use serde_json::Value;
use std::time::Duration;

fn server() -> String {
    std::env::var("RKBENCH_REAL_SERVER").expect(
        "RKBENCH_REAL_SERVER is not set: run scripts/real-server.sh, which starts the server",
    )
}

fn record(args: &[&str]) -> rkbench::trace::Trace {
    let o = common::run(args, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = args[args.iter().position(|&a| a == "--out").unwrap() + 1];
    common::read_trace(std::path::Path::new(out))
}

#[test]
#[ignore = "needs the real server started by scripts/real-server.sh"]
fn quick_suite_counts_equal_the_servers_own_usage() {
    let url = server();
    let dir = common::tempdir("real-quick");
    let out = dir.join("quick.rktrace");
    let t = record(&[
        "record",
        "-q",
        "--server",
        &url,
        "--model",
        "tiny",
        "--suite",
        "quick",
        "--out",
        out.to_str().unwrap(),
    ]);
    let s = t.server.as_ref().unwrap();
    assert_eq!(
        s.run.kind, "generic",
        "llama-cpp-python has no identifying route"
    );
    assert!(
        s.run.server_pid > 0,
        "found from the listening socket: {}",
        s.run.server_pid_source
    );
    assert_eq!(s.requests.len(), 3);
    let u = Url::parse(&url).unwrap();
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}: {}", r.test_id, r.detail);
        assert!(r.chunks() > 0);
        // The same body again without streaming: the server's own count must equal ours.
        let (status, body) = client::fetch(
            &u,
            "POST",
            &r.endpoint,
            Some(&non_streaming(&r.body)),
            Duration::from_secs(120),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let usage = v["usage"]["completion_tokens"].as_u64().unwrap();
        assert_eq!(
            r.chunk_token_total(),
            usage,
            "{}: {} tokens from chunks ({}), server usage {usage}",
            r.test_id,
            r.chunk_token_total(),
            r.count_source.as_str()
        );
        let view = t.requests.iter().find(|x| x.index == r.index).unwrap();
        assert_eq!(view.token_dt_us.len() as u64, usage);
    }
    // A report of the real trace renders.
    let o = common::run(&["report", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
#[ignore = "needs the real server started by scripts/real-server.sh"]
fn deadline_mid_stream_keeps_chunks_and_the_next_request_waits_for_idle() {
    let url = server();
    let dir = common::tempdir("real-deadline");
    let suite = dir.join("long.json");
    std::fs::write(
        &suite,
        r#"{"name":"long","tests":[{"id":"long","prompt":"Write a long story.","max_new_tokens":900,"timeout":"250ms"}]}"#,
    )
    .unwrap();
    let out = dir.join("long.rktrace");
    let t = record(&[
        "record",
        "-q",
        "--server",
        &url,
        "--model",
        "tiny",
        "--suite",
        suite.to_str().unwrap(),
        "--repeat",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.requests.len(), 2);
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "timeout", "{}", r.detail);
        let tokens = r.chunk_token_total();
        assert!(tokens > 0 && tokens < 900, "partial chunks kept: {tokens}");
        assert!(r.finish_reason.is_empty());
    }
    let second = &s.requests[1];
    assert!(
        second.idle_wait.contains("CPU quiet"),
        "the idle wait watched the server process: {}",
        second.idle_wait
    );
}
