//! Build provenance embedded by `build.rs`: shown by `--version` and stored in every trace header,
//! so a number can always be traced back to the exact binary that measured it.

/// Crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Short git commit of the source tree, or `unknown` outside a checkout.
pub const GIT_COMMIT: &str = env!("RKBENCH_GIT_COMMIT");
/// `clean`, `dirty` or `unknown`.
pub const GIT_STATE: &str = env!("RKBENCH_GIT_STATE");
/// Target triple the binary was built for.
pub const TARGET: &str = env!("RKBENCH_TARGET");
/// Cargo profile (`debug` / `release`).
pub const PROFILE: &str = env!("RKBENCH_PROFILE");
/// `rustc --version` of the compiler used.
pub const RUSTC: &str = env!("RKBENCH_RUSTC");

/// Whether this build can record (loads librkllmrt) or is replay-only.
pub const RECORD_CAPABLE: bool = cfg!(feature = "record");

/// The multi-line text printed by `rkbench --version`.
pub fn long_version() -> String {
    format!(
        "rkbench {VERSION}\ncommit: {GIT_COMMIT} ({GIT_STATE})\ntarget: {TARGET}\nprofile: {PROFILE}\nrustc: {RUSTC}\nrecord: {}\n",
        if RECORD_CAPABLE { "yes" } else { "no (replay-only build)" }
    )
}

/// When a run starts, as its trace header stores it: Unix time in ms (0 if the clock is before
/// 1970). Wall-clock, for people; every figure uses the monotonic clock.
#[cfg(feature = "record")]
pub(crate) fn started_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This binary's identity as stored in every trace header (bare runtime and server runs alike).
#[cfg(feature = "record")]
pub(crate) fn build_info() -> crate::trace::BuildInfo {
    crate::trace::BuildInfo {
        version: VERSION.into(),
        git_commit: GIT_COMMIT.into(),
        git_state: GIT_STATE.into(),
        target: TARGET.into(),
        profile: PROFILE.into(),
        rustc: RUSTC.into(),
    }
}
