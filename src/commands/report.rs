//! `rkbench report`: read traces, recompute, write each requested format.
use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::report::{self, CsvPer, Format, Options};
use crate::trace::reader;
use std::path::Path;

pub fn run(a: ReportArgs) -> Result<i32> {
    if a.traces.is_empty() {
        return Err(Error::usage(
            "report needs at least one trace file: rkbench report run.rktrace",
        ));
    }
    let formats =
        Format::parse_list(&a.format).map_err(|e| Error::usage(format!("--format: {e}")))?;
    if a.per != CsvPer::Request && !formats.contains(&Format::Csv) {
        return Err(Error::usage(
            "--per only applies to CSV output: add --format csv",
        ));
    }
    let options = Options { csv_per: a.per };
    let several = formats.len() > 1 || a.traces.len() > 1;
    if several && a.out.is_none() {
        return Err(Error::usage(
            "several traces or formats need an output directory: pass -o DIR",
        ));
    }
    for path in &a.traces {
        if path.is_dir() {
            let sweep = report::sweep::load(path).map_err(Error::input)?;
            for &f in &formats {
                let text = match f {
                    Format::Markdown => report::sweep::markdown(&sweep),
                    Format::Json => report::sweep::json(&sweep),
                    _ => {
                        return Err(Error::usage(format!(
                            "a sweep directory ({}) reports as md or json",
                            path.display()
                        )))
                    }
                };
                match &a.out {
                    None => print!("{text}"),
                    Some(out) if several => {
                        std::fs::create_dir_all(out).map_err(|e| {
                            Error::input(format!("cannot create {}: {e}", out.display()))
                        })?;
                        write(
                            &out.join(format!("{}.{}", sweep.name, f.extension())),
                            &text,
                        )?;
                    }
                    Some(out) => write(out, &text)?,
                }
            }
            continue;
        }
        let trace = reader::read(path).map_err(|e| Error::input(e.to_string()))?;
        if let Some(d) = &trace.damage {
            eprintln!(
                "rkbench: warning: {}: {d}; reporting the valid part",
                path.display()
            );
        }
        for &f in &formats {
            let text = report::render_with(&trace, f, options);
            match &a.out {
                None => print!("{text}"),
                Some(out) if several => {
                    std::fs::create_dir_all(out).map_err(|e| {
                        Error::input(format!("cannot create {}: {e}", out.display()))
                    })?;
                    let stem = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "trace".into());
                    write(&out.join(format!("{stem}.{}", f.extension())), &text)?;
                }
                Some(out) => write(out, &text)?,
            }
        }
    }
    Ok(0)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::input(format!("cannot write report {}: {e}", path.display())))
}
