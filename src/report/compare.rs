//! `rkbench compare`: candidate runs against a baseline. Per metric and per test, the ratio
//! candidate/baseline with its 95 % bootstrap interval and a permutation test
//! (`stats::significance`); the runs' own figures (mean ± σ) and what differs in their recorded
//! configuration; and, with `--fail-if-slower`, the regression gate's verdict.
use super::json_writer::JsonWriter;
use super::text::{md_inline, num};
use super::{file_name, DEFINITIONS};
use crate::stats::significance::{self, Change, Gate, Metric, MetricChange};
use crate::stats::{Aggregate, Summary};
use crate::trace::Trace;
use std::fmt::Write;

/// One run's figure in the descriptive table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub unit: &'static str,
    pub values: Vec<Option<Aggregate>>,
}

/// A candidate and how it compares with the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub file: String,
    pub summary: Summary,
    /// (setting, baseline value, candidate value) where they differ.
    pub differences: Vec<(String, String, String)>,
    /// Every metric, in [`Metric::ALL`] order.
    pub changes: Vec<MetricChange>,
}

/// What the gate found: every (candidate, metric) it checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    pub gate: Gate,
    /// (candidate file, metric, change; `None` when the metric has no figure on both sides,
    /// fail).
    pub checks: Vec<(String, Metric, Option<Change>, bool)>,
}

impl GateResult {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.3)
    }
}

/// Everything `compare` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline: String,
    pub base_summary: Summary,
    pub candidates: Vec<Candidate>,
    pub gate: Option<GateResult>,
}

impl Comparison {
    pub fn of(base: &Trace, cands: &[Trace], gate: Option<Gate>) -> Comparison {
        let b = Summary::of(base);
        let candidates: Vec<Candidate> = cands
            .iter()
            .map(|c| {
                let s = Summary::of(c);
                Candidate {
                    file: file_name(&c.path),
                    differences: param_diffs(base, c),
                    changes: significance::compare_runs(&b.metrics, &s.metrics),
                    summary: s,
                }
            })
            .collect();
        let gate = gate.map(|g| GateResult {
            checks: candidates
                .iter()
                .flat_map(|c| {
                    g.metrics.iter().map(|&m| {
                        let ch = c
                            .changes
                            .iter()
                            .find(|x| x.metric == m)
                            .and_then(|x| x.overall);
                        (c.file.clone(), m, ch, ch.is_some_and(|ch| g.fails(&ch)))
                    })
                })
                .collect(),
            gate: g,
        });
        Comparison {
            baseline: file_name(&base.path),
            base_summary: b,
            candidates,
            gate,
        }
    }

    /// The descriptive figures of every run (baseline first).
    pub fn rows(&self) -> Vec<Row> {
        let mut runs = vec![&self.base_summary];
        runs.extend(self.candidates.iter().map(|c| &c.summary));
        rows(&runs)
    }
}

fn param_diffs(b: &Trace, c: &Trace) -> Vec<(String, String, String)> {
    let flat = |t: &Trace| -> Vec<(String, String)> {
        let p = &t.header.params;
        let mut v = vec![
            (
                "runtime".to_string(),
                format!(
                    "{} (ABI {})",
                    t.header.runtime.version, t.header.runtime.abi
                ),
            ),
            (
                "model".to_string(),
                format!(
                    "{} ({})",
                    t.header.model.file_name,
                    &t.header.model.fingerprint[..t.header.model.fingerprint.len().min(12)]
                ),
            ),
            ("max_context_len".to_string(), p.max_context_len.to_string()),
            ("max_new_tokens".to_string(), p.max_new_tokens.to_string()),
            (
                "sampling".to_string(),
                format!(
                    "top_k {} top_p {:.3} temp {:.3} repeat {:.3}",
                    p.top_k, p.top_p, p.temperature, p.repeat_penalty
                ),
            ),
            (
                "cpus".to_string(),
                format!("0x{:X} × {}", p.enabled_cpus_mask, p.enabled_cpus_num),
            ),
            ("think".to_string(), p.think.to_string()),
            ("timeout_ms".to_string(), p.timeout_ms.to_string()),
            (
                "suite".to_string(),
                format!(
                    "{} ({})",
                    t.header.suite.name,
                    &t.header.suite.sha256[..t.header.suite.sha256.len().min(12)]
                ),
            ),
        ];
        v.extend(
            t.header
                .board
                .iter()
                .filter(|f| {
                    f.key.ends_with("governor")
                        || f.key.ends_with("max_hz")
                        || f.key == "board.model"
                        || f.key == "rknpu.driver"
                })
                .map(|f| (f.key.clone(), f.value.clone())),
        );
        v
    };
    let (fb, fc) = (flat(b), flat(c));
    fb.iter()
        .filter_map(|(k, vb)| {
            let vc = fc
                .iter()
                .find(|(kc, _)| kc == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "-".into());
            (vb != &vc).then(|| (k.clone(), vb.clone(), vc))
        })
        .collect()
}

fn rows(runs: &[&Summary]) -> Vec<Row> {
    let row = |metric, unit, f: &dyn Fn(&Summary) -> Option<Aggregate>| Row {
        metric,
        unit,
        values: runs.iter().map(|s| f(s)).collect(),
    };
    vec![
        row("Decode rate", "tok/s", &|s| s.decode_tok_s),
        row("Prefill rate", "tok/s", &|s| s.prefill_tok_s),
        row("TTFT", "ms", &|s| s.ttft_ms),
        row("E2E latency", "ms", &|s| s.e2e_ms),
        row("ITL (pooled)", "ms", &|s| s.itl_ms),
        row("Output tokens per request", "tokens", &|s| {
            s.output_tokens_per_request
        }),
    ]
}

/// What the figures mean, stated in every output.
pub const METHOD: [(&str, &str); 4] = [
    ("Ratio", "candidate / baseline of the metric: per test the ratio of the medians of its requests (repeats are used; a median ignores the odd repetition slowed by something else), over all tests the geometric mean of the tests' ratios (each test weighs the same). Requests pair by test id; only successful, measured requests count."),
    ("Interval", "95 % percentile bootstrap, 10,000 resamples, two-stage: the tests with replacement, then each side's requests within each test with replacement. Seeded (SplitMix64, fixed seed): the same traces always give the same interval. Needs ≥ 2 tests, or ≥ 2 requests on each side of a single test."),
    ("Significance", "two-sided permutation test of no difference: baseline/candidate labels exchanged within each test only, statistic = the log of the overall ratio; exact when there are ≤ 10,000 relabellings, else 10,000 random ones (p = (1 + hits)/(1 + draws)). Significant: p < 0.05."),
    ("Slower by X %", "the candidate needs X % more time per unit of work: for rates (tok/s) baseline/candidate − 1 (a 10 % longer time per token is a rate 1/1.1 of the baseline's), for times candidate/baseline − 1. \"Faster by X %\": X % less time."),
];

/// A fraction as a percentage with one decimal; never "-0.0".
fn pct(x: f64) -> String {
    let s = format!("{:.1}", x * 100.0);
    if s == "-0.0" {
        "0.0".into()
    } else {
        s
    }
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
pub fn statement(c: &Change) -> String {
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

fn metric_head(m: Metric) -> String {
    format!("{} ({})", m.label(), m.unit())
}

/// The union of differing settings over all candidates, in first-seen order.
fn difference_keys(cmp: &Comparison) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for c in &cmp.candidates {
        for (k, vb, _) in &c.differences {
            if !keys.iter().any(|(x, _)| x == k) {
                keys.push((k.clone(), vb.clone()));
            }
        }
    }
    keys
}

pub fn markdown(cmp: &Comparison) -> String {
    let mut o = String::new();
    let names: Vec<String> = cmp
        .candidates
        .iter()
        .map(|c| format!("`{}`", md_inline(&c.file)))
        .collect();
    let _ = writeln!(
        o,
        "# rkbench compare
"
    );
    let _ = writeln!(
        o,
        "Baseline `{}`; {}: {}.\n",
        md_inline(&cmp.baseline),
        if names.len() == 1 {
            "candidate"
        } else {
            "candidates"
        },
        names.join(", ")
    );
    let head = |first: &str| {
        let mut h = format!("| {first} |");
        for c in &cmp.candidates {
            let _ = write!(h, " {} |", md_inline(&c.file));
        }
        let _ = write!(h, "\n|---|{}", "---|".repeat(cmp.candidates.len()));
        h
    };
    if let Some(g) = &cmp.gate {
        let _ = writeln!(
            o,
            "## Gate: {}\n\nFails when a candidate is significantly slower than the baseline by more than {} % on {}.\n",
            if g.failed() { "FAILED" } else { "passed" },
            pct(g.gate.threshold),
            g.gate.metrics.iter().map(|m| m.key()).collect::<Vec<_>>().join(", ")
        );
        for (file, m, ch, failed) in &g.checks {
            let _ = writeln!(
                o,
                "- {} `{}`, {}: {}",
                if *failed { "**FAIL**" } else { "pass" },
                md_inline(file),
                m.label(),
                ch.as_ref()
                    .map_or("no figure on both sides".into(), statement)
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Verdict over all tests\n\n{}", head("metric"));
    for (i, m) in Metric::ALL.iter().enumerate() {
        let _ = write!(o, "| {} |", metric_head(*m));
        for c in &cmp.candidates {
            let cell = c.changes[i].overall.as_ref().map_or("-".into(), statement);
            let _ = write!(o, " {cell} |");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "\n## Ratio candidate / baseline [95 % interval]\n\n{}",
        head("metric")
    );
    for (i, m) in Metric::ALL.iter().enumerate() {
        let _ = write!(o, "| {} |", metric_head(*m));
        for c in &cmp.candidates {
            let ch = c.changes[i].overall;
            let cell = ch.as_ref().map_or("-".into(), |ch| {
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
    let keys = difference_keys(cmp);
    if keys.is_empty() {
        let _ = writeln!(o, "\nEvery run used the same recorded configuration.");
    } else {
        let _ = writeln!(
            o,
            "\n## What differs\n\n| setting | baseline |{}",
            cmp.candidates
                .iter()
                .map(|c| format!(" {} |", md_inline(&c.file)))
                .collect::<String>()
        );
        let _ = writeln!(o, "|---|---|{}", "---|".repeat(cmp.candidates.len()));
        for (k, vb) in &keys {
            let _ = write!(o, "| {} | {} |", md_inline(k), md_inline(vb));
            for c in &cmp.candidates {
                let v = c
                    .differences
                    .iter()
                    .find(|(x, ..)| x == k)
                    .map_or("(same)".to_string(), |(_, _, vc)| md_inline(vc));
                let _ = write!(o, " {v} |");
            }
            let _ = writeln!(o);
        }
    }
    let _ = writeln!(
        o,
        "\n## Run figures: mean ± σ (n)\n\n| metric | {} |{}",
        md_inline(&cmp.baseline),
        cmp.candidates
            .iter()
            .map(|c| format!(" {} |", md_inline(&c.file)))
            .collect::<String>()
    );
    let _ = writeln!(o, "|---|---|{}", "---|".repeat(cmp.candidates.len()));
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
    for (i, m) in Metric::ALL.iter().enumerate() {
        let _ = writeln!(o, "\n## Per test: {}\n\n{}", metric_head(*m), head("test"));
        // Test ids of the first candidate's table; every candidate lists the baseline's ids first.
        let mut ids: Vec<&str> = Vec::new();
        for c in &cmp.candidates {
            for (id, _) in &c.changes[i].per_test {
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
        }
        for id in ids {
            let _ = write!(o, "| {} |", md_inline(id));
            for c in &cmp.candidates {
                let cell = c.changes[i]
                    .per_test
                    .iter()
                    .find(|(x, _)| x == id)
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
    let _ = writeln!(o, "\n## Method\n");
    for (k, v) in METHOD {
        let _ = writeln!(o, "- **{k}**: {v}");
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
    w.field_int("tests", c.estimate.tests as i64);
    w.field_int("baseline_requests", c.estimate.n_base as i64);
    w.field_int("candidate_requests", c.estimate.n_cand as i64);
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
            w.field_int("n", a.n as i64);
            w.field_num("mean", Some(a.mean), 3);
            w.field_num("stddev", Some(a.stddev), 3);
            w.field_num("median", Some(a.median), 3);
            w.end_object();
        }
    }
}

pub fn json(cmp: &Comparison) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_int("schema_version", super::json::SCHEMA_VERSION);
    w.field_str("baseline", &cmp.baseline);
    w.key("method").begin_object();
    for (k, v) in METHOD {
        w.field_str(k, v);
    }
    w.end_object();
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
        w.field_str("file", &c.file);
        w.key("differences").begin_array();
        for (k, vb, vc) in &c.differences {
            w.begin_object();
            w.field_str("setting", k);
            w.field_str("baseline", vb);
            w.field_str("candidate", vc);
            w.end_object();
        }
        w.end_array();
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
            for (file, m, ch, failed) in &g.checks {
                w.begin_object();
                w.field_str("candidate", file);
                w.field_str("metric", m.key());
                w.field_bool("failed", *failed);
                w.key("change");
                json_change(&mut w, ch.as_ref());
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
