//! A load trace written through the public writer (the records `record --rate` writes) reads
//! back through `rkbench report` as one level with the `load` contract of docs/JSON.md, and a
//! directory of such traces (a load sweep) as one table with its saturation point.
mod common;

use rkbench::trace::writer::create_run;
use rkbench::trace::{
    Fact, LoadRun, Record, RequestRecord, RequestSent, RunEnd, RunHeader, Status,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The level's origin on the run clock (µs).
const START_US: u64 = 1_000_000;

/// A run header of its own per trace (`name` in the command line), so the fleet counts each.
fn header(name: &str) -> RunHeader {
    RunHeader {
        hostname: "load".into(),
        started_unix_ms: 1_764_460_800_000,
        command_line: vec!["rkbench".into(), "record".into(), name.into()],
        ..Default::default()
    }
}

/// A request sent at `sent_ms` after the level start, with tokens at `tokens_ms` after its
/// send, ending at the last.
fn request(index: u32, sent_ms: u64, tokens_ms: &[u64]) -> RequestRecord {
    let mut r = RequestRecord {
        index,
        test_id: format!("t{index}"),
        status: Status::Ok,
        start_us: START_US + sent_ms * 1000,
        end_us: tokens_ms.last().copied().unwrap_or(0) * 1000,
        final_state: 2,
        ..Default::default()
    };
    let mut last = 0;
    for &t in tokens_ms {
        r.tokens.push(((t - last) * 1000) as u32, 1, b"x", false);
        last = t;
    }
    r
}

/// Write a trace of `run` whose requests are (stream, scheduled ms, sent ms, token times ms).
fn write(dir: &Path, name: &str, run: LoadRun, reqs: &[(u32, u64, u64, &[u64])]) -> PathBuf {
    let p = dir.join(name);
    let (mut w, _j) = create_run(&p).unwrap();
    w.append(&Record::Header(header(name))).unwrap();
    w.append(&Record::LoadRun(run)).unwrap();
    for (i, &(stream, sch, sent, toks)) in reqs.iter().enumerate() {
        w.append(&Record::RequestSent(RequestSent {
            index: i as u32,
            stream,
            scheduled_us: START_US + sch * 1000,
            sent_us: START_US + sent * 1000,
        }))
        .unwrap();
        w.append(&Record::Request(request(i as u32, sent, toks)))
            .unwrap();
    }
    w.append(&Record::End(RunEnd {
        requests: reqs.len() as u32,
        ..Default::default()
    }))
    .unwrap();
    w.sync().unwrap();
    p
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn close(v: &Value, want: f64) {
    assert!((f(v) - want).abs() < 1e-3, "{v} != {want}");
}

#[test]
fn an_open_loop_trace_reports_its_level_lateness_and_corrected_latency() {
    let dir = common::tempdir("load-open");
    // 10 requests/s: scheduled 0, 100, 200, 300 ms; sent 0, 101, 205, 300 (late by 0, 1, 5,
    // 0 ms); tokens 50 and 150 ms after each send, so two overlap at a time.
    let run = LoadRun {
        mode: "rate".into(),
        rate_rps: 10.0,
        arrivals: "constant".into(),
        seed: 7,
        start_us: START_US,
        facts: vec![Fact {
            key: "client cpu_ms".into(),
            value: "12".into(),
        }],
        ..Default::default()
    };
    let toks: &[u64] = &[50, 150];
    let p = write(
        &dir,
        "open.rktrace",
        run,
        &[
            (0, 0, 0, toks),
            (1, 100, 101, toks),
            (0, 200, 205, toks),
            (1, 300, 300, toks),
        ],
    );
    let j = common::json_report(&p);
    let levels = j["load"]["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 1);
    let l = &levels[0];
    assert_eq!(l["mode"], "rate");
    assert_eq!(l["arrivals"], "constant");
    close(&l["rate_rps"], 10.0);
    assert_eq!(
        (l["completed"].as_u64(), l["failed"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(l["rejected"], 0);
    // First sent 0 → last finished 300 + 150 ms.
    close(&l["duration_s"], 0.45);
    close(&l["request_throughput"], 4.0 / 0.45);
    close(&l["output_throughput"], 8.0 / 0.45);
    close(&l["ttft_ms"]["median"], 50.0);
    close(&l["e2el_ms"]["p99"], 150.0);
    close(&l["tpot_ms"]["mean"], 100.0);
    // Lateness sorted 0, 0, 1, 5: p50 0.5, p99 4.88 (linear).
    close(&l["send_lateness_ms"]["p50"], 0.5);
    close(&l["send_lateness_ms"]["p99"], 4.88);
    close(&l["ttft_from_scheduled_ms"]["mean"], 51.5);
    close(&l["e2el_from_scheduled_ms"]["median"], 150.5);
    assert!(l["queue_ms"].is_null());
    // Σ in flight 4 × 150 ms over 450 ms.
    close(&l["in_flight_mean"], 600.0 / 450.0);
    assert_eq!(l["in_flight_max"], 2);
    close(&l["client_cpu_ms"], 12.0);
    // Four requests complete over 0.45 s: 8.89 of the 10 offered per second. (A level must be
    // long against its latency for its tail not to count: docs/LOAD.md.)
    let s = &j["load"]["saturation"];
    assert!(s["level"].is_null());
    assert_eq!(
        s["rule"],
        "rate=10 did not hold: completed 8.89 of 10.00 offered requests/s (89 %)"
    );
    close(&s["offered_rps"][0], 10.0);
    // Per request: stream and times since the level start.
    let r2 = &j["requests"][2];
    assert_eq!(r2["stream"], 0);
    close(&r2["scheduled_ms"], 200.0);
    close(&r2["sent_ms"], 205.0);
    let codes = common::warning_codes(&j);
    assert!(codes.contains(&"load-client-late"), "{codes:?}");
    assert!(!codes.contains(&"load-client-cpu"), "{codes:?}");

    // Markdown and CSV state the same level.
    let md = common::stdout(&common::run(
        &["report", "--format", "md", &p.display().to_string()],
        &[],
    ));
    assert!(md.contains("## 🚦 Under load"), "{md}");
    assert!(
        md.contains("| rate=10 | 10.000 | 4 | 0 | 0 | 0.450 |"),
        "{md}"
    );
    let csv = common::stdout(&common::run(
        &["report", "--format", "csv", &p.display().to_string()],
        &[],
    ));
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(3).unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    assert_eq!(row[col("stream")], "0");
    assert_eq!(row[col("scheduled_ms")], "200.000");
    assert_eq!(row[col("sent_ms")], "205.000");
    let html = common::stdout(&common::run(
        &["report", "--format", "html", &p.display().to_string()],
        &[],
    ));
    assert!(html.contains("id=\"chart-in-flight\""));
    assert!(html.contains("id=\"chart-latency-throughput\""));
}

#[test]
fn a_closed_loop_level_with_a_ttft_slo_does_not_hold() {
    let dir = common::tempdir("load-closed");
    let run = LoadRun {
        mode: "concurrency".into(),
        concurrency: 2,
        start_us: START_US,
        ..Default::default()
    };
    // Two streams, back to back: TTFT 400 ms each.
    let toks: &[u64] = &[400, 500];
    let p = write(
        &dir,
        "closed.rktrace",
        run,
        &[
            (0, 0, 0, toks),
            (1, 0, 0, toks),
            (0, 500, 500, toks),
            (1, 500, 500, toks),
        ],
    );
    let o = common::run(
        &[
            "report",
            "--format",
            "json",
            "--goodput",
            "ttft:300",
            &p.display().to_string(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let l = &j["load"]["levels"][0];
    assert_eq!(l["concurrency"], 2);
    assert!(l["rate_rps"].is_null());
    assert!(l["ttft_from_scheduled_ms"].is_null());
    close(&l["goodput"], 0.0);
    close(&l["in_flight_mean"], 2.0);
    let s = &j["load"]["saturation"];
    assert!(s["level"].is_null());
    assert_eq!(
        s["rule"],
        "concurrency=2 did not hold: p99 TTFT 400 ms > SLO 300 ms"
    );
    // Offered: 2 streams / mean E2EL 500 ms = 4 req/s; completed 4 over 1 s.
    close(&s["offered_rps"][0], 4.0);
}

/// A closed loop of `c` streams against a server with `k` slots of `service_ms` each (one token
/// at the end of service), `per_stream` requests per stream: (stream, scheduled, sent, tokens).
fn k_slots(
    k: usize,
    c: usize,
    per_stream: usize,
    service_ms: u64,
) -> Vec<(u32, u64, u64, Vec<u64>)> {
    let mut slot_free = vec![0u64; k];
    let mut stream_free = vec![0u64; c];
    let mut out = Vec::new();
    for _ in 0..per_stream {
        for (i, free) in stream_free.iter_mut().enumerate() {
            let send = *free;
            let si = (0..k).min_by_key(|&s| slot_free[s]).unwrap();
            let done = slot_free[si].max(send) + service_ms;
            slot_free[si] = done;
            *free = done;
            out.push((i as u32, send, send, vec![done - send]));
        }
    }
    out
}

/// A closed-loop sweep directory against `k` slots of 100 ms at concurrency `cs`.
fn sweep_dir(name: &str, k: usize, cs: &[usize]) -> PathBuf {
    let dir = common::tempdir(name);
    let mut index = rkbench::trace::SweepIndex::new(vec!["concurrency".into()]);
    for &c in cs {
        let reqs = k_slots(k, c, 6, 100);
        let reqs: Vec<(u32, u64, u64, &[u64])> = reqs
            .iter()
            .map(|(s, a, b, t)| (*s, *a, *b, t.as_slice()))
            .collect();
        let name = format!("c{c}.rktrace");
        let run = LoadRun {
            mode: "concurrency".into(),
            concurrency: c as u32,
            start_us: START_US,
            ..Default::default()
        };
        write(&dir, &name, run, &reqs);
        index.runs.push(rkbench::trace::SweepRun {
            trace: name,
            // The labels are not read: each trace's level record is.
            params: [("concurrency".to_string(), format!("label {c}"))].into(),
            exit_code: 0,
        });
    }
    index.write(&dir).unwrap();
    dir
}

#[test]
fn a_load_sweep_reports_its_levels_in_one_table_with_the_saturation_point() {
    let dir = sweep_dir("load-sweep", 2, &[1, 2, 4]);
    let d = dir.display().to_string();
    let o = common::run(&["report", "--format", "json", &d], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let levels = j["load"]["levels"].as_array().unwrap();
    let conc: Vec<u64> = levels
        .iter()
        .map(|l| l["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(conc, [1, 2, 4]);
    // Two slots: 10, 20, 20 requests/s; the four streams wait a service time for a slot.
    for (l, want) in levels.iter().zip([10.0, 20.0, 20.0]) {
        close(&l["request_throughput"], want);
    }
    close(&levels[2]["ttft_ms"]["median"], 200.0);
    let s = &j["load"]["saturation"];
    assert_eq!(
        (s["level"].as_u64(), s["concurrency"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        s["rule"],
        "concurrency=4 did not hold: completed 20.00 of 40.00 offered requests/s (50 %)"
    );
    // With a TTFT SLO the sweep's levels are held to it.
    let o = common::run(
        &["report", "--format", "json", "--goodput", "ttft:50", &d],
        &[],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["load"]["saturation"]["level"].is_null());
    // One table and one chart.
    let md = common::stdout(&common::run(&["report", "--format", "md", &d], &[]));
    assert_eq!(md.matches("## 🚦 Under load").count(), 1, "{md}");
    assert!(md.contains("| concurrency=4 | 40.000 | 24 |"), "{md}");
    assert!(md.contains("Saturation point: concurrency=2."), "{md}");
    let html = common::stdout(&common::run(&["report", "--format", "html", &d], &[]));
    assert_eq!(html.matches("id=\"chart-latency-throughput\"").count(), 1);
    // Each point is labelled with its level.
    for c in [1, 2, 4] {
        assert!(html.contains(&format!(">concurrency={c}</text>")), "{html}");
    }
}

#[test]
fn two_load_sweeps_compare_level_by_level() {
    let base = sweep_dir("load-cmp-base", 2, &[1, 2, 4]);
    let cand = sweep_dir("load-cmp-cand", 4, &[2, 4, 8]);
    let (b, c) = (base.display().to_string(), cand.display().to_string());
    let o = common::run(&["compare", "--format", "json", &b, &c], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["baseline"]["label"], "concurrency=2");
    let cand0 = &j["candidates"][0];
    assert_eq!(cand0["saturation"]["label"], "concurrency=4");
    let levels: Vec<&str> = cand0["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["concurrency=2", "concurrency=4"]);
    // At four streams, four slots complete twice what two do.
    let fig = &cand0["levels"][1]["figures"][0];
    assert_eq!(fig["figure"], "request_throughput");
    close(&fig["ratio"], 2.0);
    assert_eq!(cand0["only_baseline"][0], "concurrency=1");
    assert_eq!(cand0["only_candidate"][0], "concurrency=8");
    let md = common::stdout(&common::run(&["compare", &b, &c], &[]));
    assert!(md.contains("### concurrency=4"), "{md}");
    // A trace against a directory, and a gate on sweeps, are refused with the reason.
    let o = common::run(&["compare", &b, &c, "--fail-if-slower", "5%"], &[]);
    assert!(!o.status.success());
    assert!(common::stderr(&o).contains("--fail-if-slower gates trace comparisons"));
}

#[test]
fn the_fleet_states_the_saturation_point_of_a_group_under_load() {
    let dir = sweep_dir("load-fleet", 2, &[1, 2, 4]);
    // Without the index the directory is a fleet: a row per level (figures of 1 and 4 streams
    // are not one population), each with the saturation point of the three levels.
    std::fs::remove_file(dir.join("index.json")).unwrap();
    let d = dir.display().to_string();
    let o = common::run(&["report", "--format", "json", &d], &[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = j["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    for (g, c) in groups.iter().zip([1, 2, 4]) {
        assert_eq!(g["traces"], 1);
        let settings = g["settings"].as_str().unwrap();
        assert!(
            settings.ends_with(&format!("under load concurrency={c}")),
            "{settings}"
        );
        assert_eq!(g["saturation"]["levels"], 3);
        assert_eq!(g["saturation"]["point"], "concurrency=2");
    }
    let md = common::stdout(&common::run(&["report", "--format", "md", &d], &[]));
    assert!(md.contains("| saturation point |"), "{md}");
    assert!(md.contains("| concurrency=2 (3 levels) |"), "{md}");
}
