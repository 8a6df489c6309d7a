//! `rkbench compare`, formatted: the figures, differences and ratios come from
//! [`crate::analysis::compare::Comparison`]; this file only lays them out.
use super::json_writer::JsonWriter;
use super::text::{md_code, md_inline, num};
use super::DEFINITIONS;
use crate::analysis::compare::Comparison;
use crate::analysis::Analysis;
use crate::stats::Aggregate;
use std::fmt::Write;

pub(crate) fn markdown(cmp: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# rkbench compare\n");
    let _ = writeln!(o, "Baseline {} vs candidate {}. Ratio = candidate / baseline with ±1σ propagated from both runs' sample standard deviations (as hyperfine does); \"within noise\" means the ±1σ interval contains 1.\n", md_code(&cmp.base.file_name), md_code(&cmp.cand.file_name));
    verdicts_md(&mut o, cmp);
    let diffs = &cmp.differences;
    if diffs.is_empty() {
        let _ = writeln!(o, "Both runs used the same recorded configuration.\n");
    } else {
        let _ = writeln!(
            o,
            "## What differs\n\n| setting | baseline | candidate |\n|---|---|---|"
        );
        for d in diffs {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                md_inline(&d.name),
                md_inline(d.base.as_deref().unwrap_or("-")),
                md_inline(d.cand.as_deref().unwrap_or("-"))
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Metrics\n\n| metric | baseline mean ± σ (n) | candidate mean ± σ (n) | ratio | |\n|---|---|---|---|---|");
    for r in &cmp.rows {
        let cell = |a: Option<Aggregate>| {
            a.map(|a| {
                format!(
                    "{} ± {} ({})",
                    num(Some(a.mean), 2),
                    num(Some(a.stddev), 2),
                    a.n
                )
            })
            .unwrap_or_else(|| "-".into())
        };
        let ratio = r
            .ratio()
            .map(|(x, s)| format!("{x:.3} ± {s:.3}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "| {} ({}) | {} | {} | {} | {} |",
            r.metric,
            r.unit,
            cell(r.base),
            cell(r.cand),
            ratio,
            r.verdict()
        );
    }
    let _ = writeln!(o, "\n## Decode rate per test (tok/s)\n\n| test | baseline | candidate | ratio |\n|---|---|---|---|");
    for t in &cmp.per_test {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            md_inline(&t.id),
            num(t.base.map(|a| a.mean), 2),
            num(t.cand.map(|a| a.mean), 2),
            num(t.ratio(), 3)
        );
    }
    if let Some(x) = &cmp.server_overhead {
        let _ = writeln!(o);
        o.push_str(&super::server::compare_section(x));
    }
    let _ = writeln!(o, "\n## Metric definitions\n");
    for (k, v) in DEFINITIONS {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
    o
}

/// Both runs' verdicts and warnings: a ratio between runs that are not comparable must say so.
fn verdicts_md(o: &mut String, cmp: &Comparison) {
    let _ = writeln!(o, "## Verdicts\n");
    for (role, a) in [("Baseline", &cmp.base), ("Candidate", &cmp.cand)] {
        let v = &a.verdict;
        if v.valid {
            let _ = writeln!(o, "- **{role}** {}: ✅ VALID", md_code(&a.file_name));
        } else {
            let _ = writeln!(
                o,
                "- **{role}** {}: ❌ INVALID for comparison",
                md_code(&a.file_name)
            );
            for r in &v.reasons {
                let _ = writeln!(o, "  - {}", md_inline(r));
            }
        }
    }
    let _ = writeln!(o);
    if cmp.base.warnings.is_empty() && cmp.cand.warnings.is_empty() {
        let _ = writeln!(o, "Neither run has warnings.\n");
        return;
    }
    let _ = writeln!(o, "## Warnings\n");
    for (role, a) in [("Baseline", &cmp.base), ("Candidate", &cmp.cand)] {
        if a.warnings.is_empty() {
            let _ = writeln!(o, "- **{role}**: none");
            continue;
        }
        let _ = writeln!(o, "- **{role}**:");
        for w in &a.warnings {
            let _ = writeln!(
                o,
                "  - {}**{}**: {}",
                if w.invalidates_comparison { "⛔ " } else { "" },
                w.code,
                md_inline(&w.message)
            );
        }
    }
    let _ = writeln!(o);
}

/// `{result, reasons[], warnings[]}` of one run.
fn run_json(w: &mut JsonWriter, a: &Analysis) {
    w.begin_object();
    w.field_str("file", &a.file_name);
    w.field_str("verdict", if a.verdict.valid { "VALID" } else { "INVALID" });
    w.key("reasons").begin_array();
    for r in &a.verdict.reasons {
        w.str(r);
    }
    w.end_array();
    w.key("warnings").begin_array();
    for x in &a.warnings {
        w.begin_object();
        w.field_str("code", x.code);
        w.field_str("message", &x.message);
        w.field_str("fix", &x.fix);
        w.field_bool("invalidates_comparison", x.invalidates_comparison);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

pub(crate) fn json(cmp: &Comparison) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_int("schema_version", super::json::SCHEMA_VERSION);
    w.field_str("baseline", &cmp.base.file_name);
    w.field_str("candidate", &cmp.cand.file_name);
    w.key("runs").begin_object();
    w.key("baseline");
    run_json(&mut w, &cmp.base);
    w.key("candidate");
    run_json(&mut w, &cmp.cand);
    w.end_object();
    w.key("differences").begin_array();
    for d in &cmp.differences {
        w.begin_object();
        w.field_str("setting", &d.name);
        opt_str(&mut w, "baseline", d.base.as_deref());
        opt_str(&mut w, "candidate", d.cand.as_deref());
        w.end_object();
    }
    w.end_array();
    w.key("metrics").begin_array();
    for r in &cmp.rows {
        w.begin_object();
        w.field_str("metric", r.metric);
        w.field_str("unit", r.unit);
        w.field_num("baseline_mean", r.base.map(|a| a.mean), 3);
        w.field_num("baseline_stddev", r.base.map(|a| a.stddev), 3);
        w.field_num("candidate_mean", r.cand.map(|a| a.mean), 3);
        w.field_num("candidate_stddev", r.cand.map(|a| a.stddev), 3);
        w.field_num("ratio", r.ratio().map(|x| x.0), 4);
        w.field_num("ratio_stddev", r.ratio().map(|x| x.1), 4);
        w.field_str("verdict", r.verdict());
        w.end_object();
    }
    w.end_array();
    w.key("per_test_decode_tok_s").begin_array();
    for t in &cmp.per_test {
        w.begin_object();
        w.field_str("id", &t.id);
        w.field_num("baseline", t.base.map(|a| a.mean), 3);
        w.field_num("candidate", t.cand.map(|a| a.mean), 3);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.finish()
}

fn opt_str(w: &mut JsonWriter, k: &str, v: Option<&str>) {
    w.key(k);
    match v {
        Some(v) => w.str(v),
        None => w.null(),
    };
}
