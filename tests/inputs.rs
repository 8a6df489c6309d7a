//! Hostile inputs to `record` and `suite`, through the real binary: every one gets one clear
//! line and its documented exit code before anything is loaded or written (issue #16 F3, F4,
//! F7, F14, F15, F17, F18).
mod common;
use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;

fn error_line(o: &std::process::Output) -> String {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "{e}");
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("rkbench: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{e}");
    lines[0].to_string()
}

/// `record` with flags and a library that does not exist: a flag error must come first.
fn record_flags(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    record(
        &dir.join("no-such-lib.so"),
        &dir.join("t.rktrace"),
        extra,
        &[],
    )
}

#[test]
fn numeric_flags_are_refused_before_the_runtime_loads() {
    let dir = tempdir("inputs-flags");
    for (flags, says) in [
        (
            &["--max-new-tokens", "2147483648"][..],
            "--max-new-tokens: 2147483648 is out of range: use 1..=131072",
        ),
        (
            &["--max-new-tokens", "0"][..],
            "--max-new-tokens: 0 is out of range",
        ),
        (
            &["--top-p", "7"][..],
            "--top-p: 7 is out of range: use (0, 1]",
        ),
        (&["--top-p", "NaN"][..], "--top-p: NaN is out of range"),
        (
            &["--temperature", "inf"][..],
            "--temperature: inf is out of range",
        ),
        (&["--top-k", "-3"][..], "--top-k: -3 is out of range"),
        (
            &["--repeat-penalty", "-1"][..],
            "--repeat-penalty: -1 is out of range",
        ),
        (
            &["--threads", "200"][..],
            "--threads: 200 is out of range: use 1..=8",
        ),
        (&["--threads", "0"][..], "--threads: 0 is out of range"),
        (&["--cpus-mask", "0"][..], "--cpus-mask: 0 is out of range"),
        (
            &["--threads", "8", "--cpus-mask", "0xF0"][..],
            "--threads 8 is more than the 4 CPUs in --cpus-mask 0xF0",
        ),
        (&["--timeout", "0s"][..], "--timeout: 0s is out of range"),
        (&["--repeat", "0"][..], "--repeat: 0 is out of range"),
        (
            &["--repeat", "4294967295"][..],
            "--repeat: 4294967295 is out of range",
        ),
        (
            &["--max-duration", "0s"][..],
            "--max-duration: 0s is out of range",
        ),
    ] {
        let o = record_flags(&dir, flags);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
        let l = error_line(&o);
        assert!(l.contains(says), "{flags:?}: {l}");
        assert!(!dir.join("t.rktrace").exists());
    }
}

#[test]
fn sweep_values_follow_the_flag_rules_and_name_the_sweep() {
    let dir = tempdir("inputs-sweep");
    let out = dir.join("sw");
    let o = record(
        &dir.join("no-such-lib.so"),
        &out,
        &["--sweep", "top-p=0.9,7"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        error_line(&o).contains("--sweep top-p=7: --top-p: 7 is out of range"),
        "{}",
        stderr(&o)
    );
    let o = record(
        &dir.join("no-such-lib.so"),
        &out,
        &["--sweep", "threads=2,2.0"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        error_line(&o).contains("the value 2.0 is given twice"),
        "{}",
        stderr(&o)
    );
    let o = record(
        &dir.join("no-such-lib.so"),
        &out,
        &["--sweep", "threads=2,6"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        error_line(&o).contains("--sweep threads=6: --threads 6 is more than the 4 CPUs"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing is created for a refused sweep");
}

/// `n` distinct values `1..=n` for a `--sweep KEY=` flag.
fn sweep_values(key: &str, n: u32) -> String {
    let v: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!("{key}={}", v.join(","))
}

#[test]
fn a_huge_sweep_is_counted_and_refused_before_it_is_built() {
    // #21 G5: 4 axes × 100 values built all 10^8 combinations (19.5 GB in 60 s) before
    // checking any; a million combinations just started recording.
    let dir = tempdir("inputs-sweep-huge");
    let out = dir.join("sw");
    let temps: Vec<String> = (1..=100)
        .map(|i| format!("{}", f64::from(i) / 100.0))
        .collect();
    let temps = format!("temperature={}", temps.join(","));
    let (a, b, c) = (
        sweep_values("max-new-tokens", 100),
        sweep_values("top-k", 100),
        sweep_values("repeat-penalty", 1),
    );
    let o = record(
        &dir.join("no-such-lib.so"),
        &out,
        &[
            "--sweep",
            &a,
            "--sweep",
            &b,
            "--sweep",
            &temps,
            "--sweep",
            &c,
            "--sweep",
            "top-p=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        error_line(&o).contains(
            "--sweep: 100 × 100 × 100 × 1 × 10 = 10000000 combinations, more than the 1000 one sweep records"
        ),
        "{}",
        stderr(&o)
    );
    // One axis alone past the limit is refused before its values are checked one by one.
    let o = record(
        &dir.join("no-such-lib.so"),
        &out,
        &["--sweep", &sweep_values("max-new-tokens", 1001)],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        error_line(&o).contains("--sweep max-new-tokens: 1001 values, more than the 1000 combinations one sweep records"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing is created for a refused sweep");
}

#[test]
fn empty_sweep_values_and_a_repeated_sweep_key_are_refused() {
    // #21 G16: empty values were dropped silently, and a key given in two --sweep flags got
    // argh's "Error parsing option '--max-new-tokens'" from the first combination's recorder.
    let dir = tempdir("inputs-sweep-empty");
    let out = dir.join("sw");
    for bad in [
        "max-new-tokens=,1",
        "max-new-tokens=1,,2",
        "max-new-tokens=1,2,",
    ] {
        let o = record(&dir.join("no-such-lib.so"), &out, &["--sweep", bad], &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        let line = error_line(&o);
        assert!(
            line.contains(&format!("--sweep {bad}: an empty value")),
            "{bad}: {line}"
        );
    }
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &[
            "--suite",
            "quick",
            "--sweep",
            "max-new-tokens=1,2",
            "--sweep",
            "max-new-tokens=3",
        ],
        &[("FAKE_RKLLM_TIME_SCALE", "0.002")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let line = error_line(&o);
    assert!(
        line.contains("--sweep max-new-tokens is given in two --sweep flags; give all its values in one: --sweep max-new-tokens=1,2,3"),
        "{line}"
    );
    assert!(
        !stderr(&o).contains("Error parsing option"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing is created for a refused sweep");
}

#[test]
fn a_missing_sysfs_root_is_refused() {
    let dir = tempdir("inputs-sysfs");
    let o = record_flags(&dir, &["--sysfs-root", "/nonexistent/rkbench"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(error_line(&o).contains("--sysfs-root /nonexistent/rkbench: not a directory"));
}

#[test]
fn non_utf8_arguments_never_panic() {
    let dir = tempdir("inputs-utf8");
    // A trace path that is not UTF-8 is recorded at exactly those bytes.
    let out = dir.join(OsStr::from_bytes(b"run-\xff.rktrace"));
    let o = Command::new(bin())
        .args(["record", "-q", "--suite", "quick", "--lib"])
        .arg(fake_lib("1.2.1"))
        .arg("--model")
        .arg(model())
        .arg("--out")
        .arg(&out)
        .env("FAKE_RKLLM_TIME_SCALE", "0.002")
        .env("FAKE_RKLLM_OUTPUT_TOKENS", "3")
        .env_remove("RKLLM_LIB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.exists());
    let v = Command::new(bin())
        .arg("verify")
        .arg(&out)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", stderr(&v));
    // Elsewhere: one line, the bad-input code, never exit 1 or a panic.
    let bad = OsStr::from_bytes(b"s\xfe.json");
    for args in [
        vec![OsStr::new("suite"), OsStr::new("check"), bad],
        vec![
            OsStr::new("record"),
            OsStr::new("--model"),
            OsStr::new("m"),
            OsStr::new("--suite"),
            bad,
        ],
        vec![OsStr::new("record"), OsStr::new("--model"), bad],
    ] {
        let o = Command::new(bin()).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(error_line(&o).contains("not valid UTF-8"), "{}", stderr(&o));
    }
    let missing = PathBuf::from(OsStr::from_bytes(b"/nonexistent/\xff.rktrace"));
    let o = Command::new(bin())
        .arg("verify")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_ne!(o.status.code(), Some(1));
    assert_ne!(o.status.code(), Some(101));
}

#[test]
fn suite_check_refuses_nul_and_oversized_files() {
    let dir = tempdir("inputs-suite");
    let nul = dir.join("nul.json");
    std::fs::write(&nul, r#"{"tests": [{"id": "a", "prompt": "x\u0000y"}]}"#).unwrap();
    let o = run(&["suite", "check", &nul.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("NUL character"), "{}", stdout(&o));
    let o = run(
        &[
            "record",
            "--model",
            "m",
            "--suite",
            "/dev/zero",
            "--lib",
            "x",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        error_line(&o).contains("larger than 16 MiB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_sweep_index_cannot_point_outside_its_directory() {
    // #16 F21: `report DIR` read whatever path an index entry named.
    let dir = tempdir("inputs-sweep-index");
    let sweep = dir.join("sweep");
    std::fs::create_dir_all(&sweep).unwrap();
    std::fs::write(
        sweep.join("index.json"),
        r#"{"sweep_index_version": 1, "axes": ["threads"], "runs": [{"trace": "../elsewhere.rktrace", "params": {"threads": "2"}, "exit_code": 0}]}"#,
    )
    .unwrap();
    let o = run(&["report", &sweep.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        error_line(&o).contains("is not a file name inside the sweep directory"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        sweep.join("index.json"),
        r#"{"sweep_index_version": 9, "axes": [], "runs": []}"#,
    )
    .unwrap();
    let o = run(&["report", &sweep.display().to_string()], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        error_line(&o).contains("sweep index version 9"),
        "{}",
        stderr(&o)
    );
}

fn system_suite(dir: &std::path::Path) -> String {
    let f = dir.join("sys.json");
    std::fs::write(
        &f,
        r#"{"tests": [
            {"id": "terse", "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}]},
            {"id": "plain", "prompt": "Say hello.", "think": false}
        ]}"#,
    )
    .unwrap();
    f.display().to_string()
}

#[test]
fn a_suites_system_message_reaches_the_runtime_in_the_models_template() {
    // #11 item 8: it was documented and silently dropped.
    let dir = tempdir("inputs-system");
    let suite = system_suite(&dir);
    let out = dir.join("t.rktrace");
    let params = dir.join("p.txt");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", &suite],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "3"),
            ("FAKE_RKLLM_TRACE_PARAMS", &params.display().to_string()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let p = std::fs::read_to_string(&params).unwrap();
    // (The simulated runtime's parameter log escapes newlines.)
    assert!(
        p.contains("system_prompt=<|im_start|>system\\nYou are terse.<|im_end|>\\n\n"),
        "{p}"
    );
    // What was sent is in the trace: one template per change, from the request it applies to.
    let t = read_trace(&out);
    assert_eq!(t.templates.len(), 2, "{:?}", t.templates);
    assert_eq!(t.templates[0].index, 0);
    assert_eq!(
        t.templates[0].system,
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
    );
    assert!(t.templates[0]
        .origin
        .starts_with("qwen3 (detected from the model file name"));
    assert_eq!(t.templates[1].index, 1);
    assert_eq!(t.templates[1].system, "");
    // Qwen3 with thinking off: the empty think block its own template would add.
    assert!(t.templates[1].postfix.ends_with("<think>\n\n</think>\n\n"));
    // Reports say which template the model saw, in the run parameters every format shows.
    let j = json_report(&out);
    let param = |j: &serde_json::Value, name: &str| {
        j["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].as_str().unwrap_or_default().to_string())
    };
    let tpl = param(&j, "chat_template").unwrap();
    assert!(
        tpl.starts_with("qwen3 (detected from the model file name"),
        "{tpl}"
    );

    // A runtime without rkllm_set_chat_template refuses the suite before recording.
    let o = record(
        &fake_lib("1.1"),
        &dir.join("old.rktrace"),
        &["--suite", &suite],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        error_line(&o).contains("which RKLLM 1.1 does not have"),
        "{}",
        stderr(&o)
    );

    // A model whose family is not known from its name: refused, with what to do.
    let model = dir.join("model.rkllm");
    std::fs::copy(common::model(), &model).unwrap();
    let o = run(
        &[
            "record",
            "--model",
            &model.display().to_string(),
            "--suite",
            &suite,
            "--lib",
            &fake_lib("1.2.1").display().to_string(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        error_line(&o).contains("pass --template-family"),
        "{}",
        stderr(&o)
    );

    // `suite check` says where the system message goes.
    let o = run(&["suite", "check", &suite], &[]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("rkllm_set_chat_template"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn preset_original_reaches_the_runtime_and_the_trace() {
    let dir = tempdir("inputs-preset");
    let out = dir.join("t.rktrace");
    let params = dir.join("p.txt");
    let o = record(
        &fake_lib("1.2.1"),
        &out,
        &["--suite", "quick", "--preset", "original", "--top-k", "7"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "3"),
            ("FAKE_RKLLM_TRACE_PARAMS", &params.display().to_string()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let t = read_trace(&out);
    let p = &t.header.params;
    assert_eq!(
        (p.top_k, p.top_p, p.temperature, p.repeat_penalty),
        (7, 0.95, 0.6, 0.9)
    );
    assert_eq!((p.frequency_penalty, p.presence_penalty), (0.6, 0.1));
    assert_eq!((p.max_context_len, p.max_new_tokens), (16384, 4096));
    assert_eq!((p.enabled_cpus_mask, p.enabled_cpus_num), (0xF0, 4));
    assert_eq!(p.timeout_ms, 300_000);
    let preset = t.preset.expect("preset recorded");
    assert_eq!(preset.name, "original");
    assert_eq!(preset.overridden, ["top-k"]);
    let text = std::fs::read_to_string(&params).unwrap();
    assert!(text.contains("top_k=7"), "{text}");
    let j = json_report(&out);
    let preset = j["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "preset")
        .map(|p| p["value"].clone());
    assert_eq!(preset, Some("original (overridden: top-k)".into()));
}

#[test]
fn a_runtime_abi_flag_contradicting_the_library_is_refused_without_force() {
    // #16 F18: it was not even a warning. #13: it is refused with every piece of evidence, and
    // needs --force-abi to be used anyway.
    let dir = tempdir("inputs-abi-flag");
    let o = record(
        &fake_lib("1.2.1"),
        &dir.join("t.rktrace"),
        &["--suite", "quick", "--runtime-abi", "1.3.0"],
        &[
            ("FAKE_RKLLM_TIME_SCALE", "0.002"),
            ("FAKE_RKLLM_OUTPUT_TOKENS", "2"),
        ],
    );
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(o.status.code(), Some(4), "{e}");
    assert!(
        e.contains("--runtime-abi 1.3.0 contradicts the evidence")
            && e.contains("\"rkllm-runtime version: 1.2.1\"")
            && e.contains("--force-abi"),
        "{e}"
    );
}

#[test]
fn a_sweep_index_that_is_a_fifo_or_endless_is_refused_not_read() {
    // A FIFO planted as index.json blocked `report DIR` forever (its size said 0).
    let dir = tempdir("inputs-sweep-fifo");
    let idx = dir.join("index.json");
    let st = std::process::Command::new("mkfifo")
        .arg(&idx)
        .status()
        .unwrap();
    assert!(st.success());
    let o = run(&["report", dir.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        error_line(&o).contains("not a regular file"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(&idx).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &idx).unwrap();
    let o = run(&["report", dir.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(error_line(&o).contains("index.json"), "{}", stderr(&o));
}
