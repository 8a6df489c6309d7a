//! "Under load": the levels of a trace or a sweep, their saturation point, and the charts —
//! formatted only (the figures are `stats::load`'s). The per-trace report and the sweep report
//! share these tables, so one level reads the same wherever it appears.
use super::svg::{self, ChartSpec, Series};
use super::table::{Cell, Table};
use super::text::{html_escape, md_inline, num};
use crate::analysis::Analysis;
use crate::stats::load::{LoadLevel, Saturation};
use std::fmt::Write;

pub(crate) const TITLE: &str = "Under load";

/// One row per level, in the order given, with whether it held.
pub(crate) fn levels_table(levels: &[&LoadLevel], sat: &Saturation) -> Table {
    let goodput = levels.iter().any(|l| l.goodput.is_some());
    let mut titles = vec![
        "level",
        "#offered req/s",
        "#completed",
        "#failed",
        "#rejected",
        "#duration s",
        "#req/s",
        "#output tok/s",
    ];
    if goodput {
        titles.push("#goodput req/s");
    }
    titles.extend([
        "#TTFT median ms",
        "#TTFT p99 ms",
        "#TPOT median ms",
        "#ITL median ms",
        "#E2EL median ms",
        "#E2EL p99 ms",
        "#in flight mean",
        "#in flight max",
        "#send lateness p99 ms",
        "holds",
    ]);
    let mut t = Table::grid(&titles);
    for (i, l) in levels.iter().enumerate() {
        let mut row = vec![
            Cell::text(l.label()),
            Cell::num(num(sat.offered_rps.get(i).copied().flatten(), 3)),
            Cell::num(l.completed.to_string()),
            Cell::num(l.failed.to_string()),
            Cell::num(l.rejected.to_string()),
            Cell::num(num(l.duration_s, 3)),
            Cell::num(num(l.request_throughput, 3)),
            Cell::num(num(l.output_throughput, 2)),
        ];
        if goodput {
            row.push(Cell::num(num(l.goodput, 3)));
        }
        let held = sat.holds.get(i).copied().unwrap_or(false);
        row.extend([
            Cell::num(num(l.ttft_ms.median, 1)),
            Cell::num(num(l.ttft_ms.p99, 1)),
            Cell::num(num(l.tpot_ms.median, 2)),
            Cell::num(num(l.itl_ms.median, 2)),
            Cell::num(num(l.e2el_ms.median, 1)),
            Cell::num(num(l.e2el_ms.p99, 1)),
            Cell::num(num(l.in_flight_mean, 2)),
            Cell::num(l.in_flight_max.to_string()),
            Cell::num(num(l.send_lateness_p99_ms, 3)),
            Cell::Mark(held, if held { "yes" } else { "no" }.to_string()),
        ]);
        t.push(row);
    }
    t
}

/// What only some levels have: latency from the intended send time (open loop) and queueing
/// (a server that reports its prefill); `None` when no level has either.
pub(crate) fn corrected_table(levels: &[&LoadLevel]) -> Option<Table> {
    if !levels
        .iter()
        .any(|l| l.ttft_from_scheduled_ms.is_some() || l.queue_ms.is_some())
    {
        return None;
    }
    let mut t = Table::grid(&[
        "level",
        "#TTFT from scheduled median ms",
        "#TTFT from scheduled p99 ms",
        "#E2EL from scheduled median ms",
        "#E2EL from scheduled p99 ms",
        "#queue median ms",
        "#queue p99 ms",
        "#send lateness p50 ms",
    ]);
    for l in levels {
        let (ts, es, q) = (
            l.ttft_from_scheduled_ms.unwrap_or_default(),
            l.e2el_from_scheduled_ms.unwrap_or_default(),
            l.queue_ms.unwrap_or_default(),
        );
        t.push(vec![
            Cell::text(l.label()),
            Cell::num(num(ts.median, 1)),
            Cell::num(num(ts.p99, 1)),
            Cell::num(num(es.median, 1)),
            Cell::num(num(es.p99, 1)),
            Cell::num(num(q.median, 1)),
            Cell::num(num(q.p99, 1)),
            Cell::num(num(l.send_lateness_p50_ms, 3)),
        ]);
    }
    Some(t)
}

/// The saturation point in one sentence.
pub(crate) fn saturation_sentence(levels: &[&LoadLevel], sat: &Saturation) -> String {
    let at = sat.at(levels);
    // One level: the rule says whether it held; several: the point first.
    let head = match (at, levels.len()) {
        (_, 0 | 1) => String::new(),
        (Some(l), _) => format!("Saturation point: {}. ", l.label()),
        (None, _) => "Saturation point: none (the lowest level did not hold). ".to_string(),
    };
    format!(
        "{head}{}. Offered rate: {}. A level holds when it completes ≥ 95 % of the rate offered to it and its p99 TTFT is within the --goodput TTFT SLO, if one is given.",
        capitalized(&sat.rule),
        sat.offered_basis
    )
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A sequential level in one sentence (the report of every run recorded one at a time).
fn sequential_sentence(l: &LoadLevel) -> String {
    format!(
        "Sequential run: one request at a time, concurrency 1 (in flight: mean {}, max {}); record --server URL with --concurrency N or --rate R measures under load (docs/LOAD.md).",
        num(l.in_flight_mean, 2),
        l.in_flight_max
    )
}

/// The Markdown section of one trace.
pub(crate) fn markdown_section(a: &Analysis) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## 🚦 {TITLE}\n");
    if a.load.is_sequential() && a.saturation.level.is_some() {
        let _ = writeln!(o, "{}\n", md_inline(&sequential_sentence(&a.load)));
        return o;
    }
    let levels = [&a.load];
    o.push_str(&markdown_levels(&levels, &a.saturation));
    o
}

/// The levels, the corrected latencies and the saturation point, in Markdown.
pub(crate) fn markdown_levels(levels: &[&LoadLevel], sat: &Saturation) -> String {
    let mut o = levels_table(levels, sat).markdown();
    if let Some(t) = corrected_table(levels) {
        o.push_str(&t.markdown());
    }
    let _ = writeln!(o, "{}\n", md_inline(&saturation_sentence(levels, sat)));
    o
}

/// The HTML section of one trace: the table, and for a level under load its point on the
/// latency–throughput plane and its requests in flight over time.
pub(crate) fn html_section(a: &Analysis) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<section id=\"load\">\n<h2>{TITLE}</h2>");
    if a.load.is_sequential() && a.saturation.level.is_some() {
        let _ = writeln!(
            o,
            "<p>{}</p>\n</section>",
            html_escape(&sequential_sentence(&a.load))
        );
        return o;
    }
    let levels = [&a.load];
    o.push_str(&html_levels(&levels, &a.saturation));
    o.push_str(&in_flight_chart(&a.load));
    o.push_str("</section>\n");
    o
}

/// The levels, the corrected latencies, the saturation point and the latency–throughput chart.
pub(crate) fn html_levels(levels: &[&LoadLevel], sat: &Saturation) -> String {
    // Wide tables scroll on their own rather than widen the page.
    let scroll = |t: Table| format!("<div style=\"overflow-x:auto\">\n{}</div>\n", t.html());
    let mut o = scroll(levels_table(levels, sat));
    if let Some(t) = corrected_table(levels) {
        o.push_str(&scroll(t));
    }
    let _ = writeln!(
        o,
        "<p>{}</p>",
        html_escape(&saturation_sentence(levels, sat))
    );
    o.push_str(&latency_throughput_chart(levels, &sat.order));
    o
}

fn figure(svg: &str, caption: &str) -> String {
    let mut o = String::new();
    super::html::chart_box(&mut o, svg, caption);
    o
}

/// p99 and median TTFT against output throughput, one point per level (its label in the
/// tooltip), joined in increasing offered load (`order`: the saturation's order of the
/// levels): past saturation more load can deliver less, and the curve then bends back, which
/// a line in throughput order would hide.
pub(crate) fn latency_throughput_chart(levels: &[&LoadLevel], order: &[usize]) -> String {
    let by_x: Vec<&LoadLevel> = order
        .iter()
        .filter_map(|&i| levels.get(i).copied())
        .collect();
    let series = |name: &str, f: &dyn Fn(&LoadLevel) -> Option<f64>| {
        let mut s = Series::new(
            name,
            by_x.iter()
                .map(|l| {
                    (
                        l.output_throughput.unwrap_or(f64::NAN),
                        f(l).unwrap_or(f64::NAN),
                    )
                })
                .collect(),
        );
        s.point_titles = by_x
            .iter()
            .map(|l| {
                format!(
                    "{}: {} tok/s, {name} {} ms",
                    l.label(),
                    num(l.output_throughput, 2),
                    num(f(l), 1)
                )
            })
            .collect();
        s
    };
    let mut p99 = series("p99 TTFT", &|l| l.ttft_ms.p99);
    p99.point_labels = by_x.iter().map(|l| l.label()).collect();
    let median = series("median TTFT", &|l| l.ttft_ms.median);
    let spec = ChartSpec::new(
        "chart-latency-throughput",
        "Latency against throughput",
        "output throughput (tok/s)",
        "TTFT (ms)",
    );
    figure(
        &svg::line_with_points(&spec, &[p99, median]),
        "One point per level, labelled with its concurrency or rate (hover for its figures), joined in increasing offered load: where the curve turns up, more load buys latency, not throughput.",
    )
}

/// Requests in flight over the level, as a step line.
pub(crate) fn in_flight_chart(l: &LoadLevel) -> String {
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(2 * l.in_flight.len());
    let mut prev = 0.0;
    for &(t_us, n) in &l.in_flight {
        let t = t_us as f64 / 1e6;
        pts.push((t, prev));
        prev = f64::from(n);
        pts.push((t, prev));
    }
    let spec = ChartSpec::new(
        "chart-in-flight",
        "Requests in flight",
        "time since the level started (s)",
        "requests",
    );
    figure(
        &svg::line_chart(&spec, &[Series::new("in flight", pts)]),
        "Measured requests between their send and their end; the time-weighted mean is the table's in-flight mean.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::load::Trio;

    fn level(mode: &str, concurrency: u32, rate: Option<f64>) -> LoadLevel {
        LoadLevel {
            mode: mode.into(),
            concurrency,
            rate_rps: rate,
            arrivals: None,
            burstiness: None,
            seed: None,
            instances: 0,
            start_us: 0,
            completed: 3,
            failed: 0,
            rejected: 1,
            duration_s: Some(1.5),
            request_throughput: Some(2.0),
            output_throughput: Some(20.0),
            total_token_throughput: None,
            goodput: None,
            ttft_ms: Trio::default(),
            tpot_ms: Trio::default(),
            itl_ms: Trio::default(),
            e2el_ms: Trio::default(),
            in_flight_mean: Some(1.5),
            in_flight_max: 2,
            in_flight: vec![(0, 1), (500_000, 2), (1_500_000, 0)],
            send_lateness_p50_ms: Some(0.0),
            send_lateness_p99_ms: Some(0.0),
            ttft_from_scheduled_ms: None,
            e2el_from_scheduled_ms: None,
            queue_ms: None,
            client_cpu_ms: None,
            requests: vec![],
            samples: Default::default(),
        }
    }

    fn sat(level: Option<usize>, rule: &str, n: usize) -> Saturation {
        Saturation {
            level,
            rule: rule.into(),
            offered_basis: "open loop: the rate requested (rate_rps)".into(),
            offered_rps: vec![Some(2.0); n],
            holds: vec![true; n],
            order: (0..n).collect(),
        }
    }

    #[test]
    fn a_mode_from_the_trace_is_escaped_and_capitalised_safely() {
        let l = level("é|<b>", 2, None);
        let t = levels_table(
            &[&l],
            &sat(None, &format!("{} did not hold: x", l.label()), 1),
        );
        let md = t.markdown();
        assert!(md.contains("| é\\|&lt;b&gt; concurrency=2 |"), "{md}");
        assert!(!t.html().contains("<b>"));
        let s = saturation_sentence(
            &[&l],
            &sat(None, &format!("{} did not hold: x", l.label()), 1),
        );
        assert!(
            s.starts_with("É|<b> concurrency=2 did not hold: x. Offered rate:"),
            "{s}"
        );
    }

    #[test]
    fn several_levels_name_their_saturation_point_first() {
        let (mut a, mut b) = (level("rate", 0, Some(1.0)), level("rate", 0, Some(2.5)));
        for (l, ms) in [(&mut a, 100.0), (&mut b, 300.0)] {
            l.ttft_ms.median = Some(ms);
            l.ttft_ms.p99 = Some(2.0 * ms);
        }
        let s = saturation_sentence(
            &[&a, &b],
            &sat(
                Some(0),
                "rate=2.5 did not hold: completed 2.00 of 2.50 offered requests/s (80 %)",
                2,
            ),
        );
        assert!(
            s.starts_with("Saturation point: rate=1. Rate=2.5 did not hold"),
            "{s}"
        );
        let none = saturation_sentence(&[&a, &b], &sat(None, "rate=1 did not hold: x", 2));
        assert!(none.starts_with("Saturation point: none (the lowest level did not hold). Rate=1"));
        // A chart with a point per level, each labelled.
        let svg = latency_throughput_chart(&[&a, &b], &[0, 1]);
        assert!(
            svg.contains(">rate=1</text>") && svg.contains(">rate=2.5</text>"),
            "{svg}"
        );
    }

    #[test]
    fn in_flight_is_a_step_line() {
        let svg = in_flight_chart(&level("concurrency", 2, None));
        assert!(svg.contains("id=\"chart-in-flight\""));
        assert!(svg.contains("<path d=\"M"), "{svg}");
    }
}
