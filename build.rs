//! Embeds build provenance so every trace can say exactly which rkbench produced it.
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit =
        run("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // Dirty = tracked files differ from HEAD (untracked files do not change the build).
    let dirty = match run("git", &["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if s.is_empty() => "clean",
        Some(_) => "dirty",
        None => "unknown",
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = run(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo:rustc-env=RKBENCH_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=RKBENCH_GIT_STATE={dirty}");
    println!("cargo:rustc-env=RKBENCH_RUSTC={rustc_version}");
    println!("cargo:rustc-env=RKBENCH_TARGET={target}");
    println!("cargo:rustc-env=RKBENCH_PROFILE={profile}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    println!("cargo:rerun-if-changed=build.rs");
}
