//! The Markdown report: the original report's sections (summary, configuration, performance
//! metrics, token statistics, per-test details, observations), every figure recomputed from the
//! trace and every parameter taken from what was recorded.
use super::text::{md_fence, md_inline, num, utc};
use super::DEFINITIONS;
use crate::analysis::Analysis;
use crate::stats::{Aggregate, RequestMetrics};
use crate::trace::Status;
use std::fmt::Write;

fn agg_row(out: &mut String, label: &str, a: Option<Aggregate>, d: usize) {
    match a {
        Some(a) => {
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
                a.n,
                num(Some(a.mean), d),
                num(Some(a.median), d),
                num(Some(a.min), d),
                num(Some(a.max), d),
                num(Some(a.stddev), d),
                num(Some(a.p90), d),
                num(Some(a.p99), d)
            );
        }
        None => {
            let _ = writeln!(out, "| {label} | 0 | - | - | - | - | - | - | - |");
        }
    }
}

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
        "Recorded {} on `{}` with rkbench {} ({}); RKLLM runtime {} (ABI {}). Trace `{}`.\n",
        utc(h.started_unix_ms),
        md_inline(&h.hostname),
        md_inline(&h.rkbench.version),
        md_inline(&h.rkbench.git_commit),
        if h.runtime.version.is_empty() {
            "unknown version"
        } else {
            &h.runtime.version
        },
        h.runtime.abi,
        md_inline(&a.file_name)
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
    let s = &a.summary;
    let _ = writeln!(o, "## 📊 Summary\n");
    let mark = if a.all_ok() { "✅" } else { "⚠️" };
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| Requests | {} ({} ok, {} partial, {} failed{}) |",
        s.requests,
        s.ok,
        s.partial,
        s.failed,
        if s.warmup > 0 {
            format!("; {} warm-up not counted", s.warmup)
        } else {
            String::new()
        }
    );
    let _ = writeln!(o, "| Success rate | {mark} {:.1} % |", a.success_rate_pct());
    let _ = writeln!(
        o,
        "| Decode rate, mean of successful requests | {} tok/s |",
        num(s.decode_tok_s.map(|a| a.mean), 2)
    );
    let _ = writeln!(
        o,
        "| Decode rate, token-weighted (all measured tokens) | {} tok/s |",
        num(s.decode_tok_s_token_weighted, 2)
    );
    let _ = writeln!(
        o,
        "| TTFT, median | {} ms |",
        num(s.ttft_ms.map(|a| a.median), 1)
    );
    let _ = writeln!(
        o,
        "| Prefill rate, mean | {} tok/s |",
        num(s.prefill_tok_s.map(|a| a.mean), 2)
    );
    let _ = writeln!(
        o,
        "| Peak memory (runtime VmHWM) | {} MB |",
        num(s.peak_memory_mb, 1)
    );
    let _ = writeln!(
        o,
        "| Total duration | {} s |",
        num(Some(s.duration_ms / 1e3), 1)
    );
    let _ = writeln!(o);
}

fn configuration_section(o: &mut String, a: &Analysis) {
    let h = &a.trace.header;
    let p = &h.params;
    let _ = writeln!(o, "## ⚙️ Configuration\n");
    let _ = writeln!(
        o,
        "Parameters as passed to the runtime (recorded in the trace):\n"
    );
    let mut cfg = String::new();
    let _ = writeln!(
        cfg,
        "model            {} ({} bytes, fingerprint {})",
        h.model.path,
        h.model.size,
        short(&h.model.fingerprint)
    );
    let _ = writeln!(
        cfg,
        "runtime          {} ({} bytes, sha256 {})",
        h.runtime.lib_path,
        h.runtime.lib_size,
        short(&h.runtime.lib_sha256)
    );
    let _ = writeln!(
        cfg,
        "runtime ABI      {} ({})",
        h.runtime.abi, h.runtime.evidence
    );
    let _ = writeln!(
        cfg,
        "suite            {} ({} tests, {}, sha256 {})",
        h.suite.name,
        h.suite.tests,
        h.suite.source,
        short(&h.suite.sha256)
    );
    let _ = writeln!(cfg, "max_context_len  {}", p.max_context_len);
    let _ = writeln!(cfg, "max_new_tokens   {}", p.max_new_tokens);
    let _ = writeln!(cfg, "top_k            {}", p.top_k);
    let _ = writeln!(cfg, "top_p            {:.3}", p.top_p);
    let _ = writeln!(cfg, "temperature      {:.3}", p.temperature);
    let _ = writeln!(cfg, "repeat_penalty   {:.3}", p.repeat_penalty);
    let _ = writeln!(cfg, "frequency_pen.   {:.3}", p.frequency_penalty);
    let _ = writeln!(cfg, "presence_pen.    {:.3}", p.presence_penalty);
    let _ = writeln!(
        cfg,
        "cpus             mask 0x{:X}, enabled_cpus_num {}",
        p.enabled_cpus_mask, p.enabled_cpus_num
    );
    let _ = writeln!(
        cfg,
        "thinking         {}",
        if p.think { "on" } else { "off" }
    );
    let _ = writeln!(
        cfg,
        "timeout          {}",
        if p.timeout_ms == 0 {
            "none".to_string()
        } else {
            format!("{} ms per request", p.timeout_ms)
        }
    );
    let _ = writeln!(cfg, "command          {}", h.command_line.join(" "));
    o.push_str(&md_fence(&cfg, "text"));
    let _ = writeln!(o);
    if !h.board.is_empty() {
        let _ = writeln!(o, "<details><summary>Board</summary>\n");
        let _ = writeln!(o, "| fact | value |\n|---|---|");
        for f in &h.board {
            let _ = writeln!(o, "| {} | {} |", md_inline(&f.key), md_inline(&f.value));
        }
        let _ = writeln!(o, "\n</details>\n");
    }
}

fn performance_section(o: &mut String, a: &Analysis) {
    let s = &a.summary;
    let _ = writeln!(o, "## ⚡ Performance Metrics\n");
    let _ = writeln!(o, "Per-request figures over the {} successful requests (percentiles: linear interpolation, type 7).\n", s.ok);
    let _ = writeln!(o, "| metric | n | mean | median | min | max | stddev | p90 | p99 |\n|---|---|---|---|---|---|---|---|---|");
    agg_row(o, "TTFT (ms)", s.ttft_ms, 1);
    agg_row(o, "Prefill rate (tok/s)", s.prefill_tok_s, 2);
    agg_row(o, "Decode rate (tok/s)", s.decode_tok_s, 2);
    agg_row(
        o,
        "Generation Speed, original definition (tok/s)",
        s.generation_speed_tok_s,
        2,
    );
    agg_row(o, "E2E latency (ms)", s.e2e_ms, 1);
    agg_row(
        o,
        "Runtime-reported prefill (tok/s)",
        s.runtime_prefill_tok_s,
        2,
    );
    agg_row(
        o,
        "Runtime-reported decode (tok/s)",
        s.runtime_decode_tok_s,
        2,
    );
    agg_row(o, "ITL, pooled over all measured tokens (ms)", s.itl_ms, 1);
    let _ = writeln!(o);
}

fn tokens_section(o: &mut String, a: &Analysis) {
    let s = &a.summary;
    let _ = writeln!(o, "## 🔢 Token Statistics\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Input tokens (runtime count) | {} |", s.input_tokens);
    let _ = writeln!(
        o,
        "| Output tokens (one callback = one token, partial requests included) | {} |",
        s.output_tokens
    );
    let _ = writeln!(
        o,
        "| Output tokens per successful request, mean | {} |",
        num(s.output_tokens_per_request.map(|a| a.mean), 1)
    );
    let _ = writeln!(
        o,
        "| Requests where the runtime's count differs from the callbacks | {} |",
        a.token_count_mismatches()
    );
    let _ = writeln!(o);
}

fn requests_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🧪 Per-Test Results\n");
    let _ = writeln!(o, "| # | test | status | in | out | TTFT ms | prefill tok/s | decode tok/s | ITL p50/p99/max ms | stalls | E2E s |\n|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &a.summary.metrics {
        let _ = writeln!(
            o,
            "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.index,
            md_inline(&m.id),
            if m.warmup { " (warm-up)" } else { "" },
            m.status.as_str(),
            m.input_tokens
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            m.output_tokens,
            num(m.ttft_ms, 1),
            num(m.prefill_tok_s, 2),
            num(m.decode_tok_s, 2),
            m.itl
                .map(|i| format!("{:.1}/{:.1}/{:.1}", i.p50, i.p99, i.max))
                .unwrap_or_else(|| "-".into()),
            m.stalls,
            num(Some(m.e2e_ms / 1e3), 2),
        );
    }
    let _ = writeln!(o);
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

fn short(h: &str) -> &str {
    &h[..h.len().min(16)]
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

/// A frequency range in MHz: `600–1000`, or one value when it did not move.
fn mhz_range(r: Option<crate::stats::telemetry::MinMax>, per_mhz: f64) -> String {
    match r {
        None => "-".into(),
        Some(r) if r.min == r.max => format!("{:.0}", r.min as f64 / per_mhz),
        Some(r) => format!(
            "{:.0}–{:.0}",
            r.min as f64 / per_mhz,
            r.max as f64 / per_mhz
        ),
    }
}

/// "Board state during each request": only when the trace has telemetry.
fn board_state_section(o: &mut String, a: &Analysis) {
    let Some(tele) = &a.request_telemetry else {
        return;
    };
    let trace = a.trace;
    let mut policies: Vec<&str> = tele
        .iter()
        .flat_map(|t| t.cpu_freq_khz.iter().map(|(p, _)| p.as_str()))
        .collect();
    policies.sort();
    policies.dedup();
    let _ = writeln!(o, "### 🌡️ Board state during each request\n");
    let interval = trace
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
    let mut head = String::from("| # | test | samples | NPU load % | NPU MHz | DDR MHz |");
    let mut rule = String::from("|---|---|---|---|---|---|");
    for p in &policies {
        let _ = write!(head, " CPU {} MHz |", md_inline(p));
        rule.push_str("---|");
    }
    head.push_str(" max °C | process CPU % | RSS MB |");
    rule.push_str("---|---|---|");
    let _ = writeln!(o, "{head}\n{rule}");
    for (r, t) in trace.requests.iter().zip(tele) {
        let mut row = format!(
            "| {} | {}{} | {} | {} / {} | {} | {} |",
            r.index,
            md_inline(&r.test_id),
            if r.warmup { " (warm-up)" } else { "" },
            t.samples,
            num(t.npu_load_pct, 0),
            num(t.npu_load_decode_pct, 0),
            mhz_range(t.npu_freq_hz, 1e6),
            mhz_range(t.dmc_freq_hz, 1e6),
        );
        for p in &policies {
            let r = t.cpu_freq_khz.iter().find(|(q, _)| q == p).map(|(_, r)| *r);
            let _ = write!(row, " {} |", mhz_range(r, 1e3));
        }
        let temp = t
            .max_temp_mc
            .as_ref()
            .map(|(z, v)| format!("{:.1} ({})", *v as f64 / 1e3, md_inline(z)))
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            row,
            " {temp} | {} | {} |",
            num(t.process_cpu_pct, 0),
            num(t.rss_max_kb.map(|k| k as f64 / 1024.0), 0)
        );
        let _ = writeln!(o, "{row}");
    }
    let _ = writeln!(o);
}

/// The same trace under each peer tool's definitions, labelled with the source.
fn peers_section(o: &mut String, a: &Analysis) {
    let _ = writeln!(o, "## 🔁 Peer Metrics (same trace, their definitions)\n");
    let _ = writeln!(o, "\"ITL\" and \"TPOT\" mean different things in different tools; each row is computed exactly as that tool defines it (its own percentile method and σ).\n");
    let _ = writeln!(o, "| tool | metric | definition | over | n | mean | median | p99 | σ |\n|---|---|---|---|---|---|---|---|---|");
    for m in &a.peers {
        let d = if m.unit == "ms" { 1 } else { 2 };
        let _ = writeln!(
            o,
            "| {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
            m.tool,
            m.metric,
            m.unit,
            md_inline(m.definition),
            m.population,
            m.n,
            num(m.mean, d),
            num(m.median, d),
            num(m.p99, d),
            num(m.std, d)
        );
    }
    let _ = writeln!(o);
}
