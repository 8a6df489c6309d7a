//! Markdown for a run measured through a server: the server and how it was identified, each
//! request's count source and mismatch, chunk timing, unit errors; and, for `compare`, the
//! server's overhead over a bare-runtime run or why the two are not comparable. Formatting only:
//! every figure comes from the analysis ([`crate::stats::server`]).
use super::json_writer::JsonWriter;
use super::table::{Cell, Table};
use super::text::html_escape;
use super::text::{md_inline, num};
use crate::analysis::Analysis;
use crate::stats::server::{Overhead, ServerAnalysis, ServerRequestFigures};
use crate::trace::server::{
    gap_rule, gap_threshold_us, CountSource, GapRule, ServerRun, ServerTrace,
};
use crate::trace::Fact;
use std::fmt::Write;

fn opt(v: Option<f64>, digits: usize) -> String {
    num(v, digits)
}

/// The label every token figure of a run carries, from its weakest count source.
pub fn token_label(a: &Analysis) -> Option<String> {
    let s = a.server.as_ref()?;
    Some(source_label(s.source?, gap_threshold_us(&s.run)))
}

fn source_label(c: CountSource, gap_us: Option<u64>) -> String {
    match c {
        CountSource::ServerPerChunk => "tokens: server count per chunk".into(),
        CountSource::ServerTotal => {
            "tokens: one per text chunk; the server's total is shown beside them".into()
        }
        CountSource::GapCluster => format!(
            "estimated: the server sends characters and no token count, so text chunks less than {} apart are counted as one token (gap-cluster); every token figure is an estimate",
            gap_us.map_or_else(
                || "each request's own threshold (chosen from the gaps between its characters)".to_string(),
                |g| format!("{} µs", g)
            )
        ),
        CountSource::ChunksOnly => {
            "per chunk: the server gives no token count, so every token figure counts chunks"
                .into()
        }
    }
}

/// Each gap-cluster request's own threshold, in one sentence, when the run chose them from the
/// stream (adaptive); `None` for one fixed threshold (the count-source line gives it).
fn thresholds(s: &ServerAnalysis) -> Option<String> {
    if gap_threshold_us(&s.run).is_some() {
        return None;
    }
    let each: Vec<String> = s
        .requests
        .iter()
        .filter_map(|f| {
            let c = f.gap_threshold.as_ref()?;
            Some(match c.from.as_str() {
                "adaptive" => format!("request {}: {} µs", f.index, c.threshold_us),
                why => format!("request {}: {} µs ({why})", f.index, c.threshold_us),
            })
        })
        .collect();
    (!each.is_empty()).then(|| {
        format!(
            "Gap-cluster thresholds, each chosen from the request's own gaps between characters (the widest gap in log-space between their two modes; --token-gap sets one instead): {}.",
            each.join("; ")
        )
    })
}

/// Gap-cluster boundaries that were close calls, in one sentence; `None` when there were none.
fn close_calls(s: &ServerAnalysis) -> Option<String> {
    let hits: Vec<String> = s
        .requests
        .iter()
        .filter_map(|f| match f.ambiguous_gaps {
            Some((close, gaps)) if close > 0 => {
                Some(format!("request {}: {close} of {gaps}", f.index))
            }
            _ => None,
        })
        .collect();
    (!hits.is_empty()).then(|| {
        format!(
            "Close calls: gaps between characters within a factor 2 of the gap-cluster threshold, which could have gone either way ({}). Many close calls mean the threshold does not separate this server's tokens: on Rockchip's /rkllm_chat a long answer's characters drift apart as the server re-encodes the whole answer per character; --token-gap sets the threshold.",
            hits.join("; ")
        )
    })
}

/// Evidence facts that are probes (detection) and the others (how the run was measured).
fn probes_and_facts(run: &ServerRun) -> (Vec<&Fact>, Vec<&Fact>) {
    run.evidence
        .iter()
        .partition(|f| f.key.starts_with("probe "))
}

/// The "Server" section of a report, `None` for a bare-runtime trace.
pub fn markdown_section(a: &Analysis) -> Option<String> {
    let s = a.server.as_ref()?;
    let run = &s.run;
    let mut o = String::new();
    let _ = writeln!(o, "## Server\n");
    let _ = writeln!(
        o,
        "Measured through **{}** at `{}` ({}, {} `{}`{}). {}",
        md_inline(&run.kind),
        md_inline(&run.url),
        md_inline(&run.kind_source),
        md_inline(&run.protocol),
        md_inline(&run.endpoint),
        if run.version.is_empty() {
            String::new()
        } else {
            format!(", version `{}`", md_inline(&run.version))
        },
        if run.local {
            "The server runs on this machine: board telemetry and its process share the token clock."
        } else {
            "The server is remote: every time includes the network, and board telemetry is unavailable."
        }
    );
    let _ = writeln!(
        o,
        "\nServer process: {}. Idle wait before each request: {}.\n",
        md_inline(&run.server_pid_source),
        md_inline(&run.idle_method)
    );
    if let Some(l) = token_label(a) {
        let _ = writeln!(o, "**Count source** — {l}.\n");
    }
    for n in [thresholds(s), close_calls(s)].into_iter().flatten() {
        let _ = writeln!(o, "{}\n", md_inline(&n));
    }
    let (probes, facts) = probes_and_facts(run);
    if !facts.is_empty() {
        let _ = writeln!(o, "How this server was measured:\n");
        for f in facts {
            let _ = writeln!(o, "- {}: {}", md_inline(&f.key), md_inline(&f.value));
        }
        let _ = writeln!(o);
    }
    if !probes.is_empty() {
        let _ = writeln!(o, "Detection evidence:\n");
        for f in probes {
            let _ = writeln!(o, "- {}: {}", md_inline(&f.key), md_inline(&f.value));
        }
        let _ = writeln!(o);
    }
    let rows: &[ServerRequestFigures] = &s.requests;
    o.push_str(&requests_table(rows).markdown());
    let lists = NoteLists::of(s);
    markdown_list(&mut o, &lists.busy);
    let _ = writeln!(o, "{}\n", md_inline(MISMATCH_NOTE));
    let _ = writeln!(
        o,
        "The same stream as each peer benchmarker reads it (its own chunk rules; ≠ marks a disagreement with rkbench; `-`: the peer has no figure — vLLM re-tokenises without usage):\n"
    );
    o.push_str(&peers_table(rows).markdown());
    let _ = writeln!(o, "{}\n", lists.timings);
    markdown_list(&mut o, &lists.unit_errors);
    markdown_list(&mut o, &lists.cap_exceeded);
    if let Some(t) = prefill_split_table(rows) {
        let _ = writeln!(o, "{PREFILL_SPLIT_INTRO}:\n");
        o.push_str(&t.markdown());
    }
    Some(o)
}

/// For `compare` of a bare-runtime run and a server run: the server's overhead per metric, or
/// "not comparable: …" where the runs differ in what they asked for.
pub fn compare_section(x: &Overhead) -> String {
    let mut o = String::new();
    let (bare_role, server_role) = if x.server_is_candidate {
        ("baseline", "candidate")
    } else {
        ("candidate", "baseline")
    };
    let _ = writeln!(
        o,
        "## Server overhead\n\nThe {bare_role} is the bare runtime, the {server_role} the server ({}). Overhead = server − bare.{}\n",
        md_inline(&x.kind),
        if x.local {
            ""
        } else {
            " The server is remote: its figures include the network."
        }
    );
    let _ = writeln!(
        o,
        "| metric | bare | server | overhead |\n|---|---|---|---|"
    );
    for r in &x.rows {
        let over = if !x.not_comparable.is_empty() {
            format!("not comparable: {}", x.not_comparable.join("; "))
        } else {
            match r.overhead() {
                Some((d, f)) => format!("{} ({:+.1} %)", num(Some(d), 2), f * 100.0),
                None => "-".into(),
            }
        };
        let _ = writeln!(
            o,
            "| {} ({}) | {} | {} | {} |",
            r.metric,
            r.unit,
            num(r.bare, 2),
            num(r.server, 2),
            md_inline(&over)
        );
    }
    if let Some(c) = x.source {
        let _ = writeln!(o, "\nServer count source — {}.", source_label(c, x.gap_us));
    }
    o
}

/// The `server` object of the JSON report (docs/JSON.md); `raw` gives each request's body as
/// sent.
pub fn json(w: &mut JsonWriter, s: &ServerAnalysis, raw: Option<&ServerTrace>) {
    let r = &s.run;
    w.begin_object();
    w.field_str("url", &r.url);
    w.field_str("kind", &r.kind);
    w.field_str("kind_source", &r.kind_source);
    w.field_str("protocol", &r.protocol);
    w.field_str("endpoint", &r.endpoint);
    w.field_str("model", &r.model);
    w.field_str("version", &r.version);
    w.field_bool("local", r.local);
    w.field_int("server_pid", i64::from(r.server_pid));
    w.field_str("server_pid_source", &r.server_pid_source);
    w.field_str("idle_method", &r.idle_method);
    w.field_opt_str("count_source", s.source.map(|c| c.as_str()));
    if s.source == Some(CountSource::GapCluster) {
        w.field_bool("count_estimated", true);
        w.field_opt_int("gap_threshold_us", gap_threshold_us(r));
        w.field_str(
            "count_label",
            &source_label(CountSource::GapCluster, gap_threshold_us(r)),
        );
        w.key("gap_threshold_rule");
        match gap_rule(r) {
            Some(GapRule::Adaptive) => w.str("adaptive"),
            Some(GapRule::Fixed { flag: true, .. }) => w.str("--token-gap"),
            Some(GapRule::Fixed { flag: false, .. }) => w.str("fixed"),
            None => w.null(),
        };
    }
    w.field_str("sampling", s.sampling.as_str());
    w.field_str("sampling_note", s.sampling_note);
    w.key("evidence").begin_object();
    for f in &r.evidence {
        w.field_str(&f.key, &f.value);
    }
    w.end_object();
    w.key("requests").begin_array();
    for f in &s.requests {
        w.begin_object();
        w.field_int("index", i64::from(f.index));
        w.field_str("id", &f.id);
        w.field_str("status", f.status);
        w.field_str("count_source", f.source.as_str());
        w.field_int("chunks", f.chunks);
        w.key("chunks_by_kind").begin_object();
        for (k, n) in &f.by_kind {
            w.field_int(k.as_str(), *n);
        }
        w.end_object();
        w.field_int("coalesced", f.coalesced);
        w.field_int("tokens", f.tokens);
        w.field_opt_int("server_total", f.server_total);
        w.field_str("server_total_field", &f.server_total_field);
        w.field_opt_int("mismatch", f.mismatch);
        for (k, v) in [
            ("headers_ms", f.headers_ms),
            ("first_byte_ms", f.first_byte_ms),
            ("role_ms", f.role_ms),
            ("first_text_ms", f.first_text_ms),
            ("last_text_ms", f.last_text_ms),
            ("done_ms", f.done_ms),
            ("close_ms", f.close_ms),
            ("idle_wait_ms", Some(f.idle_wait_ms)),
        ] {
            w.field_num(k, v, 3);
        }
        w.field_str("idle_wait", &f.idle_wait);
        w.field_num("client_decode_tok_s", f.client_decode_tok_s, 3);
        w.key("timings").begin_array();
        for c in &f.checks {
            w.begin_object();
            w.field_str("field", &c.field);
            w.field_num("raw", Some(c.raw), 6);
            w.field_str("unit", &c.unit);
            w.field_opt_str("unit_error", c.unit_error.as_deref());
            w.end_object();
        }
        w.end_array();
        w.key("peers").begin_object();
        let p = &f.peers;
        for (k, v) in [
            ("vllm_tokens", p.vllm_tokens),
            ("guidellm_tokens", p.guidellm_tokens),
            ("llmperf_tokens", p.llmperf_tokens),
        ] {
            w.field_opt_int(k, v);
        }
        w.field_num("vllm_ttft_ms", p.vllm_ttft_ms, 3);
        w.field_num("guidellm_ttft_ms", p.guidellm_ttft_ms, 3);
        w.field_num("llmperf_ttft_ms", p.llmperf_ttft_ms, 3);
        w.key("notes").begin_array();
        for n in &p.notes {
            w.str(n);
        }
        w.end_array();
        w.end_object();
        if let Some((close, gaps)) = f.ambiguous_gaps {
            w.key("ambiguous_gaps").begin_object();
            w.field_int("close", close);
            w.field_int("gaps", gaps);
            w.end_object();
        }
        if let Some(c) = &f.gap_threshold {
            w.field_int("gap_threshold_us", c.threshold_us);
            w.field_str("gap_threshold_from", &c.from);
        }
        w.key("prefill_split");
        match &f.prefill_split {
            Some((field, p, rest)) => {
                w.begin_object();
                w.field_str("field", field);
                w.field_num("server_prefill_ms", Some(*p), 3);
                w.field_num("overhead_ms", Some(*rest), 3);
                w.end_object();
            }
            None => {
                w.null();
            }
        }
        w.field_str(
            "request_body",
            raw.and_then(|t| t.request(f.index))
                .map_or("", |r| r.body.as_str()),
        );
        w.end_object();
    }
    w.end_array();
    w.field_opt_int("prompt_tokens", s.prompt_tokens);
    w.key("cap_exceeded").begin_array();
    for (i, e) in &s.cap_exceeded {
        w.begin_object();
        w.field_int("index", i64::from(*i));
        w.field_str("what", e);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

/// One row per request: count source, chunks by kind, tokens against the server's total, and
/// the chunk timing (ms since the request was sent).
pub fn requests_table(rows: &[ServerRequestFigures]) -> Table {
    let mut t = Table::grid(&[
        "#",
        "test",
        "status",
        "count source",
        "#chunks",
        "#coalesced",
        "#tokens",
        "server total",
        "#mismatch",
        "#headers ms",
        "#first byte ms",
        "#role ms",
        "#first text ms",
        "#last text ms",
        "#done ms",
        "#idle wait ms",
    ]);
    for f in rows {
        let kinds: Vec<String> = f
            .by_kind
            .iter()
            .map(|(k, n)| format!("{n} {}", k.as_str()))
            .collect();
        t.push(vec![
            Cell::num(format!(
                "{}{}",
                f.index,
                if f.warmup { " (warm-up)" } else { "" }
            )),
            Cell::text(f.id.clone()),
            Cell::Static(f.status.to_string()),
            Cell::Static(f.source.as_str().to_string()),
            Cell::num(format!("{} ({})", f.chunks, kinds.join(", "))),
            Cell::num(f.coalesced.to_string()),
            Cell::num(f.tokens.to_string()),
            match f.server_total {
                Some(n) => Cell::text(format!("{n} ({})", f.server_total_field)),
                None => Cell::Static("-".into()),
            },
            Cell::num(
                f.mismatch
                    .map(|m| format!("{m:+}"))
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::num(opt(f.headers_ms, 1)),
            Cell::num(opt(f.first_byte_ms, 1)),
            Cell::num(opt(f.role_ms, 1)),
            Cell::num(opt(f.first_text_ms, 1)),
            Cell::num(opt(f.last_text_ms, 1)),
            Cell::num(opt(f.done_ms, 1)),
            Cell::num(opt(Some(f.idle_wait_ms), 1)),
        ]);
    }
    t
}

/// The HTML "Server" section (the same facts as the Markdown one).
pub fn html_section(a: &Analysis) -> Option<String> {
    let s = a.server.as_ref()?;
    let r = &s.run;
    let mut o = String::new();
    let _ = writeln!(o, "<section id=\"server\">\n<h2>Server</h2>");
    let _ = writeln!(
        o,
        "<p>Measured through <b>{}</b> at <code>{}</code> ({}, {} <code>{}</code>{}). {}</p>",
        html_escape(&r.kind),
        html_escape(&r.url),
        html_escape(&r.kind_source),
        html_escape(&r.protocol),
        html_escape(&r.endpoint),
        if r.version.is_empty() {
            String::new()
        } else {
            format!(", version <code>{}</code>", html_escape(&r.version))
        },
        if r.local {
            "The server runs on this machine: board telemetry and its process share the token clock."
        } else {
            "The server is remote: every time includes the network, and board telemetry is unavailable."
        }
    );
    if let Some(l) = token_label(a) {
        let _ = writeln!(o, "<p><b>Count source</b> — {}.</p>", html_escape(&l));
    }
    for n in [thresholds(s), close_calls(s)].into_iter().flatten() {
        let _ = writeln!(o, "<p>{}</p>", html_escape(&n));
    }
    let (_, facts) = probes_and_facts(r);
    if !facts.is_empty() {
        let _ = writeln!(o, "<p>How this server was measured:</p>\n<ul>");
        for f in facts {
            let _ = writeln!(
                o,
                "<li>{}: {}</li>",
                html_escape(&f.key),
                html_escape(&f.value)
            );
        }
        let _ = writeln!(o, "</ul>");
    }
    o.push_str(&requests_table(&s.requests).html());
    let lists = NoteLists::of(s);
    html_list(&mut o, &lists.busy);
    let _ = writeln!(o, "<p>{}</p>", html_escape(MISMATCH_NOTE));
    let _ = writeln!(o, "<p>The same stream as each peer benchmarker reads it (its own chunk rules; ≠ marks a disagreement with rkbench):</p>");
    o.push_str(&peers_table(&s.requests).html());
    let _ = writeln!(o, "<p>{}</p>", html_escape(lists.timings));
    html_list(&mut o, &lists.unit_errors);
    html_list(&mut o, &lists.cap_exceeded);
    if let Some(t) = prefill_split_table(&s.requests) {
        let _ = writeln!(o, "<p>{}:</p>", html_escape(PREFILL_SPLIT_INTRO));
        o.push_str(&t.html());
    }
    o.push_str("</section>\n");
    Some(o)
}

/// What the prefill-split table shows.
const PREFILL_SPLIT_INTRO: &str = "Client TTFT split into the prefill the server reports and the rest (queue, transport, template: the server's overhead)";

/// What the mismatch column means and where TTFT is taken.
const MISMATCH_NOTE: &str = "Mismatch = Σ chunk tokens − the server's total (tokens the stream never attributed to a chunk show as a negative mismatch). TTFT in the tables above is the first token chunk; first text is the first non-empty content or reasoning chunk; the role chunk and [DONE]/done are kept apart.";

/// Client TTFT split into the server's reported prefill and the rest, for the requests whose
/// server reports its prefill (`None`: none does).
fn prefill_split_table(rows: &[ServerRequestFigures]) -> Option<Table> {
    let mut t = Table::grid(&[
        "#",
        "test",
        "#first text ms",
        "#server prefill ms",
        "field",
        "#overhead ms",
    ]);
    for f in rows {
        if let Some((field, p, rest)) = &f.prefill_split {
            t.push(vec![
                Cell::num(f.index.to_string()),
                Cell::text(&f.id),
                Cell::num(opt(f.first_text_ms, 1)),
                Cell::num(opt(Some(*p), 1)),
                Cell::Code(field.clone()),
                Cell::num(opt(Some(*rest), 1)),
            ]);
        }
    }
    (!t.rows.is_empty()).then_some(t)
}

/// A titled list the Server section states in every format (empty: not shown).
struct NoteList {
    title: &'static str,
    why: &'static str,
    items: Vec<String>,
}

/// What the Server section lists besides its tables, built once for Markdown and HTML.
struct NoteLists {
    /// Requests whose wait before them met a busy server (503s, or a wait that hit its bound).
    busy: NoteList,
    /// Whether the server's timings passed the unit checks, in one sentence.
    timings: &'static str,
    unit_errors: NoteList,
    cap_exceeded: NoteList,
}

impl NoteLists {
    fn of(s: &ServerAnalysis) -> NoteLists {
        NoteLists {
            busy: NoteList {
                title: "The server was busy before these requests",
                why: "each wait as recorded",
                items: s
                    .requests
                    .iter()
                    .filter(|f| f.idle_troubled)
                    .map(|f| format!("request {} ({}): {}", f.index, f.id, f.idle_wait))
                    .collect(),
            },
            timings: if !s.unit_errors.is_empty() {
                "Server timings: some fail the unit checks (listed below)."
            } else if s.requests.iter().all(|f| f.checks.is_empty()) {
                "Server timings: the server sent none."
            } else {
                "Server timings: every field passed the unit checks."
            },
            unit_errors: NoteList {
                title: "Unit errors in the server's timings",
                why: "raw values kept in the trace",
                items: s
                    .unit_errors
                    .iter()
                    .map(|(i, e)| format!("request {i}: {e}"))
                    .collect(),
            },
            cap_exceeded: NoteList {
                title: "Output beyond the cap",
                why: "the server's own count; the cap did not hold",
                items: s.cap_exceeded.iter().map(|(_, e)| e.clone()).collect(),
            },
        }
    }
}

fn markdown_list(o: &mut String, l: &NoteList) {
    if l.items.is_empty() {
        return;
    }
    let _ = writeln!(o, "**{}** ({}):\n", l.title, l.why);
    for i in &l.items {
        let _ = writeln!(o, "- {}", md_inline(i));
    }
    let _ = writeln!(o);
}

fn html_list(o: &mut String, l: &NoteList) {
    if l.items.is_empty() {
        return;
    }
    let _ = writeln!(o, "<p><b>{}</b> ({}):</p>\n<ul>", l.title, l.why);
    for i in &l.items {
        let _ = writeln!(o, "<li>{}</li>", html_escape(i));
    }
    let _ = writeln!(o, "</ul>");
}

/// The same stream as vLLM, guidellm and llmperf read it, beside rkbench (a ≠ marks a
/// disagreement with rkbench's figure).
pub fn peers_table(rows: &[ServerRequestFigures]) -> Table {
    let mut t = Table::grid(&[
        "#",
        "test",
        "#rkbench tokens",
        "#vLLM tokens",
        "#guidellm tokens",
        "#llmperf tokens",
        "#rkbench TTFT ms",
        "#vLLM TTFT ms",
        "#guidellm/llmperf TTFT ms",
        "notes",
    ]);
    let mark = |v: Option<f64>, ours: Option<f64>, d: usize| match (v, ours) {
        (Some(x), Some(o)) if (x - o).abs() > 1e-9 => format!("{} ≠", num(Some(x), d)),
        (v, _) => num(v, d),
    };
    for f in rows.iter().filter(|f| !f.warmup) {
        let p = &f.peers;
        let ours = Some(f.tokens as f64);
        let tok = |v: Option<u64>| mark(v.map(|x| x as f64), ours, 0);
        let rk_ttft = f.first_token_ms;
        t.push(vec![
            Cell::num(f.index.to_string()),
            Cell::text(f.id.clone()),
            Cell::num(f.tokens.to_string()),
            Cell::num(tok(p.vllm_tokens)),
            Cell::num(tok(p.guidellm_tokens)),
            Cell::num(tok(p.llmperf_tokens)),
            Cell::num(opt(rk_ttft, 1)),
            Cell::num(mark(p.vllm_ttft_ms, rk_ttft, 1)),
            Cell::num(mark(p.guidellm_ttft_ms, rk_ttft, 1)),
            Cell::text(p.notes.join("; ")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::server::{ChunkKind, ServerRequest, ServerTrace, GAP_THRESHOLD_FACT};

    #[test]
    fn close_calls_of_a_gap_cluster_count_are_named_per_request() {
        // Characters at 0, 0.6 ms (a close call: within a factor 2 of 1 ms), 30 ms, 30.01 ms.
        let mut r = ServerRequest {
            index: 4,
            ..Default::default()
        };
        for (i, t) in [0u64, 600, 30_000, 30_010].into_iter().enumerate() {
            r.push_chunk(t, i as u32, 0, ChunkKind::Content, None, b"x");
        }
        crate::http::capture::attribute(&mut r, Some(crate::trace::server::GapRule::fixed(1000)));
        let mut run = ServerRun::default();
        run.evidence.push(Fact {
            key: GAP_THRESHOLD_FACT.into(),
            value: "1000 us (…)".into(),
        });
        let mut t = ServerTrace {
            run,
            requests: vec![r],
        };
        let s = crate::stats::server::analyse(&t);
        assert_eq!(s.requests[0].ambiguous_gaps, Some((1, 3)));
        let n = close_calls(&s).unwrap();
        assert!(n.contains("(request 4: 1 of 3)"), "{n}");
        // A trace recorded with the fixed 1 ms (before the adaptive rule) reports as before:
        // one threshold in the label, none listed per request.
        assert_eq!(thresholds(&s), None);
        let c = s.requests[0].gap_threshold.clone().unwrap();
        assert_eq!((c.threshold_us, c.from.as_str()), (1000, "fixed"));
        // The adaptive rule: each request's own threshold (here too few gaps: the fallback).
        let mut adaptive = t.clone();
        adaptive.run.evidence[0].value =
            crate::trace::server::gap_rule_fact(crate::trace::server::GapRule::Adaptive);
        let a = crate::stats::server::analyse(&adaptive);
        let n = thresholds(&a).unwrap();
        assert!(
            n.contains("request 4: 1000 µs (fallback: 3 gap(s) between characters, fewer than 8 to choose from)"),
            "{n}"
        );
        // No close call, no sentence; no threshold recorded, no figure.
        t.requests[0].chunk_us[1] = 10;
        assert_eq!(close_calls(&crate::stats::server::analyse(&t)), None);
        t.run.evidence.clear();
        assert_eq!(
            crate::stats::server::analyse(&t).requests[0].ambiguous_gaps,
            None
        );
    }
}
