//! `index.json` of a sweep directory: which trace holds which combination of swept parameters.
//! Written by `record --sweep` and read by `report DIR` through this one type, which checks the
//! version and that every entry names a file inside the directory.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name of the index inside a sweep directory.
pub const SWEEP_INDEX: &str = "index.json";

/// A sweep directory's index, format [`SweepIndex::VERSION`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct SweepIndex {
    /// Refused when newer than this rkbench knows.
    pub sweep_index_version: u32,
    /// The swept flags, in the order given (first varies slowest).
    pub axes: Vec<String>,
    /// One per recorded combination, in recording order.
    pub runs: Vec<SweepRun>,
    /// How the sweep stands; absent from indexes written before rkbench recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SweepStatus>,
    /// The number of combinations in the grid (0 in indexes written before).
    #[serde(default)]
    pub combinations: u64,
    /// The combinations not recorded (yet, while `recording`), in grid order: swept flag →
    /// value as given.
    #[serde(default)]
    pub not_run: Vec<BTreeMap<String, String>>,
}

/// Where a sweep stands, as its index says.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SweepStatus {
    /// Still recording — or killed without a chance to say more.
    Recording,
    /// Every combination was recorded.
    Complete,
    /// Ctrl-C or SIGTERM ended it: the combination in flight ran to its interrupted end, the
    /// rest are `not_run`.
    Interrupted,
    /// A combination failed in a way the next would too (inputs, usage, runtime, full disk).
    Stopped,
}

impl SweepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepStatus::Recording => "recording",
            SweepStatus::Complete => "complete",
            SweepStatus::Interrupted => "interrupted",
            SweepStatus::Stopped => "stopped",
        }
    }
}

/// One recorded combination.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct SweepRun {
    /// The trace's file name inside the sweep directory (never a path).
    pub trace: String,
    /// Swept flag → value as given.
    pub params: BTreeMap<String, String>,
    /// The exit code of its recording.
    pub exit_code: i32,
}

impl SweepIndex {
    pub const VERSION: u32 = 1;

    pub fn new(axes: Vec<String>) -> Self {
        SweepIndex {
            sweep_index_version: Self::VERSION,
            axes,
            ..Default::default()
        }
    }

    /// Write `DIR/index.json`, replacing the previous one atomically (a crash mid-sweep leaves
    /// the last complete index).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        let tmp = dir.join(format!("{SWEEP_INDEX}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(SWEEP_INDEX))
    }

    /// Read and check `DIR/index.json`. The error is one line naming the file.
    pub fn read(dir: &Path) -> Result<SweepIndex, String> {
        let path = dir.join(SWEEP_INDEX);
        let shown = path.display();
        if !path.exists() {
            return Err(format!("{} is a directory without a readable {SWEEP_INDEX} (not present); pass trace files, or a directory written by `rkbench record --sweep`", dir.display()));
        }
        // Opened without blocking and read at most MAX_INDEX + 1 bytes: a FIFO or /dev/zero
        // planted as the index is refused rather than hanging or filling memory.
        let bytes = crate::board::read_small(&path, MAX_INDEX).map_err(|e| {
            if e.starts_with("larger than") {
                too_large(&shown)
            } else {
                format!("{shown}: {e}")
            }
        })?;
        Self::from_bytes(dir, &bytes)
    }

    /// [`read`](Self::read) for an index already in memory (the browser viewer): the bytes of
    /// `DIR/index.json`.
    pub fn from_bytes(dir: &Path, bytes: &[u8]) -> Result<SweepIndex, String> {
        let path = dir.join(SWEEP_INDEX);
        if bytes.len() as u64 > MAX_INDEX {
            return Err(too_large(&path.display()));
        }
        // The words std's read_to_string uses for the same file.
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("{}: stream did not contain valid UTF-8", path.display()))?;
        Self::parse(dir, text)
    }

    /// Check an index's text.
    fn parse(dir: &Path, text: &str) -> Result<SweepIndex, String> {
        let path = dir.join(SWEEP_INDEX);
        let shown = path.display();
        // The version first, so a newer index is named as such rather than as malformed.
        #[derive(Deserialize)]
        struct Version {
            sweep_index_version: Option<u32>,
        }
        let v: Version =
            serde_json::from_str(text).map_err(|e| format!("{shown}: not a sweep index ({e})"))?;
        match v.sweep_index_version {
            Some(Self::VERSION) => {}
            Some(n) => {
                return Err(format!(
                    "{shown}: sweep index version {n} is not version {} that this rkbench reads; use a matching rkbench",
                    Self::VERSION
                ))
            }
            None => return Err(format!("{shown}: not a sweep index (no sweep_index_version)")),
        }
        let index: SweepIndex =
            serde_json::from_str(text).map_err(|e| format!("{shown}: not a sweep index ({e})"))?;
        for r in &index.runs {
            index_entry(dir, &r.trace)
                .map_err(|why| format!("{shown}: run {:?} {why}", r.trace))?;
        }
        Ok(index)
    }

    /// The path of a run's trace (checked by [`SweepIndex::read`] to lie inside `dir`).
    pub fn trace_path(dir: &Path, run: &SweepRun) -> PathBuf {
        dir.join(&run.trace)
    }
}

/// An index lists a few hundred runs at most; a huge file is not one.
const MAX_INDEX: u64 = 16 << 20;

fn too_large(shown: &dyn std::fmt::Display) -> String {
    format!("{shown}: larger than 16 MiB, which no sweep index is")
}

/// An entry must be a plain file name: an absolute path, `..` or a separator could make
/// `report DIR` read (and name in its output) a file outside the sweep directory.
fn index_entry(_dir: &Path, name: &str) -> Result<(), &'static str> {
    let plain =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(())
    } else {
        Err("is not a file name inside the sweep directory; the index may only name its own traces")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("rkbench-sweep-index-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn written_and_read_by_one_type() {
        let d = dir("rt");
        let mut i = SweepIndex::new(vec!["threads".into()]);
        i.runs.push(SweepRun {
            trace: "01_threads=2.rktrace".into(),
            params: [("threads".to_string(), "2".to_string())].into(),
            exit_code: 0,
        });
        i.status = Some(SweepStatus::Interrupted);
        i.combinations = 2;
        i.not_run
            .push([("threads".to_string(), "4".to_string())].into());
        i.write(&d).unwrap();
        assert_eq!(SweepIndex::read(&d).unwrap(), i);
        let text = std::fs::read_to_string(d.join("index.json")).unwrap();
        assert!(text.contains("\"status\": \"interrupted\""), "{text}");
        assert!(!d.join("index.json.tmp").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_index_written_before_the_status_still_reads() {
        let d = dir("old");
        std::fs::write(
            d.join("index.json"),
            r#"{"sweep_index_version": 1, "axes": ["threads"], "runs": []}"#,
        )
        .unwrap();
        let i = SweepIndex::read(&d).unwrap();
        assert_eq!((i.status, i.combinations, i.not_run.len()), (None, 0, 0));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn version_is_checked() {
        let d = dir("ver");
        std::fs::write(
            d.join("index.json"),
            r#"{"sweep_index_version": 2, "axes": [], "runs": []}"#,
        )
        .unwrap();
        let e = SweepIndex::read(&d).unwrap_err();
        assert!(e.contains("sweep index version 2 is not version 1"), "{e}");
        std::fs::write(d.join("index.json"), r#"{"axes": [], "runs": []}"#).unwrap();
        assert!(SweepIndex::read(&d)
            .unwrap_err()
            .contains("no sweep_index_version"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn entries_cannot_point_outside_the_directory() {
        // #16 F21: an index entry read any file the user could read.
        let d = dir("out");
        for bad in [
            "../secret.rktrace",
            "/etc/passwd",
            "a/../../b",
            "..",
            "",
            "sub/x.rktrace",
        ] {
            let mut i = SweepIndex::new(vec!["threads".into()]);
            i.runs.push(SweepRun {
                trace: bad.into(),
                params: BTreeMap::new(),
                exit_code: 0,
            });
            i.write(&d).unwrap();
            let e = SweepIndex::read(&d).unwrap_err();
            assert!(
                e.contains("is not a file name inside the sweep directory"),
                "{bad}: {e}"
            );
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
