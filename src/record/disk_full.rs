//! What a recorder says when the disk fills (or a file-size limit is hit) mid-run: what it
//! kept and how to read it. One wording for the runtime and the `--server` recorder.
use crate::error::{Error, Kind};
use crate::trace::{Journal, TraceWriter};

/// `e` with what was kept when it is a full disk (else `e` unchanged): the trace up to its
/// last whole frame with `finished` requests, and the journal holding `in_flight`.
pub(crate) fn explain(
    e: Error,
    trace: &TraceWriter,
    journal: &Journal,
    finished: u32,
    in_flight: &str,
) -> Error {
    if e.kind != Kind::DiskFull {
        return e;
    }
    Error::disk_full(format!(
        "{}; kept: {} (the run header and {finished} finished requests; its torn last frame was cut off, it has no end record) and {} ({in_flight}); free space, then `rkbench report {}` reads both",
        e.msg,
        trace.path().display(),
        journal.path().display(),
        trace.path().display()
    ))
}
