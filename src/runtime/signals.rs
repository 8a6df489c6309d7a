//! Signal dispositions the recording process sets before librkllmrt.so is loaded.
//!
//! Rust's std installs SIGSEGV/SIGBUS handlers to report stack overflows. For a signal that is
//! raised or sent (`raise(SIGSEGV)` in a runtime's error path, `kill -SEGV`) rather than caused
//! by a guard-page fault, that handler resets the disposition and *returns*, so the signal is
//! swallowed and the run goes on as if nothing happened. The recorder restores the default
//! action so such a signal kills it and the supervisor records the run as `crashed`.

/// Put SIGSEGV and SIGBUS back to their default action (terminate), and ignore SIGXFSZ so a
/// file-size limit (`ulimit -f`) makes a trace write fail with EFBIG — handled as a full disk,
/// keeping what was recorded — instead of killing the recorder.
pub fn prepare_recording_process() -> std::io::Result<()> {
    for (sig, action) in [
        (libc::SIGSEGV, libc::SIG_DFL),
        (libc::SIGBUS, libc::SIG_DFL),
        (libc::SIGXFSZ, libc::SIG_IGN),
    ] {
        // SAFETY: `signal` with SIG_DFL / SIG_IGN installs no Rust code as a handler, so nothing
        // can run in signal context; the signal numbers are valid constants for this target.
        let previous = unsafe { libc::signal(sig, action) };
        if previous == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
