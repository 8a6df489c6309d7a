//! Every ABI generation, through real `dlopen` of the simulated runtime built for it: the default
//! suite records with the right figures, caps are enforced per ABI, thinking and chat templates
//! reach the runtime where it has them, and detection says what it found.
mod common;
use common::*;

#[test]
fn default_suite_through_every_abi() {
    let dir = tempdir("abi-default");
    for abi in ABIS {
        let out = dir.join(format!("{abi}.rktrace"));
        let o = record(
            &fake_lib(abi),
            &out,
            &["--suite", "default"],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.02"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "16"),
                ("FAKE_RKLLM_JITTER", "0"),
            ],
        );
        assert!(o.status.success(), "{abi}: {}", stderr(&o));
        let j = json_report(&out);
        assert_eq!(j["run"]["runtime"]["abi"], abi);
        assert!(j["run"]["runtime"]["evidence"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "rkllm-runtime version: {}",
                if abi == "1.1" { "1.1.4" } else { abi }
            )));
        let reqs = j["requests"].as_array().unwrap();
        assert_eq!(reqs.len(), 10, "{abi}");
        for r in reqs {
            assert_eq!(r["status"], "ok", "{abi}");
            assert_eq!(r["output_tokens"], 16, "{abi}");
            // Wall-clock figures: never faster than the simulated model (a timestamp bug shows
            // up as impossible speed). Slower is what a loaded machine does, so the upper side is
            // checked against the runtime's own clock instead (1.2.1+: perf measures the same
            // intervals on the runtime's thread), which holds under any load.
            let input = (r["prompt"].as_str().unwrap().len() as f64 / 4.0).ceil();
            let expect_ttft = (125.0 + 30.0 * input) * 0.02;
            let ttft = r["ttft_ms"].as_f64().unwrap();
            assert!(
                ttft >= expect_ttft * 0.95,
                "{abi}: TTFT {ttft} vs {expect_ttft}"
            );
            let decode = r["decode_tok_s"].as_f64().unwrap();
            let expect = 1000.0 / (313.0 * 0.02);
            assert!(
                decode <= expect * 1.15,
                "{abi}: decode {decode} vs {expect}"
            );
            if let Some(p) = r["runtime_perf"].as_object() {
                // perf times are on the runtime's own clock: the real ms the run took.
                let prefill = p["prefill_time_ms"].as_f64().unwrap();
                assert!(
                    ttft >= prefill * 0.98 && ttft <= prefill + 20.0,
                    "{abi}: TTFT {ttft} vs the runtime's prefill {prefill}"
                );
                let gen_ms = p["generate_time_ms"].as_f64().unwrap();
                let runtime_decode = 15.0 / (gen_ms / 1e3);
                assert!(
                    (decode / runtime_decode - 1.0).abs() < 0.1,
                    "{abi}: decode {decode} vs the runtime's own {runtime_decode}"
                );
            }
            // The runtime's perf stats exist from 1.2.1 only.
            assert_eq!(r["runtime_perf"].is_null(), abi < "1.2.1", "{abi}");
        }
    }
}

#[test]
fn per_request_caps_are_enforced_on_every_abi() {
    let dir = tempdir("abi-caps");
    for abi in ABIS {
        let out = dir.join(format!("{abi}.rktrace"));
        // quick: caps 32, 48, 64; the runtime would generate 100.
        let o = record(
            &fake_lib(abi),
            &out,
            &["--suite", "quick"],
            &[
                ("FAKE_RKLLM_TIME_SCALE", "0.005"),
                ("FAKE_RKLLM_OUTPUT_TOKENS", "100"),
            ],
        );
        assert!(o.status.success(), "{abi}: {}", stderr(&o));
        let j = json_report(&out);
        assert_eq!(
            j["run"]["params"]["max_new_tokens"], 64,
            "{abi}: init cap = the largest"
        );
        let reqs = j["requests"].as_array().unwrap();
        for (r, cap) in reqs.iter().zip([32u64, 48, 64]) {
            let n = r["output_tokens"].as_u64().unwrap();
            let by = r["cap_enforced_by"].as_str().unwrap();
            if cap == 64 {
                assert_eq!((n, by), (64, "runtime (init)"), "{abi}");
            } else if abi == "1.3.0" {
                assert_eq!((n, by), (cap, "runtime (per run)"), "{abi}");
            } else if abi == "1.2.1" {
                assert_eq!(
                    (n, by),
                    (cap, "rkbench"),
                    "{abi}: the callback asks to stop at the cap"
                );
            } else {
                // ≤ 1.2.0: the callback cannot stop generation, so rkbench calls rkllm_abort.
                assert_eq!(by, "rkbench", "{abi}");
                assert!(n >= cap && n <= cap + 3, "{abi}: {n} tokens for cap {cap}");
            }
            assert!(r["hit_cap"].as_bool().unwrap(), "{abi}");
        }
    }
}

#[test]
fn thinking_reaches_runtimes_that_have_it() {
    let dir = tempdir("abi-think");
    let out = dir.join("t.rktrace");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--think", "--max-new-tokens", "60"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "40"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json_report(&out);
    for r in j["requests"].as_array().unwrap() {
        assert!(
            r["response"].as_str().unwrap().starts_with("<think>"),
            "{}",
            r["response"]
        );
        let t = &r["think"];
        assert!(t["think_tokens"].as_u64().unwrap() > 2);
        assert_eq!(
            t["think_tokens"].as_u64().unwrap() + t["answer_tokens"].as_u64().unwrap(),
            40
        );
    }
    assert_eq!(j["run"]["params"]["think"], true);
    // 1.1 has no enable_thinking: a clear warning, and the trace records thinking as off.
    let out = dir.join("old.rktrace");
    let o = run(
        &[
            "record",
            "--suite",
            "quick",
            "--think",
            "--lib",
            &fake_lib("1.1").display().to_string(),
            "--model",
            &model().display().to_string(),
            "--out",
            &out.display().to_string(),
        ],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "5"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("RKLLM 1.1 has no enable_thinking"),
        "{}",
        stderr(&o)
    );
    assert_eq!(json_report(&out)["run"]["params"]["think"], false);
}

#[test]
fn chat_template_is_set_where_the_runtime_has_it() {
    let dir = tempdir("abi-chat");
    let out = dir.join("t.rktrace");
    let params = dir.join("p.txt");
    let tpl = r#"["You are terse.", "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"]"#;
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--chat-template", tpl],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "4"),
            ("FAKE_RKLLM_TRACE_PARAMS", &params.display().to_string()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let p = std::fs::read_to_string(&params).unwrap();
    assert!(p.contains("system_prompt=You are terse."), "{p}");
    assert_eq!(
        json_report(&out)["run"]["board"]["chat_template.system"],
        "You are terse."
    );
    let o = record(
        &fake_lib("1.1"),
        &dir.join("old.rktrace"),
        &["--suite", "quick", "--chat-template", tpl],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("needs rkllm_set_chat_template, which RKLLM 1.1 does not have"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn identification_without_a_version_banner() {
    let dir = tempdir("abi-nobanner");
    let env = [
        ("FAKE_RKLLM_TIME_SCALE", "0.002"),
        ("FAKE_RKLLM_OUTPUT_TOKENS", "4"),
    ];
    // 1.2.1 and 1.3.0 export the same symbols; without the version text the size
    // rkllm_createDefaultParam writes tells them apart, with no flag.
    for (abi, size) in [("1.2.1", 208), ("1.3.0", 184), ("1.2.0", 208), ("1.1", 200)] {
        let lib = fake_lib_with(abi, &["no-banner"]);
        let out = dir.join(format!("{abi}.rktrace"));
        let o = record(&lib, &out, &["--suite", "quick"], &env);
        assert!(o.status.success(), "{abi}: {}", stderr(&o));
        let j = json_report(&out);
        assert_eq!(j["run"]["runtime"]["abi"], abi);
        assert_eq!(j["run"]["runtime"]["version"], "");
        for r in j["requests"].as_array().unwrap() {
            assert_eq!(
                (r["status"].as_str(), r["output_tokens"].as_u64()),
                (Some("ok"), Some(4)),
                "{abi}"
            );
        }
        // The trace keeps every piece of evidence and the conclusion.
        let t = read_trace(&out);
        let id = t.runtime.identity.expect("identity record");
        assert_eq!(id.abi, abi);
        assert_eq!(id.param_size, size, "{abi}");
        assert!(!id.forced);
        let sources: Vec<&str> = id.evidence.iter().map(|e| e.source.as_str()).collect();
        assert_eq!(sources, ["file", "param-size", "symbols", "banner"]);
        assert_eq!(id.evidence[3].verdict, "inconclusive");
        assert!(id.conclusion.contains("param-size"), "{}", id.conclusion);
        // The file identity is git's blob id of the library.
        let git = std::process::Command::new("git")
            .arg("hash-object")
            .arg(&lib)
            .output()
            .unwrap();
        assert_eq!(id.git_blob, String::from_utf8_lossy(&git.stdout).trim());
    }
    // info prints each piece and the conclusion.
    let lib = fake_lib_with("1.3.0", &["no-banner"]);
    let o = run(&["info", "--lib", &lib.display().to_string()], &[]);
    let s = stdout(&o);
    for key in [
        "runtime.git_blob",
        "runtime.evidence.file",
        "runtime.evidence.param-size rkllm_createDefaultParam wrote 184 bytes",
        "runtime.evidence.symbols",
        "runtime.evidence.banner",
        "runtime.abi              1.3.0",
        "runtime.conclusion       ABI 1.3.0 from param-size + symbols",
    ] {
        assert!(s.contains(key), "{key} in {s}");
    }
}

#[test]
fn a_flag_that_contradicts_the_evidence_needs_force() {
    let dir = tempdir("abi-force");
    let env = [
        ("FAKE_RKLLM_TIME_SCALE", "0.002"),
        ("FAKE_RKLLM_OUTPUT_TOKENS", "4"),
    ];
    // The library says 1.2.1 (text and layout); --runtime-abi 1.3.0 is refused with the evidence.
    let lib = fake_lib("1.2.1");
    let o = record(
        &lib,
        &dir.join("a.rktrace"),
        &["--suite", "quick", "--runtime-abi", "1.3.0"],
        &env,
    );
    assert_eq!(o.status.code(), Some(4));
    let e = stderr(&o);
    assert!(
        e.contains("--runtime-abi 1.3.0 contradicts the evidence")
            && e.contains("wrote 208 bytes")
            && e.contains("rkllm-runtime version: 1.2.1")
            && e.contains("--force-abi"),
        "{e}"
    );
    assert!(!dir.join("a.rktrace").exists());
    // Agreeing with the evidence needs nothing more.
    let out = dir.join("b.rktrace");
    let o = record(
        &lib,
        &out,
        &["--suite", "quick", "--runtime-abi", "1.2.1"],
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json_report(&out)["run"]["runtime"]["evidence"]
        .as_str()
        .unwrap()
        .starts_with("--runtime-abi 1.2.1 (agrees with the evidence)"));
    // --force-abi alone is a usage error.
    let o = record(
        &lib,
        &dir.join("c.rktrace"),
        &["--suite", "quick", "--force-abi"],
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Forced: info shows the evidence it overrides (a forced record would run the library with
    // the wrong layouts, which is what the flag is for and what a test cannot do safely).
    let o = run(
        &[
            "info",
            "--lib",
            &lib.display().to_string(),
            "--runtime-abi",
            "1.3.0",
            "--force-abi",
        ],
        &[],
    );
    let s = stdout(&o);
    assert!(
        s.contains("runtime.abi              1.3.0")
            && s.contains(
                "--runtime-abi 1.3.0 --force-abi, against the evidence (it allows 1.2.1)"
            ),
        "{s}"
    );
}

#[test]
fn independent_c_runtime_for_every_abi() {
    let dir = tempdir("abi-c");
    for abi in ABIS {
        let out = dir.join(format!("{abi}.rktrace"));
        let params = dir.join(format!("{abi}.params"));
        let o = record(
            &c_lib(abi),
            &out,
            &["--suite", "quick", "--top-k", "9", "--temperature", "0.5"],
            &[
                ("C_RKLLM_TOKENS", "10"),
                ("C_RKLLM_TRACE_PARAMS", &params.display().to_string()),
            ],
        );
        assert!(o.status.success(), "{abi}: {}", stderr(&o));
        let j = json_report(&out);
        for r in j["requests"].as_array().unwrap() {
            assert_eq!(r["output_tokens"], 10, "{abi}");
            assert_eq!(r["status"], "ok", "{abi}");
        }
        let p = std::fs::read_to_string(&params).unwrap();
        assert!(
            p.lines().any(|l| l == "top_k=9") && p.lines().any(|l| l == "temperature=0.5"),
            "{abi}: {p}"
        );
    }
}
