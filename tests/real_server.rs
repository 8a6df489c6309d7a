//! `rkbench record --server` against real servers with a tiny random-weight GGUF, both started
//! by `scripts/real-server.sh` (CI runs it as its own step): llama-cpp-python's
//! OpenAI-compatible server (RKBENCH_REAL_SERVER) and llama.cpp's own `llama-server`
//! (RKBENCH_REAL_LLAMA_SERVER), built from the same compile. Ignored in the plain test run: they
//! need those servers.
mod common;

use rkbench::http::client::{self, Url};
use rkbench::http::server::non_streaming;
use serde_json::Value;
use std::time::Duration;

fn server() -> String {
    url_of("RKBENCH_REAL_SERVER")
}

fn llama_server() -> String {
    url_of("RKBENCH_REAL_LLAMA_SERVER")
}

fn url_of(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run scripts/real-server.sh, which starts the servers")
    })
}

/// The server's own output-token count for `r`'s body sent again without streaming.
fn usage_of(url: &str, r: &rkbench::trace::server::ServerRequest) -> u64 {
    let u = Url::parse(url).unwrap();
    let (status, body) = client::fetch(
        &u,
        "POST",
        &r.endpoint,
        Some(&non_streaming(&r.body)),
        Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["usage"]["completion_tokens"].as_u64().unwrap()
}

/// `record -q --server URL --model tiny --suite SUITE EXTRA… --out OUT` (with telemetry: this
/// server is a real process to watch); the trace it wrote.
fn record(url: &str, suite: &str, extra: &[&str], out: &std::path::Path) -> rkbench::trace::Trace {
    let mut args = vec![
        "record", "-q", "--server", url, "--model", "tiny", "--suite", suite,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = common::run(&args, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    common::read_trace(out)
}

#[test]
#[ignore = "needs the real server started by scripts/real-server.sh"]
fn quick_suite_counts_equal_the_servers_own_usage() {
    let url = server();
    let dir = common::tempdir("real-quick");
    let out = dir.join("quick.rktrace");
    let t = record(&url, "quick", &[], &out);
    let s = t.server.as_ref().unwrap();
    assert_eq!(
        s.run.kind, "generic",
        "llama-cpp-python has no identifying route"
    );
    assert!(
        s.run.server_pid > 0,
        "found from the listening socket: {}",
        s.run.server_pid_source
    );
    assert_eq!(s.requests.len(), 3);
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}: {}", r.test_id, r.detail);
        assert!(r.chunks() > 0);
        // The same body again without streaming: the server's own count must equal ours.
        let usage = usage_of(&url, r);
        assert_eq!(
            r.chunk_token_total(),
            usage,
            "{}: {} tokens from chunks ({}), server usage {usage}",
            r.test_id,
            r.chunk_token_total(),
            r.count_source.as_str()
        );
        let view = t.requests.iter().find(|x| x.index == r.index).unwrap();
        assert_eq!(view.tokens.len() as u64, usage);
    }
    // A report of the real trace renders.
    let o = common::run(&["report", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
#[ignore = "needs the real server started by scripts/real-server.sh"]
fn deadline_mid_stream_keeps_chunks_and_the_next_request_waits_for_idle() {
    deadline_mid_stream(&server(), "real-deadline", "CPU quiet", false);
}

/// A deadline halfway through an answer gives `timeout` with its chunks kept, and the next
/// request waits for the server to be idle by `idle` (how that wait ended, as recorded). With
/// `prompt_counted`, the server counted the cut request's prompt in its chunks.
fn deadline_mid_stream(url: &str, name: &str, idle: &str, prompt_counted: bool) {
    let url = url.to_string();
    let dir = common::tempdir(name);
    let suite = |name: &str, timeout: Option<Duration>| {
        let p = dir.join(format!("{name}.json"));
        let timeout = timeout
            .map(|d| format!(r#","timeout":"{}ms""#, d.as_millis().max(1)))
            .unwrap_or_default();
        std::fs::write(
            &p,
            format!(r#"{{"name":"{name}","tests":[{{"id":"long","prompt":"Write a long story.","max_new_tokens":200{timeout}}}]}}"#),
        )
        .unwrap();
        p
    };
    // How long the whole answer takes on this machine now (greedy, so the same work each time)…
    let full = dir.join("full.rktrace");
    let t = record(&url, suite("full", None).to_str().unwrap(), &[], &full);
    let whole = &t.server.as_ref().unwrap().requests[0];
    assert_eq!(whole.status.as_str(), "ok", "{}", whole.detail);
    let total = whole.chunk_token_total();
    let first = (0..whole.chunks())
        .find(|&i| whole.kind(i).carries_tokens())
        .unwrap();
    let (t_first, t_last) = (whole.chunk_us[first], *whole.chunk_us.last().unwrap());
    // …then a deadline halfway through the decoding. The machine's load can change between
    // runs (CI shares it with nothing, a developer's machine with everything), so a deadline
    // that the answer beat is halved and one that came before the first chunk doubled.
    let mut deadline = Duration::from_micros(t_first + (t_last - t_first) / 2);
    let mut tried = Vec::new();
    for attempt in 0..6 {
        let out = dir.join(format!("cut{attempt}.rktrace"));
        let cut = suite(&format!("cut{attempt}"), Some(deadline));
        let t = record(&url, cut.to_str().unwrap(), &["--repeat", "2"], &out);
        let s = t.server.as_ref().unwrap();
        assert_eq!(s.requests.len(), 2);
        let first = &s.requests[0];
        let tokens = first.chunk_token_total();
        tried.push(format!(
            "{deadline:?}: {} with {tokens} tokens",
            first.status.as_str()
        ));
        if first.status.as_str() == "timeout" && tokens > 0 && tokens < total {
            // Partial chunks kept, no finish; the next request waited for the server process.
            assert!(first.finish_reason.is_empty());
            assert_eq!(first.prompt_tokens.is_some(), prompt_counted, "{first:?}");
            assert!(first.chunks() > tokens as usize / 4);
            let second = &s.requests[1];
            assert!(
                second.idle_wait.contains(idle),
                "the idle wait ended by {idle}: {}",
                second.idle_wait
            );
            return;
        }
        assert!(
            matches!(first.status.as_str(), "ok" | "timeout"),
            "{}: {}",
            first.status.as_str(),
            first.detail
        );
        deadline = if first.status.as_str() == "ok" || tokens >= total {
            deadline / 2
        } else {
            deadline * 2
        };
    }
    panic!("no deadline cut the stream mid-way: {tried:?}");
}

#[test]
#[ignore = "needs llama-server started by scripts/real-server.sh"]
fn llama_server_counts_every_chunk_with_no_prompt_cache_and_plausible_timings() {
    let url = llama_server();
    let dir = common::tempdir("real-llama-server");
    let out = dir.join("quick.rktrace");
    // Repeats send the same prompts again: without `cache_prompt: false` the server would
    // answer them from its prompt cache.
    let t = record(&url, "quick", &["--repeat", "2"], &out);
    let s = t.server.as_ref().unwrap();
    assert_eq!(
        s.run.kind, "llama-server",
        "detected by /props: {:?}",
        s.run.evidence
    );
    assert!(!s.run.version.is_empty(), "build_info recorded");
    assert!(
        s.run.idle_method.contains("/slots"),
        "{}",
        s.run.idle_method
    );
    assert_eq!(s.requests.len(), 6);
    for r in &s.requests {
        let who = format!("{} #{}", r.test_id, r.repeat_index);
        assert_eq!(r.status.as_str(), "ok", "{who}: {}", r.detail);
        // Its running count on every text chunk: exact tokens per chunk.
        assert_eq!(r.count_source.as_str(), "server-per-chunk", "{who}");
        assert_eq!(r.unattributed, 0, "{who}");
        assert_eq!(r.chunk_token_total(), usage_of(&url, r), "{who}");
        let field = |f: &str| r.timings.iter().find(|t| t.field == f).map(|t| t.raw);
        assert_eq!(
            field("timings.cache_n"),
            Some(0.0),
            "{who}: prompt cache used"
        );
        assert_eq!(
            field("timings.predicted_n"),
            Some(r.chunk_token_total() as f64),
            "{who}"
        );
        assert!(
            r.idle_wait.contains("/slots idle"),
            "{who}: {}",
            r.idle_wait
        );
    }
    // The report: no unit error on a real llama-server, TTFT split by its own prompt time.
    let report = common::json_report(&out);
    for r in report["server"]["requests"].as_array().unwrap() {
        for c in r["timings"].as_array().unwrap() {
            assert!(c["unit_error"].is_null(), "{}: {c}", r["id"]);
        }
        assert!(!r["prefill_split"].is_null(), "{}", r["id"]);
    }
}

#[test]
#[ignore = "needs llama-server started by scripts/real-server.sh"]
fn llama_server_deadline_mid_stream_and_the_slots_wait() {
    deadline_mid_stream(&llama_server(), "real-llama-deadline", "/slots idle", true);
}

#[test]
#[ignore = "needs llama-server started by scripts/real-server.sh"]
fn llama_server_as_a_generic_server_reuses_its_prompt_cache_and_the_report_says_so() {
    // Told it is a generic OpenAI server, rkbench sends no `cache_prompt: false` (and asks for
    // `continuous_usage_stats`, which llama-server must accept): repeats share the prompt's
    // prefix, the server takes it from its cache, and the report must not pass that off.
    let url = llama_server();
    let dir = common::tempdir("real-llama-generic");
    let out = dir.join("generic.rktrace");
    let t = record(
        &url,
        "quick",
        &["--server-kind", "generic", "--repeat", "2"],
        &out,
    );
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.run.kind, "generic");
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}: {}", r.test_id, r.detail);
        assert!(!r.body.contains("cache_prompt"), "{}", r.body);
    }
    let report = common::json_report(&out);
    let w = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "server-prompt-cache")
        .unwrap_or_else(|| panic!("no prompt-cache warning: {}", report["warnings"]));
    assert_eq!(w["invalidates_comparison"], true);
    assert_eq!(
        report["verdict"]["result"], "INVALID",
        "{}",
        report["verdict"]
    );
}

#[test]
#[ignore = "needs llama-server started by scripts/real-server.sh"]
fn llama_server_takes_an_exact_token_input_as_ids_on_v1_completions() {
    let url = llama_server();
    let dir = common::tempdir("real-llama-server-tokens");
    let out = dir.join("rockchip.rktrace");
    // Rockchip's method: 128 token ids in, 64 tokens out (ignore_eos with the cap).
    // The suite's own 10 measured requests (--repeat multiplies them), no warm-up.
    let t = record(&url, "rockchip", &["--warmup", "0"], &out);
    let s = t.server.as_ref().unwrap();
    assert_eq!(s.run.endpoint, "/v1/completions");
    assert_eq!(s.requests.len(), 10);
    for r in &s.requests {
        assert_eq!(r.status.as_str(), "ok", "{}", r.detail);
        assert!(r.body.contains("\"prompt\":[1000,1001,"), "{}", r.body);
        // The server's own prompt count: the 128 ids, nothing added (no BOS, no template).
        assert_eq!(r.prompt_tokens, Some(128), "{:?}", r.timings);
        assert_eq!(
            r.server_total.unwrap_or(r.chunk_token_total()),
            64,
            "{:?}",
            r.timings
        );
    }
}

/// llama-server's Prometheus counter `name` (`--metrics`).
fn metric(url: &str, name: &str) -> f64 {
    let u = Url::parse(url).unwrap();
    let (status, body) =
        client::fetch(&u, "GET", "/metrics", None, Duration::from_secs(10)).unwrap();
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics: {body}"))
}

#[test]
#[ignore = "needs the two-slot llama-server started by scripts/real-server.sh"]
fn llama_server_with_two_slots_under_closed_loop_load() {
    let url = url_of("RKBENCH_REAL_LLAMA_SERVER_PARALLEL");
    let dir = common::tempdir("real-llama-parallel");
    // Per level, over three recordings: the best output rate (a tiny model decodes a token in
    // well under a millisecond, so one scheduling hiccup of a busy machine would decide a single
    // recording), the lowest mean TTFT, and tokens per llama_decode() call by the server's own
    // counters (two slots decoding together put two tokens in one call).
    let mut levels = Vec::new();
    for n in ["1", "2", "4"] {
        let (mut best, mut ttft, mut tokens, mut decodes) = (0.0f64, f64::MAX, 0.0, 0.0);
        for trial in 0..3 {
            let out = dir.join(format!("c{n}-{trial}.rktrace"));
            let (p0, d0) = (
                metric(&url, "llamacpp:tokens_predicted_total"),
                metric(&url, "llamacpp:n_decode_total"),
            );
            let t = record(
                &url,
                "quick",
                &[
                    "--concurrency",
                    n,
                    "--repeat",
                    "2",
                    "--warmup",
                    "1",
                    "--max-new-tokens",
                    "64",
                ],
                &out,
            );
            let (p1, d1) = (
                metric(&url, "llamacpp:tokens_predicted_total"),
                metric(&url, "llamacpp:n_decode_total"),
            );
            let s = t.server.as_ref().unwrap();
            assert_eq!(s.requests.len(), 7);
            assert!(
                s.requests.iter().all(|r| r.status.as_str() == "ok"),
                "level {n}"
            );
            // What the server says it generated is what the trace counted, token for token.
            let counted: u64 = s.requests.iter().map(|r| r.chunk_token_total()).sum();
            assert_eq!(counted as f64, p1 - p0, "level {n}: trace vs /metrics");
            let warm: u64 = s
                .requests
                .iter()
                .filter(|r| r.warmup)
                .map(|r| r.chunk_token_total())
                .sum();
            tokens += (counted - warm) as f64;
            decodes += d1 - d0 - warm as f64;
            let tp =
                rkbench::stats::throughput::of(&t.requests, t.server.as_ref(), &Default::default());
            best = best.max(tp.output_tok_per_s.unwrap());
            let m: Vec<f64> = t
                .requests
                .iter()
                .filter(|r| !r.warmup)
                .map(|r| f64::from(r.tokens.token_dt_us[0]))
                .collect();
            ttft = ttft.min(m.iter().sum::<f64>() / m.len() as f64);
        }
        levels.push((best, ttft, tokens / decodes));
    }
    eprintln!("llama-server --parallel 2 at 1/2/4 streams: (output tok/s, mean TTFT us, tokens per decode) {levels:?}");
    let ((x1, _, b1), (x2, t2, b2), (_, t4, _)) = (levels[0], levels[1], levels[2]);
    assert!(
        b1 < 1.1 && b2 > 1.3,
        "the server batched two streams: tokens per decode {b1:.2} -> {b2:.2}"
    );
    assert!(
        x2 > 1.2 * x1,
        "two slots, two streams: {x1:.1} -> {x2:.1} tok/s"
    );
    assert!(
        t4 > t2,
        "four streams on two slots queue: mean TTFT {t2:.0} -> {t4:.0} us"
    );
}

#[test]
#[ignore = "needs the two-slot llama-server started by scripts/real-server.sh"]
fn llama_server_under_an_open_loop_poisson_schedule() {
    let url = url_of("RKBENCH_REAL_LLAMA_SERVER_PARALLEL");
    let dir = common::tempdir("real-llama-rate");
    let flags = [
        "--rate",
        "8",
        "--arrivals",
        "poisson",
        "--seed",
        "11",
        "--max-concurrency",
        "4",
        "--repeat",
        "2",
        "--warmup",
        "1",
        "--max-new-tokens",
        "32",
    ];
    let mut schedules = Vec::new();
    for trial in 0..2 {
        let out = dir.join(format!("rate-{trial}.rktrace"));
        let before = metric(&url, "llamacpp:tokens_predicted_total");
        let t = record(&url, "quick", &flags, &out);
        let after = metric(&url, "llamacpp:tokens_predicted_total");
        let s = t.server.as_ref().unwrap();
        assert_eq!(s.requests.len(), 7);
        assert!(s.requests.iter().all(|r| r.status.as_str() == "ok"));
        let counted: u64 = s.requests.iter().map(|r| r.chunk_token_total()).sum();
        assert_eq!(counted as f64, after - before, "trace vs /metrics");
        let l = t.load.run.as_ref().unwrap();
        assert_eq!(
            (l.mode.as_str(), l.rate_rps, l.arrivals.as_str(), l.seed),
            ("rate", 8.0, "poisson", 11)
        );
        // The measured requests' intended send times, from the level's start: the seed's.
        let sched: Vec<i64> = t
            .requests
            .iter()
            .filter(|r| !r.warmup)
            .map(|r| {
                let sent = t.load.of(r.index).expect("a send record");
                assert!(sent.sent_us >= sent.scheduled_us, "{sent:?}");
                sent.scheduled_us as i64 - l.start_us as i64
            })
            .collect();
        assert_eq!(sched.len(), 6);
        schedules.push(sched);
        // The report's level is what the server did: every measured request completed, none
        // rejected, and latency from the intended time is never below latency from the send.
        let rep = common::json_report(&out);
        let lv = &rep["load"]["levels"][0];
        assert_eq!(lv["mode"], "rate", "{lv}");
        assert_eq!(
            (lv["completed"].as_u64(), lv["rejected"].as_u64()),
            (Some(6), Some(0))
        );
        for k in ["median", "p99"] {
            let (from_sched, from_sent) = (
                lv["ttft_from_scheduled_ms"][k].as_f64().unwrap(),
                lv["ttft_ms"][k].as_f64().unwrap(),
            );
            assert!(from_sched >= from_sent, "{k}: {from_sched} < {from_sent}");
        }
    }
    // One seed, one schedule (to the µs of rounding between the level's start and a due time).
    for (a, b) in schedules[0].iter().zip(&schedules[1]) {
        assert!(
            (a - b).abs() <= 1,
            "{:?} vs {:?}",
            schedules[0],
            schedules[1]
        );
    }
    let last = *schedules[0].iter().max().unwrap();
    assert!(
        (last - 750_000).abs() <= 1,
        "vLLM's schedule ends at N/R = 6/8 s: {last} us"
    );
}

#[test]
#[ignore = "needs the two-slot llama-server started by scripts/real-server.sh"]
fn llama_server_load_auto_sweep_records_every_level_the_server_counted() {
    let url = url_of("RKBENCH_REAL_LLAMA_SERVER_PARALLEL");
    let dir = common::tempdir("real-llama-auto").join("auto.sweep");
    let before = metric(&url, "llamacpp:tokens_predicted_total");
    let d = dir.to_str().unwrap();
    let o = common::run(
        &[
            "record",
            "-q",
            "--server",
            &url,
            "--model",
            "tiny",
            "--suite",
            "quick",
            "--max-new-tokens",
            "32",
            "--sweep",
            "load=auto:2",
            "--out",
            d,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = metric(&url, "llamacpp:tokens_predicted_total");
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let runs = index["runs"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        4,
        "synchronous, throughput and two rates: {index}"
    );
    let mut counted = 0u64;
    let mut modes = Vec::new();
    for r in runs {
        assert_eq!(r["exit_code"], 0, "{r}");
        let t = common::read_trace(&dir.join(r["trace"].as_str().unwrap()));
        let s = t.server.as_ref().unwrap();
        assert!(s.requests.iter().all(|r| r.status.as_str() == "ok"), "{r}");
        counted += s
            .requests
            .iter()
            .map(|r| r.chunk_token_total())
            .sum::<u64>();
        let l = t.load.run.unwrap();
        modes.push((l.mode, l.concurrency, l.rate_rps > 0.0));
        // Every request was sent at or after its intended time.
        assert!(t.load.sent.iter().all(|s| s.sent_us >= s.scheduled_us));
    }
    assert_eq!(
        counted as f64,
        after - before,
        "the sweep's tokens vs /metrics"
    );
    assert_eq!(modes[0], ("concurrency".to_string(), 1, false));
    assert_eq!(modes[1], ("concurrency".to_string(), 3, false));
    assert!(modes[2..].iter().all(|m| m.0 == "rate" && m.2), "{modes:?}");
    let rep = common::run(&["report", d], &[]);
    assert!(
        rep.status.success(),
        "{}",
        String::from_utf8_lossy(&rep.stderr)
    );
}
