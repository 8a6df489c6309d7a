//! A hostile world while recording (issue #16): a runtime that raises SIGSEGV, a closed or full
//! stderr, a full disk, leftover or planted journals, names at the file-name limit, a child that
//! stops answering. Each through the real binary and real `dlopen` of the simulated runtime.
mod common;
use common::*;
use rkbench::trace::{RunStatus, Status};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Wait for `child`; a hang guard (not a performance assertion): kill it and fail after `limit`.
fn wait_for(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("rkbench did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The supervised recorder process of supervisor `pid` (its only child), once it exists.
fn recorder_of(pid: u32) -> u32 {
    let start = Instant::now();
    loop {
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(k) = kids.split_whitespace().next() {
            return k.parse().unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recorder child"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(sig: &str, pid: u32) {
    let st = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// `rkbench record` on the simulated runtime as a spawned child (stdout/stderr as given).
fn spawn_record(out: &Path, extra: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Child {
    let mut c = Command::new(bin());
    c.args(["record", "-q", "--lib"])
        .arg(fake_lib("1.2.1"))
        .arg("--model")
        .arg(model())
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove("RKLLM_LIB")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

// F1: a runtime whose error path calls raise(SIGSEGV) once must be recorded as a crash.
#[test]
fn f1_raised_sigsegv_is_a_crash() {
    let dir = tempdir("h-f1-raise");
    let out = dir.join("t.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--checkpoint-interval", "1ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
            ("FAKE_RKLLM_CRASH_AFTER", "5"),
            ("FAKE_RKLLM_CRASH_RAISE_ONCE", "1"),
            ("FAKE_RKLLM_FAULT_RUN", "1"),
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let t = read_trace(&out);
    let end = t.end.as_ref().unwrap();
    assert_eq!(end.status, RunStatus::Crashed, "{}", end.detail);
    assert!(end.detail.contains("SIGSEGV"), "{}", end.detail);
    assert_eq!(t.requests.len(), 2);
    assert_eq!(t.requests[0].status, Status::Ok);
    assert_eq!(t.requests[1].status, Status::Crashed);
}

// F1: a SIGSEGV / SIGBUS sent with `kill` to the recorder is a crash too.
#[test]
fn f1_sent_sigsegv_and_sigbus_are_crashes() {
    for sig in ["SEGV", "BUS"] {
        let dir = tempdir(&format!("h-f1-kill-{sig}"));
        let out = dir.join("t.rktrace");
        let mut child = spawn_record(
            &out,
            &["--suite", "quick", "--checkpoint-interval", "5ms"],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.01"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "2000"),
            ],
            Stdio::null(),
        );
        let rec = recorder_of(child.id());
        // Let it reach the first request's decode.
        let start = Instant::now();
        while !(out.exists() && rkbench::trace::journal_path(&out).exists()) {
            assert!(start.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        kill(sig, rec);
        let st = wait_for(&mut child, Duration::from_secs(30));
        assert_eq!(st.code(), Some(7), "SIG{sig}");
        let t = read_trace(&out);
        assert_eq!(
            t.end.as_ref().unwrap().status,
            RunStatus::Crashed,
            "SIG{sig}"
        );
        assert_eq!(t.requests.last().unwrap().status, Status::Crashed);
        assert!(t.requests.last().unwrap().output_tokens() > 0);
    }
}

fn assert_complete(out: &Path, tests: usize) {
    let t = read_trace(out);
    assert_eq!(t.damage, None);
    assert_eq!(t.end.as_ref().map(|e| e.status), Some(RunStatus::Complete));
    assert_eq!(t.requests.len(), tests);
    assert!(t.requests.iter().all(|r| r.status == Status::Ok));
}

// F2: progress lines on a full stderr never end the recording.
#[test]
fn f2_stderr_on_dev_full_still_gives_a_complete_trace() {
    let dir = tempdir("h-f2-full");
    let out = dir.join("t.rktrace");
    let mut c = Command::new(bin());
    c.args(["record", "--suite", "quick", "--lib"])
        .arg(fake_lib("1.2.1"))
        .arg("--model")
        .arg(model())
        .arg("--out")
        .arg(&out)
        .env_remove("RKLLM_LIB")
        .env("FAKE_RKLLM_TIME_SCALE", "0.01")
        .env("FAKE_RKLLM_OUTPUT_TOKENS", "10")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        );
    let st = wait_for(&mut c.spawn().unwrap(), Duration::from_secs(60));
    assert_eq!(st.code(), Some(0));
    assert_complete(&out, 3);
}

// F2: `record … 2>&1 | head -2`: the reader goes away after two lines; the run goes on.
#[test]
fn f2_closed_pipe_after_two_lines_still_gives_a_complete_trace() {
    let dir = tempdir("h-f2-head");
    let out = dir.join("t.rktrace");
    let script = r#""$RKB" record --suite quick --lib "$LIB" --model "$MODEL" --out "$OUT" 2>&1 | head -2; echo "rc=${PIPESTATUS[0]}""#;
    let o = Command::new("bash")
        .args(["-c", script])
        .env("RKB", bin())
        .env("LIB", fake_lib("1.2.1"))
        .env("MODEL", model())
        .env("OUT", &out)
        .env_remove("RKLLM_LIB")
        .env("FAKE_RKLLM_TIME_SCALE", "0.01")
        .env("FAKE_RKLLM_OUTPUT_TOKENS", "10")
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(text.trim_end().ends_with("rc=0"), "{text}");
    assert_complete(&out, 3);
}
