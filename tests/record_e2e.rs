//! End to end: the real binary records through real `dlopen` of the simulated runtime, the trace
//! is replayed, and the figures match what the simulated runtime was configured to do.
mod common;
use common::*;

const SCALE: f64 = 0.01;

#[test]
fn default_suite_figures_match_the_simulated_runtime() {
    let dir = tempdir("e2e-default");
    let out = dir.join("run.rktrace");
    let lib = fake_lib("1.2.1");
    let o = record(
        &lib,
        &out,
        &["--suite", "default"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.01"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "40"),
            ("FAKE_RKLLM_JITTER", "0"),
        ],
    );
    assert!(o.status.success(), "record failed: {}", stderr(&o));
    let v = run(&["verify", &out.display().to_string()], &[]);
    assert!(v.status.success(), "{}", stdout(&v));
    assert!(stdout(&v).contains(": ok ("), "{}", stdout(&v));

    let j = json_report(&out);
    let reqs = j["requests"].as_array().unwrap();
    let ids: Vec<&str> = reqs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "completion_01",
            "completion_02",
            "completion_03",
            "completion_04",
            "completion_05",
            "creativity_01",
            "planning_01",
            "coding_01",
            "instruction_following_01",
            "consistency_01"
        ]
    );
    for r in reqs {
        let id = r["id"].as_str().unwrap();
        assert_eq!(r["status"], "ok", "{id}");
        // Token counts are exact: one callback = one token, as configured.
        assert_eq!(r["output_tokens"], 40, "{id}");
        assert_eq!(r["runtime_perf"]["generate_tokens"], 40, "{id}");
        // Input tokens come from the runtime: the simulated tokenizer is ceil(bytes / 4).
        let prompt_bytes = r["prompt"].as_str().unwrap().len() as i64;
        let input = r["input_tokens"].as_i64().unwrap();
        assert_eq!(input, (prompt_bytes + 3) / 4, "{id}");
        // TTFT ≈ (125 ms + 30 ms × input tokens) × scale, measured on our clock.
        let expect_ttft = (125.0 + 30.0 * input as f64) * SCALE;
        let ttft = r["ttft_ms"].as_f64().unwrap();
        assert!(
            ttft >= expect_ttft * 0.95 && ttft <= expect_ttft * 1.6 + 5.0,
            "{id}: TTFT {ttft} vs {expect_ttft}"
        );
        // Decode ≈ 1 / ((313 ms + slope) × scale).
        let decode = r["decode_tok_s"].as_f64().unwrap();
        let expect = 1000.0 / (313.0 * SCALE);
        assert!(
            decode <= expect * 1.15 && decode >= expect * 0.6,
            "{id}: decode {decode} vs {expect}"
        );
        // Our wall-clock TTFT and the runtime's own prefill figure agree.
        let rt_prefill = r["runtime_perf"]["prefill_time_ms"].as_f64().unwrap();
        assert!(
            (ttft - rt_prefill).abs() <= rt_prefill * 0.5 + 5.0,
            "{id}: {ttft} vs runtime {rt_prefill}"
        );
        assert!(!r["response"].as_str().unwrap().is_empty());
    }
    assert_eq!(j["summary"]["ok"], 10);
    assert_eq!(j["summary"]["output_tokens"], 400);
    assert_eq!(j["run"]["runtime"]["abi"], "1.2.1");
    assert_eq!(j["run"]["suite"]["name"], "default");
    assert_eq!(j["run"]["end"]["status"], "complete");

    // The Markdown report has every section of the original report, in its order, then ours.
    let md = run(&["report", &out.display().to_string()], &[]);
    let md = stdout(&md);
    assert_in_order(
        &md,
        &[
            "## 📊 Executive Summary",
            "- **Hardware:** ",
            "- **Success Rate:** 10/10 (100%)",
            "- **Total Tokens Generated:** 400 tokens",
            "- **Average Speed:** ",
            "- **Memory Usage:** ~",
            "## ⚙️ Configuration",
            "## 🎯 Performance Metrics",
            "| Generation Speed (tok/s) |",
            "## 🔢 Token Statistics",
            "- **Total Tokens Processed:** ",
            "## 📝 Detailed Test Results",
            "### Test 1/10: ",
            "### Test 10/10: ",
            "## 💡 Observations",
            "### Performance Analysis",
            "### Quality Assessment",
            "### Long-Form Generation",
            "## 🎯 Conclusion",
            "## ⚖️ Verdict",
            "## 🔁 Peer Metrics",
            "## 📐 Metric Definitions",
        ],
    );
    // Average Speed is the original's: the mean over successful requests of the runtime's
    // generate_tokens / generate_time.
    let rates = runtime_rates(reqs);
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    assert!(
        md.contains(&format!("- **Average Speed:** {mean:.2} tok/s")),
        "Average Speed is not {mean:.2}"
    );
}

#[test]
fn every_parameter_reaches_the_runtime_at_the_right_offset() {
    let dir = tempdir("e2e-params");
    for abi in ABIS {
        let out = dir.join(format!("{abi}.rktrace"));
        let params = dir.join(format!("{abi}.params"));
        let o = record(
            &fake_lib(abi),
            &out,
            &[
                "--suite",
                "quick",
                "--top-k",
                "7",
                "--top-p",
                "0.5",
                "--temperature",
                "0.25",
                "--repeat-penalty",
                "1.25",
                "--frequency-penalty",
                "0.5",
                "--presence-penalty",
                "0.75",
                "--max-context-len",
                "2048",
                "--cpus-mask",
                "0x30",
                "--threads",
                "2",
            ],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.001"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "8"),
                ("FAKE_RKLLM_TRACE_PARAMS", &params.display().to_string()),
            ],
        );
        assert!(o.status.success(), "{abi}: {}", stderr(&o));
        let text = std::fs::read_to_string(&params).unwrap();
        let has = |kv: &str| text.lines().any(|l| l == kv);
        for kv in [
            "top_k=7",
            "top_p=0.5",
            "temperature=0.25",
            "repeat_penalty=1.25",
            "frequency_penalty=0.5",
            "presence_penalty=0.75",
            "max_context_len=2048",
            "skip_special_token=1",
        ] {
            assert!(has(kv), "{abi}: {kv} not received:\n{text}");
        }
        if abi != "1.1" {
            assert!(
                has("enabled_cpus_mask=48") || has("enabled_cpus_mask=0x30"),
                "{abi}: mask:\n{text}"
            );
            assert!(has("enabled_cpus_num=2"), "{abi}: threads:\n{text}");
        }
        assert!(text.contains("prompt="), "{abi}: run block missing");
    }
}
