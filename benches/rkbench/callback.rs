//! Figure 1: what the Recorder costs per token in the runtime's callback, through the real FFI
//! trampoline, driven by the simulated runtime at zero delay; beside a Python ctypes recorder of
//! the same callback against the same library.
use crate::alloc;
use crate::util::{median, min, thousands, Env, Report};
use rkbench::record::recorder::Recorder;
use rkbench::runtime::{CallbackSink, InitParams, PerfStat, RunOptions, Runtime, Session};
use serde_json::{json, Value};
use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// The runtime's own per-token cost: a sink that does nothing (but looks at its arguments).
struct Noop;

impl CallbackSink for Noop {
    fn on_token(&self, token_id: i32, text: &[u8], waiting: bool) -> bool {
        black_box((token_id, text.len(), waiting));
        true
    }
    fn on_finish(&self, perf: Option<PerfStat>) {
        black_box(perf);
    }
    fn on_error(&self) {}
}

/// Zero-delay simulation with a fixed output length. `FAKE_RKLLM_TIME_SCALE=0` is refused by the
/// simulator (it must be > 0), so every simulated duration is set to 0 instead.
pub const ZERO_DELAY: [(&str, &str); 5] = [
    ("FAKE_RKLLM_PREFILL_BASE_MS", "0"),
    ("FAKE_RKLLM_PREFILL_PER_TOKEN_MS", "0"),
    ("FAKE_RKLLM_DECODE_MS", "0"),
    ("FAKE_RKLLM_SLOPE_MS_PER_1K", "0"),
    ("FAKE_RKLLM_JITTER", "0"),
];

fn init_params(model: &str) -> InitParams {
    InitParams {
        model_path: model.to_string(),
        max_context_len: 4096,
        max_new_tokens: -1,
        top_k: 1,
        n_keep: 0,
        top_p: 0.9,
        temperature: 0.8,
        repeat_penalty: 1.1,
        frequency_penalty: 0.0,
        presence_penalty: 0.0,
        mirostat: 0,
        mirostat_tau: 5.0,
        mirostat_eta: 0.1,
        skip_special_token: true,
        base_domain_id: 0,
        embed_flash: 0,
        enabled_cpus_num: 4,
        enabled_cpus_mask: 0xF0,
        n_batch: 1,
        ignore_eos_token: false,
    }
}

const PROMPT: &str = "Explain the NPU of the RK3588.";

pub fn run(env: &Env, out: &mut Report) {
    let tokens: usize = env.size(200_000, 20_000);
    let pairs: usize = env.size(21, 3);
    let py_reps: usize = env.size(7, 1);
    out.section(&format!(
        "1. Recorder cost per token in the callback path ({} tokens per run, {pairs} interleaved run pairs)",
        thousands(tokens as u64)
    ));
    // The simulator reads its settings at rkllm_init; set them before any session exists (and
    // before any other thread is started).
    for (k, v) in ZERO_DELAY {
        std::env::set_var(k, v);
    }
    std::env::set_var("FAKE_RKLLM_OUTPUT_TOKENS", tokens.to_string());
    std::env::remove_var("FAKE_RKLLM_TIME_SCALE");

    let rt = Runtime::load(&env.fake_lib, None, false).expect("load the simulated runtime");
    let params = init_params(&env.model.to_string_lossy());
    let opts = RunOptions {
        token_ids: None,
        prompt: PROMPT.into(),
        enable_thinking: false,
        keep_history: false,
        max_new_tokens: 0,
    };
    let mut noop = Session::init(&rt, &params, Arc::new(Noop)).expect("init (no-op sink)");
    let mut rec =
        Session::init(&rt, &params, Arc::new(Recorder::new())).expect("init (Recorder sink)");

    let mut run_noop = || {
        let t = Instant::now();
        let rc = noop.run(&opts).expect("run");
        assert_eq!(rc, 0);
        t.elapsed().as_nanos() as f64 / tokens as f64
    };
    let mut text_bytes = 0usize;
    let mut run_rec = || {
        let sink = rec.sink().clone();
        sink.begin(tokens, None, true);
        let a0 = alloc::snapshot();
        let t = Instant::now();
        let rc = rec.run(&opts).expect("run");
        let ns = t.elapsed().as_nanos() as f64 / tokens as f64;
        let allocs = alloc::snapshot().since(a0);
        assert_eq!(rc, 0);
        let cap = sink.finish();
        assert_eq!(cap.tokens.token_ids.len(), tokens, "every token recorded");
        assert_eq!(cap.final_state, 2, "FINISH recorded");
        text_bytes = cap.tokens.text.len();
        (ns, allocs)
    };
    // Warm-up (page faults of the reserved buffers, the simulator's first thread).
    run_noop();
    run_rec();
    let (mut base, mut with, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    let (mut allocs_cb, mut allocs_all) = (0u64, 0u64);
    for i in 0..pairs {
        let (b, (w, a)) = if i % 2 == 0 {
            let b = run_noop();
            (b, run_rec())
        } else {
            let w = run_rec();
            (run_noop(), w)
        };
        base.push(b);
        with.push(w);
        diff.push(w - b);
        allocs_cb += a.off_main;
        allocs_all += a.all;
    }
    drop(rec);
    drop(noop);
    let total_tokens = (tokens * pairs) as u64;
    let cost = median(&diff);
    let base_med = median(&base);
    out.line(
        "callback.runtime_ns_per_token",
        "runtime alone (no-op CallbackSink)",
        json!(base_med),
        &format!("{base_med:.1} ns/token (min {:.1})", min(&base)),
    );
    out.line(
        "callback.with_recorder_ns_per_token",
        "runtime + Recorder",
        json!(median(&with)),
        &format!("{:.1} ns/token (min {:.1})", median(&with), min(&with)),
    );
    out.line(
        "callback.recorder_ns_per_token",
        "Recorder cost (median of paired differences)",
        json!(cost),
        &format!(
            "{cost:.1} ns/token (min-vs-min {:.1})",
            min(&with) - min(&base)
        ),
    );
    out.goal(
        "Recorder cost per token (FFI callback path)",
        format!("{cost:.1} ns"),
        "≤ 200 ns/token",
        Some(cost <= 200.0),
    );

    // The Recorder alone, called directly (no runtime, no FFI): a less noisy view of the same
    // cost, and what one clock read costs on this machine (the floor of any recorder).
    let direct = direct_on_token(&Recorder::new(), tokens, env.size(7, 2));
    let direct_noop = direct_on_token(&Noop, tokens, env.size(7, 2));
    let direct_cost = direct - direct_noop;
    out.line(
        "callback.recorder_direct_ns_per_token",
        "Recorder::on_token called directly (no FFI)",
        json!(direct_cost),
        &format!("{direct_cost:.1} ns/token (best of runs, minus a no-op sink's {direct_noop:.1})"),
    );
    let clock = clock_read_ns();
    out.line(
        "callback.clock_read_ns",
        "one Instant::now() on this machine",
        json!(clock),
        &format!("{clock:.1} ns"),
    );

    let per_token = allocs_cb as f64 / total_tokens as f64;
    out.line(
        "callback.allocs_per_token",
        "heap allocations on the callback thread",
        json!({"allocations": allocs_cb, "tokens": total_tokens, "per_token": per_token}),
        &format!(
            "{allocs_cb} in {} tokens = {per_token} per token",
            thousands(total_tokens)
        ),
    );
    out.line(
        "callback.allocs_whole_process",
        "heap allocations, whole process, during runs",
        json!(allocs_all),
        &format!("{allocs_all} in {pairs} runs (rkbench side: the prompt CString per rkllm_run)"),
    );
    out.note(&format!(
        "text: {:.2} bytes/token from the simulator; Recorder::begin reserves 8 bytes/token",
        text_bytes as f64 / tokens as f64
    ));
    out.goal(
        "Heap allocations per token (steady state)",
        format!("{per_token}"),
        "0",
        Some(allocs_cb == 0),
    );

    // Python ctypes recorder of the same callback, same library, same zero-delay settings.
    let Some(py) = &env.python else {
        out.note("python3 not found: the ctypes comparison is skipped");
        out.goal(
            "Python/Rust recorder, each minus own no-op",
            "—".into(),
            "≥ 50×",
            None,
        );
        return;
    };
    let script = env.root.join("benches/python/ctypes_recorder.py");
    let o = Command::new(py)
        .arg(&script)
        .arg(&env.fake_lib)
        .arg(&env.model)
        .arg(tokens.to_string())
        .arg(py_reps.to_string())
        .output()
        .expect("run python3");
    assert!(
        o.status.success(),
        "ctypes recorder failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("ctypes recorder output");
    let floats = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .expect(k)
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (py_noop, py_rec) = (floats("noop_ns_per_token"), floats("record_ns_per_token"));
    let py_diff: Vec<f64> = py_rec.iter().zip(&py_noop).map(|(r, n)| r - n).collect();
    let py_own = median(&py_diff);
    let py_path = median(&py_rec) - base_med;
    let py_direct = v["direct_record_ns_per_token"].as_f64().unwrap()
        - v["direct_noop_ns_per_token"].as_f64().unwrap();
    out.line(
        "python.noop_ns_per_token",
        "Python: runtime + ctypes no-op callback",
        json!(median(&py_noop)),
        &format!(
            "{:.1} ns/token ({:.1} ns more than the Rust no-op sink)",
            median(&py_noop),
            median(&py_noop) - base_med
        ),
    );
    out.line(
        "python.record_ns_per_token",
        "Python: runtime + ctypes recording callback",
        json!(median(&py_rec)),
        &format!("{:.1} ns/token", median(&py_rec)),
    );
    out.line(
        "python.recorder_ns_per_token",
        "Python recorder cost (minus its own no-op)",
        json!(py_own),
        &format!(
            "{py_own:.1} ns/token (median of {py_reps} pairs) → {:.1}× the Rust Recorder",
            py_own / cost
        ),
    );
    out.line(
        "python.recorder_direct_ns_per_token",
        "Python callback body called directly",
        json!(py_direct),
        &format!(
            "{py_direct:.1} ns/token (minus a no-op body) → {:.1}× Recorder::on_token direct",
            py_direct / direct_cost
        ),
    );
    out.line(
        "python.path_ns_per_token",
        "Python callback path (minus the runtime alone)",
        json!(py_path),
        &format!(
            "{py_path:.1} ns/token → {:.1}× the Rust Recorder",
            py_path / cost
        ),
    );
    out.value("python.ratio_own_noop", json!(py_own / cost));
    out.value("python.ratio_direct", json!(py_direct / direct_cost));
    out.value("python.ratio_path", json!(py_path / cost));
    out.goal(
        "Python/Rust recorder, each minus own no-op",
        format!("{:.1}×", py_own / cost),
        "≥ 50×",
        Some(py_own / cost >= 50.0),
    );
    out.goal(
        "Python/Rust callback path over runtime",
        format!("{:.1}×", py_path / cost),
        "≥ 50×",
        Some(py_path / cost >= 50.0),
    );
}

/// `on_token` of `sink` in a loop on this thread with fake-like token texts; best ns/token.
fn direct_on_token<S: CallbackSink>(sink: &S, tokens: usize, reps: usize) -> f64 {
    const WORDS: [&[u8]; 8] = [
        b" the", b" model", b" runs", b" on", b" NPU", b",", b" cores", b".",
    ];
    let rec = (sink as &dyn std::any::Any).downcast_ref::<Recorder>();
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        if let Some(r) = rec {
            r.begin(tokens, None, true);
        }
        let t = Instant::now();
        for i in 0..tokens {
            black_box(sink.on_token(
                black_box(1000 + (i % 200) as i32),
                black_box(WORDS[i % WORDS.len()]),
                false,
            ));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / tokens as f64);
        if let Some(r) = rec {
            black_box(r.finish());
        }
    }
    best
}

/// ns per `Instant::now()` (best of a few loops).
fn clock_read_ns() -> f64 {
    let n = 1_000_000;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                black_box(Instant::now());
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}
