//! Shared plumbing: where things are, quick vs full mode, and the report of figures and goals.
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where everything is, and how big to make the runs.
pub struct Env {
    pub root: PathBuf,
    pub scratch: PathBuf,
    pub fake_lib: PathBuf,
    pub model: PathBuf,
    pub rkbench: PathBuf,
    pub python: Option<String>,
    /// `cargo bench` (full sizes) rather than a smoke run (`cargo test --benches`, or
    /// `RKBENCH_BENCH_QUICK=1`).
    pub full: bool,
}

impl Env {
    pub fn new() -> Env {
        let full = std::env::args().any(|a| a == "--bench")
            && std::env::var_os("RKBENCH_BENCH_QUICK").is_none();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rkbench-bench");
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).expect("create scratch dir");
        let fake_lib = match std::env::var_os("RKBENCH_FAKE_LIB") {
            Some(p) => PathBuf::from(p),
            None => build_fake(&root),
        };
        assert!(
            fake_lib.is_file(),
            "simulated runtime not found at {}",
            fake_lib.display()
        );
        let python = ["python3", "python"].into_iter().find_map(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|_| p.to_string())
        });
        Env {
            model: root.join("fixtures/models/Qwen3-4B-sim.rkllm"),
            rkbench: PathBuf::from(env!("CARGO_BIN_EXE_rkbench")),
            root,
            scratch,
            fake_lib,
            python,
            full,
        }
    }

    /// Pick the full-mode or smoke-mode value.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.full {
            full
        } else {
            quick
        }
    }
}

/// The simulated runtime, release build, 1.2.1 ABI, in its own target directory.
fn build_fake(root: &Path) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fake-rkllmrt-release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the simulated runtime (release, ABI 1.2.1)…");
    let st = Command::new(cargo)
        .current_dir(root)
        .args(["build", "-q", "--release", "-p", "fake-rkllmrt"])
        .args(["--no-default-features", "--features", "abi-1-2-1"])
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(st.success(), "building fake-rkllmrt failed");
    target.join("release/librkllmrt.so")
}

/// Median of a sample (sorts a copy).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One goal and whether the measurement meets it.
pub struct Goal {
    pub what: String,
    pub measured: String,
    pub target: String,
    pub met: Option<bool>,
}

/// Figures printed as they are measured, collected for the JSON results file and the final
/// table of goals.
#[derive(Default)]
pub struct Report {
    values: Map<String, Value>,
    goals: Vec<Goal>,
}

impl Report {
    pub fn section(&self, title: &str) {
        println!("\n== {title}");
    }

    /// Print one figure line and record its value under `key`.
    pub fn line(&mut self, key: &str, label: &str, value: Value, shown: &str) {
        println!("   {label:<46} {shown}");
        self.values.insert(key.to_string(), value);
    }

    pub fn note(&self, text: &str) {
        println!("   {text}");
    }

    pub fn value(&mut self, key: &str, value: Value) {
        self.values.insert(key.to_string(), value);
    }

    /// A goal: `met` is None when it could not be measured here.
    pub fn goal(&mut self, what: &str, measured: String, target: &str, met: Option<bool>) {
        let verdict = verdict(met);
        println!("   goal {target:<20} → {verdict}");
        self.goals.push(Goal {
            what: what.to_string(),
            measured,
            target: target.to_string(),
            met,
        });
    }

    pub fn finish(self, env: &Env) {
        println!("\n== Goals");
        println!(
            "   {:<44} {:>24}   {:<18} verdict",
            "figure", "measured", "goal"
        );
        for g in &self.goals {
            println!(
                "   {:<44} {:>24}   {:<18} {}",
                g.what,
                g.measured,
                g.target,
                verdict(g.met)
            );
        }
        let goals: Vec<Value> = self
            .goals
            .iter()
            .map(|g| {
                json!({"figure": g.what, "measured": g.measured, "goal": g.target, "met": g.met})
            })
            .collect();
        let doc = json!({
            "mode": if env.full { "full" } else { "quick" },
            "figures": Value::Object(self.values),
            "goals": goals,
        });
        let path = std::env::var_os("RKBENCH_BENCH_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| env.scratch.join("results.json"));
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n")
            .expect("write results");
        println!("\n   results: {}", path.display());
        if !env.full {
            println!("   (smoke run with small sizes: run `cargo bench --bench rkbench` for the real figures)");
        }
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not measured",
    }
}
