//! `rkbench dump`: every frame of every committed trace as one line of JSON, the frames `verify`
//! counts; a damaged trace's valid frames then its damage (exit 5); the journal beside a crashed
//! run's trace; and the figures of the JSON report recomputed from the dump alone by a script.
mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn committed_traces() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("traces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rktrace"))
        .collect();
    v.sort();
    assert!(v.len() >= 7, "{v:?}");
    v
}

/// Each line of a dump, parsed (every one must be JSON), and the exit code.
fn dump(p: &Path, extra: &[&str]) -> (Vec<Value>, Option<i32>) {
    let mut args = vec!["dump"];
    args.extend_from_slice(extra);
    let shown = p.display().to_string();
    args.push(&shown);
    let o = run(&args, &[]);
    let lines = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{shown}: {e}: {l}")))
        .collect();
    (lines, o.status.code())
}

fn of_line<'a>(lines: &'a [Value], what: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["line"] == what).collect()
}

/// The frame count in `verify`'s line (`… (N frames, …`).
fn verify_frames(p: &Path) -> u64 {
    let o = run(&["verify", &p.display().to_string()], &[]);
    let s = stdout(&o);
    let at = s.find(" frames").unwrap_or_else(|| panic!("{s}"));
    let from = s[..at].rfind(['(', ' ']).unwrap() + 1;
    s[from..at].parse().unwrap()
}

#[test]
fn every_committed_trace_dumps_every_frame_verify_counts() {
    for p in committed_traces() {
        let (lines, code) = dump(&p, &[]);
        assert_eq!(code, Some(0), "{}", p.display());
        assert_eq!(lines[0]["line"], "file");
        assert_eq!(lines[0]["magic"], "RKBTRACE");
        let frames = of_line(&lines, "frame");
        assert_eq!(frames.len() as u64, verify_frames(&p), "{}", p.display());
        assert!(of_line(&lines, "error").is_empty());
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f["seq"], i as u64);
            assert!(f["record"].is_object(), "{}: frame {i}", p.display());
        }
        assert_eq!(frames[0]["kind"], "header");
        assert_eq!(frames[0]["offset"], 16);
        assert_eq!(frames.last().unwrap()["kind"], "end");
        // The same bytes dump the same way.
        assert_eq!(dump(&p, &[]).0, lines);
    }
}

#[test]
fn a_truncated_trace_dumps_its_valid_frames_then_the_damage() {
    let dir = tempdir("dump-cut");
    let src = root().join("traces/qwen3-4b-sim-default.rktrace");
    let bytes = std::fs::read(&src).unwrap();
    let cut = dir.join("cut.rktrace");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (lines, code) = dump(&cut, &[]);
    assert_eq!(code, Some(5));
    let last = lines.last().unwrap();
    assert_eq!(last["line"], "error");
    assert_eq!(last["error"], "truncated");
    let frames = of_line(&lines, "frame");
    assert_eq!(last["frames_kept"], frames.len() as u64);
    assert!(!frames.is_empty());
    // Exactly the first frames of the whole trace.
    let (whole, _) = dump(&src, &[]);
    for (a, b) in frames.iter().zip(of_line(&whole, "frame")) {
        assert_eq!(*a, b);
    }
    let v = run(&["verify", &cut.display().to_string()], &[]);
    assert_eq!(v.status.code(), Some(5));
    assert!(stdout(&v).contains(last["message"].as_str().unwrap()));
    // Not a trace at all: one error line, exit 5 as verify.
    let junk = dir.join("junk.rktrace");
    std::fs::write(&junk, b"not a trace, just some bytes").unwrap();
    let (lines, code) = dump(&junk, &[]);
    assert_eq!(code, Some(5));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["error"], "unreadable");
}

/// A crashed run (fuzz seed): its journal is dumped after the trace, as `report` merges it; a
/// torn journal's damage comes last.
#[test]
fn the_journal_beside_a_crashed_run_is_dumped_after_its_trace() {
    let dir = tempdir("dump-journal");
    for (seed, damaged) in [("crashed-run.bin", false), ("journal-torn.bin", true)] {
        let b = fuzz_seed(seed);
        let at = journal_start(&b).unwrap();
        let t = dir.join(format!("{seed}.rktrace"));
        std::fs::write(&t, &b[..at]).unwrap();
        std::fs::write(rkbench::trace::journal_path(&t), &b[at..]).unwrap();
        let (lines, code) = dump(&t, &[]);
        assert_eq!(code, Some(if damaged { 5 } else { 0 }), "{seed}");
        let files: Vec<&Value> = of_line(&lines, "file");
        assert_eq!(files.len(), 2, "{seed}");
        assert_eq!(files[1]["file"], "journal");
        assert_eq!(files[1]["flags"], 1);
        let journal: Vec<&Value> = of_line(&lines, "frame")
            .into_iter()
            .filter(|f| f["file"] == "journal")
            .collect();
        assert_eq!(journal[0]["kind"], "binding", "{seed}");
        assert!(journal.iter().any(|f| f["kind"] == "partial"), "{seed}");
        if damaged {
            let last = lines.last().unwrap();
            assert_eq!(last["line"], "error");
            assert_eq!(last["file"], "journal");
        }
    }
}

#[test]
fn kinds_select_frames_and_a_server_trace_keeps_every_body_sent() {
    let p = root().join("traces/llama-server-tiny-quick.rktrace");
    let (lines, code) = dump(&p, &["--kinds", "server-request,server-run"]);
    assert_eq!(code, Some(0));
    let frames = of_line(&lines, "frame");
    assert_eq!(frames.len(), 4);
    assert!(frames
        .iter()
        .all(|f| f["kind"] == "server-request" || f["kind"] == "server-run"));
    // The JSON report shows each body as sent: the same as the dump's.
    let report = json_report(&p);
    let reqs = report["server"]["requests"].as_array().unwrap();
    let bodies: Vec<&Value> = frames
        .iter()
        .filter(|f| f["kind"] == "server-request")
        .map(|f| &f["record"]["body"])
        .collect();
    assert_eq!(bodies.len(), reqs.len());
    for (r, b) in reqs.iter().zip(bodies) {
        assert_eq!(&r["request_body"], b);
        assert!(b.as_str().unwrap().contains("\"stream\":true"), "{b}");
    }
    let bad = run(
        &["dump", "--kinds", "requests", &p.display().to_string()],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("\"requests\" is not a record kind"));
    // One file a call, said in rkbench's own line (argh's was "Unrecognized argument").
    let two = run(
        &["dump", &p.display().to_string(), &p.display().to_string()],
        &[],
    );
    assert_eq!(two.status.code(), Some(2));
    let e = stderr(&two);
    assert!(
        e.lines().count() == 1 && e.contains("dump takes one trace file, 2 given"),
        "{e}"
    );
}

/// `scripts/dump_figures.py` (standard library only) recomputes each request's output tokens,
/// TTFT and decode rate from the dump alone: the JSON report's figures, exactly.
#[test]
fn a_script_recomputes_the_reports_figures_from_the_dump() {
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output();
    if !python.is_ok_and(|o| o.status.success()) {
        eprintln!("python3 not found: the dump round trip is not checked here");
        return;
    }
    let runtime = [
        "qwen3-4b-sim-default",
        "qwen3-4b-sim-think",
        "qwen3-4b-sim-timeout-throttling",
        "qwen3-0.6b-sim-rockchip",
    ];
    for name in runtime {
        let p = root().join(format!("traces/{name}.rktrace"));
        let d = run(&["dump", &p.display().to_string()], &[]);
        assert!(d.status.success());
        let mut py = std::process::Command::new("python3")
            .arg(root().join("scripts/dump_figures.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            py.stdin.take().unwrap().write_all(&d.stdout).unwrap();
        }
        let o = py.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: Value = serde_json::from_slice(&o.stdout).unwrap();
        let got = got["requests"].as_array().unwrap();
        let report = json_report(&p);
        let want = report["requests"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(want) {
            for k in ["index", "output_tokens", "ttft_ms", "decode_tok_s"] {
                assert_eq!(g[k], w[k], "{name}: request {}: {k}", w["index"]);
            }
        }
    }
}
