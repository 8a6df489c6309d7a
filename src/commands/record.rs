//! `rkbench record`: the planning step ([`plan`]) resolves and checks every input before the
//! model loads; [`plan::role`] says what this process is; this file only carries out the
//! effects (model fingerprint, runtime, trace header) and hands over to the suite loop.
use crate::board::{self, SysRoot};
use crate::cli::RecordArgs;
use crate::error::{Error, Result};
use crate::provenance;
use crate::record::plan::{self, Plan, Role};
use crate::record::{self, interrupt, supervise, RecordPlan};
use crate::runtime::{library, AbiVersion, Runtime};
use crate::trace::vocab;
use crate::trace::{Fact, ModelInfo, RunHeader, RunParams, RuntimeInfo, SuiteInfo};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::SystemTime;

/// `rkbench record`: plan, then act in the role the plan and the environment give this process.
pub(crate) fn run(a: RecordArgs, argv: Vec<OsString>) -> Result<i32> {
    let plan = plan::plan(&a, SystemTime::now())?;
    let role = plan::role(&plan, supervise::is_child());
    if role != (Role::Recorder { child: true }) {
        super::suite::warn(&plan.suite);
        if !plan.record.quiet {
            for d in &plan.dropped {
                crate::err_line!("rkbench: {d}");
            }
        }
    }
    match role {
        Role::ServerClient => {
            let url = plan.server.clone().unwrap_or_default();
            let argv = argv
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            crate::http::record::run(&a, &plan, argv, &url)
        }
        Role::SweepParent => match &plan.sweep {
            Some(s) => {
                let quiet = plan.record.quiet;
                supervise::install_forwarder();
                record::sweep::run(
                    &argv,
                    &s.axes,
                    s.auto,
                    &s.dir,
                    quiet,
                    interrupt::interrupted,
                    |args, _, out| supervise::supervise(args, out, quiet),
                )
            }
            None => Err(Error::internal("sweep role without a sweep plan")),
        },
        Role::ServerSweep => match (&plan.sweep, &plan.server) {
            (Some(s), Some(url)) => {
                // Before the first combination: the server recorder installs the same handler
                // for each, too late for an interrupt during the first one's planning.
                interrupt::install(
                    interrupt::Source::Terminal,
                    "ending the sweep, closing the current request",
                );
                record::sweep::run(
                    &argv,
                    &s.axes,
                    s.auto,
                    &s.dir,
                    plan.record.quiet,
                    interrupt::interrupted,
                    |args, combo, out| Ok(server_combination(&a, combo, out, args, url)),
                )
            }
            _ => Err(Error::internal(
                "server sweep role without a sweep plan and a server",
            )),
        },
        Role::Supervisor => {
            // Inputs are checked above so errors come from this process, once; the child
            // plans again (cheap) and records.
            let out = &plan.record.out;
            if out.exists() {
                return Err(Error::input(format!(
                    "trace {} already exists; traces are never overwritten, choose another --out",
                    out.display()
                )));
            }
            supervise::supervise(&argv, out, plan.record.quiet)
        }
        Role::Recorder { child } => {
            if child {
                supervise::watch_parent();
            }
            record_here(plan, &argv)
        }
    }
}

/// One combination of a server sweep, recorded in this process: planned the way the sweep
/// plan already checked it, then handed to the server recorder with its own command line (the
/// one its trace header records). An error ends only this combination, with the exit code and
/// the line a recording process would give, so the index records it and the sweep's rules
/// decide whether to go on.
fn server_combination(
    a: &RecordArgs,
    combo: &[(String, String)],
    out: &Path,
    argv: &[OsString],
    url: &str,
) -> i32 {
    let mut b = a.clone();
    b.sweep.clear();
    for (k, v) in combo {
        plan::set_flag(&mut b, k, v);
    }
    b.out = Some(out.to_path_buf());
    let argv = argv
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    match plan::plan(&b, SystemTime::now())
        .and_then(|p| crate::http::record::run(&b, &p, argv, url))
    {
        Ok(code) => code,
        Err(e) => {
            crate::err_line!("rkbench: error: {e}");
            e.exit_code()
        }
    }
}

/// The effects of recording: fingerprint the model, load the runtime, check the plan against
/// its ABI, write the header, run the suite.
fn record_here(plan: Plan, argv: &[OsString]) -> Result<i32> {
    let model = model_info(&plan.model)?;
    let lib_path = library::resolve_lib(plan.lib.as_deref())?;
    // A raised or sent SIGSEGV/SIGBUS must kill this process (not be swallowed by std's
    // stack-overflow handler) so the supervisor records `crashed`.
    crate::runtime::signals::prepare_recording_process()
        .map_err(|e| Error::internal(format!("cannot set signal dispositions: {e}")))?;
    if let Some(p) = &plan.record.power {
        // A power source that cannot be read is said before the runtime loads.
        crate::record::power::Source::open(p)?;
    }
    let rt = Runtime::load(&lib_path, plan.abi_flag, plan.force_abi)?;
    let abi = rt.abi();
    let rec = &plan.record;
    if let (Some(p), false) = (plan.preset, rec.quiet) {
        let values: Vec<String> = p.values.iter().map(|(k, v)| format!("{k} {v}")).collect();
        crate::err_line!(
            "rkbench: --preset {} (flags given override it): {}",
            p.name,
            values.join(", ")
        );
    }
    if rec.think == Some(true) && !abi.has_thinking() {
        crate::err_line!("rkbench: warning: RKLLM {abi} has no enable_thinking; --think is ignored (the model's chat template decides)");
    }
    if let (Some((family, _)), true) = (&rec.template_family, abi < AbiVersion::V1_2_0) {
        return Err(Error::input(format!(
            "suite {}: its system messages go to the runtime in the {} chat template through rkllm_set_chat_template, which RKLLM {abi} does not have (1.2.0+); use a newer runtime or remove the system messages",
            plan.suite.source,
            family.name()
        )));
    }
    if rec.chat_template.is_some() && abi < AbiVersion::V1_2_0 {
        return Err(Error::usage(format!("--chat-template needs rkllm_set_chat_template, which RKLLM {abi} does not have (1.2.0+)")));
    }
    let root = &plan.sysfs_root;
    let header = RunHeader {
        rkbench: provenance::build_info(),
        command_line: argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        hostname: board::hostname(root),
        started_unix_ms: provenance::started_unix_ms(),
        runtime: RuntimeInfo {
            lib_path: lib_path.display().to_string(),
            lib_size: rt.file.size,
            lib_sha256: rt.file.sha256.clone(),
            abi: abi.as_str().into(),
            version: rt.identity.version.clone(),
            evidence: format!(
                "{} ({})",
                rt.identity.conclusion,
                rt.identity.evidence_line()
            ),
        },
        model,
        params: run_params(rec, abi),
        suite: SuiteInfo {
            name: plan.suite.name.clone(),
            source: plan.suite.source.clone(),
            sha256: plan.suite.sha256.clone(),
            tests: plan.suite.tests.len() as u32,
        },
        board: board_facts(root, rec),
    };
    if !rec.quiet {
        crate::err_line!(
            "rkbench: recording suite {} ({} tests) with {} (RKLLM ABI {}, {}) into {}",
            plan.suite.name,
            plan.suite.tests.len(),
            rec.init.model_path,
            abi,
            rt.identity.conclusion,
            rec.out.display()
        );
    }
    let outcome = record::record(rt, &plan.suite, rec, header)?;
    if !rec.quiet {
        crate::err_line!(
            "rkbench: trace written to {} ({:?})",
            rec.out.display(),
            outcome
        );
    }
    crate::out_line!("{}", rec.out.display());
    Ok(outcome.exit_code())
}

/// The parameters as handed to the runtime, for the trace header.
fn run_params(rec: &RecordPlan, abi: AbiVersion) -> RunParams {
    let init = &rec.init;
    RunParams {
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
        think: rec.think.unwrap_or(false) && abi.has_thinking(),
        timeout_ms: rec.timeout.map(|d| d.as_millis() as u64).unwrap_or(0),
        keep_history: false,
    }
}

/// The board facts, the clock used, and the chat template when one replaces the runtime's.
fn board_facts(root: &SysRoot, rec: &RecordPlan) -> Vec<Fact> {
    let mut f = board::facts(root);
    f.push(Fact {
        key: vocab::fact::CLOCK.into(),
        value: "CLOCK_MONOTONIC (std::time::Instant), microseconds; token times are deltas".into(),
    });
    if let Some((sys, pre, post)) = &rec.chat_template {
        for (k, v) in [
            (vocab::fact::CHAT_TEMPLATE_SYSTEM, sys),
            (vocab::fact::CHAT_TEMPLATE_PREFIX, pre),
            (vocab::fact::CHAT_TEMPLATE_POSTFIX, post),
        ] {
            f.push(Fact {
                key: k.into(),
                value: v.clone(),
            });
        }
    }
    f.sort();
    f
}

/// Size and a fast fingerprint: sha256 over (size LE ‖ first 1 MiB ‖ last 1 MiB).
pub(crate) fn model_info(path: &Path) -> Result<ModelInfo> {
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
