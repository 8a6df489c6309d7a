//! `rkbench report`: read traces, analyse each once, write each requested format.
use super::output::{self, Sent};
use crate::analysis::Analysis;
use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::report::{self, CsvPer, Format, Options};
use crate::stats::throughput::Slos;
use crate::trace::reader::{self, Checked};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

pub(crate) mod fleet;

pub(crate) fn run(a: ReportArgs) -> Result<i32> {
    if a.traces.is_empty() {
        return Err(Error::usage(
            "report needs at least one trace file: rkbench report run.rktrace",
        ));
    }
    let formats = formats(&a.format)?;
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
    // A directory that is not a sweep (no index.json) holds any traces: the fleet table.
    if a.fleet
        || a.traces
            .iter()
            .any(|p| p.is_dir() && !p.join("index.json").exists())
    {
        if a.per != CsvPer::Request {
            return Err(Error::usage(
                "--per applies to one trace's CSV; the fleet CSV has one row per group",
            ));
        }
        if a.goodput.is_some() || a.reference_model.is_some() {
            return Err(Error::usage(
                "--goodput and --reference-model apply to one trace's report, not to the fleet table",
            ));
        }
        fleet::refuse_formats(&formats)?;
        return fleet::run(&a.traces, &formats, options, a.out.as_deref(), a.jobs);
    }
    let several = formats.len() > 1 || a.traces.len() > 1;
    if several && a.out.is_none() {
        return Err(Error::usage(NEEDS_OUT));
    }
    if let (true, Some(dir)) = (several, &a.out) {
        distinct_output_names(&a.traces, dir, &formats)?;
    }
    let target = Target {
        formats: &formats,
        options,
        out: a.out.as_deref(),
        several,
    };
    // Each trace is rendered independently into its own files, so any --jobs gives the same
    // bytes; errors are reported for the first failing trace in command-line order.
    let results = each_trace(&a.traces, a.jobs, |path| target.one(path));
    let mut sent = Sent::Written;
    for r in results {
        if r? == Sent::Closed {
            sent = Sent::Closed;
        }
    }
    Ok(output::exit_code(sent))
}

/// `--format` as the CLI reads it (the browser viewer reads its format argument the same way,
/// so it knows exactly the formats the CLI knows).
pub(crate) fn formats(arg: &str) -> Result<Vec<Format>> {
    Format::parse_list(arg).map_err(|e| Error::usage(format!("--format: {e}")))
}

/// Why reports to stdout take one trace in one format.
pub(crate) const NEEDS_OUT: &str =
    "several traces or formats need an output directory: pass -o DIR";

/// Where the reports of one command go.
struct Target<'a> {
    formats: &'a [Format],
    options: Options<'a>,
    out: Option<&'a Path>,
    several: bool,
}

/// The stem a trace (or sweep directory) is reported under in `-o DIR`.
fn stem(path: &Path) -> String {
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    name.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into())
}

/// Refuse, before writing anything, two inputs whose reports would get the same name in the
/// output directory (`a/t.rktrace b/t.rktrace -o dir` would otherwise write `dir/t.md` twice,
/// the second replacing the first).
fn distinct_output_names(traces: &[PathBuf], dir: &Path, formats: &[Format]) -> Result<()> {
    let stems: Vec<String> = traces.iter().map(|p| stem(p)).collect();
    for (i, s) in stems.iter().enumerate() {
        if let Some(j) = stems[..i].iter().position(|t| t == s) {
            return Err(Error::usage(format!(
                "{} and {} would both be reported as {}: report them into separate -o directories (or rename one)",
                traces[j].display(),
                traces[i].display(),
                dir.join(format!("{s}.{}", formats[0].extension())).display()
            )));
        }
    }
    Ok(())
}

/// What a panic (a bug) while reporting the file named `shown` becomes: the CLI's workers
/// catch it; the browser viewer's module aborts and its panic hook says the same.
pub(crate) fn panicked(shown: &str, payload: &(dyn std::any::Any + Send)) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    Error::internal(format!(
        "reporting {shown} failed: {what}. This is a bug in rkbench: please report it with the trace"
    ))
}

/// Run `f` on every trace, on up to `jobs` threads, results in input order. A panic in `f` (a
/// bug) becomes an internal error naming the trace, so no trace's result is silently lost.
fn each_trace<R: Send>(
    traces: &[PathBuf],
    jobs: usize,
    f: impl Fn(&Path) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let guarded = |p: &Path| {
        catch_unwind(AssertUnwindSafe(|| f(p)))
            .unwrap_or_else(|panic| Err(panicked(&p.display().to_string(), &*panic)))
    };
    let jobs = jobs.clamp(1, traces.len().max(1));
    if jobs == 1 {
        // Stop at the first failure, as the parallel path reports it.
        let mut out = Vec::new();
        for p in traces {
            let r = guarded(p);
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        return out;
    }
    let mut results: Vec<(usize, Result<R>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let guarded = &guarded;
                scope.spawn(move || {
                    (j..traces.len())
                        .step_by(jobs)
                        .map(|i| (i, guarded(&traces[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // Workers cannot panic (every call is guarded), so a failed join cannot lose results.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

impl Target<'_> {
    /// Report one trace (or sweep directory) in every requested format.
    fn one(&self, path: &Path) -> Result<Sent> {
        if path.is_dir() {
            // --goodput holds a load sweep's levels to its TTFT SLO (the saturation point).
            let sweep = report::sweep::load(path, &self.options.goodput).map_err(Error::input)?;
            let texts = sweep_texts(&sweep, path, self.formats)?;
            return self.emit_all(path, texts.into_iter());
        }
        let checked = reader::read_checked(path).map_err(|e| Error::input(e.to_string()))?;
        let texts = render_checked(
            checked,
            &path.display().to_string(),
            self.formats,
            self.options,
            &mut |line| crate::err_line!("{line}"),
        )?;
        self.emit_all(path, texts.into_iter())
    }

    fn emit_all(&self, path: &Path, texts: impl Iterator<Item = (Format, String)>) -> Result<Sent> {
        let stem = stem(path);
        for (f, text) in texts {
            if self.emit(&text, &stem, f)? == Sent::Closed {
                return Ok(Sent::Closed);
            }
        }
        Ok(Sent::Written)
    }

    /// Send one rendered report where it goes: stdout, the `-o` file, or `DIR/<stem>.<ext>`.
    fn emit(&self, text: &str, stem: &str, f: Format) -> Result<Sent> {
        match self.out {
            None => output::stdout(text),
            Some(dir) if self.several => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::input(format!("cannot create {}: {e}", dir.display())))?;
                write(&dir.join(format!("{stem}.{}", f.extension())), text)
            }
            Some(file) => write(file, text),
        }
    }
}

/// A sweep directory's table in every format of `formats` (shared with the browser viewer).
pub(crate) fn sweep_texts(
    sweep: &report::sweep::Sweep,
    dir: &Path,
    formats: &[Format],
) -> Result<Vec<(Format, String)>> {
    let mut texts = Vec::new();
    for &f in formats {
        texts.push((
            f,
            match f {
                Format::Markdown => report::sweep::markdown(sweep),
                Format::Json => report::sweep::json(sweep),
                Format::Html => report::sweep::html(sweep),
                Format::Csv | Format::Perfetto => {
                    return Err(Error::usage(format!(
                        "a sweep directory ({}) reports as md, json or html; for its traces' own csv or perfetto pass the .rktrace files in it",
                        dir.display()
                    )))
                }
            },
        ));
    }
    Ok(texts)
}

/// One trace's report in every format of `formats`, read as `checked` from the file the CLI
/// names `shown`. The warnings and notes it prints first go to `say` as stderr lines. Shared by
/// the CLI and the browser viewer, which therefore print the same bytes.
pub(crate) fn render_checked(
    checked: Checked,
    shown: &str,
    formats: &[Format],
    options: Options<'_>,
    say: &mut dyn FnMut(String),
) -> Result<Vec<(Format, String)>> {
    // A journal that was not merged (another run's, damaged) is named, not silently dropped.
    for p in checked.problems() {
        say(output::warning_line(&format!("{shown}: {p}")));
    }
    let trace = checked.trace;
    if let Some(d) = &trace.damage {
        say(output::warning_line(&format!(
            "{shown}: {d}; reporting the valid part"
        )));
    }
    if let Some(name) = options.reference_model {
        let model = crate::reference::match_model(name).unwrap_or(name);
        let release = trace.header.runtime.version.trim();
        if crate::reference::lookup(model, release).is_none() {
            say(output::note_line(&format!(
                "{shown}: Rockchip publishes no {model} figures for runtime {:?} (they exist for {}); no reference section",
                release,
                crate::reference::releases_of(model).join(", ")
            )));
        }
    }
    if options.csv_per == CsvPer::Chunk && trace.server.is_none() {
        return Err(Error::input(format!(
            "--per chunk: {shown} was recorded from the runtime, not through a server, so it has no chunks; use --per token"
        )));
    }
    let analysis = Analysis::with_options(&trace, &options.goodput, options.reference_model);
    Ok(formats
        .iter()
        .map(|&f| (f, report::render_analysis(&analysis, f, options)))
        .collect())
}

fn write(path: &Path, text: &str) -> Result<Sent> {
    std::fs::write(path, text)
        .map(|()| Sent::Written)
        .map_err(|e| Error::input(format!("cannot write report {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    #[test]
    fn a_panicking_worker_is_an_internal_error_naming_its_trace() {
        let traces: Vec<PathBuf> = ["a.rktrace", "b.rktrace", "c.rktrace", "d.rktrace"]
            .iter()
            .map(PathBuf::from)
            .collect();
        for jobs in [1, 3] {
            let r = each_trace(&traces, jobs, |p| {
                if p.ends_with("c.rktrace") {
                    panic!("boom");
                }
                Ok(p.display().to_string())
            });
            let first_err = r.iter().find_map(|r| r.as_ref().err()).unwrap();
            assert_eq!(first_err.exit_code(), exit::INTERNAL, "jobs {jobs}");
            assert!(
                first_err.msg.contains("c.rktrace") && first_err.msg.contains("boom"),
                "{}",
                first_err.msg
            );
            assert_eq!(r[0].as_deref().unwrap(), "a.rktrace");
            assert_eq!(r[1].as_deref().unwrap(), "b.rktrace");
        }
    }

    #[test]
    fn same_stem_twice_is_refused() {
        let t = |s: &str| PathBuf::from(s);
        let dir = Path::new("out");
        let e = distinct_output_names(
            &[t("a/t.rktrace"), t("b/x.rktrace"), t("b/t.rktrace")],
            dir,
            &[Format::Markdown],
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), exit::USAGE);
        assert!(e.msg.contains("a/t.rktrace and b/t.rktrace"), "{}", e.msg);
        assert!(e.msg.contains("out/t.md"), "{}", e.msg);
        assert!(
            distinct_output_names(&[t("a/t.rktrace"), t("a/u.rktrace")], dir, &[Format::Json])
                .is_ok()
        );
    }
}
