//! #12 Done-when: the original tool's own prompt-file shape, run with `--preset original` on the
//! simulated runtime, gives a Markdown report with every section of the original, and its
//! Average Speed is the original's definition (mean over successful requests of the runtime's
//! generate_tokens / generate_time).
mod common;
use common::*;

/// The original `benchmark_prompts.json` shape (new text), with the leniencies the original's
/// `dict.get` reading allowed: an unknown key, a test without an id, an integral float cap.
const PROMPTS: &str = r#"{
  "version": "1.0",
  "performance_tests": {
    "description": "Speed on short completions",
    "tests": [
      {"id": "completion_01", "name": "Technical Explanation", "prompt": "Explain briefly how a cache works."},
      {"id": "completion_02", "name": "Creative Writing", "prompt": "Begin a story about a lighthouse."},
      {"name": "Unnamed", "prompt": "Name three rivers."}
    ]
  },
  "quality_tests": {
    "description": "Quality",
    "tests": [
      {"id": "coding_01", "name": "Python Data Processing", "category": "coding", "prompt": "Write a function that counts words.", "max_tokens": 512.0, "expected": "code"}
    ]
  },
  "evaluation_criteria": {"performance_metrics": ["ttft", "tokens_per_second"]}
}"#;

#[test]
fn the_original_prompt_file_with_the_original_settings() {
    let dir = tempdir("original-prompts");
    let prompts = dir.join("benchmark_prompts.json");
    std::fs::write(&prompts, PROMPTS).unwrap();
    let out = dir.join("original.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &[
            "--preset",
            "original",
            "--suite",
            &prompts.display().to_string(),
        ],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning: suite file") && e.contains("\"version\""),
        "{e}"
    );
    assert!(
        e.contains("has no id; it is called \"performance_tests_3\""),
        "{e}"
    );

    let t = read_trace(&out);
    let ids: Vec<&str> = t.requests.iter().map(|r| r.test_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "completion_01",
            "completion_02",
            "performance_tests_3",
            "coding_01"
        ]
    );
    assert_eq!(t.header.params.timeout_ms, 300_000);
    assert_eq!(t.header.params.max_new_tokens, 4096);

    let md = run(&["report", &out.display().to_string()], &[]);
    assert!(md.status.success(), "{}", stderr(&md));
    let md = stdout(&md);
    for section in [
        "## 📊 Executive Summary",
        "## ⚙️ Configuration",
        "## 🎯 Performance Metrics",
        "## 🔢 Token Statistics",
        "Total Tokens Processed",
        "## 📝 Detailed Test Results",
        "Test 1/4",
        "Test 4/4",
        "## 💡 Observations",
        "## 🎯 Conclusion",
    ] {
        assert!(md.contains(section), "missing {section:?}:\n{md}");
    }
    // Average Speed, the original's way: the runtime's generate_tokens / generate_time_ms per
    // successful request, then the unweighted mean.
    let rates: Vec<f64> = t
        .requests
        .iter()
        .filter(|r| r.status == rkbench::trace::Status::Ok)
        .filter_map(|r| r.perf)
        .filter(|p| p.generate_time_ms > 0.0)
        .map(|p| f64::from(p.generate_tokens) / f64::from(p.generate_time_ms) * 1000.0)
        .collect();
    assert_eq!(rates.len(), 4);
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let line = format!("- **Average Speed:** {mean:.2} tok/s");
    assert!(md.contains(&line), "want {line:?} in:\n{md}");
}
