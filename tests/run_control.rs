//! Run control through the simulated runtime: repetitions, warm-up, cool-down, order, stop
//! rules, sweeps (one trace per combination + a grouped report; Ctrl-C and SIGTERM between
//! combinations), the original tool's prompt-file shape, and the live progress line on a
//! pseudo-terminal.
mod common;
use common::*;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FAST: [(&str, &str); 2] = [
    ("FAKE_RKLLM_TIME_SCALE", "0.005"),
    ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
];

#[test]
fn repeat_warmup_cooldown_and_order() {
    let (out, t) = record_ok(
        "rc-repeat",
        &[
            "--suite",
            "quick",
            "--repeat",
            "2",
            "--warmup",
            "1",
            "--cooldown",
            "60ms",
            "--order",
            "blocked",
        ],
        &FAST,
    );
    let got: Vec<(String, u32, bool)> = t
        .requests
        .iter()
        .map(|r| (r.test_id.clone(), r.repeat_index, r.warmup))
        .collect();
    let want: Vec<(String, u32, bool)> = [
        ("quick_01", 0, true),
        ("quick_01", 0, false),
        ("quick_01", 1, false),
        ("quick_02", 0, false),
        ("quick_02", 1, false),
        ("quick_03", 0, false),
        ("quick_03", 1, false),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), *b, *c))
    .collect();
    assert_eq!(got, want);
    for w in t.requests.windows(2) {
        let gap = w[1].start_us - (w[0].start_us + w[0].return_us);
        assert!(gap >= 60_000, "cool-down respected: {gap} µs");
    }
    let j = json_report(&out);
    assert_eq!(j["summary"]["requests"], 6);
    assert_eq!(j["summary"]["warmup"], 1);
    assert_eq!(j["requests"][0]["warmup"], true);
    let md = stdout(&run(&["report", &out.display().to_string()], &[]));
    assert!(
        md.contains("quick_01 (warm-up)"),
        "warm-up marked in the report"
    );
    assert!(md.contains("1 warm-up not counted"));
}

#[test]
fn interleaved_is_the_default_and_shuffled_is_seeded() {
    let dir = tempdir("rc-order");
    let ids = |name: &str, extra: &[&str]| -> Vec<String> {
        let out = dir.join(name);
        let mut args = vec!["--suite", "quick", "--repeat", "2"];
        args.extend_from_slice(extra);
        let o = record(&fake_lib("1.2.1"), &out, &args, &FAST);
        assert!(o.status.success(), "{}", stderr(&o));
        read_trace(&out)
            .requests
            .iter()
            .map(|r| r.test_id.clone())
            .collect()
    };
    assert_eq!(
        ids("i.rktrace", &[]),
        ["quick_01", "quick_02", "quick_03", "quick_01", "quick_02", "quick_03"]
    );
    let a = ids("s1.rktrace", &["--order", "shuffled", "--seed", "5"]);
    let b = ids("s2.rktrace", &["--order", "shuffled", "--seed", "5"]);
    assert_eq!(a, b);
}

#[test]
fn stop_rules() {
    // The duration is exhausted at once, but at least 4 measured requests run (the 3-test suite repeats).
    let (_, t) = record_ok(
        "rc-stop",
        &[
            "--suite",
            "quick",
            "--max-duration",
            "1ms",
            "--min-requests",
            "4",
        ],
        &FAST,
    );
    assert_eq!(t.requests.len(), 4);
    assert_eq!(t.requests[3].test_id, "quick_01");
    assert_eq!(t.requests[3].repeat_index, 1);
    let end = t.end.unwrap();
    assert!(end.detail.contains("--max-duration"), "{}", end.detail);
}

#[test]
fn sweep_records_one_trace_per_combination_and_reports_them_together() {
    let dir = tempdir("rc-sweep");
    let sweep = dir.join("sweep");
    let o = record(
        &fake_lib("1.2.1"),
        &sweep,
        &[
            "--suite",
            "quick",
            "--sweep",
            "max-context-len=1024,2048",
            "--sweep",
            "threads=2,4",
        ],
        &FAST,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep.join("index.json")).unwrap()).unwrap();
    let runs = index["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for r in runs {
        let trace = sweep.join(r["trace"].as_str().unwrap());
        let j = json_report(&trace);
        assert_eq!(
            j["run"]["params"]["max_context_len"].to_string(),
            r["params"]["max-context-len"].as_str().unwrap()
        );
        assert_eq!(
            j["run"]["params"]["enabled_cpus_num"].to_string(),
            r["params"]["threads"].as_str().unwrap()
        );
        assert_eq!(j["summary"]["ok"], 3);
    }
    let md = run(&["report", &sweep.display().to_string()], &[]);
    assert!(md.status.success(), "{}", stderr(&md));
    let md = stdout(&md);
    assert!(
        md.contains("| max-context-len | threads | ok/requests |"),
        "{md}"
    );
    assert_eq!(
        md.lines().filter(|l| l.contains("| 3/3 |")).count(),
        4,
        "{md}"
    );
    let o = record(
        &fake_lib("1.2.1"),
        &sweep,
        &["--suite", "quick", "--sweep", "model=a,b"],
        &FAST,
    );
    assert_eq!(o.status.code(), Some(2));
}

/// `DIR/index.json` of a sweep.
fn sweep_index(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap()
}

/// Wait (a hang guard, not a timing) until `ready` holds.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends SIG`sig` to a sweep, waits for it (a hang guard) and checks it exited 130; its stderr.
fn interrupt(sig: &str, child: &mut std::process::Child) -> String {
    kill(sig, child.id());
    let status = wait_for(child, Duration::from_secs(60));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "SIG{sig}: {err}");
    err
}

#[test]
fn a_signal_between_the_combinations_of_a_sweep_ends_it() {
    // #21 G6: a Ctrl-C or SIGTERM that reached the sweep after a combination's last request was
    // acknowledged and lost: every remaining combination ran and the exit was 0. The runtime
    // here makes its process take 1.5 s to exit, so the signal comes when the first
    // combination's trace is finished and its recorder is not yet gone.
    for sig in ["INT", "TERM"] {
        let dir = tempdir(&format!("rc-sweep-{sig}"));
        let sweep = dir.join("sweep");
        let mut child = spawn_record(
            &sweep,
            &[
                "--suite",
                "quick",
                "--no-telemetry",
                "--sweep",
                "max-new-tokens=4,5,6",
            ],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.005"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
                ("FAKE_RKLLM_EXIT_MS", "300000"),
            ],
            Stdio::piped(),
        );
        let first = sweep.join("01_max-new-tokens=4.rktrace");
        wait_until("the first combination's run end", || {
            rkbench::trace::reader::read(&first).is_ok_and(|t| t.end.is_some())
        });
        let err = interrupt(sig, &mut child);
        assert!(
            err.contains("rkbench: sweep interrupted: 1 of 3 combinations recorded, 2 not run; "),
            "SIG{sig}: {err}"
        );
        let index = sweep_index(&sweep);
        assert_eq!(index["status"], "interrupted", "SIG{sig}: {index}");
        assert_eq!(index["combinations"], 3);
        let runs = index["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "SIG{sig}: {index}");
        assert_eq!(runs[0]["exit_code"], 0, "its requests had all ended");
        assert_eq!(
            index["not_run"],
            serde_json::json!([{"max-new-tokens": "5"}, {"max-new-tokens": "6"}])
        );
        let t = read_trace(&first);
        assert_eq!(t.end.unwrap().status.as_str(), "complete");
        let md = stdout(&run(&["report", &sweep.display().to_string()], &[]));
        assert!(
            md.ends_with("Not run, because it was interrupted: 2 of the sweep's combinations (max-new-tokens=5; max-new-tokens=6)."),
            "{md}"
        );
        assert_eq!(
            std::fs::read_dir(&sweep).unwrap().count(),
            2,
            "one trace and the index"
        );
    }
}

/// What the fake llama-server below saw, and when it holds its `/props` answer.
#[derive(Default)]
struct Held {
    /// Answers streamed so far.
    streamed: u32,
    /// The first `/props` probe after this many answers is held 1.5 s (then answered).
    hold_after: u32,
    /// A probe is being held now.
    holding: bool,
    held_once: bool,
}

/// A llama-server look-alike (`/props`, `/slots`, a short SSE answer) that holds one detection
/// probe: the sweep is then between two combinations' requests.
fn held_probe_server(hold_after: u32) -> (u16, Arc<Mutex<Held>>) {
    common::http::serve(
        Held {
            hold_after,
            ..Default::default()
        },
        |mut c, st| {
            let r = common::http::read_request(&c)?;
            let json = "application/json";
            match (r.method.as_str(), r.path.as_str()) {
                ("GET", "/props") => {
                    let hold = {
                        let mut s = st.lock().unwrap();
                        let hold = !s.held_once && s.streamed == s.hold_after;
                        s.held_once |= hold;
                        s.holding = hold;
                        hold
                    };
                    if hold {
                        std::thread::sleep(Duration::from_millis(1500));
                    }
                    common::http::reply(&mut c, "200 OK", json, r#"{"build_info":"b1-fake"}"#)
                }
                ("GET", "/slots") => common::http::reply(
                    &mut c,
                    "200 OK",
                    json,
                    r#"[{"id":0,"is_processing":false}]"#,
                ),
                ("POST", "/v1/chat/completions") => {
                    write!(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
                    for data in [
                        r#"{"choices":[{"index":0,"delta":{"content":"a b"},"finish_reason":null}]}"#,
                        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"completion_tokens":2,"prompt_tokens":5}}"#,
                        "[DONE]",
                    ] {
                        let ev = format!("data: {data}\n\n");
                        write!(c, "{:x}\r\n{ev}\r\n", ev.len())?;
                    }
                    write!(c, "0\r\n\r\n")?;
                    c.flush()?;
                    st.lock().unwrap().streamed += 1;
                    Ok(())
                }
                _ => common::http::reply(&mut c, "404 Not Found", json, "{}"),
            }
        },
    )
}

#[test]
fn a_signal_between_the_combinations_of_a_server_sweep_ends_it() {
    // #21 G6 through a server: SIGTERM while the first combination detects the server (before
    // any recorder had installed its handler: the default action killed the sweep, no index),
    // and Ctrl-C while the second one does. The combination being set up ends as interrupted
    // without a request; the rest are not run; exit 130.
    for (hold_after, sig) in [(0u32, "TERM"), (1, "INT")] {
        let (port, state) = held_probe_server(hold_after);
        let dir = tempdir(&format!("rc-server-sweep-{sig}"));
        let suite = suite_file(
            &dir,
            r#"{"name":"srv","tests":[{"id":"a","prompt":"a short answer please"}]}"#,
        );
        let sweep = dir.join("sweep");
        let url = format!("http://127.0.0.1:{port}");
        let mut child = server_command(
            &url,
            suite.to_str().unwrap(),
            &["--sweep", "top-k=1,5,9", "--out", sweep.to_str().unwrap()],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        wait_until("the held probe", || state.lock().unwrap().holding);
        interrupt(sig, &mut child);
        let index = sweep_index(&sweep);
        assert_eq!(index["status"], "interrupted", "SIG{sig}: {index}");
        let runs = index["runs"].as_array().unwrap();
        let codes: Vec<i64> = runs
            .iter()
            .map(|r| r["exit_code"].as_i64().unwrap())
            .collect();
        let (want_codes, not_run) = match hold_after {
            0 => (
                vec![130],
                serde_json::json!([{"top-k": "5"}, {"top-k": "9"}]),
            ),
            _ => (vec![0, 130], serde_json::json!([{"top-k": "9"}])),
        };
        assert_eq!(codes, want_codes, "SIG{sig}: {index}");
        assert_eq!(index["not_run"], not_run, "SIG{sig}: {index}");
        assert_eq!(
            state.lock().unwrap().streamed,
            hold_after,
            "no request after the signal"
        );
        let last = read_trace(&sweep.join(runs.last().unwrap()["trace"].as_str().unwrap()));
        assert_eq!(last.end.unwrap().status.as_str(), "interrupted");
    }
}

#[test]
fn the_original_tools_prompt_file_shape() {
    let dir = tempdir("rc-legacy");
    let prompts = dir.join("benchmark_prompts.json");
    std::fs::write(
        &prompts,
        r#"{"performance_tests": {"description": "perf", "tests": [{"id": "completion_01", "name": "Tech", "prompt": "The impact of AI is"}]},
            "quality_tests": {"description": "q", "tests": [{"id": "coding_01", "name": "Code", "category": "coding", "prompt": "Write a function."}]},
            "evaluation_criteria": {"performance_metrics": ["ttft"]}}"#,
    )
    .unwrap();
    let out = dir.join("t.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", &prompts.display().to_string()],
        &FAST,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json_report(&out);
    let cats: Vec<&str> = j["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["completion", "coding"]);
    assert_eq!(j["run"]["suite"]["name"], "benchmark_prompts");
}

#[test]
fn progress_line_updates_in_place_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: `script` (util-linux) not installed; skipping the pty test");
        return;
    }
    let dir = tempdir("rc-pty");
    let out = dir.join("t.rktrace");
    let cmd = format!(
        "{} record --lib {} --model {} --suite quick --out {}",
        bin().display(),
        fake_lib("1.2.1").display(),
        model().display(),
        out.display()
    );
    // `script` gives the recorder a pseudo-terminal, as a person at a board's console has.
    let o = std::process::Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("FAKE_RKLLM_TIME_SCALE", "0.02")
        .env("FAKE_RKLLM_OUTPUT_TOKENS", "60")
        .output()
        .unwrap();
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    // Redraws in place: carriage return + erase-line, several times for one request.
    let redraws = s.matches("\r\x1b[2K[").count();
    assert!(
        redraws >= 6,
        "expected in-place redraws, got {redraws}:\n{s:?}"
    );
    assert!(s.contains("tok/s, "), "live decode rate shown: {s:?}");
    assert!(s.contains("ETA"), "{s:?}");
    assert!(
        s.contains("rkbench: done: 3 requests (0 warm-up), 3 ok, 0 partial, 0 failed"),
        "clean final summary: {s:?}"
    );
    // Not a terminal: plain lines, no escape codes; --quiet: nothing.
    let o = record(
        &fake_lib("1.2.1"),
        &dir.join("p.rktrace"),
        &["--suite", "quick"],
        &FAST,
    );
    assert!(!stderr(&o).contains('\x1b'));
    assert!(stderr(&o).is_empty(), "-q prints nothing: {}", stderr(&o));
}

#[test]
fn suite_list_show_check() {
    let o = run(&["suite", "list"], &[]);
    assert!(o.status.success());
    let s = stdout(&o);
    for name in ["default", "quick", "context"] {
        assert!(s.contains(name), "{s}");
    }
    let s = stdout(&run(&["suite", "show", "default"], &[]));
    assert!(
        s.contains("completion_01") && s.contains("consistency_01"),
        "{s}"
    );
    let dir = tempdir("rc-suite");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"name\": \"x\", \"tests\": []}").unwrap();
    let o = run(
        &[
            "suite",
            "check",
            &root()
                .join("fixtures/suites/quick.json")
                .display()
                .to_string(),
            &bad.display().to_string(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    let s = stdout(&o);
    assert!(
        s.contains("quick.json: ok (3 tests") && s.contains("bad.json"),
        "{s}"
    );
}
