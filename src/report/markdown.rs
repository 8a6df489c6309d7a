//! The Markdown report: the original report's sections (summary, configuration, performance
//! metrics, token statistics, per-test details, observations), every figure recomputed from the
//! trace and every parameter taken from what was recorded.
use super::tables;
use super::text::{md_code, md_fence, md_inline, num, utc};
use super::DEFINITIONS;
use crate::analysis::Analysis;
use crate::stats::RequestMetrics;
use crate::trace::Status;
use std::fmt::Write;

fn status_mark(s: Status) -> &'static str {
    match s {
        Status::Ok => "✅ ok",
        Status::Timeout => "⏱️ timeout (partial kept)",
        Status::Interrupted => "⏹️ interrupted (partial kept)",
        Status::Error => "❌ error",
        Status::Hung => "🧊 hung (partial kept)",
        Status::Crashed => "💥 crashed (partial kept)",
        Status::InFlight => "… in flight when the trace ended (partial kept)",
    }
}

pub fn render(a: &Analysis) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# 🚀 {} NPU Benchmark Results\n",
        md_inline(a.model_name())
    );
    verdict_section(&mut o, a);
    provenance(&mut o, a);
    warnings_section(&mut o, a);
    summary_section(&mut o, a);
    configuration_section(&mut o, a);
    performance_section(&mut o, a);
    tokens_section(&mut o, a);
    requests_section(&mut o, a);
    board_state_section(&mut o, a);
    details_section(&mut o, a);
    peers_section(&mut o, a);
    observations_section(&mut o, a);
    definitions_section(&mut o);
    o
}

fn verdict_section(o: &mut String, a: &Analysis) {
    let v = &a.verdict;
    if v.valid {
        let _ = writeln!(o, "**Verdict: ✅ VALID** — every request completed, the trace is intact, and no board condition invalidates comparison.\n");
    } else {
        let _ = writeln!(o, "**Verdict: ❌ INVALID** for comparison:\n");
        for r in &v.reasons {
            let _ = writeln!(o, "- {}", md_inline(r));
        }
        let _ = writeln!(o);
    }
}

/// Where and how the run was recorded, and whether the trace is whole.
fn provenance(o: &mut String, a: &Analysis) {
    let trace = a.trace;
    let h = &trace.header;
    let _ = writeln!(
        o,
        "Recorded {} on {} with rkbench {} ({}); RKLLM runtime {} (ABI {}). Trace {}.\n",
        utc(h.started_unix_ms),
        md_code(&h.hostname),
        md_inline(&h.rkbench.version),
        md_inline(&h.rkbench.git_commit),
        if h.runtime.version.is_empty() {
            "unknown version".to_string()
        } else {
            md_inline(&h.runtime.version)
        },
        md_inline(&h.runtime.abi),
        md_code(&a.file_name)
    );
    if let Some(d) = &trace.damage {
        let _ = writeln!(
            o,
            "> ⚠️ **Damaged trace:** {d}. This report covers the valid part only.\n"
        );
    }
    match &trace.end {
        None => {
            let _ = writeln!(o, "> ⚠️ **Incomplete run:** the trace has no end record (the recorder was killed or is still running).\n");
        }
        Some(e) if e.status != crate::trace::RunStatus::Complete => {
            let _ = writeln!(
                o,
                "> ⚠️ **Run ended: {}** {}\n",
                e.status.as_str(),
                md_inline(&e.detail)
            );
        }
        _ => {}
    }
}

fn summary_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 📊 Summary\n");
    o.push_str(&tables::summary(a).markdown());
}

fn configuration_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## ⚙️ Configuration\n");
    let _ = writeln!(
        o,
        "Parameters as passed to the runtime (recorded in the trace):\n"
    );
    o.push_str(&tables::parameters(a).markdown());
    let board = tables::board(a);
    if !board.rows.is_empty() {
        let _ = writeln!(o, "<details><summary>Board</summary>\n");
        o.push_str(&board.markdown());
        let _ = writeln!(o, "</details>\n");
    }
}

fn performance_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## ⚡ Performance Metrics\n");
    let _ = writeln!(o, "Per-request figures over the {} successful requests (percentiles: linear interpolation, type 7).\n", a.summary.ok);
    o.push_str(&tables::performance(a).markdown());
}

fn tokens_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🔢 Token Statistics\n");
    o.push_str(&tables::tokens(a).markdown());
}

fn requests_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🧪 Per-Test Results\n");
    o.push_str(&tables::requests(a).markdown());
}

fn details_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 📝 Per-Test Details\n");
    for (r, m, _) in a.requests() {
        let _ = writeln!(
            o,
            "### {} — {} ({})\n",
            md_inline(&r.test_id),
            md_inline(&r.name),
            md_inline(&r.category)
        );
        let _ = writeln!(
            o,
            "- **Status:** {}{}",
            status_mark(r.status),
            if r.detail.is_empty() {
                String::new()
            } else {
                format!(" — {}", md_inline(&r.detail))
            }
        );
        detail_lines(o, m);
        let _ = writeln!(o, "\n**Prompt:**\n");
        o.push_str(&md_fence(&r.prompt, "text"));
        let _ = writeln!(o, "\n**Response** ({} tokens):\n", m.output_tokens);
        o.push_str(&md_fence(&r.response(), "text"));
        let _ = writeln!(o);
    }
}

fn observations_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🔍 Observations\n");
    for ob in &a.observations {
        let _ = writeln!(o, "- {}", ob.render(md_inline));
    }
    let _ = writeln!(o);
}

fn definitions_section(o: &mut String) {
    let _ = writeln!(o, "## 📐 Metric Definitions\n");
    for (k, v) in DEFINITIONS {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
}

fn detail_lines(o: &mut String, m: &RequestMetrics) {
    let _ = writeln!(
        o,
        "- **Decode rate:** {} tok/s · **Generation Speed (original def.):** {} tok/s",
        num(m.decode_tok_s, 2),
        num(m.generation_speed_tok_s, 2)
    );
    let _ = writeln!(
        o,
        "- **TTFT:** {} ms · **E2E:** {} ms · **Prefill rate:** {} tok/s",
        num(m.ttft_ms, 1),
        num(Some(m.e2e_ms), 1),
        num(m.prefill_tok_s, 2)
    );
    let _ = writeln!(
        o,
        "- **Tokens:** {} in / {} out{}",
        m.input_tokens
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into()),
        m.output_tokens,
        if m.hit_cap {
            " (hit the output cap)"
        } else {
            ""
        }
    );
    if let Some(p) = m.runtime {
        let _ = writeln!(
            o,
            "- **Runtime perf:** prefill {} ms for {} tokens, generate {} ms for {} tokens ({} tok/s), memory {} MB{}",
            num(Some(p.prefill_time_ms), 1),
            p.prefill_tokens,
            num(Some(p.generate_time_ms), 1),
            p.generate_tokens,
            num(p.decode_tok_s(), 2),
            num(Some(p.memory_usage_mb), 1),
            if m.token_count_mismatch { " ⚠️ token count differs from callbacks" } else { "" }
        );
    }
    if let Some(t) = m.think {
        let _ = writeln!(
            o,
            "- **Thinking:** {} think tokens, {} answer tokens, first answer token at {} ms{}",
            t.think_tokens,
            t.answer_tokens,
            num(t.time_to_answer_ms, 1),
            if t.unterminated {
                " ⚠️ never left the think block"
            } else {
                ""
            }
        );
    }
}

/// "⚠️ Warnings": the board conditions that qualify every figure below (see
/// `stats::warnings`), placed before the summary so nobody quotes a number without them.
fn warnings_section(o: &mut String, a: &Analysis) {
    let ws = &a.warnings;
    if ws.is_empty() {
        return;
    }
    let _ = writeln!(o, "## ⚠️ Warnings\n");
    let invalid = ws.iter().filter(|w| w.invalidates_comparison).count();
    if invalid > 0 {
        let _ = writeln!(
            o,
            "{invalid} of these make the figures unfit for comparison with runs made under other conditions (⛔).\n"
        );
    }
    for w in ws {
        let _ = writeln!(
            o,
            "- {}**{}**: {}\n  - **Fix:** {}",
            if w.invalidates_comparison { "⛔ " } else { "" },
            w.code,
            md_inline(&w.message),
            md_inline(&w.fix)
        );
    }
    let _ = writeln!(o);
}

/// "Board state during each request": only when the trace has telemetry.
fn board_state_section(o: &mut String, a: &Analysis) {
    let Some(table) = tables::board_state(a) else {
        return;
    };
    let _ = writeln!(o, "### 🌡️ Board state during each request\n");
    let interval = a
        .trace
        .header
        .board
        .iter()
        .find(|f| f.key == "telemetry.interval_ms")
        .map(|f| format!(" every {} ms", md_inline(&f.value)))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "Telemetry sampled{interval}; each request's window is t0 to t_end. NPU load is the mean over cores (whole request / decode only). `-`: no sample in the window.\n"
    );
    o.push_str(&table.markdown());
}

/// The same trace under each peer tool's definitions, labelled with the source.
fn peers_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🔁 Peer Metrics (same trace, their definitions)\n");
    let _ = writeln!(o, "\"ITL\" and \"TPOT\" mean different things in different tools; each row is computed exactly as that tool defines it (its own percentile method and σ).\n");
    o.push_str(&tables::peers(a).markdown());
}
