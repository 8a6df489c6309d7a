//! `rkbench verify`: one line per file (plus one per further problem), exit code 5 if any is
//! damaged or unreadable, or if a journal beside a trace could not be merged.
use crate::cli::VerifyArgs;
use crate::error::{exit, Error, Result};
use crate::trace::reader::{self, Checked, JournalCheck, TraceError};

/// What `verify` says to no file at all (the CLI and the viewer).
pub(crate) const NEEDS_FILES: &str = "verify needs at least one trace file";

pub fn run(a: VerifyArgs) -> Result<i32> {
    if a.traces.is_empty() {
        return Err(Error::usage(NEEDS_FILES));
    }
    let mut code = exit::OK;
    for p in &a.traces {
        let (lines, c) = lines(&p.display().to_string(), reader::read_checked(p));
        for l in lines {
            crate::out_line!("{l}");
        }
        code = code.max(c);
    }
    Ok(code)
}

/// What `verify` prints for one file the reader read as `read` (from disk, or from memory in
/// the browser viewer), and its exit code ([`exit::DAMAGED`] or OK).
pub(crate) fn lines(shown: &str, read: Result<Checked, TraceError>) -> (Vec<String>, i32) {
    let mut out = Vec::new();
    let mut code = exit::OK;
    match read {
        Ok(c) => {
            let t = &c.trace;
            let problems = c.problems();
            match &t.damage {
                None => out.push(format!(
                    "{shown}: {} ({} frames, {} requests, {}{})",
                    if problems.is_empty() {
                        "ok"
                    } else {
                        "trace readable"
                    },
                    t.frames,
                    t.requests.len(),
                    match &c.journal {
                        JournalCheck::Merged { requests, .. } if *requests == 1 =>
                            "1 in-flight request recovered from its journal, ".to_string(),
                        JournalCheck::Merged { requests, .. } if *requests > 1 =>
                            format!("{requests} in-flight requests recovered from its journal, "),
                        _ => String::new(),
                    },
                    t.end
                        .as_ref()
                        .map(|e| format!("run {}", e.status.as_str()))
                        .unwrap_or_else(|| "no end record".into())
                )),
                Some(d) => {
                    out.push(format!("{shown}: {d}"));
                    code = exit::DAMAGED;
                }
            }
            for problem in problems {
                out.push(format!("{shown}: {problem}"));
                code = exit::DAMAGED;
            }
        }
        Err(TraceError::NotATrace { .. }) => {
            out.push(format!("{shown}: not a trace (no RKBTRACE header); pass a .rktrace file written by `rkbench record`"));
            code = exit::DAMAGED;
        }
        Err(e) => {
            out.push(e.to_string());
            code = exit::DAMAGED;
        }
    }
    (out, code)
}
