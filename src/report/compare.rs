//! `rkbench compare`, formatted: the figures, differences, ratios, intervals, p-values and the
//! gate's checks come from [`crate::analysis::compare::Comparison`]; this file only lays them
//! out.
use super::json_writer::JsonWriter;
use super::text::{md_code, md_inline, num};
use super::DEFINITIONS;
use crate::analysis::compare::Comparison;
use crate::analysis::Analysis;
use crate::stats::significance::{Change, Metric};
use crate::stats::Aggregate;
use std::fmt::Write;

/// What the figures mean, stated in every output.
pub(crate) const METHOD: [(&str, &str); 4] = [
    ("Ratio", "candidate / baseline of the metric: per test the ratio of the medians of its requests (repeats are used; a median ignores the odd repetition slowed by something else), over all tests the geometric mean of the tests' ratios (each test weighs the same). Requests pair by test id; only successful, measured requests count."),
    ("Interval", "95 % percentile bootstrap, 10,000 resamples, two-stage: the tests with replacement, then each side's requests within each test with replacement. Seeded (SplitMix64, fixed seed): the same traces always give the same interval. Needs ≥ 2 tests, or ≥ 2 requests on each side of a single test."),
    ("Significance", "two-sided permutation test of no difference: baseline/candidate labels exchanged within each test only, statistic = the log of the overall ratio; exact when there are ≤ 10,000 relabellings, else 10,000 random ones (p = (1 + hits)/(1 + draws)). Significant: p < 0.05."),
    ("Slower by X %", "the candidate needs X % more time per unit of work: for rates (tok/s) baseline/candidate − 1 (a 10 % longer time per token is a rate 1/1.1 of the baseline's), for times candidate/baseline − 1. \"Faster by X %\": X % less time."),
];

/// A fraction as a percentage with one decimal; never "-0.0".
fn pct(x: f64) -> String {
    num(Some(x * 100.0), 1)
}

fn p_text(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

/// "slower by 9.8 % [8.1, 11.6], significant (p = 0.0002)" or "no significant difference
/// (+1.2 % [-0.8, 3.1], p = 0.2400)".
pub(crate) fn statement(c: &Change) -> String {
    let interval = |flip: bool| match c.slowdown_ci {
        Some((lo, hi)) if flip => format!(" [{}, {}]", pct(-hi), pct(-lo)),
        Some((lo, hi)) => format!(" [{}, {}]", pct(lo), pct(hi)),
        None => " (no interval: too few requests)".into(),
    };
    let p = p_text(c.estimate.p_value);
    if !c.significant() {
        let sign = if c.slowdown >= 0.0 { "+" } else { "" };
        return format!(
            "no significant difference ({sign}{} %{}, {p})",
            pct(c.slowdown),
            interval(false)
        );
    }
    if c.slowdown >= 0.0 {
        format!(
            "slower by {} %{}, significant ({p})",
            pct(c.slowdown),
            interval(false)
        )
    } else {
        format!(
            "faster by {} %{}, significant ({p})",
            pct(-c.slowdown),
            interval(true)
        )
    }
}

fn ratio_text(c: &Change) -> String {
    match c.estimate.ci {
        Some((lo, hi)) => format!("{:.3} [{lo:.3}, {hi:.3}]", c.estimate.ratio),
        None => format!("{:.3}", c.estimate.ratio),
    }
}

/// "0.850 [0.810, 0.893]" (no interval: the ratio alone).
fn estimate_text(e: &crate::stats::significance::Estimate) -> String {
    match e.ci {
        Some((lo, hi)) => format!("{:.3} [{lo:.3}, {hi:.3}]", e.ratio),
        None => format!("{:.3} (no interval: too few requests)", e.ratio),
    }
}

fn metric_head(m: Metric) -> String {
    format!("{} ({})", m.label(), m.unit())
}

/// Every run's verdict and warnings: a difference between runs that are not comparable must
/// say so.
fn verdicts_md(o: &mut String, cmp: &Comparison) {
    let _ = writeln!(o, "## Verdicts\n");
    let role = |i: usize| if i == 0 { "Baseline" } else { "Candidate" };
    for (i, a) in cmp.runs().enumerate() {
        let v = &a.verdict;
        if v.valid {
            let _ = writeln!(o, "- **{}** {}: ✅ VALID", role(i), md_code(&a.file_name));
        } else {
            let _ = writeln!(
                o,
                "- **{}** {}: ❌ INVALID for comparison",
                role(i),
                md_code(&a.file_name)
            );
            for r in &v.reasons {
                let _ = writeln!(o, "  - {}", md_inline(r));
            }
        }
    }
    let _ = writeln!(o);
    if cmp.runs().all(|a| a.warnings.is_empty()) {
        let _ = writeln!(o, "No run has warnings.\n");
        return;
    }
    let _ = writeln!(o, "## Warnings\n");
    for (i, a) in cmp.runs().enumerate() {
        if a.warnings.is_empty() {
            let _ = writeln!(o, "- **{}** {}: none", role(i), md_code(&a.file_name));
            continue;
        }
        let _ = writeln!(o, "- **{}** {}:", role(i), md_code(&a.file_name));
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

pub(crate) fn markdown(cmp: &Comparison) -> String {
    let mut o = String::new();
    let names: Vec<String> = cmp
        .candidates
        .iter()
        .map(|c| md_code(&c.analysis.file_name))
        .collect();
    let _ = writeln!(o, "# rkbench compare\n");
    let _ = writeln!(
        o,
        "Baseline {}; {}: {}.\n",
        md_code(&cmp.base.file_name),
        if names.len() == 1 {
            "candidate"
        } else {
            "candidates"
        },
        names.join(", ")
    );
    let cand_cols: String = cmp
        .candidates
        .iter()
        .map(|c| format!(" {} |", md_inline(&c.analysis.file_name)))
        .collect();
    let head = |first: &str| {
        format!(
            "| {first} |{cand_cols}\n|---|{}",
            "---|".repeat(cmp.candidates.len())
        )
    };
    if let Some(g) = &cmp.gate {
        let _ = writeln!(
            o,
            "## Gate: {}\n\nFails when a candidate is significantly slower than the baseline by more than {} % on {}.\n",
            if g.failed() { "FAILED" } else { "passed" },
            pct(g.gate.threshold),
            g.gate.metrics.iter().map(|m| m.key()).collect::<Vec<_>>().join(", ")
        );
        for c in &g.checks {
            let _ = writeln!(
                o,
                "- {} {}, {}: {}",
                if c.failed { "**FAIL**" } else { "pass" },
                md_code(&c.candidate),
                c.metric.label(),
                c.change
                    .as_ref()
                    .map_or("no figure on both sides".into(), statement)
            );
        }
        let _ = writeln!(o);
    }
    verdicts_md(&mut o, cmp);
    let _ = writeln!(o, "## Verdict over all tests\n\n{}", head("metric"));
    for m in Metric::ALL {
        let _ = write!(o, "| {} |", metric_head(m));
        for c in &cmp.candidates {
            let cell = c
                .change(m)
                .and_then(|x| x.overall.as_ref())
                .map_or("- (no test in common with the baseline)".into(), statement);
            let _ = write!(o, " {cell} |");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "\n## Ratio candidate / baseline [95 % interval]\n\n{}",
        head("metric")
    );
    for m in Metric::ALL {
        let _ = write!(o, "| {} |", metric_head(m));
        for c in &cmp.candidates {
            let cell = c
                .change(m)
                .and_then(|x| x.overall.as_ref())
                .map_or("-".into(), |ch| {
                    format!(
                        "{} ({} tests, {}/{} requests)",
                        ratio_text(ch),
                        ch.estimate.tests,
                        ch.estimate.n_base,
                        ch.estimate.n_cand
                    )
                });
            let _ = write!(o, " {cell} |");
        }
        let _ = writeln!(o);
    }
    let names = cmp.difference_names();
    if names.is_empty() {
        let _ = writeln!(o, "\nEvery run used the same recorded configuration.");
    } else {
        let _ = writeln!(
            o,
            "\n## What differs\n\n| setting | baseline |{cand_cols}\n|---|---|{}",
            "---|".repeat(cmp.candidates.len())
        );
        for (name, base) in names {
            let _ = write!(
                o,
                "| {} | {} |",
                md_inline(name),
                md_inline(base.unwrap_or("-"))
            );
            for c in &cmp.candidates {
                let v = c
                    .differences
                    .iter()
                    .find(|d| d.name == name)
                    .map_or("(same)".to_string(), |d| {
                        md_inline(d.cand.as_deref().unwrap_or("-"))
                    });
                let _ = write!(o, " {v} |");
            }
            let _ = writeln!(o);
        }
    }
    for c in &cmp.candidates {
        if !c.sampling_not_comparable.is_empty() {
            let _ = writeln!(
                o,
                "\n**Sampling not comparable** ({}): {}. The figures below compare runs that did not sample alike.",
                md_code(&c.analysis.file_name),
                md_inline(&c.sampling_not_comparable.join("; "))
            );
        }
    }
    let _ = writeln!(
        o,
        "\n## Run figures: mean ± σ (n)\n\n| metric | {} |{cand_cols}\n|---|---|{}",
        md_inline(&cmp.base.file_name),
        "---|".repeat(cmp.candidates.len())
    );
    for r in cmp.rows() {
        let _ = write!(o, "| {} ({}) |", r.metric, r.unit);
        for a in &r.values {
            let cell = a.map_or("-".into(), |a| {
                format!(
                    "{} ± {} ({})",
                    num(Some(a.mean), 2),
                    num(Some(a.stddev), 2),
                    a.n
                )
            });
            let _ = write!(o, " {cell} |");
        }
        let _ = writeln!(o);
    }
    for m in Metric::ALL {
        let _ = writeln!(o, "\n## Per test: {}\n\n{}", metric_head(m), head("test"));
        let mut ids: Vec<&str> = Vec::new();
        for c in &cmp.candidates {
            for (id, _) in c.change(m).map_or(&[][..], |x| &x.per_test[..]) {
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
        }
        for id in ids {
            let _ = write!(o, "| {} |", md_inline(id));
            for c in &cmp.candidates {
                let cell = c
                    .change(m)
                    .and_then(|x| x.per_test.iter().find(|(x, _)| x == id))
                    .and_then(|(_, ch)| ch.as_ref())
                    .map_or("- (not in both runs)".into(), |ch| {
                        format!(
                            "{}: {} ({}/{} requests)",
                            ratio_text(ch),
                            statement(ch),
                            ch.estimate.n_base,
                            ch.estimate.n_cand
                        )
                    });
                let _ = write!(o, " {cell} |");
            }
            let _ = writeln!(o);
        }
    }
    for c in &cmp.candidates {
        if let Some(e) = &c.energy {
            let _ = writeln!(
                o,
                "\nEnergy ({}): J per output token, candidate / baseline = {}, {} ({} tests, {} and {} requests with a resolved energy)",
                md_code(&c.analysis.file_name),
                estimate_text(e),
                p_text(e.p_value),
                e.tests,
                e.n_base,
                e.n_cand
            );
        }
    }
    for c in &cmp.candidates {
        if let Some(x) = &c.server_overhead {
            let _ = writeln!(o);
            if cmp.candidates.len() > 1 {
                let _ = writeln!(o, "Candidate {}:\n", md_code(&c.analysis.file_name));
            }
            o.push_str(&super::server::compare_section(x));
        }
    }
    let _ = writeln!(o, "\n## Method\n");
    for (k, v) in METHOD {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
    let _ = writeln!(o, "\n## Metric definitions\n");
    for (k, v) in DEFINITIONS {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
    o
}

fn json_change(w: &mut JsonWriter, c: Option<&Change>) {
    let Some(c) = c else {
        w.null();
        return;
    };
    w.begin_object();
    w.field_num("ratio", Some(c.estimate.ratio), 4);
    w.field_num("ratio_ci_low", c.estimate.ci.map(|x| x.0), 4);
    w.field_num("ratio_ci_high", c.estimate.ci.map(|x| x.1), 4);
    w.field_num("slower_pct", Some(100.0 * c.slowdown), 2);
    w.field_num("slower_pct_ci_low", c.slowdown_ci.map(|x| 100.0 * x.0), 2);
    w.field_num("slower_pct_ci_high", c.slowdown_ci.map(|x| 100.0 * x.1), 2);
    w.field_num("p_value", Some(c.estimate.p_value), 6);
    w.field_bool("p_exact", c.estimate.exact);
    w.field_bool("significant", c.significant());
    w.field_int("tests", c.estimate.tests);
    w.field_int("baseline_requests", c.estimate.n_base);
    w.field_int("candidate_requests", c.estimate.n_cand);
    w.field_str("statement", &statement(c));
    w.end_object();
}

fn json_aggregate(w: &mut JsonWriter, a: Option<Aggregate>) {
    match a {
        None => {
            w.null();
        }
        Some(a) => {
            w.begin_object();
            w.field_int("n", a.n);
            w.field_num("mean", Some(a.mean), 3);
            w.field_num("stddev", Some(a.stddev), 3);
            w.field_num("median", Some(a.median), 3);
            w.end_object();
        }
    }
}

/// `{file, verdict, reasons[], warnings[]}` of one run.
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
    w.key("method").begin_object();
    for (k, v) in METHOD {
        w.field_str(k, v);
    }
    w.end_object();
    w.key("runs").begin_array();
    for a in cmp.runs() {
        run_json(&mut w, a);
    }
    w.end_array();
    let rows = cmp.rows();
    w.key("baseline_figures").begin_object();
    for r in &rows {
        w.key(r.metric);
        json_aggregate(&mut w, r.values[0]);
    }
    w.end_object();
    w.key("candidates").begin_array();
    for (ci, c) in cmp.candidates.iter().enumerate() {
        w.begin_object();
        w.field_str("file", &c.analysis.file_name);
        w.field_bool("sampling_comparable", c.sampling_not_comparable.is_empty());
        w.key("sampling_not_comparable").begin_array();
        for why in &c.sampling_not_comparable {
            w.str(why);
        }
        w.end_array();
        w.key("differences").begin_array();
        for d in &c.differences {
            w.begin_object();
            w.field_str("setting", &d.name);
            w.field_opt_str("baseline", d.base.as_deref());
            w.field_opt_str("candidate", d.cand.as_deref());
            w.end_object();
        }
        w.end_array();
        if c.analysis.energy.is_some() || cmp.base.energy.is_some() {
            // Only for runs that measured power (others' JSON is unchanged).
            w.key("energy_j_per_output_token");
            match &c.energy {
                Some(e) => {
                    w.begin_object();
                    w.field_num("ratio", Some(e.ratio), 4);
                    w.field_num("ci_low", e.ci.map(|x| x.0), 4);
                    w.field_num("ci_high", e.ci.map(|x| x.1), 4);
                    w.field_num("p_value", Some(e.p_value), 4);
                    w.field_int("n_base", e.n_base as i64);
                    w.field_int("n_cand", e.n_cand as i64);
                    w.end_object();
                }
                None => {
                    w.null();
                }
            }
        }
        w.key("figures").begin_object();
        for r in &rows {
            w.key(r.metric);
            json_aggregate(&mut w, r.values[ci + 1]);
        }
        w.end_object();
        w.key("metrics").begin_array();
        for mc in &c.changes {
            w.begin_object();
            w.field_str("metric", mc.metric.key());
            w.field_str("label", mc.metric.label());
            w.field_str("unit", mc.metric.unit());
            w.key("overall");
            json_change(&mut w, mc.overall.as_ref());
            w.key("per_test").begin_array();
            for (id, ch) in &mc.per_test {
                w.begin_object();
                w.field_str("id", id);
                w.key("change");
                json_change(&mut w, ch.as_ref());
                w.end_object();
            }
            w.end_array();
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.key("gate");
    match &cmp.gate {
        None => {
            w.null();
        }
        Some(g) => {
            w.begin_object();
            w.field_num("fail_if_slower_pct", Some(100.0 * g.gate.threshold), 2);
            w.field_bool("failed", g.failed());
            w.key("checks").begin_array();
            for c in &g.checks {
                w.begin_object();
                w.field_str("candidate", &c.candidate);
                w.field_str("metric", c.metric.key());
                w.field_bool("failed", c.failed);
                w.key("change");
                json_change(&mut w, c.change.as_ref());
                w.end_object();
            }
            w.end_array();
            w.end_object();
        }
    }
    w.end_object();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::significance::Estimate;

    fn change(slowdown: f64, ci: Option<(f64, f64)>, p_value: f64) -> Change {
        Change {
            estimate: Estimate {
                ratio: 1.0 / (1.0 + slowdown),
                ci: None,
                p_value,
                exact: false,
                tests: 3,
                n_base: 9,
                n_cand: 9,
            },
            slowdown,
            slowdown_ci: ci,
        }
    }

    #[test]
    fn statements_read_as_the_issue_asks() {
        assert_eq!(
            statement(&change(0.098, Some((0.081, 0.116)), 0.0001)),
            "slower by 9.8 % [8.1, 11.6], significant (p = 0.0001)"
        );
        assert_eq!(
            statement(&change(-0.05, Some((-0.07, -0.03)), 0.00001)),
            "faster by 5.0 % [3.0, 7.0], significant (p < 0.0001)"
        );
        assert_eq!(
            statement(&change(0.012, Some((-0.008, 0.031)), 0.24)),
            "no significant difference (+1.2 % [-0.8, 3.1], p = 0.2400)"
        );
        assert_eq!(
            statement(&change(0.5, None, 0.01)),
            "slower by 50.0 % (no interval: too few requests), significant (p = 0.0100)"
        );
    }
}

/// Two or more load sweeps, level by level at equal offered load (`compare DIR DIR`): each
/// sweep's saturation point, then per candidate the matched levels side by side.
pub(crate) mod sweeps {
    use super::super::json_writer::JsonWriter;
    use super::super::sweep::Sweep;
    use super::super::table::{Cell, Table};
    use super::super::text::{md_inline, num};
    use crate::stats::load::LevelComparison;
    use std::fmt::Write;

    fn saturation_text(s: &Sweep) -> String {
        match &s.saturation {
            None => "no level under load".to_string(),
            Some(sat) => {
                let levels = s.levels();
                let at = sat
                    .at(&levels)
                    .map_or_else(|| "none".to_string(), |l| l.label());
                format!("{at} ({})", sat.rule)
            }
        }
    }

    pub(crate) fn markdown(base: &Sweep, cands: &[(Sweep, LevelComparison)]) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# Load sweeps compared: {}\n\nLevels are matched by mode, concurrency and rate (equal offered load); ratio = candidate ÷ baseline. Figures as in each sweep's report (docs/LOAD.md). A median gets a 95 % bootstrap interval of its ratio and a permutation p (10,000 resamples, seeded; each level's requests pooled, so the ratio is the ratio of the medians shown; requests of one level share a queue, so a repeat of the sweep may spread wider). A level aggregate (throughput, p99, in flight, rejections) is one number per level: its ratio alone, — in the interval and p columns.\n",
            md_inline(&base.name)
        );
        let _ = writeln!(
            o,
            "- Saturation point of {} (baseline): {}",
            md_inline(&base.name),
            md_inline(&saturation_text(base))
        );
        for (c, _) in cands {
            let _ = writeln!(
                o,
                "- Saturation point of {}: {}",
                md_inline(&c.name),
                md_inline(&saturation_text(c))
            );
        }
        o.push('\n');
        for (c, cmp) in cands {
            let _ = writeln!(o, "## {} against the baseline\n", md_inline(&c.name));
            if cmp.matched.is_empty() {
                let _ = writeln!(
                    o,
                    "No level of the two sweeps ran at the same offered load.\n"
                );
            }
            for m in &cmp.matched {
                let _ = writeln!(o, "### {}\n", md_inline(&m.label));
                let mut t = Table::grid(&[
                    "figure",
                    "unit",
                    "#baseline",
                    "#candidate",
                    "#ratio",
                    "#95 % interval",
                    "#p",
                ]);
                for f in &m.figures {
                    let interval = match f.test.and_then(|e| e.ci) {
                        Some((lo, hi)) => format!("[{lo:.3}, {hi:.3}]"),
                        None if f.test.is_some() => "too few requests".into(),
                        None => "—".into(),
                    };
                    t.push(vec![
                        Cell::label(f.label),
                        Cell::text(f.unit),
                        Cell::num(num(f.base, 3)),
                        Cell::num(num(f.cand, 3)),
                        Cell::num(num(f.ratio, 3)),
                        Cell::num(interval),
                        Cell::num(
                            f.test
                                .map_or_else(|| "—".into(), |e| format!("{:.4}", e.p_value)),
                        ),
                    ]);
                }
                o.push_str(&t.markdown());
            }
            for (who, list) in [
                ("the baseline", &cmp.only_base),
                ("this candidate", &cmp.only_cand),
            ] {
                if !list.is_empty() {
                    let l: Vec<String> = list.iter().map(|x| md_inline(x)).collect();
                    let _ = writeln!(o, "Only {who} ran: {}.\n", l.join(", "));
                }
            }
        }
        o.truncate(o.trim_end().len());
        o.push('\n');
        o
    }

    fn saturation_json(w: &mut JsonWriter, s: &Sweep) {
        w.begin_object();
        w.field_str("sweep", &s.name);
        match &s.saturation {
            None => {
                w.key("level").null();
                w.key("label").null();
                w.key("rule").null();
            }
            Some(sat) => {
                let levels = s.levels();
                w.field_opt_int("level", sat.level);
                w.field_opt_str("label", sat.at(&levels).map(|l| l.label()).as_deref());
                w.field_str("rule", &sat.rule);
            }
        }
        w.end_object();
    }

    pub(crate) fn json(base: &Sweep, cands: &[(Sweep, LevelComparison)]) -> String {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.field_int("schema_version", super::super::json::SCHEMA_VERSION);
        w.key("baseline");
        saturation_json(&mut w, base);
        w.key("candidates").begin_array();
        for (c, cmp) in cands {
            w.begin_object();
            w.key("saturation");
            saturation_json(&mut w, c);
            w.key("levels").begin_array();
            for m in &cmp.matched {
                w.begin_object();
                w.field_str("level", &m.label);
                w.field_int("baseline_index", m.base);
                w.field_int("candidate_index", m.cand);
                w.key("figures").begin_array();
                for f in &m.figures {
                    w.begin_object();
                    w.field_str("figure", f.key);
                    w.field_str("unit", f.unit);
                    w.field_num("baseline", f.base, 6);
                    w.field_num("candidate", f.cand, 6);
                    w.field_num("ratio", f.ratio, 6);
                    // Medians only (null for a level aggregate): the interval of the ratio
                    // and the permutation p.
                    let ci = f.test.and_then(|e| e.ci);
                    w.field_num("ci_low", ci.map(|c| c.0), 6);
                    w.field_num("ci_high", ci.map(|c| c.1), 6);
                    w.field_num("p_value", f.test.map(|e| e.p_value), 6);
                    w.end_object();
                }
                w.end_array();
                w.end_object();
            }
            w.end_array();
            for (k, list) in [
                ("only_baseline", &cmp.only_base),
                ("only_candidate", &cmp.only_cand),
            ] {
                w.key(k).begin_array();
                for x in list.iter() {
                    w.str(x);
                }
                w.end_array();
            }
            w.end_object();
        }
        w.end_array();
        w.end_object();
        w.finish()
    }
}
