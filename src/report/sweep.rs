//! The report of a sweep directory: one row per combination of swept parameters, so the effect
//! of e.g. `max-context-len` or `cpus-mask` reads off one table.
use super::json_writer::JsonWriter;
use super::table::{Cell, Column, Table};
use super::text::{html_escape, md_inline, num};
use crate::analysis::Analysis;
use crate::stats::load::{LoadLevel, Saturation};
use crate::stats::throughput::Slos;
use crate::stats::Summary;
use crate::trace::reader::{self, Trace, TraceError};
use crate::trace::{SweepIndex, SweepStatus};
use std::fmt::Write;
use std::path::Path;

/// One combination: its parameters and the summary of its trace (if readable).
pub(crate) struct Row {
    pub trace: String,
    pub params: Vec<(String, String)>,
    pub exit_code: i64,
    pub summary: Option<Summary>,
    /// The trace as a level of load (each trace of a sweep is one level).
    pub load: Option<LoadLevel>,
    pub error: Option<String>,
}

pub(crate) struct Sweep {
    pub name: String,
    pub axes: Vec<String>,
    pub rows: Vec<Row>,
    /// How the sweep ended, as its index says (`None` for an index from before).
    pub status: Option<SweepStatus>,
    /// The combinations it did not record, each as `KEY=VALUE, …` in axis order.
    pub not_run: Vec<String>,
    /// Where the levels saturated, when a trace of the sweep ran under load (each trace's
    /// level record describes it; the run labels are not read).
    pub saturation: Option<Saturation>,
}

impl Sweep {
    /// The levels of the readable traces, in the index's order.
    pub(crate) fn levels(&self) -> Vec<&LoadLevel> {
        self.rows.iter().filter_map(|r| r.load.as_ref()).collect()
    }
}

/// Read `DIR/index.json` (through the one type that writes it) and every trace it lists;
/// `slos` are the `--goodput` SLOs the saturation point holds a load sweep's levels to.
pub(crate) fn load(dir: &Path, slos: &Slos) -> Result<Sweep, String> {
    let index = SweepIndex::read(dir)?;
    Ok(of_index(dir, index, slos, reader::read))
}

/// The sweep of `index`, read from `dir`, with each listed trace read by `read` (from disk, or
/// from memory in the browser viewer).
pub(crate) fn of_index(
    dir: &Path,
    index: SweepIndex,
    slos: &Slos,
    mut read: impl FnMut(&Path) -> Result<Trace, TraceError>,
) -> Sweep {
    let mut rows = Vec::new();
    for r in &index.runs {
        let params = index
            .axes
            .iter()
            .map(|k| (k.clone(), r.params.get(k).cloned().unwrap_or_default()))
            .collect();
        let (summary, load, error) = match read(&SweepIndex::trace_path(dir, r)) {
            Ok(t) => {
                let a = Analysis::with_goodput(&t, slos);
                (
                    Some(a.summary),
                    Some(a.load),
                    t.damage.as_ref().map(|d| d.to_string()),
                )
            }
            Err(e) => (None, None, Some(e.to_string())),
        };
        rows.push(Row {
            trace: r.trace.clone(),
            params,
            exit_code: i64::from(r.exit_code),
            summary,
            load,
            error,
        });
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let not_run = index
        .not_run
        .iter()
        .map(|p| {
            index
                .axes
                .iter()
                .map(|k| format!("{k}={}", p.get(k).map_or("", String::as_str)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let levels: Vec<&LoadLevel> = rows.iter().filter_map(|r| r.load.as_ref()).collect();
    let saturation = levels
        .iter()
        .any(|l| !l.is_sequential())
        .then(|| crate::stats::load::saturation(&levels, slos));
    Sweep {
        name,
        axes: index.axes,
        rows,
        status: index.status,
        not_run,
        saturation,
    }
}

pub(crate) fn markdown(s: &Sweep) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Sweep {}\n", md_inline(&s.name));
    let axes: Vec<String> = s.axes.iter().map(|a| md_inline(a)).collect();
    let _ = writeln!(o, "One row per combination of {}. Decode and TTFT are per-request figures over successful requests (see the per-trace reports for definitions).\n", axes.join(", "));
    let table = table(s).markdown();
    o.push_str(table.strip_suffix('\n').unwrap_or(&table));
    if !s.not_run.is_empty() {
        let why = match s.status {
            Some(SweepStatus::Interrupted) => "it was interrupted",
            Some(SweepStatus::Stopped) => "a combination failed in a way the next would too",
            _ => "it did not finish",
        };
        let list: Vec<String> = s.not_run.iter().map(|c| md_inline(c)).collect();
        o.truncate(o.trim_end().len());
        let _ = write!(
            o,
            "\n\nNot run, because {why}: {} of the sweep's combinations ({}).",
            s.not_run.len(),
            list.join("; ")
        );
    }
    if let Some(sat) = &s.saturation {
        o.truncate(o.trim_end().len());
        let _ = write!(
            o,
            "\n\n## 🚦 {}\n\nOne row per level (each trace's own level record), in the sweep's order; figures as in each trace's report ([LOAD.md](docs/LOAD.md)).\n\n{}",
            super::load::TITLE,
            super::load::markdown_levels(&s.levels(), sat)
        );
        o.truncate(o.trim_end().len());
    }
    o
}

/// The sweep as one HTML page: its table, and under load the levels, the saturation point and
/// the latency–throughput chart.
pub(crate) fn html(s: &Sweep) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"generator\" content=\"rkbench report\">\n\
         <title>Sweep {name} — rkbench</title>\n<style>\n{}</style>\n</head>\n<body>\n<main>\n<h1>Sweep {name}</h1>\n",
        super::html::CSS,
        name = html_escape(&s.name)
    );
    o.push_str(&table(s).html());
    if let Some(sat) = &s.saturation {
        let _ = writeln!(o, "<section id=\"load\">\n<h2>{}</h2>", super::load::TITLE);
        o.push_str(&super::load::html_levels(&s.levels(), sat));
        o.push_str("</section>\n");
    }
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

/// One row per combination: its parameters and the summary of its trace.
fn table(s: &Sweep) -> Table {
    // Axis names come from index.json: the table model escapes them like any trace text.
    let mut titles: Vec<&str> = s.axes.iter().map(String::as_str).collect();
    titles.extend([
        "ok/requests",
        "decode tok/s (mean)",
        "decode tok/s (token-weighted)",
        "TTFT ms (median)",
        "prefill tok/s (mean)",
        "E2E s (mean)",
        "peak MB",
        "trace",
    ]);
    let mut t = Table::grid(&[]);
    t.columns = titles
        .iter()
        .map(|c| Column {
            title: c.to_string(),
            numeric: false,
        })
        .collect();
    for r in &s.rows {
        let mut cells: Vec<Cell> = r
            .params
            .iter()
            .map(|(_, v)| Cell::text(v.clone()))
            .collect();
        match &r.summary {
            Some(m) => cells.extend(
                [
                    format!("{}/{}", m.ok, m.requests),
                    num(m.decode_tok_s.map(|a| a.mean), 2),
                    num(m.decode_tok_s_token_weighted, 2),
                    num(m.ttft_ms.map(|a| a.median), 1),
                    num(m.prefill_tok_s.map(|a| a.mean), 2),
                    num(m.e2e_ms.map(|a| a.mean / 1e3), 2),
                    num(m.peak_memory_mb, 1),
                ]
                .map(Cell::Num),
            ),
            None => cells.extend((0..7).map(|_| Cell::num("-"))),
        }
        let note = r
            .error
            .as_ref()
            .map(|e| format!(" ⚠️ {e}"))
            .unwrap_or_default();
        cells.push(Cell::text(format!("{}{note}", r.trace)));
        t.push(cells);
    }
    t
}

pub(crate) fn json(s: &Sweep) -> String {
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
            w.field_int("requests", m.requests);
            w.field_int("ok", m.ok);
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
        w.field_opt_str("error", r.error.as_deref());
        w.end_object();
    }
    w.end_array();
    w.field_opt_str("status", s.status.map(|st| st.as_str()));
    w.key("not_run").begin_array();
    for c in &s.not_run {
        w.str(c);
    }
    w.end_array();
    match &s.saturation {
        Some(sat) => super::json::load(&mut w, &s.levels(), sat, None),
        None => {
            w.key("load").null();
        }
    }
    w.end_object();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F21: axis names from index.json are escaped like any other text in the report.
    #[test]
    fn axis_names_are_escaped() {
        let s = Sweep {
            name: "sw".into(),
            axes: vec!["a|b<script>".into(), "`x`".into()],
            rows: vec![Row {
                trace: "t|1.rktrace".into(),
                params: vec![
                    ("a|b<script>".into(), "1|2".into()),
                    ("`x`".into(), "y".into()),
                ],
                exit_code: 0,
                summary: None,
                load: None,
                error: None,
            }],
            status: Some(SweepStatus::Interrupted),
            not_run: vec!["a|b<script>=3, `x`=z".into()],
            saturation: None,
        };
        let md = markdown(&s);
        assert!(!md.contains("<script>"), "{md}");
        assert!(
            md.contains("| a\\|b&lt;script&gt; | \\`x\\` | ok/requests |"),
            "{md}"
        );
        assert!(
            md.contains("combination of a\\|b&lt;script&gt;, \\`x\\`."),
            "{md}"
        );
        assert!(md.contains("| 1\\|2 | y | - |"), "{md}");
        assert!(
            md.ends_with("Not run, because it was interrupted: 1 of the sweep's combinations (a\\|b&lt;script&gt;=3, \\`x\\`=z)."),
            "{md}"
        );
        // Every row has as many cells as the heading.
        let cells = |l: &str| l.matches(" | ").count();
        let lines: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert!(lines.iter().all(|l| cells(l) == cells(lines[0])), "{md}");
    }
}
