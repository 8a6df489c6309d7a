//! Board telemetry on the token clock: recorded against committed fake RK3588 sysfs trees, the
//! samples, provenance and warnings appear in the trace and the reports with the fake values;
//! on this machine (no RK3588) recording works and marks the sources absent.
mod common;
use common::*;

fn tree(name: &str) -> String {
    root()
        .join("fixtures/sysfs")
        .join(name)
        .display()
        .to_string()
}

const ENV: [(&str, &str); 2] = [
    ("FAKE_RKLLM_TIME_SCALE", "0.02"),
    ("FAKE_RKLLM_OUTPUT_TOKENS", "30"),
];

#[test]
fn healthy_board_samples_and_provenance() {
    let (out, t) = record_ok(
        "tele-healthy",
        &[
            "--suite",
            "quick",
            "--sysfs-root",
            &tree("rk3588-healthy"),
            "--sample-interval",
            "20ms",
        ],
        &ENV,
    );
    assert!(!t.telemetry.is_empty(), "telemetry batches in the trace");
    let keys: Vec<&str> = t.telemetry[0]
        .series
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    for k in [
        "npu.load.core0",
        "npu.freq",
        "dmc.freq",
        "cpu.policy4.freq",
        "thermal.npu-thermal",
        "proc.rss",
        "mem.available",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let npu = t.telemetry[0]
        .series
        .iter()
        .find(|s| s.key == "npu.freq")
        .unwrap();
    assert_eq!(npu.values[0], 1_000_000_000);
    let fact = |k: &str| fact_value(&t.header.board, k);
    assert_eq!(fact("board.model"), "Orange Pi 5 Max");
    assert_eq!(fact("cpu.policy4.governor"), "performance");
    assert_eq!(fact("dmc.governor"), "performance");
    assert!(
        fact("rknpu.driver").contains("0.9"),
        "{}",
        fact("rknpu.driver")
    );
    let j = json_report(&out);
    assert_eq!(
        j["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        j["warnings"]
    );
    let tele = &j["requests"][0]["telemetry"];
    assert!(!tele.is_null(), "per-request board state");
    let md = stdout(&run(&["report", &out.display().to_string()], &[]));
    assert!(md.contains("Board state"), "board state section");
}

#[test]
fn throttling_board_raises_the_warnings() {
    let (out, _) = record_ok(
        "tele-throttle",
        &[
            "--suite",
            "quick",
            "--sysfs-root",
            &tree("rk3588-throttling"),
            "--sample-interval",
            "40ms",
        ],
        &ENV,
    );
    let j = json_report(&out);
    let codes = common::warning_codes(&j);
    for c in ["cpu-governor", "dmc-missing", "hot"] {
        assert!(codes.contains(&c), "{c} not in {codes:?}");
    }
    for w in j["warnings"].as_array().unwrap() {
        assert!(
            !w["message"].as_str().unwrap().is_empty() && !w["fix"].as_str().unwrap().is_empty()
        );
    }
    let md = stdout(&run(&["report", &out.display().to_string()], &[]));
    assert!(
        md.contains("⚠️ Warnings") && md.contains("ondemand"),
        "warnings in the Markdown report"
    );
}

#[test]
fn this_machine_records_with_sources_marked_absent() {
    let dir = tempdir("tele-host");
    let out = dir.join("t.rktrace");
    let o = record(&fake_lib("1.2.1"), &out, &["--suite", "quick"], &ENV);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = read_trace(&out);
    let npu = fact_value(&t.header.board, "telemetry.npu.load");
    if !std::path::Path::new("/sys/kernel/debug/rknpu/load").exists() {
        assert!(
            npu.starts_with("unavailable ("),
            "absent sources are recorded once as unavailable"
        );
    }
    let o = record(
        &fake_lib("1.2.1"),
        &dir.join("n.rktrace"),
        &["--suite", "quick", "--no-telemetry"],
        &ENV,
    );
    assert!(o.status.success());
    let t = read_trace(&dir.join("n.rktrace"));
    assert!(t.telemetry.is_empty());
    assert!(t
        .header
        .board
        .iter()
        .any(|f| f.key == "telemetry" && f.value.contains("--no-telemetry")));
}

#[test]
fn info_prints_every_field() {
    let o = run(
        &[
            "info",
            "--lib",
            &fake_lib("1.2.1").display().to_string(),
            "--sysfs-root",
            &tree("rk3588-healthy"),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "runtime.abi              1.2.1",
        "runtime.sha256",
        "Orange Pi 5 Max",
        "rockchip,rk3588",
        "npu.max_hz",
        "1000000000",
        "dmc.governor",
        "performance",
        "mem.memtotal",
        "kernel",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    // On this machine without a board: every missing source says why, nothing fails.
    let o = run(&["info", "--lib", "/nonexistent/librkllmrt.so"], &[]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains("unavailable ("), "{s}");
}

#[test]
fn a_fifo_or_an_endless_file_in_the_sysfs_tree_is_not_read_while_recording() {
    let tree = hostile_sysfs("tele-hostile-sysfs");
    let out = tree.parent().unwrap().join("t.rktrace");
    let root = tree.display().to_string();
    let mut child = spawn_record(
        &out,
        &[
            "--suite",
            "quick",
            "--sysfs-root",
            &root,
            "--sample-interval",
            "20ms",
        ],
        &ENV,
        std::process::Stdio::piped(),
    );
    // A hang guard: with the FIFO opened blocking, the recorder never starts.
    let st = wait_for(&mut child, std::time::Duration::from_secs(120));
    assert!(st.success());
    let t = read_trace(&out);
    let fact = |k: &str| fact_value(&t.header.board, k);
    assert_eq!(
        fact("npu.cur_hz"),
        "unavailable (not a regular file (a FIFO): not read)"
    );
    assert_eq!(
        fact("mem.memavailable"),
        "unavailable (not a regular file (a character device): not read)"
    );
    let all: String = t
        .header
        .board
        .iter()
        .map(|f| format!("{} = {}\n", f.key, f.value))
        .collect();
    assert!(all.contains("not a regular file (a FIFO)"), "{all}");
    // Telemetry goes on with every other source.
    let keys: Vec<&str> = t.telemetry[0]
        .series
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    assert!(
        keys.contains(&"dmc.freq") && !keys.contains(&"npu.freq"),
        "{keys:?}\n{all}"
    );
}
