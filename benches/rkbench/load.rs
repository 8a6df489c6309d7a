//! The load client's own cost: how late rkbench sends an open-loop schedule's requests
//! (coordinated omission starts with a late client) and how much CPU it spends keeping many
//! streams in flight, against an in-process SSE server that answers at once (no slot limit,
//! 16 one-token chunks 2 ms apart), so everything measured is the client.
use crate::util::{Env, Report};
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The tests' fake-server HTTP helpers (benches cannot use `tests/common`, but can include
/// the one self-contained file).
#[allow(dead_code)]
#[path = "../../tests/common/http.rs"]
mod fake_http;

/// `/props` for detection, 404 elsewhere, and a stream of 16 chunks 2 ms apart to a POST.
fn answer(mut c: TcpStream, _: &Arc<Mutex<()>>) -> std::io::Result<()> {
    let req = fake_http::read_request(&c)?;
    if req.method == "GET" && req.path.starts_with("/props") {
        let b = r#"{"build_info":"bench","n_ctx":4096}"#;
        return fake_http::reply(&mut c, "200 OK", "application/json", b);
    }
    if req.method != "POST" {
        return fake_http::reply(&mut c, "404 Not Found", "text/plain", "");
    }
    write!(
        c,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    )?;
    for i in 1..=16 {
        std::thread::sleep(std::time::Duration::from_millis(2));
        write!(c, "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t \"}},\"finish_reason\":null}}],\"timings\":{{\"predicted_n\":{i}}}}}\n\n")?;
    }
    write!(c, "data: {{\"choices\":[],\"usage\":{{\"completion_tokens\":16,\"prompt_tokens\":4}}}}\n\ndata: [DONE]\n\n")?;
    c.flush()
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i] as f64 / 1e3
}

pub fn run(env: &Env, out: &mut Report) {
    out.section("11. Under load: the client's lateness and CPU (in-process SSE server, 16 chunks 2 ms apart)");
    let (port, _) = fake_http::serve((), answer);
    let url = format!("http://127.0.0.1:{port}");
    let suite = env.scratch.join("load-suite.json");
    std::fs::write(
        &suite,
        r#"{"name":"load","tests":[{"id":"a","prompt":"x"}]}"#,
    )
    .unwrap();
    let n = env.size(2000, 100);
    for (label, key, args) in [
        (
            "open loop, 200 req/s Poisson",
            "load.open_200",
            vec!["--rate".to_string(), "200".into()],
        ),
        (
            "closed loop, 32 streams",
            "load.closed_32",
            vec!["--concurrency".to_string(), "32".into()],
        ),
    ] {
        let trace = env.scratch.join(format!("{key}.rktrace"));
        let mut cmd = Command::new(&env.rkbench);
        cmd.args([
            "record",
            "-q",
            "--server",
            &url,
            "--model",
            "tiny",
            "--no-telemetry",
            "--idle-timeout",
            "2s",
        ])
        .arg("--suite")
        .arg(&suite)
        .args(["--repeat", &n.to_string()])
        .args(&args)
        .arg("--out")
        .arg(&trace);
        let o = cmd.output().expect("run rkbench");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let t = rkbench::trace::reader::read(&trace).expect("trace");
        let mut late: Vec<u64> = t
            .load
            .sent
            .iter()
            .map(|s| s.sent_us.saturating_sub(s.scheduled_us))
            .collect();
        let run = t.load.run.clone().unwrap_or_default();
        let fact = |k: &str| {
            run.facts
                .iter()
                .find(|f| f.key == k)
                .map(|f| f.value.clone())
                .unwrap_or_default()
        };
        let cpu_ms: f64 = fact(rkbench::trace::load::fact::CLIENT_CPU)
            .parse()
            .unwrap_or(f64::NAN);
        let a = t.requests.iter().map(|r| r.start_us).min().unwrap_or(0);
        let b = t
            .requests
            .iter()
            .map(|r| r.start_us + r.end_us)
            .max()
            .unwrap_or(0);
        let secs = (b - a) as f64 / 1e6;
        let chunks: usize = t
            .server
            .as_ref()
            .map_or(0, |s| s.requests.iter().map(|r| r.chunks()).sum());
        let (p50, p99) = (pct(&mut late, 0.5), pct(&mut late, 0.99));
        out.line(
            key,
            label,
            json!({"requests": t.requests.len(), "lateness_p50_ms": p50, "lateness_p99_ms": p99, "client_cpu_ms": cpu_ms, "duration_s": secs, "chunks": chunks}),
            &format!(
                "{} requests, {chunks} chunks in {secs:.1} s: send lateness p50 {p50:.3} ms, p99 {p99:.3} ms; client CPU {:.0} ms = {:.1} % of one core, {:.1} µs per chunk",
                t.requests.len(),
                cpu_ms,
                cpu_ms / 10.0 / secs,
                cpu_ms * 1e3 / chunks as f64
            ),
        );
    }
}
