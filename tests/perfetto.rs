//! `rkbench report --format perfetto` on every committed trace: the output is Chrome
//! trace-event JSON as ui.perfetto.dev and chrome://tracing read it (phases, integer µs
//! timestamps, pid/tid), every request is a slice whose `dur` is its E2E as the JSON report
//! states it, prefill and decode lie inside their request, counters advance in time per track,
//! and the same trace gives the same bytes.
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every `.rktrace` under `traces/`, subdirectories included, sorted.
fn traces() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rktrace") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&root().join("traces"), &mut v);
    v.sort();
    v
}

fn perfetto(t: &Path) -> Vec<u8> {
    let o = run(
        &["report", "--format", "perfetto", &t.display().to_string()],
        &[],
    );
    assert!(o.status.success(), "{}: {}", t.display(), stderr(&o));
    o.stdout
}

/// µs from a JSON report's millisecond figure (printed with 3 decimals: exact µs).
fn us(ms: &Value) -> u64 {
    (ms.as_f64().unwrap() * 1000.0).round() as u64
}

fn uint(e: &Value, k: &str) -> u64 {
    e[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not a non-negative integer in {e}"))
}

/// The structure every event must have for its phase.
fn check_event(name: &str, e: &Value) {
    let ph = e["ph"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: no ph in {e}"));
    assert!(e["name"].is_string(), "{name}: no name in {e}");
    uint(e, "pid");
    uint(e, "tid");
    uint(e, "ts");
    match ph {
        "X" => {
            uint(e, "dur");
        }
        "i" => assert!(
            matches!(e["s"].as_str(), Some("t" | "p" | "g")),
            "{name}: instant without scope: {e}"
        ),
        "C" => {
            let args = e["args"].as_object().expect("counter args");
            assert!(!args.is_empty(), "{name}: empty counter {e}");
            assert!(
                args.values().all(Value::is_number),
                "{name}: counter value not a number: {e}"
            );
        }
        "M" => assert!(e["args"].is_object(), "{name}: metadata without args: {e}"),
        other => panic!("{name}: unexpected phase {other:?} in {e}"),
    }
}

#[test]
fn every_committed_trace_exports_a_valid_timeline_matching_its_json_report() {
    let traces = traces();
    assert!(
        traces.len() >= 7,
        "expected the committed traces in traces/"
    );
    for t in &traces {
        let counters = check_timeline(t);
        // The simulated board's telemetry (the server runs read only processes).
        if !t.display().to_string().contains("llama") {
            assert!(
                counters.keys().any(|k| k.starts_with("npu.load.")),
                "{}: no NPU load counter ({:?})",
                t.display(),
                counters.keys()
            );
        }
    }
}

/// A run recorded with `--power` has a `power` counter track in watts.
#[test]
fn power_samples_become_a_power_counter_track() {
    let mut n = 0;
    for e in std::fs::read_dir(root().join("fixtures/power")).unwrap() {
        let t = e.unwrap().path();
        if t.extension().is_none_or(|e| e != "rktrace") {
            continue;
        }
        let counters = check_timeline(&t);
        let watts = counters.get("power").map_or(0, Vec::len);
        assert!(watts >= 2, "{}: {watts} power samples", t.display());
        assert!(counters["power"].iter().all(|&(_, w)| w > 0.0 && w < 100.0));
        n += 1;
    }
    assert!(n > 0, "expected the power traces in fixtures/power");
}

/// Check one trace's timeline against the trace-event format and its JSON report; returns
/// each counter track's `(ts, value)` samples.
fn check_timeline(t: &Path) -> BTreeMap<String, Vec<(u64, f64)>> {
    let name = t.display().to_string();
    let bytes = perfetto(t);
    assert_eq!(bytes, perfetto(t), "{name}: not byte-identical twice");
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(v["displayTimeUnit"], "ms", "{name}");
    let events = v["traceEvents"].as_array().expect("traceEvents array");
    for e in events {
        check_event(&name, e);
    }

    let meta: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for m in ["process_name", "thread_name", "rkbench_run"] {
        assert!(meta.contains(&m), "{name}: no {m} metadata event");
    }

    // Every request of the JSON report is one slice at its start lasting its E2E.
    let report = json_report(t);
    let requests = report["requests"].as_array().unwrap();
    let slices: BTreeMap<u64, &Value> = events
        .iter()
        .filter(|e| e["ph"] == "X" && (e["cat"] == "request" || e["cat"] == "warmup"))
        .map(|e| (uint(&e["args"], "index"), e))
        .collect();
    assert_eq!(
        slices.len(),
        requests.len(),
        "{name}: one slice per request"
    );
    assert!(
        !requests.is_empty(),
        "{name}: a committed trace has requests"
    );
    for r in requests {
        let i = uint(r, "index");
        let s = slices[&i];
        assert_eq!(uint(s, "dur"), us(&r["e2e_ms"]), "{name} #{i}: dur ≠ E2E");
        assert_eq!(uint(s, "ts"), us(&r["start_ms"]), "{name} #{i}: ts ≠ start");
        assert_eq!(s["args"]["status"], r["status"], "{name} #{i}");
        assert_eq!(
            s["args"]["output_tokens"], r["output_tokens"],
            "{name} #{i}"
        );
        let part = |cat: &str| {
            events
                .iter()
                .find(|e| e["ph"] == "X" && e["cat"] == cat && uint(&e["args"], "index") == i)
        };
        match r["ttft_ms"].as_f64() {
            Some(_) => {
                let (p, d) = (part("prefill").unwrap(), part("decode").unwrap());
                assert_eq!(
                    uint(p, "dur"),
                    us(&r["ttft_ms"]),
                    "{name} #{i}: prefill ≠ TTFT"
                );
                let (ts, end) = (uint(s, "ts"), uint(s, "ts") + uint(s, "dur"));
                for x in [p, d] {
                    assert_eq!(x["tid"], s["tid"], "{name} #{i}: part on another track");
                    assert!(uint(x, "ts") >= ts, "{name} #{i}: part before its request");
                    assert!(
                        uint(x, "ts") + uint(x, "dur") <= end,
                        "{name} #{i}: part after its request"
                    );
                }
                assert_eq!(uint(p, "ts"), ts, "{name} #{i}");
                assert_eq!(uint(p, "ts") + uint(p, "dur"), uint(d, "ts"), "{name} #{i}");
                assert_eq!(uint(d, "ts") + uint(d, "dur"), end, "{name} #{i}");
            }
            None => assert!(part("prefill").is_none() && part("decode").is_none()),
        }
        // Its tokens (runtime) or chunks (server), each an instant on its track.
        let instants: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "i" && e["args"]["request"].as_u64() == Some(i))
            .collect();
        assert!(instants.iter().all(|e| e["tid"] == s["tid"]), "{name} #{i}");
        match s["args"]["chunks"].as_u64() {
            Some(chunks) => {
                assert_eq!(instants.len() as u64, chunks, "{name} #{i}: chunks");
                assert!(instants.iter().all(|e| e["cat"] == "chunk"), "{name} #{i}");
            }
            None => {
                assert_eq!(
                    instants.len() as u64,
                    uint(r, "output_tokens"),
                    "{name} #{i}"
                );
                assert!(instants.iter().all(|e| e["cat"] == "token"), "{name} #{i}");
            }
        }
    }

    // Counters: each track's samples in time order.
    let mut counters: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for c in events.iter().filter(|e| e["ph"] == "C") {
        let (track, ts) = (c["name"].as_str().unwrap(), uint(c, "ts"));
        let samples = counters.entry(track.to_string()).or_default();
        if let Some(&(prev, _)) = samples.last() {
            assert!(
                ts >= prev,
                "{name}: counter {track} goes back from {prev} to {ts}"
            );
        }
        let value = c["args"].as_object().unwrap().values().next().unwrap();
        samples.push((ts, value.as_f64().unwrap()));
    }
    counters
}

#[test]
fn perfetto_goes_beside_the_other_formats_and_tables_refuse_it() {
    let t = root().join("traces/qwen3-4b-sim-think.rktrace");
    let out = tempdir("perfetto-out");
    let o = run(
        &[
            "report",
            "--format",
            "json,perfetto",
            "-o",
            &out.display().to_string(),
            &t.display().to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read(out.join("qwen3-4b-sim-think.perfetto.json")).unwrap();
    assert_eq!(written, perfetto(&t));
    assert!(out.join("qwen3-4b-sim-think.json").exists());

    // A fleet table (a directory of traces) has no timeline: refused, naming the way out.
    let o = run(
        &[
            "report",
            "--format",
            "perfetto",
            &root().join("traces").display().to_string(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--format perfetto"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());

    let o = run(
        &[
            "report",
            "--format",
            "perfetto,svg",
            &t.display().to_string(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("csv or perfetto"), "{}", stderr(&o));
}
