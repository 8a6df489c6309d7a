//! Shared helpers for integration tests: build the simulated runtimes once per ABI, run the real
//! `rkbench` binary, read traces back.
#![allow(dead_code)]
pub mod chromium;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const ABIS: [&str; 4] = ["1.1", "1.2.0", "1.2.1", "1.3.0"];

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rkbench"))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn model() -> PathBuf {
    root().join("fixtures/models/Qwen3-4B-sim.rkllm")
}

fn tmp_base() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// A fresh, empty directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let d = tmp_base()
        .join("t")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn feature(abi: &str) -> &'static str {
    match abi {
        "1.1" => "abi-1-1",
        "1.2.0" => "abi-1-2-0",
        "1.2.1" => "abi-1-2-1",
        "1.3.0" => "abi-1-3-0",
        other => panic!("unknown abi {other}"),
    }
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The simulated runtime (`fixtures/fake-rkllmrt`) built for `abi` (extra features optional).
pub fn fake_lib(abi: &str) -> PathBuf {
    fake_lib_with(abi, &[])
}

pub fn fake_lib_with(abi: &str, extra: &[&str]) -> PathBuf {
    let _g = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut feats = vec![feature(abi)];
    feats.extend_from_slice(extra);
    let tag = feats.join("+");
    let target = tmp_base().join("fake").join(&tag);
    let lib = target.join("debug/librkllmrt.so");
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    if built.lock().unwrap().contains(&tag) && lib.exists() {
        return lib;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(root())
        .args([
            "build",
            "-q",
            "-p",
            "fake-rkllmrt",
            "--no-default-features",
            "--features",
        ])
        .arg(feats.join(","))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(st.success(), "building fake-rkllmrt {tag} failed");
    built.lock().unwrap().push(tag);
    lib
}

/// The independent C implementation (`fixtures/c-rkllmrt`) built for `abi`.
pub fn c_lib(abi: &str) -> PathBuf {
    let _g = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let code = match abi {
        "1.1" => "114",
        "1.2.0" => "120",
        "1.2.1" => "121",
        "1.3.0" => "130",
        other => panic!("unknown abi {other}"),
    };
    let out = tmp_base().join("c-rkllmrt").join(code);
    let lib = out.join("librkllmrt.so");
    if !lib.exists() {
        let st = Command::new("sh")
            .arg(root().join("fixtures/c-rkllmrt/build.sh"))
            .arg(code)
            .arg(&out)
            .status()
            .expect("run build.sh");
        assert!(st.success(), "building c-rkllmrt {code} failed");
    }
    lib
}

/// Run rkbench with args and extra env; returns the output.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.env_remove("RKLLM_LIB");
    c.output().expect("run rkbench")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `rkbench record --lib LIB --model SIM --out OUT EXTRA…` with `env`, to spawn or run: its
/// progress goes to stderr unless `extra` has `-q`.
pub fn record_command(lib: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(bin());
    c.arg("record")
        .arg("--lib")
        .arg(lib)
        .arg("--model")
        .arg(model())
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove("RKLLM_LIB");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// `rkbench record` against `lib` with the simulated model, quiet, into `out`.
pub fn record(lib: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["-q"];
    args.extend_from_slice(extra);
    record_command(lib, out, &args, env)
        .output()
        .expect("run rkbench")
}

/// [`record_command`], quiet, on the simulated runtime (ABI 1.2.1), spawned with stdout
/// discarded and stderr as given.
pub fn spawn_record(
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
    stderr: std::process::Stdio,
) -> std::process::Child {
    let mut args = vec!["-q"];
    args.extend_from_slice(extra);
    record_command(&fake_lib("1.2.1"), out, &args, env)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Wait for `child`; a hang guard (not a performance assertion): kill it and fail after `limit`.
pub fn wait_for(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("rkbench did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `kill -s SIG PID`, which must succeed.
pub fn kill(sig: &str, pid: u32) {
    let st = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// [`record`] on the simulated runtime (ABI 1.2.1) into a fresh `t.rktrace` in
/// `tempdir(name)`; the run must succeed. The trace's path and the trace.
pub fn record_ok(
    name: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (PathBuf, rkbench::trace::Trace) {
    let out = tempdir(name).join("t.rktrace");
    let o = record(&fake_lib("1.2.1"), &out, extra, env);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = read_trace(&out);
    (out, t)
}

/// `rkbench record --server URL --model tiny --suite SUITE --no-telemetry` then `extra`: a
/// recording against one of the tests' fake servers (their model is "tiny"; telemetry would
/// only slow them down).
pub fn server_args<'a>(url: &'a str, suite: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "record",
        "--server",
        url,
        "--model",
        "tiny",
        "--suite",
        suite,
        "--no-telemetry",
    ];
    args.extend_from_slice(extra);
    args
}

/// [`server_args`], quiet (`-q`), to spawn.
pub fn server_command(url: &str, suite: &str, extra: &[&str]) -> Command {
    let mut args = server_args(url, suite, extra);
    args.insert(1, "-q");
    let mut c = Command::new(bin());
    c.args(args).env_remove("RKLLM_LIB");
    c
}

/// [`server_command`] run to its end; its output.
pub fn server_record(url: &str, suite: &str, extra: &[&str]) -> Output {
    server_command(url, suite, extra)
        .output()
        .expect("run rkbench")
}

/// Every one of `parts` is in `text`, in this order.
pub fn assert_in_order(text: &str, parts: &[&str]) {
    let mut at = 0;
    for s in parts {
        let i = text[at..]
            .find(s)
            .unwrap_or_else(|| panic!("missing or out of order: {s:?}\n{text}"));
        at += i + s.len();
    }
}

/// The original tool's per-request speed (its Average Speed averages these): the runtime's
/// generate_tokens / generate_time in tok/s, for each successful request of a JSON report.
pub fn runtime_rates(requests: &[serde_json::Value]) -> Vec<f64> {
    requests
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| {
            let p = &r["runtime_perf"];
            p["generate_tokens"].as_f64().unwrap() / p["generate_time_ms"].as_f64().unwrap()
                * 1000.0
        })
        .collect()
}

/// A fuzz seed's bytes (`fuzz/seeds/<name>`).
pub fn fuzz_seed(name: &str) -> Vec<u8> {
    std::fs::read(root().join("fuzz/seeds").join(name)).unwrap()
}

/// Where a seed's journal starts, as the fuzz target splits it: at the second trace magic; none
/// for a seed without a journal.
pub fn journal_start(seed: &[u8]) -> Option<usize> {
    seed.windows(8)
        .skip(1)
        .position(|w| w == rkbench::trace::MAGIC)
        .map(|i| i + 1)
}

/// The value of the fact `key` (a board fact, a server's evidence), empty when it is absent.
pub fn fact_value(facts: &[rkbench::trace::Fact], key: &str) -> String {
    facts
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.value.clone())
        .unwrap_or_default()
}

/// A suite file, `dir/s.json`, holding `json`.
pub fn suite_file(dir: &Path, json: &str) -> PathBuf {
    let p = dir.join("s.json");
    std::fs::write(&p, json).unwrap();
    p
}

pub fn read_trace(p: &Path) -> rkbench::trace::Trace {
    rkbench::trace::reader::read(p).expect("trace readable")
}

pub fn json_report(p: &Path) -> serde_json::Value {
    let o = run(
        &["report", "--format", "json", &p.display().to_string()],
        &[],
    );
    assert!(o.status.success(), "report failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("valid json")
}

/// The codes of a JSON report's warnings, in report order.
pub fn warning_codes(report: &serde_json::Value) -> Vec<&str> {
    report["warnings"]
        .as_array()
        .expect("a warnings array")
        .iter()
        .map(|w| w["code"].as_str().expect("a warning code"))
        .collect()
}

/// A copy of the healthy RK3588 sysfs tree in `tempdir(name)` with three files an attacker
/// planted: the NPU's `cur_freq` is a FIFO (opening it would block, reading it too),
/// `/proc/meminfo` a symlink to `/dev/zero` (endless), and thermal zone 0's `temp` a 1 MiB file.
pub fn hostile_sysfs(name: &str) -> PathBuf {
    let dir = tempdir(name).join("root");
    let st = Command::new("cp")
        .arg("-r")
        .arg(root().join("fixtures/sysfs/rk3588-healthy"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let fifo = dir.join("sys/class/devfreq/fdab0000.npu/cur_freq");
    std::fs::remove_file(&fifo).unwrap();
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let meminfo = dir.join("proc/meminfo");
    std::fs::remove_file(&meminfo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &meminfo).unwrap();
    std::fs::write(
        dir.join("sys/class/thermal/thermal_zone0/temp"),
        vec![b'4'; 1 << 20],
    )
    .unwrap();
    dir
}
