//! The original report reproduced: the original tool's prompt file, recorded with `--preset original`
//! on the simulated runtime (through real dlopen), gives a Markdown report with every section of the
//! original, in its order, and an Average Speed that is the mean over successful requests of the
//! runtime's generate_tokens / generate_time — the original's definition.
mod common;
use common::*;

#[test]
fn original_prompt_file_with_the_original_preset() {
    let dir = tempdir("original-report");
    let prompts = dir.join("benchmark_prompts.json");
    std::fs::write(
        &prompts,
        r#"{"performance_tests": {"description": "Performance benchmarks", "tests": [
              {"id": "completion_01", "name": "Technical Explanation", "prompt": "The impact of artificial intelligence on modern work is"},
              {"id": "completion_02", "name": "Creative Writing", "prompt": "Continue the story: the lighthouse keeper saw the fog roll in and"}]},
            "quality_tests": {"description": "Quality benchmarks", "tests": [
              {"id": "coding_01", "name": "Python Data Processing", "category": "coding", "prompt": "Write a Python function analyze_text_metrics(text: str) -> dict with type hints."}]},
            "evaluation_criteria": {"performance_metrics": ["ttft", "tokens_per_second"]}}"#,
    )
    .unwrap();
    let out = dir.join("original.rktrace");
    let sysfs = root().join("fixtures/sysfs/rk3588-healthy");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &[
            "--preset",
            "original",
            "--suite",
            &prompts.display().to_string(),
            "--sysfs-root",
            &sysfs.display().to_string(),
        ],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.005"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "12"),
            // The runtime's figures at board speed (what the original's report shows, to the
            // JSON's precision) while the run takes 1/200 of the time: the simulated runtime's
            // perf on its simulated clock, which rkbench flags (perf-matches-clock) and the
            // original section reproduces as the original would.
            ("FAKE_RKLLM_PERF_CLOCK", "simulated"),
        ],
    );
    assert!(o.status.success(), "record failed: {}", stderr(&o));
    let md = stdout(&run(&["report", &out.display().to_string()], &[]));

    // Every section and line of the original, in the original's order.
    assert_in_order(
        &md,
        &[
            "**Duration:** ",
            " minutes)",
            "## 📊 Executive Summary",
            "- **Model:** `Qwen3-4B-sim.rkllm`",
            "- **Hardware:** ",
            "Rockchip RK3588 NPU (",
            "- **Success Rate:** 3/3 (100%)",
            "- **Total Tokens Generated:** 36 tokens",
            "- **Average Speed:** ",
            "- **Memory Usage:** ~",
            "## ⚙️ Configuration",
            "\"top_k\": 20,",
            "\"top_p\": 0.95,",
            "\"temperature\": 0.6,",
            "\"repeat_penalty\": 0.9",
            "\"enabled_cpus_mask\": 240,",
            "\"num_threads\": 4",
            "## 🎯 Performance Metrics",
            "| Metric | Average | Median | Min | Max |",
            "| Generation Speed (tok/s) |",
            "| Time to First Token (ms) |",
            "| Input Processing (tok/s) |",
            "## 🔢 Token Statistics",
            "- **Total Input Tokens:** ",
            "- **Total Output Tokens:** 36",
            "- **Average Output per Request:** 12.0 tokens",
            "- **Total Tokens Processed:** ",
            "## 📝 Detailed Test Results",
            "### Test 1/3: Technical Explanation",
            "**ID:** `completion_01`",
            "| Status | ✅ Success |",
            "| Generation Speed | ",
            "| Time to First Token | ",
            "| Total Time | ",
            "| Memory Usage | ",
            "### Test 2/3: Creative Writing",
            "### Test 3/3: Python Data Processing",
            "## 💡 Observations",
            "### Performance Analysis",
            "- Average generation speed of ",
            "### Quality Assessment",
            "- ✅ 100% success rate across all tests (3/3).",
            "### Long-Form Generation",
            "- Longest output: ",
            "## 🎯 Conclusion",
            "1. Reliability: 3/3 requests completed (100%).",
            // rkbench's additions come after the original's sections.
            "## ⚖️ Verdict",
            "## 🔁 Peer Metrics",
            "## 📐 Metric Definitions",
        ],
    );

    // Average Speed = mean over successful requests of generate_tokens / generate_time.
    let j = json_report(&out);
    let rates = runtime_rates(j["requests"].as_array().unwrap());
    assert_eq!(rates.len(), 3);
    let mean = rates.iter().sum::<f64>() / 3.0;
    assert!(
        md.contains(&format!("- **Average Speed:** {mean:.2} tok/s")),
        "Average Speed should be {mean:.2}"
    );
    assert!((j["original"]["tokens_per_second"]["mean"].as_f64().unwrap() - mean).abs() < 1e-3);
    // The original's TTFT is the runtime's prefill time, not the wall clock.
    let prefill: Vec<f64> = j["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["runtime_perf"]["prefill_time_ms"].as_f64().unwrap())
        .collect();
    let ttft_mean = prefill.iter().sum::<f64>() / 3.0;
    assert!((j["original"]["ttft_ms"]["mean"].as_f64().unwrap() - ttft_mean).abs() < 1e-3);
    assert_eq!(j["original"]["hardware"]["soc"], "RK3588");
}
