//! Every committed trace, rendered in all four formats, states the same facts: verdict and its
//! reasons, warnings, observations, run parameters, the summary figures and each request's
//! details. The JSON report is
//! the reference; the other formats must show each of its facts (escaped for their markup).
mod common;
use common::*;
use rkbench::report::text::{html_escape, md_inline};
use rkbench::report::{render, Format};
use serde_json::Value;

fn traces() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("traces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rktrace"))
        .collect();
    v.sort();
    v
}

/// The lines of one Markdown section (`## … title` up to the next `## `).
fn md_section<'a>(md: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = md
        .lines()
        .skip_while(|l| !(l.starts_with("## ") && l.ends_with(title)));
    assert!(lines.next().is_some(), "no section {title}");
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = csv.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn every_format_states_the_same_facts() {
    let traces = traces();
    assert!(traces.len() >= 3);
    for path in traces {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let trace = rkbench::trace::reader::read(&path).unwrap();
        let j: Value = serde_json::from_str(&render(&trace, Format::Json)).unwrap();
        let md = render(&trace, Format::Markdown);
        let html = render(&trace, Format::Html);
        let csv = render(&trace, Format::Csv);

        // Verdict and every reason.
        let valid = j["verdict"]["result"] == "VALID";
        assert_eq!(md.contains("**Verdict: ✅ VALID**"), valid, "{name}");
        assert_eq!(md.contains("**Verdict: ❌ INVALID**"), !valid, "{name}");
        assert_eq!(
            html.contains("<span class=\"ok\">VALID</span>"),
            valid,
            "{name}"
        );
        for r in j["verdict"]["reasons"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            assert!(
                md.contains(&format!("\n- {}\n", md_inline(r))),
                "{name}: md lacks reason {r}"
            );
            assert!(
                html.contains(&format!("<li>{}</li>", html_escape(r))),
                "{name}: html lacks reason {r}"
            );
        }

        // Warnings: code, message and fix.
        let warnings = j["warnings"].as_array().unwrap();
        for w in warnings {
            let (code, msg, fix) = (
                w["code"].as_str().unwrap(),
                w["message"].as_str().unwrap(),
                w["fix"].as_str().unwrap(),
            );
            assert!(
                md.contains(&format!("**{code}**: {}", md_inline(msg))),
                "{name}: md {code}"
            );
            assert!(md.contains(&md_inline(fix)), "{name}: md fix {code}");
            assert!(
                html.contains(&format!("<strong>{code}</strong>")),
                "{name}: html {code}"
            );
            assert!(
                html.contains(&html_escape(msg)) && html.contains(&html_escape(fix)),
                "{name}: html {code}"
            );
        }
        assert_eq!(
            md.contains("## ⚠️ Warnings"),
            !warnings.is_empty(),
            "{name}"
        );

        // Observations: the same statements, in the same order.
        let obs: Vec<&str> = j["observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["text"].as_str().unwrap())
            .collect();
        assert!(!obs.is_empty(), "{name}");
        let md_obs: Vec<&str> = md_section(&md, "More observations (rkbench)")
            .into_iter()
            .filter_map(|l| l.strip_prefix("- "))
            .collect();
        assert_eq!(md_obs, obs, "{name}: md observations");
        let html_obs = html
            .split("<section id=\"observations\">")
            .nth(1)
            .unwrap()
            .split("</section>")
            .next()
            .unwrap();
        for o in &obs {
            assert!(
                html_obs.contains(&format!("<li>{}</li>", html_escape(o))),
                "{name}: html {o}"
            );
        }

        // The original report's observations and conclusion (computed in the analysis).
        let o = &j["original"];
        for key in [
            "performance_analysis",
            "quality_assessment",
            "long_form_generation",
            "conclusion",
        ] {
            for line in o[key]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: original.{key}"))
            {
                let line = line["text"].as_str().unwrap();
                assert!(
                    md.contains(&md_inline(line)),
                    "{name}: md lacks original.{key}: {line}"
                );
                assert!(
                    html.contains(&html_escape(line)),
                    "{name}: html lacks original.{key}: {line}"
                );
            }
        }

        // Every run parameter, in both tables.
        for p in j["parameters"].as_array().unwrap() {
            let (n, unit) = (p["name"].as_str().unwrap(), p["unit"].as_str().unwrap());
            let v = match &p["value"] {
                Value::String(s) => s.clone(),
                Value::Number(x) if p["name"] == "top_p" || x.is_f64() => {
                    format!("{:.3}", x.as_f64().unwrap())
                }
                v => v.to_string(),
            };
            let shown = if unit.is_empty() || p["section"].as_str().unwrap().starts_with("board") {
                v
            } else {
                format!("{v} {unit}")
            };
            let in_md = md.contains(&format!("| {} | {}", md_inline(n), md_inline(&shown)))
                || md.contains(&format!("| {} | `{shown}`", md_inline(n)));
            assert!(in_md, "{name}: md parameter {n} = {shown}");
            assert!(
                html.contains(&html_escape(&shown)),
                "{name}: html parameter {n} = {shown}"
            );
        }

        // What the peer rows of a server run are computed over.
        match j["peer_metrics_note"].as_str() {
            Some(n) => {
                assert!(md.contains(&md_inline(n)), "{name}: md peers note");
                assert!(html.contains(&html_escape(n)), "{name}: html peers note");
            }
            None => assert!(j["peer_metrics_note"].is_null(), "{name}"),
        }

        // Summary figures.
        let s = &j["summary"];
        let requests = format!(
            "{} ({} ok, {} partial, {} failed",
            s["requests"], s["ok"], s["partial"], s["failed"]
        );
        assert!(md.contains(&format!("| Requests | {requests}")), "{name}");
        assert!(
            html.contains(&format!("<tr><th>Requests</th><td>{requests}")),
            "{name}"
        );
        // The JSON states them to 3 decimals, md and html to 2 and 1: equal up to that rounding.
        let decode = s["decode_tok_s"]["mean"].as_f64();
        let decode2 = fixed(&s["decode_tok_s"]["mean"], 2);
        let label = "Decode rate, mean of successful requests";
        assert!(
            figure_after(&md, &format!("| {label} | "), " tok/s |", &decode2),
            "{name}: md {label} {decode2}"
        );
        assert!(
            figure_after(
                &html,
                &format!("<tr><th>{label}</th><td>"),
                " tok/s</td></tr>",
                &decode2
            ),
            "{name}: html {label} {decode2}"
        );
        let ttft = fixed(&s["ttft_ms"]["median"], 1);
        assert!(
            figure_after(&md, "| TTFT, median | ", " ms |", &ttft),
            "{name}: md TTFT {ttft}"
        );
        assert!(
            figure_after(&html, "<tr><th>TTFT, median</th><td>", " ms</td>", &ttft),
            "{name}: html TTFT {ttft}"
        );

        // Every aggregate over the successful requests: the same row in md and html.
        for (key, label, d) in [
            ("ttft_ms", "TTFT (ms)", 1),
            ("prefill_tok_s", "Prefill rate (tok/s)", 2),
            ("decode_tok_s", "Decode rate (tok/s)", 2),
            (
                "generation_speed_tok_s",
                "Wall-clock generation speed N / (E2E − TTFT) (tok/s)",
                2,
            ),
            ("e2e_ms", "E2E latency (ms)", 1),
            ("output_tokens_per_request", "Output tokens per request", 1),
            (
                "runtime_prefill_tok_s",
                "Runtime-reported prefill (tok/s)",
                2,
            ),
            ("runtime_decode_tok_s", "Runtime-reported decode (tok/s)", 2),
            (
                "itl_ms_pooled",
                "ITL, pooled over all measured tokens (ms)",
                1,
            ),
        ] {
            let g = &s[key];
            let cells: Vec<String> = if g.is_null() {
                std::iter::once("0".to_string())
                    .chain((0..7).map(|_| "-".to_string()))
                    .collect()
            } else {
                std::iter::once(g["n"].to_string())
                    .chain(
                        ["mean", "median", "min", "max", "stddev", "p90", "p99"]
                            .iter()
                            .map(|k| fixed(&g[k], d)),
                    )
                    .collect()
            };
            let md_row = md
                .lines()
                .find(|l| l.starts_with(&format!("| {label} | ")))
                .unwrap_or_else(|| panic!("{name}: md lacks {label}"));
            let expected = format!("| {label} | {} |", cells.join(" | "));
            assert!(
                same_lines(&[md_row], std::slice::from_ref(&expected)),
                "{name}: md {md_row}\nexpected {expected}"
            );
            let html_row = html
                .lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "<tr><th>{}</th><td class=\"num\">",
                        html_escape(label)
                    ))
                })
                .unwrap_or_else(|| panic!("{name}: html lacks {label}"));
            let expected = format!(
                "<tr><th>{}</th>{}</tr>",
                html_escape(label),
                cells
                    .iter()
                    .map(|c| format!("<td class=\"num\">{c}</td>"))
                    .collect::<String>()
            );
            assert!(
                same_lines(&[html_row], std::slice::from_ref(&expected)),
                "{name}: html {html_row}\nexpected {expected}"
            );
        }

        // Rockchip's published figures: the same row, figures, reasons and warning.
        let r = &j["reference"];
        let has_reference = !r.is_null();
        assert_eq!(
            md.contains("## 🎯 Rockchip's published figures"),
            has_reference,
            "{name}"
        );
        assert_eq!(
            html.contains("<section id=\"reference\">"),
            has_reference,
            "{name}"
        );
        if has_reference {
            let f2 = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.2}"));
            for (label, key) in [
                ("TTFT (ms)", "ttft_ms"),
                ("Decode (tok/s)", "decode_tok_s"),
                ("Memory (MB)", "memory_mb"),
            ] {
                let (p, m) = (f2(&r["published"][key]), f2(&r["measured"][key]));
                assert!(
                    md.contains(&format!("| {label} | {p} | {m} | ")),
                    "{name}: md {label}"
                );
                assert!(
                    html.contains(&format!(
                        "<th>{}</th><td class=\"num\">{p}</td><td class=\"num\">{m}</td>",
                        html_escape(label)
                    )),
                    "{name}: html {label}"
                );
            }
            for why in r["approximate_because"].as_array().unwrap() {
                let why = why.as_str().unwrap();
                assert!(
                    md.contains(&format!("- {}\n", md_inline(why))),
                    "{name}: {why}"
                );
                assert!(
                    html.contains(&format!("<li>{}</li>", html_escape(why))),
                    "{name}"
                );
            }
            if let Some(w) = r["decode_warning"].as_str() {
                assert!(md.contains(&md_inline(w)), "{name}: md warning");
                assert!(html.contains(&html_escape(w)), "{name}: html warning");
            }
        }

        // Prefill scaling: the same fit and the same per-length rows.
        let p = &j["prefill_scaling"];
        assert_eq!(md.contains("## 📈 Prefill scaling"), !p.is_null(), "{name}");
        assert_eq!(
            html.contains("<section id=\"prefill-scaling\">"),
            !p.is_null(),
            "{name}"
        );
        if !p.is_null() {
            let per_token = format!("{:.4} ms/token", p["ms_per_token"].as_f64().unwrap());
            assert!(md.contains(&per_token), "{name}: md {per_token}");
            assert!(html.contains(&per_token), "{name}: html {per_token}");
            for l in p["by_length"].as_array().unwrap() {
                let n = l["input_tokens"].as_u64().unwrap();
                let ttft = format!("{:.2}", l["ttft_ms_median"].as_f64().unwrap());
                assert!(
                    md.contains(&format!("| {n} | {} | {ttft} |", l["requests"])),
                    "{name}: md length {n}"
                );
                assert!(
                    html.contains(&format!(
                        "<td class=\"num\">{n}</td><td class=\"num\">{}</td><td class=\"num\">{ttft}</td>",
                        l["requests"]
                    )),
                    "{name}: html length {n}"
                );
            }
        }

        // CSV: one row per request, and the same totals and means.
        let rows = csv_rows(&csv);
        let col = |c: &str| rows[0].iter().position(|h| h == c).unwrap();
        let reqs = j["requests"].as_array().unwrap();
        assert_eq!(rows.len() - 1, reqs.len(), "{name}");
        // What each request was fed: the CSV's exact token count is the JSON's.
        for (row, r) in rows[1..].iter().zip(reqs) {
            let json_exact = r["input"]["exact_tokens"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_default();
            assert_eq!(row[col("input_exact_tokens")], json_exact, "{name}");
            // Its place in the load: the same stream and times in both.
            assert_eq!(row[col("stream")], r["stream"].to_string(), "{name}");
            for k in ["scheduled_ms", "sent_ms"] {
                let v: f64 = row[col(k)].parse().unwrap();
                assert!((v - r[k].as_f64().unwrap()).abs() < 1e-9, "{name}: {k}");
            }
        }
        // The level: one, stated alike in the Markdown and HTML (a sequential trace in one
        // sentence with its in-flight figures).
        let level = &j["load"]["levels"][0];
        assert_eq!(j["load"]["levels"].as_array().unwrap().len(), 1, "{name}");
        let in_flight = format!(
            "in flight: mean {:.2}, max {}",
            level["in_flight_mean"].as_f64().unwrap(),
            level["in_flight_max"]
        );
        if level["mode"] == "sequential" {
            assert!(md.contains(&in_flight), "{name}: md {in_flight}");
            assert!(html.contains(&in_flight), "{name}: html {in_flight}");
        }
        let measured: Vec<&Vec<String>> = rows[1..]
            .iter()
            .filter(|r| r[col("warmup")] == "false")
            .collect();
        assert_eq!(
            measured.len() as u64,
            s["requests"].as_u64().unwrap(),
            "{name}"
        );
        let ok: Vec<&&Vec<String>> = measured
            .iter()
            .filter(|r| r[col("status")] == "ok")
            .collect();
        assert_eq!(ok.len() as u64, s["ok"].as_u64().unwrap(), "{name}");
        let out: u64 = measured
            .iter()
            .map(|r| r[col("output_tokens")].parse::<u64>().unwrap())
            .sum();
        assert_eq!(out, s["output_tokens"].as_u64().unwrap(), "{name}");
        let d: Vec<f64> = ok
            .iter()
            .filter_map(|r| r[col("decode_tok_s")].parse::<f64>().ok())
            .collect();
        if let Some(mean) = decode {
            let csv_mean = d.iter().sum::<f64>() / d.len() as f64;
            // CSV rounds each request to 3 decimals.
            assert!(
                (csv_mean - mean).abs() < 1e-3,
                "{name}: csv {csv_mean} vs json {mean}"
            );
        }
        for (r, jr) in rows[1..].iter().zip(reqs) {
            assert_eq!(r[col("id")], jr["id"].as_str().unwrap(), "{name}");
            assert_eq!(r[col("status")], jr["status"].as_str().unwrap(), "{name}");
        }
    }
}

/// Splits text into runs of digits-and-dots and the rest.
fn tokens(s: &str) -> Vec<&str> {
    let mut v = Vec::new();
    let mut start = 0;
    let is_num = |c: char| c.is_ascii_digit() || c == '.';
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    for w in chars.windows(2) {
        if is_num(w[0].1) != is_num(w[1].1) {
            v.push(&s[start..w[1].0]);
            start = w[1].0;
        }
    }
    v.push(&s[start..]);
    v
}

/// Lines equal but for the last digit of a number: the JSON states figures to 3 decimals, and
/// rounding those again to 1 or 2 may differ by one unit from rounding the exact value.
fn same_lines(shown: &[&str], expected: &[String]) -> bool {
    shown.len() == expected.len()
        && shown.iter().zip(expected).all(|(a, b)| {
            let (ta, tb) = (tokens(a), tokens(b));
            ta.len() == tb.len()
                && ta.iter().zip(&tb).all(|(x, y)| {
                    x == y
                        || match (x.parse::<f64>(), y.parse::<f64>()) {
                            (Ok(p), Ok(q)) => {
                                let d = x.split_once('.').map_or(0, |(_, f)| f.len());
                                d > 0
                                    && y.split_once('.').map_or(0, |(_, f)| f.len()) == d
                                    && (p - q).abs() <= 1.000_001 * 10f64.powi(-(d as i32))
                            }
                            _ => false,
                        }
                })
        })
}

/// The figure between `before` and `after` in `text` is `want` (a JSON figure rounded again, so
/// equal up to one unit of its last decimal: see [`same_lines`]).
fn figure_after(text: &str, before: &str, after: &str, want: &str) -> bool {
    text.match_indices(before).any(|(i, _)| {
        let rest = &text[i + before.len()..];
        rest.find(after)
            .is_some_and(|end| same_lines(&[&rest[..end]], &[want.to_string()]))
    })
}

/// A JSON number in the reports' fixed precision, `-` for null.
fn fixed(v: &Value, decimals: usize) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.decimals$}"))
}

/// A detail line: labelled values and the flag that qualifies them.
type DetailLine = (Vec<(&'static str, String)>, Option<&'static str>);

/// The detail lines a request's JSON object implies, in order: labelled values and the flag
/// that qualifies them, rebuilt here from the JSON fields (not from the renderers' model).
fn expected_details(r: &Value) -> Vec<DetailLine> {
    let one = |label, value: String| (vec![(label, value)], None);
    let flag = |on: &Value, text| (*on == true).then_some(text);
    let mut v = Vec::new();
    let detail = r["detail"].as_str().unwrap();
    if !detail.is_empty() {
        v.push(one("Detail", detail.to_string()));
    }
    if let Some(n) = r["input"]["exact_tokens"].as_u64() {
        v.push(one(
            "Input",
            format!("{n} tokens (exact): token ids fed as RKLLM_INPUT_TOKEN, no tokenizer or chat template"),
        ));
    }
    let rate = |k: &str| format!("{} tok/s", fixed(&r[k], 2));
    let ms = |k: &str| format!("{} ms", fixed(&r[k], 1));
    v.push((
        vec![
            ("Decode rate", rate("decode_tok_s")),
            (
                "Wall-clock generation speed",
                rate("generation_speed_tok_s"),
            ),
        ],
        None,
    ));
    v.push((
        vec![
            ("TTFT", ms("ttft_ms")),
            ("E2E", ms("e2e_ms")),
            ("Prefill rate", rate("prefill_tok_s")),
        ],
        None,
    ));
    let input = r["input_tokens"]
        .as_i64()
        .map_or("-".into(), |n| n.to_string());
    let cap = if r["hit_cap"] == true {
        " (hit the output cap)"
    } else {
        ""
    };
    v.push(one(
        "Tokens",
        format!("{input} in / {} out{cap}", r["output_tokens"]),
    ));
    let i = &r["itl_ms"];
    if !i.is_null() {
        let f = |k: &str| fixed(&i[k], 1);
        v.push(one(
            "ITL",
            format!(
                "p50 {} · p90 {} · p99 {} · max {} ms · {} stalls",
                f("p50"),
                f("p90"),
                f("p99"),
                f("max"),
                r["stalls"]
            ),
        ));
    }
    let p = &r["runtime_perf"];
    if !p.is_null() {
        v.push((
            vec![(
                "Runtime perf",
                format!(
                    "prefill {} ms for {} tokens, generate {} ms for {} tokens ({} tok/s), memory {} MB",
                    fixed(&p["prefill_time_ms"], 1),
                    p["prefill_tokens"],
                    fixed(&p["generate_time_ms"], 1),
                    p["generate_tokens"],
                    fixed(&p["decode_tok_s"], 2),
                    fixed(&p["memory_usage_mb"], 1)
                ),
            )],
            flag(&r["token_count_mismatch"], "token count differs from callbacks"),
        ));
    }
    let t = &r["think"];
    if !t.is_null() {
        v.push((
            vec![(
                "Thinking",
                format!(
                    "{} think tokens, {} answer tokens, first answer token at {} ms",
                    t["think_tokens"],
                    t["answer_tokens"],
                    fixed(&t["time_to_answer_ms"], 1)
                ),
            )],
            flag(&t["unterminated"], "never left the think block"),
        ));
    }
    v
}

/// Detail lines in one format's markup: each labelled value, joined by " · ", then the flag,
/// between the line's opening and closing markup.
fn marked_up(
    lines: &[DetailLine],
    item: impl Fn(&str, &str) -> String,
    flag: impl Fn(&str) -> String,
    (open, close): (&str, &str),
) -> Vec<String> {
    lines
        .iter()
        .map(|(items, f)| {
            let items: Vec<String> = items.iter().map(|(k, v)| item(k, v)).collect();
            let f = f.map(&flag).unwrap_or_default();
            format!("{open}{}{f}{close}", items.join(" · "))
        })
        .collect()
}

#[test]
fn every_format_states_the_same_request_details() {
    for path in traces() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let trace = rkbench::trace::reader::read(&path).unwrap();
        let j: Value = serde_json::from_str(&render(&trace, Format::Json)).unwrap();
        let md = render(&trace, Format::Markdown);
        let html = render(&trace, Format::Html);
        let details = md
            .split_once("## 📝 Detailed Test Results")
            .unwrap_or_else(|| panic!("{name}: no md details"))
            .1;
        let mut md_rest = details;
        for r in j["requests"].as_array().unwrap() {
            let (id, index) = (r["id"].as_str().unwrap(), &r["index"]);
            let expected = expected_details(r);

            // Markdown: the list between "rkbench (…):" and the prompt, in the same order.
            let at = md_rest
                .find("\nrkbench (")
                .unwrap_or_else(|| panic!("{name}: md lacks request {id}"));
            let block = &md_rest[at..];
            let block = &block[..block.find("\n**Prompt:**\n").unwrap()];
            md_rest = &md_rest[at + block.len()..];
            let md_lines: Vec<&str> = block.lines().filter(|l| l.starts_with("- ")).collect();
            let md_expected = marked_up(
                &expected,
                |k, v| format!("**{k}:** {}", md_inline(v)),
                |f| format!(" ⚠️ {f}"),
                ("- ", ""),
            );
            assert!(
                same_lines(&md_lines, &md_expected),
                "{name}: md details of {id}:\n{md_lines:#?}\nexpected\n{md_expected:#?}"
            );

            // HTML: the list in the request's <details>, in the same order.
            let start = format!("<details class=\"req\" id=\"req-{index}\">");
            let block = html
                .split_once(&start)
                .unwrap_or_else(|| panic!("{name}: html lacks request {id}"))
                .1;
            let list = block.split_once("<ul>\n").unwrap().1;
            let list = list.split_once("</ul>").unwrap().0;
            let html_lines: Vec<&str> = list.lines().collect();
            let html_expected = marked_up(
                &expected,
                |k, v| format!("<strong>{k}:</strong> {}", html_escape(v)),
                |f| format!(" <span class=\"status-partial\">({f})</span>"),
                ("<li>", "</li>"),
            );
            assert!(
                same_lines(&html_lines, &html_expected),
                "{name}: html details of {id}:\n{html_lines:#?}\nexpected\n{html_expected:#?}"
            );
        }
    }
}
