//! CSV export for spreadsheets and pandas: one row per request (`--per request`, the default),
//! one row per token (`--per token`), straight from the recomputed metrics and the raw token
//! times, or, for a run measured through a server, one row per chunk (`--per chunk`): the raw
//! datum of such a run, with its read time, kind and attributed tokens.
//!
//! Conventions, chosen so `pandas.read_csv` loads the file without options:
//! - RFC 4180: a header row, CRLF between records, fields quoted by [`csv_field`] when they hold
//!   a comma, quote or line break (model text does; a quoted field may contain a bare LF).
//!   Control characters other than LF and TAB are written as visible `\u{..}` escapes, so a
//!   stray CR or NUL in model output cannot split or truncate a record.
//! - A value that does not exist (no TTFT for a request without tokens, no runtime figures on
//!   older runtimes) is an empty field, which pandas reads as NaN; never `-` or `0`.
//! - Numbers use a fixed number of decimals (3: microsecond resolution for milliseconds), never
//!   locale or shortest-round-trip formatting, so the file is byte-identical everywhere.
//! - Booleans are `true`/`false`, which pandas parses as `bool`.
//! - Formula injection (OWASP "CSV Injection"): a text cell (test id, name, category, token
//!   text) whose first character is `=`, `+`, `-`, `@`, tab or CR is written with a leading `'`,
//!   so a spreadsheet shows it as text instead of running it. Numeric columns are never
//!   prefixed. The exact text is in the JSON report (and the trace).
//!
//! Caveat for pandas users: its default NA parsing turns token texts such as `null` or `NaN`
//! into NaN; pass `keep_default_na=False` for the `text` column when that matters.
use super::text::csv_field;
use crate::analysis::Analysis;
use crate::stats::RequestMetrics;
use crate::trace::server::ServerTrace;
use crate::trace::RequestRecord;
use std::fmt::Write;

/// Record terminator (RFC 4180 §2.1).
const EOL: &str = "\r\n";
/// Decimals for every float column.
const DECIMALS: usize = 3;

/// What one CSV row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvPer {
    /// One row per request with its metrics.
    #[default]
    Request,
    /// One row per token with its arrival time and text.
    Token,
    /// One row per streamed chunk of a server run (SSE event / NDJSON line).
    Chunk,
}

impl CsvPer {
    /// Parse the `--per` option value.
    pub fn parse(s: &str) -> Result<CsvPer, String> {
        match s.trim() {
            "request" | "requests" => Ok(CsvPer::Request),
            "token" | "tokens" => Ok(CsvPer::Token),
            "chunk" | "chunks" => Ok(CsvPer::Chunk),
            other => Err(format!(
                "unknown --per value {other:?}; use request (one CSV row per request), token (one row per token) or chunk (one row per streamed chunk of a server run)"
            )),
        }
    }
}

/// Columns of `--per request`.
pub(crate) const REQUEST_COLUMNS: [&str; 28] = [
    "index",
    "id",
    "name",
    "category",
    "status",
    "warmup",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "e2e_ms",
    "prefill_tok_s",
    "decode_tok_s",
    "generation_speed_tok_s",
    "itl_p50_ms",
    "itl_p90_ms",
    "itl_p99_ms",
    "itl_max_ms",
    "stalls",
    "runtime_prefill_ms",
    "runtime_generate_ms",
    "runtime_generate_tokens",
    "memory_mb",
    "think_tokens",
    "answer_tokens",
    // Last, so the columns before it keep their positions: the exact token count the request
    // was fed (`input_tokens: N` in the suite, Rockchip's method); empty for a text prompt.
    "input_exact_tokens",
    // The request's place in the load (docs/LOAD.md): its stream, and when it was meant to be
    // sent and was sent, ms since the level started (a sequential run: since the first request).
    "stream",
    "scheduled_ms",
    "sent_ms",
];

/// Columns of `--per token`. `t_ms` is since the request's t0; `itl_ms` is empty for the first
/// token (its delay is TTFT, not an inter-token latency).
pub(crate) const TOKEN_COLUMNS: [&str; 8] = [
    "request_index",
    "test_id",
    "token_index",
    "t_ms",
    "itl_ms",
    "token_id",
    "waiting",
    "text",
];

/// Columns of `--per chunk`. `t_ms` is since the request's t0 (the `read()` that completed the
/// chunk); `coalesced` is true when the chunk arrived in the same read as the one before it;
/// `tokens` are the tokens attributed to it by the request's `count_source`; `server_n` is the
/// server's running count in it (llama-server `timings.predicted_n`), empty when absent;
/// `end_byte` is the body offset where it ended. `text`: content/reasoning text, or the raw
/// event for other kinds.
pub(crate) const CHUNK_COLUMNS: [&str; 12] = [
    "request_index",
    "test_id",
    "chunk_index",
    "t_ms",
    "read",
    "coalesced",
    "kind",
    "tokens",
    "count_source",
    "server_n",
    "end_byte",
    "text",
];

/// Columns of `rkbench compare --format csv`: one row per candidate, metric and scope (`overall`,
/// or a test id for the per-test change). Figures as in the JSON (`ratio` = candidate /
/// baseline; `slower_pct` = the change in time per unit of work, positive slower), with the
/// JSON's decimals; `gate_failed` only on `overall` rows of a gated metric.
pub(crate) const COMPARE_COLUMNS: [&str; 17] = [
    "candidate",
    "metric",
    "unit",
    "scope",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "slower_pct",
    "slower_pct_ci_low",
    "slower_pct_ci_high",
    "p_value",
    "p_exact",
    "significant",
    "tests",
    "baseline_requests",
    "candidate_requests",
    "gate_failed",
];

/// A comparison as CSV (see [`COMPARE_COLUMNS`]); a scope without a figure (too few requests)
/// has empty figure fields.
pub(crate) fn compare(cmp: &crate::analysis::compare::Comparison) -> String {
    use crate::stats::significance::Change;
    let mut out = String::new();
    header(&mut out, &COMPARE_COLUMNS);
    for c in &cmp.candidates {
        let file = csv_field(&c.analysis.file_name);
        for mc in &c.changes {
            let gate = cmp.gate.as_ref().and_then(|g| {
                g.checks
                    .iter()
                    .find(|k| k.candidate == c.analysis.file_name && k.metric == mc.metric)
                    .map(|k| k.failed)
            });
            let overall = std::iter::once(("overall".to_string(), mc.overall.as_ref(), gate));
            let per_test = mc
                .per_test
                .iter()
                .map(|(id, ch)| (csv_field(id), ch.as_ref(), None));
            for (scope, ch, gate) in overall.chain(per_test) {
                let ch: Option<&Change> = ch;
                let e = ch.map(|c| &c.estimate);
                row(
                    &mut out,
                    &[
                        file.clone(),
                        mc.metric.key().to_string(),
                        csv_field(mc.metric.unit()),
                        scope,
                        fd(e.map(|e| e.ratio), 4),
                        fd(e.and_then(|e| e.ci).map(|x| x.0), 4),
                        fd(e.and_then(|e| e.ci).map(|x| x.1), 4),
                        fd(ch.map(|c| 100.0 * c.slowdown), 2),
                        fd(ch.and_then(|c| c.slowdown_ci).map(|x| 100.0 * x.0), 2),
                        fd(ch.and_then(|c| c.slowdown_ci).map(|x| 100.0 * x.1), 2),
                        fd(e.map(|e| e.p_value), 6),
                        i(e.map(|e| e.exact)),
                        i(ch.map(|c| c.significant())),
                        i(e.map(|e| e.tests)),
                        i(e.map(|e| e.n_base)),
                        i(e.map(|e| e.n_cand)),
                        i(gate),
                    ],
                );
            }
        }
    }
    out
}

/// Render the trace as CSV. `--per chunk` on a trace without chunks (a bare-runtime run) gives
/// the header only; `rkbench report` refuses that combination before rendering.
pub(crate) fn render(a: &Analysis, per: CsvPer) -> String {
    match per {
        CsvPer::Request => per_request(a),
        CsvPer::Token => per_token(&a.trace.requests),
        CsvPer::Chunk => per_chunk(a.trace.server.as_ref()),
    }
}

fn per_chunk(server: Option<&ServerTrace>) -> String {
    let mut out = String::new();
    header(&mut out, &CHUNK_COLUMNS);
    for r in server.map(|s| s.requests.as_slice()).unwrap_or_default() {
        let id = csv_field(&r.test_id);
        for (c, text) in r.chunk_texts().enumerate() {
            let read = r.chunk_read.get(c).copied();
            let coalesced = c > 0 && read.is_some() && read == r.chunk_read.get(c - 1).copied();
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{}{EOL}",
                r.index,
                id,
                c,
                f(r.chunk_us.get(c).map(|&t| t as f64 / 1e3)),
                i(read),
                coalesced,
                r.kind(c).as_str(),
                i(r.chunk_tokens.get(c)),
                r.count_source.as_str(),
                i(r.chunk_server_n.get(c).filter(|&&n| n >= 0)),
                i(r.chunk_end_byte.get(c)),
                csv_field(&String::from_utf8_lossy(text)),
            );
        }
    }
    out
}

fn f(x: Option<f64>) -> String {
    fd(x, DECIMALS)
}

/// A float with `d` decimals; empty when there is none (or it is not finite).
fn fd(x: Option<f64>, d: usize) -> String {
    crate::analysis::fixed(x, d).unwrap_or_default()
}

fn i<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn row(out: &mut String, fields: &[String]) {
    out.push_str(&fields.join(","));
    out.push_str(EOL);
}

fn header(out: &mut String, cols: &[&str]) {
    row(out, &cols.iter().map(|c| c.to_string()).collect::<Vec<_>>());
}

/// Columns appended to the per-request table of a trace with power samples (`record --power`);
/// without them the table is unchanged. Blank where a figure is not resolved.
pub(crate) const ENERGY_COLUMNS: [&str; 5] = [
    "energy_j",
    "energy_above_idle_j",
    "energy_error_j",
    "prefill_energy_j",
    "decode_energy_j",
];

fn per_request(a: &Analysis) -> String {
    let mut out = String::new();
    let mut cols = REQUEST_COLUMNS.to_vec();
    if a.energy.is_some() {
        cols.extend(ENERGY_COLUMNS);
    }
    header(&mut out, &cols);
    for m in &a.summary.metrics {
        let mut fields = request_fields(m);
        fields.push(i(a.exact_input_tokens(m.index)));
        let l = a.load.request(m.index);
        fields.extend([
            i(l.map(|l| i64::from(l.stream))),
            fd(l.map(|l| l.scheduled_ms), DECIMALS),
            fd(l.map(|l| l.sent_ms), DECIMALS),
        ]);
        if let Some(e) = &a.energy {
            let x = e.requests.iter().find(|r| r.index == m.index);
            fields.extend([
                fd(x.and_then(|x| x.total.j), 3),
                fd(x.and_then(|x| x.total.above_idle_j), 3),
                fd(x.and_then(|x| x.total.error_j), 3),
                fd(x.and_then(|x| x.prefill.j), 3),
                fd(x.and_then(|x| x.decode.j), 3),
            ]);
        }
        row(&mut out, &fields);
    }
    out
}

fn request_fields(m: &RequestMetrics) -> Vec<String> {
    let rt = m.runtime;
    vec![
        m.index.to_string(),
        csv_field(&m.id),
        csv_field(&m.name),
        csv_field(&m.category),
        m.status.as_str().to_string(),
        m.warmup.to_string(),
        i(m.input_tokens),
        m.output_tokens.to_string(),
        f(m.ttft_ms),
        f(Some(m.e2e_ms)),
        f(m.prefill_tok_s),
        f(m.decode_tok_s),
        f(m.generation_speed_tok_s),
        f(m.itl.map(|t| t.p50)),
        f(m.itl.map(|t| t.p90)),
        f(m.itl.map(|t| t.p99)),
        f(m.itl.map(|t| t.max)),
        m.stalls.to_string(),
        f(rt.map(|p| p.prefill_ms())),
        f(rt.map(|p| p.generate_ms())),
        i(rt.map(|p| p.generate_tokens)),
        f(rt.map(|p| p.memory_mb())),
        i(m.think.map(|t| t.think_tokens)),
        i(m.think.map(|t| t.answer_tokens)),
    ]
}

fn per_token(requests: &[RequestRecord]) -> String {
    let mut out = String::new();
    header(&mut out, &TOKEN_COLUMNS);
    for r in requests {
        tokens(&mut out, r);
    }
    out
}

fn tokens(out: &mut String, r: &RequestRecord) {
    let n = r.tokens.token_dt_us.len();
    let mut waiting = vec![false; n];
    for &w in &r.tokens.waiting {
        if let Some(slot) = waiting.get_mut(w as usize) {
            *slot = true;
        }
    }
    let id = csv_field(&r.test_id);
    let mut t_us = 0u64;
    for ((k, &dt), bytes) in r
        .tokens
        .token_dt_us
        .iter()
        .enumerate()
        .zip(r.tokens.texts())
    {
        t_us += u64::from(dt);
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{}{EOL}",
            r.index,
            id,
            k,
            f(Some(t_us as f64 / 1e3)),
            if k == 0 {
                String::new()
            } else {
                f(Some(f64::from(dt) / 1e3))
            },
            i(r.tokens.token_ids.get(k)),
            waiting[k],
            // A token may end inside a multi-byte character; its bytes become U+FFFD here
            // (CSV is text). The exact bytes are in the trace.
            csv_field(&String::from_utf8_lossy(bytes)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenColumns;
    use crate::trace::{PerfStat, RunHeader, Status, Trace};

    /// A strict RFC 4180 parser for the tests: returns the records, or an error for a stray
    /// quote or an unterminated quoted field.
    fn parse_rfc4180(s: &str) -> Result<Vec<Vec<String>>, String> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = s.chars().peekable();
        let mut at_field_start = true;
        while let Some(c) = chars.next() {
            match c {
                '"' if at_field_start => {
                    loop {
                        match chars.next() {
                            None => return Err("unterminated quoted field".into()),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => field.push(c),
                        }
                    }
                    match chars.peek() {
                        None | Some(',') | Some('\r') => {}
                        Some(c) => return Err(format!("{c:?} after closing quote")),
                    }
                    at_field_start = false;
                }
                '"' => return Err("quote inside an unquoted field".into()),
                ',' => {
                    row.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\r' => {
                    if chars.next() != Some('\n') {
                        return Err("CR without LF".into());
                    }
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                    at_field_start = true;
                }
                '\n' => return Err("bare LF outside a quoted field".into()),
                c => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        if !field.is_empty() || !row.is_empty() {
            return Err("last record not terminated".into());
        }
        Ok(rows)
    }

    fn hostile_trace() -> Trace {
        let texts = [
            "Hello, \"world\"",
            "\n```\n",
            "</pre><script>alert(1)</script>",
            "\r\u{0}\u{1b}[31m",
            "null",
            "\u{e9}",
        ];
        let mut bytes: Vec<u8> = texts.concat().into_bytes();
        // A torn multi-byte character in the last token.
        bytes.push(0xE2);
        let mut text_len: Vec<u16> = texts.iter().map(|t| t.len() as u16).collect();
        *text_len.last_mut().unwrap() += 1;
        let good = RequestRecord {
            index: 0,
            test_id: "t,1\"x".into(),
            name: "name\nwith newline".into(),
            category: "cat\r\nCR".into(),
            tokens: TokenColumns {
                token_dt_us: vec![250_000, 30_000, 31_000, 29_000, 120_000, 30_000],
                token_ids: vec![1, 2, 3, 4, 5, 6],
                waiting: vec![1],
                text_len,
                text: bytes,
            },
            end_us: 600_000,
            perf: Some(PerfStat {
                prefill_time_ms: 240.5,
                prefill_tokens: 17,
                generate_time_ms: 240.0,
                generate_tokens: 6,
                memory_usage_mb: 1024.25,
            }),
            ..Default::default()
        };
        let failed = RequestRecord {
            index: 1,
            test_id: "empty".into(),
            status: Status::Error,
            end_us: 5,
            ..Default::default()
        };
        super::super::html::testdata::trace(
            RunHeader::default(),
            vec![good, failed],
            Vec::new(),
            None,
        )
    }

    #[test]
    fn per_request_parses_back_with_constant_width() {
        let t = hostile_trace();
        let out = render(&Analysis::of(&t), CsvPer::Request);
        let rows = parse_rfc4180(&out).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.len() == REQUEST_COLUMNS.len()));
        assert_eq!(rows[0], REQUEST_COLUMNS);
        assert_eq!(rows[1][1], "t,1\"x");
        assert_eq!(rows[1][2], "name\nwith newline");
        // CR is made visible, so it cannot end a record.
        assert_eq!(rows[1][3], "cat\\u{000d}\nCR");
        assert_eq!(rows[1][8], "250.000");
        assert_eq!(rows[1][21], "1024.250");
        // Missing values are empty fields.
        assert_eq!(rows[2][8], "");
        assert_eq!(rows[2][13], "");
        assert_eq!(rows[2][4], "error");
        assert_eq!(rows[2][5], "false");
    }

    #[test]
    fn per_token_parses_back_and_keeps_text() {
        let t = hostile_trace();
        let out = render(&Analysis::of(&t), CsvPer::Token);
        let rows = parse_rfc4180(&out).unwrap();
        assert_eq!(rows.len(), 1 + 6);
        assert!(rows.iter().all(|r| r.len() == TOKEN_COLUMNS.len()));
        assert_eq!(rows[1][3], "250.000");
        assert_eq!(rows[1][4], "");
        assert_eq!(rows[2][3], "280.000");
        assert_eq!(rows[2][4], "30.000");
        assert_eq!(rows[2][6], "true");
        assert_eq!(rows[1][7], "Hello, \"world\"");
        assert_eq!(rows[2][7], "\n```\n");
        assert_eq!(rows[3][7], "</pre><script>alert(1)</script>");
        assert_eq!(rows[4][7], "\\u{000d}\\u{0000}\\u{001b}[31m");
        assert_eq!(rows[6][7], "\u{e9}\u{fffd}");
        assert!(!out.contains('\u{0}'));
    }

    #[test]
    fn deterministic_and_parse_option() {
        let t = hostile_trace();
        let a = Analysis::of(&t);
        for per in [CsvPer::Request, CsvPer::Token] {
            assert_eq!(render(&a, per), render(&a, per));
        }
        assert_eq!(CsvPer::parse("token"), Ok(CsvPer::Token));
        assert_eq!(CsvPer::parse("request"), Ok(CsvPer::Request));
        assert!(CsvPer::parse("row").is_err());
    }

    /// F19: formulas in suite names and model text reach a spreadsheet as text.
    #[test]
    fn formula_cells_are_defused() {
        let r = RequestRecord {
            test_id: "=cmd|' /C calc'!A0".into(),
            name: "@SUM(1+1)".into(),
            category: "+x".into(),
            tokens: TokenColumns {
                token_dt_us: vec![1000, 1000],
                token_ids: vec![1, 2],
                text_len: vec![2, 6],
                text: b"-1=2+3*4".to_vec(),
                ..TokenColumns::default()
            },
            end_us: 3000,
            ..Default::default()
        };
        let t =
            super::super::html::testdata::trace(RunHeader::default(), vec![r], Vec::new(), None);
        let a = Analysis::of(&t);
        let rows = parse_rfc4180(&render(&a, CsvPer::Request)).unwrap();
        assert_eq!(rows[1][1], "'=cmd|' /C calc'!A0");
        assert_eq!(rows[1][2], "'@SUM(1+1)");
        assert_eq!(rows[1][3], "'+x");
        let rows = parse_rfc4180(&render(&a, CsvPer::Token)).unwrap();
        assert_eq!(rows[1][7], "'-1");
        assert_eq!(rows[2][7], "=2+3*4".replacen('=', "'=", 1));
        assert_eq!(rows[1][1], "'=cmd|' /C calc'!A0");
        // Numbers are never prefixed.
        assert_eq!(rows[1][3], "1.000");
    }

    #[test]
    fn the_test_parser_rejects_broken_csv() {
        assert!(parse_rfc4180("a,\"b\r\n").is_err());
        assert!(parse_rfc4180("a,b\"c\r\n").is_err());
        assert!(parse_rfc4180("a\nb\r\n").is_err());
        assert_eq!(
            parse_rfc4180("a,\"b\"\"\r\nc\"\r\n").unwrap(),
            vec![vec!["a".to_string(), "b\"\r\nc".to_string()]]
        );
    }
}
