//! `rkbench compare BASELINE CANDIDATE`.
use super::output;
use crate::analysis::{compare::Comparison, Analysis};
use crate::cli::CompareArgs;
use crate::error::{Error, Result};
use crate::report::compare;
use crate::trace::reader;

pub(crate) fn run(a: CompareArgs) -> Result<i32> {
    let read = |p: &std::path::Path| {
        let t = reader::read(p).map_err(|e| Error::input(e.to_string()))?;
        if let Some(d) = &t.damage {
            output::warn(&format!("{}: {d}; comparing the valid part", p.display()));
        }
        Ok::<_, Error>(t)
    };
    let (b, c) = (read(&a.baseline)?, read(&a.candidate)?);
    let cmp = Comparison::of(Analysis::of(&b), Analysis::of(&c));
    let text = match a.format.as_str() {
        "md" | "markdown" => compare::markdown(&cmp),
        "json" => compare::json(&cmp),
        other => {
            return Err(Error::usage(format!(
                "--format {other:?}: compare writes md or json"
            )))
        }
    };
    match &a.out {
        None => Ok(output::exit_code(output::stdout(&text)?)),
        Some(p) => {
            std::fs::write(p, text)
                .map_err(|e| Error::input(format!("cannot write {}: {e}", p.display())))?;
            Ok(crate::error::exit::OK)
        }
    }
}
