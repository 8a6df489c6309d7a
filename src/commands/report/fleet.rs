//! `rkbench report --fleet` (or a directory that is not a sweep): stream every trace into
//! `stats::fleet`, render one table.
use super::super::output::{self, Sent};
use crate::error::{Error, Result};
use crate::report::{fleet as render, Format, Options};
use crate::stats::fleet::{Fleet, FleetTable};
use crate::trace::reader;
use std::path::{Path, PathBuf};

/// Why the fleet table to stdout takes one format.
pub(crate) const NEEDS_OUT: &str = "several formats need an output directory: pass -o DIR";

/// The trace files under `dir` (recursively, not following directory symlinks), sorted, each
/// with its name relative to `dir` as reports show it.
fn walk(dir: &Path, shown: &str, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Error::input(format!("cannot read directory {}: {e}", dir.display())))?;
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if shown.is_empty() {
            name.clone()
        } else {
            format!("{shown}/{name}")
        };
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            walk(&e.path(), &rel, out)?;
        } else if name.ends_with(".rktrace") {
            out.push((e.path(), rel));
        }
    }
    Ok(())
}

/// Every trace named on the command line: files as given (shown by file name), directories
/// searched.
fn files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut v = Vec::new();
    for p in paths {
        if p.is_dir() {
            let before = v.len();
            walk(p, "", &mut v)?;
            if v.len() == before {
                return Err(Error::input(format!(
                    "{} is a directory with no *.rktrace files below it and no sweep index.json; pass trace files, a directory of traces, or a directory written by `rkbench record --sweep`",
                    p.display()
                )));
            }
        } else {
            v.push((
                p.clone(),
                crate::analysis::file_name(&p.display().to_string()),
            ));
        }
    }
    Ok(v)
}

fn read_into(fleet: &mut Fleet, path: &Path, shown: &str) {
    add(
        fleet,
        shown,
        &path.display().to_string(),
        reader::read_checked(path),
    );
}

/// Add one file, read as `read` from where the reader named it `path`, to the fleet under the
/// name the table shows (`shown`). The browser viewer adds its files through this too.
pub(crate) fn add(
    fleet: &mut Fleet,
    shown: &str,
    path: &str,
    read: Result<reader::Checked, reader::TraceError>,
) {
    match read {
        Ok(c) => fleet.add(shown, c.header_sha256, &c.trace),
        Err(e) => fleet.add_unreadable(shown.to_string(), short_error(&e, path)),
    }
}

/// The reader's message without this machine's path (the report names the file itself).
fn short_error(e: &reader::TraceError, path: &str) -> String {
    match e {
        reader::TraceError::Io { err, .. } => format!("cannot read it: {err}"),
        e => e.to_string().replace(path, "the file"),
    }
}

/// The table of every file added, or the error when none of the `files` could be read.
pub(crate) fn finish(fleet: Fleet, files: usize) -> Result<FleetTable> {
    let table = fleet.finish();
    if table.rows.is_empty() {
        return Err(Error::input(format!(
            "none of the {files} files could be read as a trace (first: {}: {})",
            table.unreadable.first().map_or("", |u| u.0.as_str()),
            table.unreadable.first().map_or("", |u| u.1.as_str()),
        )));
    }
    Ok(table)
}

/// What the fleet says to `--format perfetto`: a table has no timeline.
const NO_TIMELINE: &str = "--format perfetto is one trace's timeline; the fleet table has none: pass the trace files instead (rkbench report --format perfetto -o DIR a.rktrace b.rktrace)";

/// What the fleet says to no trace at all.
pub(crate) const NEEDS_FILES: &str =
    "--fleet needs trace files or directories: rkbench report --fleet traces/";

/// Refuse the formats a fleet table cannot be written in, before any trace is read.
pub(crate) fn refuse_formats(formats: &[Format]) -> Result<()> {
    if formats.contains(&Format::Perfetto) {
        return Err(Error::usage(NO_TIMELINE));
    }
    Ok(())
}

/// The fleet table in one format.
pub(crate) fn render(table: &FleetTable, f: Format) -> Result<String> {
    Ok(match f {
        Format::Markdown => render::markdown(table),
        Format::Json => render::json(table),
        Format::Csv => render::csv(table),
        Format::Html => render::html(table),
        // Refused before any trace is read (`refuse_formats`).
        Format::Perfetto => return Err(Error::usage(NO_TIMELINE)),
    })
}

pub(crate) fn run(
    paths: &[PathBuf],
    formats: &[Format],
    options: Options<'_>,
    out: Option<&Path>,
    jobs: usize,
) -> Result<i32> {
    if paths.is_empty() {
        return Err(Error::usage(NEEDS_FILES));
    }
    let files = files(paths)?;
    let jobs = jobs.clamp(1, files.len().max(1));
    let fleet = if jobs == 1 {
        let mut f = Fleet::default();
        for (p, shown) in &files {
            read_into(&mut f, p, shown);
        }
        f
    } else {
        // Each thread reduces every jobs-th file into its own fleet; the merged table is the
        // same for any --jobs (every figure comes from sorted values).
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..jobs)
                .map(|j| {
                    let files = &files;
                    scope.spawn(move || {
                        let mut f = Fleet::default();
                        for (p, shown) in files.iter().skip(j).step_by(jobs) {
                            read_into(&mut f, p, shown);
                        }
                        f
                    })
                })
                .collect();
            let mut all = Fleet::default();
            for h in handles {
                match h.join() {
                    Ok(f) => all.merge(f),
                    Err(_) => return Err(Error::internal("a fleet reader thread panicked")),
                }
            }
            Ok(all)
        })?
    };
    let table = finish(fleet, files.len())?;
    let several = formats.len() > 1;
    if several && out.is_none() {
        return Err(Error::usage(NEEDS_OUT));
    }
    let target = super::Target {
        formats,
        options,
        out,
        several,
    };
    for &f in formats {
        let text = render(&table, f)?;
        if target.emit(&text, "fleet", f)? == Sent::Closed {
            return Ok(output::exit_code(Sent::Closed));
        }
    }
    Ok(output::exit_code(Sent::Written))
}
