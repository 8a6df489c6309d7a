//! A hostile world while recording (issue #16): a runtime that raises SIGSEGV, a closed or full
//! stderr, a full disk, leftover or planted journals, names at the file-name limit, a child that
//! stops answering. Each through the real binary and real `dlopen` of the simulated runtime.
mod common;
use common::*;
use rkbench::trace::{RunStatus, Status};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Wait until the journal beside `out` holds checkpointed tokens of the request in flight.
fn wait_for_checkpointed_tokens(out: &Path) {
    let jp = rkbench::trace::journal_path(out);
    let start = Instant::now();
    loop {
        let tokens = std::fs::read(&jp)
            .ok()
            .and_then(|b| rkbench::trace::reader::parse_journal(&b, "j".into()).ok())
            .map(|j| j.requests.iter().map(|r| r.output_tokens()).sum::<usize>())
            .unwrap_or(0);
        if tokens > 0 {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no checkpoints");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `bash -c script` with `$RKB` (rkbench), `$LIB` (the simulated runtime), `$MODEL` and `$OUT`
/// set; the runtime answers `tokens` tokens at 1/100 of the model's timing.
fn bash_record(script: &str, out: &Path, tokens: &str) -> std::process::Output {
    Command::new("bash")
        .args(["-c", script])
        .env("RKB", bin())
        .env("LIB", fake_lib("1.2.1"))
        .env("MODEL", model())
        .env("OUT", out)
        .env_remove("RKLLM_LIB")
        .env("FAKE_RKLLM_TIME_SCALE", "0.01")
        .env("FAKE_RKLLM_OUTPUT_TOKENS", tokens)
        .output()
        .unwrap()
}

/// `record --suite quick` into `out` (with `extra`), on a very fast simulated runtime: for the
/// refusals, which must come before any request.
fn record_quick(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--suite", "quick"];
    args.extend_from_slice(extra);
    record(
        &fake_lib("1.2.1"),
        out,
        &args,
        &[("FAKE_RKLLM_TIME_SCALE", "0.001")],
    )
}

/// A fast simulated runtime: 10 tokens an answer, at 1/100 of the model's timing.
const QUICK_10: [(&str, &str); 2] = [
    ("FAKE_RKLLM_TIME_SCALE", "0.01"),
    ("FAKE_RKLLM_OUTPUT_TOKENS", "10"),
];

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
            // quick's own caps (32..64 tokens, ~0.1 s each here) would end the first request
            // before the kill; one long request keeps the kill inside its decode.
            &[
                "--suite",
                "quick",
                "--checkpoint-interval",
                "5ms",
                "--max-new-tokens",
                "2000",
            ],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.01"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "2000"),
            ],
            Stdio::null(),
        );
        let rec = recorder_of(child.id());
        // Let it reach the first request's decode: tokens checkpointed in the journal.
        wait_for_checkpointed_tokens(&out);
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
    let mut c = record_command(&fake_lib("1.2.1"), &out, &["--suite", "quick"], &QUICK_10);
    c.stdout(Stdio::null()).stderr(
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
    let o = bash_record(script, &out, "10");
    let text = stdout(&o);
    assert!(text.trim_end().ends_with("rc=0"), "{text}");
    assert_complete(&out, 3);
}

// A stderr nobody reads (a paused `| less`, a stalled `| tee`): once the pipe is full, every
// write to it would block. Progress goes through a bounded queue, so the recording runs to its
// end and the process exits (after at most 2 s of draining) instead of hanging.
#[test]
fn f16_stderr_that_nobody_reads_never_stalls_the_recording() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = tempdir("h-f16-blocked");
    let out = dir.join("t.rktrace");
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two open descriptors that nothing else owns.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The smallest pipe the kernel allows (one page): full after ~60 progress lines.
    // SAFETY: fcntl on a descriptor this test owns.
    unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 4096) };
    let mut c = record_command(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--repeat", "40"],
        &QUICK_10,
    );
    c.stdout(Stdio::null()).stderr(Stdio::from(write_end));
    let st = wait_for(&mut c.spawn().unwrap(), Duration::from_secs(120));
    assert_eq!(st.code(), Some(0));
    assert_complete(&out, 120);
    // The pipe was full the whole time: nobody read it until now.
    let mut first = [0u8; 64];
    let n = std::io::Read::read(&mut std::fs::File::from(read_end), &mut first).unwrap();
    assert!(n > 0);
}

/// A run killed with SIGKILL mid-request (unsupervised, so nothing finalises it): its trace has
/// no end record and its journal holds the in-flight request. Returns the trace path.
fn killed_run(dir: &Path, name: &str) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut child = spawn_record(
        &out,
        &[
            "--suite",
            "quick",
            "--no-supervise",
            "--no-telemetry",
            "--checkpoint-interval",
            "2ms",
        ],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "3000"),
        ],
        Stdio::null(),
    );
    wait_for_checkpointed_tokens(&out);
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap();
    child.wait().unwrap();
    out
}

fn verify(p: &Path) -> std::process::Output {
    run(&["verify", &p.display().to_string()], &[])
}

// F8 (positive side): the journal written by this run is bound to its trace and merged.
#[test]
fn f8_own_journal_is_merged_after_a_kill() {
    let dir = tempdir("h-f8-own");
    let out = killed_run(&dir, "a.rktrace");
    let v = verify(&out);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(
        stdout(&v).contains("1 in-flight request recovered"),
        "{}",
        stdout(&v)
    );
    let t = read_trace(&out);
    let last = t.requests.last().unwrap();
    assert_eq!(last.status, Status::InFlight);
    assert!(last.output_tokens() > 0);
}

// F8: a journal from another run is never merged, and verify says so (exit 5).
#[test]
fn f8_foreign_journal_is_not_merged_and_verify_says_so() {
    let dir = tempdir("h-f8-foreign");
    let a = killed_run(&dir, "a.rktrace");
    let b = killed_run(&dir, "b.rktrace");
    let (ja, jb) = (
        rkbench::trace::journal_path(&a),
        rkbench::trace::journal_path(&b),
    );
    let own = read_trace(&a);
    std::fs::rename(&ja, dir.join("a-own.journal")).unwrap();
    std::fs::copy(&jb, &ja).unwrap();
    let t = read_trace(&a);
    assert_eq!(
        t.requests.len(),
        own.requests.len() - 1,
        "b's in-flight request must not appear in a"
    );
    assert_eq!(t.journal_requests, 0);
    let v = verify(&a);
    assert_eq!(v.status.code(), Some(5), "{}", stdout(&v));
    assert!(
        stdout(&v).contains("not merged") && stdout(&v).contains("another trace"),
        "{}",
        stdout(&v)
    );
    // `report` covers the trace and names the journal it did not merge.
    let r = run(&["report", &a.display().to_string()], &[]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    assert!(stderr(&r).contains("not merged"), "{}", stderr(&r));
}

// F9: a damaged journal is reported (exit 5), and what is intact in it is still recovered.
#[test]
fn f9_damaged_journal_is_reported_not_dropped() {
    let dir = tempdir("h-f9");
    let out = killed_run(&dir, "a.rktrace");
    let jp = rkbench::trace::journal_path(&out);
    let mut j = std::fs::read(&jp).unwrap();
    // Corrupt the last frame's payload (not the tail: more frames may follow it, or not).
    let n = j.len();
    j[n - 40] ^= 0xff;
    std::fs::write(&jp, &j).unwrap();
    let v = verify(&out);
    assert_eq!(v.status.code(), Some(5), "{}", stdout(&v));
    assert!(stdout(&v).contains("journal"), "{}", stdout(&v));
    let t = read_trace(&out);
    assert_eq!(t.requests.last().unwrap().status, Status::InFlight);
    // A journal that is not a journal at all: not merged, named, exit 5.
    std::fs::write(&jp, b"definitely not a journal, just text").unwrap();
    let v = verify(&out);
    assert_eq!(v.status.code(), Some(5), "{}", stdout(&v));
    assert!(
        stdout(&v).contains("not merged") && stdout(&v).contains("not an rkbench journal"),
        "{}",
        stdout(&v)
    );
}

// F5: a symlink planted at the journal's name is refused, never followed.
#[test]
fn f5_symlink_at_the_journal_name_is_refused() {
    let dir = tempdir("h-f5-link");
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let out = dir.join("t.rktrace");
    std::os::unix::fs::symlink(&victim, rkbench::trace::journal_path(&out)).unwrap();
    let o = record_quick(&out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("journal"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!out.exists(), "nothing is created");
}

// F5: a leftover journal (maybe a crashed run's only copy of its last request) is never
// truncated or deleted: record refuses with what to do, the journal is unchanged.
#[test]
fn f5_leftover_journal_is_kept_and_record_refuses() {
    let dir = tempdir("h-f5-left");
    let out = killed_run(&dir, "a.rktrace");
    let jp = rkbench::trace::journal_path(&out);
    let before = std::fs::read(&jp).unwrap();
    // The user moved the trace away but not its journal, and records to the same name again.
    std::fs::rename(&out, dir.join("moved.rktrace")).unwrap();
    for extra in [&["--no-supervise"][..], &[][..]] {
        let o = record_quick(&out, extra);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("journal") && e.contains("never overwritten") && e.contains("--out"),
            "{e}"
        );
        assert_eq!(e.trim_end().lines().count(), 1, "one clear line: {e}");
        assert_eq!(std::fs::read(&jp).unwrap(), before);
        assert!(!out.exists());
    }
}

// F12: an --out name too long for its journal's name is refused before anything is created.
#[test]
fn f12_name_too_long_for_the_journal_is_refused_up_front() {
    let dir = tempdir("h-f12");
    let name = format!("{}.rktrace", "n".repeat(250 - ".rktrace".len()));
    let out = dir.join(&name);
    let o = record_quick(&out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("247 bytes"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no stub left");
    // The longest name that fits works.
    let ok = dir.join(format!("{}.rktrace", "n".repeat(247 - ".rktrace".len())));
    let o = record(
        &fake_lib("1.2.1"),
        &ok,
        &["--suite", "quick"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.001"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "5"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_complete(&ok, 3);
}

// F6: a full disk (here: the file-size limit, `ulimit -f`, which gives EFBIG like ENOSPC and
// works unprivileged in CI without mounting a small filesystem) cuts the torn frame, keeps the
// journal, exits 28 and says what was kept.
#[test]
fn f6_disk_full_keeps_a_valid_trace_and_the_journal() {
    let dir = tempdir("h-f6");
    let out = dir.join("t.rktrace");
    // bash counts `ulimit -f` in 1024-byte blocks: room for the run header, the runtime
    // identity and the first request, not the second.
    let script = r#"ulimit -f 4; exec "$RKB" record -q --no-telemetry --suite quick --checkpoint-interval 2ms --lib "$LIB" --model "$MODEL" --out "$OUT""#;
    let o = bash_record(script, &out, "200");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(28), "{e}");
    assert!(
        e.contains("kept:") && e.contains("1 finished requests") && e.contains(".journal"),
        "{e}"
    );
    let jp = rkbench::trace::journal_path(&out);
    assert!(jp.exists(), "the journal is kept");
    let v = verify(&out);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    let t = read_trace(&out);
    assert_eq!(t.damage, None, "the torn frame was cut off");
    assert_eq!(t.valid_len, t.file_len);
    assert!(t.end.is_none());
    assert_eq!(t.requests[0].status, Status::Ok);
    assert_eq!(
        t.requests.len(),
        2,
        "the in-flight request comes from the journal"
    );
    assert_eq!(t.requests[1].status, Status::InFlight);
    let r = run(&["report", &out.display().to_string()], &[]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
}

// F11: a second Ctrl-C kills a recorder that does not answer (here: stopped) and the trace is
// finalised as interrupted.
#[test]
fn f11_second_interrupt_kills_a_stopped_recorder_and_finalises_interrupted() {
    let dir = tempdir("h-f11");
    let out = dir.join("t.rktrace");
    let mut child = spawn_record(
        &out,
        &["--suite", "quick", "--checkpoint-interval", "2ms"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "3000"),
        ],
        Stdio::null(),
    );
    let rec = recorder_of(child.id());
    let jp = rkbench::trace::journal_path(&out);
    wait_for_checkpointed_tokens(&out);
    kill("STOP", rec);
    kill("INT", child.id());
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        child.try_wait().unwrap().is_none(),
        "a stopped recorder cannot answer"
    );
    kill("INT", child.id());
    let st = wait_for(&mut child, Duration::from_secs(20));
    assert_eq!(st.code(), Some(130));
    let v = verify(&out);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    let t = read_trace(&out);
    let end = t.end.as_ref().unwrap();
    assert_eq!(end.status, RunStatus::Interrupted, "{}", end.detail);
    let last = t.requests.last().unwrap();
    assert_eq!(last.status, Status::Interrupted);
    assert!(last.output_tokens() > 0, "checkpointed tokens are kept");
    assert!(!jp.exists(), "its journal is merged into the trace");
}
