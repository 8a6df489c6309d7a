//! Figure 6: the fleet view — `rkbench report DIR` over 10,000 traces of 10 requests from
//! several boards, runtimes and models (not a sweep). Traces stream through `stats::fleet`
//! (read, reduce to the group's per-request figures, drop), so time grows with the traces and
//! memory only with the per-request figures kept for the medians.
use crate::replay::{header, request, SplitMix};
use crate::util::{median, thousands, Env, Report};
use rkbench::stats::fleet::Fleet;
use rkbench::trace::{reader, Fact, Record, RunEnd, TraceWriter};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Two boards × two runtime releases × two models: 8 groups.
fn corpus(dir: &Path, files: usize, tokens: usize) -> (Vec<PathBuf>, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = SplitMix(7);
    let (mut paths, mut bytes) = (Vec::with_capacity(files), 0);
    for f in 0..files {
        let mut h = header(f);
        let (board, compatible) = if f % 2 == 0 {
            ("Orange Pi 5", "xunlong,orangepi-5 rockchip,rk3588")
        } else {
            ("Radxa ROCK 5B", "radxa,rock-5b rockchip,rk3588")
        };
        h.board.retain(|x| x.key != "board.model");
        h.board.push(Fact {
            key: "board.model".into(),
            value: board.into(),
        });
        h.board.push(Fact {
            key: "board.compatible".into(),
            value: compatible.into(),
        });
        h.board.sort();
        h.runtime.version = if f / 2 % 2 == 0 { "1.2.1" } else { "1.2.3" }.into();
        if f / 4 % 2 == 1 {
            h.model.file_name = "qwen3-1.7b.rkllm".into();
            h.model.fingerprint = "d".repeat(64);
        }
        let path = dir.join(format!("{:02}/run-{f:05}.rktrace", f % 16));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut w = TraceWriter::create(&path).expect("create trace");
        w.append(&Record::Header(h)).unwrap();
        let mut start = 0;
        for i in 0..10 {
            let n = tokens * 4 / 5 + (rng.next() % (tokens as u64 * 2 / 5 + 1)) as usize;
            let r = request(&mut rng, i, start, n);
            start += r.return_us + 50_000;
            w.append(&Record::Request(r)).unwrap();
        }
        w.append(&Record::End(RunEnd {
            end_us: start,
            requests: 10,
            ..Default::default()
        }))
        .unwrap();
        bytes += w.bytes();
        paths.push(path);
    }
    (paths, bytes)
}

/// `rkbench report DIR --format json` wall time (s) and peak RSS (kB, from GNU time if present).
fn report(env: &Env, dir: &Path, out: &Path, jobs: usize) -> (f64, Option<u64>) {
    let gnu_time = Path::new("/usr/bin/time");
    let mut c = if gnu_time.is_file() {
        let mut c = Command::new(gnu_time);
        c.args(["-f", "%M"]).arg(&env.rkbench);
        c
    } else {
        Command::new(&env.rkbench)
    };
    c.arg("report")
        .arg(dir)
        .args(["--format", "json", "--jobs", &jobs.to_string(), "-o"])
        .arg(out);
    let t = Instant::now();
    let o = c.output().expect("run rkbench report");
    let s = t.elapsed().as_secs_f64();
    assert!(
        o.status.success(),
        "rkbench report DIR failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rss = String::from_utf8_lossy(&o.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok());
    (s, rss)
}

pub fn run(env: &Env, out: &mut Report) {
    let files = env.size(10_000, 40);
    let tokens = env.size(100, 20);
    out.section(&format!(
        "6. Fleet view ({files} traces × 10 requests × ~{tokens} tokens, 8 groups)"
    ));
    let dir = env.scratch.join("fleet");
    let t = Instant::now();
    let (paths, bytes) = corpus(&dir, files, tokens);
    out.note(&format!(
        "corpus written in {:.1} s: {} B in {files} traces",
        t.elapsed().as_secs_f64(),
        thousands(bytes)
    ));

    // In process, one thread: read + validate + reduce every trace.
    let t = Instant::now();
    let mut fleet = Fleet::default();
    for p in &paths {
        let c = reader::read_checked(p).expect("read");
        fleet.add(&p.display().to_string(), c.header_sha256, &c.trace);
    }
    let table = fleet.finish();
    let in_process = t.elapsed().as_secs_f64();
    assert_eq!(table.traces, files);
    assert_eq!(table.rows.len(), 8);
    out.line(
        "fleet.in_process_s",
        "read + reduce every trace (Fleet::add), one thread",
        json!(in_process),
        &format!(
            "{in_process:.2} s ({:.0} traces/s)",
            files as f64 / in_process
        ),
    );

    // The binary, as a user runs it: median of 3, one and two threads.
    let runs = env.size(3, 1);
    let json_out = env.scratch.join("fleet.json");
    let mut results = Vec::new();
    for jobs in [1, 2] {
        let mut times = Vec::new();
        let mut rss = None;
        for _ in 0..runs {
            let (s, r) = report(env, &dir, &json_out, jobs);
            times.push(s);
            rss = rss.max(r);
        }
        let med = median(&times);
        out.line(
            &format!("fleet.report_s_jobs{jobs}"),
            &format!("`rkbench report DIR --format json --jobs {jobs}`"),
            json!({"median_s": med, "peak_rss_kb": rss}),
            &format!(
                "{med:.2} s (median of {runs}), peak RSS {}",
                rss.map_or("not measured".into(), |k| format!(
                    "{:.1} MB",
                    k as f64 / 1024.0
                ))
            ),
        );
        results.push((med, rss));
    }
    // Memory bounded by what is rendered: a tenth of the traces in a directory of its own.
    let small = env.scratch.join("fleet-small");
    std::fs::create_dir_all(&small).unwrap();
    for p in paths.iter().take(files / 10) {
        std::fs::copy(p, small.join(p.file_name().unwrap())).unwrap();
    }
    let (_, small_rss) = report(env, &small, &json_out, 1);
    out.line(
        "fleet.peak_rss_tenth_kb",
        &format!("peak RSS over {} traces, for comparison", files / 10),
        json!(small_rss),
        &small_rss.map_or("not measured".into(), |k| {
            format!("{:.1} MB", k as f64 / 1024.0)
        }),
    );
    let best = results.iter().map(|r| r.0).fold(f64::MAX, f64::min);
    out.goal(
        &format!("Fleet report over {files} traces × 10 requests"),
        format!("{best:.2} s"),
        "a few seconds",
        Some(best < 5.0),
    );
}
