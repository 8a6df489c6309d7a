//! Nothing measured is lost: deadlines, a runtime that ignores abort, a runtime that crashes,
//! Ctrl-C, and SIGKILL at random moments — all through real `dlopen` of the simulated runtime.
mod common;
use common::*;
use rkbench::trace::{RunStatus, Status};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn deadline_keeps_partial_tokens_and_the_next_test_starts_at_once() {
    let dir = tempdir("fault-deadline");
    let out = dir.join("t.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--timeout", "400ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "20"),
            ("FAKE_RKLLM_HANG_AFTER", "5"),
            ("FAKE_RKLLM_FAULT_RUN", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = read_trace(&out);
    assert_eq!(t.requests.len(), 3);
    assert_eq!(t.requests[0].status, Status::Ok);
    assert_eq!(t.requests[0].output_tokens(), 20);
    let r1 = &t.requests[1];
    assert_eq!(r1.status, Status::Timeout);
    assert_eq!(r1.output_tokens(), 5, "tokens before the deadline are kept");
    assert!(r1.detail.contains("deadline"), "{}", r1.detail);
    let r2 = &t.requests[2];
    assert_eq!(r2.status, Status::Ok);
    assert_eq!(r2.output_tokens(), 20);
    // Nothing queued behind the aborted request: the next one starts right after it.
    let gap_us = r2.start_us - (r1.start_us + r1.return_us);
    assert!(
        gap_us < 200_000,
        "next request started {gap_us} µs after the abort returned"
    );
    assert!(
        r1.end_us >= 400_000 && r1.end_us < 1_500_000,
        "{}",
        r1.end_us
    );
    let j = json_report(&out);
    assert_eq!(j["requests"][1]["status"], "timeout");
    assert_eq!(j["summary"]["partial"], 1);
}

#[test]
fn runtime_ignoring_abort_is_recorded_as_hung() {
    let dir = tempdir("fault-hung");
    let out = dir.join("t.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &[
            "--suite",
            "quick",
            "--timeout",
            "300ms",
            "--abort-grace",
            "300ms",
        ],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "20"),
            ("FAKE_RKLLM_HANG_AFTER", "4"),
            ("FAKE_RKLLM_IGNORE_ABORT", "1"),
            ("FAKE_RKLLM_FAULT_RUN", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let v = run(&["verify", &out.display().to_string()], &[]);
    assert!(v.status.success(), "{}", stdout(&v));
    let t = read_trace(&out);
    assert_eq!(t.end.as_ref().unwrap().status, RunStatus::Hung);
    assert_eq!(t.requests.len(), 2);
    assert_eq!(t.requests[0].status, Status::Ok);
    assert_eq!(t.requests[1].status, Status::Hung);
    assert_eq!(t.requests[1].output_tokens(), 4);
}

#[test]
fn crash_keeps_finished_requests_and_the_crashing_ones_tokens() {
    let dir = tempdir("fault-crash");
    let out = dir.join("t.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--checkpoint-interval", "1ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.1"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
            ("FAKE_RKLLM_CRASH_AFTER", "7"),
            ("FAKE_RKLLM_FAULT_RUN", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("SIGSEGV"), "{}", stderr(&o));
    let v = run(&["verify", &out.display().to_string()], &[]);
    assert!(v.status.success(), "{}", stdout(&v));
    let t = read_trace(&out);
    let end = t.end.as_ref().unwrap();
    assert_eq!(end.status, RunStatus::Crashed);
    assert!(
        end.detail.contains("signal 11 (SIGSEGV)") && end.detail.contains("quick_02"),
        "{}",
        end.detail
    );
    assert_eq!(t.requests.len(), 2);
    assert_eq!(t.requests[0].status, Status::Ok);
    assert_eq!(t.requests[0].output_tokens(), 12);
    assert_eq!(t.requests[1].status, Status::Crashed);
    assert_eq!(
        t.requests[1].output_tokens(),
        7,
        "every token before the crash is kept"
    );
    let md = stdout(&run(&["report", &out.display().to_string()], &[]));
    assert!(md.contains("crashed"));
}

#[test]
fn sigint_mid_run_leaves_a_valid_trace() {
    let dir = tempdir("fault-sigint");
    let out = dir.join("t.rktrace");
    let mut child = spawn_record(
        &out,
        &["--suite", "default", "--checkpoint-interval", "5ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "150"),
        ],
        Stdio::piped(),
    );
    // Mid-run: once the first request has started (its `Partial` frame is in the journal, after
    // the journal's header and binding), however slow start-up is.
    let started = Instant::now();
    let journal = rkbench::trace::journal_path(&out);
    let started_request = || {
        std::fs::read(&journal)
            .ok()
            .and_then(|b| rkbench::trace::reader::parse_journal(&b, "j".into()).ok())
            .is_some_and(|j| !j.requests.is_empty())
    };
    while !started_request() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    kill("INT", child.id());
    let status = wait_for(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    let v = run(&["verify", &out.display().to_string()], &[]);
    assert!(v.status.success(), "{}", stdout(&v));
    let t = read_trace(&out);
    assert_eq!(t.end.as_ref().unwrap().status, RunStatus::Interrupted);
    assert!(!t.requests.is_empty() && t.requests.len() < 10);
    let last = t.requests.last().unwrap();
    assert_eq!(last.status, Status::Interrupted);
    for r in &t.requests[..t.requests.len() - 1] {
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.output_tokens(), 150);
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_finished_requests() {
    use std::os::unix::process::CommandExt;
    let dir = tempdir("fault-sigkill");
    let lib = fake_lib("1.2.1");
    // Deterministic "random" moments spread over the run (xorshift).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut recovered = 0;
    for i in 0..20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_millis(30 + x % 900);
        let out = dir.join(format!("k{i}.rktrace"));
        let mut child = record_command(
            &lib,
            &out,
            &["-q", "--suite", "quick", "--checkpoint-interval", "2ms"],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.01"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "30"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
        // The random moment is counted from the trace's creation, so slow start-up (a loaded
        // machine, a debug build hashing the library) does not turn kills into no-ops.
        let started = Instant::now();
        while !out.exists() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(delay);
        // Kill the supervisor and the recorder together, as a power cut of the process tree would.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        if !out.exists() {
            continue; // killed before the trace was created
        }
        match rkbench::trace::reader::read(&out) {
            Ok(t) => {
                recovered += 1;
                for r in &t.requests {
                    if r.status == Status::Ok {
                        assert_eq!(
                            r.output_tokens(),
                            30,
                            "run {i}: a finished request is intact"
                        );
                    } else {
                        assert_eq!(r.status, Status::InFlight, "run {i}");
                    }
                }
            }
            Err(
                rkbench::trace::reader::TraceError::NoHeader { .. }
                | rkbench::trace::reader::TraceError::NotATrace { .. },
            ) => {
                // Killed while writing the file header / run header: nothing was measured yet.
            }
            Err(e) => panic!("run {i}: unreadable trace: {e}"),
        }
    }
    assert!(
        recovered >= 10,
        "only {recovered} of 20 runs got far enough to test recovery"
    );
}
