//! `rkbench verify`: one line per file (plus one per further problem), exit code 5 if any is
//! damaged or unreadable, or if a journal beside a trace could not be merged.
use crate::cli::VerifyArgs;
use crate::error::{exit, Error, Result};
use crate::trace::reader::{self, JournalCheck, TraceError};

pub fn run(a: VerifyArgs) -> Result<i32> {
    if a.traces.is_empty() {
        return Err(Error::usage("verify needs at least one trace file"));
    }
    let mut code = exit::OK;
    for p in &a.traces {
        let shown = p.display();
        match reader::read_checked(p) {
            Ok(c) => {
                let t = &c.trace;
                let problems = c.problems();
                match &t.damage {
                    None => crate::out_line!(
                        "{shown}: {} ({} frames, {} requests, {}{})",
                        if problems.is_empty() {
                            "ok"
                        } else {
                            "trace readable"
                        },
                        t.frames,
                        t.requests.len(),
                        match &c.journal {
                            JournalCheck::Merged { requests, .. } if *requests > 0 =>
                                format!("{requests} in-flight request recovered from its journal, "),
                            _ => String::new(),
                        },
                        t.end
                            .as_ref()
                            .map(|e| format!("run {}", e.status.as_str()))
                            .unwrap_or_else(|| "no end record".into())
                    ),
                    Some(d) => {
                        crate::out_line!("{shown}: {d}");
                        code = exit::DAMAGED;
                    }
                }
                for problem in problems {
                    crate::out_line!("{shown}: {problem}");
                    code = exit::DAMAGED;
                }
            }
            Err(TraceError::NotATrace { .. }) => {
                crate::out_line!("{shown}: not a trace (no RKBTRACE header); pass a .rktrace file written by `rkbench record`");
                code = exit::DAMAGED;
            }
            Err(e) => {
                crate::out_line!("{e}");
                code = exit::DAMAGED;
            }
        }
    }
    Ok(code)
}
