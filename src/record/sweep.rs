//! llama-bench-style parameter sweeps: `--sweep max-context-len=4096,8192 --sweep threads=2,4`
//! records the suite once per combination into one directory with an `index.json` that
//! `rkbench report DIR` reads. Against the runtime each combination is a fresh supervised
//! recorder process (so the runtime is re-initialised); against a server (`--server`) each runs
//! in this process, and only what a request carries can be swept.
use crate::error::{exit, Error, Result};
use crate::trace::sweep_index::{SweepIndex, SweepRun, SweepStatus, SWEEP_INDEX};
use std::ffi::OsString;
use std::path::Path;

/// Record flags that can be swept (and `load=auto`, see [`AutoLoad`]).
pub const SWEEPABLE: [&str; 13] = [
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
    "concurrency",
    "rate",
];

/// `--sweep load=auto[:K]`: guidellm's sweep — a synchronous level (one stream), a throughput
/// level (every request of the level at once, at most [`AUTO_MAX_STREAMS`] streams), then `K`
/// constant rates evenly spaced strictly between the two levels' measured request rates (default
/// 5). The rates are decided from the first two traces, read back with the analysis's own
/// throughput definition, so they are only known once those levels ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AutoLoad {
    pub k: u32,
    /// Streams of the throughput level.
    pub streams: u32,
    /// `--arrivals` was given: the rate levels keep it (otherwise they are constant rates).
    pub arrivals_given: bool,
}

/// The first level of a `load=auto` sweep, the synchronous one: one stream.
pub(crate) const AUTO_SYNCHRONOUS: (&str, &str) = ("concurrency", "1");

/// The sweep key of [`AutoLoad`].
pub(crate) const AUTO_KEY: &str = "load";
/// Rates of `load=auto` when no K is given.
pub(crate) const AUTO_DEFAULT_K: u32 = 5;
/// Most streams of `load=auto`'s throughput level.
pub(crate) const AUTO_MAX_STREAMS: u32 = 64;

/// K of `auto` / `auto:K`.
fn auto_k(v: &str) -> Result<u32> {
    let k = match v.strip_prefix("auto") {
        Some("") => Some(AUTO_DEFAULT_K),
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|k| k.parse::<u32>().ok())
            .filter(|k| (1..=20).contains(k)),
        None => None,
    };
    k.ok_or_else(|| {
        Error::usage(format!(
            "--sweep load={v}: use load=auto (a synchronous level, a throughput level, then {AUTO_DEFAULT_K} rates between) or load=auto:K with K rates, 1..=20"
        ))
    })
}

/// The `load=auto` axis of `axes`, if that is what the sweep is; `planned` is the number of
/// measured requests one level sends.
pub(crate) fn auto_load(
    axes: &[Axis],
    planned: usize,
    arrivals_given: bool,
) -> Result<Option<AutoLoad>> {
    let Some(a) = axes.iter().find(|a| a.key == AUTO_KEY) else {
        return Ok(None);
    };
    Ok(Some(AutoLoad {
        k: auto_k(&a.values[0])?,
        streams: (planned as u32).clamp(1, AUTO_MAX_STREAMS),
        arrivals_given,
    }))
}

/// The request rates a `load=auto` sweep's rate levels lie between, read back from its first
/// two levels' traces (`runs`, in `dir`) with the report's throughput definition: the
/// synchronous level's rate, and the throughput level's (at least twice the first: a server
/// that serves one request at a time gains nothing from streams, so probe up to twice its
/// synchronous rate, where it must saturate). `None` when either is not measured.
fn auto_bounds(runs: &[SweepRun], dir: &Path) -> Option<(f64, f64)> {
    let rate = |n: usize| -> Option<f64> {
        let r = runs.get(n)?;
        let t = crate::trace::reader::read(&dir.join(&r.trace)).ok()?;
        crate::stats::throughput::of(&t.requests, t.server.as_ref(), &Default::default())
            .request_per_s
            .filter(|r| r.is_finite() && *r > 0.0)
    };
    let lo = rate(0)?;
    Some((lo, rate(1)?.max(lo * 2.0)))
}

/// Level `i` of a `load=auto` sweep, the rate levels between `bounds` ([`auto_bounds`]). `None`
/// for a rate level whose bounds are not measured (a level before it failed, or not yet run).
fn auto_level(auto: AutoLoad, i: u64, bounds: Option<(f64, f64)>) -> Option<Vec<(String, String)>> {
    match i {
        0 => {
            let (k, v) = AUTO_SYNCHRONOUS;
            Some(vec![(k.into(), v.into())])
        }
        1 => Some(vec![("concurrency".into(), auto.streams.to_string())]),
        _ => {
            let (lo, hi) = bounds?;
            let step = (hi - lo) / f64::from(auto.k + 1);
            let r = lo + step * (i - 1) as f64;
            let mut c = vec![("rate".into(), format!("{r:.4}"))];
            if !auto.arrivals_given {
                c.push(("arrivals".into(), "constant".into()));
            }
            Some(c)
        }
    }
}

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

/// The most combinations one sweep records. Each is a whole suite recording (against the
/// runtime a fresh process that loads the model), so 1,000 is days of recording already and a
/// larger grid is a slip of the keyboard; the limit also keeps `index.json` small.
pub(crate) const MAX_COMBINATIONS: u64 = 1_000;

/// Every `--sweep` flag as its axis, in the order given: each key once, and at most
/// [`MAX_COMBINATIONS`] combinations, counted before any is built.
pub(crate) fn parse_axes(flags: &[String]) -> Result<Vec<Axis>> {
    let mut axes: Vec<Axis> = Vec::new();
    for f in flags {
        let a = parse_axis(f)?;
        if let Some(first) = axes.iter().find(|b| b.key == a.key) {
            return Err(Error::usage(format!(
                "--sweep {0} is given in two --sweep flags; give all its values in one: --sweep {0}={1},{2}",
                a.key,
                first.values.join(","),
                a.values.join(",")
            )));
        }
        axes.push(a);
    }
    if axes.len() > 1 && axes.iter().any(|a| a.key == AUTO_KEY) {
        return Err(Error::usage(
            "--sweep load=auto decides its levels from what it measures and sweeps nothing else; record other parameters in sweeps of their own",
        ));
    }
    Grid::new(&axes)?;
    Ok(axes)
}

pub(crate) fn parse_axis(s: &str) -> Result<Axis> {
    let (key, vals) = s.split_once('=').ok_or_else(|| {
        Error::usage(format!(
            "--sweep {s:?}: use KEY=V1,V2 (e.g. max-context-len=4096,8192)"
        ))
    })?;
    let key = key.trim().trim_start_matches("--").to_string();
    if key == AUTO_KEY {
        auto_k(vals.trim())?;
        return Ok(Axis {
            key,
            values: vec![vals.trim().to_string()],
        });
    }
    if !SWEEPABLE.contains(&key.as_str()) {
        return Err(Error::usage(format!(
            "--sweep: {key:?} cannot be swept; choose one of {}, or load=auto",
            SWEEPABLE.join(", ")
        )));
    }
    if vals.trim().is_empty() {
        return Err(Error::usage(format!("--sweep {key}: no values")));
    }
    // Counted before the values are checked one by one (and against each other).
    let n = vals.split(',').count();
    if n as u64 > MAX_COMBINATIONS {
        return Err(Error::usage(format!(
            "--sweep {key}: {n} values, more than the {MAX_COMBINATIONS} combinations one sweep records; split it into several sweeps"
        )));
    }
    let values: Vec<String> = vals.split(',').map(|v| v.trim().to_string()).collect();
    if let Some(i) = values.iter().position(String::is_empty) {
        return Err(Error::usage(format!(
            "--sweep {s}: an empty value (value {} of {n}); separate the values with single commas, e.g. {key}={}",
            i + 1,
            values
                .iter()
                .filter(|v| !v.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        )));
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

/// The combinations of a sweep, first axis slowest. Counted with checked arithmetic before
/// anything else, and each combination computed from its index (an odometer), so no grid is
/// ever held in memory: planning and recording walk it one combination at a time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid<'a> {
    axes: &'a [Axis],
    len: u64,
}

impl<'a> Grid<'a> {
    /// The grid of `axes`, refused (one line, exit 2) past [`MAX_COMBINATIONS`].
    pub(crate) fn new(axes: &'a [Axis]) -> Result<Grid<'a>> {
        let len = axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64));
        match len {
            Some(len) if len <= MAX_COMBINATIONS => Ok(Grid { axes, len }),
            _ => {
                let sizes: Vec<String> = axes.iter().map(|a| a.values.len().to_string()).collect();
                let total = len.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
                Err(Error::usage(format!(
                    "--sweep: {} = {total} combinations, more than the {MAX_COMBINATIONS} one sweep records (each is a whole suite recording); split the grid into several sweeps",
                    sizes.join(" × ")
                )))
            }
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Combination `i` (0-based, `i < len`): the last axis varies fastest.
    pub(crate) fn combination(&self, i: u64) -> Vec<(String, String)> {
        let mut rest = i;
        let mut out: Vec<(String, String)> = self
            .axes
            .iter()
            .rev()
            .map(|a| {
                let n = a.values.len() as u64;
                let v = &a.values[(rest % n) as usize];
                rest /= n;
                (a.key.clone(), v.clone())
            })
            .collect();
        out.reverse();
        out
    }

    /// Every combination in order, one at a time.
    pub(crate) fn iter(self) -> impl Iterator<Item = Vec<(String, String)>> + 'a {
        (0..self.len).map(move |i| self.combination(i))
    }
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
/// (what its trace header records) and its trace path — and keep `index.json` current before
/// the first and after each: which combinations ran, which did not, and why the sweep ended.
/// Stops at an interrupt (`interrupted` says whether Ctrl-C or SIGTERM reached this process,
/// also between combinations or after a combination's last request, so it is asked after every
/// combination whatever its exit code) or at an error the next combination would meet too.
/// Returns the exit code: 130 after an interrupt.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    argv: &[OsString],
    axes: &[Axis],
    auto: Option<AutoLoad>,
    dir: &Path,
    quiet: bool,
    interrupted: impl Fn() -> bool,
    mut record_one: impl FnMut(&[OsString], &[(String, String)], &Path) -> Result<i32>,
) -> Result<i32> {
    let grid = Grid::new(axes)?;
    let total = auto.map_or(grid.len(), |a| 2 + u64::from(a.k));
    // Combination `i`; a `load=auto` rate level is known once its bounds were measured: read
    // back once, when the first two levels are in `runs` (which only ever grows).
    let bounds = std::cell::OnceCell::new();
    let combination = |i: u64, runs: &[SweepRun]| -> Option<Vec<(String, String)>> {
        match auto {
            None => Some(grid.combination(i)),
            Some(a) => {
                let b = match runs.len() {
                    0 | 1 => None,
                    _ => *bounds.get_or_init(|| auto_bounds(runs, dir)),
                };
                auto_level(a, i, b)
            }
        }
    };
    // What `index.json` lists as not run: a rate level not yet decided says so.
    let planned = |i: u64, runs: &[SweepRun]| -> Vec<(String, String)> {
        combination(i, runs).unwrap_or_else(|| {
            vec![(
                "rate".into(),
                "auto (between the synchronous and throughput levels' rates)".into(),
            )]
        })
    };
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
    if auto.is_some() {
        strip.extend(["concurrency", "rate"]);
    }
    strip.extend(axes.iter().map(|a| a.key.as_str()));
    let base = strip_flags(argv, &strip);
    let mut index = SweepIndex::new(axes.iter().map(|a| a.key.clone()).collect());
    index.combinations = total;
    let write = |index: &mut SweepIndex, next: u64, status: SweepStatus| {
        index.status = Some(status);
        index.not_run = (next..total)
            .map(|i| planned(i, &index.runs).into_iter().collect())
            .collect();
        index.write(dir).map_err(|e| {
            Error::input(format!(
                "cannot write {}: {e}",
                dir.join(SWEEP_INDEX).display()
            ))
        })
    };
    write(&mut index, 0, SweepStatus::Recording)?;
    let mut code = exit::OK;
    let mut next = 0;
    let mut status = SweepStatus::Complete;
    while next < total {
        if interrupted() {
            status = SweepStatus::Interrupted;
            break;
        }
        let Some(combo) = combination(next, &index.runs) else {
            crate::err_line!(
                "rkbench: sweep load=auto: the synchronous or throughput level measured no request rate, so the rates between them are unknown; the sweep ends after {} levels",
                index.runs.len()
            );
            status = SweepStatus::Stopped;
            break;
        };
        let name = format!("{:02}_{}.rktrace", next + 1, label(&combo));
        let out = dir.join(&name);
        let mut args = base.clone();
        for (k, v) in &combo {
            args.push(format!("--{k}").into());
            args.push(v.into());
        }
        args.push("--out".into());
        args.push(out.clone().into_os_string());
        if !quiet {
            crate::err_line!("rkbench: sweep {}/{}: {}", next + 1, total, label(&combo));
        }
        let c = record_one(&args, &combo, &out)?;
        index.runs.push(SweepRun {
            trace: name,
            params: combo.into_iter().collect(),
            exit_code: c,
        });
        next += 1;
        if c != exit::OK {
            code = c;
        }
        if c == exit::INTERRUPTED || interrupted() {
            status = SweepStatus::Interrupted;
            break;
        }
        // What the next combination would meet too: bad inputs, the runtime, a full disk.
        if [exit::USAGE, exit::INPUT, exit::RUNTIME, exit::DISK_FULL].contains(&c) {
            status = SweepStatus::Stopped;
            break;
        }
        write(&mut index, next, SweepStatus::Recording)?;
    }
    write(&mut index, next, status)?;
    if status == SweepStatus::Interrupted {
        crate::err_line!(
            "rkbench: sweep interrupted: {} of {} combinations recorded, {} not run; {} lists them",
            index.runs.len(),
            total,
            index.not_run.len(),
            dir.join(SWEEP_INDEX).display()
        );
        code = exit::INTERRUPTED;
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_levels_are_synchronous_throughput_then_rates_between_the_bounds() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = AutoLoad {
            k: 3,
            streams: 8,
            arrivals_given: false,
        };
        assert_eq!(auto_level(a, 0, None), Some(pairs(&[("concurrency", "1")])));
        assert_eq!(auto_level(a, 1, None), Some(pairs(&[("concurrency", "8")])));
        // A rate level waits for its bounds; then K rates evenly spaced strictly between.
        assert_eq!(auto_level(a, 2, None), None);
        assert_eq!(
            auto_level(a, 2, Some((2.0, 10.0))),
            Some(pairs(&[("rate", "4.0000"), ("arrivals", "constant")]))
        );
        assert_eq!(
            auto_level(a, 4, Some((2.0, 10.0))),
            Some(pairs(&[("rate", "8.0000"), ("arrivals", "constant")]))
        );
        // --arrivals given: the rate levels keep it.
        let given = AutoLoad {
            arrivals_given: true,
            ..a
        };
        assert_eq!(
            auto_level(given, 3, Some((2.0, 10.0))),
            Some(pairs(&[("rate", "6.0000")]))
        );
    }

    #[test]
    fn grid_and_labels() {
        let a = parse_axis("max-context-len=4096,8192").unwrap();
        let b = parse_axis("--cpus-mask=0xF0,0xFF").unwrap();
        let axes = [a, b];
        let c = Grid::new(&axes).unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(
            label(&c.combination(1)),
            "max-context-len=4096_cpus-mask=0xFF"
        );
        assert!(parse_axis("model=x")
            .unwrap_err()
            .msg
            .contains("cannot be swept"));
        assert!(parse_axis("threads").is_err());
    }

    /// `--sweep KEY=1,2,…,n` (milliseconds for `timeout`).
    fn values(key: &str, n: u32) -> String {
        let unit = if key == "timeout" { "ms" } else { "" };
        let v: Vec<String> = (1..=n).map(|i| format!("{i}{unit}")).collect();
        format!("{key}={}", v.join(","))
    }

    #[test]
    fn the_grid_is_counted_before_it_is_built() {
        // #21 G5: 4 axes × 100 values built all 10^8 combinations before checking any.
        let flags = [
            values("max-new-tokens", 100),
            values("top-k", 100),
            values("max-context-len", 100),
            values("threads", 1),
            values("timeout", 100),
        ];
        let e = parse_axes(&flags).unwrap_err();
        assert!(
            e.msg.starts_with("--sweep: 100 × 100 × 100 × 1 × 100 = 100000000 combinations, more than the 1000 one sweep records"),
            "{}",
            e.msg
        );
        // At the limit: accepted, and walked by index in the order of nested loops.
        let axes = parse_axes(&[
            values("max-new-tokens", 10),
            values("top-k", 10),
            values("max-context-len", 10),
        ])
        .unwrap();
        let g = Grid::new(&axes).unwrap();
        assert_eq!(g.len(), MAX_COMBINATIONS);
        let mut want = Vec::new();
        for a in &axes[0].values {
            for b in &axes[1].values {
                for c in &axes[2].values {
                    want.push(vec![
                        ("max-new-tokens".to_string(), a.clone()),
                        ("top-k".to_string(), b.clone()),
                        ("max-context-len".to_string(), c.clone()),
                    ]);
                }
            }
        }
        assert!(g.iter().eq(want));
        // One more value is one grid too many; one axis alone past the limit too.
        let e = parse_axes(&[
            values("max-new-tokens", 10),
            values("top-k", 10),
            values("max-context-len", 10),
            values("threads", 2),
        ])
        .unwrap_err();
        assert!(e.msg.contains("= 2000 combinations"), "{}", e.msg);
        let e = parse_axis(&values("top-k", 1001)).unwrap_err();
        assert!(e
            .msg
            .starts_with("--sweep top-k: 1001 values, more than the 1000"));
        // The count itself cannot overflow: eleven axes of 1000 (as lengths) are refused.
        let wide: Vec<Axis> = SWEEPABLE
            .iter()
            .map(|k| Axis {
                key: k.to_string(),
                values: (0..1000).map(|i| i.to_string()).collect(),
            })
            .collect();
        let e = Grid::new(&wide).unwrap_err();
        assert!(e.msg.contains("= more than 2^64 combinations"), "{}", e.msg);
    }

    #[test]
    fn empty_values_and_a_repeated_key_are_refused() {
        // #21 G16: empty values were dropped silently; a repeated key reached argh.
        for (bad, at) in [
            ("max-new-tokens=,1", "value 1 of 2"),
            ("max-new-tokens=1,,2", "value 2 of 3"),
            ("max-new-tokens=1,2,", "value 3 of 3"),
            ("max-new-tokens=1, ,2", "value 2 of 3"),
        ] {
            let e = parse_axis(bad).unwrap_err();
            assert!(
                e.msg
                    .starts_with(&format!("--sweep {bad}: an empty value ({at})")),
                "{}",
                e.msg
            );
        }
        assert!(parse_axis("threads=")
            .unwrap_err()
            .msg
            .contains("no values"));
        let e =
            parse_axes(&["threads=2".into(), "top-k=1".into(), "threads=3,4".into()]).unwrap_err();
        assert_eq!(
            e.msg,
            "--sweep threads is given in two --sweep flags; give all its values in one: --sweep threads=2,3,4"
        );
    }

    /// A fresh directory for a sweep's output (not created).
    fn sweep_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rkbench-sweep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Runs a quiet `rkbench record` sweep of `axes` into `d`: its exit code and its index (`d`
    /// is removed after).
    fn sweep_into(
        d: &Path,
        axes: &[Axis],
        interrupted: impl Fn() -> bool,
        record_one: impl FnMut(&[OsString], &[(String, String)], &Path) -> Result<i32>,
    ) -> (i32, SweepIndex) {
        let argv: Vec<OsString> = vec!["rkbench".into(), "record".into()];
        let code = run(&argv, axes, None, d, true, interrupted, record_one).unwrap();
        let index = SweepIndex::read(d).unwrap();
        let _ = std::fs::remove_dir_all(d);
        (code, index)
    }

    #[test]
    fn an_interrupt_between_combinations_ends_the_sweep_and_the_index_says_what_ran() {
        // #21 G6: the interrupt came after the first combination ended well (exit 0).
        let d = sweep_dir("int");
        let axes = parse_axes(&["threads=1,2,3".into()]).unwrap();
        let signal = std::cell::Cell::new(false);
        let mut recorded = Vec::new();
        let (code, i) = sweep_into(
            &d,
            &axes,
            || signal.get(),
            |_, combo, _| {
                recorded.push(label_plain(combo));
                signal.set(true);
                Ok(exit::OK)
            },
        );
        assert_eq!(code, exit::INTERRUPTED);
        assert_eq!(recorded, ["threads=1"]);
        assert_eq!(i.status, Some(SweepStatus::Interrupted));
        assert_eq!((i.combinations, i.runs.len()), (3, 1));
        let not_run: Vec<&str> = i.not_run.iter().map(|p| p["threads"].as_str()).collect();
        assert_eq!(not_run, ["2", "3"]);

        // Before the first: nothing is recorded, the index lists every combination.
        let (code, i) = sweep_into(
            &d,
            &axes,
            || true,
            |_, _, _| panic!("no combination after an interrupt"),
        );
        assert_eq!(code, exit::INTERRUPTED);
        assert_eq!((i.runs.len(), i.not_run.len()), (0, 3));
    }

    #[test]
    fn a_sweep_that_ends_says_so_in_its_index() {
        let d = sweep_dir("end");
        let axes = parse_axes(&["threads=1,2".into(), "top-k=1,2".into()]).unwrap();
        let mut n = 0;
        let (code, i) = sweep_into(
            &d,
            &axes,
            || false,
            |_, _, _| {
                n += 1;
                Ok(exit::OK)
            },
        );
        assert_eq!((code, n), (exit::OK, 4));
        assert_eq!(i.status, Some(SweepStatus::Complete));
        assert!(i.not_run.is_empty());
        // A failure the next combination would meet too stops it; the rest are not run.
        let (code, i) = sweep_into(&d, &axes, || false, |_, _, _| Ok(exit::RUNTIME));
        assert_eq!(code, exit::RUNTIME);
        assert_eq!(i.status, Some(SweepStatus::Stopped));
        assert_eq!((i.runs.len(), i.not_run.len()), (1, 3));
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
