//! Board facts read from sysfs/procfs (under a root that tests can point at a fake tree).
//! Every missing source is recorded as `unavailable (reason)` rather than failing: rkbench must
//! run on a laptop, in a container, or on a board without debugfs access.
use crate::trace::vocab;
use crate::trace::Fact;
use std::path::PathBuf;

/// Where `/sys` and `/proc` are read from (`/` normally; a fixture tree in tests).
#[derive(Debug, Clone)]
pub struct SysRoot(pub PathBuf);

impl Default for SysRoot {
    fn default() -> Self {
        SysRoot(PathBuf::from("/"))
    }
}

impl SysRoot {
    pub fn path(&self, abs: &str) -> PathBuf {
        self.0.join(abs.trim_start_matches('/'))
    }

    /// Read a small text file, trimmed (NULs from device-tree strings removed).
    pub fn read(&self, abs: &str) -> Result<String, String> {
        let p = self.path(abs);
        match std::fs::read(&p) {
            Ok(b) => Ok(String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()),
            Err(e) => Err(reason(&e)),
        }
    }

    /// Sorted entries of a directory whose names start with `prefix`.
    pub fn list(&self, abs: &str, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(abs))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(prefix))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not present".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied; run as root".into(),
        _ => e.to_string(),
    }
}

fn fact(key: &str, v: Result<String, String>) -> Fact {
    Fact {
        key: key.to_string(),
        value: match v {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => vocab::unavailable("empty"),
            Err(r) => vocab::unavailable(&r),
        },
    }
}

/// The NPU devfreq directory name, if any (`fdab0000.npu` on RK3588).
pub fn npu_devfreq(root: &SysRoot) -> Option<String> {
    root.list("/sys/class/devfreq", "")
        .into_iter()
        .find(|n| n.contains("npu"))
}

/// Gather every board fact rkbench records in a trace header and prints in `info`.
pub fn facts(root: &SysRoot) -> Vec<Fact> {
    let mut f = vec![
        fact("board.model", root.read("/proc/device-tree/model")),
        fact(
            "board.compatible",
            root.read("/proc/device-tree/compatible"),
        ),
        fact("kernel", root.read("/proc/sys/kernel/osrelease")),
        fact("arch", Ok(std::env::consts::ARCH.to_string())),
        fact(
            "rknpu.driver",
            root.read("/sys/kernel/debug/rknpu/version")
                .or_else(|_| root.read("/proc/debug/rknpu/version")),
        ),
    ];
    let meminfo = root.read("/proc/meminfo");
    for key in ["MemTotal", "MemAvailable"] {
        let v = meminfo.clone().and_then(|m| {
            m.lines()
                .find(|l| l.starts_with(&format!("{key}:")))
                .map(|l| l[key.len() + 1..].trim().to_string())
                .ok_or_else(|| "not in /proc/meminfo".to_string())
        });
        f.push(fact(&format!("mem.{}", key.to_ascii_lowercase()), v));
    }
    let policies = root.list("/sys/devices/system/cpu/cpufreq", "policy");
    if policies.is_empty() {
        f.push(fact("cpu.cpufreq", Err("not present".into())));
    }
    for p in policies {
        let base = format!("/sys/devices/system/cpu/cpufreq/{p}");
        for (k, file) in [
            ("governor", "scaling_governor"),
            ("cur_khz", "scaling_cur_freq"),
            ("min_khz", "scaling_min_freq"),
            ("max_khz", "scaling_max_freq"),
            ("cpus", "related_cpus"),
        ] {
            f.push(fact(
                &format!("cpu.{p}.{k}"),
                root.read(&format!("{base}/{file}")),
            ));
        }
    }
    let npu = npu_devfreq(root);
    for (label, dev) in [("npu", npu.clone()), ("dmc", Some("dmc".to_string()))] {
        let base = dev.map(|d| format!("/sys/class/devfreq/{d}"));
        for (k, file) in [
            ("governor", "governor"),
            ("cur_hz", "cur_freq"),
            ("min_hz", "min_freq"),
            ("max_hz", "max_freq"),
        ] {
            let v = match &base {
                Some(b) => root.read(&format!("{b}/{file}")),
                None => Err("no devfreq device".into()),
            };
            f.push(fact(&format!("{label}.{k}"), v));
        }
    }
    f.sort();
    f
}

/// Host name, for the trace header.
pub fn hostname(root: &SysRoot) -> String {
    root.read("/proc/sys/kernel/hostname")
        .unwrap_or_else(|_| "unknown".into())
}
