//! `rkbench dump`: every frame of a trace as one line of JSON (docs/DUMP.md), the archival way
//! to every recorded fact without rkbench's analysis. The frames dumped are exactly those
//! `verify` counts (the reader's verdict decides how far the file is valid); the journal beside
//! a trace is dumped after it when the reader merges it, as `report` does. Whatever is wrong
//! with a file comes last, one `error` line each, and the exit code is `verify`'s.
use super::output::{self, Sent};
use crate::cli::DumpArgs;
use crate::error::{exit, Error, Result};
use crate::report::dump::{self as lines, FramePlace, KINDS, UNKNOWN_KIND};
use crate::trace::reader::{self, Damage, JournalCheck, TraceError};
use crate::trace::{FILE_HEADER_LEN, FRAME_HEADER_LEN};
use std::path::Path;

pub fn run(a: DumpArgs) -> Result<i32> {
    let [trace] = a.trace.as_slice() else {
        return Err(Error::usage(format!(
            "dump takes one trace file, {} given; run rkbench dump once per file (e.g. for f in *.rktrace; do rkbench dump \"$f\"; done)",
            a.trace.len()
        )));
    };
    let kinds = parse_kinds(a.kinds.as_deref())?;
    let mut out = Out {
        kinds,
        sent: Sent::Written,
    };
    let mut errors: Vec<String> = Vec::new();
    let name = crate::analysis::file_name(&trace.display().to_string());
    match reader::read_checked(trace) {
        Ok(c) => {
            let t = &c.trace;
            dump_file(&mut out, "trace", &name, trace, t.frames)?;
            if let Some(d) = &t.damage {
                errors.push(damage_line("trace", d));
            }
            if let Some(h) = &c.file_header {
                if !matches!(t.damage, Some(Damage::FileHeader { .. })) {
                    errors.push(damage_line(
                        "trace",
                        &Damage::FileHeader { reason: h.clone() },
                    ));
                }
            }
            match &c.journal {
                JournalCheck::Absent => {}
                JournalCheck::Merged {
                    path,
                    frames,
                    damage,
                    ..
                } => {
                    let jname = crate::analysis::file_name(path);
                    dump_file(&mut out, "journal", &jname, Path::new(path), *frames)?;
                    if let Some(d) = damage {
                        errors.push(damage_line("journal", d));
                    }
                }
                JournalCheck::NotMerged { path, reason } => errors.push(lines::error_line(
                    "journal",
                    "journal-not-merged",
                    &format!(
                        "journal {} not merged: {reason}",
                        crate::analysis::file_name(path)
                    ),
                    &[],
                )),
            }
        }
        // A journal given on its own: its frames, as the reader reads a journal.
        Err(TraceError::IsJournal { .. }) => {
            let (frames, damage) = journal(trace);
            dump_file(&mut out, "journal", &name, trace, frames)?;
            if let Some(d) = damage {
                errors.push(damage_line("journal", &d));
            }
        }
        Err(e) => errors.push(lines::error_line(
            "trace",
            "unreadable",
            &e.to_string(),
            &[],
        )),
    }
    for e in &errors {
        out.send(e)?;
    }
    Ok(match out.sent {
        Sent::Closed => exit::STDOUT_CLOSED,
        Sent::Written if errors.is_empty() => exit::OK,
        Sent::Written => exit::DAMAGED,
    })
}

/// Lines go to stdout until its reader goes away; frames only of the kinds asked for.
struct Out {
    /// `None`: every kind.
    kinds: Option<Vec<String>>,
    sent: Sent,
}

impl Out {
    fn send(&mut self, line: &str) -> Result<()> {
        if self.sent == Sent::Written {
            self.sent = output::stdout(line)?;
        }
        Ok(())
    }

    fn wants(&self, kind: &str) -> bool {
        self.kinds
            .as_ref()
            .map_or(true, |k| k.iter().any(|x| x == kind))
    }
}

/// `--kinds header,request`: names from [`KINDS`] (or `unknown`), each checked.
fn parse_kinds(arg: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(arg) = arg else { return Ok(None) };
    let known = || {
        KINDS
            .iter()
            .map(|(_, n)| *n)
            .chain([UNKNOWN_KIND])
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    for k in arg.split(',').map(str::trim) {
        if !known().contains(&k) {
            return Err(Error::usage(format!(
                "--kinds: {k:?} is not a record kind; use a comma-separated list of: {}",
                known().join(", ")
            )));
        }
        out.push(k.to_string());
    }
    Ok(Some(out))
}

/// A journal given on its own, parsed once as the reader reads one: its valid frames and its
/// damage (0 and none when it cannot be read again).
fn journal(path: &Path) -> (u32, Option<Damage>) {
    with_bytes(path, |b| reader::parse_journal(b, String::new()).ok())
        .flatten()
        .map_or((0, None), |t| (t.frames, t.damage))
}

/// Run `f` over the file's bytes (mapped, as the reader maps them).
fn with_bytes<R>(path: &Path, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let file = std::fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() < FILE_HEADER_LEN as u64 {
        return Some(f(&[]));
    }
    let map = reader::map_file(&file).ok()?;
    Some(f(&map))
}

/// The file line and the first `frames` frames of a file the reader has validated.
fn dump_file(out: &mut Out, file: &str, name: &str, path: &Path, frames: u32) -> Result<()> {
    let walked = with_bytes(path, |bytes| -> Result<()> {
        out.send(&lines::file_line(file, name, bytes))?;
        let mut aligned = rkyv::util::AlignedVec::<16>::new();
        let mut off = FILE_HEADER_LEN;
        for _ in 0..frames {
            let Some(h) = bytes.get(off..off + FRAME_HEADER_LEN) else {
                break;
            };
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let kind_code = h[10];
            let seq = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
            let start = off + FRAME_HEADER_LEN;
            let Some(payload) = bytes.get(start..start + len as usize) else {
                break;
            };
            let record = reader::decode_at(kind_code, payload, &mut aligned);
            let kind = if record.is_some() {
                lines::kind_name(kind_code)
            } else {
                UNKNOWN_KIND
            };
            if out.wants(kind) {
                let at = FramePlace {
                    file,
                    seq,
                    offset: off as u64,
                    kind_code,
                    payload_len: len,
                };
                out.send(&lines::frame_line(at, record.as_ref()))?;
            }
            off = start + crate::trace::pad16(len as usize);
        }
        Ok(())
    });
    match walked {
        Some(r) => r,
        None => Err(Error::input(format!(
            "cannot read {} again to dump it; check that it is still there and readable",
            path.display()
        ))),
    }
}

/// The error line of a damaged file, with the figures `verify` names.
fn damage_line(file: &str, d: &Damage) -> String {
    let message = d.to_string();
    match d {
        Damage::Truncated { at, frames_kept } => lines::error_line(
            file,
            "truncated",
            &message,
            &[("at", *at), ("frames_kept", u64::from(*frames_kept))],
        ),
        Damage::Corrupt {
            frame,
            at,
            frames_kept,
            ..
        } => lines::error_line(
            file,
            "corrupt",
            &message,
            &[
                ("frame", u64::from(*frame)),
                ("at", *at),
                ("frames_kept", u64::from(*frames_kept)),
            ],
        ),
        Damage::FileHeader { .. } => lines::error_line(file, "file-header", &message, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_checked_by_name() {
        assert_eq!(parse_kinds(None).unwrap(), None);
        assert_eq!(
            parse_kinds(Some("request, server-request")).unwrap(),
            Some(vec!["request".into(), "server-request".into()])
        );
        let e = parse_kinds(Some("request,bogus")).unwrap_err();
        assert_eq!(e.exit_code(), exit::USAGE);
        assert!(
            e.msg.contains("\"bogus\"") && e.msg.contains("telemetry"),
            "{}",
            e.msg
        );
    }
}
