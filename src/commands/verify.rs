//! `rkbench verify`: one line per file, exit code 5 if any is damaged or unreadable.
use crate::cli::VerifyArgs;
use crate::error::{exit, Error, Result};
use crate::trace::reader::{self, TraceError};

pub fn run(a: VerifyArgs) -> Result<i32> {
    if a.traces.is_empty() {
        return Err(Error::usage("verify needs at least one trace file"));
    }
    let mut code = exit::OK;
    for p in &a.traces {
        let shown = p.display();
        match reader::read(p) {
            Ok(t) => match &t.damage {
                None => println!(
                    "{shown}: ok ({} frames, {} requests, {}{})",
                    t.frames,
                    t.requests.len(),
                    if t.journal_requests > 0 {
                        format!(
                            "{} in-flight request recovered from its journal, ",
                            t.journal_requests
                        )
                    } else {
                        String::new()
                    },
                    t.end
                        .as_ref()
                        .map(|e| format!("run {}", e.status.as_str()))
                        .unwrap_or_else(|| "no end record".into())
                ),
                Some(d) => {
                    println!("{shown}: {d}");
                    code = exit::DAMAGED;
                }
            },
            Err(TraceError::NotATrace { .. }) => {
                println!("{shown}: not a trace");
                code = exit::DAMAGED;
            }
            Err(e) => {
                println!("{shown}: {e}");
                code = exit::DAMAGED;
            }
        }
    }
    Ok(code)
}
