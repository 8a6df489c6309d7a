//! The timeline export: the run as Chrome trace-event JSON (the JSON Object Format), which
//! ui.perfetto.dev and chrome://tracing open (what each event means: docs/PERFETTO.md).
//!
//! One process (pid [`PID`]) is the run. Each request is a complete slice (`X`) on its stream's
//! thread track, with its prefill (t0 → first token) and decode (first token → end) nested in
//! it; its tokens (or, through a server, its chunks) are instant events on the same track;
//! telemetry and power are counter tracks; the run's identity is in `M` events and `otherData`.
//! Times are the trace's own integer microseconds since the run's clock origin, printed as
//! integers, so the file is byte-identical for the same trace. Only formats: request times
//! come from the records, token times from [`RequestRecord::token_times_us`], series from
//! [`counters`].
use super::json_writer::JsonWriter;
use super::text::utc;
use crate::analysis::counters::{self, CounterValue};
use crate::analysis::Analysis;
use crate::stats::RequestMetrics;
use crate::trace::server::ServerRequest;
use crate::trace::RequestRecord;
use std::collections::BTreeSet;

/// The run's process id. Any constant: a file holds one run.
pub(crate) const PID: u64 = 1;

/// The thread track of stream `s` ([`crate::trace::Trace::stream_of`]): `s + 1`, because
/// Perfetto's UI merged tid 0 into tid 1 until google/perfetto#2278, and older viewers still do.
pub(crate) fn tid(stream: u32) -> u64 {
    u64::from(stream) + 1
}

/// Decimals of derived counter values (CPU %, watts): finer than any source resolves.
const COUNTER_DECIMALS: usize = 3;

/// Append one event, rendered compactly, as one line of the `traceEvents` array. `head` writes
/// the fields before `pid`/`tid`; `args` writes the `args` object's fields.
fn event(
    w: &mut JsonWriter,
    stream: u32,
    head: impl FnOnce(&mut JsonWriter),
    args: &dyn Fn(&mut JsonWriter),
) {
    let mut e = JsonWriter::compact();
    e.begin_object();
    head(&mut e);
    e.key("pid").uint(PID);
    e.key("tid").uint(tid(stream));
    e.key("args").begin_object();
    args(&mut e);
    e.end_object();
    e.end_object();
    w.raw(e.finish().trim_end());
}

/// A metadata (`M`) event named `name` with these args.
fn metadata(w: &mut JsonWriter, stream: u32, name: &str, args: &dyn Fn(&mut JsonWriter)) {
    event(
        w,
        stream,
        |e| {
            e.field_str("name", name)
                .field_str("ph", "M")
                .field_int("ts", 0);
        },
        args,
    );
}

/// The run's identity: the `rkbench_run` metadata event's args and the file's `otherData`.
fn run_fields(w: &mut JsonWriter, a: &Analysis) {
    let h = &a.trace.header;
    w.field_str("trace_file", &a.file_name);
    w.field_str("model", &h.model.file_name);
    match &a.trace.server {
        Some(s) => {
            w.field_str("server", &s.run.kind);
            w.field_str("server_version", &s.run.version);
            w.field_str("server_model", &s.run.model);
        }
        None => {
            w.field_str("runtime", &h.runtime.version);
            w.field_str("runtime_abi", &h.runtime.abi);
        }
    }
    w.field_str("rkbench_version", &h.rkbench.version);
    w.field_str("rkbench_git_commit", &h.rkbench.git_commit);
    w.field_str("suite", &h.suite.name);
    w.field_str("hostname", &h.hostname);
    w.field_str("started_utc", &utc(h.started_unix_ms));
    w.field_str(
        "end",
        a.trace.end.as_ref().map_or("none", |e| e.status.as_str()),
    );
    w.field_str(
        "damage",
        &a.trace
            .damage
            .as_ref()
            .map_or(String::new(), |d| d.to_string()),
    );
    w.field_str("clock", "µs since the run's clock origin");
}

/// What the process track is called: the model and what ran it.
fn process_name(a: &Analysis) -> String {
    let h = &a.trace.header;
    let model = if h.model.file_name.is_empty() {
        a.trace.server.as_ref().map_or("", |s| s.run.model.as_str())
    } else {
        &h.model.file_name
    };
    let by = match &a.trace.server {
        Some(s) if s.run.version.is_empty() => s.run.kind.clone(),
        Some(s) => format!("{} {}", s.run.kind, s.run.version),
        None => format!("RKLLM {}", h.runtime.version),
    };
    format!("rkbench {}: {model} on {by}", a.file_name)
}

pub(crate) fn render(a: &Analysis) -> String {
    let trace = a.trace;
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("traceEvents").begin_array();

    let mut streams: BTreeSet<u32> = trace.requests.iter().map(|r| trace.stream_of(r)).collect();
    if streams.is_empty() {
        streams.insert(0);
    }
    let first = streams.first().copied().unwrap_or(0);
    let name = process_name(a);
    metadata(&mut w, first, "process_name", &|e| {
        e.field_str("name", &name);
    });
    metadata(&mut w, first, "rkbench_run", &|e| run_fields(e, a));
    for &s in &streams {
        metadata(&mut w, s, "thread_name", &|e| {
            e.field_str("name", &format!("stream {s}"));
        });
        metadata(&mut w, s, "thread_sort_index", &|e| {
            e.field_int("sort_index", s);
        });
    }

    for (r, m, _) in a.requests() {
        let server = trace.server.as_ref().and_then(|s| s.request(r.index));
        request(&mut w, r, m, trace.stream_of(r), server);
    }

    if let Some(end) = &trace.end {
        event(
            &mut w,
            first,
            |e| {
                e.field_str("name", "run end")
                    .field_str("cat", "run")
                    .field_str("ph", "i")
                    .field_str("s", "p");
                e.key("ts").uint(end.end_us);
            },
            &|e| {
                e.field_str("status", end.status.as_str());
                e.field_str("detail", &end.detail);
                e.field_int("requests", end.requests);
            },
        );
    }

    for c in counters::of(&a.timeline, a.energy.as_ref()) {
        let series = if c.unit.is_empty() { "value" } else { &c.unit };
        // A counter track holds its value until the next event, so a sample repeating the one
        // before draws nothing new: only changes are written, and the last sample, which
        // shows where the series ends.
        let last = c.points.len().saturating_sub(1);
        for (i, &(t, v)) in c.points.iter().enumerate() {
            if i > 0 && i < last && c.points[i - 1].1 == v {
                continue;
            }
            event(
                &mut w,
                first,
                |e| {
                    e.field_str("name", &c.key)
                        .field_str("cat", "telemetry")
                        .field_str("ph", "C");
                    e.key("ts").uint(t);
                },
                &|e| {
                    e.key(series);
                    match v {
                        CounterValue::Int(i) => e.int(i),
                        CounterValue::Float(f) => e.num(Some(f), COUNTER_DECIMALS),
                    };
                },
            );
        }
    }
    w.end_array();
    w.field_str("displayTimeUnit", "ms");
    w.key("otherData").begin_object();
    run_fields(&mut w, a);
    w.end_object();
    w.end_object();
    w.finish()
}

/// One request: its slice, prefill and decode inside it, then its tokens or chunks.
fn request(
    w: &mut JsonWriter,
    r: &RequestRecord,
    m: &RequestMetrics,
    stream: u32,
    server: Option<&ServerRequest>,
) {
    let t0 = r.start_us;
    let e2e = r.end_us;
    let times = r.token_times_us();
    let title = if r.test_id.is_empty() {
        format!("#{}", r.index)
    } else {
        format!("#{} {}", r.index, r.test_id)
    };
    let slice = |w: &mut JsonWriter, name: &str, cat: &str, ts: u64, dur: u64| {
        w.field_str("name", name)
            .field_str("cat", cat)
            .field_str("ph", "X");
        w.key("ts").uint(ts);
        w.key("dur").uint(dur);
    };
    event(
        w,
        stream,
        |e| {
            slice(
                e,
                &title,
                if r.warmup { "warmup" } else { "request" },
                t0,
                e2e,
            )
        },
        &|e| {
            super::json::request_head(e, r);
            e.field_opt_int("input_tokens", m.input_tokens);
            e.field_int("output_tokens", m.output_tokens);
            if let Some(s) = server {
                e.field_int("chunks", s.chunks());
            }
            e.field_opt_int("ttft_us", times.first().copied());
            e.key("e2e_us").uint(e2e);
        },
    );
    // No token, no first-token boundary: such a request has neither part.
    if let Some(&t1) = times.first() {
        let t1 = t1.min(e2e);
        event(
            w,
            stream,
            |e| slice(e, "prefill", "prefill", t0, t1),
            &|e| {
                e.field_int("index", r.index);
            },
        );
        event(
            w,
            stream,
            |e| slice(e, "decode", "decode", t0.saturating_add(t1), e2e - t1),
            &|e| {
                e.field_int("index", r.index);
                e.field_int("tokens", times.len());
            },
        );
    }
    let instant = |e: &mut JsonWriter, name: &str, cat: &str, ts: u64| {
        e.field_str("name", name)
            .field_str("cat", cat)
            .field_str("ph", "i")
            .field_str("s", "t");
        e.key("ts").uint(ts);
    };
    match server {
        Some(s) => {
            for (i, text) in s.chunk_texts().enumerate() {
                let kind = s.kind(i);
                let at = s.chunk_us.get(i).copied().unwrap_or(0);
                event(
                    w,
                    stream,
                    |e| instant(e, kind.as_str(), "chunk", t0.saturating_add(at)),
                    &|e| {
                        e.field_int("request", r.index);
                        e.field_int("chunk", i);
                        e.field_str("kind", kind.as_str());
                        e.field_int("tokens", s.chunk_tokens.get(i).copied().unwrap_or(0));
                        e.field_str("text", &String::from_utf8_lossy(text));
                    },
                );
            }
        }
        None => {
            let waiting: BTreeSet<u32> = r.tokens.waiting.iter().copied().collect();
            let mut texts = r.tokens.texts();
            for (i, &t) in times.iter().enumerate() {
                let text = texts.next().unwrap_or(&[]);
                event(
                    w,
                    stream,
                    |e| instant(e, "token", "token", t0.saturating_add(t)),
                    &|e| {
                        e.field_int("request", r.index);
                        e.field_int("token", i);
                        e.field_int("id", r.tokens.token_ids.get(i).copied().unwrap_or(-1));
                        e.field_str("text", &String::from_utf8_lossy(text));
                        e.field_bool("waiting", waiting.contains(&(i as u32)));
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::counters::tests::header_only;
    use crate::trace::{RunEnd, RunStatus, Series, Status, TelemetryBatch, TokenColumns};
    use serde_json::Value;

    fn req(index: u32, start_us: u64, end_us: u64, dts: &[u32]) -> RequestRecord {
        let mut tokens = TokenColumns::default();
        for (i, &d) in dts.iter().enumerate() {
            tokens.push(d, 100 + i as i32, format!("w{i}").as_bytes(), i == 1);
        }
        RequestRecord {
            index,
            test_id: format!("t{index}"),
            start_us,
            end_us,
            tokens,
            ..Default::default()
        }
    }

    fn events(v: &Value) -> &Vec<Value> {
        v["traceEvents"].as_array().unwrap()
    }

    fn sample() -> crate::trace::Trace {
        let mut t = header_only();
        t.header.model.file_name = "m.rkllm".into();
        t.header.rkbench.version = "9.9.9".into();
        t.requests = vec![
            req(0, 1_000, 50_000, &[20_000, 10_000, 5_000]),
            RequestRecord {
                status: Status::Timeout,
                ..req(1, 60_000, 7_000, &[])
            },
        ];
        t.telemetry = vec![TelemetryBatch {
            t_us: vec![500, 900],
            series: vec![Series {
                key: "npu.load.core0".into(),
                unit: "%".into(),
                values: vec![3, 97],
            }],
        }];
        t.end = Some(RunEnd {
            status: RunStatus::Complete,
            end_us: 70_000,
            requests: 2,
            ..Default::default()
        });
        t
    }

    #[test]
    fn requests_are_slices_with_prefill_and_decode_nested_and_tokens_as_instants() {
        let t = sample();
        let out = render(&Analysis::of(&t));
        assert_eq!(out, render(&Analysis::of(&t)), "deterministic");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["displayTimeUnit"], "ms");
        assert_eq!(v["otherData"]["rkbench_version"], "9.9.9");
        let ev = events(&v);
        let x: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "X").collect();
        // Request 0: slice, prefill, decode; request 1 (no token): its slice only.
        assert_eq!(x.len(), 4);
        assert_eq!(
            (x[0]["ts"].as_u64(), x[0]["dur"].as_u64()),
            (Some(1_000), Some(50_000))
        );
        assert_eq!(x[0]["args"]["ttft_us"], 20_000);
        assert_eq!(
            (
                x[1]["name"].as_str(),
                x[1]["ts"].as_u64(),
                x[1]["dur"].as_u64()
            ),
            (Some("prefill"), Some(1_000), Some(20_000))
        );
        assert_eq!(
            (
                x[2]["name"].as_str(),
                x[2]["ts"].as_u64(),
                x[2]["dur"].as_u64()
            ),
            (Some("decode"), Some(21_000), Some(30_000))
        );
        assert_eq!(
            (x[3]["ts"].as_u64(), x[3]["dur"].as_u64()),
            (Some(60_000), Some(7_000))
        );
        assert_eq!(x[3]["args"]["status"], "timeout");
        assert!(x[3]["args"]["ttft_us"].is_null());
        assert!(x.iter().all(|e| e["tid"] == 1 && e["pid"] == 1));
        let tokens: Vec<&Value> = ev.iter().filter(|e| e["cat"] == "token").collect();
        let ts: Vec<u64> = tokens.iter().map(|e| e["ts"].as_u64().unwrap()).collect();
        assert_eq!(ts, [21_000, 31_000, 36_000]);
        assert_eq!(tokens[1]["args"]["text"], "w1");
        assert_eq!(tokens[1]["args"]["id"], 101);
        assert_eq!(tokens[1]["args"]["waiting"], true);
        assert!(tokens.iter().all(|e| e["ph"] == "i" && e["s"] == "t"));
        let c: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "C").collect();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1]["name"], "npu.load.core0");
        assert_eq!(c[1]["args"]["%"], 97);
        let m: Vec<&str> = ev
            .iter()
            .filter(|e| e["ph"] == "M")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            m,
            [
                "process_name",
                "rkbench_run",
                "thread_name",
                "thread_sort_index"
            ]
        );
        let end = ev.iter().find(|e| e["name"] == "run end").unwrap();
        assert_eq!(
            (end["ts"].as_u64(), end["s"].as_str()),
            (Some(70_000), Some("p"))
        );
        // One event per line, integers only for times.
        assert!(out.lines().filter(|l| l.contains("\"ph\"")).count() == ev.len());
    }

    #[test]
    fn a_first_token_after_the_end_never_gives_a_negative_or_outside_slice() {
        let mut t = header_only();
        t.requests = vec![req(0, 10, 5, &[100])];
        let v: Value = serde_json::from_str(&render(&Analysis::of(&t))).unwrap();
        let x: Vec<&Value> = events(&v).iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(x[1]["dur"], 5);
        assert_eq!(
            (x[2]["ts"].as_u64(), x[2]["dur"].as_u64()),
            (Some(15), Some(0))
        );
    }

    #[test]
    fn an_empty_run_still_names_its_process_and_track() {
        let v: Value = serde_json::from_str(&render(&Analysis::of(&header_only()))).unwrap();
        let ev = events(&v);
        assert!(ev.iter().all(|e| e["ph"] == "M"));
        assert_eq!(ev[0]["name"], "process_name");
        assert_eq!(ev[2]["args"]["name"], "stream 0");
    }
}
