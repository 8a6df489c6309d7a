//! `rkbench info`: the runtime library and board facts, each "unavailable (reason)" when missing.
use crate::board::{self, SysRoot};
use crate::cli::InfoArgs;
use crate::error::Result;

pub fn run(a: InfoArgs) -> Result<i32> {
    println!(
        "{}",
        crate::provenance::long_version()
            .trim_end()
            .replace('\n', "\n  ")
    );
    runtime_section(&a);
    let root = a.sysfs_root.clone().map(SysRoot).unwrap_or_default();
    println!("host: {}", board::hostname(&root));
    for f in board::facts(&root) {
        println!("{:<24} {}", f.key, f.value);
    }
    Ok(0)
}

#[cfg(feature = "record")]
fn runtime_section(a: &InfoArgs) {
    use crate::runtime::{library, AbiVersion, Runtime};
    let path = match library::resolve_lib(a.lib.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            println!("runtime.lib              unavailable ({e})");
            return;
        }
    };
    println!("runtime.lib              {}", path.display());
    match library::inspect(&path) {
        Ok(f) => {
            println!("runtime.size             {}", f.size);
            println!("runtime.sha256           {}", f.sha256);
            println!("runtime.git_blob         {}", f.git_blob);
            println!(
                "runtime.banner           {}",
                f.banner_version
                    .as_deref()
                    .unwrap_or("unavailable (no version banner in the file)")
            );
        }
        Err(e) => {
            println!("runtime.file             unavailable ({e})");
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
                println!(
                    "{:<24} {} → {}",
                    format!("runtime.evidence.{}", e.source),
                    e.observed,
                    e.verdict()
                );
            }
            println!("runtime.abi              {}", rt.abi());
            if !rt.identity.version.is_empty() {
                println!("runtime.version          {}", rt.identity.version);
            }
            println!("runtime.conclusion       {}", rt.identity.conclusion);
        }
        Err(e) => println!("runtime.abi              unavailable ({e})"),
    }
}

#[cfg(not(feature = "record"))]
fn runtime_section(_a: &InfoArgs) {
    println!("runtime                  unavailable (replay-only build)");
}
