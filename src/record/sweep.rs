//! llama-bench-style parameter sweeps: `--sweep max-context-len=4096,8192 --sweep threads=2,4`
//! records the suite once per combination into one directory with an `index.json` that
//! `rkbench report DIR` reads. Against the runtime each combination is a fresh supervised
//! recorder process (so the runtime is re-initialised); against a server (`--server`) each runs
//! in this process, and only what a request carries can be swept.
use crate::error::{exit, Error, Result};
use crate::trace::sweep_index::{SweepIndex, SweepRun, SWEEP_INDEX};
use std::ffi::OsString;
use std::path::Path;

/// Record flags that can be swept.
pub const SWEEPABLE: [&str; 11] = [
    "max-context-len",
    "max-new-tokens",
    "cpus-mask",
    "threads",
    "top-k",
    "top-p",
    "temperature",
    "repeat-penalty",
    "frequency-penalty",
    "presence-penalty",
    "timeout",
];

/// Sweepable flags that a server request cannot carry: with `--server` they are the server's
/// own settings, fixed when it started (its context size, its threads and their CPUs).
pub(crate) const SERVER_SETTINGS: [&str; 3] = ["max-context-len", "cpus-mask", "threads"];

/// With `--server`, refuse a sweep of a server setting: recording it would label traces with a
/// value the server never used.
pub(crate) fn refuse_server_settings(axes: &[Axis]) -> Result<()> {
    match axes
        .iter()
        .find(|a| SERVER_SETTINGS.contains(&a.key.as_str()))
    {
        Some(a) => Err(Error::usage(format!(
            "--sweep {0}: with --server, {0} is the server's own setting, fixed when it started, and no request can carry it; restart the server with each value and record each, or sweep what a request carries: {1}",
            a.key,
            SWEEPABLE
                .iter()
                .filter(|k| !SERVER_SETTINGS.contains(k))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(()),
    }
}

/// One swept parameter and its values, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

pub(crate) fn parse_axis(s: &str) -> Result<Axis> {
    let (key, vals) = s.split_once('=').ok_or_else(|| {
        Error::usage(format!(
            "--sweep {s:?}: use KEY=V1,V2 (e.g. max-context-len=4096,8192)"
        ))
    })?;
    let key = key.trim().trim_start_matches("--").to_string();
    if !SWEEPABLE.contains(&key.as_str()) {
        return Err(Error::usage(format!(
            "--sweep: {key:?} cannot be swept; choose one of {}",
            SWEEPABLE.join(", ")
        )));
    }
    let values: Vec<String> = vals
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(Error::usage(format!("--sweep {key}: no values")));
    }
    // The same rules as the flag itself, so the error names what the user typed.
    let limit = crate::limits::get(&key);
    let mut seen: Vec<(crate::limits::Value, &str)> = Vec::new();
    for v in &values {
        let parsed = limit
            .parse(v)
            .map_err(|e| Error::usage(format!("--sweep {key}={v}: --{key}: {e}")))?;
        if let Some((_, first)) = seen.iter().find(|(p, _)| *p == parsed) {
            return Err(Error::usage(format!(
                "--sweep {key}: the value {v} is given twice (as {first} and {v}); each combination is recorded once, drop one"
            )));
        }
        seen.push((parsed, v));
    }
    Ok(Axis { key, values })
}

/// Every combination, first axis slowest.
pub fn combinations(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![vec![]];
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                a.values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push((a.key.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    out
}

/// A file-name-safe label for a combination.
pub fn label(combo: &[(String, String)]) -> String {
    combo
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '_'
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// A combination as typed: `threads=2, top-p=0.9`.
pub(crate) fn label_plain(combo: &[(String, String)]) -> String {
    combo
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Remove `--flag VALUE` / `--flag=VALUE` pairs for the given flags from an argv.
pub(crate) fn strip_flags(argv: &[OsString], flags: &[&str]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        let name = a
            .to_str()
            .and_then(|a| a.strip_prefix("--"))
            .map(|n| n.split('=').next().unwrap_or(n));
        if let Some(n) = name {
            if flags.contains(&n) {
                i += if a.to_string_lossy().contains('=') {
                    1
                } else {
                    2
                };
                continue;
            }
        }
        out.push(a.clone());
        i += 1;
    }
    out
}

/// Record every combination with `record_one(argv, out)` — the combination's own command line
/// (what its trace header records) and its trace path — and keep `index.json` current after
/// each. Stops at an interrupt or an error in the inputs. Returns the exit code.
pub(crate) fn run(
    argv: &[OsString],
    axes: &[Axis],
    dir: &Path,
    quiet: bool,
    mut record_one: impl FnMut(&[OsString], &[(String, String)], &Path) -> Result<i32>,
) -> Result<i32> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::input(format!(
            "sweep output directory {} exists and is not empty; choose another --out",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::input(format!("cannot create {}: {e}", dir.display())))?;
    let mut strip: Vec<&str> = vec!["sweep", "out"];
    strip.extend(axes.iter().map(|a| a.key.as_str()));
    let base = strip_flags(argv, &strip);
    let combos = combinations(axes);
    let mut index = SweepIndex::new(axes.iter().map(|a| a.key.clone()).collect());
    let mut code = exit::OK;
    for (i, combo) in combos.iter().enumerate() {
        let name = format!("{:02}_{}.rktrace", i + 1, label(combo));
        let out = dir.join(&name);
        let mut args = base.clone();
        for (k, v) in combo {
            args.push(format!("--{k}").into());
            args.push(v.into());
        }
        args.push("--out".into());
        args.push(out.clone().into_os_string());
        if !quiet {
            crate::err_line!(
                "rkbench: sweep {}/{}: {}",
                i + 1,
                combos.len(),
                label(combo)
            );
        }
        let c = record_one(&args, combo, &out)?;
        index.runs.push(SweepRun {
            trace: name,
            params: combo.iter().cloned().collect(),
            exit_code: c,
        });
        index.write(dir).map_err(|e| {
            Error::input(format!(
                "cannot write {}: {e}",
                dir.join(SWEEP_INDEX).display()
            ))
        })?;
        if c != exit::OK {
            code = c;
        }
        // What the next combination would meet too: Ctrl-C, bad inputs, the runtime, a full disk.
        if [
            exit::INTERRUPTED,
            exit::USAGE,
            exit::INPUT,
            exit::RUNTIME,
            exit::DISK_FULL,
        ]
        .contains(&c)
        {
            break;
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_and_labels() {
        let a = parse_axis("max-context-len=4096,8192").unwrap();
        let b = parse_axis("--cpus-mask=0xF0,0xFF").unwrap();
        let c = combinations(&[a, b]);
        assert_eq!(c.len(), 4);
        assert_eq!(label(&c[1]), "max-context-len=4096_cpus-mask=0xFF");
        assert!(parse_axis("model=x")
            .unwrap_err()
            .msg
            .contains("cannot be swept"));
        assert!(parse_axis("threads").is_err());
    }

    #[test]
    fn strips_flag_pairs() {
        let argv: Vec<OsString> = [
            "rkbench",
            "record",
            "--sweep",
            "threads=2,4",
            "--model",
            "m",
            "--threads=3",
            "--out",
            "d",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            strip_flags(&argv, &["sweep", "out", "threads"]),
            vec!["rkbench", "record", "--model", "m"]
        );
    }
}
