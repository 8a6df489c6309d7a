//! `rkbench compare BASELINE CANDIDATE...` and its regression gate.
use super::output::{self, Sent};
use crate::analysis::{compare::Comparison, Analysis};
use crate::cli::CompareArgs;
use crate::error::{exit, Error, Result};
use crate::report::compare;
use crate::stats::significance::{Gate, Metric};
use crate::trace::{reader, Trace};

fn read(p: &std::path::Path) -> Result<Trace> {
    let t = reader::read(p).map_err(|e| Error::input(e.to_string()))?;
    warnings(&t, &p.display().to_string(), &mut |line| {
        crate::err_line!("{line}")
    });
    Ok(t)
}

/// The warnings compare prints for a trace it read from the file it names `shown`, as stderr
/// lines to `say` (shared with the browser viewer).
pub(crate) fn warnings(t: &Trace, shown: &str, say: &mut dyn FnMut(String)) {
    if let Some(d) = &t.damage {
        say(output::warning_line(&format!(
            "{shown}: {d}; comparing the valid part"
        )));
    }
    for line in reader::impossible_lines(&t.impossible) {
        say(output::warning_line(&format!("{shown}: {line}")));
    }
}

/// A comparison's renderer for `--format`.
pub(crate) fn renderer(format: &str) -> Result<fn(&Comparison) -> String> {
    Ok(match format {
        "md" | "markdown" => compare::markdown,
        "json" => compare::json,
        "csv" => crate::report::csv::compare,
        other => {
            return Err(Error::usage(format!(
                "--format {other:?}: compare writes md, json or csv"
            )))
        }
    })
}

/// `compare DIR DIR…` of load sweeps: level by level at equal offered load.
fn sweeps(a: &CompareArgs, gated: bool) -> Result<i32> {
    if gated {
        return Err(Error::usage(
            "--fail-if-slower gates trace comparisons; for load sweeps, compare the traces of one level",
        ));
    }
    let render = match a.format.as_str() {
        "md" | "markdown" => compare::sweeps::markdown,
        "json" => compare::sweeps::json,
        other => {
            return Err(Error::usage(format!(
                "--format {other:?}: a comparison of sweep directories writes md or json"
            )))
        }
    };
    let load = |p: &std::path::Path| {
        if !p.is_dir() {
            return Err(Error::usage(format!(
                "{} is not a directory and the baseline {} is: compare load sweep directories with load sweep directories",
                p.display(),
                a.baseline.display()
            )));
        }
        crate::report::sweep::load(p, &crate::stats::throughput::Slos::default())
            .map_err(Error::input)
    };
    let base = load(&a.baseline)?;
    let mut cands = Vec::new();
    for p in &a.candidates {
        let c = load(p)?;
        if base.saturation.is_none() && c.saturation.is_none() {
            return Err(Error::usage(format!(
                "neither {} nor {} ran under load (no trace has a level record beyond sequential): compare their traces",
                a.baseline.display(),
                p.display()
            )));
        }
        let cmp = crate::stats::load::compare(&base.levels(), &c.levels());
        cands.push((c, cmp));
    }
    let text = render(&base, &cands);
    if emit(a.out.as_deref(), text)? == Sent::Closed {
        return Ok(output::exit_code(Sent::Closed));
    }
    Ok(exit::OK)
}

/// The comparison to stdout, or to `--out`. A reader that went away (`| head`) ends the
/// command quietly, as for a report: `Sent::Closed`.
fn emit(out: Option<&std::path::Path>, text: String) -> Result<Sent> {
    match out {
        None => output::stdout(&text),
        Some(p) => std::fs::write(p, text)
            .map(|()| Sent::Written)
            .map_err(|e| Error::input(format!("cannot write {}: {e}", p.display()))),
    }
}

/// `--fail-if-slower` and `--metric` as a gate (`None` without the first).
fn gate(a: &CompareArgs) -> Result<Option<Gate>> {
    let Some(t) = &a.fail_if_slower else {
        return match &a.metric {
            Some(_) => Err(Error::usage(
                "--metric chooses what --fail-if-slower checks; add e.g. --fail-if-slower 5%",
            )),
            None => Ok(None),
        };
    };
    let threshold =
        Gate::parse_threshold(t).map_err(|e| Error::usage(format!("--fail-if-slower: {e}")))?;
    let mut metrics = Vec::new();
    for part in a.metric.as_deref().unwrap_or("decode").split(',') {
        let m = Metric::parse(part).map_err(|e| Error::usage(format!("--metric: {e}")))?;
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    }
    Ok(Some(Gate { threshold, metrics }))
}

/// What `compare` says without a candidate (the CLI and the viewer).
pub(crate) const NEEDS_TWO: &str =
    "compare needs a baseline and at least one candidate: rkbench compare base.rktrace new.rktrace";

pub(crate) fn run(a: CompareArgs) -> Result<i32> {
    if a.candidates.is_empty() {
        return Err(Error::usage(NEEDS_TWO));
    }
    let render = renderer(&a.format)?;
    let gate = gate(&a)?;
    if a.baseline.is_dir() {
        return sweeps(&a, gate.is_some());
    }
    if let Some(d) = a.candidates.iter().find(|p| p.is_dir()) {
        return Err(Error::usage(format!(
            "{} is a directory and the baseline {} a trace: compare traces with traces, or load sweep directories with load sweep directories",
            d.display(),
            a.baseline.display()
        )));
    }
    let base = read(&a.baseline)?;
    let cands = a
        .candidates
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>>>()?;
    let cmp = Comparison::of(
        Analysis::of(&base),
        cands.iter().map(Analysis::of).collect(),
        gate,
    );
    let text = render(&cmp);
    if emit(a.out.as_deref(), text)? == Sent::Closed {
        return Ok(output::exit_code(Sent::Closed));
    }
    let Some(g) = &cmp.gate else {
        return Ok(exit::OK);
    };
    // A metric the gate cannot judge is bad input for a CI job, not a pass.
    if let Some(c) = g.checks.iter().find(|c| c.change.is_none()) {
        return Err(Error::input(format!(
            "--metric {}: {} and the baseline have no successful request of a common test with this figure, so the gate cannot judge it",
            c.metric.key(),
            c.candidate
        )));
    }
    for c in &g.checks {
        if let Some(ch) = &c.change {
            output::note(&format!(
                "gate {}: {}, {}: {}",
                if c.failed { "FAILED" } else { "passed" },
                c.candidate,
                c.metric.label(),
                compare::statement(ch)
            ));
        }
    }
    Ok(if g.failed() {
        exit::REGRESSION
    } else {
        exit::OK
    })
}
