//! `rkbench suite list|show|check`: what a run would execute, before it runs on a board.
use crate::cli::SuiteArgs;
use crate::error::{exit, Error, Result};
use crate::suite::{self, Suite};

pub(crate) fn run(a: SuiteArgs) -> Result<i32> {
    match a.action.as_str() {
        "list" => {
            for (name, _) in suite::BUILTIN {
                let s = suite::load(name).map_err(|e| Error::internal(e.to_string()))?;
                crate::out_line!("{name:<10} {:>3} tests  {}", s.tests.len(), s.description);
            }
            Ok(exit::OK)
        }
        "show" => {
            let [spec] = a.suites.as_slice() else {
                return Err(Error::usage(
                    "suite show takes one suite: rkbench suite show default",
                ));
            };
            let s = suite::load(spec).map_err(|e| Error::input(e.to_string()))?;
            warn(&s);
            // A closed stdout (`| head`) ends quietly (exit 141), never a panic.
            Ok(super::output::exit_code(super::output::stdout(&show(&s))?))
        }
        "check" => {
            if a.suites.is_empty() {
                return Err(Error::usage(
                    "suite check takes one or more files: rkbench suite check my-suite.json",
                ));
            }
            let mut code = exit::OK;
            for spec in &a.suites {
                match suite::load(spec) {
                    Ok(s) => {
                        warn(&s);
                        system_note(&s);
                        crate::out_line!(
                            "{spec}: ok ({} tests, sha256 {})",
                            s.tests.len(),
                            &s.sha256[..12]
                        )
                    }
                    Err(e) => {
                        crate::out_line!("{e}");
                        code = exit::INPUT;
                    }
                }
            }
            Ok(code)
        }
        other => Err(Error::usage(format!(
            "unknown suite action {other:?}; use list, show SUITE or check FILE"
        ))),
    }
}

/// Where a suite's system messages go: RKLLM takes them only inside a chat template.
fn system_note(s: &Suite) {
    let n = s.tests.iter().filter(|t| t.system.is_some()).count();
    if n > 0 {
        crate::err_line!(
            "rkbench: note: {}: {n} test(s) have a system message; `record` sends it in the model family's chat template through rkllm_set_chat_template (RKLLM 1.2.0+; family from the model file name or --template-family), which replaces the runtime's own template and its enable_thinking handling",
            s.source
        );
    }
}

/// What a lenient import ignored or derived, on stderr.
pub(crate) fn warn(s: &Suite) {
    for w in &s.warnings {
        crate::err_line!("rkbench: warning: {w}");
    }
}

/// The text `suite show` prints.
fn show(s: &Suite) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "suite {} ({}), {} tests, sha256 {}",
        s.name,
        s.source,
        s.tests.len(),
        s.sha256
    );
    if !s.description.is_empty() {
        let _ = writeln!(o, "{}", s.description);
    }
    if s.warmup > 0 {
        let _ = writeln!(
            o,
            "warm-up: {} requests before the measured ones (--warmup overrides)",
            s.warmup
        );
    }
    if s.source == "built-in:rockchip" {
        let _ = writeln!(o, "\n{}", crate::reference::METHOD_TEXT);
    }
    for t in &s.tests {
        let mut opts = Vec::new();
        if let Some(n) = t.max_new_tokens {
            opts.push(format!("max_new_tokens {n}"));
        }
        if let Some(d) = t.timeout {
            opts.push(format!("timeout {}", humantime::format_duration(d)));
        }
        if let Some(th) = t.think {
            opts.push(format!("think {th}"));
        }
        if t.repeat > 1 {
            opts.push(format!("repeat {}", t.repeat));
        }
        if t.system.is_some() {
            opts.push("system message".to_string());
        }
        let _ = writeln!(
            o,
            "\n{} — {} [{}] ({}{}{})",
            t.id,
            t.name,
            t.category,
            t.input_label(),
            if opts.is_empty() { "" } else { "; " },
            opts.join(", ")
        );
        if let Some(n) = t.input_tokens {
            let _ = writeln!(o, "  {}", crate::token_input::describe(n));
            continue;
        }
        let preview: String = t.prompt.chars().take(200).collect();
        let _ = writeln!(
            o,
            "  {}{}",
            preview.replace('\n', " "),
            if t.prompt.chars().count() > 200 {
                "…"
            } else {
                ""
            }
        );
    }
    o
}
