//! Board facts read from sysfs/procfs (under a root that tests can point at a fake tree).
//! Every missing source is recorded as `unavailable (reason)` rather than failing: rkbench must
//! run on a laptop, in a container, or on a board without debugfs access.
use crate::trace::vocab;
use crate::trace::Fact;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

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

    /// Read a small text file, trimmed (NULs from device-tree strings removed): a regular file
    /// of at most [`MAX_FILE_BYTES`] ([`read_small`]).
    pub fn read(&self, abs: &str) -> Result<String, String> {
        let b = read_small(&self.path(abs), MAX_FILE_BYTES)?;
        Ok(String::from_utf8_lossy(&b)
            .replace('\0', " ")
            .trim()
            .to_string())
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

/// The most bytes rkbench reads of one sysfs/procfs file. The files it reads hold a number or a
/// few lines (`/proc/meminfo` is under 2 KiB); a bigger one is not what it should be.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Opens `path` for reading if it is a regular file. The open is non-blocking, so a FIFO (or a
/// device) planted where a sysfs/procfs file should be never blocks it; the file type is then
/// checked on the open file (no race with a rename), and anything but a regular file is refused:
/// a FIFO would block its reads and `/dev/zero` never ends. sysfs and procfs files are regular.
pub fn open_regular(path: &Path) -> Result<File, String> {
    let f = open_nonblocking(path).map_err(|e| reason(&e))?;
    let t = f.metadata().map_err(|e| reason(&e))?.file_type();
    if t.is_file() {
        return Ok(f);
    }
    Err(format!(
        "not a regular file ({}): not read",
        file_type_name(t)
    ))
}

/// Opens `path` read-only without blocking: a FIFO with no writer (or a terminal) opens at
/// once instead of waiting forever. Reads of a regular file are unaffected.
pub fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    o.open(path)
}

fn file_type_name(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// The whole of a regular file of at most `max` bytes ([`open_regular`]); a longer one is
/// refused after reading `max + 1` bytes (procfs files say size 0, so the length is found by
/// reading). Every sysfs/procfs reader goes through this or [`open_regular`].
pub fn read_small(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let f = open_regular(path)?;
    let mut b = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut b)
        .map_err(|e| reason(&e))?;
    if b.len() as u64 > max {
        return Err(format!(
            "larger than {} KiB, more than such a file ever holds: not read",
            max / 1024
        ));
    }
    Ok(b)
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

/// `MemAvailable` of `/proc/meminfo` under `root`, in kB (`doctor`'s memory check, and the
/// memory a level of runtime instances is checked against), or why it cannot be read.
pub(crate) fn mem_available_kb(root: &SysRoot) -> Result<u64, String> {
    let m = root
        .read("/proc/meminfo")
        .map_err(|e| format!("/proc/meminfo: {e}"))?;
    let line = m
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .ok_or("no MemAvailable line in /proc/meminfo")?;
    let v = line["MemAvailable:".len()..].trim();
    let num = v.trim_end_matches("kB").trim();
    num.parse::<u64>()
        .map_err(|_| format!("MemAvailable {v:?} in /proc/meminfo is not a number of kB"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_kb() {
        let d = std::env::temp_dir().join(format!("rkbench-meminfo-{}", std::process::id()));
        std::fs::create_dir_all(d.join("proc")).unwrap();
        std::fs::write(
            d.join("proc/meminfo"),
            "MemTotal:       16000000 kB\nMemAvailable:    7340032 kB\n",
        )
        .unwrap();
        assert_eq!(mem_available_kb(&SysRoot(d.clone())), Ok(7_340_032));
        std::fs::write(d.join("proc/meminfo"), "MemTotal: 1 kB\n").unwrap();
        assert!(mem_available_kb(&SysRoot(d.clone()))
            .unwrap_err()
            .contains("no MemAvailable"));
        std::fs::write(d.join("proc/meminfo"), "MemAvailable: lots\n").unwrap();
        assert!(mem_available_kb(&SysRoot(d.clone()))
            .unwrap_err()
            .contains("not a number"));
        let _ = std::fs::remove_dir_all(d);
    }
}
