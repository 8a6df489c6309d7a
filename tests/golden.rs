//! Golden reports: every committed trace in `traces/` regenerates its committed reports in
//! `fixtures/golden/` byte for byte. `RKBENCH_BLESS=1 cargo test --test golden` rewrites them
//! (review the diff before committing).
mod common;
use common::*;
use std::path::PathBuf;

fn traces() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("traces"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rktrace"))
        .collect();
    v.sort();
    v
}

#[test]
fn committed_traces_regenerate_their_golden_reports() {
    let traces = traces();
    assert!(
        traces.len() >= 3,
        "expected the committed sample traces in traces/"
    );
    let bless = std::env::var_os("RKBENCH_BLESS").is_some();
    let out = tempdir("golden");
    let formats = golden_formats();
    for t in &traces {
        let o = run(
            &[
                "report",
                &t.display().to_string(),
                "--format",
                &formats.join(","),
                "-o",
                &out.display().to_string(),
            ],
            &[],
        );
        assert!(o.status.success(), "{}: {}", t.display(), stderr(&o));
        let stem = t.file_stem().unwrap().to_string_lossy().into_owned();
        for ext in &formats {
            let name = format!("{stem}.{ext}");
            let got = std::fs::read(out.join(&name)).unwrap();
            let golden = root().join("fixtures/golden").join(&name);
            if bless {
                std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                std::fs::write(&golden, &got).unwrap();
                continue;
            }
            let want = std::fs::read(&golden).unwrap_or_else(|_| {
                panic!(
                    "missing golden {}; run RKBENCH_BLESS=1 cargo test --test golden",
                    golden.display()
                )
            });
            assert!(got == want, "{name} differs from {}; if intended, rerun with RKBENCH_BLESS=1 and review the diff", golden.display());
        }
    }
}

#[test]
fn reports_are_identical_across_runs_and_working_directories() {
    for t in traces() {
        let a = run(
            &["report", "--format", "json", &t.display().to_string()],
            &[],
        );
        // Same trace through another path: the report must not depend on where the file lives.
        let dir = tempdir("golden-copy");
        let copy = dir.join(t.file_name().unwrap());
        std::fs::copy(&t, &copy).unwrap();
        let b = run(
            &["report", "--format", "json", &copy.display().to_string()],
            &[("TZ", "Asia/Tokyo"), ("LC_ALL", "de_DE.UTF-8")],
        );
        assert!(a.status.success() && b.status.success());
        assert_eq!(a.stdout, b.stdout, "{}", t.display());
    }
}

fn golden_formats() -> Vec<&'static str> {
    let help = stdout(&run(&["report", "--help"], &[]));
    let mut v = vec!["md", "json"];
    for f in ["html", "csv"] {
        if help.contains(f) {
            v.push(f);
        }
    }
    v
}
