//! The browser viewer's WebAssembly module: rkbench's own replay code ([`rkbench::replay`]:
//! the reader, the analysis, the renderers, the commands' messages) behind a few plain
//! `extern "C"` functions, so the page loads it with an empty import object and needs no
//! generated glue (`docs/VIEWER.md` documents the page's JS API built on them).
//!
//! One call: the page asks for a request buffer ([`exports::rkb_request`]), writes a request
//! into it (layout: [`parse`]), calls [`exports::rkb_run`], which returns the CLI's exit code,
//! and reads the CLI's stdout and stderr ([`exports::rkb_stdout_ptr`] and friends).
#![deny(unsafe_code)]
use rkbench::replay::{self, Outcome, TraceFile};

pub mod exports;

/// `rkbench report --format FORMAT NAME` (one file).
pub const REPORT: u32 = 1;
/// `rkbench verify NAME...`.
pub const VERIFY: u32 = 2;
/// `rkbench compare --format FORMAT BASELINE CANDIDATE...` (the first file is the baseline).
pub const COMPARE: u32 = 3;
/// `rkbench report --fleet --format FORMAT ...`.
pub const FLEET: u32 = 4;
/// `rkbench report --format FORMAT DIR` of a sweep directory (the first file is its
/// `DIR/index.json`).
pub const SWEEP: u32 = 5;

/// A decoded request.
#[derive(Debug)]
pub struct Request<'a> {
    pub command: u32,
    pub format: &'a str,
    pub files: Vec<TraceFile<'a>>,
}

/// Reads a request's words and blobs.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn word(&mut self) -> Option<u32> {
        let b = self.buf.get(self.at..self.at.checked_add(4)?)?;
        self.at += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn align(&mut self) {
        self.at = self.at.next_multiple_of(16);
    }

    /// `Some(None)` for an absent blob; `None` when the request ends inside it.
    fn blob(&mut self) -> Option<Option<&'a [u8]>> {
        let len = self.word()?;
        if len == u32::MAX {
            return Some(None);
        }
        self.align();
        let end = self.at.checked_add(len as usize)?;
        let b = self.buf.get(self.at..end)?;
        self.at = end;
        self.align();
        Some(Some(b))
    }

    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.blob()??).ok()
    }
}

/// Decode a request: little-endian u32 words and blobs. A blob is its length (u32; `u32::MAX`
/// = absent), zero bytes to the next multiple of 16, its bytes, zero bytes to the next multiple
/// of 16, so every trace starts 16-aligned in the 16-aligned request buffer and its payloads
/// are validated in place, as in a mapped file. Layout: command, file count, format (UTF-8
/// blob), then per file its name (UTF-8), its bytes and its journal's bytes (absent: none).
pub fn parse(buf: &[u8]) -> Option<Request<'_>> {
    let mut c = Cursor { buf, at: 0 };
    let command = c.word()?;
    let n = c.word()?;
    let format = c.text()?;
    let mut files = Vec::new();
    for _ in 0..n {
        let name = c.text()?;
        let bytes = c.blob()??;
        let journal = c.blob()?;
        files.push(TraceFile {
            name,
            bytes,
            journal,
        });
    }
    (c.at == buf.len()).then_some(Request {
        command,
        format,
        files,
    })
}

/// Run one request as the CLI would run its command.
pub fn run(buf: &[u8]) -> Outcome {
    let Some(r) = parse(buf) else {
        return internal("the viewer page sent a request this module cannot decode (is the page from another rkbench version?)");
    };
    match (r.command, r.files.split_first()) {
        (REPORT, Some((f, []))) => replay::report(f, r.format),
        (VERIFY, _) => replay::verify(&r.files),
        (COMPARE, _) => replay::compare(&r.files, r.format),
        (FLEET, _) => replay::fleet(&r.files, r.format),
        (SWEEP, _) => replay::sweep(&r.files, r.format),
        (REPORT, _) => internal("the viewer reports one file per call"),
        (other, _) => internal(&format!(
            "the viewer page asked for command {other}, which this module does not know"
        )),
    }
}

/// A request the page should never send: a bug in the page, said as the CLI says a bug.
fn internal(msg: &str) -> Outcome {
    Outcome::error(&rkbench::error::Error::internal(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request layout, as the page's `encode` writes it.
    pub(crate) fn encode(command: u32, format: &str, files: &[TraceFile<'_>]) -> Vec<u8> {
        fn blob(out: &mut Vec<u8>, b: Option<&[u8]>) {
            let Some(b) = b else {
                out.extend_from_slice(&u32::MAX.to_le_bytes());
                return;
            };
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.resize(out.len().next_multiple_of(16), 0);
            out.extend_from_slice(b);
            out.resize(out.len().next_multiple_of(16), 0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&command.to_le_bytes());
        out.extend_from_slice(&(files.len() as u32).to_le_bytes());
        blob(&mut out, Some(format.as_bytes()));
        for f in files {
            blob(&mut out, Some(f.name.as_bytes()));
            blob(&mut out, Some(f.bytes));
            blob(&mut out, f.journal);
        }
        out
    }

    /// A file of a request.
    pub(crate) fn f<'a>(
        name: &'a str,
        bytes: &'a [u8],
        journal: Option<&'a [u8]>,
    ) -> TraceFile<'a> {
        TraceFile {
            name,
            bytes,
            journal,
        }
    }

    fn trace(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../traces/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn a_request_runs_the_replay_command_it_names() {
        let t = trace("qwen3-0.6b-sim-context.rktrace");
        let name = "traces/qwen3-0.6b-sim-context.rktrace";
        let file = TraceFile {
            name,
            bytes: &t,
            journal: None,
        };
        for format in ["md", "json"] {
            let got = run(&encode(REPORT, format, &[f(name, &t, None)]));
            assert_eq!(got, replay::report(&file, format), "{format}");
            assert_eq!(got.code, 0);
            assert!(got.stdout.len() > 1000, "{format}");
        }
        let got = run(&encode(
            VERIFY,
            "",
            &[f(name, &t, None), f("x.rktrace", b"hello", None)],
        ));
        assert_eq!(got.code, 5);
        assert!(
            got.stdout.starts_with(&format!("{name}: ok (")),
            "{}",
            got.stdout
        );
        assert!(
            got.stdout.contains("x.rktrace: not a trace"),
            "{}",
            got.stdout
        );
        let got = run(&encode(
            COMPARE,
            "md",
            &[f(name, &t, None), f("b.rktrace", &t, None)],
        ));
        assert_eq!(got.code, 0, "{}", got.stderr);
        let got = run(&encode(FLEET, "csv", &[f("a.rktrace", &t, None)]));
        assert_eq!(got.code, 0, "{}", got.stderr);
    }

    #[test]
    fn a_request_with_a_journal_and_an_unknown_format_decodes() {
        let t = trace("qwen3-0.6b-sim-context.rktrace");
        let buf = encode(REPORT, "pdf", &[f("t.rktrace", &t, Some(b""))]);
        let r = parse(&buf).unwrap();
        assert_eq!(r.files[0].journal, Some(&b""[..]));
        assert_eq!(r.files[0].bytes, &t[..]);
        let got = run(&buf);
        assert_eq!(got.code, 2);
        assert!(
            got.stderr
                .starts_with("rkbench: error: --format: unknown report format \"pdf\""),
            "{}",
            got.stderr
        );
    }

    #[test]
    fn a_malformed_request_is_an_internal_error_not_a_panic() {
        let t = trace("qwen3-0.6b-sim-context.rktrace");
        let good = encode(REPORT, "md", &[f("t.rktrace", &t, None)]);
        for cut in [0, 3, 8, 20, 40, good.len() - 1] {
            let got = run(&good[..cut]);
            assert_eq!(got.code, 1, "cut at {cut}");
            assert!(got.stderr.contains("cannot decode"), "{}", got.stderr);
        }
        let mut bad_utf8 = encode(REPORT, "md", &[f("t.rktrace", &t, None)]);
        bad_utf8[16] = 0xff;
        assert_eq!(run(&bad_utf8).code, 1);
        let got = run(&encode(9, "md", &[]));
        assert!(got.stderr.contains("command 9"), "{}", got.stderr);
        let got = run(&encode(REPORT, "md", &[]));
        assert_eq!(got.code, 1);
        let got = run(&encode(COMPARE, "md", &[]));
        assert_eq!(got.code, 2, "{}", got.stderr);
        assert!(got.stderr.contains("compare needs a baseline"));
    }
}
