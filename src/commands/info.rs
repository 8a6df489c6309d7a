//! `rkbench info`: the runtime library and board facts, each "unavailable (reason)" when missing.
use crate::board::{self, SysRoot};
use crate::cli::InfoArgs;
use crate::error::Result;

pub fn run(a: InfoArgs) -> Result<i32> {
    crate::out_line!(
        "{}",
        crate::provenance::long_version()
            .trim_end()
            .replace('\n', "\n  ")
    );
    runtime_section(&a);
    let root = a.sysfs_root.clone().map(SysRoot).unwrap_or_default();
    crate::out_line!("host: {}", board::hostname(&root));
    for f in board::facts(&root) {
        crate::out_line!("{:<24} {}", f.key, f.value);
    }
    Ok(0)
}

#[cfg(feature = "record")]
fn runtime_section(a: &InfoArgs) {
    use crate::runtime::{library, AbiVersion, Runtime};
    let path = match library::resolve_lib(a.lib.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            crate::out_line!("runtime.lib              unavailable ({e})");
            return;
        }
    };
    crate::out_line!("runtime.lib              {}", path.display());
    match library::inspect(&path) {
        Ok(f) => {
            crate::out_line!("runtime.size             {}", f.size);
            crate::out_line!("runtime.sha256           {}", f.sha256);
            crate::out_line!("runtime.git_blob         {}", f.git_blob);
            crate::out_line!(
                "runtime.banner           {}",
                f.banner_version
                    .as_deref()
                    .unwrap_or("unavailable (no version banner in the file)")
            );
        }
        Err(e) => {
            crate::out_line!("runtime.file             unavailable ({e})");
            return;
        }
    }
    let flag = a
        .runtime_abi
        .as_deref()
        .and_then(|s| s.parse::<AbiVersion>().ok());
    match Runtime::load(&path, flag, a.force_abi) {
        Ok(rt) => {
            // Each piece of evidence in order of trust, then the conclusion.
            for e in &rt.identity.evidence {
                crate::out_line!(
                    "{:<24} {} → {}",
                    format!("runtime.evidence.{}", e.source),
                    e.observed,
                    e.verdict()
                );
            }
            crate::out_line!("runtime.abi              {}", rt.abi());
            if !rt.identity.version.is_empty() {
                crate::out_line!("runtime.version          {}", rt.identity.version);
            }
            crate::out_line!("runtime.conclusion       {}", rt.identity.conclusion);
        }
        Err(e) => crate::out_line!("runtime.abi              unavailable ({e})"),
    }
}

#[cfg(not(feature = "record"))]
fn runtime_section(_a: &InfoArgs) {
    crate::out_line!("runtime                  unavailable (replay-only build)");
}
