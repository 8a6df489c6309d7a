//! `rkbench doctor` against the fake sysfs trees: a healthy board is ready (exit 0), a
//! misconfigured one is not (exit 8) and every problem comes with its fix.
mod common;
use common::*;

fn doctor(tree: &str, extra: &[&str]) -> std::process::Output {
    let root = root()
        .join("fixtures/sysfs")
        .join(tree)
        .display()
        .to_string();
    let lib = fake_lib("1.2.1").display().to_string();
    let model = model().display().to_string();
    let mut args = vec![
        "doctor",
        "--sysfs-root",
        &root,
        "--lib",
        &lib,
        "--model",
        &model,
    ];
    args.extend_from_slice(extra);
    run(&args, &[])
}

#[test]
fn healthy_board_is_ready() {
    let o = doctor("rk3588-healthy", &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("orangepi5max is ready"), "{s}");
    assert!(!s.contains("FAIL"), "{s}");
    assert!(
        s.contains("runtime        ") && s.contains("RKLLM ABI 1.2.1"),
        "{s}"
    );
}

#[test]
fn misconfigured_board_is_told_apart_with_a_fix_for_each_problem() {
    let o = doctor("rk3588-misconfigured", &["--format", "json"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j["ready"], false);
    let f = j["findings"].as_array().unwrap();
    let status = |c: &str| {
        f.iter()
            .find(|x| x["check"] == c)
            .unwrap_or_else(|| panic!("{c} in {j}"))
    };
    for c in [
        "cpu.policy0",
        "cpu.policy4",
        "cpu.policy6",
        "npu.freq",
        "dmc.freq",
        "thermal",
        "rknpu.driver",
    ] {
        let x = status(c);
        assert_eq!(x["status"], "fail", "{c}: {x}");
        assert!(!x["fix"].as_str().unwrap().is_empty(), "{c} has a fix");
    }
    // The fixes are the commands of Rockchip's fix_freq_rk3588.sh, with this board's maxima.
    assert!(status("npu.freq")["fix"]
        .as_str()
        .unwrap()
        .contains("echo userspace > /sys/class/devfreq/fdab0000.npu/governor && echo 1000000000 > /sys/class/devfreq/fdab0000.npu/userspace/set_freq"));
    assert!(status("cpu.policy4")["fix"]
        .as_str()
        .unwrap()
        .contains("echo 2352000 > /sys/devices/system/cpu/cpufreq/policy4/scaling_setspeed"));
    assert!(status("dmc.freq")["detail"]
        .as_str()
        .unwrap()
        .contains("528 MHz of 2112 MHz"));
    assert!(status("rknpu.driver")["detail"]
        .as_str()
        .unwrap()
        .contains("v0.8.2"));
    assert_eq!(status("runtime")["status"], "ok");
    // Text: a FAIL line and its fix for each problem, and the summary.
    let o = doctor("rk3588-misconfigured", &[]);
    assert_eq!(o.status.code(), Some(8));
    let s = stdout(&o);
    assert_eq!(
        s.matches("\nFAIL").count() + usize::from(s.starts_with("FAIL")),
        7,
        "{s}"
    );
    assert_eq!(s.matches(" fix: ").count(), 7, "{s}");
    assert!(s.contains("rock5b is not ready: 7 problem(s)"), "{s}");
    // The board without DMC DVFS.
    let o = doctor("rk3588-throttling", &["--format", "json"]);
    assert_eq!(o.status.code(), Some(8));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let dmc = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check"] == "dmc.dvfs")
        .unwrap()
        .clone();
    assert_eq!(dmc["status"], "fail");
}

#[test]
fn an_unidentifiable_runtime_or_missing_model_is_not_ready() {
    let root = root()
        .join("fixtures/sysfs/rk3588-healthy")
        .display()
        .to_string();
    let lib = fake_lib_with("1.2.1", &["no-banner"]).display().to_string();
    let doctor = |extra: &[&str]| {
        let mut args = vec!["doctor", "--sysfs-root", &root, "--lib", &lib];
        args.extend_from_slice(extra);
        run(&args, &[])
    };
    // Identified without the banner: ready.
    let o = doctor(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // A flag that contradicts the evidence: not ready, with the reason.
    let o = doctor(&["--runtime-abi", "1.3.0"]);
    assert_eq!(o.status.code(), Some(8));
    assert!(
        stdout(&o).contains("contradicts the evidence"),
        "{}",
        stdout(&o)
    );
    let o = doctor(&["--model", "/nonexistent.rkllm"]);
    assert_eq!(o.status.code(), Some(8));
    let o = run(&["doctor", "--sysfs-root", &root, "--format", "yaml"], &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_fifo_or_an_endless_file_in_the_sysfs_tree_is_not_read() {
    let tree = hostile_sysfs("doctor-hostile-sysfs");
    let lib = fake_lib("1.2.1").display().to_string();
    let mut child = std::process::Command::new(bin())
        .args(["doctor", "--format", "json", "--sysfs-root"])
        .arg(&tree)
        .args(["--lib", &lib, "--model"])
        .arg(model())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard: with the FIFO opened blocking, doctor never ends.
    wait_for(&mut child, std::time::Duration::from_secs(60));
    let o = child.wait_with_output().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let text = j.to_string();
    assert!(text.contains("not a regular file (a FIFO)"), "{text}");
    assert!(
        text.contains("not a regular file (a character device)"),
        "{text}"
    );
    assert!(text.contains("larger than 64 KiB"), "{text}");
}
