//! The "Rockchip's published figures" and "Prefill scaling" sections, as rows and sentences
//! shared by the Markdown and HTML reports (each escapes the text for its format). Only
//! formatting: every figure comes from `Analysis::{reference, prefill_scaling}`.
use super::svg::{self, ChartSpec, Series};
use super::table::{Cell, Table};
use super::text::num;
use crate::analysis::Analysis;
use crate::reference::{METHOD_INPUT_TOKENS, METHOD_NEW_TOKENS};
use crate::stats::prefill::{Fit, PrefillScaling};
use crate::stats::reference::Reference;

/// Section heading of the reference comparison.
pub(crate) const REFERENCE_TITLE: &str = "Rockchip's published figures";
/// Section heading of the prefill fit.
pub(crate) const PREFILL_TITLE: &str = "Prefill scaling";

/// Where the published row comes from and what was compared, one paragraph.
pub(crate) fn reference_intro(r: &Reference) -> String {
    let p = &r.published;
    let source = if p.commit.is_empty() {
        format!("benchmark.md of release {}", r.release)
    } else {
        format!("benchmark.md at airockchip/rknn-llm commit {}", p.commit)
    };
    format!(
        "Rockchip publishes {} on RKLLM {} ({source}), measured with {METHOD_INPUT_TOKENS} input tokens, {METHOD_NEW_TOKENS} new tokens, a w8a8 model and pinned frequencies. Matched by the {}. This run: the median of {} measured request{}, from {}; ratios are this run ÷ published.",
        p.model,
        r.release,
        r.matched_from,
        r.requests,
        if r.requests == 1 { "" } else { "s" },
        r.measured_by,
    )
}

/// The verdict line under the table: exact or approximate.
pub(crate) fn reference_method_line(r: &Reference) -> String {
    if r.approximate.is_empty() {
        "The run followed Rockchip's method, so the figures compare directly.".to_string()
    } else {
        "The comparison is approximate, because:".to_string()
    }
}

fn ratio(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.2}× ({:.0} %)", v * 100.0),
        _ => "-".to_string(),
    }
}

/// Published, this run, ratio and rkbench's own timing, per figure.
pub(crate) fn reference_table(r: &Reference) -> Table {
    let mut t = Table::grid(&[
        "figure",
        "#published",
        "#this run",
        "#this run ÷ published",
        "#rkbench timing",
    ]);
    let p = &r.published;
    let mut row = |label: &str, published: f64, measured: Option<f64>, ratio_cell: Cell, own| {
        t.push(vec![
            Cell::label(label),
            Cell::num(num(Some(published), 2)),
            Cell::num(num(measured, 2)),
            ratio_cell,
            Cell::num(num(own, 2)),
        ]);
    };
    row(
        "TTFT (ms)",
        p.ttft_ms,
        r.measured.ttft_ms,
        Cell::num(ratio(r.ratio.ttft_ms)),
        r.rkbench.ttft_ms,
    );
    // The decode ratio is the one the method's warning is about: marked good or not.
    let decode_ratio = match r.ratio.decode_tok_s {
        Some(_) => Cell::Mark(r.decode_warning.is_none(), ratio(r.ratio.decode_tok_s)),
        None => Cell::num(ratio(None)),
    };
    row(
        "Decode (tok/s)",
        p.decode_tok_s,
        r.measured.decode_tok_s,
        decode_ratio,
        r.rkbench.decode_tok_s,
    );
    row(
        "Memory (MB)",
        p.memory_mb,
        r.measured.memory_mb,
        Cell::num(ratio(r.ratio.memory_mb)),
        None,
    );
    t
}

/// The fitted curve as a sentence.
pub(crate) fn fit_text(s: &PrefillScaling, f: &Fit) -> String {
    let longest = s.lengths.last().map(|l| l.input_tokens).unwrap_or(0);
    let n = f64::from(longest);
    let attention = f.attention_ms_per_token2 * n * n;
    let at_longest = f.ttft_ms(n);
    format!(
        "TTFT ≈ {} ms + {} ms/token × n + {} ms/token² × n² ({} fit through each length's median TTFT over {} lengths and {} requests; R² {}, RMS residual {} ms). At {longest} tokens the attention term is {} ms of {} ms.",
        num(Some(f.fixed_ms), 2),
        num(Some(f.ms_per_token), 4),
        sci(f.attention_ms_per_token2),
        f.model,
        s.lengths.len(),
        s.points.len(),
        num(Some(f.r_squared), 4),
        num(Some(f.rms_residual_ms), 2),
        num(Some(attention), 1),
        num(Some(at_longest), 1),
    )
}

/// A small coefficient in fixed scientific notation (`2.000e-4`); `0` for zero.
pub(crate) fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if x.is_finite() {
        format!("{x:.3e}")
    } else {
        "-".to_string()
    }
}

/// One row per input length: TTFT (median and fitted), prefill rate, the runtime's own
/// prefill time and decode rate at that context.
pub(crate) fn prefill_table(s: &PrefillScaling) -> Table {
    let mut t = Table::grid(&[
        "#input tokens (exact)",
        "#requests",
        "#TTFT median ms",
        "#fit ms",
        "#prefill tok/s",
        "#runtime prefill ms",
        "#decode tok/s",
    ]);
    for l in &s.lengths {
        t.push(vec![
            Cell::num(l.input_tokens.to_string()),
            Cell::num(l.requests.to_string()),
            Cell::num(num(Some(l.ttft_ms_median), 2)),
            Cell::num(num(s.fit.map(|f| f.ttft_ms(f64::from(l.input_tokens))), 2)),
            Cell::num(num(l.prefill_tok_s, 2)),
            Cell::num(num(l.runtime_prefill_ms_median, 2)),
            Cell::num(num(l.decode_tok_s_median, 2)),
        ]);
    }
    t
}

/// The HTML charts: TTFT points with the fitted curve, and decode rate against context length.
pub(crate) fn prefill_charts(s: &PrefillScaling) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut points = Series::new(
        "TTFT per request",
        s.points
            .iter()
            .map(|p| (f64::from(p.input_tokens), p.ttft_ms))
            .collect(),
    );
    points.point_titles = s
        .points
        .iter()
        .map(|p| {
            format!(
                "#{}: {} tokens (exact), TTFT {} ms",
                p.index,
                p.input_tokens,
                num(Some(p.ttft_ms), 2)
            )
        })
        .collect();
    let mut lines = Vec::new();
    if let Some(f) = s.fit {
        let hi = s.lengths.last().map_or(0.0, |l| f64::from(l.input_tokens));
        let curve: Vec<(f64, f64)> = (0..=64)
            .map(|i| {
                let n = hi * f64::from(i) / 64.0;
                (n, f.ttft_ms(n))
            })
            .collect();
        lines.push(Series::new(&format!("{} fit", f.model), curve));
    }
    let spec = ChartSpec::new(
        "chart-prefill-scaling",
        "TTFT vs exact input length, with the fit",
        "input tokens (exact)",
        "TTFT (ms)",
    );
    out.push((
        svg::scatter_with_lines(&spec, &[points], &lines),
        "One point per measured request fed an exact token input; the line is the least-squares fit (linear term + non-negative quadratic attention term) through each length's median.".to_string(),
    ));
    let decode: Vec<(f64, f64)> = s
        .lengths
        .iter()
        .filter_map(|l| Some((f64::from(l.input_tokens), l.decode_tok_s_median?)))
        .collect();
    if !decode.is_empty() {
        let spec = ChartSpec::new(
            "chart-decode-context",
            "Decode rate vs context length",
            "input tokens (exact)",
            "decode tok/s (median)",
        );
        out.push((
            svg::line_chart(&spec, &[Series::new("decode tok/s", decode)]),
            "Median decode rate, (N − 1) / (t_N − t1), of the requests at each input length: every decode step attends to the whole context.".to_string(),
        ));
    }
    out
}

/// The label of a request's input in tables: `128 (exact)` for exact token input.
pub(crate) fn input_cell(a: &Analysis, index: u32, runtime_count: Option<i64>) -> String {
    match a.exact_input_tokens(index) {
        Some(n) => format!("{n} (exact)"),
        None => runtime_count.map_or_else(|| "-".into(), |v| v.to_string()),
    }
}
