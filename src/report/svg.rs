//! A small, dependency-free SVG chart builder for the HTML report: line charts with several
//! series, histograms and scatter plots, each with axes, ticks, labels and a legend.
//!
//! Why hand-written: reports must be byte-identical for the same trace on any machine, and a
//! plotting crate would bring its own float formatting, font metrics and version drift. Here every
//! coordinate is printed with a fixed precision (`{:.1}`), tick positions come from "nice number"
//! arithmetic that uses only `+ − × ÷`, `floor`, `ceil` and `round` (all exactly specified by
//! IEEE 754, unlike `log10`/`powf`, whose libm results may differ between glibc, musl and
//! aarch64), and every piece of text (series names come from model suites) is escaped.
use super::text::html_escape;
use std::fmt::Write;

/// Series colours (Tableau 10: distinguishable, print-safe). Series beyond ten reuse a colour
/// with a dash pattern so that no two series of one chart look alike.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
const DASHES: [&str; 4] = ["", "6 3", "2 2", "8 3 2 3"];

/// Average glyph advance of the 11 px sans-serif used for labels. Only used to lay out the
/// legend; a constant keeps layout independent of installed fonts.
const CHAR_W: f64 = 6.2;
/// Longest series name shown in a legend (longer ones are cut with an ellipsis).
const LEGEND_MAX_CHARS: usize = 28;
/// Most points drawn per line series; longer series are thinned by a fixed stride.
pub(crate) const MAX_POINTS: usize = 600;

/// What every chart has: where it lives in the page and how it is labelled.
#[derive(Debug, Clone)]
pub(crate) struct ChartSpec {
    /// Element id of the `<svg>` (must be unique in the page).
    pub id: String,
    /// Visible heading and the accessible `<title>`.
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub width: f64,
    /// Height of the plot area plus axes; the legend adds rows below.
    pub height: f64,
    /// Start the y axis at 0 (rates, counts) instead of at the data's minimum (temperatures).
    pub y_from_zero: bool,
    /// Start the x axis at 0.
    pub x_from_zero: bool,
    /// Shaded x ranges drawn behind the data (e.g. when requests ran, on a telemetry timeline).
    pub bands: Vec<(f64, f64)>,
}

impl ChartSpec {
    pub(crate) fn new(id: &str, title: &str, x_label: &str, y_label: &str) -> ChartSpec {
        ChartSpec {
            id: id.to_string(),
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            width: 1000.0,
            height: 320.0,
            y_from_zero: true,
            x_from_zero: true,
            bands: Vec::new(),
        }
    }
}

/// One named series of (x, y) points. A non-finite `y` in a line series breaks the line (a
/// telemetry sample that could not be read), and such points are skipped by scatter plots.
#[derive(Debug, Clone, Default)]
pub(crate) struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Tooltip per point for scatter plots (same length as `points`, or empty for none).
    pub point_titles: Vec<String>,
    /// Visible text beside each point of a scatter plot (e.g. the load level it measured);
    /// empty for none.
    pub point_labels: Vec<String>,
}

impl Series {
    pub(crate) fn new(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
            point_titles: Vec::new(),
            point_labels: Vec::new(),
        }
    }
}

/// Equal-width bins over `[lo, lo + width × counts.len())`, plus the count of values beyond
/// the last edge (`overflow`), shown as a separate bar so one stall cannot flatten the rest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    pub lo: f64,
    pub width: f64,
    pub counts: Vec<usize>,
    pub overflow: usize,
}

impl Histogram {
    /// Bin finite `values` into at most about `max_bins` bins whose edges are nice numbers. With
    /// `clip = Some(c)`, values above `c` go to `overflow` instead of stretching the axis.
    pub(crate) fn of(values: &[f64], max_bins: usize, clip: Option<f64>) -> Option<Histogram> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let top = clip.map_or(max, |c| c.min(max)).max(min);
        let span = if top > min {
            top - min
        } else {
            min.abs().max(1.0)
        };
        let width = nice_step(span, max_bins.max(1));
        let lo = (min / width).floor() * width;
        let mut n = (((top - lo) / width).floor() as usize + 1).max(1);
        // The last bin is closed on the right: a value exactly at `top` belongs to it rather
        // than to a bin of its own.
        if n > 1 && lo + width * (n - 1) as f64 >= top {
            n -= 1;
        }
        // Everything up to the last drawn edge is binned, so no bar hides values it seems to cover.
        let edge = lo + width * n as f64;
        let mut counts = vec![0usize; n];
        let mut overflow = 0;
        for &x in &v {
            if x > edge {
                overflow += 1;
                continue;
            }
            let i = (((x - lo) / width).floor() as usize).min(n - 1);
            counts[i] += 1;
        }
        Some(Histogram {
            lo,
            width,
            counts,
            overflow,
        })
    }
}

/// Largest power of ten not above `x` (x > 0), by repeated ×/÷ 10 so it is identical on every
/// platform.
fn pow10_floor(x: f64) -> f64 {
    let mut p = 1.0;
    if x >= 1.0 {
        while p * 10.0 <= x {
            p *= 10.0;
        }
    } else {
        while p > x && p > 1e-12 {
            p /= 10.0;
        }
    }
    p
}

/// A step of 1, 2, 2.5 or 5 × 10^k that splits `span` into about `target` intervals.
pub(crate) fn nice_step(span: f64, target: usize) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target.max(1) as f64;
    let mag = pow10_floor(raw);
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Decimals needed to print multiples of `step` exactly (at most 6).
fn decimals_for(step: f64) -> usize {
    let mut d = 0;
    let mut s = step;
    while d < 6 && (s - s.round()).abs() > 1e-6 * s.abs().max(1.0) {
        s *= 10.0;
        d += 1;
    }
    d
}

/// An axis: a nice range covering the data and its tick values.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
    decimals: usize,
}

impl Axis {
    fn of(min: f64, max: f64, from_zero: bool, target: usize) -> Axis {
        let (mut a, mut b) = if min.is_finite() && max.is_finite() {
            (min, max)
        } else {
            (0.0, 1.0)
        };
        if from_zero {
            a = a.min(0.0);
            b = b.max(0.0);
        }
        if b <= a {
            let pad = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
            a -= if from_zero && a >= 0.0 { 0.0 } else { pad };
            b += pad;
        }
        let step = nice_step(b - a, target);
        let lo = (a / step).floor() * step;
        let mut hi = (b / step).ceil() * step;
        if hi <= lo {
            hi = lo + step;
        }
        Axis {
            lo,
            hi,
            step,
            decimals: decimals_for(step),
        }
    }

    fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round() as usize;
        (0..=n).map(|i| self.lo + self.step * i as f64).collect()
    }

    fn label(&self, v: f64) -> String {
        let s = format!("{:.*}", self.decimals, v);
        // "-0" and "-0.0" are artefacts of rounding, not data.
        if s.trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            s.trim_start_matches('-').to_string()
        } else {
            s
        }
    }
}

/// Pixel geometry of the plot area.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: Axis,
    y: Axis,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.lo) / (self.x.hi - self.x.lo) * self.width
    }
    fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.lo) / (self.y.hi - self.y.lo) * self.height
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
    fn right(&self) -> f64 {
        self.left + self.width
    }
}

const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 20.0;
const MARGIN_TOP: f64 = 34.0;
const MARGIN_BOTTOM: f64 = 48.0;
const LEGEND_ROW: f64 = 18.0;
/// Space between the x-axis label and the first legend row.
const LEGEND_PAD: f64 = 8.0;

fn legend_label(name: &str) -> String {
    if name.chars().count() > LEGEND_MAX_CHARS {
        let mut s: String = name.chars().take(LEGEND_MAX_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        name.to_string()
    }
}

/// Legend items laid out left to right, wrapping at the plot width: (row, x offset, label).
fn legend_layout(names: &[&str], width: f64) -> Vec<(usize, f64, String)> {
    let mut out = Vec::new();
    let (mut row, mut x) = (0usize, 0.0f64);
    for name in names {
        let label = legend_label(name);
        let w = 22.0 + label.chars().count() as f64 * CHAR_W + 14.0;
        if x > 0.0 && x + w > width {
            row += 1;
            x = 0.0;
        }
        out.push((row, x, label));
        x += w;
    }
    out
}

fn style_of(i: usize) -> (&'static str, &'static str) {
    (
        PALETTE[i % PALETTE.len()],
        DASHES[(i / PALETTE.len()) % DASHES.len()],
    )
}

/// The `<svg>` opening, title, axes, grid and labels, common to every chart kind. Returns the
/// frame for plotting and the y position where the legend starts.
fn open(out: &mut String, spec: &ChartSpec, x: Axis, y: Axis, legend_rows: usize) -> Frame {
    let total_h = if legend_rows > 0 {
        spec.height + legend_rows as f64 * LEGEND_ROW + LEGEND_PAD
    } else {
        spec.height
    };
    let id = html_escape(&spec.id);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{id}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" \
         aria-labelledby=\"{id}-title\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <title id=\"{id}-title\">{title}</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"{tx:.1}\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">{title}</text>\n",
        w = spec.width,
        h = total_h,
        title = html_escape(&spec.title),
        tx = MARGIN_LEFT,
    );
    let f = Frame {
        left: MARGIN_LEFT,
        top: MARGIN_TOP,
        width: spec.width - MARGIN_LEFT - MARGIN_RIGHT,
        height: spec.height - MARGIN_TOP - MARGIN_BOTTOM,
        x,
        y,
    };
    // Shaded bands first, so data is drawn over them.
    for &(a, b) in &spec.bands {
        let (a, b) = (a.max(f.x.lo), b.min(f.x.hi));
        if b > a {
            let _ = writeln!(
                out,
                "<rect class=\"band\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#eef1f6\"/>",
                f.px(a),
                f.top,
                f.px(b) - f.px(a),
                f.height
            );
        }
    }
    // Grid and y ticks.
    out.push_str("<g class=\"y-axis\" fill=\"#444\" text-anchor=\"end\">\n");
    for t in f.y.ticks() {
        let py = f.py(t);
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#e3e3e3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            f.left,
            f.right(),
            f.left - 6.0,
            py + 4.0,
            f.y.label(t)
        );
    }
    out.push_str("</g>\n<g class=\"x-axis\" fill=\"#444\" text-anchor=\"middle\">\n");
    for t in f.x.ticks() {
        let px = f.px(t);
        let _ = writeln!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\">{}</text>",
            f.bottom(),
            f.bottom() + 5.0,
            f.bottom() + 17.0,
            f.x.label(t)
        );
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<path d=\"M{:.1} {:.1}V{:.1}H{:.1}\" fill=\"none\" stroke=\"#888\"/>",
        f.left,
        f.top,
        f.bottom(),
        f.right()
    );
    let _ = writeln!(
        out,
        "<text class=\"x-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
        f.left + f.width / 2.0,
        f.bottom() + 34.0,
        html_escape(&spec.x_label)
    );
    let (lx, ly) = (16.0, f.top + f.height / 2.0);
    let _ = writeln!(
        out,
        "<text class=\"y-label\" x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" fill=\"#222\" \
         transform=\"rotate(-90 {lx:.1} {ly:.1})\">{}</text>",
        html_escape(&spec.y_label)
    );
    f
}

fn legend(out: &mut String, spec: &ChartSpec, names: &[&str], marker_circle: bool) {
    if names.is_empty() {
        return;
    }
    let plot_w = spec.width - MARGIN_LEFT - MARGIN_RIGHT;
    out.push_str("<g class=\"legend\" fill=\"#222\">\n");
    for (i, (row, x, label)) in legend_layout(names, plot_w).into_iter().enumerate() {
        let (color, dash) = style_of(i);
        let x0 = MARGIN_LEFT + x;
        let y0 = spec.height + row as f64 * LEGEND_ROW + LEGEND_PAD + 2.0;
        let _ = write!(out, "<g><title>{}</title>", html_escape(names[i]));
        if marker_circle {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{color}\"/>",
                x0 + 9.0,
                y0 - 4.0
            );
        } else {
            let _ = write!(
                out,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" \
                 stroke-width=\"2.5\"{}/>",
                x0,
                y0 - 4.0,
                x0 + 18.0,
                y0 - 4.0,
                dash_attr(dash)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            x0 + 22.0,
            y0,
            html_escape(&label)
        );
    }
    out.push_str("</g>\n");
}

fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    }
}

fn no_data(out: &mut String, f: &Frame) {
    let _ = writeln!(
        out,
        "<text class=\"no-data\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#888\" font-size=\"13\">no data</text>",
        f.left + f.width / 2.0,
        f.top + f.height / 2.0
    );
}

fn legend_rows(spec: &ChartSpec, names: &[&str]) -> usize {
    if names.is_empty() {
        return 0;
    }
    legend_layout(names, spec.width - MARGIN_LEFT - MARGIN_RIGHT)
        .last()
        .map_or(0, |l| l.0 + 1)
}

fn extent(series: &[Series], spec: &ChartSpec) -> (Axis, Axis) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in series.iter().flat_map(|s| &s.points) {
        if x.is_finite() && y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    for &(a, b) in &spec.bands {
        if a.is_finite() && b.is_finite() && x0.is_finite() {
            x0 = x0.min(a);
            x1 = x1.max(b);
        }
    }
    (
        Axis::of(x0, x1, spec.x_from_zero, 8),
        Axis::of(y0, y1, spec.y_from_zero, 5),
    )
}

/// Thin a series to at most `MAX_POINTS` by a fixed stride, always keeping the last point and
/// every gap marker, so long requests do not bloat the page.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(MAX_POINTS);
    points
        .iter()
        .enumerate()
        .filter(|(i, p)| i % stride == 0 || *i == points.len() - 1 || !p.1.is_finite())
        .map(|(_, p)| *p)
        .collect()
}

/// A line chart with one polyline per series.
pub(crate) fn line_chart(spec: &ChartSpec, series: &[Series]) -> String {
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let (x, y) = extent(series, spec);
    let mut out = String::new();
    let f = open(&mut out, spec, x, y, legend_rows(spec, &names));
    let any = lines(&mut out, &f, series, 0);
    if !any {
        no_data(&mut out, &f);
    }
    legend(&mut out, spec, &names, false);
    out.push_str("</svg>\n");
    out
}

/// The polylines of `series`, styled from the `first_style`-th style on; whether any was drawn.
fn lines(out: &mut String, f: &Frame, series: &[Series], first_style: usize) -> bool {
    let mut any = false;
    out.push_str(
        "<g class=\"data\" fill=\"none\" stroke-width=\"1.6\" stroke-linejoin=\"round\">\n",
    );
    for (i, s) in series.iter().enumerate() {
        let (color, dash) = style_of(first_style + i);
        let mut d = String::new();
        let mut pen_down = false;
        let mut last = String::new();
        for &(px, py) in &thin(&s.points) {
            if !(px.is_finite() && py.is_finite()) {
                pen_down = false;
                continue;
            }
            let xy = format!("{:.1} {:.1}", f.px(px), f.py(py));
            if pen_down && xy == last {
                continue;
            }
            d.push(if pen_down { 'L' } else { 'M' });
            d.push_str(&xy);
            last = xy;
            pen_down = true;
        }
        if d.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(
            out,
            "<path d=\"{d}\" stroke=\"{color}\"{}><title>{}</title></path>",
            dash_attr(dash),
            html_escape(&s.name)
        );
    }
    out.push_str("</g>\n");
    any
}

/// A scatter plot with one colour per series; each point carries its tooltip.
pub(crate) fn scatter(spec: &ChartSpec, series: &[Series]) -> String {
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let (x, y) = extent(series, spec);
    let mut out = String::new();
    let f = open(&mut out, spec, x, y, legend_rows(spec, &names));
    let any = points(&mut out, &f, series);
    if !any {
        no_data(&mut out, &f);
    }
    legend(&mut out, spec, &names, true);
    out.push_str("</svg>\n");
    out
}

/// Points (`points`, one colour per series) over curves (`curves`, styled after them), e.g.
/// measurements and the fit through them, on one pair of axes.
pub(crate) fn scatter_with_lines(
    spec: &ChartSpec,
    points_series: &[Series],
    curves: &[Series],
) -> String {
    let names: Vec<&str> = points_series
        .iter()
        .chain(curves)
        .map(|s| s.name.as_str())
        .collect();
    let all: Vec<Series> = points_series.iter().chain(curves).cloned().collect();
    let (x, y) = extent(&all, spec);
    let mut out = String::new();
    let f = open(&mut out, spec, x, y, legend_rows(spec, &names));
    let drawn_lines = lines(&mut out, &f, curves, points_series.len());
    let drawn_points = points(&mut out, &f, points_series);
    if !(drawn_lines || drawn_points) {
        no_data(&mut out, &f);
    }
    legend(&mut out, spec, &names, true);
    out.push_str("</svg>\n");
    out
}

/// Each series as a line through its points, drawn in one style (a curve of measured points,
/// e.g. latency against throughput over load levels), with one legend entry per series.
pub(crate) fn line_with_points(spec: &ChartSpec, series: &[Series]) -> String {
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    let (x, y) = extent(series, spec);
    let mut out = String::new();
    let f = open(&mut out, spec, x, y, legend_rows(spec, &names));
    let drawn_lines = lines(&mut out, &f, series, 0);
    let drawn_points = points(&mut out, &f, series);
    if !(drawn_lines || drawn_points) {
        no_data(&mut out, &f);
    }
    legend(&mut out, spec, &names, true);
    out.push_str("</svg>\n");
    out
}

/// The circles of `series` with their tooltips; whether any was drawn.
fn points(out: &mut String, f: &Frame, series: &[Series]) -> bool {
    let mut any = false;
    out.push_str("<g class=\"data\" fill-opacity=\"0.85\">\n");
    for (i, s) in series.iter().enumerate() {
        let (color, _) = style_of(i);
        for (j, &(px, py)) in s.points.iter().enumerate() {
            if !(px.is_finite() && py.is_finite()) {
                continue;
            }
            any = true;
            let title = s
                .point_titles
                .get(j)
                .map(|t| format!("<title>{}</title>", html_escape(t)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\"0.8\">{title}</circle>",
                f.px(px),
                f.py(py)
            );
            if let Some(label) = s.point_labels.get(j).filter(|l| !l.is_empty()) {
                // Right of the point, or left of it in the plot's right quarter, so a label at
                // the edge is not cut off.
                let x = f.px(px);
                let (tx, anchor) = if x > f.left + 0.75 * f.width {
                    (x - 6.0, " text-anchor=\"end\"")
                } else {
                    (x + 6.0, "")
                };
                let _ = writeln!(
                    out,
                    "<text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#333\"{anchor}>{}</text>",
                    f.py(py) - 6.0,
                    html_escape(label)
                );
            }
        }
    }
    out.push_str("</g>\n");
    any
}

/// A histogram; the overflow bin (if any) is drawn one gap to the right of the last bin and
/// labelled with its threshold.
pub(crate) fn histogram(spec: &ChartSpec, h: Option<&Histogram>) -> String {
    let mut out = String::new();
    let Some(h) = h else {
        let f = open(
            &mut out,
            spec,
            Axis::of(0.0, 1.0, true, 8),
            Axis::of(0.0, 1.0, true, 5),
            0,
        );
        no_data(&mut out, &f);
        out.push_str("</svg>\n");
        return out;
    };
    let n = h.counts.len();
    let top = h.lo + h.width * n as f64;
    // Room for the overflow bar: a gap of one bin, then a bar two bins wide.
    let x_max = if h.overflow > 0 {
        top + 3.0 * h.width
    } else {
        top
    };
    let y_max = h.counts.iter().copied().max().unwrap_or(0).max(h.overflow) as f64;
    let x = Axis::of(h.lo, x_max, spec.x_from_zero, 8);
    let y = Axis::of(0.0, y_max, true, 5);
    let f = open(&mut out, spec, x, y, 0);
    let d = decimals_for(h.width);
    let bin_label = |v: f64| format!("{v:.d$}");
    out.push_str("<g class=\"data\" fill=\"#4e79a7\">\n");
    for (i, &c) in h.counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let a = h.lo + h.width * i as f64;
        let b = a + h.width;
        let (x0, x1) = (f.px(a), f.px(b));
        let y0 = f.py(c as f64);
        let _ = writeln!(
            out,
            "<rect x=\"{:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}–{}: {c}</title></rect>",
            x0 + 0.5,
            (x1 - x0 - 1.0).max(0.5),
            f.bottom() - y0,
            bin_label(a),
            bin_label(b)
        );
    }
    out.push_str("</g>\n");
    if h.overflow > 0 {
        let a = top + h.width;
        let (x0, x1) = (f.px(a), f.px(a + 2.0 * h.width));
        let y0 = f.py(h.overflow as f64);
        let _ = writeln!(
            out,
            "<g class=\"overflow\"><rect x=\"{:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e15759\">\
             <title>&gt; {}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#e15759\">&gt;{}</text></g>",
            x0 + 0.5,
            (x1 - x0 - 1.0).max(0.5),
            f.bottom() - y0,
            bin_label(top),
            h.overflow,
            (x0 + x1) / 2.0,
            y0 - 4.0,
            bin_label(top)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_and_decimals() {
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 4), 0.25);
        assert_eq!(nice_step(730.0, 8), 100.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
        assert_eq!(decimals_for(0.25), 2);
        assert_eq!(decimals_for(100.0), 0);
        let a = Axis::of(3.2, 47.9, true, 5);
        assert_eq!((a.lo, a.hi, a.step), (0.0, 50.0, 10.0));
        assert_eq!(a.ticks().len(), 6);
        // A constant series still gets a non-empty range.
        let c = Axis::of(5.0, 5.0, false, 5);
        assert!(c.hi > c.lo && c.lo <= 5.0 && c.hi >= 5.0);
        assert_eq!(Axis::of(-0.01, 0.0, false, 5).label(-0.0), "0.000");
    }

    #[test]
    fn histogram_bins_and_overflow() {
        let v = [1.0, 1.5, 2.0, 2.0, 3.0, 100.0];
        let h = Histogram::of(&v, 4, Some(3.0)).unwrap();
        assert_eq!(h.overflow, 1);
        assert_eq!(h.counts.iter().sum::<usize>(), 5);
        assert!(Histogram::of(&[f64::NAN], 4, None).is_none());
        let one = Histogram::of(&[7.0, 7.0], 10, None).unwrap();
        assert_eq!(one.counts.iter().sum::<usize>(), 2);
    }

    #[test]
    fn escapes_text_and_is_deterministic() {
        let mut spec = ChartSpec::new("c<1>", "a & <b>", "x\"", "y'");
        spec.bands = vec![(0.5, 1.5)];
        let s = vec![
            Series::new(
                "</text><script>alert(1)</script>",
                vec![(0.0, 1.0), (1.0, 2.0)],
            ),
            Series::new("two", vec![(0.0, f64::NAN), (2.0, 3.0)]),
        ];
        let a = line_chart(&spec, &s);
        assert_eq!(a, line_chart(&spec, &s));
        assert!(!a.contains("<script"));
        assert!(a.contains("&lt;script&gt;"));
        assert!(a.contains("id=\"c&lt;1&gt;\""));
        assert!(a.contains("class=\"chart\""));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>\n"));
        let sc = scatter(&spec, &s);
        assert!(!sc.contains("<script") && sc.contains("<circle"));
        let h = histogram(
            &spec,
            Histogram::of(&[1.0, 2.0, 50.0], 10, Some(2.0)).as_ref(),
        );
        assert!(h.contains("class=\"overflow\"") && !h.contains("<b>"));
        assert!(histogram(&spec, None).contains("no data"));
        assert!(line_chart(&spec, &[]).contains("no data"));
    }

    #[test]
    fn coordinates_have_fixed_precision() {
        let spec = ChartSpec::new("c", "t", "x", "y");
        let s = [Series::new("s", vec![(0.0, 1.0 / 3.0), (1.0 / 7.0, 2.0)])];
        let out = line_chart(&spec, &s);
        let d = out.split("<path d=\"M").nth(2).unwrap();
        let d = &d[..d.find('"').unwrap()];
        for n in d.split(['L', ' ']) {
            let frac = n.split('.').nth(1).unwrap();
            assert_eq!(frac.len(), 1, "{n} in {d}");
        }
    }

    #[test]
    fn long_series_are_thinned_and_gaps_kept() {
        let mut pts: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64, 1.0)).collect();
        pts[2501].1 = f64::NAN;
        let t = thin(&pts);
        assert!(t.len() <= MAX_POINTS + 2);
        assert!(t.iter().any(|p| p.1.is_nan()));
        assert_eq!(t.last(), pts.last());
    }

    #[test]
    fn legend_wraps() {
        let names = ["aaaaaaaaaaaaaaaaaaaa"; 12];
        let rows = legend_layout(&names, 676.0);
        assert!(rows.last().unwrap().0 >= 2);
        assert!(legend_label(&"x".repeat(60)).ends_with('…'));
    }
}
