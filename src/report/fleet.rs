//! The fleet table (`rkbench report DIR` over any traces, or `--fleet FILES`): one row per group
//! of comparable runs (`stats::fleet`), with each figure's median and interquartile range.
//! Only formatting happens here.
use super::json_writer::JsonWriter;
use super::text::{csv_field, html_escape, md_inline, num};
use crate::stats::fleet::{FleetTable, GroupRow, Spread};
use std::fmt::Write;

/// The figures of a row, in column order: (label, unit, JSON/CSV key, decimals, value). Tokens
/// per joule only in a table where some group measured power (`record --power`), so a table of
/// traces without power reads as before.
type Figure = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    Option<Spread>,
);

fn figures(r: &GroupRow, energy: bool) -> Vec<Figure> {
    let mut v = vec![
        ("Decode", "tok/s", "decode_tok_s", 2, r.decode_tok_s),
        ("TTFT", "ms", "ttft_ms", 1, r.ttft_ms),
        ("Prefill", "tok/s", "prefill_tok_s", 2, r.prefill_tok_s),
        ("E2E", "ms", "e2e_ms", 1, r.e2e_ms),
        ("Output", "tokens", "output_tokens", 1, r.output_tokens),
    ];
    if energy {
        v.push(("Tokens/J", "tok/J", "tokens_per_j", 3, r.tokens_per_j));
    }
    v
}

fn has_energy(t: &FleetTable) -> bool {
    t.rows.iter().any(|r| r.tokens_per_j.is_some())
}

/// A saturation column only in a table where some group ran under load, so a table of
/// sequential runs reads as before.
fn has_load(t: &FleetTable) -> bool {
    t.rows.iter().any(|r| r.saturation.is_some())
}

/// The saturation cell: the point (or `none`) over the group's levels; `—` for a group with
/// no trace under load.
fn saturation_cell(r: &GroupRow) -> String {
    match &r.saturation {
        None => "—".into(),
        Some(s) => format!(
            "{} ({} levels)",
            s.point.as_deref().unwrap_or("none"),
            s.levels
        ),
    }
}

const SATURATION_HEAD: &str = "saturation point";

/// What the table states, in every format.
const METHOD: &str = "One row per group of traces that share board model, SoC, runtime release, model (file and fingerprint) and settings (run parameters and suite). Each figure is taken over the successful measured requests of all the group's traces: median, with the interquartile range (p25–p75, type-7 percentiles) as its spread.";

const SETTINGS_COLUMN: &str = "settings";

fn cell(s: Option<Spread>, d: usize) -> String {
    match s {
        Some(s) => format!(
            "{} ({}–{})",
            num(Some(s.median), d),
            num(Some(s.p25), d),
            num(Some(s.p75), d)
        ),
        None => "-".into(),
    }
}

fn key_cells(r: &GroupRow) -> [&str; 5] {
    [
        &r.key.board,
        &r.key.soc,
        &r.key.runtime,
        &r.key.model,
        &r.key.settings,
    ]
}

const KEY_HEADS: [&str; 5] = ["board", "SoC", "runtime", "model", SETTINGS_COLUMN];

pub fn markdown(t: &FleetTable) -> String {
    let energy = has_energy(t);
    let mut o = String::new();
    let _ = writeln!(o, "# rkbench fleet\n");
    let _ = writeln!(
        o,
        "{} traces in {} groups. {METHOD}\n",
        t.traces,
        t.rows.len()
    );
    if !t.duplicates.is_empty() {
        let line = duplicates_line(t, |f| format!("`{}`", md_inline(f)));
        let _ = writeln!(o, "{line}\n");
    }
    let mut head: Vec<String> = KEY_HEADS.iter().map(|h| h.to_string()).collect();
    head.extend(["traces", "ok/requests"].map(String::from));
    if let Some(r) = t.rows.first() {
        head.extend(
            figures(r, energy)
                .iter()
                .map(|(l, u, ..)| format!("{l} {u} median (IQR)")),
        );
    }
    let load = has_load(t);
    if load {
        head.push(SATURATION_HEAD.into());
    }
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(head.len()));
    for r in &t.rows {
        let mut cells: Vec<String> = key_cells(r).iter().map(|c| md_inline(c)).collect();
        cells.push(if r.damaged > 0 {
            format!("{} ({} damaged)", r.traces, r.damaged)
        } else {
            r.traces.to_string()
        });
        cells.push(format!("{}/{}", r.ok, r.requests));
        cells.extend(figures(r, energy).iter().map(|&(_, _, _, d, s)| cell(s, d)));
        if load {
            cells.push(md_inline(&saturation_cell(r)));
        }
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    if !t.unreadable.is_empty() {
        let _ = writeln!(o, "\n## Not read\n");
        for (f, why) in &t.unreadable {
            let _ = writeln!(o, "- `{}`: {}", md_inline(f), md_inline(why));
        }
    }
    o
}

/// The copies of runs counted once, in one sentence (every format says the same), with each
/// file name as `name` renders it.
fn duplicates_line(t: &FleetTable, name: impl Fn(&str) -> String) -> String {
    let list: Vec<String> = t
        .duplicates
        .iter()
        .map(|(f, kept)| format!("{} (same run as {})", name(f), name(kept)))
        .collect();
    format!(
        "{} duplicate file(s) of one run counted once: {}.",
        t.duplicates.len(),
        list.join(", ")
    )
}

fn json_spread(w: &mut JsonWriter, key: &str, s: Option<Spread>) {
    w.key(key);
    match s {
        None => {
            w.null();
        }
        Some(s) => {
            w.begin_object();
            w.field_int("n", s.n);
            w.field_num("median", Some(s.median), 3);
            w.field_num("p25", Some(s.p25), 3);
            w.field_num("p75", Some(s.p75), 3);
            w.field_num("min", Some(s.min), 3);
            w.field_num("max", Some(s.max), 3);
            w.end_object();
        }
    }
}

pub fn json(t: &FleetTable) -> String {
    let energy = has_energy(t);
    let mut w = JsonWriter::new();
    w.begin_object();
    w.field_int("schema_version", super::json::SCHEMA_VERSION);
    w.field_str("method", METHOD);
    w.field_int("traces", t.traces);
    w.key("groups").begin_array();
    for r in &t.rows {
        w.begin_object();
        for (h, v) in ["board", "soc", "runtime", "model", "settings"]
            .iter()
            .zip(key_cells(r))
        {
            w.field_str(h, v);
        }
        w.field_int("traces", r.traces);
        w.field_int("damaged_traces", r.damaged);
        w.field_int("requests", r.requests);
        w.field_int("ok", r.ok);
        w.key("hosts").begin_array();
        for h in &r.hosts {
            w.str(h);
        }
        w.end_array();
        for (_, _, key, _, s) in figures(r, energy) {
            json_spread(&mut w, key, s);
        }
        w.key("saturation");
        match &r.saturation {
            None => {
                w.null();
            }
            Some(s) => {
                w.begin_object();
                w.field_int("levels", s.levels);
                w.field_opt_str("point", s.point.as_deref());
                w.field_str("rule", &s.rule);
                w.end_object();
            }
        }
        w.end_object();
    }
    w.end_array();
    w.key("unreadable").begin_array();
    for (f, why) in &t.unreadable {
        w.begin_object();
        w.field_str("file", f);
        w.field_str("error", why);
        w.end_object();
    }
    w.end_array();
    w.key("duplicates").begin_array();
    for (f, kept) in &t.duplicates {
        w.begin_object();
        w.field_str("file", f);
        w.field_str("same_run_as", kept);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.finish()
}

/// Columns of the fleet CSV (one row per group).
pub fn csv_columns(energy: bool, load: bool) -> Vec<String> {
    let mut c: Vec<String> = [
        "board",
        "soc",
        "runtime",
        "model",
        "settings",
        "traces",
        "damaged_traces",
        "requests",
        "ok",
        "hosts",
    ]
    .map(String::from)
    .to_vec();
    for key in [
        "decode_tok_s",
        "ttft_ms",
        "prefill_tok_s",
        "e2e_ms",
        "output_tokens",
        "tokens_per_j",
    ]
    .into_iter()
    .filter(|k| energy || *k != "tokens_per_j")
    {
        for stat in ["n", "median", "p25", "p75", "min", "max"] {
            c.push(format!("{key}_{stat}"));
        }
    }
    if load {
        c.push("saturation_point".into());
    }
    c
}

/// RFC 4180 like the request CSV: CRLF, empty field for a missing value, 3 decimals.
pub fn csv(t: &FleetTable) -> String {
    let energy = has_energy(t);
    let load = has_load(t);
    let mut o = csv_columns(energy, load).join(",");
    o.push_str("\r\n");
    for r in &t.rows {
        let mut f: Vec<String> = key_cells(r).iter().map(|c| csv_field(c)).collect();
        f.extend([
            r.traces.to_string(),
            r.damaged.to_string(),
            r.requests.to_string(),
            r.ok.to_string(),
            csv_field(&r.hosts.join(" ")),
        ]);
        for (.., s) in figures(r, energy) {
            match s {
                Some(s) => {
                    f.push(s.n.to_string());
                    for v in [s.median, s.p25, s.p75, s.min, s.max] {
                        f.push(crate::analysis::fixed(Some(v), 3).unwrap_or_default());
                    }
                }
                None => f.extend((0..6).map(|_| String::new())),
            }
        }
        if load {
            // Empty for a group without load (pandas reads NaN); `none` when the lowest level
            // did not hold.
            f.push(match &r.saturation {
                None => String::new(),
                Some(s) => csv_field(s.point.as_deref().unwrap_or("none")),
            });
        }
        o.push_str(&f.join(","));
        o.push_str("\r\n");
    }
    o
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1d1d1f;margin:0;background:#fafafa}\
main{margin:0 auto;padding:16px 24px 48px;background:#fff;max-width:1400px}\
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.meta{color:#555}.set{font-size:12px;color:#444;max-width:320px}";

pub fn html(t: &FleetTable) -> String {
    let energy = has_energy(t);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"generator\" content=\"rkbench report\">\n\
         <title>rkbench fleet</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <h1>rkbench fleet</h1>\n<p class=\"meta\">{} traces in {} groups. {}</p>\n{}<table>\n<tr>",
        t.traces,
        t.rows.len(),
        html_escape(METHOD),
        if t.duplicates.is_empty() {
            String::new()
        } else {
            let line = duplicates_line(t, |f| format!("<code>{}</code>", html_escape(f)));
            format!("<p class=\"meta\">{line}</p>\n")
        }
    );
    for h in KEY_HEADS.iter().chain(&["traces", "ok/requests"]) {
        let _ = write!(o, "<th>{}</th>", html_escape(h));
    }
    if let Some(r) = t.rows.first() {
        for (l, u, ..) in figures(r, energy) {
            let _ = write!(o, "<th>{l} {u}<br>median (IQR)</th>");
        }
    }
    let load = has_load(t);
    if load {
        let _ = write!(o, "<th>{SATURATION_HEAD}</th>");
    }
    o.push_str("</tr>\n");
    for r in &t.rows {
        o.push_str("<tr>");
        for (h, c) in KEY_HEADS.iter().zip(key_cells(r)) {
            let class = if *h == SETTINGS_COLUMN {
                " class=\"set\""
            } else {
                ""
            };
            let _ = write!(o, "<td{class}>{}</td>", html_escape(c));
        }
        let _ = write!(
            o,
            "<td class=\"num\">{}{}</td><td class=\"num\">{}/{}</td>",
            r.traces,
            if r.damaged > 0 {
                format!(" ({} damaged)", r.damaged)
            } else {
                String::new()
            },
            r.ok,
            r.requests
        );
        for (.., d, s) in figures(r, energy) {
            let _ = write!(o, "<td class=\"num\">{}</td>", html_escape(&cell(s, d)));
        }
        if load {
            let _ = write!(o, "<td>{}</td>", html_escape(&saturation_cell(r)));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    if !t.unreadable.is_empty() {
        o.push_str("<h2>Not read</h2>\n<ul>\n");
        for (f, why) in &t.unreadable {
            let _ = writeln!(
                o,
                "<li><code>{}</code>: {}</li>",
                html_escape(f),
                html_escape(why)
            );
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::fleet::GroupKey;

    fn table() -> FleetTable {
        let s = Spread::of(vec![1.0, 2.0, 3.0]);
        FleetTable {
            rows: vec![GroupRow {
                key: GroupKey {
                    board: "Radxa ROCK 5B | <b>".into(),
                    soc: "RK3588".into(),
                    runtime: "1.2.1".into(),
                    model: "m.rkllm 0123".into(),
                    settings: "ctx 4096, top-k 1".into(),
                },
                traces: 2,
                damaged: 1,
                requests: 3,
                ok: 3,
                hosts: vec!["a".into(), "b".into()],
                decode_tok_s: s,
                ttft_ms: s,
                prefill_tok_s: None,
                e2e_ms: s,
                output_tokens: s,
                tokens_per_j: None,
                saturation: None,
            }],
            traces: 2,
            unreadable: vec![("x.rktrace".into(), "not a trace".into())],
            duplicates: vec![("b|c.rktrace".into(), "a.rktrace".into())],
        }
    }

    #[test]
    fn every_format_names_the_group_and_escapes_it() {
        let t = table();
        let md = markdown(&t);
        assert!(
            md.contains("| Radxa ROCK 5B \\| &lt;b&gt; | RK3588 | 1.2.1 |"),
            "{md}"
        );
        assert!(
            md.contains("| 2 (1 damaged) | 3/3 | 2.00 (1.50–2.50) |"),
            "{md}"
        );
        let j: serde_json::Value = serde_json::from_str(&json(&t)).unwrap();
        assert_eq!(j["groups"][0]["board"], "Radxa ROCK 5B | <b>");
        assert_eq!(j["groups"][0]["decode_tok_s"]["median"], 2.0);
        assert!(j["groups"][0]["prefill_tok_s"].is_null());
        let c = csv(&t);
        let lines: Vec<&str> = c.split("\r\n").collect();
        assert_eq!(lines.len(), 3); // header, one group, final empty
        assert_eq!(
            lines[0].split(',').count() + 1, // the settings field holds a comma (quoted)
            lines[1].split(',').count(),
        );
        assert!(lines[1].starts_with("Radxa ROCK 5B | <b>,RK3588,1.2.1,m.rkllm 0123,\"ctx 4096, top-k 1\",2,1,3,3,a b,3,2.000,1.500,2.500,1.000,3.000"), "{}", lines[1]);
        let h = html(&t);
        assert!(h.contains("<td>Radxa ROCK 5B | &lt;b&gt;</td>") && !h.contains("<b>"));
        // Copies of one run: said once in every format, escaped.
        assert!(
            md.contains("1 duplicate file(s) of one run counted once: `b\\|c.rktrace` (same run as `a.rktrace`)."),
            "{md}"
        );
        assert_eq!(j["duplicates"][0]["same_run_as"], "a.rktrace");
        assert!(h.contains("1 duplicate file(s) of one run counted once: <code>b|c.rktrace</code> (same run as <code>a.rktrace</code>)."));
        assert!(!md.contains("Tokens/J") && !c.contains("tokens_per_j"));
    }

    #[test]
    fn the_saturation_column_appears_only_where_a_group_ran_under_load() {
        let mut t = table();
        assert!(!markdown(&t).contains("saturation"));
        assert!(!csv(&t).contains("saturation"));
        let plain = t.rows[0].clone();
        t.rows[0].saturation = Some(crate::stats::fleet::GroupSaturation {
            levels: 3,
            point: None,
            rule: "concurrency=1 did not hold: p99 TTFT 9 ms > SLO 1 ms".into(),
        });
        t.rows.push(plain);
        let md = markdown(&t);
        assert!(md.contains("| saturation point |"), "{md}");
        assert!(md.contains("| none (3 levels) |"), "{md}");
        assert!(md.contains("| —"), "{md}");
        let j: serde_json::Value = serde_json::from_str(&json(&t)).unwrap();
        assert!(j["groups"][0]["saturation"]["point"].is_null());
        assert_eq!(j["groups"][0]["saturation"]["levels"], 3);
        assert!(j["groups"][1]["saturation"].is_null());
        let c = csv(&t);
        let lines: Vec<&str> = c.split("\r\n").collect();
        assert!(lines[0].ends_with(",saturation_point"), "{}", lines[0]);
        assert!(
            lines[1].ends_with(",none") && lines[2].ends_with(','),
            "{c}"
        );
        assert!(html(&t).contains("<td>none (3 levels)</td>"));
    }

    #[test]
    fn tokens_per_joule_appears_only_where_power_was_measured() {
        let mut t = table();
        let plain = t.rows[0].clone();
        t.rows[0].tokens_per_j = Spread::of(vec![4.0, 5.0, 6.0]);
        t.rows.push(plain);
        let md = markdown(&t);
        assert!(md.contains("Tokens/J"), "{md}");
        assert!(md.contains("5.000 (4.500–5.500)"), "{md}");
        let j: serde_json::Value = serde_json::from_str(&json(&t)).unwrap();
        assert_eq!(j["groups"][0]["tokens_per_j"]["median"], 5.0);
        assert!(j["groups"][1]["tokens_per_j"].is_null());
        let c = csv(&t);
        let lines: Vec<&str> = c.split("\r\n").collect();
        assert!(lines[0].ends_with(",tokens_per_j_max"), "{}", lines[0]);
        assert_eq!(lines[1].split(',').count(), lines[2].split(',').count());
        assert!(html(&t).contains("Tokens/J"));
    }
}
