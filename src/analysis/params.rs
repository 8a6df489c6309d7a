//! The run parameters: one table (name, value, unit, meaning) derived from the trace header.
//! Every report format iterates it, and `compare` diffs two runs over it, so a parameter added
//! here is shown and compared everywhere at once.
use crate::trace::{vocab, InputOptions, PresetUsed, RunHeader, TemplateSent};

/// What a parameter belongs to (reports group by it; JSON `run.params` holds the runtime ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// What ran: model, runtime library, suite, rkbench build.
    Identity,
    /// Passed to the runtime (`RKLLMParam`, `RKLLMInferParam`) or enforced by rkbench per request.
    Runtime,
    /// How it was invoked; shown, not compared (it restates the parameters and output names).
    Invocation,
    /// A board fact at the start of the run (model, kernel, governors, max clocks, …).
    Board,
    /// A board reading that changes from moment to moment (current clocks, free memory):
    /// shown with the board facts, not compared.
    BoardState,
}

impl Section {
    /// Stable name (JSON `parameters[].section`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Section::Identity => "identity",
            Section::Runtime => "runtime",
            Section::Invocation => "invocation",
            Section::Board => "board",
            Section::BoardState => "board-state",
        }
    }

    /// Whether `compare` lists a difference in it.
    pub(crate) fn compared(self) -> bool {
        !matches!(self, Section::Invocation | Section::BoardState)
    }
}

/// Board facts that are readings of a moment, not configuration.
fn volatile(key: &str) -> bool {
    key.ends_with(".cur_hz") || key.ends_with(".cur_khz") || key == "mem.memavailable"
}

/// A parameter's value, typed so JSON can write numbers as numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamValue {
    Int(i64),
    /// A float shown with this many decimals.
    Num(f64, usize),
    Bool(bool),
    /// A bit mask, shown in hex.
    Hex(u64),
    Text(String),
}

impl ParamValue {
    /// The value as reports show it (also what `compare` compares).
    pub(crate) fn display(&self) -> String {
        match self {
            ParamValue::Int(v) => v.to_string(),
            ParamValue::Num(v, d) => format!("{v:.d$}"),
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Hex(v) => format!("0x{v:X}"),
            ParamValue::Text(s) => s.clone(),
        }
    }
}

/// One run parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Param {
    /// Stable name (the `RKLLMParam` field name where there is one; a board fact's key).
    pub name: String,
    pub value: ParamValue,
    /// Unit of the value (`""` when it has none).
    pub unit: &'static str,
    /// What it is, briefly.
    pub meaning: &'static str,
    pub section: Section,
}

impl Param {
    /// The value with its unit, as a table cell shows it.
    pub(crate) fn value_with_unit(&self) -> String {
        if self.unit.is_empty() {
            self.value.display()
        } else {
            format!("{} {}", self.value.display(), self.unit)
        }
    }
}

/// A run measured through an HTTP server (`record --server`) sent only the model name, the
/// sampling values, the cap and the thinking switch: the runtime's own settings belong to the
/// server and are not shown as if rkbench had passed them.
/// With `fixed` (Rockchip's `/rkllm_chat`), the sampling values and the cap are the server's
/// own, recorded because no request could carry rkbench's; with `ignored` (the original tool's
/// server) the values are the ones sent, which the server never used.
fn server_view(v: &mut Vec<Param>, fixed: bool, ignored: bool) {
    const NOT_SENT: [&str; 17] = [
        "model_size",
        "model_fingerprint",
        "runtime_lib_size",
        "runtime_lib_sha256",
        "max_context_len",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "n_keep",
        "skip_special_token",
        "base_domain_id",
        "embed_flash",
        "enabled_cpus_num",
        "enabled_cpus_mask",
        "n_batch",
        "keep_history",
        "chat_template",
    ];
    v.retain(|p| !NOT_SENT.contains(&p.name.as_str()));
    for p in v.iter_mut() {
        p.meaning = match p.name.as_str() {
            "model" => "the server's model name (--model)",
            "runtime_lib" => "the server measured (record --server)",
            "runtime_version" => "the server's own version or build (empty: it does not say)",
            "runtime_abi" => "the server kind, detected or given",
            "runtime_abi_evidence" => "each probe of the server's endpoints and its answer",
            "think" => "thinking switch sent to the server",
            "top_k" | "top_p" | "temperature" | "repeat_penalty" | "frequency_penalty"
            | "presence_penalty"
                if fixed =>
            {
                "the server's own, fixed when it started (/rkllm_chat takes no sampling values)"
            }
            "top_k" | "top_p" | "temperature" | "repeat_penalty" | "frequency_penalty"
            | "presence_penalty"
                if ignored =>
            {
                "sent, but ignored by the server: its own settings (the original tool's server: config/inference_config.json, read at rkllm_init) decided"
            }
            "max_new_tokens" if fixed => {
                "none sent: /rkllm_chat takes no cap (the server's own applies, 4096 from 1.2.1)"
            }
            _ => p.meaning,
        };
    }
}

/// The parameter table of a run, in display order. Runtime parameters keep the order of
/// JSON `run.params` (schema v1). `templates` and `preset` are the plan's extra records
/// (format 1.1, kinds 12–13): the chat templates rkbench set and the `--preset` used.
pub(crate) fn of(
    h: &RunHeader,
    templates: &[TemplateSent],
    preset: Option<&PresetUsed>,
) -> Vec<Param> {
    use ParamValue::*;
    use Section::*;
    let p = &h.params;
    let f = |v: f32| Num(f64::from(v), 3);
    let text = |s: &str| Text(s.to_string());
    let rows: Vec<(&str, ParamValue, &'static str, &'static str, Section)> = vec![
        (
            "model",
            text(&h.model.path),
            "",
            "model file as given to rkllm_init",
            Identity,
        ),
        (
            "model_size",
            Int(h.model.size as i64),
            "bytes",
            "model file size",
            Identity,
        ),
        (
            "model_fingerprint",
            text(&h.model.fingerprint),
            "",
            "sha256 over (size ‖ first MiB ‖ last MiB): identifies the model file",
            Identity,
        ),
        (
            "runtime_lib",
            text(&h.runtime.lib_path),
            "",
            "the librkllmrt.so loaded",
            Identity,
        ),
        (
            "runtime_lib_size",
            Int(h.runtime.lib_size as i64),
            "bytes",
            "runtime library size",
            Identity,
        ),
        (
            "runtime_lib_sha256",
            text(&h.runtime.lib_sha256),
            "",
            "sha256 of the runtime library",
            Identity,
        ),
        (
            "runtime_version",
            text(&h.runtime.version),
            "",
            "version banner found in the library (empty: none)",
            Identity,
        ),
        (
            "runtime_abi",
            text(&h.runtime.abi),
            "",
            "ABI generation the structs were laid out for",
            Identity,
        ),
        (
            "runtime_abi_evidence",
            text(&h.runtime.evidence),
            "",
            "how the ABI was chosen",
            Identity,
        ),
        ("suite", text(&h.suite.name), "", "prompt suite", Identity),
        (
            "suite_source",
            text(&h.suite.source),
            "",
            "where the suite came from",
            Identity,
        ),
        (
            "suite_tests",
            Int(i64::from(h.suite.tests)),
            "",
            "tests in the suite",
            Identity,
        ),
        (
            "suite_sha256",
            text(&h.suite.sha256),
            "",
            "sha256 of the suite's bytes",
            Identity,
        ),
        (
            "max_context_len",
            Int(i64::from(p.max_context_len)),
            "tokens",
            "context window (prompt + output)",
            Runtime,
        ),
        (
            "max_new_tokens",
            Int(i64::from(p.max_new_tokens)),
            "tokens",
            "output cap per request",
            Runtime,
        ),
        (
            "top_k",
            Int(i64::from(p.top_k)),
            "",
            "sampling: keep the k most likely tokens",
            Runtime,
        ),
        (
            "top_p",
            f(p.top_p),
            "",
            "sampling: nucleus probability mass",
            Runtime,
        ),
        (
            "temperature",
            f(p.temperature),
            "",
            "sampling temperature",
            Runtime,
        ),
        (
            "repeat_penalty",
            f(p.repeat_penalty),
            "",
            "penalty on repeated tokens",
            Runtime,
        ),
        (
            "frequency_penalty",
            f(p.frequency_penalty),
            "",
            "penalty growing with a token's count so far",
            Runtime,
        ),
        (
            "presence_penalty",
            f(p.presence_penalty),
            "",
            "penalty on any token already present",
            Runtime,
        ),
        (
            "mirostat",
            Int(i64::from(p.mirostat)),
            "",
            "mirostat sampling mode (0 = off)",
            Runtime,
        ),
        (
            "mirostat_tau",
            f(p.mirostat_tau),
            "",
            "mirostat target surprise",
            Runtime,
        ),
        (
            "mirostat_eta",
            f(p.mirostat_eta),
            "",
            "mirostat learning rate",
            Runtime,
        ),
        (
            "n_keep",
            Int(i64::from(p.n_keep)),
            "tokens",
            "tokens kept when the context shifts (-1: runtime default)",
            Runtime,
        ),
        (
            "skip_special_token",
            Bool(p.skip_special_token),
            "",
            "special tokens left out of the text callbacks",
            Runtime,
        ),
        (
            "base_domain_id",
            Int(i64::from(p.base_domain_id)),
            "",
            "NPU memory domain of the weights",
            Runtime,
        ),
        (
            "embed_flash",
            Int(i64::from(p.embed_flash)),
            "",
            "embedding table read from flash (1) or RAM (0)",
            Runtime,
        ),
        (
            "enabled_cpus_num",
            Int(i64::from(p.enabled_cpus_num)),
            "",
            "CPU threads the runtime uses",
            Runtime,
        ),
        (
            "enabled_cpus_mask",
            Hex(u64::from(p.enabled_cpus_mask)),
            "",
            "CPUs the runtime's threads may run on",
            Runtime,
        ),
        (
            "n_batch",
            Int(i64::from(p.n_batch)),
            "",
            "batch size",
            Runtime,
        ),
        (
            "think",
            Bool(p.think),
            "",
            "enable_thinking asked of the runtime (Qwen3-style reasoning)",
            Runtime,
        ),
        (
            "timeout_ms",
            Int(p.timeout_ms as i64),
            "ms",
            "per-request deadline (0 = none)",
            Runtime,
        ),
        (
            "keep_history",
            Bool(p.keep_history),
            "",
            "KV cache kept between requests",
            Runtime,
        ),
        chat_template(h, templates),
        (
            "rkbench",
            Text(format!(
                "{} ({}, {}; {} {}; {})",
                h.rkbench.version,
                h.rkbench.git_commit,
                h.rkbench.git_state,
                h.rkbench.target,
                h.rkbench.profile,
                h.rkbench.rustc
            )),
            "",
            "the recorder's build",
            Identity,
        ),
        (
            "command",
            Text(h.command_line.join(" ")),
            "",
            "the command line as typed",
            Invocation,
        ),
    ];
    let mut rows = rows;
    if let Some(p) = preset {
        let name = if p.overridden.is_empty() {
            p.name.clone()
        } else {
            format!("{} (overridden: {})", p.name, p.overridden.join(", "))
        };
        rows.push((
            "preset",
            Text(name),
            "",
            "settings preset (--preset); the values passed are the parameters above",
            Invocation,
        ));
    }
    let mut v: Vec<Param> = rows
        .into_iter()
        .map(|(name, value, unit, meaning, section)| Param {
            name: name.to_string(),
            value,
            unit,
            meaning,
            section,
        })
        .collect();
    if h.runtime.abi.starts_with("http:") {
        let fixed = h
            .runtime
            .evidence
            .contains(crate::trace::server::FIXED_SAMPLING_FACT);
        let kind = h.runtime.abi.trim_start_matches("http:");
        let ignored = crate::http::kind::SamplingHonour::of_run(kind, "")
            == crate::http::kind::SamplingHonour::Ignored;
        server_view(&mut v, fixed, ignored);
    }
    v.extend(h.board.iter().map(|f| Param {
        name: f.key.clone(),
        value: Text(f.value.clone()),
        unit: "",
        meaning: "board fact at the start of the run",
        section: if volatile(&f.key) { BoardState } else { Board },
    }));
    v
}

/// The chat-template row: the runtime's own, `--chat-template`, or the family template that
/// carried the suite's system messages (setting one turns the runtime's own off, with its
/// `enable_thinking` handling).
fn chat_template(
    h: &RunHeader,
    templates: &[TemplateSent],
) -> (
    &'static str,
    ParamValue,
    &'static str,
    &'static str,
    Section,
) {
    let fixed = h
        .board
        .iter()
        .any(|f| f.key == vocab::fact::CHAT_TEMPLATE_PREFIX);
    let value = match templates.first() {
        Some(t) => format!(
            "{}, {} set{}",
            t.origin,
            templates.len(),
            if templates.len() == 1 { "" } else { " (per test)" }
        ),
        None if fixed => "--chat-template".to_string(),
        None => {
            return (
                "chat_template",
                ParamValue::Text("runtime default (rkbench set none)".into()),
                "",
                "prompt template: rkbench does not call rkllm_set_chat_template, so the runtime applies the model's own",
                Section::Runtime,
            )
        }
    };
    (
        "chat_template",
        ParamValue::Text(value),
        "",
        "prompt template rkbench set with rkllm_set_chat_template, which turns off the runtime's own template and its enable_thinking handling",
        Section::Runtime,
    )
}

/// The run-wide input settings of a format-1.1 trace, placed after `keep_history` (older traces
/// have none and show no row).
pub fn with_input_options(mut v: Vec<Param>, o: Option<&InputOptions>) -> Vec<Param> {
    if let Some(o) = o {
        let at = v
            .iter()
            .position(|p| p.name == "keep_history")
            .map_or(v.len(), |i| i + 1);
        v.insert(
            at,
            Param {
                name: "ignore_eos_token".to_string(),
                value: ParamValue::Bool(o.ignore_eos_token),
                unit: "",
                meaning: "keep generating past EOS to the cap (1.3.0; set for exact-token suites, so every request has the method's output length)",
                section: Section::Runtime,
            },
        );
    }
    v
}

/// One parameter that differs between two runs (`None`: the run does not have it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParamDiff {
    pub name: String,
    pub base: Option<String>,
    pub cand: Option<String>,
}

/// Every compared parameter whose shown value differs, in the baseline's order, then the
/// candidate's extra ones.
pub(crate) fn diff(base: &[Param], cand: &[Param]) -> Vec<ParamDiff> {
    let compared = |p: &&Param| p.section.compared();
    let find = |list: &[Param], name: &str| {
        list.iter()
            .find(|p| p.name == name)
            .map(Param::value_with_unit)
    };
    let mut out: Vec<ParamDiff> = Vec::new();
    for p in base.iter().filter(compared) {
        let (b, c) = (Some(p.value_with_unit()), find(cand, &p.name));
        if b != c {
            out.push(ParamDiff {
                name: p.name.clone(),
                base: b,
                cand: c,
            });
        }
    }
    for p in cand.iter().filter(compared) {
        if !base.iter().any(|q| q.name == p.name) {
            out.push(ParamDiff {
                name: p.name.clone(),
                base: None,
                cand: Some(p.value_with_unit()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sampling_parameter_is_listed_and_diffed() {
        let a = RunHeader::default();
        let mut b = RunHeader::default();
        b.params.presence_penalty = 0.5;
        b.params.mirostat = 2;
        b.command_line = vec!["rkbench".into(), "--out".into(), "b.rktrace".into()];
        let d = diff(&of(&a, &[], None), &of(&b, &[], None));
        let names: Vec<&str> = d.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            ["presence_penalty", "mirostat"],
            "command is not compared"
        );
        assert_eq!(d[0].base.as_deref(), Some("0.000"));
        assert_eq!(d[0].cand.as_deref(), Some("0.500"));
        for name in [
            "frequency_penalty",
            "mirostat_tau",
            "mirostat_eta",
            "enabled_cpus_mask",
            "chat_template",
            "suite_sha256",
            "model_fingerprint",
            "runtime_version",
        ] {
            assert!(of(&a, &[], None).iter().any(|p| p.name == name), "{name}");
        }
    }

    #[test]
    fn board_facts_present_in_one_run_only_are_differences() {
        let a = RunHeader::default();
        let mut b = RunHeader::default();
        b.board.push(crate::trace::Fact {
            key: "npu.governor".into(),
            value: "performance".into(),
        });
        b.board.push(crate::trace::Fact {
            key: "npu.cur_hz".into(),
            value: "300000000".into(),
        });
        let d = diff(&of(&a, &[], None), &of(&b, &[], None));
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].base.as_deref(), d[0].cand.as_deref()),
            (None, Some("performance"))
        );
    }
}
