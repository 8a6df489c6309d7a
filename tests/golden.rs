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

/// The committed samples show what they are there to show (so a blessed golden cannot be garbage).
#[test]
fn sample_traces_show_what_they_are_for() {
    let g =
        |name: &str| std::fs::read_to_string(root().join("fixtures/golden").join(name)).unwrap();
    let default: serde_json::Value = serde_json::from_str(&g("qwen3-4b-sim-default.json")).unwrap();
    assert_eq!(default["verdict"]["result"], "VALID");
    assert_eq!(default["summary"]["ok"], 10);
    let d = default["summary"]["decode_tok_s"]["mean"].as_f64().unwrap();
    assert!(
        (2.9..3.3).contains(&d),
        "Qwen3-4B calibration: ~3.1 tok/s, got {d}"
    );
    assert_eq!(default["warnings"].as_array().unwrap().len(), 0);
    let slow: serde_json::Value =
        serde_json::from_str(&g("qwen3-4b-sim-timeout-throttling.json")).unwrap();
    assert_eq!(slow["verdict"]["result"], "INVALID");
    let timeouts = slow["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "timeout")
        .count();
    assert!(timeouts >= 1, "deadline-stopped requests kept");
    assert!(slow["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "timeout")
        .all(|r| r["output_tokens"].as_u64().unwrap() > 0));
    let codes = common::warning_codes(&slow);
    assert!(
        codes.contains(&"cpu-governor") && codes.contains(&"dmc-missing") && codes.contains(&"hot"),
        "{codes:?}"
    );
    let think: serde_json::Value = serde_json::from_str(&g("qwen3-4b-sim-think.json")).unwrap();
    assert!(think["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !r["think"].is_null()));
    let html = g("qwen3-4b-sim-default.html");
    assert!(html.matches("class=\"chart\"").count() >= 4 && !html.contains("<script"));
    // The real llama-server: its running count on every chunk, no prompt cache, timings that
    // pass the unit checks (its prompt rate is over 10× its decode rate: prefill, not a unit
    // error), the client's TTFT split by its prompt_ms, the /slots wait.
    let ls: serde_json::Value = serde_json::from_str(&g("llama-server-tiny-quick.json")).unwrap();
    let s = &ls["server"];
    assert_eq!(s["kind"], "llama-server");
    assert_eq!(s["count_source"], "server-per-chunk");
    let mut fast_prefill = 0;
    for r in s["requests"].as_array().unwrap() {
        assert_eq!(r["mismatch"], 0, "{r}");
        assert!(r["idle_wait"].as_str().unwrap().starts_with("/slots idle"));
        assert_eq!(r["prefill_split"]["field"], "timings.prompt_ms");
        let timings = r["timings"].as_array().unwrap();
        assert!(timings.iter().all(|t| t["unit_error"].is_null()), "{r}");
        let raw = |f: &str| {
            timings.iter().find(|t| t["field"] == f).unwrap()["raw"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(raw("timings.cache_n"), 0.0);
        if raw("timings.prompt_per_second") > 10.0 * r["client_decode_tok_s"].as_f64().unwrap() {
            fast_prefill += 1;
        }
    }
    assert!(fast_prefill > 0, "a prompt rate over 10× the decode rate");
    // The server's prompt counts are the input tokens: a prefill rate per request, and the
    // vLLM total-token throughput.
    assert_eq!(ls["summary"]["prefill_tok_s"]["n"], 3);
    assert_eq!(ls["throughput"]["total_input_tokens"], 245);
    // Tokens the server counted on its usage chunk (held back at the cap) have no text: the
    // responses are the streamed text only, never an event's raw JSON.
    for name in [
        "llama-server-tiny-quick.json",
        "llama-cpp-python-tiny-quick.json",
    ] {
        let j: serde_json::Value = serde_json::from_str(&g(name)).unwrap();
        for r in j["requests"].as_array().unwrap() {
            assert!(
                !r["response"].as_str().unwrap().contains("\"choices\""),
                "{name}: {r}"
            );
        }
    }
}

/// Compare with the committed golden file, or rewrite it under `RKBENCH_BLESS`.
fn check_golden(rel: &str, got: &[u8]) {
    let golden = root().join("fixtures/golden").join(rel);
    if std::env::var_os("RKBENCH_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, got).unwrap();
        return;
    }
    let want = std::fs::read(&golden).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run RKBENCH_BLESS=1 cargo test --test golden",
            golden.display()
        )
    });
    assert!(
        got == want,
        "{rel} differs from {}; if intended, rerun with RKBENCH_BLESS=1 and review the diff",
        golden.display()
    );
}

/// The fleet table over `traces/` and the comparison of the committed traces (the bootstrap and
/// permutation test are seeded, so intervals and p-values are part of the golden bytes).
#[test]
fn fleet_and_compare_regenerate_their_golden_files() {
    let out = tempdir("golden-fleet");
    let dir = root().join("traces").display().to_string();
    let o = run(
        &[
            "report",
            &dir,
            "--format",
            "md,json,csv,html",
            "-o",
            &out.display().to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for ext in ["md", "json", "csv", "html"] {
        let name = format!("fleet.{ext}");
        check_golden(
            &format!("fleet/{name}"),
            &std::fs::read(out.join(&name)).unwrap(),
        );
    }
    let t: Vec<String> = traces().iter().map(|p| p.display().to_string()).collect();
    for format in ["md", "json"] {
        let mut args = vec!["compare"];
        args.extend(t.iter().map(String::as_str));
        args.extend(["--format", format]);
        let o = run(&args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        check_golden(&format!("compare/compare.{format}"), &o.stdout);
    }
}

/// A server trace's chunk CSV (`--per chunk`, its raw datum) has its own golden, and its
/// attributed tokens add up to the request CSV's output tokens; a runtime trace has no chunks
/// and is refused with exit 3.
#[test]
fn server_traces_regenerate_their_chunk_csv() {
    let bless = std::env::var_os("RKBENCH_BLESS").is_some();
    let mut server_traces = 0;
    for t in traces() {
        let path = t.display().to_string();
        let o = run(&["report", &path, "--format", "csv", "--per", "chunk"], &[]);
        let stem = t.file_stem().unwrap().to_string_lossy().into_owned();
        let golden = root()
            .join("fixtures/golden")
            .join(format!("{stem}.chunks.csv"));
        if o.status.code() == Some(3) {
            assert!(
                stderr(&o).contains("not through a server"),
                "{}",
                stderr(&o)
            );
            assert!(!golden.exists(), "{} has a chunk golden", t.display());
            continue;
        }
        assert!(o.status.success(), "{}: {}", t.display(), stderr(&o));
        server_traces += 1;
        if bless {
            std::fs::write(&golden, &o.stdout).unwrap();
        } else {
            let want = std::fs::read(&golden).expect("missing chunk golden; bless");
            assert!(
                o.stdout == want,
                "{} differs from its golden",
                golden.display()
            );
        }
        // Σ tokens per request (column 7) = output_tokens of the request CSV (column 7).
        let chunks = String::from_utf8(o.stdout).unwrap();
        let mut per_request = std::collections::BTreeMap::<String, u64>::new();
        for line in chunks
            .lines()
            .skip(1)
            .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        {
            let cols: Vec<&str> = line.split(',').collect();
            if let (Ok(_), Ok(n)) = (cols[2].parse::<u32>(), cols[7].parse::<u64>()) {
                *per_request.entry(cols[0].to_string()).or_default() += n;
            }
        }
        let req = run(&["report", &path, "--format", "csv"], &[]);
        let req = String::from_utf8(req.stdout).unwrap();
        let mut checked = 0;
        for line in req.lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            if let Some(&n) = per_request.get(cols[0]) {
                assert_eq!(cols[7], n.to_string(), "request {}", cols[0]);
                checked += 1;
            }
        }
        assert!(checked > 0);
    }
    assert!(server_traces >= 1, "expected a committed server trace");
}

/// Traces with power samples (`record --power`, in `fixtures/power/`, kept out of `traces/` so
/// the fleet and compare goldens of the traces without power stay as they are) regenerate their
/// reports, energy included, in `fixtures/golden/power/`.
#[test]
fn power_traces_regenerate_their_golden_reports_with_energy() {
    let dir = root().join("fixtures/power");
    let mut traces: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rktrace"))
        .collect();
    traces.sort();
    assert!(!traces.is_empty());
    let out = tempdir("golden-power");
    for t in &traces {
        let o = run(
            &[
                "report",
                &t.display().to_string(),
                "--format",
                &golden_formats().join(","),
                "-o",
                &out.display().to_string(),
            ],
            &[],
        );
        assert!(o.status.success(), "{}: {}", t.display(), stderr(&o));
        let stem = t.file_stem().unwrap().to_string_lossy().into_owned();
        for ext in golden_formats() {
            let name = format!("{stem}.{ext}");
            let got = std::fs::read(out.join(&name)).unwrap();
            if ext == "json" {
                let j: serde_json::Value = serde_json::from_slice(&got).unwrap();
                assert!(j["energy"]["run_j"].as_f64().is_some(), "{name}");
            }
            check_golden(&format!("power/{name}"), &got);
        }
    }
}

/// The Perfetto timeline of one runtime trace (tokens, telemetry counters) and one server trace
/// (chunks) is pinned byte for byte; `tests/perfetto.rs` checks every trace's structure.
#[test]
fn perfetto_timelines_regenerate_their_golden_files() {
    for stem in ["qwen3-0.6b-sim-context", "llama-server-tiny-quick"] {
        let t = root().join(format!("traces/{stem}.rktrace"));
        let o = run(
            &["report", "--format", "perfetto", &t.display().to_string()],
            &[],
        );
        assert!(o.status.success(), "{stem}: {}", stderr(&o));
        check_golden(&format!("perfetto/{stem}.perfetto.json"), &o.stdout);
    }
}
