//! `cargo bench --bench rkbench`: rkbench's performance figures, each beside its comparison and
//! goal (docs/PERFORMANCE.md). Without `--bench` (e.g. `cargo test --benches`) or with
//! `RKBENCH_BENCH_QUICK=1` it runs everything at small sizes as a smoke test.
//!
//! 1. Recorder cost per token through the real FFI callback path (simulated runtime, zero
//!    delay), heap allocations per token, and a Python ctypes recorder of the same callback.
//! 2. Trace bytes per token and a realistic run's file beside the same data as JSON Lines.
//! 3. Replay throughput (read + validate + statistics) beside a Python recompute from JSON
//!    Lines, and `rkbench report` over 1,000 traces.
//! 6. The fleet view: `rkbench report DIR` over 10,000 traces, time and peak memory.
//! 7. The HTTP backend: rkbench's cost per chunk read, and per message of Rockchip's cumulative
//!    `/rkllm_chat` stream.
//! 8. A request of a million chunks (Rockchip's one character per chunk): capture, a checkpoint,
//!    the per-token view and the per-chunk CSV, each linear in the chunks.
//! 11. Under load: the client's send lateness on an open-loop schedule and its CPU per chunk
//!     with many streams in flight.
//!
//! Environment: `RKBENCH_FAKE_LIB` (a prebuilt simulated runtime, 1.2.1 ABI; default: built here
//! in release mode), `RKBENCH_BENCH_OUT` (results JSON path).
mod alloc;
mod callback;
mod fleet;
mod http;
mod jsonl;
mod load;
mod replay;
mod size;
mod telemetry;
mod util;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

fn main() {
    alloc::mark_main_thread();
    let env = util::Env::new();
    let mut report = util::Report::default();
    println!(
        "rkbench benchmarks ({} mode){}",
        if env.full { "full" } else { "quick" },
        env.python
            .as_ref()
            .map(|p| format!(", comparisons with {p}"))
            .unwrap_or_default()
    );
    // RKBENCH_BENCH_ONLY=callback|size|replay|telemetry|fleet|http|long runs one section (e.g. while tuning it).
    let only = std::env::var("RKBENCH_BENCH_ONLY").unwrap_or_default();
    let want = |s: &str| only.is_empty() || only == s;
    if want("callback") {
        callback::run(&env, &mut report);
    }
    if want("size") {
        size::run(&env, &mut report);
    }
    if want("replay") {
        replay::run(&env, &mut report);
    }
    if want("telemetry") {
        telemetry::run(&env, &mut report);
    }
    if want("fleet") {
        fleet::run(&env, &mut report);
    }
    if want("http") {
        http::run(&env, &mut report);
    }
    if want("long") {
        http::long_stream(&env, &mut report);
    }
    if want("load") {
        load::run(&env, &mut report);
    }
    report.finish(&env);
}
