//! Run control through the simulated runtime: repetitions, warm-up, cool-down, order, stop
//! rules, sweeps (one trace per combination + a grouped report), the original tool's prompt-file
//! shape, and the live progress line on a pseudo-terminal.
mod common;
use common::*;

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
