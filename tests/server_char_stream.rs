//! `record --server` against a fake of Rockchip's server 1.3.0 streaming a long answer one
//! character per SSE event (100,000 of them), as Rockchip's servers do: the gap-cluster count
//! must be exact however many chunks a request has. Reading such a stream once stalled on work
//! quadratic in the chunks (every checkpoint re-summed every chunk's offset), the characters of
//! several tokens then arrived in one read, and the count came out low with verdict VALID.
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The answer: TOKENS tokens of CHARS characters each. A token's characters leave in one
/// write, tokens SPACING apart; rkbench runs with a threshold of half of that, so the count is
/// exact unless reading stalls for more than that (a debug build on a loaded machine spends tens
/// of ms parsing one token's 4,000 events; the quadratic checkpoints stalled for seconds).
const TOKENS: usize = 25;
const CHARS: usize = 4000;
const SPACING: Duration = Duration::from_millis(400);

fn handle(mut c: TcpStream, _: &Arc<Mutex<()>>) -> std::io::Result<()> {
    let req = common::http::read_request(&c)?;
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/models") => common::http::reply(
            &mut c,
            "200 OK",
            "application/json",
            r#"{"object":"list","data":[{"id":"rkllm","object":"model","owned_by":"rkllm"}]}"#,
        ),
        ("POST", "/v1/chat/completions") => {
            write!(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
            let event = |s: &str| {
                let e = format!("data: {s}\n\n");
                format!("{:x}\r\n{e}\r\n", e.len())
            };
            c.write_all(
                event(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#)
                    .as_bytes(),
            )?;
            for t in 0..TOKENS {
                std::thread::sleep(SPACING);
                let ch = char::from(b'a' + (t % 26) as u8);
                let one = event(&format!(
                    r#"{{"choices":[{{"index":0,"delta":{{"content":"{ch}"}}}}]}}"#
                ));
                c.write_all(one.repeat(CHARS).as_bytes())?;
                c.flush()?;
            }
            c.write_all(
                event(r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}]}"#)
                    .as_bytes(),
            )?;
            c.write_all(event("[DONE]").as_bytes())?;
            c.write_all(b"0\r\n\r\n")?;
            c.flush()
        }
        _ => common::http::reply(&mut c, "404 Not Found", "application/json", "{}"),
    }
}

#[test]
fn a_hundred_thousand_characters_one_per_chunk_give_the_exact_gap_cluster_count() {
    let (port, _) = common::http::serve((), handle);
    let dir = common::tempdir("server-char-stream");
    let suite = dir.join("one.json");
    std::fs::write(
        &suite,
        r#"{"name":"one","tests":[{"id":"long","name":"Long","category":"completion","prompt":"Write at length.","max_new_tokens":4096}]}"#,
    )
    .unwrap();
    let out = dir.join("chars.rktrace");
    let url = format!("http://127.0.0.1:{port}");
    let o = common::server_record(
        &url,
        suite.to_str().unwrap(),
        &[
            "--quiet-period",
            "1ms",
            "--token-gap",
            "200ms",
            // Ends the request that once stalled for good (old code: status "timeout").
            "--timeout",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let t = common::read_trace(&out);
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.run.kind, "rkllm-server");
    let r = &s.requests[0];
    assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
    assert_eq!(r.count_source.as_str(), "gap-cluster");
    assert_eq!(
        r.chunks(),
        TOKENS * CHARS + 2,
        "role, the characters, finish"
    );
    assert_eq!(r.chunk_token_total(), TOKENS as u64);
    let view = &t.requests[0].tokens;
    assert_eq!((view.len(), view.text.len()), (TOKENS, TOKENS * CHARS));
}
