//! `record --server --concurrency N | --rate R` against a fake llama-server with K slots and a
//! fixed service time: what a closed loop at 1, K and 2K streams delivers, an open-loop
//! schedule reproduced from its seed, the client's lateness, HTTP 503 as a rejection, and a
//! recorder killed with requests in flight. Every figure is checked against the fake's own
//! log of what it served.
mod common;

use common::{read_trace, stderr};
use rkbench::trace::{Status, Trace};
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fake's settings and its log.
struct Slots {
    /// Requests served at once.
    k: usize,
    /// Busy slots now.
    busy: usize,
    /// Answer 503 when every slot is busy (else the request waits for one).
    reject: bool,
    prefill: Duration,
    chunks: u32,
    gap: Duration,
    /// Log: requests taken into a slot, answered 503, and the most in service at once.
    served: u32,
    rejected: u32,
    peak: usize,
}

type Shared = Arc<Mutex<Slots>>;

fn server(k: usize, reject: bool, prefill_ms: u64, chunks: u32, gap_ms: u64) -> (String, Shared) {
    let (port, st) = common::http::serve(
        Slots {
            k,
            busy: 0,
            reject,
            prefill: Duration::from_millis(prefill_ms),
            chunks,
            gap: Duration::from_millis(gap_ms),
            served: 0,
            rejected: 0,
            peak: 0,
        },
        handle,
    );
    (format!("http://127.0.0.1:{port}"), st)
}

fn handle(mut c: TcpStream, st: &Shared) -> std::io::Result<()> {
    let r = common::http::read_request(&c)?;
    let json = |c: &mut TcpStream, status: &str, b: &str| {
        common::http::reply(c, status, "application/json", b)
    };
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/props") => json(
            &mut c,
            "200 OK",
            r#"{"build_info":"b1-slots","n_ctx":2048}"#,
        ),
        ("GET", "/slots") => {
            let busy = st.lock().unwrap().busy;
            json(
                &mut c,
                "200 OK",
                &format!(r#"[{{"id":0,"is_processing":{}}}]"#, busy > 0),
            )
        }
        ("POST", "/v1/chat/completions") => serve_one(c, st),
        _ => json(&mut c, "404 Not Found", r#"{"error":"not found"}"#),
    }
}

/// Take a slot (or answer 503 / wait for one), then stream: a prefill, `chunks` one-token
/// chunks `gap` apart with llama-server's running count, usage, `[DONE]`.
fn serve_one(mut c: TcpStream, st: &Shared) -> std::io::Result<()> {
    let (prefill, chunks, gap) = loop {
        let mut s = st.lock().unwrap();
        if s.busy < s.k {
            s.busy += 1;
            s.served += 1;
            s.peak = s.peak.max(s.busy);
            break (s.prefill, s.chunks, s.gap);
        }
        if s.reject {
            s.rejected += 1;
            drop(s);
            return common::http::reply(
                &mut c,
                "503 Service Unavailable",
                "application/json",
                r#"{"error":{"code":503,"message":"Loading model or busy"}}"#,
            );
        }
        drop(s);
        std::thread::sleep(Duration::from_millis(1));
    };
    let r = stream(&mut c, prefill, chunks, gap);
    st.lock().unwrap().busy -= 1;
    r
}

fn stream(c: &mut TcpStream, prefill: Duration, n: u32, gap: Duration) -> std::io::Result<()> {
    write!(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
    let send = |c: &mut TcpStream, data: &str| -> std::io::Result<()> {
        let ev = format!("data: {data}\n\n");
        write!(c, "{:x}\r\n{ev}\r\n", ev.len())?;
        c.flush()
    };
    std::thread::sleep(prefill);
    for i in 0..n {
        if i > 0 {
            std::thread::sleep(gap);
        }
        send(
            c,
            &format!(
                r#"{{"choices":[{{"index":0,"delta":{{"content":"t{i} "}},"finish_reason":null}}],"timings":{{"predicted_n":{}}}}}"#,
                i + 1
            ),
        )?;
    }
    send(
        c,
        &format!(
            r#"{{"choices":[{{"index":0,"delta":{{}},"finish_reason":"length"}}],"timings":{{"predicted_n":{n},"prompt_n":4,"prompt_ms":{}}}}}"#,
            prefill.as_millis()
        ),
    )?;
    send(
        c,
        &format!(r#"{{"choices":[],"usage":{{"completion_tokens":{n},"prompt_tokens":4}}}}"#),
    )?;
    send(c, "[DONE]")?;
    write!(c, "0\r\n\r\n")
}

fn suite(dir: &std::path::Path) -> String {
    common::suite_file(
        dir,
        r#"{"name":"load","tests":[{"id":"a","prompt":"one"},{"id":"b","prompt":"two"}]}"#,
    )
    .display()
    .to_string()
}

/// Record against `url` with `extra`; the trace.
fn record(url: &str, name: &str, extra: &[&str]) -> (std::path::PathBuf, Trace) {
    let dir = common::tempdir(name);
    let s = suite(&dir);
    let out = dir.join("t.rktrace");
    let o = out.display().to_string();
    let mut args = vec!["--out", o.as_str(), "--idle-timeout", "5s"];
    args.extend_from_slice(extra);
    let r = common::server_record(url, &s, &args);
    assert!(r.status.success(), "{}", stderr(&r));
    let t = read_trace(&out);
    (out, t)
}

/// Requests per second over the level: ok requests / (first sent → last ended).
fn throughput(t: &Trace) -> f64 {
    let rs: Vec<_> = t.requests.iter().filter(|r| !r.warmup).collect();
    let a = rs.iter().map(|r| r.start_us).min().unwrap();
    let b = rs.iter().map(|r| r.start_us + r.end_us).max().unwrap();
    let ok = rs.iter().filter(|r| r.status == Status::Ok).count();
    ok as f64 / ((b - a) as f64 / 1e6)
}

fn median_ttft_ms(t: &Trace) -> f64 {
    let mut v: Vec<f64> = t
        .requests
        .iter()
        .filter(|r| !r.warmup && r.status == Status::Ok)
        .map(|r| f64::from(r.tokens.token_dt_us[0]) / 1e3)
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Most requests of the trace in flight at once (from their own start and end).
fn peak_in_flight(t: &Trace) -> usize {
    let mut ev: Vec<(u64, i32)> = Vec::new();
    for r in &t.requests {
        ev.push((r.start_us, 1));
        ev.push((r.start_us + r.end_us, -1));
    }
    ev.sort_by_key(|&(t, d)| (t, d));
    let (mut n, mut peak) = (0i32, 0i32);
    for (_, d) in ev {
        n += d;
        peak = peak.max(n);
    }
    peak as usize
}

#[test]
fn closed_loop_at_one_k_and_two_k_streams_scales_then_queues() {
    // K = 2 slots; a request takes 100 ms of prefill + 4 chunks 40 ms apart (≈ 220 ms): few
    // long sleeps, so a busy machine's scheduling delays stay small beside the service time.
    let (url, st) = server(2, false, 100, 4, 40);
    let mut results = Vec::new();
    for n in ["1", "2", "4"] {
        let before = st.lock().unwrap().served;
        let (out, t) = record(
            &url,
            &format!("load-closed-{n}"),
            &["--concurrency", n, "--repeat", "8"],
        );
        let l = t.load.run.clone().expect("a load level record");
        assert_eq!(
            (l.mode.as_str(), l.concurrency),
            ("concurrency", n.parse().unwrap())
        );
        assert_eq!(t.requests.len(), 16);
        assert!(t.requests.iter().all(|r| r.status == Status::Ok));
        // Every request has its send record, on a stream below N, and no two requests of
        // one stream overlap.
        assert_eq!(t.load.sent.len(), 16);
        let streams: u32 = n.parse().unwrap();
        assert!(t.load.sent.iter().all(|s| s.stream < streams));
        for s in 0..streams {
            let mut rs: Vec<_> = t
                .requests
                .iter()
                .filter(|r| t.load.stream_of(r.index) == s)
                .map(|r| (r.start_us, r.start_us + r.end_us))
                .collect();
            rs.sort();
            assert!(
                rs.windows(2).all(|w| w[0].1 <= w[1].0),
                "stream {s} overlaps: {rs:?}"
            );
        }
        // The fake's log: every request served once, at most min(N, K) at once.
        let s = st.lock().unwrap();
        assert_eq!(s.served - before, 16);
        assert_eq!(peak_in_flight(&t), streams as usize);
        drop(s);
        // The report's level: what the fake served, and the streams at most in flight.
        let j = common::json_report(&out);
        let l = &j["load"]["levels"][0];
        assert_eq!(
            (l["completed"].as_u64(), l["rejected"].as_u64()),
            (Some(16), Some(0)),
            "{l}"
        );
        assert_eq!(l["in_flight_max"].as_u64(), Some(u64::from(streams)), "{l}");
        assert_eq!(l["concurrency"].as_u64(), Some(u64::from(streams)), "{l}");
        results.push((throughput(&t), median_ttft_ms(&t)));
    }
    let (x1, ttft1) = results[0];
    let (x2, ttft2) = results[1];
    let (x4, ttft4) = results[2];
    assert!(
        x2 / x1 > 1.6 && x2 / x1 < 2.4,
        "2 streams on 2 slots: {x1:.2} -> {x2:.2} req/s"
    );
    assert!(
        x4 / x2 > 0.75 && x4 / x2 < 1.25,
        "4 streams on 2 slots: {x2:.2} -> {x4:.2} req/s"
    );
    // At 2K every request waits for a slot about one service time: queueing shows in TTFT.
    assert!(
        ttft2 < ttft1 + 60.0,
        "TTFT at K streams {ttft2:.0} ms vs {ttft1:.0} ms at 1"
    );
    assert!(
        ttft4 > ttft2 + 100.0,
        "TTFT at 2K streams {ttft4:.0} ms shows no queueing (K: {ttft2:.0} ms)"
    );
    assert!(st.lock().unwrap().peak <= 2);
}

/// Intended send times relative to the level's start.
fn schedule_of(t: &Trace) -> Vec<u64> {
    let start = t.load.run.as_ref().unwrap().start_us;
    t.load.sent.iter().map(|s| s.scheduled_us - start).collect()
}

#[test]
fn an_open_loop_schedule_is_reproduced_from_its_seed_and_lateness_is_measured() {
    let (url, st) = server(8, false, 5, 3, 5);
    let run = |name: &str, seed: &str| {
        record(
            &url,
            name,
            &["--rate", "40", "--seed", seed, "--repeat", "10"],
        )
        .1
    };
    let a = run("load-open-a", "11");
    let b = run("load-open-b", "11");
    let c = run("load-open-c", "12");
    let l = a.load.run.clone().unwrap();
    assert_eq!(
        (
            l.mode.as_str(),
            l.rate_rps,
            l.arrivals.as_str(),
            l.burstiness
        ),
        ("rate", 40.0, "poisson", 1.0)
    );
    assert_eq!(schedule_of(&a).len(), 20);
    assert_eq!(
        schedule_of(&a),
        schedule_of(&b),
        "same seed, same intended send times"
    );
    assert_ne!(
        schedule_of(&a),
        schedule_of(&c),
        "another seed, another schedule"
    );
    // vLLM's normalisation: the last request is due at N/rate = 0.5 s.
    assert_eq!(*schedule_of(&a).last().unwrap(), 500_000);
    // Sent at or after its time, and each request's start is its send.
    for s in &a.load.sent {
        assert!(s.sent_us >= s.scheduled_us, "{s:?} sent early");
        let r = a.requests.iter().find(|r| r.index == s.index).unwrap();
        assert_eq!(r.start_us, s.sent_us);
    }
    assert!(a.requests.iter().all(|r| r.status == Status::Ok));
    assert_eq!(st.lock().unwrap().served, 60);

    // One slot in flight at most, offered far faster than it serves: requests wait for the
    // slot, and the wait is the client's lateness, recorded rather than hidden.
    let (_, t) = record(
        &url,
        "load-open-late",
        &["--rate", "100", "--max-concurrency", "1", "--repeat", "3"],
    );
    let late: Vec<u64> = t
        .load
        .sent
        .iter()
        .map(|s| s.sent_us - s.scheduled_us)
        .collect();
    assert_eq!(late.len(), 6);
    assert!(*late.iter().max().unwrap() > 20_000, "lateness {late:?}");
    assert_eq!(peak_in_flight(&t), 1);
}

#[test]
fn http_503_under_load_is_a_rejection_not_a_wait() {
    // One slot that rejects while busy; four streams, each request ~200 ms.
    let (url, st) = server(1, true, 50, 6, 25);
    let started = Instant::now();
    let (out, t) = record(&url, "load-503", &["--concurrency", "4", "--repeat", "4"]);
    let took = started.elapsed();
    let server = t.server.as_ref().unwrap();
    let rejected: Vec<_> = server
        .requests
        .iter()
        .filter(|r| r.http_status == 503)
        .collect();
    let s = st.lock().unwrap();
    assert_eq!(
        rejected.len() as u32,
        s.rejected,
        "the trace's 503s are the server's"
    );
    assert!(!rejected.is_empty());
    assert_eq!(s.served + s.rejected, 8);
    for r in &rejected {
        assert_eq!(r.status, Status::Error);
        assert!(r.detail.contains("rejected under load"), "{}", r.detail);
        assert_eq!(r.idle_wait_us, 0, "a rejection is never waited out");
    }
    // Nothing waited out the busy server: far less than 8 service times.
    assert!(took < Duration::from_secs(8), "{took:?}");
    // The report's level says what the server's log says.
    let j = common::json_report(&out);
    let l = &j["load"]["levels"][0];
    assert_eq!(l["completed"], s.served, "{l}");
    assert_eq!(l["rejected"], s.rejected, "{l}");
    assert_eq!(l["failed"], 0, "{l}");
    assert_eq!(l["in_flight_max"].as_u64().unwrap(), 4, "{l}");
}

#[test]
fn kill_9_with_three_requests_in_flight_loses_nothing() {
    kill_9_with_three_in_flight("load-kill9", &[]);
}

/// The same with `--fsync-checkpoints`: each journal replacement made durable (the file, then
/// the rename) before the next.
#[test]
fn kill_9_with_three_in_flight_and_durable_checkpoints_loses_nothing() {
    kill_9_with_three_in_flight("load-kill9-fsync", &["--fsync-checkpoints"]);
}

fn kill_9_with_three_in_flight(name: &str, extra: &[&str]) {
    // Three slots; each request streams 40 chunks 100 ms apart (4 s).
    let (url, _st) = server(3, false, 10, 40, 100);
    let dir = common::tempdir(name);
    let s = suite(&dir);
    let out = dir.join("t.rktrace");
    let o = out.display().to_string();
    let mut args = vec![
        "--out",
        &o,
        "--concurrency",
        "3",
        "--repeat",
        "3",
        "--checkpoint-interval",
        "50ms",
    ];
    args.extend_from_slice(extra);
    let mut child = common::server_command(&url, &s, &args).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    common::kill("KILL", child.id());
    let _ = child.wait();
    let t = read_trace(&out);
    assert_eq!(t.load.sent.len(), 3, "the three sends are in the trace");
    assert_eq!(
        t.requests.len(),
        3,
        "each in-flight request is recovered from the journal"
    );
    for r in &t.requests {
        assert_eq!(r.status, Status::InFlight);
        assert!(
            r.tokens.len() >= 5,
            "request {} kept {} tokens",
            r.index,
            r.tokens.len()
        );
    }
    let v = common::run(&["verify", &o], &[]);
    assert!(
        String::from_utf8_lossy(&v.stdout)
            .contains("3 in-flight requests recovered from its journal"),
        "{}",
        common::stdout(&v)
    );
    let r = common::run(&["report", &o], &[]);
    assert!(r.status.success(), "{}", stderr(&r));
}

#[test]
fn load_flags_that_contradict_are_refused_before_anything_is_sent() {
    let (url, st) = server(1, false, 1, 1, 1);
    let dir = common::tempdir("load-refused");
    let s = suite(&dir);
    // An --out of its own: a refusal that failed must not write into traces/.
    let out = dir.join("never.rktrace");
    let o = out.display().to_string();
    for (mut args, want) in [
        (vec!["--concurrency", "2", "--rate", "1"], "two load modes"),
        (vec!["--burstiness", "2"], "needs --rate"),
        (vec!["--rate", "0"], "--rate"),
        (vec!["--concurrency", "0"], "--concurrency"),
        (
            vec!["--rate", "2", "--arrivals", "constant", "--burstiness", "3"],
            "drop one",
        ),
    ] {
        args.extend(["--out", o.as_str()]);
        let r = common::server_record(&url, &s, &args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(want), "{args:?}: {}", stderr(&r));
    }
    assert_eq!(st.lock().unwrap().served, 0);
    assert!(!out.exists());
}

/// The levels of a sweep directory: each trace's level record, in index order.
fn levels(dir: &std::path::Path) -> Vec<rkbench::trace::LoadRun> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["exit_code"], 0, "{r}");
            let t = read_trace(&dir.join(r["trace"].as_str().unwrap()));
            t.load.run.expect("a level record")
        })
        .collect()
}

#[test]
fn a_load_sweep_and_load_auto_record_one_level_per_trace() {
    let (url, _st) = server(2, false, 20, 5, 10);
    let dir = common::tempdir("load-sweep");
    let s = suite(&dir);
    let out = dir.join("c.sweep");
    let o = out.display().to_string();
    let r = common::server_record(
        &url,
        &s,
        &["--out", &o, "--repeat", "3", "--sweep", "concurrency=1,2,4"],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let c: Vec<u32> = levels(&out).iter().map(|l| l.concurrency).collect();
    assert_eq!(c, [1, 2, 4]);
    let rep = common::run(&["report", &o], &[]);
    assert!(rep.status.success(), "{}", stderr(&rep));

    // guidellm's sweep: synchronous, throughput (all 6 requests at once), then 2 constant
    // rates strictly between the two measured request rates.
    let auto = dir.join("a.sweep");
    let a = auto.display().to_string();
    let r = common::server_record(
        &url,
        &s,
        &["--out", &a, "--repeat", "3", "--sweep", "load=auto:2"],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let l = levels(&auto);
    assert_eq!(l.len(), 4);
    assert_eq!((l[0].mode.as_str(), l[0].concurrency), ("concurrency", 1));
    assert_eq!((l[1].mode.as_str(), l[1].concurrency), ("concurrency", 6));
    let rate = |i: usize| {
        let t = read_trace(&auto.join(format!(
            "{:02}_concurrency={}.rktrace",
            i + 1,
            l[i].concurrency
        )));
        rkbench::stats::throughput::of(&t.requests, t.server.as_ref(), &Default::default())
            .request_per_s
            .unwrap()
    };
    let (lo, hi) = (rate(0), rate(1).max(2.0 * rate(0)));
    for (i, lv) in l[2..].iter().enumerate() {
        assert_eq!(
            (lv.mode.as_str(), lv.arrivals.as_str()),
            ("rate", "constant")
        );
        let want = lo + (hi - lo) * (i + 1) as f64 / 3.0;
        assert!(
            (lv.rate_rps - want).abs() < 1e-3,
            "level {i}: {} vs {want}",
            lv.rate_rps
        );
    }
    let rep = common::run(&["report", &a], &[]);
    assert!(rep.status.success(), "{}", stderr(&rep));
    // Contradictions are refused before anything is recorded.
    let never = dir.join("never.sweep").display().to_string();
    for (mut args, want) in [
        (
            vec!["--sweep", "load=auto", "--concurrency", "2"],
            "drop them",
        ),
        (
            vec!["--sweep", "load=auto", "--sweep", "top-k=1,2"],
            "sweeps nothing else",
        ),
        (vec!["--sweep", "load=fast"], "load=auto:K"),
    ] {
        args.extend(["--out", never.as_str()]);
        let r = common::server_record(&url, &s, &args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(want), "{args:?}: {}", stderr(&r));
    }
}
