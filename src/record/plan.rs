//! The planning step of `record`: command-line arguments → one validated, defaulted [`Plan`]
//! with the suite resolved, before anything is loaded, spawned or written. Every rule lives in
//! [`crate::limits`] (ranges) or here (defaults, the preset, cross-field rules), so the sweep
//! parent can plan each combination up front and refuse a bad one before recording anything.
//! [`role`] is the one place that decides what this process does.
use super::run::RecordPlan;
use super::schedule::Order;
use super::sweep::{self, Axis};
use super::template::Family;
use crate::board::SysRoot;
use crate::cli::RecordArgs;
use crate::error::{Error, Result};
use crate::limits::{self, Value};
use crate::runtime::{AbiVersion, InitParams};
use crate::suite::{self, Suite};
use crate::trace::{Fact, PresetUsed};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What this `rkbench record` process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Runs one supervised recording per `--sweep` combination and writes the index.
    SweepParent,
    /// Starts the recorder as a child and finalises its trace if the runtime kills it.
    Supervisor,
    /// Loads the runtime and records: the supervised child, or this process with
    /// `--no-supervise`.
    Recorder { child: bool },
    /// Measures an HTTP server (`--server`) from this process: no runtime to supervise.
    ServerClient,
    /// `--server` with `--sweep`: records each combination against the server in this
    /// process, one after another (nothing to isolate: no FFI, no runtime to re-initialise),
    /// and writes the index.
    ServerSweep,
}

/// Decide the role from the plan and whether this process was started as the recording child
/// (the supervisor marks its child in the environment; the caller reads it).
pub(crate) fn role(plan: &Plan, is_child: bool) -> Role {
    if plan.server.is_some() {
        if plan.sweep.is_some() {
            Role::ServerSweep
        } else {
            Role::ServerClient
        }
    } else if is_child {
        Role::Recorder { child: true }
    } else if plan.sweep.is_some() {
        Role::SweepParent
    } else if plan.supervise {
        Role::Supervisor
    } else {
        Role::Recorder { child: false }
    }
}

/// A named set of settings that stands in for flags not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preset {
    pub name: &'static str,
    /// (flag, value) pairs, checked by the same table as typed flags.
    pub values: &'static [(&'static str, &'static str)],
    /// Thinking mode, unless `--think`/`--no-think` is given.
    pub think: Option<bool>,
}

/// The original Python tool's effective settings (VenomekPL/RockchipLlama at 65695c1): its
/// server passed `config/inference_config.json` to `rkllm_init` (penalties included, with its
/// 16 k context and 4096-token cap) and `enable_thinking = false`; its client gave up on a
/// request after 300 s.
pub(crate) const ORIGINAL: Preset = Preset {
    name: "original",
    values: &[
        ("top-k", "20"),
        ("top-p", "0.95"),
        ("temperature", "0.6"),
        ("repeat-penalty", "0.9"),
        ("frequency-penalty", "0.6"),
        ("presence-penalty", "0.1"),
        ("max-context-len", "16384"),
        ("max-new-tokens", "4096"),
        ("cpus-mask", "0xF0"),
        ("threads", "4"),
        ("timeout", "300s"),
    ],
    think: Some(false),
};

pub(crate) const PRESETS: [Preset; 1] = [ORIGINAL];

/// rkbench's own defaults for flags neither given nor set by a preset.
const DEFAULTS: &[(&str, &str)] = &[
    ("top-k", "1"),
    ("top-p", "0.95"),
    ("temperature", "0.8"),
    ("repeat-penalty", "1.1"),
    ("frequency-penalty", "0"),
    ("presence-penalty", "0"),
    ("max-context-len", "4096"),
    ("cpus-mask", "0xF0"),
    ("repeat", "1"),
    ("warmup", "0"),
    ("min-requests", "0"),
    ("cooldown", "0s"),
    ("sample-interval", "200ms"),
    ("checkpoint-interval", "1s"),
    ("abort-grace", "10s"),
];

/// The sweep part of a plan.
#[derive(Debug, Clone)]
pub(crate) struct SweepPlan {
    pub axes: Vec<Axis>,
    pub dir: PathBuf,
    /// `--sweep load=auto`: its levels are decided as it goes.
    pub auto: Option<sweep::AutoLoad>,
}

/// Everything `record` will do, decided. Only the effects are left: reading the model
/// file's fingerprint, loading the runtime, spawning, writing.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub suite: Suite,
    pub model: PathBuf,
    pub lib: Option<PathBuf>,
    /// `--server URL`: measure an HTTP server instead of loading the runtime.
    pub server: Option<String>,
    pub abi_flag: Option<AbiVersion>,
    /// `--force-abi`: `abi_flag` overrides contradicting evidence.
    pub force_abi: bool,
    pub preset: Option<Preset>,
    pub sweep: Option<SweepPlan>,
    pub supervise: bool,
    pub sysfs_root: SysRoot,
    /// Notes on exact-token tests left out because they do not fit the context window.
    pub dropped: Vec<String>,
    pub record: RecordPlan,
}

/// The value a flag has: typed, else from the preset, else rkbench's default.
fn raw<'a>(a: &'a RecordArgs, preset: Option<Preset>, flag: &str) -> Option<(&'a str, bool)> {
    let typed = match flag {
        "top-k" => a.top_k.as_deref(),
        "top-p" => a.top_p.as_deref(),
        "temperature" => a.temperature.as_deref(),
        "repeat-penalty" => a.repeat_penalty.as_deref(),
        "frequency-penalty" => a.frequency_penalty.as_deref(),
        "presence-penalty" => a.presence_penalty.as_deref(),
        "max-context-len" => a.max_context_len.as_deref(),
        "max-new-tokens" => a.max_new_tokens.as_deref(),
        "cpus-mask" => a.cpus_mask.as_deref(),
        "threads" => a.threads.as_deref(),
        "timeout" => a.timeout.as_deref(),
        "repeat" => a.repeat.as_deref(),
        "warmup" => a.warmup.as_deref(),
        "min-requests" => a.min_requests.as_deref(),
        "max-duration" => a.max_duration.as_deref(),
        "cooldown" => a.cooldown.as_deref(),
        "sample-interval" => a.sample_interval.as_deref(),
        "checkpoint-interval" => a.checkpoint_interval.as_deref(),
        "abort-grace" => a.abort_grace.as_deref(),
        "concurrency" => a.concurrency.as_deref(),
        "rate" => a.rate.as_deref(),
        "burstiness" => a.burstiness.as_deref(),
        "max-concurrency" => a.max_concurrency.as_deref(),
        _ => None,
    };
    if let Some(v) = typed {
        return Some((v, true));
    }
    let preset = preset
        .and_then(|p| p.values.iter().find(|(f, _)| *f == flag))
        .or_else(|| DEFAULTS.iter().find(|(f, _)| *f == flag));
    preset.map(|(_, v)| (*v, false))
}

/// Set a sweepable flag to `value` (the sweep parent plans each combination this way).
pub(crate) fn set_flag(a: &mut RecordArgs, flag: &str, value: &str) {
    let v = Some(value.to_string());
    match flag {
        "top-k" => a.top_k = v,
        "top-p" => a.top_p = v,
        "temperature" => a.temperature = v,
        "repeat-penalty" => a.repeat_penalty = v,
        "frequency-penalty" => a.frequency_penalty = v,
        "presence-penalty" => a.presence_penalty = v,
        "max-context-len" => a.max_context_len = v,
        "max-new-tokens" => a.max_new_tokens = v,
        "cpus-mask" => a.cpus_mask = v,
        "threads" => a.threads = v,
        "timeout" => a.timeout = v,
        "concurrency" => a.concurrency = v,
        "rate" => a.rate = v,
        "arrivals" => a.arrivals = v,
        _ => {}
    }
}

/// A checked value of `flag`, or `None` when it has neither a value nor a default.
fn value(a: &RecordArgs, preset: Option<Preset>, flag: &str) -> Result<Option<Value>> {
    let Some((v, typed)) = raw(a, preset, flag) else {
        return Ok(None);
    };
    // `--timeout none` turns a preset's deadline off.
    if flag == "timeout" && typed && v.trim() == "none" {
        return Ok(None);
    }
    let from = match (typed, preset) {
        (false, Some(p)) if p.values.iter().any(|(f, _)| *f == flag) => {
            format!(" (from --preset {})", p.name)
        }
        _ => String::new(),
    };
    limits::get(flag)
        .parse(v)
        .map(Some)
        .map_err(|e| Error::usage(format!("--{flag}{from}: {e}")))
}

fn int(a: &RecordArgs, p: Option<Preset>, flag: &str) -> Result<Option<i64>> {
    Ok(value(a, p, flag)?.map(Value::int))
}

fn float(a: &RecordArgs, p: Option<Preset>, flag: &str) -> Result<f32> {
    Ok(value(a, p, flag)?.map(Value::float).unwrap_or(0.0) as f32)
}

fn time(a: &RecordArgs, p: Option<Preset>, flag: &str) -> Result<Option<Duration>> {
    Ok(value(a, p, flag)?.map(Value::time))
}

/// The template that carries the suite's system messages: `--template-family`, else the
/// family the model file name says. A suite with a system message and no known family is
/// refused, as is one combined with `--chat-template`: the message is never silently dropped.
fn template_family(a: &RecordArgs, suite: &Suite) -> Result<Option<(Family, String)>> {
    let flag = match a.template_family.as_deref() {
        None => None,
        Some(f) => Some(Family::parse(f).ok_or_else(|| {
            Error::usage(format!(
                "--template-family {f:?}: use one of {}",
                Family::NAMES
            ))
        })?),
    };
    let with_system: Vec<&str> = suite
        .tests
        .iter()
        .filter(|t| t.system.is_some())
        .map(|t| t.id.as_str())
        .collect();
    if with_system.is_empty() && flag.is_none() {
        return Ok(None);
    }
    let which = format!(
        "test{} {} {}",
        if with_system.len() == 1 { "" } else { "s" },
        with_system.join(", "),
        if with_system.len() == 1 {
            "has"
        } else {
            "have"
        }
    );
    if a.chat_template.is_some() {
        return Err(Error::usage(if with_system.is_empty() {
            "--chat-template and --template-family both set the chat template; pass one".to_string()
        } else {
            format!("suite {}: {which} a system message, which rkbench sends in the model's chat template; --chat-template would replace it, so drop --chat-template (use --template-family to choose the family)", suite.source)
        }));
    }
    let file_name = a
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match (flag, Family::detect(&file_name)) {
        (Some(f), _) => Ok(Some((f, format!("{} (--template-family)", f.name())))),
        (None, Some(f)) => Ok(Some((
            f,
            format!("{} (detected from the model file name {file_name:?})", f.name()),
        ))),
        (None, None) => Err(Error::input(format!(
            "suite {}: {which} a system message, which RKLLM takes only inside a chat template (rkllm_set_chat_template), and the template family of {file_name:?} is not known from its name; pass --template-family ({}) or remove the system messages",
            suite.source,
            Family::NAMES
        ))),
    }
}

/// The default trace name: `traces/<model stem>-<UTC time>.rktrace`; with `--server`, where
/// the model is the server's name for it (not a file), `traces/<model name>-server-<UTC
/// time>.rktrace` with anything but letters, digits, `-` and `.` as `-`.
pub(crate) fn default_out(model: &Path, server: bool, now: SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if server {
        let name: String = model
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        return PathBuf::from("traces").join(format!("{name}-server-{stamp}.rktrace"));
    }
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    PathBuf::from("traces").join(format!("{stem}-{stamp}.rktrace"))
}

/// Arguments → plan. `now` names the default output; nothing else here reads the clock, and
/// the only files read are the suite and the `--sysfs-root` directory's metadata.
pub(crate) fn plan(a: &RecordArgs, now: SystemTime) -> Result<Plan> {
    let preset = match a.preset.as_deref() {
        None => None,
        Some(name) => Some(
            PRESETS
                .iter()
                .copied()
                .find(|p| p.name == name)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--preset {name:?}: no such preset; use original (the original tool's settings)"
                    ))
                })?,
        ),
    };
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
    if a.force_abi && abi_flag.is_none() {
        return Err(Error::usage(
            "--force-abi needs --runtime-abi VERSION (the ABI to force)",
        ));
    }
    let order: Order = a
        .order
        .as_deref()
        .unwrap_or("interleaved")
        .parse()
        .map_err(|e: String| Error::usage(format!("--order: {e}")))?;
    let model_path = a.model.to_str().ok_or_else(|| {
        Error::input(format!(
            "--model {:?}: the path is not valid UTF-8, and RKLLM takes it as text; rename the file or link it under a UTF-8 name",
            a.model.to_string_lossy()
        ))
    })?;
    let sysfs_root = match &a.sysfs_root {
        None => SysRoot::default(),
        Some(r) if r.is_dir() => SysRoot(r.clone()),
        Some(r) => {
            return Err(Error::input(format!(
                "--sysfs-root {}: not a directory; give the directory that holds sys/ and proc/",
                r.display()
            )))
        }
    };

    let ctx = int(a, preset, "max-context-len")?.unwrap_or(4096);
    let cap = int(a, preset, "max-new-tokens")?;
    // With --server the context window is the server's own setting: no cap is checked
    // against rkbench's default.
    let local = a.server.is_none();
    if let Some(c) = cap.filter(|&c| c > ctx && local) {
        return Err(Error::usage(format!(
            "--max-new-tokens {c} is larger than --max-context-len {ctx}; the output cannot outgrow the context window, lower the cap or raise the context"
        )));
    }
    let mask = int(a, preset, "cpus-mask")?.unwrap_or(0xF0) as u32;
    let threads = match int(a, preset, "threads")? {
        Some(t) if t > i64::from(mask.count_ones()) => {
            return Err(Error::usage(format!(
                "--threads {t} is more than the {} CPUs in --cpus-mask 0x{mask:X}; use at most {0} threads or widen the mask",
                mask.count_ones()
            )))
        }
        Some(t) => t as i8,
        None => mask.count_ones() as i8,
    };
    let timeout = time(a, preset, "timeout")?;

    let spec = a.suite.as_deref().unwrap_or("default");
    let mut suite = suite::load(spec).map_err(|e| Error::input(e.to_string()))?;
    // Exact-token tests longer than the context window are left out (the `context` suite goes
    // as far as --max-context-len allows).
    let dropped = suite.drop_tests_beyond(ctx as i32, cap.map(|c| c as u32));
    if suite.tests.is_empty() {
        return Err(Error::input(format!(
            "suite {}: no test fits --max-context-len {ctx} ({}); raise --max-context-len",
            suite.name,
            dropped.join("; ")
        )));
    }
    for t in &suite.tests {
        if let Some(c) = t.max_new_tokens.filter(|&c| i64::from(c) > ctx && local) {
            if cap.is_none() {
                return Err(Error::input(format!(
                    "suite {}: test {:?} has max_new_tokens {c}, larger than --max-context-len {ctx}; raise the context or lower the test's cap",
                    suite.source, t.id
                )));
            }
        }
    }

    let sweep = if a.sweep.is_empty() {
        None
    } else {
        let axes = sweep::parse_axes(&a.sweep)?;
        if a.server.is_some() {
            sweep::refuse_server_settings(&axes)?;
        }
        let auto_given = axes.iter().any(|x| x.key == sweep::AUTO_KEY);
        if auto_given && a.server.is_none() {
            return Err(Error::usage(
                "--sweep load=auto offers load to a server and needs --server URL; on the runtime sweep --sweep concurrency=1,2 (instances)",
            ));
        }
        if auto_given && (a.concurrency.is_some() || a.rate.is_some()) {
            return Err(Error::usage(
                "--sweep load=auto sets --concurrency and --rate of each level itself: drop them",
            ));
        }
        // Plan every combination now, so a bad value is refused before anything is recorded
        // and the error names the --sweep value the user typed (`load=auto`: its first level,
        // which also says how many requests a level sends).
        let mut planned_requests = 0usize;
        for mut combo in sweep::Grid::new(&axes)?.iter() {
            if auto_given {
                let (k, v) = sweep::AUTO_SYNCHRONOUS;
                combo = vec![(k.to_string(), v.to_string())];
            }
            let mut b = a.clone();
            b.sweep.clear();
            for (k, v) in &combo {
                set_flag(&mut b, k, v);
            }
            let p = plan(&b, now).map_err(|e| Error {
                kind: e.kind,
                msg: format!("--sweep {}: {}", sweep::label_plain(&combo), e.msg),
            })?;
            if auto_given {
                let r = &p.record;
                let slots = super::schedule::plan(&p.suite, r.repeat, r.warmup, r.order, r.seed);
                let warm = slots.iter().filter(|s| s.warmup).count();
                planned_requests = r.run_control().expected(&slots) - warm;
            }
        }
        let dir = a.out.clone().unwrap_or_else(|| {
            default_out(&a.model, a.server.is_some(), now).with_extension("sweep")
        });
        let auto = sweep::auto_load(&axes, planned_requests, a.arrivals.is_some())?;
        Some(SweepPlan { axes, dir, auto })
    };

    let think = if a.think {
        Some(true)
    } else if a.no_think {
        Some(false)
    } else {
        preset.and_then(|p| p.think)
    };
    let chat_template = match &a.chat_template {
        None => None,
        Some(t) => {
            let v: Vec<String> = serde_json::from_str(t)
                .ok()
                .filter(|v: &Vec<String>| v.len() == 3)
                .ok_or_else(|| {
                    Error::usage(
                        "--chat-template takes a JSON array of three strings: [system, prefix, postfix]",
                    )
                })?;
            Some((v[0].clone(), v[1].clone(), v[2].clone()))
        }
    };
    let template_family = template_family(a, &suite)?;
    let preset_used = preset.map(|p| PresetUsed {
        name: p.name.into(),
        values: p
            .values
            .iter()
            .map(|(k, v)| Fact {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect(),
        overridden: p
            .values
            .iter()
            .filter(|(k, _)| raw(a, None, k).is_some_and(|(_, typed)| typed))
            .map(|(k, _)| (*k).to_string())
            .chain((p.think.is_some() && (a.think || a.no_think)).then(|| "think".to_string()))
            .collect(),
    });
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_out(&a.model, a.server.is_some(), now));
    let init = InitParams {
        model_path: model_path.to_string(),
        max_context_len: ctx as i32,
        max_new_tokens: cap.map(|c| c as i32).unwrap_or(-1),
        top_k: int(a, preset, "top-k")?.unwrap_or(1) as i32,
        n_keep: -1,
        top_p: float(a, preset, "top-p")?,
        temperature: float(a, preset, "temperature")?,
        repeat_penalty: float(a, preset, "repeat-penalty")?,
        frequency_penalty: float(a, preset, "frequency-penalty")?,
        presence_penalty: float(a, preset, "presence-penalty")?,
        mirostat: 0,
        mirostat_tau: 5.0,
        mirostat_eta: 0.1,
        skip_special_token: true,
        base_domain_id: 0,
        embed_flash: 1,
        enabled_cpus_num: threads,
        enabled_cpus_mask: mask,
        n_batch: 1,
        // Exact-token suites (rockchip, context) measure a fixed output length: on 1.3.0 the
        // runtime can be told to keep generating past EOS to the cap.
        ignore_eos_token: suite
            .tests
            .iter()
            .all(|t| t.input_tokens.is_some() && (cap.is_some() || t.max_new_tokens.is_some())),
    };
    let record = RecordPlan {
        init,
        think,
        timeout,
        max_new_tokens: cap.map(|c| c as u32),
        clear_kv: !a.no_clear_kv,
        checkpoint_interval: time(a, preset, "checkpoint-interval")?.unwrap_or_default(),
        fsync_checkpoints: a.fsync_checkpoints,
        abort_grace: time(a, preset, "abort-grace")?.unwrap_or_default(),
        quiet: a.quiet,
        out,
        chat_template,
        template_family,
        preset: preset_used,
        repeat: int(a, preset, "repeat")?.unwrap_or(1) as u32,
        // --warmup wins; otherwise the suite's own (the rockchip suite asks for 2).
        warmup: match a.warmup {
            Some(_) => int(a, preset, "warmup")?.unwrap_or(0) as u32,
            None => suite.warmup,
        },
        order,
        seed: a.seed,
        cooldown: time(a, preset, "cooldown")?.unwrap_or_default(),
        max_duration: time(a, preset, "max-duration")?,
        min_requests: int(a, preset, "min-requests")?.unwrap_or(0) as u32,
        telemetry: (!a.no_telemetry).then(|| {
            (
                sysfs_root.clone(),
                time(a, preset, "sample-interval")
                    .ok()
                    .flatten()
                    .unwrap_or(Duration::from_millis(200)),
            )
        }),
        load: super::load::LoadPlan::from_flags(
            a.concurrency
                .as_deref()
                .map(|_| int(a, preset, "concurrency"))
                .transpose()?
                .flatten(),
            a.rate
                .as_deref()
                .map(|_| value(a, preset, "rate"))
                .transpose()?
                .flatten()
                .map(Value::float),
            a.arrivals.as_deref(),
            a.burstiness
                .as_deref()
                .map(|_| value(a, preset, "burstiness"))
                .transpose()?
                .flatten()
                .map(Value::float),
            a.max_concurrency
                .as_deref()
                .map(|_| int(a, preset, "max-concurrency"))
                .transpose()?
                .flatten(),
            a.seed,
            local,
        )?,
        power: super::power::PowerPlan::from_flags(
            a.power.as_deref(),
            a.power_interval.as_deref(),
            a.power_baseline.as_deref(),
            &sysfs_root,
        )?,
        sysfs_root: sysfs_root.clone(),
    };
    // Checked eagerly so an error is not hidden inside the closure above.
    time(a, preset, "sample-interval")?;
    Ok(Plan {
        suite,
        model: a.model.clone(),
        lib: a.lib.clone(),
        server: a.server.clone(),
        abi_flag,
        force_abi: a.force_abi,
        preset,
        sweep,
        supervise: !a.no_supervise,
        sysfs_root,
        dropped,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[(&str, &str)]) -> RecordArgs {
        let mut a = RecordArgs {
            model: PathBuf::from("models/Qwen3-4B.rkllm"),
            suite: Some("quick".into()),
            ..Default::default()
        };
        for (k, v) in extra {
            match *k {
                "preset" => a.preset = Some(v.to_string()),
                "suite" => a.suite = Some(v.to_string()),
                "sweep" => a.sweep.push(v.to_string()),
                "order" => a.order = Some(v.to_string()),
                "no-supervise" => a.no_supervise = true,
                "think" => a.think = true,
                "no-think" => a.no_think = true,
                "repeat" => a.repeat = Some(v.to_string()),
                "max-duration" => a.max_duration = Some(v.to_string()),
                "sample-interval" => a.sample_interval = Some(v.to_string()),
                flag => set_flag(&mut a, flag, v),
            }
        }
        a
    }

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
    }

    fn err(extra: &[(&str, &str)]) -> Error {
        match plan(&args(extra), at()) {
            Ok(p) => panic!("planned {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn defaults_are_filled_and_the_suite_resolved() {
        let p = plan(&args(&[]), at()).unwrap();
        assert_eq!(p.suite.name, "quick");
        let i = &p.record.init;
        assert_eq!(
            (i.top_k, i.top_p, i.temperature, i.repeat_penalty),
            (1, 0.95, 0.8, 1.1)
        );
        assert_eq!((i.max_context_len, i.max_new_tokens), (4096, -1));
        assert_eq!((i.enabled_cpus_mask, i.enabled_cpus_num), (0xF0, 4));
        assert_eq!(p.record.repeat, 1);
        assert_eq!(p.record.abort_grace, Duration::from_secs(10));
        assert_eq!(p.record.checkpoint_interval, Duration::from_secs(1));
        assert_eq!(p.record.timeout, None);
        assert_eq!(
            p.record.out,
            PathBuf::from("traces/Qwen3-4B-20260101T000000Z.rktrace")
        );
        assert_eq!(p.record.think, None);
    }

    #[test]
    fn role_is_decided_in_one_place() {
        let p = plan(&args(&[]), at()).unwrap();
        assert_eq!(role(&p, false), Role::Supervisor);
        assert_eq!(role(&p, true), Role::Recorder { child: true });
        let p = plan(&args(&[("no-supervise", "")]), at()).unwrap();
        assert_eq!(role(&p, false), Role::Recorder { child: false });
        let p = plan(&args(&[("sweep", "threads=2,4")]), at()).unwrap();
        assert_eq!(role(&p, false), Role::SweepParent);
        let mut a = args(&[]);
        a.server = Some("http://board:8080".into());
        assert_eq!(role(&plan(&a, at()).unwrap(), false), Role::ServerClient);
        // A server sweep runs in this process, whatever the environment says.
        let mut a = args(&[("sweep", "temperature=0.2,0.8")]);
        a.server = Some("http://board:8080".into());
        a.model = PathBuf::from("qwen3:4b.q4");
        let s = plan(&a, at()).unwrap();
        assert_eq!(role(&s, false), Role::ServerSweep);
        // The model is the server's name for it, not a file: all of it names the output.
        assert_eq!(
            s.sweep.as_ref().map(|s| s.dir.clone()),
            Some(PathBuf::from(
                "traces/qwen3-4b.q4-server-20260101T000000Z.sweep"
            ))
        );
        assert_eq!(role(&s, true), Role::ServerSweep);
        a.no_supervise = true;
        assert_eq!(role(&plan(&a, at()).unwrap(), false), Role::ServerSweep);
        assert_eq!(
            p.sweep.map(|s| s.dir),
            Some(PathBuf::from("traces/Qwen3-4B-20260101T000000Z.sweep"))
        );
    }

    #[test]
    fn preset_original_and_explicit_flags_override_it() {
        let p = plan(&args(&[("preset", "original")]), at()).unwrap();
        let i = &p.record.init;
        assert_eq!((i.top_k, i.top_p, i.temperature), (20, 0.95, 0.6));
        assert_eq!(i.repeat_penalty, 0.9);
        assert_eq!((i.frequency_penalty, i.presence_penalty), (0.6, 0.1));
        assert_eq!((i.max_context_len, i.max_new_tokens), (16384, 4096));
        assert_eq!((i.enabled_cpus_mask, i.enabled_cpus_num), (0xF0, 4));
        assert_eq!(p.record.timeout, Some(Duration::from_secs(300)));
        assert_eq!(p.record.think, Some(false));
        assert_eq!(p.preset.map(|p| p.name), Some("original"));

        let p = plan(
            &args(&[("preset", "original"), ("top-k", "5"), ("think", "")]),
            at(),
        )
        .unwrap();
        assert_eq!(p.record.init.top_k, 5);
        assert_eq!(p.record.think, Some(true));
        assert!(err(&[("preset", "nope")]).msg.contains("no such preset"));
        let p = plan(&args(&[("preset", "original"), ("timeout", "none")]), at()).unwrap();
        assert_eq!(p.record.timeout, None);
    }

    #[test]
    fn numeric_flags_are_checked_before_the_runtime_loads() {
        // F4, F7, F17, F18: each refused with the flag named and the valid range.
        for (flag, v, says) in [
            (
                "max-new-tokens",
                "2147483648",
                "--max-new-tokens: 2147483648 is out of range",
            ),
            ("max-new-tokens", "0", "--max-new-tokens: 0 is out of range"),
            ("top-p", "7", "--top-p: 7 is out of range: use (0, 1]"),
            ("top-p", "NaN", "--top-p: NaN is out of range"),
            ("temperature", "-1", "--temperature: -1 is out of range"),
            ("top-k", "-1", "--top-k: -1 is out of range"),
            (
                "repeat-penalty",
                "-0.5",
                "--repeat-penalty: -0.5 is out of range",
            ),
            (
                "threads",
                "200",
                "--threads: 200 is out of range: use 1..=8",
            ),
            ("threads", "0", "--threads: 0 is out of range"),
            ("cpus-mask", "0", "--cpus-mask: 0 is out of range"),
            ("timeout", "0s", "--timeout: 0s is out of range"),
            ("repeat", "0", "--repeat: 0 is out of range"),
            (
                "repeat",
                "4294967295",
                "--repeat: 4294967295 is out of range",
            ),
            ("max-duration", "0s", "--max-duration: 0s is out of range"),
        ] {
            let e = err(&[(flag, v)]);
            assert!(e.msg.starts_with(says), "{flag} {v}: {}", e.msg);
            assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        }
        let e = err(&[("threads", "6"), ("cpus-mask", "0xF0")]);
        assert!(
            e.msg.contains("more than the 4 CPUs in --cpus-mask 0xF0"),
            "{}",
            e.msg
        );
        let e = err(&[("max-new-tokens", "5000")]);
        assert!(
            e.msg.contains("larger than --max-context-len 4096"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn sweep_values_go_through_the_same_rules_and_name_the_sweep() {
        let e = err(&[("sweep", "top-p=0.5,7")]);
        assert!(
            e.msg
                .starts_with("--sweep top-p=7: --top-p: 7 is out of range"),
            "{}",
            e.msg
        );
        let e = err(&[("sweep", "threads=2,6")]);
        assert!(
            e.msg.starts_with("--sweep threads=6: --threads 6 is more"),
            "{}",
            e.msg
        );
        let e = err(&[("sweep", "threads=2,2")]);
        assert!(e.msg.contains("twice"), "{}", e.msg);
    }

    #[test]
    fn a_sweep_at_the_limit_is_planned_and_one_past_it_refused() {
        // #21 G5: the grid is counted first; a grid of exactly the limit is planned (every
        // combination checked) without being built.
        let list = |n: u32, unit: &str| {
            (1..=n)
                .map(|i| format!("{i}{unit}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mnt = format!("max-new-tokens={}", list(10, ""));
        let topk = format!("top-k={}", list(10, ""));
        let timeout = format!("timeout={}", list(10, "s"));
        let p = plan(
            &args(&[("sweep", &mnt), ("sweep", &topk), ("sweep", &timeout)]),
            at(),
        )
        .unwrap();
        let axes = p.sweep.unwrap().axes;
        assert_eq!(
            sweep::Grid::new(&axes).unwrap().len(),
            sweep::MAX_COMBINATIONS
        );
        let e = err(&[
            ("sweep", &mnt),
            ("sweep", &topk),
            ("sweep", &timeout),
            ("sweep", "temperature=0.1,0.2"),
        ]);
        assert!(
            e.msg
                .starts_with("--sweep: 10 × 10 × 10 × 2 = 2000 combinations, more than the 1000"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn suite_caps_larger_than_the_context_are_refused() {
        let e = err(&[("suite", "default"), ("max-context-len", "1024")]);
        assert!(
            e.msg
                .contains("max_new_tokens 2048, larger than --max-context-len 1024"),
            "{}",
            e.msg
        );
        // A command-line cap replaces the suite's caps.
        assert!(plan(
            &args(&[
                ("suite", "default"),
                ("max-context-len", "1024"),
                ("max-new-tokens", "512")
            ]),
            at()
        )
        .is_ok());
    }

    fn system_suite(dir: &str) -> String {
        let d = std::env::temp_dir().join(format!("rkbench-plan-{dir}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("sys.json");
        std::fs::write(
            &f,
            r#"{"tests": [{"id": "a", "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]}, {"id": "b", "prompt": "p"}]}"#,
        )
        .unwrap();
        f.to_string_lossy().into_owned()
    }

    #[test]
    fn system_messages_get_the_family_template_or_are_refused() {
        let suite = system_suite("sys");
        let p = plan(&args(&[("suite", &suite)]), at()).unwrap();
        let (family, origin) = p.record.template_family.unwrap();
        assert_eq!(family, Family::Qwen3);
        assert_eq!(
            origin,
            "qwen3 (detected from the model file name \"Qwen3-4B.rkllm\")"
        );
        let mut a = args(&[("suite", &suite)]);
        a.model = PathBuf::from("models/gemma-2b.rkllm");
        let e = plan(&a, at()).unwrap_err();
        assert!(
            e.msg.contains("test a has a system message") && e.msg.contains("--template-family"),
            "{}",
            e.msg
        );
        assert_eq!(e.exit_code(), crate::error::exit::INPUT);
        a.template_family = Some("chatml".into());
        let p = plan(&a, at()).unwrap();
        assert_eq!(
            p.record.template_family.map(|f| f.1),
            Some("chatml (--template-family)".to_string())
        );
        a.template_family = Some("llama9".into());
        assert!(plan(&a, at())
            .unwrap_err()
            .msg
            .contains("use one of chatml, qwen3"));
        let mut a = args(&[("suite", &suite)]);
        a.chat_template = Some(r#"["", "u", "a"]"#.into());
        assert!(plan(&a, at())
            .unwrap_err()
            .msg
            .contains("drop --chat-template"));
        // Without system messages the runtime's own template stays.
        assert!(plan(&args(&[]), at())
            .unwrap()
            .record
            .template_family
            .is_none());
    }

    #[test]
    fn the_preset_is_recorded_with_what_overrode_it() {
        let p = plan(
            &args(&[("preset", "original"), ("top-k", "5"), ("think", "")]),
            at(),
        )
        .unwrap();
        let r = p.record.preset.unwrap();
        assert_eq!(r.name, "original");
        assert_eq!(r.values.len(), ORIGINAL.values.len());
        assert_eq!(
            r.values[0],
            Fact {
                key: "top-k".into(),
                value: "20".into()
            }
        );
        assert_eq!(r.overridden, ["top-k", "think"]);
    }

    #[test]
    fn sysfs_root_must_exist() {
        let mut a = args(&[]);
        a.sysfs_root = Some(PathBuf::from("/nonexistent/rkbench-root"));
        let e = plan(&a, at()).unwrap_err();
        assert!(
            e.msg
                .starts_with("--sysfs-root /nonexistent/rkbench-root: not a directory"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn server_sweeps_take_what_a_request_carries() {
        let mut a = args(&[
            ("sweep", "temperature=0.2,0.8"),
            ("sweep", "max-new-tokens=4,8192"),
        ]);
        a.server = Some("http://board:8080".into());
        // No context check against rkbench's default: the window is the server's.
        let p = plan(&a, at()).unwrap();
        assert_eq!(p.sweep.map(|s| s.axes.len()), Some(2));
        for (key, v) in [
            ("threads", "2,4"),
            ("cpus-mask", "0xF0,0xFF"),
            ("max-context-len", "1024,2048"),
        ] {
            let mut a = args(&[("sweep", &format!("{key}={v}"))]);
            a.server = Some("http://board:8080".into());
            let e = plan(&a, at()).unwrap_err();
            assert_eq!(e.exit_code(), crate::error::exit::USAGE);
            assert!(
                e.msg.starts_with(&format!(
                    "--sweep {key}: with --server, {key} is the server's own setting"
                )),
                "{}",
                e.msg
            );
            assert!(!e.msg.contains('\n'));
            // Without --server it is a runtime sweep like any other.
            a.server = None;
            assert_eq!(role(&plan(&a, at()).unwrap(), false), Role::SweepParent);
        }
    }
}
