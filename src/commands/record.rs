//! `rkbench record`: resolve every input up front (clear errors before the model loads), build
//! the trace header from what will actually be passed, then hand over to the suite loop.
use crate::board::{self, SysRoot};
use crate::cli::RecordArgs;
use crate::error::{Error, Result};
use crate::provenance;
use crate::record::schedule::Order;
use crate::record::{self, supervise, RecordPlan};
use crate::runtime::{library, AbiVersion, InitParams, Runtime};
use crate::suite;
use crate::trace::{BuildInfo, ModelInfo, RunHeader, RunParams, RuntimeInfo, SuiteInfo};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn run(a: RecordArgs, argv: Vec<String>) -> Result<i32> {
    if a.think && a.no_think {
        return Err(Error::usage(
            "--think and --no-think contradict each other; pass one",
        ));
    }
    let abi_flag = a
        .runtime_abi
        .as_deref()
        .map(str::parse::<AbiVersion>)
        .transpose()
        .map_err(|e| Error::usage(format!("--runtime-abi: {e}")))?;
    let order: Order = a
        .order
        .parse()
        .map_err(|e: String| Error::usage(format!("--order: {e}")))?;
    if a.sample_interval < std::time::Duration::from_millis(10) {
        return Err(Error::usage("--sample-interval must be at least 10ms"));
    }
    let mut suite = suite::load(&a.suite).map_err(|e| Error::input(e.to_string()))?;
    // Exact-token tests longer than the context window are left out (the `context` suite goes
    // as far as --max-context-len allows).
    let dropped = suite.drop_tests_beyond(a.max_context_len, a.max_new_tokens);
    if suite.tests.is_empty() {
        return Err(Error::input(format!(
            "suite {}: no test fits --max-context-len {} ({}); raise --max-context-len",
            suite.name,
            a.max_context_len,
            dropped.join("; ")
        )));
    }
    if !a.quiet && !supervise::is_child() {
        for d in &dropped {
            eprintln!("rkbench: {d}");
        }
    }
    let model = model_info(&a.model)?;
    let lib_path = library::resolve_lib(a.lib.as_deref())?;
    if !a.sweep.is_empty() && !supervise::is_child() {
        let axes = a
            .sweep
            .iter()
            .map(|s| record::sweep::parse_axis(s))
            .collect::<Result<Vec<_>>>()?;
        let dir = a
            .out
            .clone()
            .unwrap_or_else(|| default_out(&a.model).with_extension("sweep"));
        return record::sweep::run(&argv, &axes, &dir, a.quiet);
    }
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.model));
    if supervise::is_child() {
        supervise::watch_parent();
    } else if !a.no_supervise {
        // Inputs are checked above so errors come from this process, once; the child redoes
        // the cheap checks and runs the suite.
        if out.exists() {
            return Err(Error::input(format!(
                "trace {} already exists; traces are never overwritten, choose another --out",
                out.display()
            )));
        }
        return supervise::supervise(&argv, &out, a.quiet);
    }
    // A raised or sent SIGSEGV/SIGBUS must kill this process (not be swallowed by std's
    // stack-overflow handler) so the supervisor records `crashed`.
    crate::runtime::signals::prepare_recording_process()
        .map_err(|e| Error::internal(format!("cannot set signal dispositions: {e}")))?;
    let rt = Runtime::load(&lib_path, abi_flag)?;
    let abi = rt.abi();
    let think = if a.think {
        Some(true)
    } else if a.no_think {
        Some(false)
    } else {
        None
    };
    if think == Some(true) && !abi.has_thinking() {
        crate::err_line!("rkbench: warning: RKLLM {abi} has no enable_thinking; --think is ignored (the model's chat template decides)");
    }
    let chat_template = match &a.chat_template {
        None => None,
        Some(t) => {
            let v: Vec<String> = serde_json::from_str(t)
                .ok()
                .filter(|v: &Vec<String>| v.len() == 3)
                .ok_or_else(|| Error::usage("--chat-template takes a JSON array of three strings: [system, prefix, postfix]"))?;
            if abi < AbiVersion::V1_2_0 {
                return Err(Error::usage(format!("--chat-template needs rkllm_set_chat_template, which RKLLM {abi} does not have (1.2.0+)")));
            }
            Some((v[0].clone(), v[1].clone(), v[2].clone()))
        }
    };
    let threads = a
        .threads
        .map(|t| t as i8)
        .unwrap_or(a.cpus_mask.count_ones() as i8);
    let init = InitParams {
        model_path: a.model.display().to_string(),
        max_context_len: a.max_context_len,
        max_new_tokens: a.max_new_tokens.map(|n| n as i32).unwrap_or(-1),
        top_k: a.top_k,
        n_keep: -1,
        top_p: a.top_p,
        temperature: a.temperature,
        repeat_penalty: a.repeat_penalty,
        frequency_penalty: a.frequency_penalty,
        presence_penalty: a.presence_penalty,
        mirostat: 0,
        mirostat_tau: 5.0,
        mirostat_eta: 0.1,
        skip_special_token: true,
        base_domain_id: 0,
        embed_flash: 1,
        enabled_cpus_num: threads,
        enabled_cpus_mask: a.cpus_mask,
        n_batch: 1,
    };
    let root = a.sysfs_root.clone().map(SysRoot).unwrap_or_default();
    let header = RunHeader {
        rkbench: BuildInfo {
            version: provenance::VERSION.into(),
            git_commit: provenance::GIT_COMMIT.into(),
            git_state: provenance::GIT_STATE.into(),
            target: provenance::TARGET.into(),
            profile: provenance::PROFILE.into(),
            rustc: provenance::RUSTC.into(),
        },
        command_line: argv,
        hostname: board::hostname(&root),
        started_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        runtime: RuntimeInfo {
            lib_path: lib_path.display().to_string(),
            lib_size: rt.file.size,
            lib_sha256: rt.file.sha256.clone(),
            abi: abi.as_str().into(),
            version: rt.detection.version.clone(),
            evidence: rt.detection.evidence.clone(),
        },
        model,
        params: RunParams {
            max_context_len: init.max_context_len,
            max_new_tokens: init.max_new_tokens,
            top_k: init.top_k,
            top_p: init.top_p,
            temperature: init.temperature,
            repeat_penalty: init.repeat_penalty,
            frequency_penalty: init.frequency_penalty,
            presence_penalty: init.presence_penalty,
            mirostat: init.mirostat,
            mirostat_tau: init.mirostat_tau,
            mirostat_eta: init.mirostat_eta,
            n_keep: init.n_keep,
            skip_special_token: init.skip_special_token,
            base_domain_id: init.base_domain_id,
            embed_flash: init.embed_flash,
            enabled_cpus_num: init.enabled_cpus_num,
            enabled_cpus_mask: init.enabled_cpus_mask,
            n_batch: init.n_batch,
            think: think.unwrap_or(false) && abi.has_thinking(),
            timeout_ms: a.timeout.map(|d| d.as_millis() as u64).unwrap_or(0),
            keep_history: false,
        },
        suite: SuiteInfo {
            name: suite.name.clone(),
            source: suite.source.clone(),
            sha256: suite.sha256.clone(),
            tests: suite.tests.len() as u32,
        },
        board: {
            let mut f = board::facts(&root);
            f.push(crate::trace::Fact {
                key: "clock".into(),
                value: "CLOCK_MONOTONIC (std::time::Instant), microseconds; token times are deltas"
                    .into(),
            });
            if let Some((sys, pre, post)) = &chat_template {
                for (k, v) in [
                    ("chat_template.system", sys),
                    ("chat_template.prefix", pre),
                    ("chat_template.postfix", post),
                ] {
                    f.push(crate::trace::Fact {
                        key: k.into(),
                        value: v.clone(),
                    });
                }
                f.sort();
            }
            f
        },
    };
    let plan = RecordPlan {
        init,
        think,
        timeout: a.timeout,
        max_new_tokens: a.max_new_tokens,
        clear_kv: !a.no_clear_kv,
        checkpoint_interval: a.checkpoint_interval,
        fsync_checkpoints: a.fsync_checkpoints,
        abort_grace: a.abort_grace,
        quiet: a.quiet,
        out: out.clone(),
        chat_template,
        repeat: a.repeat.max(1),
        // --warmup wins; otherwise the suite's own (the rockchip suite asks for 2).
        warmup: if a.warmup > 0 { a.warmup } else { suite.warmup },
        order,
        seed: a.seed,
        cooldown: a.cooldown.unwrap_or_default(),
        max_duration: a.max_duration,
        min_requests: a.min_requests,
        telemetry: (!a.no_telemetry).then(|| (root.clone(), a.sample_interval)),
    };
    if !a.quiet {
        crate::err_line!(
            "rkbench: recording suite {} ({} tests) with {} (RKLLM ABI {}, {}) into {}",
            suite.name,
            suite.tests.len(),
            plan.init.model_path,
            abi,
            rt.detection.evidence,
            out.display()
        );
    }
    let outcome = record::record(rt, &suite, &plan, header)?;
    if !a.quiet {
        crate::err_line!(
            "rkbench: trace written to {} ({:?})",
            out.display(),
            outcome
        );
    }
    crate::out_line!("{}", out.display());
    Ok(outcome.exit_code())
}

fn default_out(model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    PathBuf::from("traces").join(format!("{stem}-{stamp}.rktrace"))
}

/// Size and a fast fingerprint: sha256 over (size LE ‖ first 1 MiB ‖ last 1 MiB).
pub fn model_info(path: &Path) -> Result<ModelInfo> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(format!(
            "model file {shown}: {e}; pass --model PATH to an .rkllm file"
        ))
    })?;
    if !meta.is_file() {
        return Err(Error::input(format!(
            "model path {shown} is not a file; pass --model PATH to an .rkllm file"
        )));
    }
    let size = meta.len();
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::input(format!("cannot open model file {shown}: {e}")))?;
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    const MIB: u64 = 1 << 20;
    let mut buf = vec![0u8; MIB as usize];
    let n = read_full(&mut f, &mut buf)
        .map_err(|e| Error::input(format!("cannot read model file {shown}: {e}")))?;
    h.update(&buf[..n]);
    if size > MIB {
        f.seek(SeekFrom::Start(size.saturating_sub(MIB).max(MIB.min(size))))
            .map_err(|e| Error::input(format!("cannot read model file {shown}: {e}")))?;
        let n = read_full(&mut f, &mut buf)
            .map_err(|e| Error::input(format!("cannot read model file {shown}: {e}")))?;
        h.update(&buf[..n]);
    }
    Ok(ModelInfo {
        path: path.display().to_string(),
        file_name: path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size,
        fingerprint: library::hex(&h.finalize()),
    })
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
