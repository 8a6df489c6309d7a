//! Runtime conformance end to end: the simulated runtime misbehaves the way field reports say
//! real ones do (ignores the stop return, sends FINISH late, aborts slowly, serves repeated
//! prompts from a cache, fills perf differently, calls back on the caller's thread), and every
//! check is seen to pass with the well-behaved runtime and fail (or change) with the other.
mod common;
use common::*;
use rkbench::stats::conformance::{CheckStatus, Conformance};
use std::path::{Path, PathBuf};

/// A suite of three prompts with caps 12, 20, 12 (the issue's example).
fn caps_suite(dir: &Path) -> PathBuf {
    let p = dir.join("caps.json");
    std::fs::write(
        &p,
        r#"{"name":"caps","tests":[
 {"id":"a","name":"A","category":"c","prompt":"In two sentences, explain what a lighthouse is for.","max_new_tokens":12},
 {"id":"b","name":"B","category":"c","prompt":"List three everyday uses of a small single-board computer.","max_new_tokens":20},
 {"id":"c","name":"C","category":"c","prompt":"Continue this sentence: On the first cold morning of autumn","max_new_tokens":12}]}"#,
    )
    .unwrap();
    p
}

fn rec(abi: &str, dir: &Path, name: &str, extra: &[&str], env: &[(&str, &str)]) -> PathBuf {
    let out = dir.join(format!("{name}.rktrace"));
    let mut e = vec![
        ("FAKE_RKLLM_TIME_SCALE", "0.01"),
        ("FAKE_RKLLM_JITTER", "0"),
    ];
    e.extend_from_slice(env);
    let o = record(&fake_lib(abi), &out, extra, &e);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    out
}

fn conformance(p: &Path) -> Conformance {
    Conformance::of(&read_trace(p))
}

fn status(c: &Conformance, name: &str) -> (CheckStatus, String) {
    let x = c.checks.iter().find(|x| x.check == name).unwrap();
    (x.status, x.evidence.clone())
}

#[test]
fn caps_hold_when_the_runtime_ignores_the_stop_return() {
    let dir = tempdir("conf-caps");
    let suite = caps_suite(&dir);
    let suite = suite.to_str().unwrap();
    let long = [("FAKE_RKLLM_OUTPUT_TOKENS", "40")];
    // Conforming 1.2.1: the stop return ends generation exactly at the cap.
    let ok = rec("1.2.1", &dir, "ok", &["--suite", suite], &long);
    let t = read_trace(&ok);
    let n: Vec<usize> = t.requests.iter().map(|r| r.output_tokens()).collect();
    assert_eq!(n, [12, 20, 12]);
    let c = conformance(&ok);
    assert_eq!(status(&c, "stop-return-honoured").0, CheckStatus::Pass);
    assert_eq!(status(&c, "cap-held").0, CheckStatus::Pass);
    let how: Vec<&str> = c.caps.iter().map(|e| e.how.as_str()).collect();
    assert_eq!(
        how,
        ["stop honoured", "runtime cap (init)", "stop honoured"]
    );

    // Ignoring it: rkbench aborts from the recorder when the next token arrives, and on later
    // requests at the cap itself.
    let env = [long[0], ("FAKE_RKLLM_IGNORE_STOP", "1")];
    let bad = rec("1.2.1", &dir, "ignore-stop", &["--suite", suite], &env);
    let t = read_trace(&bad);
    for (r, cap) in t.requests.iter().zip([12, 20, 12]) {
        let n = r.output_tokens();
        assert!(
            n >= cap && n <= cap + 2,
            "{}: {n} tokens for cap {cap}",
            r.test_id
        );
    }
    let c = conformance(&bad);
    let (s, e) = status(&c, "stop-return-honoured");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert!(
        e.contains("1 of 1 stop returns ignored")
            && e.contains("1 later capped request(s) aborted at the cap itself"),
        "{e}"
    );
    assert_eq!(status(&c, "cap-held").0, CheckStatus::Pass);
    assert!(
        c.caps[0].how.starts_with("held by abort after"),
        "{:?}",
        c.caps
    );
    assert!(c.warnings().any(|(k, _)| k == "stop-return-honoured"));
    // The abort was sent by the recorder during the run, not after it returned.
    for o in &t.runtime.observations {
        if o.stop_requested_at >= 0 {
            let first = o.index == 0;
            assert_eq!(
                o.abort_reason,
                if first { "cap" } else { "cap-stop-ignored" }
            );
            let r = &t.requests[o.index as usize];
            assert!((o.abort_us as u64) < r.return_us, "{o:?} {}", r.return_us);
        }
    }
    assert_eq!(status(&c, "abort-latency").0, CheckStatus::Pass);

    // ≤ 1.2.0: no stop return; the abort goes out at the cap without waiting.
    let old = rec("1.2.0", &dir, "old", &["--suite", suite], &long);
    let t = read_trace(&old);
    for (r, cap) in t.requests.iter().zip([12, 20, 12]) {
        let n = r.output_tokens();
        assert!(
            n >= cap && n <= cap + 2,
            "1.2.0 {}: {n} for {cap}",
            r.test_id
        );
    }
    let c = conformance(&old);
    assert_eq!(status(&c, "stop-return-honoured").0, CheckStatus::Unknown);
    assert_eq!(status(&c, "cap-held").0, CheckStatus::Pass);

    // An abort that takes 30 s (simulated) lets the cap overshoot until the runtime's own cap
    // (the largest, 20): both checks fail. Slower time scale so the 8 late tokens take longer
    // than the latency floor.
    let env = [
        long[0],
        ("FAKE_RKLLM_ABORT_DELAY_MS", "30000"),
        ("FAKE_RKLLM_TIME_SCALE", "0.1"),
    ];
    let slow = rec("1.2.0", &dir, "slow-abort", &["--suite", suite], &env);
    let c = conformance(&slow);
    let (s, e) = status(&c, "abort-latency");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert_eq!(status(&c, "cap-held").0, CheckStatus::Fail);
}

#[test]
fn finish_perf_and_threads() {
    let dir = tempdir("conf-finish");
    let quick = ["--suite", "quick"];
    let short = ("FAKE_RKLLM_OUTPUT_TOKENS", "6");
    let ok = conformance(&rec("1.2.1", &dir, "ok", &quick, &[short]));
    for name in ["finish-once", "token-count-matches-perf", "perf-present"] {
        assert_eq!(status(&ok, name).0, CheckStatus::Pass, "{name}");
    }
    let (s, e) = status(&ok, "callback-thread");
    assert_eq!(s, CheckStatus::Pass);
    assert!(e.contains("on another thread than rkllm_run's"), "{e}");

    // FINISH delivered after rkllm_run returned: still recorded, but the check fails.
    let late = rec(
        "1.2.1",
        &dir,
        "late",
        &quick,
        &[short, ("FAKE_RKLLM_LATE_FINISH_MS", "2000")],
    );
    let c = conformance(&late);
    let (s, e) = status(&c, "finish-once");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert!(e.contains("FINISH after rkllm_run returned"), "{e}");
    assert!(read_trace(&late).requests.iter().all(|r| r.perf.is_some()));

    // generate_tokens without the first token; perf not filled at all.
    let c = conformance(&rec(
        "1.2.1",
        &dir,
        "decode-only",
        &quick,
        &[short, ("FAKE_RKLLM_PERF", "decode-only")],
    ));
    let (s, e) = status(&c, "token-count-matches-perf");
    assert_eq!(s, CheckStatus::Fail);
    assert!(e.contains("6 callbacks, generate_tokens 5"), "{e}");
    assert_eq!(status(&c, "perf-present").0, CheckStatus::Pass);
    let c = conformance(&rec(
        "1.2.1",
        &dir,
        "no-perf",
        &quick,
        &[short, ("FAKE_RKLLM_PERF", "none")],
    ));
    assert_eq!(status(&c, "perf-present").0, CheckStatus::Fail);

    // Callbacks on the thread that called rkllm_run.
    let c = conformance(&rec(
        "1.2.1",
        &dir,
        "caller",
        &quick,
        &[short, ("FAKE_RKLLM_CALLBACK_THREAD", "caller")],
    ));
    let (s, e) = status(&c, "callback-thread");
    assert_eq!(s, CheckStatus::Pass);
    assert!(e.contains("on the thread blocked in rkllm_run"), "{e}");
    assert_eq!(status(&c, "finish-once").0, CheckStatus::Pass);
}

#[test]
fn clearing_the_kv_cache_stops_prompt_cache_reuse() {
    let dir = tempdir("conf-kv");
    let args = ["--suite", "quick", "--repeat", "2", "--max-new-tokens", "3"];
    // Prefill ~70 ms real: a loaded machine's scheduling delays stay well below half of it.
    let cache = |v| {
        [
            ("FAKE_RKLLM_PROMPT_CACHE", v),
            ("FAKE_RKLLM_TIME_SCALE", "0.1"),
        ]
    };
    // The runtime reuses identical prompts unless the KV cache is cleared (rkbench's default).
    let c = conformance(&rec("1.2.1", &dir, "cleared", &args, &cache("1")));
    let (s, e) = status(&c, "clear-kv-effective");
    assert_eq!(s, CheckStatus::Pass, "{e}");
    assert!(e.contains("rkllm_clear_kv_cache called"), "{e}");
    // Not cleared: the repeats are prefilled from the cache and the check catches it.
    let mut no_clear = args.to_vec();
    no_clear.push("--no-clear-kv");
    let c = conformance(&rec("1.2.1", &dir, "kept", &no_clear, &cache("1")));
    let (s, e) = status(&c, "clear-kv-effective");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert!(e.contains("KV cache not cleared"), "{e}");
    // A runtime whose rkllm_clear_kv_cache does not drop the prompt cache.
    let c = conformance(&rec("1.2.1", &dir, "sticky", &args, &cache("sticky")));
    let (s, e) = status(&c, "clear-kv-effective");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert!(c
        .warnings()
        .any(|(k, w)| k == "clear-kv-effective" && w.contains("too good")));
    // Without repeats there is nothing to compare.
    let c = conformance(&rec(
        "1.2.1",
        &dir,
        "once",
        &["--suite", "quick", "--max-new-tokens", "3"],
        &[],
    ));
    assert_eq!(status(&c, "clear-kv-effective").0, CheckStatus::Unknown);
}

#[test]
fn every_report_format_shows_the_checks_and_the_failures_as_warnings() {
    let dir = tempdir("conf-report");
    let suite = caps_suite(&dir);
    let env = [
        ("FAKE_RKLLM_OUTPUT_TOKENS", "40"),
        ("FAKE_RKLLM_IGNORE_STOP", "1"),
    ];
    let t = rec(
        "1.2.1",
        &dir,
        "t",
        &["--suite", suite.to_str().unwrap()],
        &env,
    );
    let j = json_report(&t);
    let checks = j["runtime_conformance"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    let get = |c: &str| checks.iter().find(|x| x["check"] == c).unwrap().clone();
    assert_eq!(get("stop-return-honoured")["status"], "fail");
    assert_eq!(get("cap-held")["status"], "pass");
    assert_eq!(get("callback-thread")["status"], "pass");
    let caps = j["cap_enforcement"].as_array().unwrap();
    assert_eq!(caps.len(), 3);
    assert!(caps[0]["enforced"]
        .as_str()
        .unwrap()
        .starts_with("held by abort after"));
    assert_eq!(caps[1]["enforced"], "runtime cap (init)");
    assert!(j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "runtime-stop-ignored"));
    let path = t.display().to_string();
    for (fmt, needle) in [
        ("md", "## 🧪 Runtime conformance"),
        ("html", "<section id=\"conformance\">"),
    ] {
        let o = run(&["report", "--format", fmt, &path], &[]);
        let s = stdout(&o);
        assert!(s.contains(needle), "{fmt}");
        assert!(
            s.contains("stop-return-honoured") && s.contains("runtime-stop-ignored"),
            "{fmt}"
        );
    }
}

/// The runtime's perf times on rkbench's clock: the simulated runtime reports the milliseconds
/// the run took; made to report its simulated board's time while running 100× faster, it is
/// caught, and every report says so.
#[test]
fn perf_matches_clock_passes_on_the_honest_runtime_and_fails_on_the_lying_one() {
    let dir = tempdir("conf-clock");
    let quick = ["--suite", "quick"];
    let short = ("FAKE_RKLLM_OUTPUT_TOKENS", "8");
    let honest = rec("1.2.1", &dir, "honest", &quick, &[short]);
    let (s, e) = status(&conformance(&honest), "perf-matches-clock");
    assert_eq!(s, CheckStatus::Pass, "{e}");
    assert!(e.starts_with("3 of 3 requests"), "{e}");
    let lying = rec(
        "1.2.1",
        &dir,
        "lying",
        &quick,
        &[short, ("FAKE_RKLLM_PERF_CLOCK", "simulated")],
    );
    let (s, e) = status(&conformance(&lying), "perf-matches-clock");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert!(e.starts_with("3 of 3 requests off"), "{e}");
    let j = json_report(&lying);
    assert!(j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["code"] == "runtime-perf-clock"));
    let md = stdout(&run(&["report", &lying.display().to_string()], &[]));
    assert!(md.contains("perf-matches-clock"), "{md}");
    // 1.2.0 has no perf stats: nothing to judge.
    let old = rec("1.2.0", &dir, "old", &quick, &[short]);
    assert_eq!(
        status(&conformance(&old), "perf-matches-clock").0,
        CheckStatus::Unknown
    );
}

/// Once a run has seen the runtime ignore the stop return, later capped requests are aborted at
/// the cap itself instead of after one more (ignored) token: they end with exactly the cap.
#[test]
fn after_an_ignored_stop_later_caps_are_held_by_an_abort_at_the_cap() {
    let dir = tempdir("conf-caps-after-ignored");
    let p = dir.join("caps4.json");
    // The largest cap (16) goes to rkllm_init; the others are rkbench's to hold.
    std::fs::write(
        &p,
        r#"{"name":"caps4","tests":[
 {"id":"a","name":"A","category":"c","prompt":"In two sentences, explain what a lighthouse is for.","max_new_tokens":8},
 {"id":"b","name":"B","category":"c","prompt":"List three everyday uses of a small single-board computer.","max_new_tokens":10},
 {"id":"c","name":"C","category":"c","prompt":"Continue this sentence: On the first cold morning of autumn","max_new_tokens":6},
 {"id":"d","name":"D","category":"c","prompt":"Name a river.","max_new_tokens":16}]}"#,
    )
    .unwrap();
    // ~150 ms between tokens: the abort thread has far longer than it needs to act at the cap,
    // even on a loaded 2-core CI machine.
    let env = [
        ("FAKE_RKLLM_OUTPUT_TOKENS", "40"),
        ("FAKE_RKLLM_IGNORE_STOP", "1"),
        ("FAKE_RKLLM_TIME_SCALE", "0.5"),
    ];
    let t = rec("1.2.1", &dir, "t", &["--suite", p.to_str().unwrap()], &env);
    let trace = read_trace(&t);
    let n: Vec<usize> = trace.requests.iter().map(|r| r.output_tokens()).collect();
    assert!(n[0] > 8 && n[0] <= 10, "the first stop is ignored: {n:?}");
    assert_eq!(n[1..], [10, 6, 16], "{n:?}");
    let obs = &trace.runtime.observations;
    for i in [1, 2] {
        assert_eq!(obs[i].abort_reason, "cap-stop-ignored", "{:?}", obs[i]);
        assert_eq!(obs[i].abort_at_token as usize, n[i], "{:?}", obs[i]);
    }
    let c = conformance(&t);
    let how: Vec<&str> = c.caps.iter().map(|e| e.how.as_str()).collect();
    assert!(how[0].starts_with("held by abort after"), "{how:?}");
    assert_eq!(
        how[1..],
        [
            "abort at the cap (stop return ignored earlier in the run)",
            "abort at the cap (stop return ignored earlier in the run)",
            "runtime cap (init)"
        ]
    );
    let (s, e) = status(&c, "stop-return-honoured");
    assert_eq!(s, CheckStatus::Fail, "{e}");
    assert!(
        e.starts_with("1 of 1 stop returns ignored (a: ")
            && e.ends_with("; 2 later capped request(s) aborted at the cap itself"),
        "{e}"
    );
    let (s, e) = status(&c, "cap-held");
    assert_eq!(s, CheckStatus::Pass, "{e}");
}
