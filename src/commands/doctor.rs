//! `rkbench doctor`: the checklist a careful owner runs before a long benchmark, read-only.
//! Board state costs these boards more than anything else (field notes: governors, DMC without
//! DVFS, heat, an old rknpu driver), so each finding says what it means and how to fix it, with
//! the commands Rockchip's `fix_freq_rk3588.sh` uses (userspace governor + the maximum frequency)
//! spelled out for this board's own maxima.
use crate::board::{self, SysRoot};
use crate::cli::DoctorArgs;
use crate::error::{exit, Error, Result};
use std::path::Path;

/// How a finding affects readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Ok,
    /// Worth knowing; does not block a benchmark.
    Warn,
    /// Figures taken now would not be representative (or recording would fail).
    Fail,
    /// Not applicable (no such device, nothing given to check).
    Skip,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
            Level::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub check: String,
    pub level: Level,
    pub detail: String,
    /// What to do (empty when nothing is needed).
    pub fix: String,
}

fn finding(check: &str, level: Level, detail: String, fix: String) -> Finding {
    Finding {
        check: check.to_string(),
        level,
        detail,
        fix,
    }
}

/// A temperature at which the board is too hot to start a long run (m°C); RK3588 trips start at
/// 85 °C, and the reports warn from 80 °C.
pub(crate) const HOT_MC: i64 = 80_000;
/// Warm: little headroom before throttling under a sustained load.
pub(crate) const WARM_MC: i64 = 70_000;
/// The rknpu driver RKLLM 1.1+ needs.
pub(crate) const MIN_RKNPU: (u32, u32, u32) = (0, 9, 8);

fn num(root: &SysRoot, path: &str) -> Option<i64> {
    num_or_why(root, path).ok()
}

/// The number a file starts with, or why there is none (`cur_freq: not a regular file …`).
fn num_or_why(root: &SysRoot, path: &str) -> Result<i64, String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let text = root.read(path).map_err(|e| format!("{name}: {e}"))?;
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{name}: not a number"))
}

/// ` (why)` after "unreadable" when the current value could not be read.
fn why_unreadable(cur: &Result<i64, String>) -> String {
    match cur {
        Err(e) => format!(" ({e})"),
        Ok(_) => String::new(),
    }
}

/// The highest frequency a device offers: the largest of its available frequencies and max.
fn highest(root: &SysRoot, dir: &str, available: &str, max: &[&str]) -> Option<i64> {
    let avail = root
        .read(&format!("{dir}/{available}"))
        .ok()
        .and_then(|s| s.split_whitespace().filter_map(|v| v.parse().ok()).max());
    max.iter()
        .filter_map(|m| num(root, &format!("{dir}/{m}")))
        .chain(avail)
        .max()
}

fn mhz(hz: i64) -> String {
    format!("{} MHz", hz / 1_000_000)
}

/// CPU policies: governor and current clock against the maximum.
fn cpu(root: &SysRoot) -> Vec<Finding> {
    let policies = root.list("/sys/devices/system/cpu/cpufreq", "policy");
    if policies.is_empty() {
        return vec![finding(
            "cpu",
            Level::Skip,
            "no cpufreq policies under /sys/devices/system/cpu/cpufreq".into(),
            String::new(),
        )];
    }
    policies
        .iter()
        .map(|p| {
            let dir = format!("/sys/devices/system/cpu/cpufreq/{p}");
            let gov = root
                .read(&format!("{dir}/scaling_governor"))
                .unwrap_or_else(|e| format!("unreadable ({e})"));
            let cur_read = num_or_why(root, &format!("{dir}/scaling_cur_freq"));
            let cur = cur_read.clone().ok();
            let max = highest(
                root,
                &dir,
                "scaling_available_frequencies",
                &["scaling_max_freq", "cpuinfo_max_freq"],
            );
            let cpus = root.read(&format!("{dir}/related_cpus")).unwrap_or_default();
            let (Some(cur), Some(max)) = (cur, max) else {
                return finding(
                    &format!("cpu.{p}"),
                    Level::Warn,
                    format!(
                        "governor {gov}; current or maximum frequency unreadable{}",
                        why_unreadable(&cur_read)
                    ),
                    String::new(),
                );
            };
            let pinned = gov == "performance" || gov == "userspace";
            let at_max = cur * 100 >= max * 99;
            let detail = format!(
                "CPUs {cpus}: governor {gov}, {} of {}",
                mhz(cur * 1000),
                mhz(max * 1000)
            );
            if pinned && at_max {
                finding(&format!("cpu.{p}"), Level::Ok, detail, String::new())
            } else {
                finding(
                    &format!("cpu.{p}"),
                    Level::Fail,
                    format!("{detail}: the runtime's CPU work (sampling, some ops) runs slower and varies"),
                    format!(
                        "sudo sh -c 'echo userspace > {dir}/scaling_governor && echo {max} > {dir}/scaling_setspeed'"
                    ),
                )
            }
        })
        .collect()
}

/// A devfreq device (NPU, DMC): governor and current clock against the maximum.
fn devfreq(root: &SysRoot, label: &str, dev: &str, why: &str) -> Finding {
    let dir = format!("/sys/class/devfreq/{dev}");
    let gov = root
        .read(&format!("{dir}/governor"))
        .unwrap_or_else(|e| format!("unreadable ({e})"));
    let cur_read = num_or_why(root, &format!("{dir}/cur_freq"));
    let cur = cur_read.clone().ok();
    let max = highest(root, &dir, "available_frequencies", &["max_freq"]);
    let (Some(cur), Some(max)) = (cur, max) else {
        return finding(
            label,
            Level::Warn,
            format!(
                "{dev}: governor {gov}; current or maximum frequency unreadable{}",
                why_unreadable(&cur_read)
            ),
            String::new(),
        );
    };
    let pinned = gov == "performance" || gov == "userspace";
    let at_max = cur * 100 >= max * 99;
    let detail = format!("{dev}: governor {gov}, {} of {}", mhz(cur), mhz(max));
    if pinned && at_max {
        finding(label, Level::Ok, detail, String::new())
    } else {
        finding(
            label,
            Level::Fail,
            format!("{detail}: {why}"),
            format!(
                "sudo sh -c 'echo userspace > {dir}/governor && echo {max} > {dir}/userspace/set_freq'"
            ),
        )
    }
}

fn npu(root: &SysRoot) -> Finding {
    match board::npu_devfreq(root) {
        Some(dev) => devfreq(
            root,
            "npu.freq",
            &dev,
            "prefill and decode run slower than the NPU can",
        ),
        None => finding(
            "npu.freq",
            Level::Warn,
            "no NPU devfreq device under /sys/class/devfreq (not an RK3588 with the BSP kernel?)"
                .into(),
            String::new(),
        ),
    }
}

fn dmc(root: &SysRoot) -> Vec<Finding> {
    if !root.path("/sys/class/devfreq/dmc").is_dir() {
        return vec![finding(
            "dmc.dvfs",
            Level::Fail,
            "no /sys/class/devfreq/dmc: this firmware has no DDR frequency scaling, so DDR runs at whatever rate the bootloader left (often far below 2112 MHz); decode is memory-bound, so this alone can halve tok/s (rknn-llm #532)".into(),
            "install a bootloader/firmware with DMC DVFS enabled (the board vendor's current image), then pin it: sudo sh -c 'echo userspace > /sys/class/devfreq/dmc/governor && echo 2112000000 > /sys/class/devfreq/dmc/userspace/set_freq'".into(),
        )];
    }
    vec![
        finding(
            "dmc.dvfs",
            Level::Ok,
            "DDR frequency scaling present (/sys/class/devfreq/dmc)".into(),
            String::new(),
        ),
        devfreq(
            root,
            "dmc.freq",
            "dmc",
            "decode is memory-bound: tok/s follows the DDR clock",
        ),
    ]
}

fn thermal(root: &SysRoot) -> Finding {
    let zones = root.list("/sys/class/thermal", "thermal_zone");
    let mut unreadable = Vec::new();
    let temps: Vec<(String, i64)> = zones
        .iter()
        .filter_map(|z| {
            let t = num_or_why(root, &format!("/sys/class/thermal/{z}/temp"))
                .map_err(|e| unreadable.push(format!("{z}/{e}")))
                .ok()?;
            let ty = root
                .read(&format!("/sys/class/thermal/{z}/type"))
                .unwrap_or_else(|_| z.clone());
            Some((ty, t))
        })
        .collect();
    let Some((hottest, t)) = temps.iter().max_by_key(|(_, t)| *t).cloned() else {
        return finding(
            "thermal",
            Level::Warn,
            if unreadable.is_empty() {
                "no readable thermal zone".into()
            } else {
                format!("no readable thermal zone ({})", unreadable.join("; "))
            },
            String::new(),
        );
    };
    let detail = format!(
        "hottest zone {hottest} at {:.1} °C ({} zones{})",
        t as f64 / 1000.0,
        temps.len(),
        if unreadable.is_empty() {
            String::new()
        } else {
            format!("; unreadable: {}", unreadable.join("; "))
        }
    );
    let fix = "let the board cool before starting (and between requests: rkbench record --cooldown 30s); fit a heatsink and fan; watch: cat /sys/class/thermal/thermal_zone*/temp".to_string();
    if t >= HOT_MC {
        finding(
            "thermal",
            Level::Fail,
            format!("{detail}: no headroom, the clocks will be throttled during the run"),
            fix,
        )
    } else if t >= WARM_MC {
        finding(
            "thermal",
            Level::Warn,
            format!("{detail}: little headroom before throttling under a long run"),
            fix,
        )
    } else {
        finding("thermal", Level::Ok, detail, String::new())
    }
}

/// `RKNPU driver: v0.9.8` → (0, 9, 8).
pub(crate) fn parse_driver(s: &str) -> Option<(u32, u32, u32)> {
    let v = s.rsplit(['v', ' ']).next()?.trim();
    let mut it = v.split('.').map(|p| p.trim().parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

fn driver(root: &SysRoot) -> Finding {
    let read = root
        .read("/sys/kernel/debug/rknpu/version")
        .or_else(|_| root.read("/proc/debug/rknpu/version"));
    let (a, b, c) = MIN_RKNPU;
    match read {
        Err(e) => finding(
            "rknpu.driver",
            Level::Warn,
            format!("driver version unreadable ({e})"),
            "run doctor as root (debugfs), or check dmesg | grep -i rknpu".into(),
        ),
        Ok(s) => match parse_driver(&s) {
            None => finding(
                "rknpu.driver",
                Level::Warn,
                format!("cannot parse {s:?}"),
                String::new(),
            ),
            Some(v) if v < MIN_RKNPU => finding(
                "rknpu.driver",
                Level::Fail,
                format!("{s}: RKLLM 1.1 and later need rknpu {a}.{b}.{c} or newer (init fails or the runtime misbehaves)"),
                format!("install a kernel with rknpu ≥ {a}.{b}.{c} (the board vendor's current BSP kernel); check with: sudo cat /sys/kernel/debug/rknpu/version"),
            ),
            Some(_) => finding(
                "rknpu.driver",
                Level::Ok,
                format!("{s} (≥ {a}.{b}.{c} needed by RKLLM 1.1+)"),
                String::new(),
            ),
        },
    }
}

fn debugfs(root: &SysRoot) -> Finding {
    match root.read("/sys/kernel/debug/rknpu/load") {
        Ok(s) => finding("debugfs", Level::Ok, format!("NPU load readable: {s}"), String::new()),
        Err(e) => finding(
            "debugfs",
            Level::Warn,
            format!("/sys/kernel/debug/rknpu/load unreadable ({e}): traces will have no NPU load"),
            "run rkbench as root; if debugfs is not mounted: sudo mount -t debugfs none /sys/kernel/debug".into(),
        ),
    }
}

/// The replay-only build records nothing, so it has no power sources to suggest.
#[cfg(not(feature = "record"))]
fn power(_root: &SysRoot) -> Finding {
    finding(
        "power",
        Level::Skip,
        "replay-only build: cannot record power".into(),
        String::new(),
    )
}

/// Power sensors under hwmon (for `record --power hwmon`), or what to use instead.
#[cfg(feature = "record")]
fn power(root: &SysRoot) -> Finding {
    let sensors = crate::record::power::hwmon_sensors(root);
    if sensors.is_empty() {
        return finding(
            "power",
            Level::Skip,
            // Not a problem to fix: said in the detail, so only real problems carry a fix.
            "no power sensor under /sys/class/hwmon; to measure energy use a smart plug or USB meter: --power shelly:http://PLUG / tasmota:http://PLUG / cmd:COMMAND (README \"Energy\")".into(),
            String::new(),
        );
    }
    let list: Vec<String> = sensors
        .iter()
        .map(|s| {
            let label = if s.label.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", s.label)
            };
            format!(
                "--power hwmon:{}:{} ({}{label}, {})",
                s.name, s.channel, s.dir, s.reads
            )
        })
        .collect();
    finding("power", Level::Ok, list.join("; "), String::new())
}

/// The runtime maps the whole model and needs working memory beside it.
pub(crate) fn memory_finding(
    available_kb: Result<u64, String>,
    model_bytes: Option<u64>,
) -> Finding {
    let avail = match available_kb {
        Ok(kb) => kb,
        Err(why) => {
            return finding(
                "memory",
                Level::Warn,
                format!("MemAvailable unreadable ({why})"),
                String::new(),
            )
        }
    };
    let avail_mb = avail / 1024;
    match model_bytes {
        None => finding(
            "memory",
            Level::Skip,
            format!("{avail_mb} MB available; pass --model to compare with the model's size"),
            String::new(),
        ),
        Some(m) => {
            let need_mb = m / (1 << 20) + m / (1 << 20) / 5 + 256;
            if avail_mb < need_mb {
                finding(
                    "memory",
                    Level::Fail,
                    format!("{avail_mb} MB available, the model needs about {need_mb} MB (file + 20 % + 256 MB): init will fail or the OOM killer will end the run"),
                    "stop other processes (check: free -m), or use a smaller model or --max-context-len".into(),
                )
            } else {
                finding(
                    "memory",
                    Level::Ok,
                    format!("{avail_mb} MB available, the model needs about {need_mb} MB"),
                    String::new(),
                )
            }
        }
    }
}

fn model(path: Option<&Path>) -> (Finding, Option<u64>) {
    let Some(p) = path else {
        return (
            finding(
                "model",
                Level::Skip,
                "no --model given".into(),
                String::new(),
            ),
            None,
        );
    };
    let shown = p.display();
    // Non-blocking: a FIFO named by --model must not hang the open.
    match crate::board::open_nonblocking(p).and_then(|f| f.metadata()) {
        Ok(m) if m.is_file() => (
            finding(
                "model",
                Level::Ok,
                format!("{shown}: readable, {} MB", m.len() / (1 << 20)),
                String::new(),
            ),
            Some(m.len()),
        ),
        Ok(_) => (
            finding(
                "model",
                Level::Fail,
                format!("{shown} is not a file"),
                "pass --model PATH to an .rkllm file".into(),
            ),
            None,
        ),
        Err(e) => (
            finding(
                "model",
                Level::Fail,
                format!("{shown}: {e}"),
                "pass --model PATH to a readable .rkllm file".into(),
            ),
            None,
        ),
    }
}

#[cfg(feature = "record")]
fn runtime(a: &DoctorArgs) -> Finding {
    use crate::runtime::{library, AbiVersion, Runtime};
    let flag = match a.runtime_abi.as_deref().map(str::parse::<AbiVersion>) {
        Some(Err(e)) => {
            return finding(
                "runtime",
                Level::Fail,
                e,
                "pass --runtime-abi 1.1, 1.2.0, 1.2.1 or 1.3.0".into(),
            )
        }
        Some(Ok(f)) => Some(f),
        None => None,
    };
    let path = match library::resolve_lib(a.lib.as_deref()) {
        Ok(p) => p,
        Err(e) => return finding("runtime", Level::Fail, e.msg, "install librkllmrt.so from airockchip/rknn-llm (rkllm-runtime/Linux/librkllm_api/aarch64) to /usr/lib, or pass --lib".into()),
    };
    match Runtime::load(&path, flag, a.force_abi) {
        Ok(rt) => {
            let id = &rt.identity;
            let version = if id.version.is_empty() {
                String::new()
            } else {
                format!(", version {}", id.version)
            };
            finding(
                "runtime",
                Level::Ok,
                format!(
                    "{}: RKLLM ABI {}{version}; {}",
                    path.display(),
                    id.abi,
                    id.conclusion
                ),
                String::new(),
            )
        }
        Err(e) => finding(
            "runtime",
            Level::Fail,
            e.msg,
            "see rkbench info --lib PATH for every piece of evidence".into(),
        ),
    }
}

#[cfg(not(feature = "record"))]
fn runtime(_a: &DoctorArgs) -> Finding {
    finding(
        "runtime",
        Level::Skip,
        "replay-only build: cannot load librkllmrt.so".into(),
        String::new(),
    )
}

/// Every finding, in checklist order.
pub(crate) fn findings(a: &DoctorArgs, root: &SysRoot) -> Vec<Finding> {
    let mut v = cpu(root);
    v.push(npu(root));
    v.extend(dmc(root));
    v.push(thermal(root));
    v.push(driver(root));
    v.push(debugfs(root));
    v.push(power(root));
    let (m, size) = model(a.model.as_deref());
    v.push(memory_finding(crate::board::mem_available_kb(root), size));
    v.push(runtime(a));
    v.push(m);
    v
}

pub fn run(a: DoctorArgs) -> Result<i32> {
    let json = match a.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(Error::usage(format!(
                "--format {other:?}: use text (default) or json"
            )))
        }
    };
    let root = a.sysfs_root.clone().map(SysRoot).unwrap_or_default();
    let all = findings(&a, &root);
    let fails = all.iter().filter(|f| f.level == Level::Fail).count();
    let warns = all.iter().filter(|f| f.level == Level::Warn).count();
    let ready = fails == 0;
    let out = if json {
        render_json(&all, ready)
    } else {
        render_text(&all, fails, warns, &board::hostname(&root))
    };
    if super::output::stdout(&out)? == super::output::Sent::Closed {
        return Ok(super::output::exit_code(super::output::Sent::Closed));
    }
    Ok(if ready { exit::OK } else { exit::NOT_READY })
}

fn render_text(all: &[Finding], fails: usize, warns: usize, host: &str) -> String {
    let mut s = String::new();
    for f in all {
        s.push_str(&format!(
            "{:<5} {:<14} {}\n",
            f.level.as_str().to_uppercase(),
            f.check,
            f.detail
        ));
        if !f.fix.is_empty() && f.level != Level::Ok {
            s.push_str(&format!("{:<20} fix: {}\n", "", f.fix));
        }
    }
    s.push_str(&if fails == 0 {
        format!("rkbench doctor: {host} is ready ({warns} warning(s))\n")
    } else {
        format!(
            "rkbench doctor: {host} is not ready: {fails} problem(s), {warns} warning(s); fix them before a long benchmark\n"
        )
    });
    s
}

fn render_json(all: &[Finding], ready: bool) -> String {
    let findings: Vec<serde_json::Value> = all
        .iter()
        .map(|f| {
            serde_json::json!({
                "check": f.check,
                "status": f.level.as_str(),
                "detail": f.detail,
                "fix": f.fix,
            })
        })
        .collect();
    let v = serde_json::json!({ "ready": ready, "findings": findings });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_sensors_are_listed_or_a_plug_is_suggested() {
        let d = std::env::temp_dir().join(format!("rkbench-doctor-power-{}", std::process::id()));
        let h = d.join("sys/class/hwmon/hwmon3");
        std::fs::create_dir_all(&h).unwrap();
        let root = SysRoot(d.clone());
        let none = power(&root);
        assert_eq!(none.level, Level::Skip);
        assert!(
            none.detail.contains("use a smart plug or USB meter"),
            "{none:?}"
        );
        std::fs::write(h.join("name"), "ina226\n").unwrap();
        std::fs::write(h.join("power1_input"), "3000000\n").unwrap();
        let found = power(&root);
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(found.level, Level::Ok);
        assert_eq!(found.detail, "--power hwmon:ina226:1 (hwmon3, power)");
    }

    #[test]
    fn driver_versions() {
        assert_eq!(parse_driver("RKNPU driver: v0.9.8"), Some((0, 9, 8)));
        assert_eq!(parse_driver("RKNPU driver: v0.8.2"), Some((0, 8, 2)));
        assert_eq!(parse_driver("RKNPU driver: v0.10.0"), Some((0, 10, 0)));
        assert!(parse_driver("RKNPU driver: v0.8.2").unwrap() < MIN_RKNPU);
        assert!(parse_driver("RKNPU driver: v0.10.0").unwrap() > MIN_RKNPU);
        assert_eq!(parse_driver("garbage"), None);
    }

    #[test]
    fn memory_against_the_model() {
        let gib = 1u64 << 30;
        assert_eq!(
            memory_finding(Ok(8 * 1024 * 1024), Some(5 * gib)).level,
            Level::Ok
        );
        let f = memory_finding(Ok(2 * 1024 * 1024), Some(5 * gib));
        assert_eq!(f.level, Level::Fail);
        assert!(f.detail.contains("2048 MB available"), "{}", f.detail);
        assert_eq!(memory_finding(Ok(1), None).level, Level::Skip);
    }
}
