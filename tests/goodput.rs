//! `rkbench report --goodput`: vLLM's goodput over a committed trace, and a clear usage error
//! (exit 2) for every malformed SLO list.
mod common;
use common::*;

fn trace() -> String {
    root()
        .join("traces/qwen3-4b-sim-default.rktrace")
        .display()
        .to_string()
}

fn json(extra: &[&str]) -> serde_json::Value {
    let t = trace();
    let mut args = vec!["report", &t, "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(&args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn goodput_counts_requests_meeting_every_slo() {
    let j = json(&[]);
    assert!(j["throughput"]["goodput"].is_null(), "no SLOs, no goodput");
    let reqs = j["requests"].as_array().unwrap();
    // Count by hand from the per-request figures: TTFT ≤ 2000 ms splits the run; every request
    // decodes faster than 2.5 tok/s, so its TPOT = 1/decode rate is under 400 ms and the tpot
    // limit passes all of them.
    for r in reqs {
        assert!(r["decode_tok_s"].as_f64().unwrap() > 2.5);
    }
    let good = reqs
        .iter()
        .filter(|r| r["status"] == "ok" && r["ttft_ms"].as_f64().unwrap() <= 2000.0)
        .count();
    assert!(good > 0 && good < 10, "the limits split the run: {good}");
    let g = json(&["--goodput", "ttft:2000,tpot:400"]);
    let gp = &g["throughput"]["goodput"];
    assert_eq!(gp["good_requests"], good);
    assert_eq!(gp["slos_ms"]["ttft"], 2000.0);
    let dur = g["throughput"]["duration_s"].as_f64().unwrap();
    let per_s = gp["request_goodput"].as_f64().unwrap();
    assert!((per_s - good as f64 / dur).abs() < 1e-6);
    // Every request meets generous limits; the Markdown names the SLOs.
    let all = json(&["--goodput", "e2el:1e9"]);
    assert_eq!(all["throughput"]["goodput"]["good_requests"], 10);
    let t = trace();
    let md = stdout(&run(
        &["report", &t, "--goodput", "ttft:2000,tpot:400"],
        &[],
    ));
    assert!(md.contains(&format!(
        "successful requests meeting every SLO (ttft ≤ 2000 ms, tpot ≤ 400 ms) / duration: {good} of 10"
    )));
}

#[test]
fn malformed_goodput_is_a_usage_error() {
    let t = trace();
    for (bad, says) in [
        ("ttft", "is not KEY:MS"),
        ("itl:5", "unknown SLO key \"itl\""),
        ("ttft:fast", "not a number of milliseconds"),
        ("ttft:-5", "non-negative"),
        ("ttft:1,ttft:2", "given twice"),
    ] {
        let o = run(&["report", &t, "--goodput", bad], &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let e = stderr(&o);
        let line = e
            .lines()
            .find(|l| l.starts_with("rkbench: error:"))
            .unwrap();
        assert!(
            line.contains("--goodput") && line.contains(says),
            "{bad}: {line}"
        );
        assert!(!e.contains("panicked") && o.stdout.is_empty(), "{bad}");
    }
}

#[test]
fn slo_values_are_bounded() {
    // #21 G21: `ttft:1e308` printed a 309-digit number into the Markdown; `1e-300` a 300-digit
    // one. An SLO is 0 or 1 µs ..= 30 days, in milliseconds.
    let t = trace();
    for bad in [
        "ttft:1e308",
        "e2el:2592000001",
        "tpot:1e-300",
        "tpot:0.0004",
    ] {
        let o = run(&["report", &t, "--goodput", bad], &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{bad}: {e}");
        assert!(
            e.starts_with("rkbench: error: --goodput: ")
                && e.contains("0 or 0.001 ..= 2592000000 ms (30 days)"),
            "{bad}: {e}"
        );
        assert!(o.stdout.is_empty(), "{bad}");
    }
    let md = stdout(&run(
        &[
            "report",
            &t,
            "--goodput",
            "e2el:2592000000,ttft:0.001,tpot:0",
        ],
        &[],
    ));
    assert!(
        md.contains("(ttft ≤ 0.001 ms, tpot ≤ 0 ms, e2el ≤ 2592000000 ms)"),
        "{md}"
    );
}
