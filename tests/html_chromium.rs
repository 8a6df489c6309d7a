//! The HTML report in a real browser: a synthetic trace (written with the real `TraceWriter` and
//! read back with the real reader) whose model output tries to break out of `<pre>`, inject a
//! `<script>` and open Markdown fences is rendered to a file and loaded by headless Chromium.
//! The DOM Chromium builds must contain the charts and no injected element, and the browser
//! must log no console message at all (the page has no script, so any message means a
//! blocked resource, a CSP violation or an error).
//!
//! Chromium is optional locally (the test prints a note and passes without it); CI installs it
//! (`scripts/test.sh`). Set `RKBENCH_SCREENSHOT=/path.png` to keep a screenshot of the page.
use common::chromium::{self, page_problems};
use rkbench::report::{self, Format};
use rkbench::trace::{
    reader, BuildInfo, ModelInfo, PerfStat, Record, RequestRecord, RunEnd, RunHeader, RunParams,
    RuntimeInfo, Series, Status, SuiteInfo, TelemetryBatch, TokenColumns, TraceWriter,
};
use std::path::{Path, PathBuf};

mod common;
const HOSTILE: &str = "</pre><script>alert(1)</script>";

/// Deterministic pseudo-random numbers (no dependency, same trace on every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

/// One request: `texts` are the tokens; ITL around `itl_us` with jitter, a stall every
/// `stall_every` tokens (0 = none).
#[allow(clippy::too_many_arguments)]
fn request(
    rng: &mut Lcg,
    index: u32,
    id: &str,
    category: &str,
    start_us: u64,
    input_tokens: i32,
    texts: &[String],
    itl_us: u32,
    stall_every: usize,
) -> RequestRecord {
    let ttft = 40_000 + input_tokens as u32 * 900;
    let mut dts = Vec::new();
    for i in 0..texts.len() {
        let d = if i == 0 {
            ttft
        } else if stall_every > 0 && i % stall_every == 0 {
            itl_us * 5
        } else {
            // ITL grows slowly with context, plus ±4 % jitter.
            itl_us - itl_us / 24 + i as u32 * 12 + rng.next() % (itl_us / 12)
        };
        dts.push(d);
    }
    let total: u64 = dts.iter().map(|&d| u64::from(d)).sum();
    RequestRecord {
        index,
        test_id: id.into(),
        name: format!("{category} test {index}"),
        category: category.into(),
        prompt: format!("Explain item {index}. Answer in Markdown with a ```rust fence."),
        start_us,
        tokens: TokenColumns {
            token_dt_us: dts,
            token_ids: (0..texts.len() as i32).map(|i| 1000 + i * 7).collect(),
            waiting: if index == 3 { vec![2, 3] } else { Vec::new() },
            text_len: texts.iter().map(|t| t.len() as u16).collect(),
            text: texts.concat().into_bytes(),
        },
        end_us: total + 800,
        return_us: total + 900,
        final_state: 2,
        max_new_tokens: 512,
        perf: Some(PerfStat {
            prefill_time_ms: (ttft as f32) / 1000.0 - 3.0,
            prefill_tokens: input_tokens,
            generate_time_ms: (total - u64::from(ttft)) as f32 / 1000.0,
            generate_tokens: texts.len() as i32,
            memory_usage_mb: 4980.0 + index as f32,
        }),
        ..Default::default()
    }
}

fn words(rng: &mut Lcg, n: usize) -> Vec<String> {
    const W: [&str; 12] = [
        " the", " NPU", " runs", " int8", " kernels", ",", " and", " cache", "\n", " tokens",
        " fast", ".",
    ];
    (0..n)
        .map(|_| W[rng.next() as usize % W.len()].to_string())
        .collect()
}

/// A run of ten requests with telemetry that shows thermal throttling, written as a trace file.
fn write_trace(path: &Path) {
    let mut rng = Lcg(42);
    let mut w = TraceWriter::create(path).unwrap();
    w.append(&Record::Header(RunHeader {
        rkbench: BuildInfo {
            version: "0.1.0".into(),
            git_commit: "0123456789ab".into(),
            git_state: "clean".into(),
            target: "aarch64-unknown-linux-musl".into(),
            profile: "release".into(),
            rustc: "rustc 1.95.0".into(),
        },
        command_line: vec![
            "rkbench".into(),
            "record".into(),
            "--model".into(),
            "m.rkllm".into(),
        ],
        hostname: "rock-5b".into(),
        started_unix_ms: 1_764_000_000_000,
        runtime: RuntimeInfo {
            lib_path: "/usr/lib/librkllmrt.so".into(),
            abi: "1.2.1".into(),
            version: "1.2.1".into(),
            evidence: "banner".into(),
            ..Default::default()
        },
        model: ModelInfo {
            path: "/models/Qwen3-4B-w8a8.rkllm".into(),
            file_name: "Qwen3-4B-w8a8.rkllm".into(),
            size: 4_500_000_000,
            fingerprint: "ab".repeat(32),
        },
        params: RunParams {
            max_context_len: 4096,
            max_new_tokens: 512,
            top_k: 1,
            top_p: 0.95,
            temperature: 0.8,
            repeat_penalty: 1.1,
            enabled_cpus_num: 4,
            enabled_cpus_mask: 0xF0,
            ..Default::default()
        },
        suite: SuiteInfo {
            name: "synthetic".into(),
            source: "test".into(),
            tests: 10,
            ..Default::default()
        },
        board: vec![rkbench::trace::Fact {
            key: "board.model".into(),
            value: "Radxa ROCK 5B <rk3588>".into(),
        }],
    }))
    .unwrap();

    let mut t = 1_000_000u64;
    let mut reqs = Vec::new();
    let cats = ["completion", "coding", "planning", "creativity"];
    for i in 0..10u32 {
        let n = 60 + (rng.next() % 200) as usize;
        let mut texts = words(&mut rng, n);
        let (id, stall) = match i {
            2 => {
                texts.splice(
                    3..3,
                    [
                        "\n```\n".to_string(),
                        HOSTILE.to_string(),
                        "\u{1b}[31m\r".to_string(),
                        "\n```".to_string(),
                    ],
                );
                ("hostile</td><b>", 0)
            }
            4 => {
                texts.insert(0, "<think>".into());
                texts.insert(20, "</think>".into());
                ("thinking", 0)
            }
            6 => ("stalls", 25),
            _ => ("test", 0),
        };
        let id = format!("{id}_{i:02}");
        let input = 20 + 15 * i as i32 + (rng.next() % 30) as i32;
        let mut r = request(
            &mut rng,
            i,
            &id,
            cats[i as usize % cats.len()],
            t,
            input,
            &texts,
            95_000 + i * 1500,
            stall,
        );
        r.warmup = i == 0;
        if i == 8 {
            r.status = Status::Timeout;
            r.detail = "deadline 30s passed <abort>".into();
        }
        if i == 9 {
            r.status = Status::Error;
            r.tokens.token_dt_us.clear();
            r.tokens.token_ids.clear();
            r.tokens.text_len.clear();
            r.tokens.text.clear();
            r.perf = None;
            r.end_us = 1_500;
            r.detail = "rkllm_run returned -1".into();
        }
        t += r.end_us + 300_000;
        reqs.push(r);
    }
    for r in &reqs {
        w.append(&Record::Request(r.clone())).unwrap();
    }
    // Telemetry every 250 ms in batches of 40: the SoC heats up and the NPU clock drops.
    let end = t;
    let mut ts = 0u64;
    while ts < end {
        let t_us: Vec<u64> = (0..40)
            .map(|k| ts + k * 250_000)
            .filter(|&x| x < end)
            .collect();
        let temp = |x: u64| 45_000 + (x / 1_000_000) as i64 * 100;
        let freq = |x: u64| {
            if temp(x) > 58_000 {
                700_000_000
            } else {
                1_000_000_000
            }
        };
        let busy = |x: u64| {
            reqs.iter()
                .any(|r| x >= r.start_us && x <= r.start_us + r.end_us)
        };
        let series = vec![
            Series {
                key: "npu.freq".into(),
                unit: "Hz".into(),
                values: t_us.iter().map(|&x| freq(x)).collect(),
            },
            Series {
                key: "thermal.soc-thermal".into(),
                unit: "m°C".into(),
                values: t_us
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| if k == 7 { i64::MIN } else { temp(x) })
                    .collect(),
            },
            Series {
                key: "thermal.npu-thermal".into(),
                unit: "m°C".into(),
                values: t_us.iter().map(|&x| temp(x) + 1500).collect(),
            },
            Series {
                key: "cpu.policy4.freq".into(),
                unit: "kHz".into(),
                values: t_us.iter().map(|&x| freq(x) / 500).collect(),
            },
            Series {
                key: "proc.cpu".into(),
                unit: "ticks".into(),
                // Cumulative utime + stime: about 60 % of one CPU while a request runs.
                values: t_us.iter().map(|&x| (x / 10_000) as i64 * 6 / 10).collect(),
            },
            Series {
                key: "proc.rss".into(),
                unit: "kB".into(),
                values: t_us
                    .iter()
                    .map(|&x| 5_100_000 + (x / 1_000_000) as i64 * 200)
                    .collect(),
            },
            Series {
                key: "npu.load.core0".into(),
                unit: "%".into(),
                values: t_us.iter().map(|&x| if busy(x) { 92 } else { 3 }).collect(),
            },
            Series {
                key: "npu.load.core1".into(),
                unit: "%".into(),
                values: t_us.iter().map(|&x| if busy(x) { 88 } else { 2 }).collect(),
            },
        ];
        w.append(&Record::Telemetry(TelemetryBatch { t_us, series }))
            .unwrap();
        ts += 40 * 250_000;
    }
    w.append(&Record::End(RunEnd {
        end_us: end,
        requests: 10,
        ..Default::default()
    }))
    .unwrap();
    w.sync().unwrap();
}

#[test]
fn html_report_renders_in_chromium() {
    let dir = common::tempdir("html-chromium");
    let trace_path = dir.join("synthetic.rktrace");
    write_trace(&trace_path);
    let trace = reader::read(&trace_path).unwrap();
    assert!(trace.damage.is_none());
    let html = report::render(&trace, Format::Html);
    assert_eq!(html, report::render(&trace, Format::Html), "deterministic");
    assert!(!html.contains(HOSTILE) && !html.contains("<script"));
    assert!(html.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    let file = dir.join("report.html");
    std::fs::write(&file, &html).unwrap();

    if !chromium::available() {
        return;
    }
    let url = format!("file://{}", file.display());
    let out = chromium::run(&dir.join("profile"), &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let charts = dom.matches("class=\"chart\"").count();
    // Decode rate, ITL histogram, TTFT scatter, and telemetry in MHz, °C, %, CPU %, MB.
    assert_eq!(charts, 8, "chart svgs in the DOM");
    for id in [
        "chart-decode-rate",
        "chart-itl-histogram",
        "chart-ttft-input",
        "chart-telemetry-0",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(!dom.contains("<script"), "a script element reached the DOM");
    assert!(
        !dom.contains("<b>"),
        "markup from a test id reached the DOM"
    );
    // The hostile text is there, as text, inside its <pre>.
    assert!(dom.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(dom.matches("<pre>").count(), 2 * trace.requests.len());
    let problems = page_problems(&stderr);
    assert!(problems.is_empty(), "browser console: {problems:#?}");

    let shot = dir.join("report.png");
    let out = chromium::run(
        &dir.join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
        &url,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium screenshot failed: {stderr}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    if let Some(keep) = std::env::var_os("RKBENCH_SCREENSHOT") {
        std::fs::copy(&shot, &keep).unwrap();
        println!("screenshot: {}", PathBuf::from(keep).display());
    }
}
