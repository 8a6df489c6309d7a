//! The CLI's replay commands on traces held in memory: what `rkbench report`, `verify`,
//! `compare`, `report --fleet` and `report DIR` (a sweep) write to stdout and stderr, and the
//! exit code, for the same files. The browser viewer (`viewer/`, wasm32) has no file system:
//! it hands over the bytes and the name the CLI would print for each file, and everything
//! after reading is the CLI's own code (the reader's checks, the commands' warnings, the
//! renderers), so the outputs are the same bytes.
use crate::analysis::{compare::Comparison, Analysis};
use crate::commands::{compare, report, verify};
use crate::error::{exit, Error, Result};
use crate::report::Options;
use crate::stats::fleet::Fleet;
use crate::trace::reader::{self, Checked, TraceError};
use crate::trace::SweepIndex;
use std::path::Path;

/// One file as the CLI would have read it.
#[derive(Debug, Clone, Copy)]
pub struct TraceFile<'a> {
    /// The name the CLI prints for the file: the path as given on its command line (for the
    /// fleet table, the name relative to the directory given).
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// The checkpoint journal beside the file (`<name>.journal`), when there is one.
    pub journal: Option<&'a [u8]>,
}

impl TraceFile<'_> {
    fn check(&self) -> std::result::Result<Checked, TraceError> {
        reader::check_bytes(self.bytes, self.name, self.journal)
    }
}

/// What the CLI would have written and exited with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// `run`'s stdout and exit code, or its error as the CLI prints it, after the stderr lines
    /// `run` said.
    fn of(run: impl FnOnce(&mut dyn FnMut(String)) -> Result<(String, i32)>) -> Outcome {
        let mut stderr = String::new();
        let result = run(&mut |line| {
            stderr.push_str(&line);
            stderr.push('\n');
        });
        match result {
            Ok((stdout, code)) => Outcome {
                code,
                stdout,
                stderr,
            },
            Err(e) => {
                let mut o = Outcome::error(&e);
                o.stderr.insert_str(0, &stderr);
                o
            }
        }
    }

    /// The CLI's failure: its error line on stderr, its exit code, nothing on stdout.
    pub fn error(e: &Error) -> Outcome {
        Outcome {
            code: e.exit_code(),
            stdout: String::new(),
            stderr: format!("{}\n", e.line()),
        }
    }
}

/// `rkbench report --format FORMAT NAME`.
pub fn report(file: &TraceFile<'_>, format: &str) -> Outcome {
    Outcome::of(|say| {
        let formats = report::formats(format)?;
        if formats.len() > 1 {
            return Err(Error::usage(report::NEEDS_OUT));
        }
        let checked = file.check().map_err(|e| Error::input(e.to_string()))?;
        let texts = report::render_checked(checked, file.name, &formats, Options::default(), say)?;
        let text = texts.into_iter().map(|(_, t)| t).collect();
        Ok((text, exit::OK))
    })
}

/// `rkbench verify NAME...`.
pub fn verify(files: &[TraceFile<'_>]) -> Outcome {
    Outcome::of(|_| {
        if files.is_empty() {
            return Err(Error::usage(verify::NEEDS_FILES));
        }
        let mut out = String::new();
        let mut code = exit::OK;
        for f in files {
            let (lines, c) = verify::lines(f.name, f.check());
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
            code = code.max(c);
        }
        Ok((out, code))
    })
}

/// `rkbench compare --format FORMAT BASELINE CANDIDATE...` (no gate): `files` are the
/// baseline, then the candidates.
pub fn compare(files: &[TraceFile<'_>], format: &str) -> Outcome {
    Outcome::of(|say| {
        let Some((baseline, candidates)) = files.split_first().filter(|(_, c)| !c.is_empty())
        else {
            return Err(Error::usage(compare::NEEDS_TWO));
        };
        let render = compare::renderer(format)?;
        let mut read = |f: &TraceFile<'_>| -> Result<crate::trace::Trace> {
            let t = f.check().map_err(|e| Error::input(e.to_string()))?.trace;
            compare::warnings(&t, f.name, say);
            Ok(t)
        };
        let base = read(baseline)?;
        let cands = candidates.iter().map(read).collect::<Result<Vec<_>>>()?;
        let cmp = Comparison::of(
            Analysis::of(&base),
            cands.iter().map(Analysis::of).collect(),
            None,
        );
        Ok((render(&cmp), exit::OK))
    })
}

/// `rkbench report --fleet --format FORMAT ...`: each file's `name` is the name the table
/// shows (for a directory given to the CLI, the path relative to it).
pub fn fleet(files: &[TraceFile<'_>], format: &str) -> Outcome {
    Outcome::of(|_| {
        let formats = report::formats(format)?;
        report::fleet::refuse_formats(&formats)?;
        if files.is_empty() {
            return Err(Error::usage(report::fleet::NEEDS_FILES));
        }
        let mut fleet = Fleet::default();
        for f in files {
            report::fleet::add(&mut fleet, f.name, f.name, f.check());
        }
        let table = report::fleet::finish(fleet, files.len())?;
        if formats.len() > 1 {
            return Err(Error::usage(report::fleet::NEEDS_OUT));
        }
        let text = formats
            .iter()
            .map(|&f| report::fleet::render(&table, f))
            .collect::<Result<String, Error>>()?;
        Ok((text, exit::OK))
    })
}

/// `rkbench report --format FORMAT DIR` of a sweep directory: `files[0]` is its index, named
/// `DIR/index.json`, the rest are the files in DIR, named `DIR/NAME` (the traces the index
/// lists, with their journals).
pub fn sweep(files: &[TraceFile<'_>], format: &str) -> Outcome {
    Outcome::of(|_| {
        let formats = report::formats(format)?;
        if formats.len() > 1 {
            return Err(Error::usage(report::NEEDS_OUT));
        }
        let Some((index, traces)) = files.split_first() else {
            return Err(Error::usage("a sweep needs its index.json"));
        };
        let dir = Path::new(index.name).parent().unwrap_or(Path::new(""));
        let parsed = SweepIndex::from_bytes(dir, index.bytes).map_err(Error::input)?;
        // The page takes no --goodput: the saturation point without an SLO, as the CLI's.
        let slos = crate::stats::throughput::Slos::default();
        let sweep = crate::report::sweep::of_index(dir, parsed, &slos, |path: &Path| {
            let shown = path.display().to_string();
            match traces.iter().find(|t| t.name == shown) {
                Some(t) => t.check().map(|c| c.trace),
                // What the CLI's reader says of a file the index lists but the directory lacks.
                None => Err(TraceError::Io {
                    path: shown,
                    err: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "No such file or directory (os error 2)",
                    ),
                }),
            }
        });
        let texts = report::sweep_texts(&sweep, dir, &formats)?;
        Ok((texts.into_iter().map(|(_, t)| t).collect(), exit::OK))
    })
}

/// The CLI's error line for a panic (a bug, its `payload`) while replaying the file named
/// `name`: the browser viewer's module cannot unwind, so its panic hook reports with this line.
pub fn panic_line(name: &str, payload: &(dyn std::any::Any + Send)) -> String {
    report::panicked(name, payload).line()
}
