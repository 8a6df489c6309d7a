//! `record --server` against a fake OpenAI-compatible server whose token counts cannot be true:
//! a count beyond what it streamed is refused as the count source (the chunks count), the
//! report warns `implausible-server-count`, and every integer prints as itself in JSON.
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

/// The `usage.completion_tokens` the fake claims for three streamed chunks: u64::MAX.
const CLAIMED: &str = "18446744073709551615";

fn handle(mut c: TcpStream, _: &Arc<Mutex<()>>) -> std::io::Result<()> {
    let req = common::http::read_request(&c)?;
    if (req.method.as_str(), req.path.as_str()) != ("POST", "/v1/chat/completions") {
        return common::http::reply(&mut c, "404 Not Found", "application/json", "{}");
    }
    let mut body = String::new();
    for t in ["Hel", "lo", "!"] {
        body += &format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{t}\"}}}}]}}\n\n"
        );
    }
    body += "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    body += &format!(
        "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":{CLAIMED}}}}}\n\n"
    );
    body += "data: [DONE]\n\n";
    write!(
        c,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    c.flush()
}

#[test]
fn a_count_beyond_the_chunks_is_refused_warned_and_printed_as_itself() {
    let (port, _) = common::http::serve((), handle);
    let dir = common::tempdir("server-counts");
    let out = dir.join("counts.rktrace");
    let url = format!("http://127.0.0.1:{port}");
    let o = common::server_record(
        &url,
        "quick",
        &[
            "--quiet-period",
            "1ms",
            "--repeat",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let t = common::read_trace(&out);
    for r in &t.server.as_ref().unwrap().requests {
        assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
        assert_eq!(r.server_total, Some(u64::MAX), "kept as sent");
        assert_eq!(r.count_source.as_str(), "chunks-only");
        assert_eq!((r.chunk_token_total(), r.unattributed), (3, 0));
    }
    assert!(t.requests.iter().all(|r| r.tokens.len() == 3));
    // Every integer as itself (an i64 cast printed this u64 as -1).
    let o = common::run(&["report", "--format", "json", out.to_str().unwrap()], &[]);
    let raw = common::stdout(&o);
    for key in ["server_total", "vllm_tokens"] {
        assert!(
            raw.contains(&format!("\"{key}\": {CLAIMED},")),
            "{key}: {raw}"
        );
    }
    // Nowhere clamped either: the original section takes a refused count as no count.
    assert!(!raw.contains(&i64::MAX.to_string()), "{raw}");
    let j = common::json_report(&out);
    assert_eq!(j["original"]["total_output_tokens"], 3, "{}", j["original"]);
    for r in j["server"]["requests"].as_array().unwrap() {
        assert_eq!(r["server_total"].as_u64(), Some(u64::MAX), "{r}");
        assert_eq!(r["tokens"], 3);
    }
    let w = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "implausible-server-count")
        .unwrap_or_else(|| panic!("{}", j["warnings"]));
    let msg = w["message"].as_str().unwrap();
    assert!(
        msg.contains("in 3 measured request(s)")
            && msg.contains(&format!("usage.completion_tokens = {CLAIMED} is more than 16 tokens for each of the 3 token chunk(s)")),
        "{msg}"
    );
    assert_eq!(w["invalidates_comparison"], true);
    assert_eq!(j["verdict"]["result"], "INVALID");
    assert!(j["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.as_str().unwrap().contains("implausible-server-count")));
}
