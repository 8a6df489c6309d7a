//! `rkbench report`: read traces, recompute, write each requested format.
use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::report::{self, CsvPer, Format, Options};
use crate::stats::throughput::Slos;
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
    let goodput = match &a.goodput {
        Some(g) => Slos::parse(g).map_err(Error::usage)?,
        None => Slos::default(),
    };
    if let Some(name) = a.reference_model.as_deref() {
        if crate::reference::match_model(name).is_none() {
            return Err(Error::usage(format!(
                "--reference-model {name:?} names no model Rockchip publishes figures for; use one of: {}",
                crate::reference::models().join(", ")
            )));
        }
    }
    let options = Options {
        csv_per: a.per,
        goodput,
        reference_model: a.reference_model.as_deref(),
    };
    let several = formats.len() > 1 || a.traces.len() > 1;
    if several && a.out.is_none() {
        return Err(Error::usage(
            "several traces or formats need an output directory: pass -o DIR",
        ));
    }
    if a.jobs <= 1 || a.traces.len() <= 1 {
        for path in &a.traces {
            one(path, &formats, options, a.out.as_deref(), several)?;
        }
        return Ok(0);
    }
    // Each trace is rendered independently into its own files, so any --jobs gives the same
    // bytes; errors are reported for the first failing trace in command-line order.
    let jobs = a.jobs.min(a.traces.len());
    let results: Vec<(usize, Result<()>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let (traces, formats, out) = (&a.traces, &formats, a.out.as_deref());
                scope.spawn(move || {
                    (j..traces.len())
                        .step_by(jobs)
                        .map(|i| (i, one(&traces[i], formats, options, out, several)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(i, _)| *i);
    for (_, r) in results {
        r?;
    }
    Ok(0)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::input(format!("cannot write report {}: {e}", path.display())))
}

/// Report one trace (or sweep directory) in every requested format.
fn one(
    path: &Path,
    formats: &[Format],
    options: Options<'_>,
    out: Option<&Path>,
    several: bool,
) -> Result<()> {
    if path.is_dir() {
        if !options.goodput.is_empty() {
            return Err(Error::usage(format!(
                "--goodput applies to trace reports; {} is a sweep directory: report its traces instead",
                path.display()
            )));
        }
        let sweep = report::sweep::load(path).map_err(Error::input)?;
        for &f in formats {
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
            emit(&text, out, several, &sweep.name, f)?;
        }
        return Ok(());
    }
    let trace = reader::read(path).map_err(|e| Error::input(e.to_string()))?;
    if let Some(d) = &trace.damage {
        eprintln!(
            "rkbench: warning: {}: {d}; reporting the valid part",
            path.display()
        );
    }
    if let Some(name) = options.reference_model {
        let model = crate::reference::match_model(name).unwrap_or(name);
        let release = trace.header.runtime.version.trim();
        if crate::reference::lookup(model, release).is_none() {
            eprintln!(
                "rkbench: note: {}: Rockchip publishes no {model} figures for runtime {:?} (they exist for {}); no reference section",
                path.display(),
                release,
                crate::reference::releases_of(model).join(", ")
            );
        }
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into());
    for &f in formats {
        emit(
            &report::render_with(&trace, f, options),
            out,
            several,
            &stem,
            f,
        )?;
    }
    Ok(())
}

/// Send one rendered report where it goes: stdout, the `-o` file, or `DIR/<stem>.<ext>`.
fn emit(text: &str, out: Option<&Path>, several: bool, stem: &str, f: Format) -> Result<()> {
    match out {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(dir) if several => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::input(format!("cannot create {}: {e}", dir.display())))?;
            write(&dir.join(format!("{stem}.{}", f.extension())), text)
        }
        Some(file) => write(file, text),
    }
}
