//! `rkbench compare`: two recordings of the simulated runtime at different decode speeds.
mod common;
use common::*;

#[test]
fn compare_finds_the_faster_run_and_names_the_difference() {
    let dir = tempdir("compare");
    let (a, b) = (dir.join("base.rktrace"), dir.join("cand.rktrace"));
    let env = |ms: &'static str| {
        [
            ("FAKE_RKLLM_TIME_SCALE", "0.02"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "24"),
            ("FAKE_RKLLM_DECODE_MS", ms),
            ("FAKE_RKLLM_JITTER", "0"),
        ]
    };
    assert!(record(
        &fake_lib("1.2.1"),
        &a,
        &["--suite", "quick", "--repeat", "2"],
        &env("313")
    )
    .status
    .success());
    assert!(record(
        &fake_lib("1.2.1"),
        &b,
        &["--suite", "quick", "--repeat", "2", "--top-k", "5"],
        &env("200")
    )
    .status
    .success());
    let o = run(
        &[
            "compare",
            &a.display().to_string(),
            &b.display().to_string(),
            "--format",
            "json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cand = &j["candidates"][0];
    let decode = cand["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "decode")
        .unwrap();
    let r = decode["overall"]["ratio"].as_f64().unwrap();
    assert!(
        r > 1.3 && r < 1.75,
        "313 ms → 200 ms per token is ~1.56× faster, got {r}"
    );
    // 3 tests × 2 repeats, fully separated: 2 of the 6³ within-test relabellings → p = 0.009.
    let statement = decode["overall"]["statement"].as_str().unwrap();
    assert!(statement.starts_with("faster by "), "{statement}");
    assert_eq!(decode["overall"]["significant"], true);
    let diffs = cand["differences"].as_array().unwrap();
    let top_k = diffs
        .iter()
        .find(|d| d["setting"] == "top_k")
        .unwrap_or_else(|| panic!("top_k not listed: {diffs:?}"));
    assert_eq!(
        (&top_k["baseline"], &top_k["candidate"]),
        (&"1".into(), &"5".into())
    );
    let md = stdout(&run(
        &[
            "compare",
            &a.display().to_string(),
            &b.display().to_string(),
        ],
        &[],
    ));
    assert!(
        md.contains("## What differs") && md.contains("| Decode rate (tok/s) |"),
        "{md}"
    );
    let o = run(
        &["compare", &a.display().to_string(), "/nonexistent.rktrace"],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
}

/// Two runs that differ only in `--presence-penalty`: compare names that parameter (and nothing
/// else) and shows both runs' verdicts.
#[test]
fn compare_names_a_presence_penalty_difference_and_both_verdicts() {
    let dir = tempdir("compare-presence");
    let (a, b) = (dir.join("a.rktrace"), dir.join("b.rktrace"));
    let env = [
        ("FAKE_RKLLM_TIME_SCALE", "0.01"),
        ("FAKE_RKLLM_OUTPUT_TOKENS", "8"),
    ];
    for (out, extra) in [(&a, vec![]), (&b, vec!["--presence-penalty", "0.5"])] {
        let mut args = vec!["--suite", "quick"];
        args.extend(extra);
        let o = record(&fake_lib("1.2.1"), out, &args, &env);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (sa, sb) = (a.display().to_string(), b.display().to_string());
    let o = run(&["compare", &sa, &sb, "--format", "json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let diffs = &j["candidates"][0]["differences"];
    let names: Vec<&str> = diffs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["setting"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["presence_penalty"], "{diffs}");
    assert_eq!(diffs[0]["baseline"], "0.000");
    assert_eq!(diffs[0]["candidate"], "0.500");
    for (i, file) in ["a.rktrace", "b.rktrace"].iter().enumerate() {
        let run = &j["runs"][i];
        assert_eq!(run["file"], *file);
        let v = &run["verdict"];
        assert!(v == "VALID" || v == "INVALID", "{file}: {v}");
        assert!(run["reasons"].is_array());
    }
    let md = stdout(&run(&["compare", &sa, &sb], &[]));
    assert!(md.contains("| presence_penalty | 0.000 | 0.500 |"), "{md}");
    assert!(!md.contains("same recorded configuration"), "{md}");
    assert!(md.contains("## Verdicts"), "{md}");
    assert!(md.contains("- **Baseline** `a.rktrace`: "), "{md}");
    assert!(md.contains("- **Candidate** `b.rktrace`: "), "{md}");
}

#[test]
fn a_gate_threshold_without_its_unit_is_refused() {
    // #21 G15: `--fail-if-slower 0.05` was read as 0.05 %, a gate 100 times stricter than the
    // 5 % a fraction would mean. A bare number is now refused, naming the unit to write.
    let t = root().join("traces/qwen3-4b-sim-default.rktrace");
    let t = t.display().to_string();
    for bare in ["0.05", "5"] {
        let o = run(&["compare", &t, &t, "--fail-if-slower", bare], &[]);
        assert_eq!(o.status.code(), Some(2), "{bare}");
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.starts_with(&format!(
                "rkbench: error: --fail-if-slower: \"{bare}\" has no unit"
            )) && e.contains("e.g. 5%"),
            "{e}"
        );
        assert!(o.stdout.is_empty());
    }
    let o = run(&["compare", &t, &t, "--fail-if-slower", "5%"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
