//! The Markdown report: the original report's sections (summary, configuration, performance
//! metrics, token statistics, per-test details, observations), every figure recomputed from the
//! trace and every parameter taken from what was recorded.
use super::details::{self, DetailLine};
use super::provenance;
use super::reference;
use super::tables;
use super::text::{md_code, md_fence, md_inline, num, utc};
use super::wording::{
    self, CONFORMANCE_INTRO, CONFORMANCE_UNKNOWN, PEERS_NOTE, VERDICT_VALID_MEANS,
};
use super::{DEFINITIONS, ORIGINAL_DEFINITIONS};
use crate::analysis::{original, Analysis, Span};
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

pub(crate) fn render(a: &Analysis) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# 🚀 {} NPU Benchmark Results\n",
        md_inline(a.model_name())
    );
    // The original report's sections, in its order, each figure with its definition.
    provenance(&mut o, a);
    executive_summary(&mut o, a);
    configuration_section(&mut o, a);
    if let Some(server) = super::server::markdown_section(a) {
        o.push_str(&server);
    }
    performance_section(&mut o, a);
    tokens_section(&mut o, a);
    details_section(&mut o, a);
    original_observations(&mut o, a);
    conclusion(&mut o, a);
    // rkbench's additions.
    let _ = writeln!(o, "---\n");
    verdict_section(&mut o, a);
    warnings_section(&mut o, a);
    o.push_str(&super::load::markdown_section(a));
    reference_section(&mut o, a);
    prefill_section(&mut o, a);
    requests_section(&mut o, a);
    board_state_section(&mut o, a);
    energy_section(&mut o, a);
    o.push_str(&super::instances::markdown(a));
    conformance_section(&mut o, a);
    peers_section(&mut o, a);
    observations_section(&mut o, a);
    definitions_section(&mut o);
    o
}

/// "Executive Summary": the original's bullets (its definitions), then rkbench's own figures.
fn executive_summary(o: &mut String, a: &Analysis) {
    let og = &a.original;
    let _ = writeln!(o, "## 📊 Executive Summary\n");
    let _ = writeln!(o, "- **Model:** {}", md_code(a.model_name()));
    let _ = writeln!(
        o,
        "- **Hardware:** {}",
        md_inline(&original::hardware_line(&a.hardware))
    );
    let _ = writeln!(
        o,
        "- **Success Rate:** {}/{} ({}%)",
        og.successful_requests,
        og.total_requests,
        num(og.success_rate_pct(), 0)
    );
    let _ = writeln!(
        o,
        "- **Total Tokens Generated:** {} tokens{}",
        original::thousands(og.total_output_tokens),
        original::total_tokens_note(og)
            .map(|n| format!(" ({})", md_inline(&n)))
            .unwrap_or_default()
    );
    match og.tokens_per_second {
        Some(x) => {
            let _ = writeln!(o, "- **Average Speed:** {} tok/s", num(Some(x.mean), 2));
        }
        None => {
            let _ = writeln!(o, "- **Average Speed:** - (no successful request)");
        }
    }
    match og.memory_mb {
        Some(x) => {
            let _ = writeln!(o, "- **Memory Usage:** ~{} MB\n", num(Some(x.mean), 0));
        }
        None => {
            let _ = writeln!(o, "- **Memory Usage:** - (not reported by the runtime)\n");
        }
    }
    let _ = writeln!(
        o,
        "rkbench's own figures (wall clock on the board; definitions at the end):\n"
    );
    o.push_str(&tables::summary(a).markdown());
}

fn verdict_section(o: &mut String, a: &Analysis) {
    let v = &a.verdict;
    let _ = writeln!(o, "## ⚖️ Verdict\n");
    if v.valid {
        let _ = writeln!(o, "**Verdict: ✅ VALID** — {VERDICT_VALID_MEANS}\n");
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
    let secs = a.original.duration_s;
    let _ = writeln!(
        o,
        "**Recorded:** {}  \n**Duration:** {} seconds ({} minutes)\n",
        utc(h.started_unix_ms),
        num(Some(secs), 1),
        num(Some(secs / 60.0), 1)
    );
    let through = if a.server.is_some() {
        "measured through "
    } else {
        ""
    };
    let measured = md_spans(&provenance::measured(a));
    let _ = writeln!(
        o,
        "Host {}; rkbench {} ({}); {through}{measured}. Trace {}.\n",
        md_code(&h.hostname),
        md_inline(&h.rkbench.version),
        md_inline(&h.rkbench.git_commit),
        md_code(&a.file_name)
    );
    let _ = writeln!(
        o,
        "> rkbench's verdict: {}{}. The details, peer figures and board state follow the original report's sections.\n",
        if a.verdict.valid {
            "✅ VALID"
        } else {
            "❌ INVALID for comparison"
        },
        match a.warnings.len() {
            0 => String::new(),
            1 => "; 1 warning".to_string(),
            n => format!("; {n} warnings"),
        }
    );
    for n in provenance::trace_notes(a) {
        let _ = writeln!(
            o,
            "> ⚠️ **{}** {}\n",
            md_inline(&n.head),
            md_inline(&n.text)
        );
    }
}

fn configuration_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## ⚙️ Configuration\n");
    let p = &a.trace.header.params;
    let cores = a
        .hardware
        .npu_cores
        .map_or_else(|| "null".to_string(), |n| n.to_string());
    let json = format!(
        "{{\n  \"inference_params\": {{\n    \"top_k\": {},\n    \"top_p\": {},\n    \"temperature\": {},\n    \"repeat_penalty\": {}\n  }},\n  \"hardware\": {{\n    \"num_npu_cores\": {cores},\n    \"enabled_cpus_mask\": {},\n    \"num_threads\": {}\n  }}\n}}\n",
        p.top_k,
        original::short_float(p.top_p),
        original::short_float(p.temperature),
        original::short_float(p.repeat_penalty),
        p.enabled_cpus_mask,
        p.enabled_cpus_num
    );
    let _ = writeln!(o, "As the original listed it, from the values recorded in the trace (num_npu_cores: NPU cores with load telemetry; num_threads: enabled_cpus_num):\n");
    o.push_str(&md_fence(&json, "json"));
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Parameters as {} (recorded in the trace):\n",
        a.params_went_to()
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
    let _ = writeln!(o, "## 🎯 Performance Metrics\n");
    if let Some(label) = super::server::token_label(a) {
        let _ = writeln!(o, "Count source — {label}.\n");
    }
    let _ = writeln!(
        o,
        "The original's figures (the runtime's own timings; definitions at the end):\n"
    );
    o.push_str(&tables::original_performance(a).markdown());
    let _ = writeln!(o, "rkbench's figures per request over the {} successful requests (percentiles: linear interpolation, type 7):\n", a.summary.ok);
    o.push_str(&tables::performance(a).markdown());
}

/// This run beside Rockchip's published row (only when the model and release have one).
fn reference_section(o: &mut String, a: &Analysis) {
    let Some(r) = &a.reference else {
        return;
    };
    let _ = writeln!(o, "## 🎯 {}\n", reference::REFERENCE_TITLE);
    let _ = writeln!(o, "{}\n", md_inline(&reference::reference_intro(r)));
    o.push_str(&reference::reference_table(r).markdown());
    let _ = writeln!(o, "{}", reference::reference_method_line(r));
    for why in &r.approximate {
        let _ = writeln!(o, "- {}", md_inline(why));
    }
    let _ = writeln!(o);
    if let Some(w) = &r.decode_warning {
        let _ = writeln!(o, "> ⚠️ {}\n", md_inline(w));
    }
}

/// TTFT against exact input length, with the fit, and decode rate per context length.
fn prefill_section(o: &mut String, a: &Analysis) {
    let Some(s) = &a.prefill_scaling else {
        return;
    };
    let _ = writeln!(o, "## 📈 {}\n", reference::PREFILL_TITLE);
    if let Some(f) = &s.fit {
        let _ = writeln!(o, "{}\n", md_inline(&reference::fit_text(s, f)));
    }
    o.push_str(&reference::prefill_table(s).markdown());
}

fn tokens_section(o: &mut String, a: &Analysis) {
    let og = &a.original;
    let _ = writeln!(o, "## 🔢 Token Statistics\n");
    let _ = writeln!(
        o,
        "- **Total Input Tokens:** {}",
        original::thousands(og.total_input_tokens)
    );
    let _ = writeln!(
        o,
        "- **Total Output Tokens:** {}",
        original::thousands(og.total_output_tokens)
    );
    let _ = writeln!(
        o,
        "- **Average Output per Request:** {} tokens",
        num(og.avg_output_per_request(), 1)
    );
    let _ = writeln!(
        o,
        "- **Total Tokens Processed:** {}\n",
        original::thousands(og.total_tokens)
    );
    let _ = writeln!(o, "rkbench's counts:\n");
    o.push_str(&tables::tokens(a).markdown());
}

fn requests_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🧪 Per-Test Results\n");
    o.push_str(&tables::requests(a).markdown());
}

fn details_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 📝 Detailed Test Results\n");
    let total = a.original.total_requests;
    let warm = a.summary.warmup;
    let (mut i, mut w) = (0, 0);
    let mut originals = a.original.requests.iter();
    for (r, m, _) in a.requests() {
        if r.warmup {
            w += 1;
            let _ = writeln!(
                o,
                "### Warm-up {w}/{warm}: {}\n\n**ID:** {} — not counted in any statistic.\n",
                md_inline(&r.name),
                md_code(&r.test_id)
            );
        } else {
            i += 1;
            let _ = writeln!(o, "### Test {i}/{total}: {}\n", md_inline(&r.name));
            let _ = writeln!(o, "**ID:** {}\n", md_code(&r.test_id));
            match originals.next() {
                Some(og) if og.success => o.push_str(&tables::original_test(og).markdown()),
                Some(og) => {
                    let _ = writeln!(o, "❌ **Failed:** {}\n", md_inline(&og.error_message));
                }
                None => {}
            }
        }
        let _ = writeln!(
            o,
            "rkbench ({}{}):\n",
            status_mark(r.status),
            if r.category.is_empty() {
                String::new()
            } else {
                format!(", category {}", md_inline(&r.category))
            }
        );
        detail_lines(o, &details::detail_lines(a, r, m));
        let _ = writeln!(o, "\n**Prompt:**\n");
        o.push_str(&md_fence(&r.prompt, "text"));
        let _ = writeln!(o, "\n**Response** ({} tokens):\n", m.output_tokens);
        o.push_str(&md_fence(&r.response(), "text"));
        let _ = writeln!(o, "\n---\n");
    }
}

/// The original's "💡 Observations" subsections, computed from the data.
fn original_observations(o: &mut String, a: &Analysis) {
    let ot = &a.original_text;
    let _ = writeln!(o, "## 💡 Observations\n");
    for (title, list) in [
        ("Performance Analysis", &ot.performance),
        ("Quality Assessment", &ot.quality),
        ("Long-Form Generation", &ot.long_form),
    ] {
        let _ = writeln!(o, "### {title}\n");
        for ob in list {
            let _ = writeln!(o, "- {}", ob.render(md_inline));
        }
        let _ = writeln!(o);
    }
}

/// Sentence pieces in Markdown: trace text escaped, names as code spans.
fn md_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => md_inline(t),
            Span::Name(t) => md_code(t),
        })
        .collect()
}

/// The original's "🎯 Conclusion", computed from the data.
fn conclusion(o: &mut String, a: &Analysis) {
    let ot = &a.original_text;
    let _ = writeln!(o, "## 🎯 Conclusion\n");
    let _ = writeln!(o, "{}\n", md_spans(&ot.conclusion_intro));
    for (i, ob) in ot.conclusion.iter().enumerate() {
        let _ = writeln!(o, "{}. {}", i + 1, ob.render(md_inline));
    }
    let _ = writeln!(o);
}

fn observations_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🔍 More observations (rkbench)\n");
    for ob in &a.observations {
        let _ = writeln!(o, "- {}", ob.render(md_inline));
    }
    let _ = writeln!(o);
}

fn definitions_section(o: &mut String) {
    let _ = writeln!(o, "## 📐 Metric Definitions\n");
    let _ = writeln!(o, "### The original report's figures\n");
    for (k, v) in ORIGINAL_DEFINITIONS {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
    let _ = writeln!(o, "\n### rkbench's figures\n");
    for (k, v) in DEFINITIONS {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
}

/// The request's detail lines (see [`details`]) as a Markdown list.
fn detail_lines(o: &mut String, lines: &[DetailLine]) {
    for l in lines {
        let items: Vec<String> = l
            .items
            .iter()
            .map(|(k, v)| format!("**{k}:** {}", md_inline(v)))
            .collect();
        let flag = l.flag.map(|f| format!(" ⚠️ {f}")).unwrap_or_default();
        let _ = writeln!(o, "- {}{flag}", items.join(" · "));
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
    let _ = writeln!(o, "{}\n", md_spans(&wording::board_state_note(a)));
    o.push_str(&table.markdown());
}

/// "Runtime conformance": whether the runtime behaved as the ABI facts say (failures are also
/// warnings above), and how each output cap was enforced.
/// "Energy" (only for traces with power samples): the run's figures, then each request's.
fn energy_section(o: &mut String, a: &Analysis) {
    let Some((note, run, reqs)) = tables::energy(a) else {
        return;
    };
    let _ = writeln!(o, "## 🔋 Energy\n\n{}\n", md_inline(&note));
    o.push_str(&run.markdown());
    o.push_str(&reqs.markdown());
}

fn conformance_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(
        o,
        "## 🧪 Runtime conformance
"
    );
    let (unknown, means) = CONFORMANCE_UNKNOWN;
    let _ = writeln!(o, "{CONFORMANCE_INTRO} `{unknown}`: {means}\n");
    o.push_str(&tables::conformance(a).markdown());
    if let Some(t) = tables::cap_enforcement(a) {
        let _ = writeln!(
            o,
            "**How each output cap was enforced** {}\n",
            wording::cap_tolerance()
        );
        o.push_str(&t.markdown());
    }
}

/// The same trace under each peer tool's definitions, labelled with the source.
fn peers_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🔁 Peer Metrics (same trace, their definitions)\n");
    let _ = writeln!(o, "{}\n", md_inline(PEERS_NOTE));
    if let Some(n) = &a.peers_note {
        let _ = writeln!(o, "{}\n", md_inline(n));
    }
    o.push_str(&tables::peers(a).markdown());
    let _ = writeln!(o, "### 🚦 Throughput (vLLM `calculate_metrics`)\n");
    let _ = writeln!(o, "{}\n", md_spans(&wording::goodput_note(a)));
    o.push_str(&tables::throughput(a).markdown());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::testdata;
    use crate::trace::{PerfStat, RequestRecord, RunHeader};

    fn req(index: u32, status: Status, n: usize, perf: Option<PerfStat>) -> RequestRecord {
        RequestRecord {
            index,
            test_id: format!("t{index}"),
            name: format!("Test {index}"),
            status,
            detail: if status == Status::Ok {
                String::new()
            } else {
                "deadline passed".into()
            },
            tokens: testdata::steady_tokens(n),
            end_us: 100_000 * n as u64 + 500,
            perf,
            ..Default::default()
        }
    }

    #[test]
    fn original_sections_with_a_failed_test() {
        let perf = Some(PerfStat {
            prefill_time_ms: 1000.0,
            prefill_tokens: 31,
            generate_time_ms: 4000.0,
            generate_tokens: 12,
            memory_usage_mb: 5026.3,
        });
        let t = testdata::trace(
            RunHeader::default(),
            vec![
                req(0, Status::Ok, 12, perf),
                req(1, Status::Timeout, 3, None),
            ],
            Vec::new(),
            None,
        );
        let md = render(&Analysis::of(&t));
        // 12 tokens / 4000 ms = 3.00 tok/s; memory 5026.3 → ~5026 MB.
        for line in [
            "- **Success Rate:** 1/2 (50%)",
            "- **Total Tokens Generated:** 12 tokens",
            "- **Average Speed:** 3.00 tok/s",
            "- **Memory Usage:** ~5026 MB",
            "- **Average Output per Request:** 6.0 tokens",
            "- **Total Tokens Processed:** 43",
            "### Test 1/2: Test 0",
            "| Time to First Token | 1000.00 ms |",
            "| Memory Usage | 5026.30 MB |",
            "### Test 2/2: Test 1",
            "❌ **Failed:** Request timed out (deadline passed)",
            "1. Reliability: 1/2 requests completed (50%); 1 timeout.",
        ] {
            assert!(md.contains(line), "missing {line:?}\n{md}");
        }
        // Nothing successful: no Average Speed or memory to state.
        let t = testdata::trace(
            RunHeader::default(),
            vec![req(0, Status::Error, 0, None)],
            Vec::new(),
            None,
        );
        let md = render(&Analysis::of(&t));
        assert!(md.contains("- **Average Speed:** - (no successful request)"));
        assert!(md.contains("- **Memory Usage:** - (not reported by the runtime)"));
        assert!(md.contains("- **Success Rate:** 0/1 (0%)"));
    }
}
