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

/// Every report format is pinned by a golden file.
fn golden_formats() -> Vec<&'static str> {
    vec!["md", "json", "html", "csv"]
}

#[test]
fn jobs_do_not_change_a_byte() {
    let traces: Vec<String> = traces().iter().map(|p| p.display().to_string()).collect();
    let (a, b) = (tempdir("jobs-1"), tempdir("jobs-3"));
    for (dir, jobs) in [(&a, "1"), (&b, "3")] {
        let mut args = vec![
            "report",
            "--format",
            "md,json,html,csv",
            "--jobs",
            jobs,
            "-o",
        ];
        let d = dir.display().to_string();
        args.push(&d);
        args.extend(traces.iter().map(String::as_str));
        let o = run(&args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), traces.len() * 4);
    for n in names {
        assert_eq!(
            std::fs::read(a.join(&n)).unwrap(),
            std::fs::read(b.join(&n)).unwrap(),
            "{n:?}"
        );
    }
}
