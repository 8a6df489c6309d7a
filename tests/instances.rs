//! `record --concurrency N` on the bare runtime: N instances of the simulated runtime in one
//! rkbench process, through real `dlopen` and real C callbacks. The report must say how the
//! instances shared the (simulated) NPU, each instance must get its own `rkllm_init` and
//! `base_domain_id`, old runtimes and too little memory are refused, and a kill with two
//! requests in flight loses neither.
mod common;
use common::*;
use rkbench::trace::Status;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `record -q --suite SUITE --concurrency 2 EXTRA…` on the 1.3.0 simulated runtime (a release
/// with several instances): two instances, the level every test here records.
fn record_two(
    out: &Path,
    suite: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut args = vec!["--suite", suite, "--concurrency", "2"];
    args.extend_from_slice(extra);
    record(&fake_lib("1.3.0"), out, &args, env)
}

/// A level of 2 instances on the 1.3.0 simulated runtime with contention model `npu`; two
/// warm-ups give a clean stretch of one instance decoding alone.
fn two_instances(name: &str, npu: &str) -> (std::path::PathBuf, serde_json::Value) {
    // The two timed levels never run beside each other (their rates are what is compared).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempdir(name);
    let out = dir.join("t.rktrace");
    let params = dir.join("params.txt");
    // Short prompts (4 input tokens): the time goes into decoding, which is what is compared.
    let tests: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"id":"t{i}","prompt":"short prompt {i:03}"}}"#))
        .collect();
    let suite = suite_file(
        &dir,
        &format!(r#"{{"name":"inst","tests":[{}]}}"#, tests.join(",")),
    );
    let o = record_two(
        &out,
        suite.to_str().unwrap(),
        &["--warmup", "2"],
        &[
            ("FAKE_RKLLM_NPU", npu),
            // Steps of 63 ms: a loaded machine's wake-up delays stay small beside them.
            ("FAKE_RKLLM_TIME_SCALE", "0.2"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
            ("FAKE_RKLLM_JITTER", "0"),
            ("FAKE_RKLLM_TRACE_PARAMS", params.to_str().unwrap()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Two rkllm_init calls, each with its own base_domain_id (rkllm-concurrency.md B2).
    let p = std::fs::read_to_string(&params).unwrap();
    let mut domains: Vec<&str> = p
        .lines()
        .filter_map(|l| l.strip_prefix("base_domain_id="))
        .collect();
    domains.sort();
    assert_eq!(domains, ["0", "1"], "{p}");
    assert_eq!(p.lines().filter(|l| l.starts_with("init=")).count(), 2);

    let t = read_trace(&out);
    let run = t.load.run.as_ref().expect("a LoadRun record");
    assert_eq!(
        (run.mode.as_str(), run.concurrency, run.instances),
        ("concurrency", 2, 2)
    );
    assert_eq!(fact_value(&run.facts, "instance.0.base_domain_id"), "0");
    assert_eq!(fact_value(&run.facts, "instance.1.base_domain_id"), "1");
    assert!(fact_value(&run.facts, "npu.simulated_contention").starts_with(npu));
    assert!(fact_value(&run.facts, "memory.per_instance_lower_bound").starts_with("131 bytes"));
    // 2 warm-ups before the level, 8 measured requests in it, each sent on an instance.
    assert_eq!(t.requests.len(), 10);
    assert!(t.requests.iter().all(|r| r.status == Status::Ok));
    for warm in &t.requests[..2] {
        assert!(warm.warmup && warm.start_us + warm.end_us <= run.start_us);
    }
    let mut streams = [0; 2];
    for r in t.requests.iter().filter(|r| !r.warmup) {
        let s = t
            .load
            .of(r.index)
            .expect("a RequestSent per measured request");
        assert_eq!(s.sent_us, r.start_us);
        assert!(s.scheduled_us <= s.sent_us && s.scheduled_us >= run.start_us);
        streams[s.stream as usize] += 1;
    }
    assert!(streams[0] > 0 && streams[1] > 0, "{streams:?}");
    // Requests of the two instances overlap on the run clock.
    let span = |r: &rkbench::trace::RequestRecord| (r.start_us, r.start_us + r.end_us);
    let overlapping = t.requests.iter().filter(|r| !r.warmup).any(|a| {
        t.requests.iter().any(|b| {
            a.index != b.index
                && t.load.stream_of(a.index) != t.load.stream_of(b.index)
                && span(a).0 < span(b).1
                && span(b).0 < span(a).1
        })
    });
    assert!(overlapping);
    let j = json_report(&out);
    (out, j)
}

fn speedup(j: &serde_json::Value) -> f64 {
    j["load"]["instances"]["aggregate_speedup"]
        .as_f64()
        .unwrap_or_else(|| panic!("no speedup: {}", j["load"]["instances"]))
}

#[test]
fn serial_instances_take_turns_on_the_npu() {
    let (out, j) = two_instances("inst-serial", "serial");
    let li = &j["load"]["instances"];
    assert_eq!(li["instances"], 2);
    assert_eq!(li["sharing"], "serial", "{li}");
    assert_eq!(li["simulated_contention"], "serial");
    let s = speedup(&j);
    assert!(
        (0.8..=1.25).contains(&s),
        "serial: aggregate speedup {s}: {li}"
    );
    let md = run(
        &["report", "--format", "markdown", out.to_str().unwrap()],
        &[],
    );
    let md = stdout(&md);
    assert!(md.contains("## How the instances shared the NPU"), "{md}");
    assert!(md.contains("used the NPU in turn (serialised)"), "{md}");
    let html = run(&["report", "--format", "html", out.to_str().unwrap()], &[]);
    assert!(stdout(&html).contains("<section id=\"instances\">"));
}

#[test]
fn parallel_instances_add_up() {
    let (out, j) = two_instances("inst-parallel", "parallel");
    let li = &j["load"]["instances"];
    let s = speedup(&j);
    assert!(
        (1.6..=2.4).contains(&s),
        "parallel: aggregate speedup {s}: {li}"
    );
    assert_eq!(li["sharing"], "parallel", "{li}");
    let md = stdout(&run(
        &["report", "--format", "markdown", out.to_str().unwrap()],
        &[],
    ));
    assert!(md.contains("used the NPU in parallel"), "{md}");
}

#[test]
fn a_sequential_trace_has_no_instances_section() {
    let (out, _) = record_ok(
        "inst-sequential",
        &["--suite", "quick"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "4"),
        ],
    );
    let j = json_report(&out);
    assert!(j["load"]["instances"].is_null());
    let md = stdout(&run(
        &["report", "--format", "markdown", out.to_str().unwrap()],
        &[],
    ));
    assert!(!md.contains("shared the NPU"));
}

#[test]
fn runtimes_before_1_2_2_are_refused() {
    let dir = tempdir("inst-old-abi");
    for (abi, is) in [("1.2.1", "1.2.1"), ("1.2.0", "1.2.0"), ("1.1", "1.1.4")] {
        let out = dir.join(format!("{abi}.rktrace"));
        let o = record(
            &fake_lib(abi),
            &out,
            &["--suite", "quick", "--concurrency", "2"],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{abi}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("--concurrency 2: multi-instance needs RKLLM ≥ 1.2.2")
                && e.contains(&format!("this runtime is {is}")),
            "{abi}: {e}"
        );
        assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
        assert!(!out.exists(), "{abi}: nothing written");
    }
}

/// A sysfs root whose `/proc/meminfo` says `kb` kB are available.
fn meminfo_root(dir: &Path, kb: u64) -> std::path::PathBuf {
    let root = dir.join(format!("root-{kb}"));
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::write(
        root.join("proc/meminfo"),
        format!(
            "MemTotal:       16318480 kB\nMemFree:          100 kB\nMemAvailable:   {kb:>8} kB\n"
        ),
    )
    .unwrap();
    root
}

#[test]
fn instances_that_would_not_fit_in_memory_are_refused() {
    let dir = tempdir("inst-memory");
    // The simulated model file is 131 bytes: 2 instances need 262 bytes, 0 kB cannot hold them.
    let out = dir.join("none.rktrace");
    let root = meminfo_root(&dir, 0);
    let o = record_two(
        &out,
        "quick",
        &["--sysfs-root", root.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--concurrency 2: 2 instances map at least 2 ×")
            && e.contains("more than MemAvailable")
            && e.contains("(0 kB in "),
        "{e}"
    );
    assert!(!out.exists());
    // 1 kB holds them: the run goes ahead and states what MemAvailable said.
    let out = dir.join("fits.rktrace");
    let root = meminfo_root(&dir, 1);
    let o = record_two(
        &out,
        "quick",
        &["--sysfs-root", root.to_str().unwrap()],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "4"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = read_trace(&out);
    let facts = &t.load.run.as_ref().unwrap().facts;
    assert_eq!(
        fact_value(facts, "memory.mem_available_before_init"),
        "1 kB"
    );
    assert_eq!(
        fact_value(facts, "instance.1.mem_available_after_init"),
        "1 kB"
    );
}

/// Spawn an unsupervised 2-instance recording (so SIGKILL hits the recorder itself).
fn spawn_two(out: &Path, env: &[(&str, &str)]) -> std::process::Child {
    record_command(
        &fake_lib("1.3.0"),
        out,
        &[
            "-q",
            "--no-supervise",
            "--suite",
            "default",
            "--concurrency",
            "2",
            "--checkpoint-interval",
            "2ms",
        ],
        env,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap()
}

/// Poll the trace (merged with its journal) until `ready` holds; a hang guard, not a timing.
fn wait_until(out: &Path, ready: impl Fn(&rkbench::trace::Trace) -> bool) {
    let start = Instant::now();
    loop {
        if let Ok(t) = rkbench::trace::reader::read(out) {
            if ready(&t) {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the recording never reached the state to kill it in"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn in_flight_with(t: &rkbench::trace::Trace, tokens: usize) -> usize {
    t.requests
        .iter()
        .filter(|r| r.status == Status::InFlight && r.tokens.token_ids.len() == tokens)
        .count()
}

#[test]
fn kill_9_with_two_requests_in_flight_recovers_both() {
    let dir = tempdir("inst-kill");
    let out = dir.join("t.rktrace");
    // Every run stops after 5 tokens and waits for an abort that never comes: both instances
    // are in flight with 5 tokens each.
    let mut child = spawn_two(
        &out,
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_HANG_AFTER", "5"),
        ],
    );
    wait_until(&out, |t| in_flight_with(t, 5) == 2);
    kill("KILL", child.id());
    let _ = child.wait();
    let v = run(&["verify", out.to_str().unwrap()], &[]);
    assert!(
        stdout(&v).contains("2 requests, 2 in-flight"),
        "verify: {}{}",
        stdout(&v),
        stderr(&v)
    );
    let j = json_report(&out);
    let reqs = j["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    for r in reqs {
        assert_eq!(r["status"], "in-flight");
        assert_eq!(r["output_tokens"], 5);
    }
    let t = read_trace(&out);
    let streams: Vec<u32> = t
        .requests
        .iter()
        .map(|r| t.load.stream_of(r.index))
        .collect();
    assert_eq!(streams, [0, 1]);
}

#[test]
fn a_finishing_request_keeps_its_peers_checkpoints() {
    let dir = tempdir("inst-kill-peer");
    let out = dir.join("t.rktrace");
    // Only the process's second run hangs (after 5 tokens); the other instance goes on
    // finishing requests beside it, each writing its final frames while the hung one is in
    // flight.
    let mut child = spawn_two(
        &out,
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "8"),
            ("FAKE_RKLLM_HANG_AFTER", "5"),
            ("FAKE_RKLLM_FAULT_RUN", "1"),
        ],
    );
    wait_until(&out, |t| {
        t.requests.iter().filter(|r| r.status == Status::Ok).count() >= 3
            && in_flight_with(t, 5) == 1
    });
    kill("KILL", child.id());
    let _ = child.wait();
    let t = read_trace(&out);
    assert_eq!(
        in_flight_with(&t, 5),
        1,
        "the hung request kept its 5 tokens"
    );
    for r in t.requests.iter().filter(|r| r.status == Status::Ok) {
        assert_eq!(r.tokens.token_ids.len(), 8, "finished requests are intact");
    }
}

#[test]
fn ctrl_c_aborts_the_request_on_every_instance() {
    let dir = tempdir("inst-int");
    let out = dir.join("t.rktrace");
    // Supervised (the default): the interrupt goes to the supervisor, which forwards it.
    let mut child = record_command(
        &fake_lib("1.3.0"),
        &out,
        &["-q", "--suite", "default", "--concurrency", "2"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_HANG_AFTER", "5"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_until(&out, |t| in_flight_with(t, 5) == 2);
    kill("INT", child.id());
    let status = wait_for(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    let t = read_trace(&out);
    assert_eq!(
        t.end.as_ref().unwrap().status,
        rkbench::trace::RunStatus::Interrupted
    );
    assert_eq!(t.requests.len(), 2);
    for r in &t.requests {
        assert_eq!(r.status, Status::Interrupted, "{r:?}");
        assert_eq!(r.tokens.token_ids.len(), 5);
    }
    let obs = &t.runtime.observations;
    assert_eq!(obs.len(), 2);
    assert!(obs.iter().all(|o| o.abort_reason == "interrupt"), "{obs:?}");
}

#[test]
fn deadlines_hold_per_instance_and_a_hung_instance_ends_the_run() {
    let dir = tempdir("inst-hung");
    // Every run stops after 3 tokens; the process's third run also ignores rkllm_abort.
    // Instances 0 and 1 time out (aborted at their deadline, the abort honoured); then one
    // instance hangs past the abort grace: the run ends hung, and the request beside it is
    // stopped and kept.
    let out = dir.join("t.rktrace");
    let o = record_two(
        &out,
        "default",
        &["--timeout", "200ms", "--abort-grace", "300ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_HANG_AFTER", "3"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = read_trace(&out);
    assert_eq!(t.requests.len(), 10);
    for r in &t.requests {
        assert_eq!(r.status, Status::Timeout, "{r:?}");
        assert_eq!(r.tokens.token_ids.len(), 3);
    }
    let out = dir.join("hung.rktrace");
    let o = record_two(
        &out,
        "default",
        &["--timeout", "200ms", "--abort-grace", "300ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "20"),
            ("FAKE_RKLLM_HANG_AFTER", "3"),
            ("FAKE_RKLLM_FAULT_RUN", "0"),
            ("FAKE_RKLLM_IGNORE_ABORT", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let t = read_trace(&out);
    let end = t.end.as_ref().unwrap();
    assert_eq!(end.status, rkbench::trace::RunStatus::Hung);
    assert!(end.detail.starts_with("instance "), "{}", end.detail);
    let hung: Vec<_> = t
        .requests
        .iter()
        .filter(|r| r.status == Status::Hung)
        .collect();
    assert_eq!(hung.len(), 1, "{:?}", t.requests);
    assert_eq!(hung[0].tokens.token_ids.len(), 3);
    let stopped = t
        .requests
        .iter()
        .filter(|r| r.status == Status::Interrupted)
        .count();
    assert!(stopped <= 1);
    for r in t.requests.iter().filter(|r| r.status == Status::Ok) {
        assert_eq!(r.tokens.token_ids.len(), 20);
    }
    assert!(
        t.requests.len() >= 2,
        "the other instance went on meanwhile"
    );
}

#[test]
fn a_crash_with_two_in_flight_is_finalised_by_the_supervisor() {
    let dir = tempdir("inst-crash");
    let out = dir.join("t.rktrace");
    // The process's second run dies of SIGSEGV after its 6th token while the first (on the
    // other instance, 24+ tokens long) is still going: the supervisor closes both requests in
    // flight as crashed, keeping their checkpoints.
    let o = record_two(
        &out,
        "default",
        &["--checkpoint-interval", "1ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.02"),
            ("FAKE_RKLLM_NPU", "parallel"),
            ("FAKE_RKLLM_CRASH_AFTER", "6"),
            ("FAKE_RKLLM_FAULT_RUN", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let v = run(&["verify", out.to_str().unwrap()], &[]);
    assert!(v.status.success(), "{}", stdout(&v));
    let t = read_trace(&out);
    assert_eq!(
        t.end.as_ref().unwrap().status,
        rkbench::trace::RunStatus::Crashed
    );
    let crashed: Vec<_> = t
        .requests
        .iter()
        .filter(|r| r.status == Status::Crashed)
        .collect();
    assert_eq!(crashed.len(), 2, "{:?}", t.requests);
    assert!(
        crashed.iter().any(|r| r.tokens.token_ids.len() == 6),
        "the crashing request kept its 6 tokens: {crashed:?}"
    );
    let streams: Vec<u32> = crashed.iter().map(|r| t.load.stream_of(r.index)).collect();
    assert!(streams.contains(&0) && streams.contains(&1), "{streams:?}");
}
