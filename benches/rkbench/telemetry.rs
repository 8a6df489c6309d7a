//! Board telemetry: the cost of one sample (every source read once) and its size in a trace.
use crate::util::{Env, Report};
use rkbench::board::SysRoot;
use rkbench::record::telemetry::{Probe, Sampler};
use serde_json::json;
use std::time::{Duration, Instant};

pub fn run(env: &Env, out: &mut Report) {
    out.section("4. Board telemetry (fake RK3588 tree: 3 NPU cores, NPU/DMC/3 CPU clocks, 7 thermal zones, process, memory)");
    let root = SysRoot(env.root.join("fixtures/sysfs/rk3588-healthy"));
    let mut probe = Probe::discover(&root);
    let series = probe.keys().len();
    let n = if env.full { 20_000 } else { 2_000 };
    for _ in 0..100 {
        probe.sample_once();
    }
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(probe.sample_once());
    }
    let per = t.elapsed().as_nanos() as f64 / n as f64;
    out.line(
        "telemetry.sample_ns",
        "one sample (all sources, sysfs files on tmpfs/disk cache)",
        json!({"ns": per, "series": series}),
        &format!(
            "{:.1} µs for {series} series ({:.2}% of one core at the default 200 ms interval)",
            per / 1e3,
            per / 200e6 * 100.0
        ),
    );
    // Bytes per sample as stored: a real sampler's batch, archived as the trace writes it.
    let s = Sampler::start(root, Duration::from_millis(1), Instant::now());
    std::thread::sleep(Duration::from_millis(300));
    let batch = s.stop().expect("samples");
    let samples = batch.t_us.len();
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&batch)
        .expect("archive")
        .len()
        + 16;
    let per_sample = bytes as f64 / samples as f64;
    out.line(
        "telemetry.bytes_per_sample",
        "trace bytes per sample (one batch frame)",
        json!({"bytes": bytes, "samples": samples, "per_sample": per_sample}),
        &format!(
            "{per_sample:.0} B/sample ({samples} samples in a {bytes} B frame; {:.1} B per value)",
            per_sample / series as f64
        ),
    );
    energy(env, out);
}

/// The energy analysis of a long run (10 h polled every 100 ms, 10,000 requests in full mode):
/// every request's window is found by binary search, so it stays linear in the samples.
fn energy(env: &Env, out: &mut Report) {
    use rkbench::trace::{PowerSamples, PowerSource, RequestRecord, Trace};
    let (hours, requests) = if env.full {
        (10u64, 10_000u32)
    } else {
        (1, 1_000)
    };
    let n = hours * 36_000;
    let mut b = PowerSamples {
        unit: "uW".into(),
        counter_unit: "uJ".into(),
        ..Default::default()
    };
    let mut e = 0.0;
    for i in 0..n {
        let t = i * 100_000;
        let w = if (t / 1_000_000) % 4 == 0 { 2e6 } else { 5e6 };
        e += w * 0.1;
        b.requested_us.push(t);
        b.received_us.push(t + 50);
        b.value.push(w);
        b.counter.push(e.round());
        b.error.push(String::new());
    }
    let span = n * 100_000 / u64::from(requests);
    let reqs: Vec<RequestRecord> = (0..requests)
        .map(|i| RequestRecord {
            index: i,
            test_id: format!("t{}", i % 10),
            start_us: u64::from(i) * span,
            end_us: span * 3 / 4,
            ..Default::default()
        })
        .collect();
    let trace = Trace {
        path: String::new(),
        format_minor: 2,
        header: Default::default(),
        requests: reqs,
        telemetry: Vec::new(),
        end: None,
        frames: 0,
        file_len: 0,
        damage: None,
        impossible: Vec::new(),
        valid_len: 0,
        skipped_unknown: 0,
        journal_requests: 0,
        server: None,
        inputs: Vec::new(),
        templates: Vec::new(),
        preset: None,
        input_options: None,
        runtime: Default::default(),
        load: Default::default(),
        power: rkbench::trace::PowerRecords {
            source: Some(PowerSource {
                interval_us: 100_000,
                idle_to_us: 10_000_000,
                ..Default::default()
            }),
            samples: vec![b],
        },
    };
    let t = Instant::now();
    let a = std::hint::black_box(rkbench::stats::energy::of(&trace)).expect("energy");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(a.requests.len(), requests as usize);
    out.line(
        "energy.analysis_ms",
        "energy of a long run (stats::energy::of)",
        json!({"ms": ms, "samples": n, "requests": requests}),
        &format!("{ms:.1} ms for {n} samples and {requests} requests"),
    );
}
