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
}
