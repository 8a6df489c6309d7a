//! The report of a sweep directory: one row per combination of swept parameters, so the effect
//! of e.g. `max-context-len` or `cpus-mask` reads off one table.
use super::json_writer::JsonWriter;
use super::text::{md_inline, num};
use crate::analysis::Analysis;
use crate::stats::Summary;
use crate::trace::{reader, SweepIndex};
use std::fmt::Write;
use std::path::Path;

/// One combination: its parameters and the summary of its trace (if readable).
pub struct Row {
    pub trace: String,
    pub params: Vec<(String, String)>,
    pub exit_code: i64,
    pub summary: Option<Summary>,
    pub error: Option<String>,
}

pub struct Sweep {
    pub name: String,
    pub axes: Vec<String>,
    pub rows: Vec<Row>,
}

/// Read `DIR/index.json` (through the one type that writes it) and every trace it lists.
pub fn load(dir: &Path) -> Result<Sweep, String> {
    let index = SweepIndex::read(dir)?;
    let mut rows = Vec::new();
    for r in &index.runs {
        let params = index
            .axes
            .iter()
            .map(|k| (k.clone(), r.params.get(k).cloned().unwrap_or_default()))
            .collect();
        let (summary, error) = match reader::read(&SweepIndex::trace_path(dir, r)) {
            Ok(t) => (
                Some(Analysis::of(&t).summary),
                t.damage.as_ref().map(|d| d.to_string()),
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        rows.push(Row {
            trace: r.trace.clone(),
            params,
            exit_code: i64::from(r.exit_code),
            summary,
            error,
        });
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Sweep {
        name,
        axes: index.axes,
        rows,
    })
}

pub fn markdown(s: &Sweep) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Sweep {}\n", md_inline(&s.name));
    let _ = writeln!(o, "One row per combination of {}. Decode and TTFT are per-request figures over successful requests (see the per-trace reports for definitions).\n", s.axes.join(", "));
    let mut head = s.axes.clone();
    head.extend(
        [
            "ok/requests",
            "decode tok/s (mean)",
            "decode tok/s (token-weighted)",
            "TTFT ms (median)",
            "prefill tok/s (mean)",
            "E2E s (mean)",
            "peak MB",
            "trace",
        ]
        .map(String::from),
    );
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(head.len()));
    for r in &s.rows {
        let mut cells: Vec<String> = r.params.iter().map(|(_, v)| md_inline(v)).collect();
        match &r.summary {
            Some(m) => cells.extend([
                format!("{}/{}", m.ok, m.requests),
                num(m.decode_tok_s.map(|a| a.mean), 2),
                num(m.decode_tok_s_token_weighted, 2),
                num(m.ttft_ms.map(|a| a.median), 1),
                num(m.prefill_tok_s.map(|a| a.mean), 2),
                num(m.e2e_ms.map(|a| a.mean / 1e3), 2),
                num(m.peak_memory_mb, 1),
            ]),
            None => cells.extend((0..7).map(|_| "-".to_string())),
        }
        let note = r
            .error
            .as_ref()
            .map(|e| format!(" ⚠️ {}", md_inline(e)))
            .unwrap_or_default();
        cells.push(format!("{}{note}", md_inline(&r.trace)));
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    o
}

pub fn json(s: &Sweep) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_int("schema_version", super::json::SCHEMA_VERSION);
    w.field_str("sweep", &s.name);
    w.key("axes").begin_array();
    for a in &s.axes {
        w.str(a);
    }
    w.end_array();
    w.key("runs").begin_array();
    for r in &s.rows {
        w.begin_object();
        w.field_str("trace", &r.trace);
        w.key("params").begin_object();
        for (k, v) in &r.params {
            w.field_str(k, v);
        }
        w.end_object();
        w.field_int("exit_code", r.exit_code);
        if let Some(m) = &r.summary {
            w.field_int("requests", m.requests as i64);
            w.field_int("ok", m.ok as i64);
            w.field_num("decode_tok_s_mean", m.decode_tok_s.map(|a| a.mean), 3);
            w.field_num(
                "decode_tok_s_token_weighted",
                m.decode_tok_s_token_weighted,
                3,
            );
            w.field_num("ttft_ms_median", m.ttft_ms.map(|a| a.median), 3);
            w.field_num("prefill_tok_s_mean", m.prefill_tok_s.map(|a| a.mean), 3);
            w.field_num("e2e_ms_mean", m.e2e_ms.map(|a| a.mean), 3);
            w.field_num("peak_memory_mb", m.peak_memory_mb, 1);
        }
        w.key("error");
        match &r.error {
            Some(e) => w.str(e),
            None => w.null(),
        };
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.finish()
}
