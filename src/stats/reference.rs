//! "Is my board as fast as Rockchip says?": a run against Rockchip's published row for its model
//! and runtime release (`crate::reference`), measured the way Rockchip measures.
//!
//! Rockchip's figures are the runtime's own log (`RKLLM_LOG_LEVEL=1`): prefill time, generate
//! rate and peak memory. So this run's figures "measured the same way" are the medians of the
//! runtime's perf stats (`RKLLMPerfStat`, 1.2.1+) over the measured requests that followed the
//! method (exact 128-token input), and the peak of its memory figure. rkbench's own callback
//! timing is given beside them. Where the run departed from the method, every departure is
//! listed and the comparison is called approximate.
use super::aggregate::{percentile, sorted};
use super::request::RequestMetrics;
use super::warnings::Warning;
use crate::reference::{self as published, Published};
use crate::trace::{RequestRecord, Status, Trace};

/// TTFT, decode rate and memory, as one set of figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    pub ttft_ms: Option<f64>,
    pub decode_tok_s: Option<f64>,
    pub memory_mb: Option<f64>,
}

/// The comparison of a run with its published row.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub published: Published,
    /// The run's runtime release (the row's release, or one of the releases it holds for).
    pub release: String,
    /// How the model was matched: `model file name X` or `--reference-model X`.
    pub matched_from: String,
    /// Measured requests compared.
    pub requests: usize,
    /// This run, measured the way Rockchip measures (see `measured_by`).
    pub measured: Figures,
    /// Where `measured` comes from.
    pub measured_by: &'static str,
    /// rkbench's own callback timing of the same requests (TTFT t1 − t0, decode (N−1)/(t_N − t1)).
    pub rkbench: Figures,
    /// measured ÷ published, per figure.
    pub ratio: Figures,
    /// Why the comparison is approximate; empty when the run followed the method.
    pub approximate: Vec<String>,
    /// Set when decode is below [`published::DECODE_WARN_RATIO`] of the published rate.
    pub decode_warning: Option<String>,
}

/// Fewer measured requests than this make the comparison approximate (no stable median).
pub const MIN_STABLE_REQUESTS: usize = 3;

/// Where `measured` comes from when the runtime reports perf stats.
pub const BY_RUNTIME: &str = "the runtime's own perf stats (what Rockchip's log shows)";
/// Where `measured` comes from when it does not.
pub const BY_RKBENCH: &str = "rkbench's callback timing (this runtime reports no perf stats)";

/// The published model a run is compared with: `--reference-model` when given, else the model
/// file name. `Err` names the flag's value when it matches no published model.
pub fn model_of(
    trace: &Trace,
    reference_model: Option<&str>,
) -> Result<Option<(&'static str, String)>, String> {
    match reference_model {
        Some(name) => match published::match_model(name) {
            Some(m) => Ok(Some((m, format!("--reference-model {name:?}")))),
            None => Err(format!(
                "--reference-model {name:?} names no model Rockchip publishes figures for; use one of: {}",
                published::models().join(", ")
            )),
        },
        None => Ok(published::match_model(&trace.header.model.file_name)
            .map(|m| (m, format!("model file name {}", trace.header.model.file_name)))),
    }
}

/// The comparison, or `None` when the model or its row for the run's release is not published
/// (or `reference_model` matches nothing; [`model_of`] says why).
pub fn of(
    trace: &Trace,
    metrics: &[RequestMetrics],
    warnings: &[Warning],
    reference_model: Option<&str>,
) -> Option<Reference> {
    let (model, matched_from) = model_of(trace, reference_model).ok().flatten()?;
    let release = trace.header.runtime.version.trim();
    let row = published::lookup(model, release)?;
    let exact = |r: &RequestRecord| {
        trace
            .input_of(r.index)
            .filter(|i| i.is_exact_tokens())
            .map(|i| i.n_tokens)
    };
    compare(
        row,
        release,
        matched_from,
        &trace.requests,
        metrics,
        exact,
        &RunFacts {
            model_file: &trace.header.model.file_name,
            board_compatible: fact(trace, "board.compatible"),
            abi: &trace.header.runtime.abi,
            // Not a run parameter of the trace header; the recorded command line says it.
            kv_cache_kept: trace
                .header
                .command_line
                .iter()
                .any(|a| a == "--no-clear-kv"),
        },
        warnings,
    )
}

fn fact<'a>(trace: &'a Trace, key: &str) -> Option<&'a str> {
    trace
        .header
        .board
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.value.as_str())
        .filter(|v| !v.starts_with("unavailable"))
}

/// The facts about a run that decide whether it followed the method.
pub struct RunFacts<'a> {
    pub model_file: &'a str,
    /// `board.compatible`, when it was read.
    pub board_compatible: Option<&'a str>,
    pub abi: &'a str,
    /// `--no-clear-kv`: requests may reuse an earlier request's KV cache.
    pub kv_cache_kept: bool,
}

/// Compares the measured, successful requests with `row`. Requests fed exactly
/// [`published::METHOD_INPUT_TOKENS`] token ids are used when there are any (the method);
/// otherwise every measured successful request, and the comparison is approximate.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    row: &Published,
    release: &str,
    matched_from: String,
    reqs: &[RequestRecord],
    metrics: &[RequestMetrics],
    exact_len: impl Fn(&RequestRecord) -> Option<u32>,
    facts: &RunFacts<'_>,
    warnings: &[Warning],
) -> Option<Reference> {
    let method_in = published::METHOD_INPUT_TOKENS;
    let method_out = published::METHOD_NEW_TOKENS;
    let ok: Vec<(&RequestRecord, &RequestMetrics)> = reqs
        .iter()
        .zip(metrics)
        .filter(|(r, _)| !r.warmup && r.status == Status::Ok)
        .collect();
    let on_method: Vec<(&RequestRecord, &RequestMetrics)> = ok
        .iter()
        .copied()
        .filter(|(r, _)| exact_len(r) == Some(method_in))
        .collect();
    let mut approximate = Vec::new();
    let chosen = if on_method.is_empty() {
        let lens = sorted(
            ok.iter()
                .filter_map(|(_, m)| m.input_tokens.map(|n| n as f64)),
        );
        let what = match (lens.first(), lens.last()) {
            (Some(lo), Some(hi)) if lo == hi => format!("{lo:.0} tokens by the runtime's count"),
            (Some(lo), Some(hi)) => format!("{lo:.0}–{hi:.0} tokens by the runtime's count"),
            _ => "of unknown length".to_string(),
        };
        approximate.push(format!(
            "the inputs were not exactly {method_in} token ids (they were text prompts, {what}, or other lengths); the prefill time depends on the input length — record with --suite rockchip"
        ));
        ok
    } else {
        on_method
    };
    if chosen.is_empty() {
        return None;
    }
    if chosen.len() < MIN_STABLE_REQUESTS {
        approximate.push(format!(
            "only {} measured request{} compared: one run is not a stable figure (the rockchip suite runs 10 after 2 warm-ups)",
            chosen.len(),
            if chosen.len() == 1 { " was" } else { "s were" }
        ));
    }

    // Output length: the method generates 64 new tokens.
    let caps: Vec<i32> = chosen.iter().map(|(r, _)| r.max_new_tokens).collect();
    if caps.iter().any(|&c| c != method_out as i32) {
        let mut c = caps.clone();
        c.sort_unstable();
        c.dedup();
        let shown: Vec<String> = c
            .iter()
            .map(|&c| {
                if c > 0 {
                    c.to_string()
                } else {
                    "none".to_string()
                }
            })
            .collect();
        approximate.push(format!(
            "the output cap was {} new tokens, not {method_out}",
            shown.join("/")
        ));
    } else {
        let short: Vec<usize> = chosen
            .iter()
            .map(|(_, m)| m.output_tokens)
            .filter(|&n| n < method_out as usize)
            .collect();
        if let Some(fewest) = short.iter().min() {
            approximate.push(format!(
                "{} of {} requests ended before {method_out} new tokens (fewest {fewest}): the model stopped on its own, so decode is averaged over fewer tokens",
                short.len(),
                chosen.len()
            ));
        }
    }

    // The model and board Rockchip measured.
    if let Some(q) = published::quantization(facts.model_file) {
        if q != published::METHOD_QUANT {
            approximate.push(format!(
                "the model file name says {q}; Rockchip measured {} (a grouped w8a8-gN model is much slower)",
                published::METHOD_QUANT
            ));
        }
    }
    if let Some(p) = published::platform(facts.model_file) {
        if p != published::METHOD_PLATFORM {
            approximate.push(format!(
                "the model is converted for {p}; Rockchip's figures are for {}",
                published::METHOD_PLATFORM
            ));
        }
    }
    if let Some(c) = facts.board_compatible {
        if !c.to_ascii_lowercase().contains(published::METHOD_PLATFORM) {
            approximate.push(format!(
                "the board is {:?}, not an {}",
                c.replace('\0', " ").trim(),
                published::METHOD_PLATFORM.to_ascii_uppercase()
            ));
        }
    }
    if facts.kv_cache_kept {
        approximate.push(
            "the KV cache was kept between requests (--no-clear-kv), so a repeated input may reuse an earlier prefill".to_string(),
        );
    }
    let unpinned: Vec<&str> = warnings
        .iter()
        .filter(|w| w.invalidates_comparison)
        .map(|w| w.code)
        .collect();
    if !unpinned.is_empty() {
        approximate.push(format!(
            "the board was not in the pinned state the method asks for (warnings: {})",
            unpinned.join(", ")
        ));
    }

    // The figures.
    let median = |v: Vec<f64>| {
        let s = sorted(v);
        (!s.is_empty()).then(|| percentile(&s, 50.0))
    };
    let perf: Vec<_> = chosen.iter().filter_map(|(_, m)| m.runtime).collect();
    let rkbench = Figures {
        ttft_ms: median(chosen.iter().filter_map(|(_, m)| m.ttft_ms).collect()),
        decode_tok_s: median(chosen.iter().filter_map(|(_, m)| m.decode_tok_s).collect()),
        memory_mb: None,
    };
    let memory_mb = sorted(perf.iter().map(|p| p.memory_mb()).filter(|&m| m > 0.0))
        .last()
        .copied();
    let (measured, measured_by) = if perf.len() == chosen.len() {
        (
            Figures {
                ttft_ms: median(perf.iter().map(|p| p.prefill_ms()).collect()),
                decode_tok_s: median(perf.iter().filter_map(|p| p.decode_tok_s()).collect()),
                memory_mb,
            },
            BY_RUNTIME,
        )
    } else {
        approximate.push(format!(
            "the runtime (ABI {}) reports no perf stats for every request, so TTFT and decode are rkbench's callback timing rather than the runtime's own log",
            facts.abi
        ));
        (
            Figures {
                memory_mb,
                ..rkbench
            },
            BY_RKBENCH,
        )
    };
    let div = |m: Option<f64>, p: f64| m.filter(|_| p > 0.0).map(|m| m / p);
    let ratio = Figures {
        ttft_ms: div(measured.ttft_ms, row.ttft_ms),
        decode_tok_s: div(measured.decode_tok_s, row.decode_tok_s),
        memory_mb: div(measured.memory_mb, row.memory_mb),
    };
    let decode_warning = ratio
        .decode_tok_s
        .filter(|&r| r < published::DECODE_WARN_RATIO)
        .map(|r| decode_warning(r, row, warnings));
    Some(Reference {
        published: *row,
        release: release.to_string(),
        matched_from,
        requests: chosen.len(),
        measured,
        measured_by,
        rkbench,
        ratio,
        approximate,
        decode_warning,
    })
}

fn decode_warning(ratio: f64, row: &Published, warnings: &[Warning]) -> String {
    let mut s = format!(
        "decode is {:.0} % of Rockchip's {} tok/s (below {:.0} %). The usual causes: DDR (DMC) not at {} MHz or no DMC DVFS in the firmware; CPU/NPU governors not at performance; thermal throttling (above ~85 °C); a grouped quantization (w8a8_gN is much slower than w8a8); a runtime/model version mismatch; another process using the NPU.",
        ratio * 100.0,
        row.decode_tok_s,
        published::DECODE_WARN_RATIO * 100.0,
        published::METHOD_DMC_MHZ
    );
    if !warnings.is_empty() {
        let seen: Vec<&str> = warnings.iter().map(|w| w.code).collect();
        s.push_str(&format!(" Seen in this run: {}.", seen.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::PerfStat;
    use crate::trace::TokenColumns;

    fn row() -> Published {
        *published::lookup("Qwen3 0.6B", "1.2.1").unwrap_or_else(|| panic!("row"))
    }

    /// A request of `tokens` tokens: TTFT `ttft_ms`, then one token every `itl_ms`; the runtime
    /// reports prefill `prefill_ms` and a decode of `decode_tok_s`.
    fn req(
        index: u32,
        tokens: usize,
        ttft_ms: f64,
        itl_ms: f64,
        perf: Option<(f64, f64)>,
    ) -> RequestRecord {
        let mut dt = vec![(ttft_ms * 1e3) as u32];
        dt.extend(std::iter::repeat((itl_ms * 1e3) as u32).take(tokens - 1));
        RequestRecord {
            index,
            max_new_tokens: 64,
            end_us: dt.iter().map(|&d| u64::from(d)).sum(),
            tokens: TokenColumns {
                token_dt_us: dt,
                token_ids: vec![1; tokens],
                text_len: vec![0; tokens],
                ..TokenColumns::default()
            },
            final_state: 2,
            perf: perf.map(|(prefill_ms, decode)| PerfStat {
                prefill_time_ms: prefill_ms as f32,
                prefill_tokens: 128,
                generate_time_ms: ((tokens - 1) as f64 / decode * 1e3) as f32,
                generate_tokens: (tokens - 1) as i32,
                memory_usage_mb: 772.0 + index as f32,
            }),
            ..RequestRecord::default()
        }
    }

    fn facts<'a>(file: &'a str) -> RunFacts<'a> {
        RunFacts {
            model_file: file,
            board_compatible: Some("radxa,rock-5b\0rockchip,rk3588"),
            abi: "1.2.1",
            kv_cache_kept: false,
        }
    }

    fn run(reqs: &[RequestRecord], exact: Option<u32>, file: &str, w: &[Warning]) -> Reference {
        let metrics: Vec<RequestMetrics> = reqs.iter().map(RequestMetrics::of).collect();
        compare(
            &row(),
            "1.2.1",
            "m".into(),
            reqs,
            &metrics,
            |_| exact,
            &facts(file),
            w,
        )
        .unwrap_or_else(|| panic!("no comparison"))
    }

    const FILE: &str = "Qwen3-0.6B-w8a8-rk3588.rkllm";

    #[test]
    fn on_method_uses_the_runtime_figures_and_ratios() {
        let reqs: Vec<RequestRecord> = (0..5)
            .map(|i| req(i, 64, 230.0, 34.0, Some((210.0 + f64::from(i), 30.0))))
            .collect();
        let r = run(&reqs, Some(128), FILE, &[]);
        assert_eq!(r.requests, 5);
        assert_eq!(r.measured_by, BY_RUNTIME);
        assert!(r.approximate.is_empty(), "{:?}", r.approximate);
        assert_eq!(r.measured.ttft_ms, Some(212.0));
        let d = r.measured.decode_tok_s.unwrap_or(0.0);
        assert!((d - 30.0).abs() < 1e-3, "{d}");
        assert_eq!(r.measured.memory_mb, Some(776.0), "VmHWM: the peak");
        assert!((r.ratio.ttft_ms.unwrap_or(0.0) - 212.0 / 215.76).abs() < 1e-12);
        assert!((r.ratio.decode_tok_s.unwrap_or(0.0) - d / 29.52).abs() < 1e-12);
        assert!((r.ratio.memory_mb.unwrap_or(0.0) - 776.0 / 772.98).abs() < 1e-12);
        assert_eq!(r.rkbench.ttft_ms, Some(230.0));
        let own = r.rkbench.decode_tok_s.unwrap_or(0.0);
        assert!((own - 1000.0 / 34.0).abs() < 1e-6, "{own}");
        assert_eq!(r.decode_warning, None);
        assert_eq!(r.published.ttft_ms, 215.76);
    }

    #[test]
    fn slow_decode_warns_with_the_usual_causes_and_what_this_run_saw() {
        let reqs: Vec<RequestRecord> = (0..3)
            .map(|i| req(i, 64, 230.0, 40.0, Some((215.0, 25.0))))
            .collect();
        let w = [Warning {
            code: "dmc-not-max",
            message: String::new(),
            fix: String::new(),
            invalidates_comparison: true,
        }];
        let r = run(&reqs, Some(128), FILE, &w);
        let msg = r.decode_warning.clone().unwrap_or_default();
        assert!(
            msg.starts_with("decode is 85 % of Rockchip's 29.52 tok/s"),
            "{msg}"
        );
        for cause in [
            "DMC",
            "2112 MHz",
            "governors",
            "thermal",
            "w8a8_gN",
            "another process",
        ] {
            assert!(msg.contains(cause), "{cause}: {msg}");
        }
        assert!(msg.ends_with("Seen in this run: dmc-not-max."), "{msg}");
        assert_eq!(
            r.approximate,
            ["the board was not in the pinned state the method asks for (warnings: dmc-not-max)"]
        );
        // Exactly at 90 % is not below it.
        let reqs: Vec<RequestRecord> = (0..3)
            .map(|i| req(i, 64, 230.0, 40.0, Some((215.0, 29.52 * 0.9))))
            .collect();
        assert_eq!(run(&reqs, Some(128), FILE, &[]).decode_warning, None);
    }

    #[test]
    fn departures_from_the_method_are_each_named() {
        // Text prompts, cap 100, early stop, grouped quantization for another SoC, no perf.
        let mut reqs: Vec<RequestRecord> = (0..4).map(|i| req(i, 64, 300.0, 35.0, None)).collect();
        for r in &mut reqs {
            r.max_new_tokens = 100;
        }
        let r = run(&reqs, None, "Qwen3-0.6B-w8a8_g128-rk3576.rkllm", &[]);
        assert_eq!(r.measured_by, BY_RKBENCH);
        assert_eq!(r.measured.ttft_ms, Some(300.0));
        assert_eq!(r.measured.memory_mb, None);
        assert_eq!(r.ratio.memory_mb, None);
        let all = r.approximate.join(" | ");
        for part in [
            "not exactly 128 token ids",
            "--suite rockchip",
            "output cap was 100 new tokens, not 64",
            "says w8a8-g128",
            "converted for rk3576",
            "no perf stats",
        ] {
            assert!(all.contains(part), "{part}: {all}");
        }
        // Stopped early with the right cap.
        let reqs: Vec<RequestRecord> = (0..4)
            .map(|i| {
                req(
                    i,
                    if i == 2 { 58 } else { 64 },
                    200.0,
                    34.0,
                    Some((200.0, 30.0)),
                )
            })
            .collect();
        let r = run(&reqs, Some(128), FILE, &[]);
        assert_eq!(
            r.approximate,
            ["1 of 4 requests ended before 64 new tokens (fewest 58): the model stopped on its own, so decode is averaged over fewer tokens"]
        );
        // Another board.
        let metrics: Vec<RequestMetrics> = reqs.iter().map(RequestMetrics::of).collect();
        let other = RunFacts {
            model_file: FILE,
            board_compatible: Some("rockchip,rk3576"),
            abi: "1.2.1",
            kv_cache_kept: true,
        };
        let r = compare(
            &row(),
            "1.2.1",
            "m".into(),
            &reqs,
            &metrics,
            |_| Some(128),
            &other,
            &[],
        )
        .unwrap_or_else(|| panic!("no comparison"));
        assert!(
            r.approximate.iter().any(|a| a.contains("not an RK3588")),
            "{:?}",
            r.approximate
        );
        assert!(
            r.approximate.iter().any(|a| a.contains("--no-clear-kv")),
            "{:?}",
            r.approximate
        );
    }

    #[test]
    fn method_requests_are_preferred_and_warmups_and_failures_ignored() {
        let mut reqs: Vec<RequestRecord> = (0..4)
            .map(|i| req(i, 64, 200.0, 34.0, Some((100.0 * f64::from(i + 1), 30.0))))
            .collect();
        reqs[0].warmup = true;
        reqs[3].status = Status::Timeout;
        let metrics: Vec<RequestMetrics> = reqs.iter().map(RequestMetrics::of).collect();
        // Only request 2 is a 128-token input.
        let r = compare(
            &row(),
            "1.2.1",
            "m".into(),
            &reqs,
            &metrics,
            |r| Some(if r.index == 2 { 128 } else { 256 }),
            &facts(FILE),
            &[],
        )
        .unwrap_or_else(|| panic!("no comparison"));
        assert_eq!((r.requests, r.measured.ttft_ms), (1, Some(300.0)));
        assert_eq!(
            r.approximate,
            ["only 1 measured request was compared: one run is not a stable figure (the rockchip suite runs 10 after 2 warm-ups)"]
        );
        // Nothing measured: no comparison.
        let none = compare(
            &row(),
            "1.2.1",
            "m".into(),
            &reqs[..1],
            &metrics[..1],
            |_| Some(128),
            &facts(FILE),
            &[],
        );
        assert_eq!(none, None);
    }
}
