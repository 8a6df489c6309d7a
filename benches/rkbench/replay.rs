//! Figure 3: replay throughput — load + validate + statistics over a corpus of synthetic traces,
//! beside a straightforward Python recompute from the JSON Lines equivalent; and `rkbench report`
//! over 1,000 traces.
use crate::jsonl;
use crate::util::{median, thousands, Env, Report};
use rkbench::stats::Summary;
use rkbench::trace::{
    reader, BuildInfo, Fact, ModelInfo, PerfStat, Record, RequestRecord, RunEnd, RunHeader,
    RunParams, RuntimeInfo, Status, SuiteInfo, TraceWriter,
};
use serde_json::{json, Value};
use std::hint::black_box;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn signed_unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

const WORDS: [&str; 24] = [
    " the",
    " model",
    " runs",
    " on",
    " NPU",
    " cores",
    " with",
    " memory",
    " bandwidth",
    " latency",
    " tokens",
    " per",
    " second",
    " and",
    " a",
    " context",
    " of",
    " quantized",
    " weights",
    " in",
    " Rockchip",
    " board",
    ",",
    ".",
];

pub(crate) fn header(i: usize) -> RunHeader {
    let fact = |k: &str, v: &str| Fact {
        key: k.into(),
        value: v.into(),
    };
    RunHeader {
        rkbench: BuildInfo {
            version: "0.1.0".into(),
            git_commit: "6fa6866a1b2c3d4e5f60718293a4b5c6d7e8f901".into(),
            git_state: "clean".into(),
            target: "aarch64-unknown-linux-gnu".into(),
            profile: "release".into(),
            rustc: "rustc 1.95.0".into(),
        },
        command_line: [
            "rkbench",
            "record",
            "--model",
            "/models/qwen3-4b.rkllm",
            "-q",
        ]
        .map(String::from)
        .to_vec(),
        hostname: format!("orangepi5-{i}"),
        started_unix_ms: 1_760_000_000_000 + i as u64 * 3_600_000,
        runtime: RuntimeInfo {
            lib_path: "/usr/lib/librkllmrt.so".into(),
            lib_size: 7_512_344,
            lib_sha256: "a".repeat(64),
            abi: "1.2.1".into(),
            version: "1.2.1".into(),
            evidence: "banner \"rkllm-runtime version: 1.2.1\" in file".into(),
        },
        model: ModelInfo {
            path: "/models/qwen3-4b.rkllm".into(),
            file_name: "qwen3-4b.rkllm".into(),
            size: 4_700_000_000,
            fingerprint: "b".repeat(64),
        },
        params: RunParams {
            max_context_len: 4096,
            max_new_tokens: 2048,
            top_k: 1,
            top_p: 0.9,
            temperature: 0.8,
            repeat_penalty: 1.1,
            enabled_cpus_num: 4,
            enabled_cpus_mask: 0xF0,
            n_batch: 1,
            skip_special_token: true,
            timeout_ms: 600_000,
            ..Default::default()
        },
        suite: SuiteInfo {
            name: "default".into(),
            source: "built-in:default".into(),
            sha256: "c".repeat(64),
            tests: 10,
        },
        board: vec![
            fact("board.model", "Orange Pi 5"),
            fact("cpu.policy0.governor", "schedutil"),
            fact("cpu.policy4.governor", "performance"),
            fact("cpu.policy6.governor", "performance"),
            fact("kernel", "6.1.43-rockchip-rk3588"),
            fact("mem.total_kb", "16337812"),
            fact("npu.driver", "0.9.8"),
            fact("npu.governor", "userspace"),
            fact("npu.max_freq", "1000000000"),
        ],
    }
}

/// One request with board-like timing: TTFT 2–5 s, ~313 ms per token with ±5 % jitter and a
/// slow drift with context, a stall now and then.
pub(crate) fn request(
    rng: &mut SplitMix,
    index: u32,
    start_us: u64,
    tokens: usize,
) -> RequestRecord {
    let mut r = RequestRecord {
        index,
        test_id: format!("completion_{:02}", index + 1),
        name: "Technical Explanation".into(),
        category: "completion".into(),
        prompt: "In the ten years since deep learning took off, the change that machine learning has brought to ordinary working life is".into(),
        max_new_tokens: 2048,
        status: Status::Ok,
        start_us,
        final_state: 2,
        ..Default::default()
    };
    let mut t = 0u64;
    for k in 0..tokens {
        let dt = if k == 0 {
            2_000_000 + rng.next() % 3_000_000
        } else {
            let base = 313_000.0 + 10.0 * (40 + k) as f64;
            let mut d = base * (1.0 + 0.05 * rng.signed_unit());
            if rng.next() % 200 == 0 {
                d *= 4.0;
            }
            d as u64
        };
        t += dt;
        r.tokens.token_dt_us.push(dt as u32);
        let w = (rng.next() % WORDS.len() as u64) as usize;
        r.tokens.token_ids.push(1000 + w as i32);
        r.tokens.text_len.push(WORDS[w].len() as u16);
        r.tokens.text.extend_from_slice(WORDS[w].as_bytes());
    }
    r.end_us = t + 900;
    r.return_us = t + 1_200;
    r.run_return = 0;
    r.perf = Some(PerfStat {
        prefill_time_ms: (r.tokens.token_dt_us.first().copied().unwrap_or(0) / 1000) as f32,
        prefill_tokens: 31,
        generate_time_ms: (t / 1000) as f32,
        generate_tokens: tokens as i32,
        memory_usage_mb: 5027.0,
    });
    r
}

/// Write the corpus: `files` traces of `reqs` requests of ~`tokens` tokens. Returns the paths
/// and each file's requests' JSON Lines twin in `jsonl_dir`.
fn corpus(
    dir: &Path,
    jsonl_dir: Option<&Path>,
    files: usize,
    reqs: u32,
    tokens: usize,
) -> (Vec<PathBuf>, u64, jsonl::Written) {
    std::fs::create_dir_all(dir).unwrap();
    if let Some(j) = jsonl_dir {
        std::fs::create_dir_all(j).unwrap();
    }
    let mut rng = SplitMix(42);
    let mut paths = Vec::with_capacity(files);
    let mut bytes = 0;
    let mut written = jsonl::Written::default();
    for f in 0..files {
        let path = dir.join(format!("run-{f:04}.rktrace"));
        let mut w = TraceWriter::create(&path).expect("create trace");
        w.append(&Record::Header(header(f))).unwrap();
        let mut start = 0u64;
        let mut all = Vec::with_capacity(reqs as usize);
        for i in 0..reqs {
            // ±20 % around the mean length, so requests differ.
            let n = tokens * 4 / 5 + (rng.next() % (tokens as u64 * 2 / 5 + 1)) as usize;
            let r = request(&mut rng, i, start, n);
            start += r.return_us + 50_000;
            w.append(&Record::Request(r.clone())).unwrap();
            all.push(r);
        }
        w.append(&Record::End(RunEnd {
            end_us: start,
            requests: reqs,
            ..Default::default()
        }))
        .unwrap();
        bytes += w.bytes();
        if let Some(j) = jsonl_dir {
            let file = std::fs::File::create(j.join(format!("run-{f:04}.jsonl"))).unwrap();
            let mut bw = BufWriter::new(file);
            written.add(jsonl::write(&all, 1, &mut bw).unwrap());
        }
        paths.push(path);
    }
    (paths, bytes, written)
}

/// One replay pass: read + validate + Summary of every trace. Returns (tokens, read s, stats s,
/// Σ TTFT ms, Σ ITL p50 ms).
fn replay_pass(paths: &[PathBuf]) -> (u64, f64, f64, f64, f64) {
    let (mut tokens, mut t_read, mut t_stats, mut ttft, mut p50) = (0u64, 0.0, 0.0, 0.0, 0.0);
    for p in paths {
        let t = Instant::now();
        let trace = reader::read(p).expect("read");
        let t1 = Instant::now();
        let s = Summary::of(&trace);
        let t2 = Instant::now();
        t_read += (t1 - t).as_secs_f64();
        t_stats += (t2 - t1).as_secs_f64();
        tokens += s.output_tokens as u64;
        for m in &s.metrics {
            ttft += m.ttft_ms.unwrap_or(0.0);
            p50 += m.itl.map_or(0.0, |i| i.p50);
        }
        black_box(&s);
    }
    (tokens, t_read, t_stats, ttft, p50)
}

/// The statistics replay.py computes (TTFT, decode rate, ITL p50/p90/p99/max per request), from
/// the validated traces, sorting integer µs deltas in one reused buffer: how fast the statistics
/// could be. Returns (best tokens/s, (Σ TTFT ms, Σ ITL p50 ms)).
fn lean_pass(paths: &[PathBuf], passes: usize) -> (f64, (f64, f64)) {
    fn pct(s: &[u32], p: f64) -> f64 {
        let h = (s.len() - 1) as f64 * p / 100.0;
        let lo = h as usize;
        let hi = (lo + 1).min(s.len() - 1);
        f64::from(s[lo]) + (h - lo as f64) * (f64::from(s[hi]) - f64::from(s[lo]))
    }
    let mut rates = Vec::new();
    let mut sums = (0.0, 0.0);
    let mut itl: Vec<u32> = Vec::new();
    for _ in 0..passes {
        let t = Instant::now();
        let (mut tokens, mut ttft, mut p50) = (0u64, 0.0, 0.0);
        for p in paths {
            let trace = reader::read(p).expect("read");
            for r in &trace.requests {
                let d = &r.tokens.token_dt_us;
                tokens += d.len() as u64;
                let Some(&first) = d.first() else { continue };
                ttft += f64::from(first) / 1e3;
                if d.len() < 2 {
                    continue;
                }
                let span: u64 = d[1..].iter().map(|&x| u64::from(x)).sum();
                black_box((d.len() - 1) as f64 / (span as f64 / 1e6));
                itl.clear();
                itl.extend_from_slice(&d[1..]);
                itl.sort_unstable();
                p50 += pct(&itl, 50.0) / 1e3;
                black_box((pct(&itl, 90.0), pct(&itl, 99.0), itl[itl.len() - 1]));
            }
        }
        rates.push(tokens as f64 / t.elapsed().as_secs_f64());
        sums = (ttft, p50);
    }
    (rates.iter().copied().fold(0.0, f64::max), sums)
}

pub fn run(env: &Env, out: &mut Report) {
    let files = env.size(1000, 20);
    let tokens_per_req = env.size(500, 100);
    let passes = env.size(5, 2);
    out.section(&format!(
        "3. Replay throughput ({files} traces × 10 requests × ~{tokens_per_req} tokens)"
    ));
    let dir = env.scratch.join("corpus");
    let jdir = env.scratch.join("corpus-jsonl");
    let t = Instant::now();
    let with_json = env.python.is_some();
    let (paths, bytes, jw) = corpus(
        &dir,
        with_json.then_some(jdir.as_path()),
        files,
        10,
        tokens_per_req,
    );
    out.note(&format!(
        "corpus written in {:.1} s: {} B of traces, {} B of JSON Lines",
        t.elapsed().as_secs_f64(),
        thousands(bytes),
        thousands(jw.bytes)
    ));
    let mut rates = Vec::new();
    let mut last = (0, 0.0, 0.0, 0.0, 0.0);
    let mut splits = Vec::new();
    for _ in 0..passes {
        let t = Instant::now();
        last = replay_pass(&paths);
        let s = t.elapsed().as_secs_f64();
        rates.push(last.0 as f64 / s);
        splits.push((last.1, last.2));
    }
    let (tokens, _, _, rust_ttft, rust_p50) = last;
    assert!(
        tokens >= if env.full { 5_000_000 } else { 1 },
        "corpus of ≥ 5 M tokens"
    );
    let best = rates.iter().copied().fold(0.0, f64::max);
    let med = median(&rates);
    let (read_s, stats_s) = splits
        .iter()
        .copied()
        .min_by(|a, b| (a.0 + a.1).total_cmp(&(b.0 + b.1)))
        .unwrap();
    out.line(
        "replay.tokens",
        "corpus",
        json!({"tokens": tokens, "files": files, "bytes": bytes}),
        &format!("{} tokens in {files} files", thousands(tokens)),
    );
    out.line(
        "replay.rust_tokens_per_s",
        "reader::read + Summary::of, one core",
        json!({"median": med, "best": best}),
        &format!(
            "{:.1} M tokens/s (best of {passes} passes; median {:.1} M; {:.0} MB/s of trace)",
            best / 1e6,
            med / 1e6,
            best * bytes as f64 / tokens as f64 / 1e6
        ),
    );
    out.line(
        "replay.split",
        "time split (best pass): read+validate / stats",
        json!({"read_s": read_s, "stats_s": stats_s}),
        &format!(
            "{:.0} ms / {:.0} ms ({:.0} M / {:.0} M tokens/s)",
            read_s * 1e3,
            stats_s * 1e3,
            tokens as f64 / read_s / 1e6,
            tokens as f64 / stats_s / 1e6
        ),
    );
    let (lean_rate, lean_sums) = lean_pass(&paths, passes);
    assert!(
        (lean_sums.0 - rust_ttft).abs() <= 1e-6 * rust_ttft.max(1.0)
            && (lean_sums.1 - rust_p50).abs() <= 1e-6 * rust_p50.max(1.0),
        "lean recompute agrees with Summary"
    );
    out.line(
        "replay.lean_tokens_per_s",
        "read + only what replay.py computes (u32 sort)",
        json!(lean_rate),
        &format!(
            "{:.1} M tokens/s (headroom estimate, not the report path)",
            lean_rate / 1e6
        ),
    );
    out.goal(
        "Replay throughput per core",
        format!("{:.1} M tok/s", best / 1e6),
        "≥ 50 M tokens/s",
        Some(best >= 50e6),
    );

    if let Some(py) = &env.python {
        let o = Command::new(py)
            .arg(env.root.join("benches/python/replay.py"))
            .arg(&jdir)
            .output()
            .expect("run python3");
        assert!(
            o.status.success(),
            "replay.py failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).expect("replay.py output");
        let py_tokens = v["tokens"].as_u64().unwrap();
        assert_eq!(py_tokens, tokens, "Python saw the same tokens");
        let py_s = v["elapsed_s"].as_f64().unwrap();
        let py_rate = py_tokens as f64 / py_s;
        // Both sides computed the same statistics: compare checksums.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(1.0);
        let agree = close(v["sum_ttft_ms"].as_f64().unwrap(), rust_ttft)
            && close(v["sum_itl_p50_ms"].as_f64().unwrap(), rust_p50);
        assert!(
            agree,
            "Python and Rust statistics differ: {v} vs {rust_ttft} / {rust_p50}"
        );
        out.line(
            "replay.python_tokens_per_s",
            "Python json + TTFT/decode/ITL percentiles",
            json!({"tokens_per_s": py_rate, "elapsed_s": py_s, "jsonl_bytes": jw.bytes}),
            &format!(
                "{:.2} M tokens/s ({py_s:.1} s; same TTFT and ITL p50 sums as Rust)",
                py_rate / 1e6
            ),
        );
        let ratio = best / py_rate;
        out.line(
            "replay.ratio",
            "Rust / Python",
            json!(ratio),
            &format!("{ratio:.0}×"),
        );
        out.goal(
            "Replay: Rust / Python recompute",
            format!("{ratio:.0}×"),
            "≥ 100×",
            Some(ratio >= 100.0),
        );
        let _ = std::fs::remove_dir_all(&jdir);
    } else {
        out.note("python3 not found: the Python replay comparison is skipped");
        out.goal(
            "Replay: Rust / Python recompute",
            "—".into(),
            "≥ 100×",
            None,
        );
    }

    // `rkbench report` over 1,000 traces (the binary, JSON to a directory).
    let report_dir = env.scratch.join("reports");
    let mut times = Vec::new();
    for _ in 0..env.size(3, 1) {
        let _ = std::fs::remove_dir_all(&report_dir);
        let t = Instant::now();
        let o = Command::new(&env.rkbench)
            .arg("report")
            .args(&paths)
            .args(["--format", "json", "-o"])
            .arg(&report_dir)
            .output()
            .expect("run rkbench report");
        times.push(t.elapsed().as_secs_f64());
        assert!(
            o.status.success(),
            "rkbench report failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let written = std::fs::read_dir(&report_dir).unwrap().count();
    assert_eq!(written, files, "one report per trace");
    let s = median(&times);
    out.line(
        "report.seconds",
        &format!("`rkbench report` {files} traces → JSON"),
        json!({"median_s": s, "runs": times}),
        &format!("{s:.2} s (median of {})", times.len()),
    );
    out.goal(
        &format!("`rkbench report` over {files} traces"),
        format!("{s:.2} s"),
        "< 2 s",
        Some(s < 2.0),
    );
    let _ = std::fs::remove_dir_all(&report_dir);
    let _ = std::fs::remove_dir_all(&dir);
}
