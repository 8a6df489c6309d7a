//! Crash safety: `rkbench record` runs the recorder (and so the vendor runtime) in a child
//! process of itself and supervises it. The child writes the trace exactly as an unsupervised
//! run would; if it dies from a signal (SIGSEGV/SIGABRT inside librkllmrt, OOM kill, …), the
//! parent reopens the trace, cuts any torn tail, closes the in-flight request with status
//! `crashed` (keeping every token that was checkpointed) and appends the run end with the signal.
//! The child holds a pipe from the parent on stdin; if the parent dies, the child stops too.
use crate::error::{exit, Error, Result};
use crate::trace::{reader, Record, RunEnd, RunStatus, Status, TraceWriter};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

/// Set in the child's environment.
pub const CHILD_ENV: &str = "RKBENCH_RECORD_CHILD";

pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// In the child: exit at once when the supervisor goes away (its end of our stdin closes).
pub fn watch_parent() {
    let _ = std::thread::Builder::new().name("supervisor-watch".into()).spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    crate::err_line!("rkbench: supervisor gone; stopping (the trace is valid up to its last frame)");
                    std::process::exit(exit::INTERRUPTED);
                }
                Ok(_) => {}
            }
        }
    });
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "signal",
    }
}

/// Run `argv` (this rkbench's own command line, with `--out` resolved) as a supervised child.
pub fn supervise(argv: &[String], out: &Path, quiet: bool) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::internal(format!("cannot find own executable: {e}")))?;
    let mut args: Vec<String> = argv.iter().skip(1).cloned().collect();
    if !args.iter().any(|a| a == "--out" || a.starts_with("--out=")) {
        args.push("--out".into());
        args.push(out.display().to_string());
    }
    let mut child = Command::new(exe)
        // Keep argv[0] as the user typed it: the trace records the command line, and it should
        // not carry this machine's absolute paths.
        .arg0(argv.first().map(String::as_str).unwrap_or("rkbench"))
        .args(&args)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        // Put the child in its own process group so a terminal Ctrl-C reaches the supervisor,
        // which forwards it exactly once.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::internal(format!("cannot start the recorder process: {e}")))?;
    let pid = child.id();
    // `Child::wait` would close the pipe; keep our end open for as long as we live.
    let _keep_pipe_open = child.stdin.take();
    let _ = ctrlc::set_handler(move || {
        let _ = Command::new("kill")
            .args(["-s", "INT", &pid.to_string()])
            .status();
    });
    let status = child
        .wait()
        .map_err(|e| Error::internal(format!("waiting for the recorder: {e}")))?;
    if let Some(code) = status.code() {
        if code == 127 && !out.exists() {
            crate::err_line!(
                "rkbench: error: the recorder process could not start (exit 127); under qemu-user without binfmt_misc, pass --no-supervise"
            );
            return Ok(exit::CANNOT_EXEC);
        }
        return Ok(code);
    }
    let sig = status.signal().unwrap_or(0);
    finalize_crashed(out, sig, quiet)
}

/// Close a trace whose recorder died from signal `sig`.
pub fn finalize_crashed(out: &Path, sig: i32, quiet: bool) -> Result<i32> {
    let what = format!(
        "the recorder process died from signal {sig} ({})",
        signal_name(sig)
    );
    let trace = match reader::read(out) {
        Ok(t) => t,
        Err(e) => {
            crate::err_line!("rkbench: error: {what} before the trace had a header ({e})");
            return Ok(exit::CRASHED);
        }
    };
    if trace.end.is_some() {
        crate::err_line!(
            "rkbench: {what} after finishing the trace {}",
            out.display()
        );
        return Ok(exit::CRASHED);
    }
    let io = |e: std::io::Error| {
        Error::internal(format!("finalising crashed trace {}: {e}", out.display()))
    };
    let mut w = TraceWriter::resume(out, trace.valid_len, trace.frames).map_err(io)?;
    let mut crashed_test = String::new();
    let mut end_us = 0;
    for r in &trace.requests {
        end_us = end_us.max(r.start_us + r.end_us);
        if r.status == Status::InFlight {
            let mut r = r.clone();
            r.status = Status::Crashed;
            r.detail = format!("{what} after {} tokens", r.token_ids.len());
            crashed_test = r.test_id.clone();
            w.append(&Record::Request(r)).map_err(io)?;
        }
    }
    w.append(&Record::End(RunEnd {
        status: RunStatus::Crashed,
        detail: if crashed_test.is_empty() {
            what.clone()
        } else {
            format!("{what} during {crashed_test}")
        },
        end_us,
        requests: trace.requests.len() as u32,
    }))
    .map_err(io)?;
    w.sync().map_err(io)?;
    // Its in-flight request is now in the trace.
    let _ = std::fs::remove_file(crate::trace::journal_path(out));
    if !quiet {
        crate::err_line!(
            "rkbench: {what}{}; trace finalised with status crashed: {}",
            if crashed_test.is_empty() {
                String::new()
            } else {
                format!(" during {crashed_test}")
            },
            out.display()
        );
    }
    crate::out_line!("{}", out.display());
    Ok(exit::CRASHED)
}
