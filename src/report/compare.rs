//! `rkbench compare`: a candidate run against a baseline, per metric and per test, with the
//! ratio's uncertainty propagated as hyperfine does: r = μ/μ_ref, σ_r = r·√((σ/μ)² + (σ_ref/μ_ref)²).
use super::json_writer::JsonWriter;
use super::text::{md_inline, num};
use super::{file_name, DEFINITIONS};
use crate::stats::{Aggregate, RequestMetrics, Summary};
use crate::trace::{Status, Trace};
use std::fmt::Write;

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub unit: &'static str,
    /// Whether a larger value is better (rates) or worse (latencies); `None`: neither.
    pub higher_is_better: Option<bool>,
    pub base: Option<Aggregate>,
    pub cand: Option<Aggregate>,
}

impl Row {
    /// (ratio candidate/baseline, its standard deviation).
    pub fn ratio(&self) -> Option<(f64, f64)> {
        let (b, c) = (self.base?, self.cand?);
        if b.mean == 0.0 || c.mean == 0.0 {
            return None;
        }
        let r = c.mean / b.mean;
        let rel = ((c.stddev / c.mean).powi(2) + (b.stddev / b.mean).powi(2)).sqrt();
        Some((r, r * rel))
    }

    /// "faster", "slower" or "no significant change" (the 1σ interval of r contains 1).
    pub fn verdict(&self) -> &'static str {
        match self.ratio() {
            None => "-",
            Some((r, s)) if (r - 1.0).abs() <= s => "within noise",
            Some((r, _)) => match self.higher_is_better {
                None if r > 1.0 => "higher",
                None => "lower",
                Some(h) if (r > 1.0) == h => "better",
                Some(_) => "worse",
            },
        }
    }
}

fn rows(b: &Summary, c: &Summary) -> Vec<Row> {
    vec![
        Row {
            metric: "Decode rate",
            unit: "tok/s",
            higher_is_better: Some(true),
            base: b.decode_tok_s,
            cand: c.decode_tok_s,
        },
        Row {
            metric: "Prefill rate",
            unit: "tok/s",
            higher_is_better: Some(true),
            base: b.prefill_tok_s,
            cand: c.prefill_tok_s,
        },
        Row {
            metric: "TTFT",
            unit: "ms",
            higher_is_better: Some(false),
            base: b.ttft_ms,
            cand: c.ttft_ms,
        },
        Row {
            metric: "E2E latency",
            unit: "ms",
            higher_is_better: Some(false),
            base: b.e2e_ms,
            cand: c.e2e_ms,
        },
        Row {
            metric: "ITL (pooled)",
            unit: "ms",
            higher_is_better: Some(false),
            base: b.itl_ms,
            cand: c.itl_ms,
        },
        Row {
            metric: "Output tokens per request",
            unit: "tokens",
            higher_is_better: None,
            base: b.output_tokens_per_request,
            cand: c.output_tokens_per_request,
        },
    ]
}

/// Per-test decode rate, matched by test id (means over repetitions of successful requests).
fn per_test(b: &Summary, c: &Summary) -> Vec<(String, Option<Aggregate>, Option<Aggregate>)> {
    let of = |s: &Summary, id: &str| {
        Aggregate::of(
            s.metrics
                .iter()
                .filter(|m: &&RequestMetrics| !m.warmup && m.status == Status::Ok && m.id == id)
                .filter_map(|m| m.decode_tok_s),
        )
    };
    let mut ids: Vec<String> = Vec::new();
    for m in b.metrics.iter().chain(&c.metrics) {
        if !ids.contains(&m.id) {
            ids.push(m.id.clone());
        }
    }
    ids.into_iter()
        .map(|id| (id.clone(), of(b, &id), of(c, &id)))
        .collect()
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

pub fn markdown(base: &Trace, cand: &Trace) -> String {
    let (b, c) = (Summary::of(base), Summary::of(cand));
    let mut o = String::new();
    let _ = writeln!(o, "# rkbench compare\n");
    let _ = writeln!(o, "Baseline `{}` vs candidate `{}`. Ratio = candidate / baseline with ±1σ propagated from both runs' sample standard deviations (as hyperfine does); \"within noise\" means the ±1σ interval contains 1.\n", md_inline(&file_name(&base.path)), md_inline(&file_name(&cand.path)));
    let diffs = param_diffs(base, cand);
    if diffs.is_empty() {
        let _ = writeln!(o, "Both runs used the same recorded configuration.\n");
    } else {
        let _ = writeln!(
            o,
            "## What differs\n\n| setting | baseline | candidate |\n|---|---|---|"
        );
        for (k, vb, vc) in &diffs {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                md_inline(k),
                md_inline(vb),
                md_inline(vc)
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Metrics\n\n| metric | baseline mean ± σ (n) | candidate mean ± σ (n) | ratio | |\n|---|---|---|---|---|");
    for r in rows(&b, &c) {
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
    for (id, tb, tc) in per_test(&b, &c) {
        let ratio = match (tb, tc) {
            (Some(x), Some(y)) if x.mean > 0.0 => format!("{:.3}", y.mean / x.mean),
            _ => "-".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {ratio} |",
            md_inline(&id),
            num(tb.map(|a| a.mean), 2),
            num(tc.map(|a| a.mean), 2)
        );
    }
    let _ = writeln!(o, "\n## Metric definitions\n");
    for (k, v) in DEFINITIONS {
        let _ = writeln!(o, "- **{k}**: {v}");
    }
    o
}

pub fn json(base: &Trace, cand: &Trace) -> String {
    let (b, c) = (Summary::of(base), Summary::of(cand));
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_int("schema_version", super::json::SCHEMA_VERSION);
    w.field_str("baseline", &file_name(&base.path));
    w.field_str("candidate", &file_name(&cand.path));
    w.key("differences").begin_array();
    for (k, vb, vc) in param_diffs(base, cand) {
        w.begin_object();
        w.field_str("setting", &k);
        w.field_str("baseline", &vb);
        w.field_str("candidate", &vc);
        w.end_object();
    }
    w.end_array();
    w.key("metrics").begin_array();
    for r in rows(&b, &c) {
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
    for (id, tb, tc) in per_test(&b, &c) {
        w.begin_object();
        w.field_str("id", &id);
        w.field_num("baseline", tb.map(|a| a.mean), 3);
        w.field_num("candidate", tc.map(|a| a.mean), 3);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(mean: f64, stddev: f64) -> Option<Aggregate> {
        Some(Aggregate {
            n: 5,
            mean,
            median: mean,
            min: mean,
            max: mean,
            stddev,
            p90: mean,
            p99: mean,
        })
    }

    #[test]
    fn ratio_propagates_uncertainty_like_hyperfine() {
        let r = Row {
            metric: "m",
            unit: "u",
            higher_is_better: Some(true),
            base: agg(10.0, 1.0),
            cand: agg(20.0, 2.0),
        };
        let (x, s) = r.ratio().unwrap();
        assert!((x - 2.0).abs() < 1e-12);
        assert!((s - 2.0 * (0.02f64).sqrt()).abs() < 1e-12);
        assert_eq!(r.verdict(), "better");
        let slower = Row {
            higher_is_better: Some(false),
            ..r.clone()
        };
        assert_eq!(slower.verdict(), "worse");
        let noisy = Row {
            base: agg(10.0, 3.0),
            cand: agg(11.0, 3.0),
            ..r
        };
        assert_eq!(noisy.verdict(), "within noise");
    }
}
