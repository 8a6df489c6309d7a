//! `rkbench report` / `compare` / `suite show` as a shell user meets them: output names that
//! would collide, and a reader that stops reading.
mod common;
use common::*;
use std::process::{Command, Stdio};

fn trace(name: &str) -> String {
    root().join("traces").join(name).display().to_string()
}

/// F22: two traces with the same file name into one directory are refused before anything is
/// written, instead of the second report replacing the first.
#[test]
fn same_named_traces_into_one_directory_are_refused() {
    let dir = tempdir("report-same-name");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::copy(trace("qwen3-4b-sim-think.rktrace"), d.join("t.rktrace")).unwrap();
    }
    let out = dir.join("out");
    let (ta, tb) = (
        a.join("t.rktrace").display().to_string(),
        b.join("t.rktrace").display().to_string(),
    );
    for jobs in ["1", "2"] {
        let o = run(
            &[
                "report",
                &ta,
                &tb,
                "--jobs",
                jobs,
                "-o",
                &out.display().to_string(),
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&ta) && e.contains(&tb), "{e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        assert!(!out.join("t.md").exists(), "nothing written");
    }
    // Distinct names into one directory still work.
    let o = run(
        &[
            "report",
            &trace("qwen3-4b-sim-think.rktrace"),
            &ta,
            "-o",
            &out.display().to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("t.md").exists() && out.join("qwen3-4b-sim-think.md").exists());
}

/// Run rkbench with stdout on a pipe whose reader is already gone: the read end belongs to a
/// `true` process that has exited, so every write meets a closed pipe (EPIPE), whatever the
/// timing.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    assert!(reader.wait().unwrap().success());
    let o = Command::new(bin())
        .args(args)
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `rkbench report T | head -1` and friends: a closed stdout ends the command quietly with the
/// documented exit code 141, never a panic (101).
#[test]
fn a_closed_stdout_ends_quietly() {
    let t = trace("qwen3-4b-sim-default.rktrace");
    for args in [
        vec!["report", t.as_str(), "--format", "html"],
        vec!["report", t.as_str(), "--format", "md"],
        vec!["compare", t.as_str(), t.as_str()],
        vec!["suite", "show", "default"],
    ] {
        let (code, err) = with_closed_stdout(&args);
        assert_eq!(code, Some(141), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: quiet, got {err}");
    }
}

/// The other commands that print to stdout never panic on a closed stdout either (101 and a
/// "panicked" line were what `println!` gave).
#[test]
fn no_command_panics_on_a_closed_stdout() {
    let healthy = format!(
        "{}/fixtures/sysfs/rk3588-healthy",
        env!("CARGO_MANIFEST_DIR")
    );
    for args in [
        vec!["info", "--sysfs-root", healthy.as_str()],
        vec!["doctor", "--sysfs-root", healthy.as_str()],
        vec!["suite", "list"],
        vec!["suite", "check", "fixtures/suites/quick.json"],
        vec!["--help"],
        vec!["--version"],
    ] {
        let (code, err) = with_closed_stdout(&args);
        assert_ne!(code, Some(101), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
