//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, fonts or network)
//! that can be mailed, archived or opened from a USB stick years later and still render the
//! same. Sections follow the Markdown report (summary, configuration, performance metrics,
//! per-request details, definitions) plus charts drawn by [`super::svg`].
//!
//! Safety: everything that comes from the trace (model output, prompts, suite names, paths,
//! board facts) goes through [`html_escape`], and a Content-Security-Policy `<meta>` forbids
//! scripts and every network fetch, so even an escaping bug could not run model output or
//! phone home. Determinism: no clock, no hash-map iteration (telemetry keys are grouped in
//! `BTreeMap`s), and all numbers in fixed precision.
use super::details::{self, DetailLine};
use super::provenance;
use super::reference;
use super::svg::{self, ChartSpec, Histogram, Series};
use super::table::status_class;
use super::tables;
use super::text::{html_escape, num, utc};
use super::wording::{
    self, CONFORMANCE_INTRO, CONFORMANCE_UNKNOWN, PEERS_NOTE, VERDICT_VALID_MEANS,
};
use super::DEFINITIONS;
use crate::analysis::charts::{Charts, CPU_UNIT, RATE_WINDOW};
use crate::analysis::observations::Span;
use crate::analysis::Analysis;
use crate::trace::Trace;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Bins of the ITL histogram.
const ITL_BINS: usize = 40;

pub(crate) const CSS: &str = "\
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d1d1f;background:#fafafa;margin:0}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px;background:#fff}
#verdict .ok,#verdict .bad{padding:1px 8px;border-radius:4px;color:#fff}#verdict .ok{background:#1a7f37}#verdict .bad{background:#c62828}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#555;margin:0 0 12px}
nav a{margin-right:14px}
a{color:#2a5db0;text-decoration:none}a:hover{text-decoration:underline}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.kv th{width:260px;font-weight:normal;color:#444}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;max-height:480px;overflow:auto}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:8px 12px;margin:10px 0}
.status-ok{color:#1a7f37}.status-bad{color:#c62828}.status-partial{color:#b26a00}
.chart-box{margin:14px 0 22px}
svg.chart{max-width:100%;height:auto;border:1px solid #eee}
.caption{color:#555;font-size:12.5px;margin:2px 0 0}
details.req{border:1px solid #e3e3e3;border-radius:4px;padding:4px 10px;margin:8px 0}
details.req>summary{cursor:pointer;font-weight:600}
dl.defs dt{font-weight:600;margin-top:6px}dl.defs dd{margin-left:18px}
footer{color:#777;font-size:12px;margin-top:32px}
";

/// Render the report.
pub(crate) fn render(a: &Analysis) -> String {
    let model = a.model_name();
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"generator\" content=\"rkbench report\">\n\
         <title>{} — rkbench NPU benchmark</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        html_escape(model)
    );

    header(&mut o, a, model);
    // Sections that only some runs have get a link only when present.
    let optional = format!(
        "{}{}",
        if a.reference.is_some() {
            "<a href=\"#reference\">Reference</a>"
        } else {
            ""
        },
        if a.prefill_scaling.is_some() {
            "<a href=\"#prefill-scaling\">Prefill scaling</a>"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "<nav><a href=\"#summary\">Summary</a><a href=\"#configuration\">Configuration</a>\
         <a href=\"#performance\">Performance</a>{optional}<a href=\"#charts\">Charts</a>\
         <a href=\"#requests\">Requests</a><a href=\"#details\">Details</a>\
         <a href=\"#observations\">Observations</a><a href=\"#conclusion\">Conclusion</a><a href=\"#definitions\">Definitions</a></nav>"
    );
    verdict_and_warnings(&mut o, a);
    summary(&mut o, a);
    configuration(&mut o, a);
    if let Some(server) = super::server::html_section(a) {
        o.push_str(&server);
    }
    performance(&mut o, a);
    o.push_str(&super::load::html_section(a));
    reference_section(&mut o, a);
    prefill_section(&mut o, a);
    conformance(&mut o, a);
    peer_metrics(&mut o, a);
    charts(&mut o, a);
    request_table(&mut o, a);
    energy_section(&mut o, a);
    o.push_str(&super::instances::html(a));
    details(&mut o, a);
    observations(&mut o, a);
    definitions(&mut o);
    let _ = writeln!(
        o,
        "<footer>Generated by <code>rkbench report</code> from <code>{}</code>; every figure is recomputed from the recorded token times.</footer>",
        html_escape(&a.file_name)
    );
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

fn header(o: &mut String, a: &Analysis, model: &str) {
    let trace = a.trace;
    let h = &trace.header;
    let _ = writeln!(
        o,
        "<header>\n<h1>{} — NPU benchmark results</h1>",
        html_escape(model)
    );
    let measured = html_spans(&provenance::measured(a));
    let _ = writeln!(
        o,
        "<p class=\"meta\">Recorded <time datetime=\"{t}\">{t}</time> on <code>{}</code> · {measured} · rkbench {} ({}) · trace <code>{}</code></p>\n</header>",
        html_escape(&h.hostname),
        html_escape(&h.rkbench.version),
        html_escape(&h.rkbench.git_commit),
        html_escape(&a.file_name),
        t = utc(h.started_unix_ms),
    );
    for n in provenance::trace_notes(a) {
        let _ = writeln!(
            o,
            "<p class=\"warn\"><strong>{}</strong> {}</p>",
            html_escape(&n.head),
            html_escape(&n.text)
        );
    }
}

fn summary(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    o.push_str(&tables::summary(a).html());
    o.push_str("<h3>Tokens</h3>\n");
    o.push_str(&tables::tokens(a).html());
    o.push_str("</section>\n");
}

fn configuration(o: &mut String, a: &Analysis) {
    let _ = writeln!(
        o,
        "<section id=\"configuration\">\n<h2>Configuration</h2>\n<p>Parameters as {} (recorded in the trace).</p>",
        a.params_went_to()
    );
    o.push_str(&tables::parameters(a).html());
    let board = tables::board(a);
    if !board.rows.is_empty() {
        o.push_str("<details>\n<summary>Board</summary>\n");
        o.push_str(&board.html());
        o.push_str("</details>\n");
    }
    o.push_str("</section>\n");
}

fn performance(o: &mut String, a: &Analysis) {
    let _ = writeln!(
        o,
        "<section id=\"performance\">\n<h2>Performance metrics</h2>\n<p>Per-request figures over the {} successful requests (percentiles: linear interpolation, type 7).</p>",
        a.summary.ok
    );
    o.push_str(&tables::performance(a).html());
    o.push_str("</section>\n");
}

/// This run beside Rockchip's published row (only when the model and release have one).
fn reference_section(o: &mut String, a: &Analysis) {
    let Some(r) = &a.reference else {
        return;
    };
    let _ = writeln!(
        o,
        "<section id=\"reference\">\n<h2>{}</h2>\n<p>{}</p>",
        reference::REFERENCE_TITLE,
        html_escape(&reference::reference_intro(r))
    );
    o.push_str(&reference::reference_table(r).html());
    let _ = writeln!(
        o,
        "<p>{}</p>",
        html_escape(&reference::reference_method_line(r))
    );
    if !r.approximate.is_empty() {
        o.push_str("<ul>\n");
        for why in &r.approximate {
            let _ = writeln!(o, "<li>{}</li>", html_escape(why));
        }
        o.push_str("</ul>\n");
    }
    if let Some(w) = &r.decode_warning {
        let _ = writeln!(o, "<p class=\"status-bad\">⚠️ {}</p>", html_escape(w));
    }
    o.push_str("</section>\n");
}

/// TTFT against exact input length with the fitted curve, and decode rate per context length.
fn prefill_section(o: &mut String, a: &Analysis) {
    let Some(s) = &a.prefill_scaling else {
        return;
    };
    let _ = writeln!(
        o,
        "<section id=\"prefill-scaling\">\n<h2>{}</h2>",
        reference::PREFILL_TITLE
    );
    if let Some(f) = &s.fit {
        let _ = writeln!(o, "<p>{}</p>", html_escape(&reference::fit_text(s, f)));
    }
    o.push_str(&reference::prefill_table(s).html());
    for (svg, caption) in reference::prefill_charts(s) {
        chart_box(o, &svg, &caption);
    }
    o.push_str("</section>\n");
}

/// Display unit and scale for a telemetry unit, so that e.g. NPU frequencies read in MHz.
fn display_unit(unit: &str) -> (String, f64) {
    match unit {
        "Hz" => ("MHz".into(), 1e-6),
        "kHz" => ("MHz".into(), 1e-3),
        "m°C" | "mC" | "millidegree Celsius" => ("°C".into(), 1e-3),
        "kB" | "KiB" => ("MB".into(), 1.0 / 1024.0),
        CPU_UNIT => (CPU_UNIT.into(), 1.0),
        "" => ("value".into(), 1.0),
        u => (u.to_string(), 1.0),
    }
}

/// Telemetry points per series key (sorted by key, so output order never depends on hashing).
type SeriesByKey = BTreeMap<String, Vec<(f64, f64)>>;

fn unit_rank(unit: &str) -> usize {
    match unit {
        "MHz" => 0,
        "°C" => 1,
        "%" => 2,
        "W" => 3,
        CPU_UNIT => 4,
        "MB" => 5,
        _ => 6,
    }
}

fn telemetry_title(unit: &str) -> String {
    match unit {
        "MHz" => "Clock frequencies (MHz)".into(),
        "°C" => "Temperatures (°C)".into(),
        "%" => "Load (%)".into(),
        "W" => "Power (W)".into(),
        CPU_UNIT => "CPU use of the recording process (% of one CPU)".into(),
        "MB" => "Memory (MB)".into(),
        u => format!("Telemetry ({u})"),
    }
}

/// The telemetry timeline: the analysis's telemetry series drawn as lines, one chart per
/// display unit (frequencies, temperatures and loads do not share a scale), with the spans of
/// the requests shaded behind. Unread samples break the line. Returns an empty string when the
/// trace has no telemetry.
pub(crate) fn telemetry_charts(trace: &Trace, charts: &Charts) -> String {
    // unit → key → points. BTreeMaps keep the output order independent of hashing.
    let mut by_unit: BTreeMap<String, SeriesByKey> = BTreeMap::new();
    for c in &charts.telemetry {
        let (unit, scale) = display_unit(&c.unit);
        let pts = c.points.iter().map(|&(t, y)| (t, y * scale)).collect();
        by_unit.entry(unit).or_default().insert(c.key.clone(), pts);
    }
    let bands: Vec<(f64, f64)> = trace
        .requests
        .iter()
        .map(|r| {
            (
                r.start_us as f64 / 1e6,
                (r.start_us + r.end_us) as f64 / 1e6,
            )
        })
        .collect();
    // Clocks first (throttling shows there), then temperatures, loads, memory, anything else.
    let mut groups: Vec<(String, SeriesByKey)> = by_unit
        .into_iter()
        .filter(|(_, series)| series.values().any(|p| p.iter().any(|q| q.1.is_finite())))
        .collect();
    groups.sort_by_key(|(unit, _)| unit_rank(unit));
    let mut o = String::new();
    for (n, (unit, series)) in groups.into_iter().enumerate() {
        let mut spec = ChartSpec::new(
            &format!("chart-telemetry-{n}"),
            &telemetry_title(&unit),
            "time since the start of the run (s)",
            &unit,
        );
        spec.height = 280.0;
        spec.y_from_zero = unit != "°C";
        spec.bands = bands.clone();
        let list: Vec<Series> = series
            .into_iter()
            .map(|(k, p)| Series::new(&k, p))
            .collect();
        chart_box(
            &mut o,
            &svg::line_chart(&spec, &list),
            "Board telemetry sampled during the run; shaded spans are requests (t0 to t_end).",
        );
    }
    o
}

/// A chart and its caption in the report's figure box (every chart of the HTML report).
pub(crate) fn chart_box(o: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        o,
        "<figure class=\"chart-box\">\n{svg}<figcaption class=\"caption\">{}</figcaption>\n</figure>\n",
        html_escape(caption)
    );
}

/// The charts' series in the renderer's terms: one line per request, one scatter series per
/// category with a tooltip per point.
fn decode_rate_series(c: &Charts) -> Vec<Series> {
    c.decode_rate
        .iter()
        .map(|c| Series::new(&c.name, c.points.clone()))
        .collect()
}

fn ttft_series(c: &Charts) -> Vec<Series> {
    c.ttft_by_category
        .iter()
        .map(|(cat, pts)| {
            let mut s = Series::new(
                cat,
                pts.iter()
                    .map(|p| (p.input_tokens as f64, p.ttft_ms))
                    .collect(),
            );
            s.point_titles = pts
                .iter()
                .map(|p| {
                    format!(
                        "#{} {}: {} input tokens, TTFT {} ms ({})",
                        p.index,
                        p.id,
                        p.input_tokens,
                        num(Some(p.ttft_ms), 1),
                        p.status.as_str()
                    )
                })
                .collect();
            s
        })
        .collect()
}

fn charts(o: &mut String, a: &Analysis) {
    let c = &a.charts;
    o.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    let mut spec = ChartSpec::new(
        "chart-decode-rate",
        "Decode rate over time",
        "time since t0 (s)",
        "tokens/s",
    );
    let series = decode_rate_series(c);
    spec.height = 340.0;
    chart_box(
        o,
        &svg::line_chart(&spec, &series),
        &format!(
            "Per measured request: tokens/s over a sliding window of {RATE_WINDOW} tokens, k / (t_i − t_(i−k)), at each token's arrival. A line starts at the first token (after prefill)."
        ),
    );

    let mut spec = ChartSpec::new(
        "chart-itl-histogram",
        "Inter-token latency (pooled)",
        "ITL (ms)",
        "tokens",
    );
    // ITLs cluster far from zero; an axis from 0 would squeeze them into a few pixels.
    spec.x_from_zero = false;
    let h = Histogram::of(&c.itl_pooled_ms, ITL_BINS, c.itl_clip_ms);
    let caption = match &h {
        Some(h) if h.overflow > 0 => format!(
            "t_i − t_(i−1) for i ≥ 2 over all measured requests; {} values above the 99th percentile are counted in the red bar.",
            h.overflow
        ),
        _ => "t_i − t_(i−1) for i ≥ 2 over all measured requests.".to_string(),
    };
    chart_box(o, &svg::histogram(&spec, h.as_ref()), &caption);

    let spec = ChartSpec::new(
        "chart-ttft-input",
        "TTFT vs input tokens",
        "input tokens (runtime count)",
        "TTFT (ms)",
    );
    chart_box(
        o,
        &svg::scatter(&spec, &ttft_series(c)),
        "One point per measured request with a first token; input tokens are the runtime's prefill_tokens (runtime 1.2.1+).",
    );

    let telemetry = telemetry_charts(a.trace, c);
    if telemetry.is_empty() {
        o.push_str("<p class=\"caption\">No board telemetry in this trace.</p>\n");
    } else {
        o.push_str("<h3>Telemetry</h3>\n");
        o.push_str(&telemetry);
    }
    o.push_str("</section>\n");
}

/// "Energy" (only for traces with power samples), from the same tables as the Markdown.
fn energy_section(o: &mut String, a: &Analysis) {
    let Some((note, run, reqs)) = tables::energy(a) else {
        return;
    };
    let _ = writeln!(
        o,
        "<section id=\"energy\">\n<h2>Energy</h2>\n<p>{}</p>",
        html_escape(&note)
    );
    o.push_str(&run.html());
    o.push_str(&reqs.html());
    o.push_str("</section>\n");
}

fn request_table(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"requests\">\n<h2>Per-request results</h2>\n");
    o.push_str(&tables::requests(a).html());
    if let Some(t) = tables::board_state(a) {
        let _ = writeln!(
            o,
            "<h3>Board state during each request</h3>\n<p>{}</p>",
            html_spans(&wording::board_state_note(a))
        );
        o.push_str(&t.html());
    }
    o.push_str("</section>\n");
}

/// `<pre>` drops a newline right after its start tag, so one is always written: a response
/// that itself starts with a newline keeps it.
fn pre(o: &mut String, text: &str) {
    let _ = writeln!(o, "<pre>\n{}</pre>", html_escape(text));
}

/// One of the request's detail lines (see [`details`]) as a list item.
fn detail_item(l: &DetailLine) -> String {
    let items: Vec<String> = l
        .items
        .iter()
        .map(|(k, v)| format!("<strong>{k}:</strong> {}", html_escape(v)))
        .collect();
    let flag = l
        .flag
        .map(|f| format!(" <span class=\"status-partial\">({f})</span>"))
        .unwrap_or_default();
    format!("<li>{}{flag}</li>", items.join(" · "))
}

fn details(o: &mut String, a: &Analysis) {
    o.push_str("<section id=\"details\">\n<h2>Per-request details</h2>\n");
    for (r, m, _) in a.requests() {
        let _ = writeln!(
            o,
            "<details class=\"req\" id=\"req-{}\">\n<summary>#{} {} — {} ({}) · <span class=\"{}\">{}</span>{}</summary>",
            r.index,
            r.index,
            html_escape(&r.test_id),
            html_escape(&r.name),
            html_escape(&r.category),
            status_class(r.status),
            r.status.as_str(),
            if r.warmup { " · warm-up" } else { "" }
        );
        o.push_str("<ul>\n");
        for l in details::detail_lines(a, r, m) {
            let _ = writeln!(o, "{}", detail_item(&l));
        }
        o.push_str("</ul>\n<h3>Prompt</h3>\n");
        pre(o, &r.prompt);
        let _ = writeln!(o, "<h3>Response ({} tokens)</h3>", m.output_tokens);
        pre(o, &r.response());
        o.push_str("</details>\n");
    }
    o.push_str("</section>\n");
}

/// Sentence pieces in HTML: text escaped, names as code.
fn html_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => html_escape(t),
            Span::Name(t) => format!("<code>{}</code>", html_escape(t)),
        })
        .collect()
}

/// The original report's observation subsections and rkbench's own, then the original's
/// conclusion: the same statements as the Markdown and JSON reports.
fn observations(o: &mut String, a: &Analysis) {
    let ot = &a.original_text;
    o.push_str("<section id=\"observations\">\n<h2>Observations</h2>\n");
    for (title, list) in [
        ("Performance Analysis", &ot.performance),
        ("Quality Assessment", &ot.quality),
        ("Long-Form Generation", &ot.long_form),
        ("More observations (rkbench)", &a.observations),
    ] {
        let _ = writeln!(o, "<h3>{title}</h3>\n<ul>");
        for ob in list {
            let _ = writeln!(o, "<li>{}</li>", html_escape(&ob.text()));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</section>\n<section id=\"conclusion\">\n<h2>Conclusion</h2>\n");
    let _ = writeln!(o, "<p>{}</p>\n<ol>", html_spans(&ot.conclusion_intro));
    for ob in &ot.conclusion {
        let _ = writeln!(o, "<li>{}</li>", html_escape(&ob.text()));
    }
    o.push_str("</ol>\n</section>\n");
}

fn definitions(o: &mut String) {
    o.push_str("<section id=\"definitions\">\n<h2>Metric definitions</h2>\n<dl class=\"defs\">\n");
    for (k, v) in DEFINITIONS {
        let _ = writeln!(o, "<dt>{}</dt><dd>{}</dd>", html_escape(k), html_escape(v));
    }
    o.push_str("</dl>\n</section>\n");
}

/// Traces for unit tests, built as bytes and read back with the real reader, so the tests do
/// not depend on the in-memory `Trace` layout.
#[cfg(test)]
pub(crate) mod testdata {
    use crate::trace::{
        encode_frame, encode_record, file_header, reader, Record, RequestRecord, RunEnd, RunHeader,
        TelemetryBatch, TokenColumns, Trace,
    };

    /// Tokens `dts` µs apart (the first after the request started), with no text.
    pub(crate) fn tokens_at(dts: &[u32]) -> TokenColumns {
        TokenColumns {
            token_dt_us: dts.to_vec(),
            token_ids: vec![0; dts.len()],
            text_len: vec![0; dts.len()],
            ..TokenColumns::default()
        }
    }

    /// `n` tokens 100 ms apart, one `x` each: a steady 10 tok/s.
    pub(crate) fn steady_tokens(n: usize) -> TokenColumns {
        TokenColumns {
            token_dt_us: vec![100_000; n],
            token_ids: vec![0; n],
            text_len: vec![1; n],
            text: vec![b'x'; n],
            ..TokenColumns::default()
        }
    }

    pub(crate) fn trace(
        header: RunHeader,
        requests: Vec<RequestRecord>,
        telemetry: Vec<TelemetryBatch>,
        end: Option<RunEnd>,
    ) -> Trace {
        let mut bytes = file_header(0).to_vec();
        let mut records = vec![Record::Header(header)];
        records.extend(requests.into_iter().map(Record::Request));
        records.extend(telemetry.into_iter().map(Record::Telemetry));
        records.extend(end.map(Record::End));
        for (seq, r) in records.iter().enumerate() {
            let (kind, payload) = encode_record(r).unwrap();
            encode_frame(seq as u32, kind, &payload, &mut bytes);
        }
        reader::parse(&bytes, "/somewhere/run.rktrace".into()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenColumns;
    use crate::trace::{
        ModelInfo, PerfStat, RequestRecord, RunEnd, RunHeader, Series as TSeries, TelemetryBatch,
    };

    fn req(index: u32, id: &str, dts: &[u32], text: &str) -> RequestRecord {
        // One character per token (ASCII test texts).
        let n = dts.len();
        let mut lens = vec![0u16; n];
        for (i, _) in text.char_indices().enumerate() {
            lens[i.min(n.saturating_sub(1))] += 1;
        }
        RequestRecord {
            index,
            test_id: id.into(),
            name: format!("name {id}"),
            category: if index % 2 == 0 { "code" } else { "chat" }.into(),
            prompt: "Prompt with ``` fence and <b>bold</b>".into(),
            start_us: u64::from(index) * 2_000_000,
            tokens: TokenColumns {
                token_dt_us: dts.to_vec(),
                token_ids: (0..n as i32).collect(),
                text_len: lens,
                text: text.as_bytes().to_vec(),
                ..TokenColumns::default()
            },
            end_us: dts.iter().map(|&d| u64::from(d)).sum::<u64>() + 500,
            perf: Some(PerfStat {
                prefill_tokens: 20 + index as i32 * 10,
                prefill_time_ms: 200.0,
                generate_tokens: n as i32,
                generate_time_ms: 100.0,
                memory_usage_mb: 900.0,
            }),
            ..Default::default()
        }
    }

    fn hostile() -> Trace {
        let evil = "</pre><script>alert(1)</script>\u{1b}";
        let mut dts = vec![300_000u32];
        dts.extend((0..evil.len() - 1).map(|i| 40_000 + (i as u32 % 5) * 1000));
        let mut a = req(0, "t<1>", &dts, evil);
        a.prompt = "```\n</pre><script>alert('p')</script>\n```".into();
        a.name = "<img src=x onerror=alert(2)>".into();
        let b = req(
            1,
            "b&b",
            &[200_000, 50_000, 50_000, 500_000, 50_000],
            "\nabcd",
        );
        let header = RunHeader {
            hostname: "<host>".into(),
            started_unix_ms: 1_700_000_000_000,
            model: ModelInfo {
                file_name: "Qwen<3>.rkllm".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let telemetry = vec![TelemetryBatch {
            t_us: vec![0, 500_000, 1_000_000, 1_500_000],
            series: vec![
                TSeries {
                    key: "npu.freq".into(),
                    unit: "Hz".into(),
                    values: vec![1_000_000_000, i64::MIN, 800_000_000, 1_000_000_000],
                },
                TSeries {
                    key: "thermal.<soc>".into(),
                    unit: "m°C".into(),
                    values: vec![45_000, 46_000, 47_500, 48_000],
                },
            ],
        }];
        testdata::trace(header, vec![a, b], telemetry, Some(RunEnd::default()))
    }

    #[test]
    fn escapes_all_trace_text() {
        let t = hostile();
        let out = render(&Analysis::of(&t));
        assert!(!out.contains("<script"), "unescaped script");
        assert!(!out.contains("<img"));
        assert!(!out.contains("<b>bold"));
        assert!(!out.contains("<host>") && !out.contains("Qwen<3>"));
        assert!(out.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(out.contains("\\u{001b}"), "control characters made visible");
        assert!(out.contains("thermal.&lt;soc&gt;"));
        // Exactly the <pre> elements the report opens: no content closed one early.
        assert_eq!(out.matches("<pre>").count(), out.matches("</pre>").count());
        assert_eq!(out.matches("<pre>").count(), 4);
        // A response starting with a newline keeps it (the parser eats only ours).
        assert!(out.contains("<pre>\n\nabcd</pre>"));
        assert!(out.contains("Content-Security-Policy"));
    }

    #[test]
    fn has_every_chart_and_section() {
        let t = hostile();
        let out = render(&Analysis::of(&t));
        for id in [
            "chart-decode-rate",
            "chart-itl-histogram",
            "chart-ttft-input",
            "chart-telemetry-0",
            "chart-telemetry-1",
        ] {
            assert!(out.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert_eq!(out.matches("<svg").count(), 5);
        assert_eq!(out.matches("class=\"chart\"").count(), 5);
        assert_eq!(out.matches("<title id=").count(), 5);
        for sec in [
            "summary",
            "configuration",
            "performance",
            "charts",
            "requests",
            "details",
            "observations",
            "definitions",
        ] {
            assert!(out.contains(&format!("<section id=\"{sec}\">")), "{sec}");
        }
        assert!(out.contains("2023-11-14T22:13:20Z"));
        for (k, _) in DEFINITIONS {
            assert!(out.contains(&html_escape(k)));
        }
        // No external resources of any kind (escaped model text may *mention* them).
        for bad in [
            "<img", "<link", "<script", "<iframe", "<object", "<embed", "@import", "url(",
            "https://",
        ] {
            assert!(!out.contains(bad), "{bad}");
        }
        assert_eq!(
            out.matches("http://").count(),
            out.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    }

    #[test]
    fn deterministic() {
        let t = hostile();
        let a = Analysis::of(&t);
        assert_eq!(render(&a), render(&a));
        assert_eq!(render(&a), render(&Analysis::of(&hostile())));
    }

    #[test]
    fn decode_rate_window() {
        // Tokens 100 ms apart after a 1 s TTFT: 10 tok/s throughout.
        let t = testdata::trace(
            RunHeader::default(),
            vec![req(0, "a", &[1_000_000, 100_000, 100_000, 100_000], "abcd")],
            Vec::new(),
            None,
        );
        let a = Analysis::of(&t);
        let s = decode_rate_series(&a.charts);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].points.len(), 3);
        for &(x, y) in &s[0].points {
            assert!((y - 10.0).abs() < 1e-9 && x > 1.0);
        }
        // Warm-up and single-token requests draw nothing; no telemetry, no telemetry chart.
        assert!(telemetry_charts(&t, &a.charts).is_empty());
        let out = render(&a);
        assert!(out.contains("Incomplete run"));
        assert!(out.contains("No board telemetry"));
    }

    #[test]
    fn display_units() {
        assert_eq!(display_unit(CPU_UNIT).0, CPU_UNIT);
        assert_eq!(display_unit("Hz"), ("MHz".to_string(), 1e-6));
        assert_eq!(unit_rank("MHz"), 0);
    }

    #[test]
    fn empty_trace_renders() {
        let t = testdata::trace(RunHeader::default(), Vec::new(), Vec::new(), None);
        let a = Analysis::of(&t);
        let out = render(&a);
        assert_eq!(out.matches("no data").count(), 3);
        assert!(a.charts.itl_pooled_ms.is_empty());
    }
}

/// The verdict first, then every board warning with its cause and fix.
fn verdict_and_warnings(o: &mut String, a: &Analysis) {
    let (ws, v) = (&a.warnings, &a.verdict);
    if v.valid {
        let _ = writeln!(o, "<section id=\"verdict\"><p><strong>Verdict: <span class=\"ok\">VALID</span></strong> — {VERDICT_VALID_MEANS}</p></section>");
    } else {
        let _ = writeln!(o, "<section id=\"verdict\"><p><strong>Verdict: <span class=\"bad\">INVALID</span></strong> for comparison:</p><ul>");
        for r in &v.reasons {
            let _ = writeln!(o, "<li>{}</li>", html_escape(r));
        }
        let _ = writeln!(o, "</ul></section>");
    }
    if !ws.is_empty() {
        let _ = writeln!(o, "<section id=\"warnings\"><h2>Warnings</h2><ul>");
        for w in ws {
            let _ = writeln!(
                o,
                "<li><strong>{}</strong>{}: {} <em>Fix:</em> {}</li>",
                html_escape(w.code),
                if w.invalidates_comparison {
                    " (invalidates comparison)"
                } else {
                    ""
                },
                html_escape(&w.message),
                html_escape(&w.fix)
            );
        }
        let _ = writeln!(o, "</ul></section>");
    }
}

/// Whether the runtime behaved as the ABI facts say, and how each cap was enforced.
fn conformance(o: &mut String, a: &Analysis) {
    let (unknown, means) = CONFORMANCE_UNKNOWN;
    let _ = writeln!(
        o,
        "<section id=\"conformance\">\n<h2>Runtime conformance</h2>\n<p>{CONFORMANCE_INTRO} <em>{unknown}</em>: {means}</p>"
    );
    o.push_str(&tables::conformance(a).html());
    if let Some(t) = tables::cap_enforcement(a) {
        let _ = writeln!(
            o,
            "<p>How each output cap was enforced {}</p>",
            wording::cap_tolerance()
        );
        o.push_str(&t.html());
    }
    o.push_str("</section>\n");
}

/// The same trace under each peer tool's definitions.
fn peer_metrics(o: &mut String, a: &Analysis) {
    let _ = writeln!(
        o,
        "<section id=\"peers\">\n<h2>Peer metrics (same trace, their definitions)</h2>\n<p>{}</p>",
        html_escape(PEERS_NOTE)
    );
    if let Some(n) = &a.peers_note {
        let _ = writeln!(o, "<p>{}</p>", html_escape(n));
    }
    o.push_str(&tables::peers(a).html());
    let _ = writeln!(
        o,
        "<h3>Throughput (vLLM <code>calculate_metrics</code>)</h3>\n<p>{}</p>",
        html_spans(&wording::goodput_note(a))
    );
    o.push_str(&tables::throughput(a).html());
    o.push_str("</section>\n");
}
