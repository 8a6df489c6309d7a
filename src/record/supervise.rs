//! Crash safety: `rkbench record` runs the recorder (and so the vendor runtime) in a child
//! process of itself and supervises it. The child writes the trace exactly as an unsupervised
//! run would; if it dies from a signal (SIGSEGV/SIGABRT inside librkllmrt, OOM kill, …), the
//! parent reopens the trace, cuts any torn tail, closes the in-flight request with status
//! `crashed` (keeping every token that was checkpointed) and appends the run end with the signal.
//! The child holds a pipe from the parent on stdin; if the parent dies, the child stops too.
use crate::error::{exit, Error, Result};
use crate::trace::reader::JournalCheck;
use crate::trace::{reader, Damage, Record, RunEnd, RunStatus, Status, TraceWriter};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

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
                    crate::error::exit(exit::INTERRUPTED);
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

/// The recorder process being supervised (0 = none), the interrupts this process received (never
/// reset: a sweep records no combination after one), and the recorder the first was forwarded
/// to. One process-wide signal handler serves every supervised run (a sweep runs several in turn).
static CHILD_PID: AtomicU32 = AtomicU32::new(0);
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static FORWARDED_TO: AtomicU32 = AtomicU32::new(0);

/// Forward the first interrupt to recorder `pid`, once: the handler and [`supervise`] (for an
/// interrupt that came while no recorder was running yet) may both try.
fn forward(pid: u32) {
    if pid != 0 && FORWARDED_TO.swap(pid, Ordering::SeqCst) != pid {
        let _ = Command::new("kill")
            .args(["-s", "INT", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Ctrl-C / SIGTERM: the first is forwarded to the recorder, which aborts the request and
/// finishes the trace; a second one (at least 500 ms later, so one signal delivered twice counts
/// once) makes the supervisor kill a recorder that did not answer (stopped or stuck). Installed
/// before the first recorder starts, so that no interrupt finds the default action (a sweep
/// installs it before its first combination).
pub(crate) fn install_forwarder() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let last: Mutex<Option<Instant>> = Mutex::new(None);
        let _ = ctrlc::set_handler(move || {
            if !super::interrupt::is_new(&last) {
                return;
            }
            super::interrupt::note_forwarded();
            let pid = CHILD_PID.load(Ordering::SeqCst);
            if INTERRUPTS.fetch_add(1, Ordering::SeqCst) == 0 {
                forward(pid);
            } else if pid != 0 {
                crate::err_line!("rkbench: second interrupt: stopping the recorder now; the trace keeps everything checkpointed");
            }
        });
    });
}

/// Run `argv` (this rkbench's own command line, with `--out` resolved) as a supervised child.
pub fn supervise(argv: &[OsString], out: &Path, quiet: bool) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::internal(format!("cannot find own executable: {e}")))?;
    let mut args: Vec<OsString> = argv.iter().skip(1).cloned().collect();
    if !args
        .iter()
        .any(|a| a == "--out" || a.to_string_lossy().starts_with("--out="))
    {
        args.push("--out".into());
        args.push(out.as_os_str().to_os_string());
    }
    install_forwarder();
    // The supervisor writes the trace too when it finalises it: a file-size limit must give it
    // EFBIG (reported as a full disk), not kill it with SIGXFSZ.
    let _ = crate::runtime::signals::prepare_recording_process();
    let mut child = Command::new(exe)
        // Keep argv[0] as the user typed it: the trace records the command line, and it should
        // not carry this machine's absolute paths.
        .arg0(
            argv.first()
                .map(OsString::as_os_str)
                .unwrap_or("rkbench".as_ref()),
        )
        .args(&args)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        // Put the child in its own process group so a terminal Ctrl-C reaches the supervisor,
        // which forwards it exactly once.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::internal(format!("cannot start the recorder process: {e}")))?;
    CHILD_PID.store(child.id(), Ordering::SeqCst);
    // An interrupt that came before the recorder was there to receive it.
    if INTERRUPTS.load(Ordering::SeqCst) > 0 {
        forward(child.id());
    }
    // `Child::wait` would close the pipe; keep our end open for as long as we live.
    let _keep_pipe_open = child.stdin.take();
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => {
                return Err(Error::internal(format!("waiting for the recorder: {e}")));
            }
        }
        if !killed && INTERRUPTS.load(Ordering::SeqCst) >= 2 {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CHILD_PID.store(0, Ordering::SeqCst);
    let interrupted = INTERRUPTS.load(Ordering::SeqCst) > 0;
    if let Some(code) = status.code() {
        if code == 127 && !out.exists() {
            crate::err_line!(
                "rkbench: error: the recorder process could not start (exit 127); under qemu-user without binfmt_misc, pass --no-supervise"
            );
            return Ok(exit::CANNOT_EXEC);
        }
        // Interrupted and gone without its run end (its own second Ctrl-C, or a signal before
        // its handler was installed): close the trace as interrupted. A full disk is left as
        // the recorder described it.
        if interrupted && code != exit::DISK_FULL && needs_end(out) {
            return finalize(out, Ending::Interrupted { killed: false }, quiet);
        }
        return Ok(code);
    }
    let sig = status.signal().unwrap_or(0);
    if interrupted {
        return finalize(out, Ending::Interrupted { killed }, quiet);
    }
    finalize(out, Ending::Crashed { sig }, quiet)
}

/// The trace exists, has a header and no run end.
fn needs_end(out: &Path) -> bool {
    reader::read(out).is_ok_and(|t| t.end.is_none())
}

/// How a recorder that could not finish its trace ended.
#[derive(Debug, Clone, Copy)]
pub enum Ending {
    /// Died from signal `sig` (SIGSEGV/SIGABRT inside librkllmrt, OOM kill, …).
    Crashed { sig: i32 },
    /// Interrupted by the user; `killed`: it did not answer and the second Ctrl-C killed it.
    Interrupted { killed: bool },
}

/// Close a trace whose recorder died from signal `sig`.
pub fn finalize_crashed(out: &Path, sig: i32, quiet: bool) -> Result<i32> {
    finalize(out, Ending::Crashed { sig }, quiet)
}

/// Close the trace of a recorder that ended without writing its run end: cut a torn tail, close
/// the in-flight request (keeping every checkpointed token), append the run end.
pub fn finalize(out: &Path, ending: Ending, quiet: bool) -> Result<i32> {
    let (what, run_status, req_status, code) = match ending {
        Ending::Crashed { sig } => (
            format!(
                "the recorder process died from signal {sig} ({})",
                signal_name(sig)
            ),
            RunStatus::Crashed,
            Status::Crashed,
            exit::CRASHED,
        ),
        Ending::Interrupted { killed } => (
            if killed {
                "interrupted by signal; the recorder did not answer and was killed by the second interrupt".to_string()
            } else {
                "interrupted by signal".to_string()
            },
            RunStatus::Interrupted,
            Status::Interrupted,
            exit::INTERRUPTED,
        ),
    };
    let checked = match reader::read_checked(out) {
        Ok(c) => c,
        Err(e) => {
            crate::err_line!("rkbench: error: {what} before the trace had a header ({e})");
            return Ok(code);
        }
    };
    let trace = &checked.trace;
    if trace.end.is_some() {
        crate::err_line!(
            "rkbench: {what} after finishing the trace {}",
            out.display()
        );
        return Ok(code);
    }
    // A full disk here leaves the trace as the recorder left it (up to its last whole frame)
    // and the journal untouched: say so, as the recorder does for its own full disk.
    let journal = crate::trace::journal_path(out);
    let finished = trace
        .requests
        .iter()
        .filter(|r| r.status != Status::InFlight)
        .count();
    let io = |e: std::io::Error| {
        let e = Error::writing(&format!("finalising the trace {}", out.display()), e);
        if e.kind != crate::error::Kind::DiskFull {
            return e;
        }
        Error::disk_full(format!(
            "{} ({what}); kept: {} (the run header and {finished} finished requests, up to its last whole frame; no end record) and {} (the checkpoints of the request in flight, if any); free space, then `rkbench report {}` reads both",
            e.msg,
            out.display(),
            journal.display(),
            out.display()
        ))
    };
    let mut w = TraceWriter::resume(out, trace.valid_len, trace.frames).map_err(io)?;
    let mut in_flight = String::new();
    let mut end_us = 0;
    for r in &trace.requests {
        end_us = end_us.max(r.start_us + r.end_us);
        if r.status == Status::InFlight {
            let mut r = r.clone();
            r.status = req_status;
            r.detail = format!("{what} after {} tokens", r.tokens.token_ids.len());
            in_flight = r.test_id.clone();
            w.append(&Record::Request(r)).map_err(io)?;
        }
    }
    w.append(&Record::End(RunEnd {
        status: run_status,
        detail: if in_flight.is_empty() {
            what.clone()
        } else {
            format!("{what} during {in_flight}")
        },
        end_us,
        requests: trace.requests.len() as u32,
    }))
    .map_err(io)?;
    w.sync().map_err(io)?;
    // Its in-flight request is now in the trace. A journal that was not merged (another run's,
    // unreadable) or is damaged before its end is left for the user to look at.
    let merged_whole = matches!(
        &checked.journal,
        JournalCheck::Merged {
            damage: None | Some(Damage::Truncated { .. }),
            ..
        }
    );
    if merged_whole {
        let _ = std::fs::remove_file(crate::trace::journal_path(out));
    }
    for p in checked.problems() {
        crate::err_line!("rkbench: warning: {}: {p}", out.display());
    }
    if !quiet {
        crate::err_line!(
            "rkbench: {what}{}; trace finalised with status {}: {}",
            if in_flight.is_empty() {
                String::new()
            } else {
                format!(" during {in_flight}")
            },
            run_status.as_str(),
            out.display()
        );
    }
    crate::out_line!("{}", out.display());
    Ok(code)
}
