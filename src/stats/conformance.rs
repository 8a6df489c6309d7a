//! Runtime conformance: did the runtime behave as the ABI facts say? Every figure of a report
//! depends on it (a token count that disagrees with the runtime's own, a cap that did not hold,
//! a prompt served from a cache). Pure functions of the trace: the request records plus the
//! per-request runtime observations (record kind 10). Each check is `pass`, `fail` or `unknown`
//! (nothing to judge it on), with its evidence; a failed check carries a warning that says what
//! it means for the figures.
use super::warnings::Warning;
use crate::trace::{abort_reason, CapSource, RequestRecord, RuntimeObservation, Status, Trace};

/// Every check, in report order.
pub const NAMES: [&str; 9] = [
    "token-count-matches-perf",
    "finish-once",
    "stop-return-honoured",
    "cap-held",
    "abort-latency",
    "clear-kv-effective",
    "callback-thread",
    "perf-present",
    "perf-matches-clock",
];

/// Tokens a cap may be exceeded by and still count as held: `rkllm_abort` takes effect between
/// tokens, so the token being generated when it is sent may still arrive.
pub const CAP_TOLERANCE: usize = 2;

/// An abort that ends the run later than this many median inter-token intervals (and
/// [`ABORT_LATENCY_FLOOR_MS`]) did not take effect "between tokens".
pub const ABORT_LATENCY_ITLS: f64 = 3.0;
pub const ABORT_LATENCY_FLOOR_MS: f64 = 100.0;

/// `perf-matches-clock`: the runtime's `prefill_time_ms` against rkbench's TTFT, and its
/// `generate_time_ms` against the first-to-last token span, may differ by one median
/// inter-token interval (a runtime may time the first token's sampling in either phase) plus
/// the larger of [`PERF_CLOCK_FLOOR_MS`] and [`PERF_CLOCK_SHARE`] of rkbench's figure: what
/// rkbench sees and the runtime does not time — tokenizing and templating the prompt before its
/// prefill timer starts, thread hand-offs and callback latency. A misread `RKLLMPerfStat`
/// (another field's bits) or a runtime clock in the wrong unit misses by far more.
pub const PERF_CLOCK_FLOOR_MS: f64 = 50.0;
pub const PERF_CLOCK_SHARE: f64 = 0.25;

/// A repeated prompt whose prefill takes less than this fraction of the first occurrence's was
/// served from a cache.
pub const CACHE_REUSE_RATIO: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Pass,
    Fail,
    Unknown,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Unknown => "unknown",
        }
    }
}

/// One conformance check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// e.g. `finish-once`.
    pub check: &'static str,
    pub status: CheckStatus,
    pub evidence: String,
    /// For a failed check: what it means for the figures.
    pub warning: Option<String>,
}

/// How one request's output cap was enforced.
#[derive(Debug, Clone, PartialEq)]
pub struct CapEnforcement {
    pub index: u32,
    pub test_id: String,
    pub cap: usize,
    pub tokens: usize,
    /// `stop honoured`, `held by abort after N extra`, `runtime cap`, `not reached`, …
    pub how: String,
    /// Within [`CAP_TOLERANCE`].
    pub held: bool,
}

/// The checks, in a fixed order, and how each cap was enforced.
#[derive(Debug, Clone, PartialEq)]
pub struct Conformance {
    pub checks: Vec<Check>,
    pub caps: Vec<CapEnforcement>,
}

impl Conformance {
    pub fn of(t: &Trace) -> Conformance {
        if t.server.is_some() {
            // Measured through an HTTP server: no RKLLM callbacks to judge.
            let checks = NAMES
                .iter()
                .map(|n| {
                    unknown(
                        n,
                        "measured through an HTTP server, not the RKLLM runtime directly",
                    )
                })
                .collect();
            return Conformance {
                checks,
                caps: Vec::new(),
            };
        }
        let abi = t.header.runtime.abi.as_str();
        let obs = &t.runtime.observations;
        let pairs: Vec<(&RequestRecord, Option<&RuntimeObservation>)> = t
            .requests
            .iter()
            .map(|r| (r, obs.iter().find(|o| o.index == r.index)))
            .collect();
        let caps: Vec<CapEnforcement> = pairs
            .iter()
            .filter_map(|(r, o)| cap_enforcement(r, *o))
            .collect();
        let checks = vec![
            token_count_matches_perf(abi, &t.requests),
            finish_once(&pairs),
            stop_return_honoured(abi, &pairs),
            cap_held(&caps),
            abort_latency(&pairs),
            clear_kv_effective(&pairs),
            callback_thread(obs),
            perf_present(abi, &t.requests),
            perf_matches_clock(abi, &t.requests),
        ];
        Conformance { checks, caps }
    }

    /// Warnings of the failed checks.
    pub fn warnings(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.checks
            .iter()
            .filter_map(|c| c.warning.as_deref().map(|w| (c.check, w)))
    }

    /// The failed checks as report warnings (code `runtime-<check>`), after the board's.
    pub fn report_warnings(&self) -> Vec<Warning> {
        self.checks
            .iter()
            .filter_map(|c| {
                let meaning = c.warning.as_deref()?;
                let (code, fix, invalidates) = warning_code(c.check);
                Some(Warning {
                    code,
                    message: format!("{}: {meaning}", c.evidence),
                    fix: fix.to_string(),
                    invalidates_comparison: invalidates,
                })
            })
            .collect()
    }
}

/// Warning code, fix, and whether the failure makes the figures unfit for comparison.
fn warning_code(check: &str) -> (&'static str, &'static str, bool) {
    match check {
        "token-count-matches-perf" => (
            "runtime-token-count",
            "compare with rkbench's own per-token figures (they count callbacks); report the runtime version with the mismatch",
            false,
        ),
        "finish-once" => (
            "runtime-finish",
            "rkbench waits briefly for a late FINISH; if it persists, report the runtime version; end times then come from rkllm_run's return",
            false,
        ),
        "stop-return-honoured" => (
            "runtime-stop-ignored",
            "nothing to do for the figures (rkbench held the caps with rkllm_abort); on 1.3.0 the per-run cap avoids it",
            false,
        ),
        "cap-held" => (
            "runtime-cap-not-held",
            "re-record with a runtime whose rkllm_abort works between tokens, or compare only uncapped tests",
            true,
        ),
        "abort-latency" => (
            "runtime-slow-abort",
            "allow for the latency in --timeout; a runtime that ignores rkllm_abort for long is recorded as hung after --abort-grace",
            false,
        ),
        "clear-kv-effective" => (
            "runtime-prompt-cache",
            "record without --no-clear-kv (the default clears the KV cache between requests); if that does not help, the runtime's rkllm_clear_kv_cache does not drop its prompt cache: vary the prompts of repeats",
            true,
        ),
        "perf-matches-clock" => (
            "runtime-perf-clock",
            "trust rkbench's timestamps (TTFT, decode rate), not the runtime-reported figures (the original section's Average Speed and TTFT); check the runtime's identity (rkbench info) for a misread RKLLMPerfStat layout and report the runtime version",
            false,
        ),
        "perf-present" => (
            "runtime-perf-missing",
            "use rkbench's timestamps (TTFT, decode rate) for those requests; report the runtime version",
            false,
        ),
        _ => ("runtime-conformance", "", false),
    }
}

fn check(check: &'static str, status: CheckStatus, evidence: String, warning: &str) -> Check {
    Check {
        check,
        status,
        evidence,
        warning: (status == CheckStatus::Fail).then(|| warning.to_string()),
    }
}

/// The requests whose runtime observation shows `event`, or check `name` unknown: no request
/// has an observation at all, or none shows the event (`never` says so).
fn observed<'a>(
    pairs: &[(&'a RequestRecord, Option<&'a RuntimeObservation>)],
    name: &'static str,
    event: impl Fn(&RuntimeObservation) -> bool,
    never: &str,
) -> std::result::Result<Vec<(&'a RequestRecord, &'a RuntimeObservation)>, Check> {
    if pairs.iter().all(|(_, o)| o.is_none()) {
        return Err(unknown(name, NO_OBS));
    }
    let seen: Vec<_> = pairs
        .iter()
        .filter_map(|(r, o)| o.filter(|o| event(o)).map(|o| (*r, o)))
        .collect();
    if seen.is_empty() {
        return Err(unknown(name, never));
    }
    Ok(seen)
}

fn unknown(name: &'static str, evidence: impl Into<String>) -> Check {
    check(name, CheckStatus::Unknown, evidence.into(), "")
}

const NO_OBS: &str = "the trace has no runtime observations (recorded before trace format 1.1)";

fn has_perf_abi(abi: &str) -> bool {
    !matches!(abi, "1.1" | "1.2.0")
}

/// Which requests to name as examples (at most three).
fn examples(items: &[String]) -> String {
    let mut s = items.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > 3 {
        s.push_str(&format!("; and {} more", items.len() - 3));
    }
    s
}

fn token_count_matches_perf(abi: &str, reqs: &[RequestRecord]) -> Check {
    const NAME: &str = "token-count-matches-perf";
    let with: Vec<&RequestRecord> = reqs.iter().filter(|r| r.perf.is_some()).collect();
    if with.is_empty() {
        return unknown(
            NAME,
            if has_perf_abi(abi) {
                "no request carried the runtime's perf stats".to_string()
            } else {
                format!("RKLLM {abi} has no perf stats (1.2.1+)")
            },
        );
    }
    let bad: Vec<String> = with
        .iter()
        .filter_map(|r| {
            let g = r.perf.map_or(0, |p| p.generate_tokens);
            (g as i64 != r.output_tokens() as i64).then(|| {
                format!(
                    "{}: {} callbacks, generate_tokens {g}",
                    r.test_id,
                    r.output_tokens()
                )
            })
        })
        .collect();
    if bad.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!(
                "{} of {} requests: callbacks = perf.generate_tokens",
                with.len(),
                with.len()
            ),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {} requests differ ({})",
            bad.len(),
            with.len(),
            examples(&bad)
        ),
        "the runtime's generate_tokens does not count the tokens its callbacks delivered: rates computed from its perf stats use a different token count than rkbench's timestamps",
    )
}

/// A request whose run did not end by itself (hung, crashed, still in flight) cannot be judged
/// on how it ended.
fn ended(r: &RequestRecord) -> bool {
    !matches!(r.status, Status::Hung | Status::Crashed | Status::InFlight)
}

fn finish_once(pairs: &[(&RequestRecord, Option<&RuntimeObservation>)]) -> Check {
    const NAME: &str = "finish-once";
    let judged: Vec<(&RequestRecord, &RuntimeObservation)> = pairs
        .iter()
        .filter(|(r, _)| ended(r))
        .filter_map(|(r, o)| o.map(|o| (*r, o)))
        .collect();
    if judged.is_empty() {
        return unknown(
            NAME,
            if pairs.is_empty() {
                "no requests"
            } else {
                NO_OBS
            },
        );
    }
    let mut bad = Vec::new();
    let mut paused = 0;
    for (r, o) in &judged {
        let ends = o.finish_callbacks + o.error_callbacks;
        let honoured_pause = o.stop_requested_at >= 0 && o.tokens_after_stop == 0;
        if ends > 1 {
            bad.push(format!("{}: {ends} FINISH/ERROR callbacks", r.test_id));
        } else if o.end_after_return {
            bad.push(format!("{}: FINISH after rkllm_run returned", r.test_id));
        } else if ends == 0 && honoured_pause {
            paused += 1;
        } else if ends == 0 {
            bad.push(format!("{}: no FINISH", r.test_id));
        }
    }
    let n = judged.len();
    if bad.is_empty() {
        let pause = if paused > 0 {
            format!(" ({paused} paused at the cap without FINISH, which a pause allows)")
        } else {
            String::new()
        };
        return check(
            NAME,
            CheckStatus::Pass,
            format!(
                "{} of {n} requests: one FINISH before rkllm_run returned{pause}",
                n - paused
            ),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!("{} of {n} requests ({})", bad.len(), examples(&bad)),
        "the runtime did not end every run with exactly one FINISH before rkllm_run returned: those requests' end times come from rkllm_run's return and their perf stats may be missing or belong to another run",
    )
}

fn stop_return_honoured(
    abi: &str,
    pairs: &[(&RequestRecord, Option<&RuntimeObservation>)],
) -> Check {
    const NAME: &str = "stop-return-honoured";
    if !has_perf_abi(abi) {
        return unknown(
            NAME,
            format!("RKLLM {abi} callbacks return void: caps are enforced with rkllm_abort"),
        );
    }
    // A request aborted at the cap itself (the stop return already known to be ignored) does
    // not test the stop return again: the abort, not the stop, ended it.
    let at_cap = |o: &RuntimeObservation| o.abort_reason == abort_reason::CAP_STOP_IGNORED;
    let aborted_at_cap = pairs.iter().filter(|(_, o)| o.is_some_and(at_cap)).count();
    let later = if aborted_at_cap > 0 {
        format!("; {aborted_at_cap} later capped request(s) aborted at the cap itself")
    } else {
        String::new()
    };
    let asked = match observed(
        pairs,
        NAME,
        |o| o.stop_requested_at >= 0 && !at_cap(o),
        "the callback never asked the runtime to stop",
    ) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let ignored: Vec<String> = asked
        .iter()
        .filter(|(_, o)| o.tokens_after_stop > 0)
        .map(|(r, o)| {
            format!(
                "{}: {} more token(s) after the stop return",
                r.test_id, o.tokens_after_stop
            )
        })
        .collect();
    if ignored.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!(
                "{} of {} stop returns ended generation at once",
                asked.len(),
                asked.len()
            ),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {} stop returns ignored ({}){later}",
            ignored.len(),
            asked.len(),
            examples(&ignored)
        ),
        "the runtime ignores the callback's stop return value: caps were held by rkllm_abort instead, so the request that showed it may carry a token or two beyond its cap (later ones were aborted at the cap itself)",
    )
}

/// How request `r`'s cap was enforced; `None` without a cap.
pub fn cap_enforcement(
    r: &RequestRecord,
    o: Option<&RuntimeObservation>,
) -> Option<CapEnforcement> {
    if r.max_new_tokens <= 0 {
        return None;
    }
    let cap = r.max_new_tokens as usize;
    let n = r.output_tokens();
    let over = n.saturating_sub(cap);
    let cap_abort = o.is_some_and(|o| o.abort_reason == abort_reason::CAP);
    let abort_at_cap = o.is_some_and(|o| o.abort_reason == abort_reason::CAP_STOP_IGNORED);
    let how = if n < cap {
        "not reached".to_string()
    } else {
        match r.cap_source {
            CapSource::Runtime | CapSource::RuntimePerRun => {
                let which = if r.cap_source == CapSource::Runtime {
                    "runtime cap (init)"
                } else {
                    "runtime cap (per run)"
                };
                if over > 0 {
                    format!("{which}, exceeded by {over}")
                } else {
                    which.to_string()
                }
            }
            CapSource::Rkbench if cap_abort => format!("held by abort after {over} extra"),
            CapSource::Rkbench if abort_at_cap => {
                let how = "abort at the cap (stop return ignored earlier in the run)";
                if over > 0 {
                    format!("{how}, {over} extra")
                } else {
                    how.to_string()
                }
            }
            CapSource::Rkbench => match o {
                Some(o) if o.stop_requested_at >= 0 && o.tokens_after_stop == 0 => {
                    "stop honoured".to_string()
                }
                Some(_) => format!("reached, {over} extra"),
                None if over == 0 => "reached".to_string(),
                None => format!("reached, {over} extra"),
            },
        }
    };
    Some(CapEnforcement {
        index: r.index,
        test_id: r.test_id.clone(),
        cap,
        tokens: n,
        how,
        held: over <= CAP_TOLERANCE,
    })
}

fn cap_held(caps: &[CapEnforcement]) -> Check {
    const NAME: &str = "cap-held";
    let reached: Vec<&CapEnforcement> = caps.iter().filter(|c| c.tokens >= c.cap).collect();
    if reached.is_empty() {
        return unknown(
            NAME,
            if caps.is_empty() {
                "no request had an output cap"
            } else {
                "no request reached its output cap"
            },
        );
    }
    // How each reached cap was enforced, as counts in first-seen order.
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for c in &reached {
        match kinds.iter_mut().find(|(k, _)| *k == c.how) {
            Some(e) => e.1 += 1,
            None => kinds.push((c.how.clone(), 1)),
        }
    }
    let how = kinds
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let broken: Vec<String> = reached
        .iter()
        .filter(|c| !c.held)
        .map(|c| format!("{}: {} tokens for cap {}", c.test_id, c.tokens, c.cap))
        .collect();
    let max_over = reached.iter().map(|c| c.tokens - c.cap).max().unwrap_or(0);
    if broken.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!(
                "{} capped requests, at most {max_over} token(s) over (tolerance {CAP_TOLERANCE}); {how}",
                reached.len()
            ),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {} capped requests overshot ({}); {how}",
            broken.len(),
            reached.len(),
            examples(&broken)
        ),
        "output caps did not hold: those requests generated more than asked, so their output-length and end-to-end figures are not comparable with runs where the cap held",
    )
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn abort_latency(pairs: &[(&RequestRecord, Option<&RuntimeObservation>)]) -> Check {
    const NAME: &str = "abort-latency";
    let aborted = match observed(
        pairs,
        NAME,
        |o| o.abort_us >= 0,
        "rkllm_abort was never called",
    ) {
        Ok(v) => v,
        Err(c) => return c,
    };
    let mut lat = Vec::new();
    let mut slow = Vec::new();
    let mut in_prefill = 0;
    for (r, o) in &aborted {
        if r.run_return == i32::MIN || r.status == Status::Hung {
            slow.push(format!("{}: the run never returned", r.test_id));
            continue;
        }
        let ms = r.return_us.saturating_sub(o.abort_us as u64) as f64 / 1e3;
        lat.push(ms);
        if o.abort_at_token == 0 {
            // Prefill is not interruptible (rknn-llm #400): not a failure.
            in_prefill += 1;
            continue;
        }
        let itl = median(
            r.tokens
                .token_dt_us
                .iter()
                .skip(1)
                .map(|&d| d as f64 / 1e3)
                .collect(),
        );
        let limit = itl.map_or(ABORT_LATENCY_FLOOR_MS, |i| {
            (ABORT_LATENCY_ITLS * i).max(ABORT_LATENCY_FLOOR_MS)
        });
        if ms > limit {
            slow.push(format!("{}: {ms:.1} ms (limit {limit:.1} ms)", r.test_id));
        }
    }
    let stats = match (median(lat.clone()), lat.iter().copied().reduce(f64::max)) {
        (Some(m), Some(x)) => format!("median {m:.1} ms, max {x:.1} ms"),
        _ => "no run returned".into(),
    };
    let prefill = if in_prefill > 0 {
        format!("; {in_prefill} sent during prefill, which is not interruptible")
    } else {
        String::new()
    };
    let n = aborted.len();
    if slow.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!("{n} abort(s), from rkllm_abort to the run's return: {stats}{prefill}"),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {n} abort(s) slow ({}); {stats}{prefill}",
            slow.len(),
            examples(&slow)
        ),
        "rkllm_abort did not stop generation between tokens: deadlines and caps overshoot by that long, and timed-out requests ran past their deadline",
    )
}

/// The prefill time of a request: the runtime's own when present, else TTFT (ms).
fn prefill_ms(r: &RequestRecord) -> Option<f64> {
    match r.perf {
        Some(p) if p.prefill_time_ms > 0.0 => Some(f64::from(p.prefill_time_ms)),
        _ => r.tokens.token_dt_us.first().map(|&d| d as f64 / 1e3),
    }
}

fn clear_kv_effective(pairs: &[(&RequestRecord, Option<&RuntimeObservation>)]) -> Check {
    const NAME: &str = "clear-kv-effective";
    // Requests in run order, grouped by identical prompt.
    let mut groups: Vec<Vec<&RequestRecord>> = Vec::new();
    for (r, _) in pairs {
        match groups.iter_mut().find(|g| g[0].prompt == r.prompt) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    let cleared = pairs
        .iter()
        .any(|(_, o)| o.is_some_and(|o| o.clear_kv_return != i32::MIN));
    let repeated: Vec<&Vec<&RequestRecord>> = groups.iter().filter(|g| g.len() > 1).collect();
    if repeated.is_empty() {
        return unknown(
            NAME,
            "no prompt was repeated (record with --repeat 2 to check)",
        );
    }
    let mut shortened = Vec::new();
    let mut compared = 0;
    let run_first = pairs.first().map(|(r, _)| r.index);
    for g in &repeated {
        // The run's very first request is often cold (slower for reasons of its own): compare
        // against the next occurrence instead.
        let skip = usize::from(Some(g[0].index) == run_first);
        if g.len() < 2 + skip {
            continue;
        }
        let Some(first) = prefill_ms(g[skip]) else {
            continue;
        };
        for r in &g[1 + skip..] {
            let Some(p) = prefill_ms(r) else { continue };
            compared += 1;
            if p < CACHE_REUSE_RATIO * first {
                shortened.push(format!(
                    "{} (repeat {}): prefill {p:.1} ms vs {first:.1} ms the first time",
                    r.test_id, r.repeat_index
                ));
            }
        }
    }
    if compared == 0 {
        return unknown(NAME, "no repeated prompt produced a first token");
    }
    let how = if pairs.iter().all(|(_, o)| o.is_none()) {
        "whether the KV cache was cleared is not recorded before trace format 1.1"
    } else if cleared {
        "rkllm_clear_kv_cache called between requests"
    } else {
        "KV cache not cleared between requests"
    };
    if shortened.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!("{compared} repeated prompt(s): prefill not shortened by cache reuse ({how})"),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {compared} repeated prompt(s) prefilled in under {:.0} % of the first time ({}); {how}",
            shortened.len(),
            CACHE_REUSE_RATIO * 100.0,
            examples(&shortened)
        ),
        "repeated prompts were served from a prompt cache: their TTFT and prefill rates are too good; clear the KV cache between requests (the default) with a runtime where rkllm_clear_kv_cache works",
    )
}

fn callback_thread(obs: &[RuntimeObservation]) -> Check {
    const NAME: &str = "callback-thread";
    let same: u64 = obs
        .iter()
        .map(|o| u64::from(o.callbacks_on_run_thread))
        .sum();
    let other: u64 = obs
        .iter()
        .map(|o| u64::from(o.callbacks_on_other_threads))
        .sum();
    let evidence = match (same, other) {
        (0, 0) if obs.is_empty() => return unknown(NAME, NO_OBS),
        (0, 0) => return unknown(NAME, "no callbacks"),
        (0, n) => format!("all {n} callbacks on another thread than rkllm_run's"),
        (n, 0) => format!("all {n} callbacks on the thread blocked in rkllm_run"),
        (s, o) => format!("{s} callbacks on rkllm_run's thread, {o} on other threads"),
    };
    // Either is allowed by the ABI (the recorder treats the calling thread as arbitrary).
    check(NAME, CheckStatus::Pass, evidence, "")
}

fn perf_present(abi: &str, reqs: &[RequestRecord]) -> Check {
    const NAME: &str = "perf-present";
    if !has_perf_abi(abi) {
        return unknown(NAME, format!("RKLLM {abi} has no perf stats (1.2.1+)"));
    }
    let finished: Vec<&RequestRecord> = reqs
        .iter()
        .filter(|r| r.final_state == crate::trace::vocab::final_state::FINISH)
        .collect();
    if finished.is_empty() {
        return unknown(NAME, "no request received FINISH");
    }
    let missing: Vec<String> = finished
        .iter()
        .filter(|r| match r.perf {
            None => true,
            Some(p) => {
                p.prefill_time_ms <= 0.0 && p.generate_time_ms <= 0.0 && p.generate_tokens == 0
            }
        })
        .map(|r| r.test_id.clone())
        .collect();
    if missing.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!(
                "{} of {} FINISH callbacks carried perf stats",
                finished.len(),
                finished.len()
            ),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {} FINISH callbacks without (or with all-zero) perf stats ({})",
            missing.len(),
            finished.len(),
            examples(&missing)
        ),
        "the runtime's own figures (prefill/generate time, memory) are missing for those requests: only rkbench's timestamps describe them",
    )
}

/// One request's runtime times beside rkbench's: (what, runtime ms, rkbench ms, tolerance ms).
fn clock_pairs(r: &RequestRecord) -> Vec<(&'static str, f64, f64, f64)> {
    let Some(p) = r.perf else { return Vec::new() };
    let times = r.token_times_us();
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Vec::new();
    };
    let itl = median(
        r.tokens
            .token_dt_us
            .iter()
            .skip(1)
            .map(|&d| f64::from(d) / 1e3)
            .collect(),
    )
    .unwrap_or(0.0);
    let tolerance = |ms: f64| itl + (ms * PERF_CLOCK_SHARE).max(PERF_CLOCK_FLOOR_MS);
    let mut out = Vec::new();
    let ttft = first as f64 / 1e3;
    if p.prefill_time_ms > 0.0 {
        out.push((
            "prefill",
            f64::from(p.prefill_time_ms),
            ttft,
            tolerance(ttft),
        ));
    }
    let span = last.saturating_sub(first) as f64 / 1e3;
    if times.len() >= 2 && p.generate_time_ms > 0.0 {
        out.push((
            "generate",
            f64::from(p.generate_time_ms),
            span,
            tolerance(span),
        ));
    }
    out
}

fn perf_matches_clock(abi: &str, reqs: &[RequestRecord]) -> Check {
    const NAME: &str = "perf-matches-clock";
    if !has_perf_abi(abi) {
        return unknown(NAME, format!("RKLLM {abi} has no perf stats (1.2.1+)"));
    }
    // Requests the runtime finished by itself: an abort cuts its timers at a moment rkbench
    // does not see.
    let judged: Vec<(&RequestRecord, Vec<_>)> = reqs
        .iter()
        .filter(|r| r.final_state == crate::trace::vocab::final_state::FINISH)
        .filter(|r| matches!(r.status, Status::Ok))
        .map(|r| (r, clock_pairs(r)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if judged.is_empty() {
        return unknown(
            NAME,
            "no finished request carried non-zero perf times and a token",
        );
    }
    let rule = format!(
        "tolerance one median ITL + max({PERF_CLOCK_FLOOR_MS:.0} ms, {:.0} %)",
        PERF_CLOCK_SHARE * 100.0
    );
    let mut worst: [(f64, &str); 2] = [(0.0, "prefill"), (0.0, "generate")];
    let mut bad = Vec::new();
    for (r, pairs) in &judged {
        let mut off = Vec::new();
        for &(what, runtime, ours, tol) in pairs {
            let diff = (runtime - ours).abs();
            let w = if what == "prefill" { 0 } else { 1 };
            worst[w].0 = worst[w].0.max(diff);
            if diff > tol {
                let ours_name = if what == "prefill" {
                    "TTFT"
                } else {
                    "first-to-last token"
                };
                off.push(format!(
                    "{what}_time_ms {runtime:.1} vs {ours_name} {ours:.1} ms"
                ));
            }
        }
        if !off.is_empty() {
            bad.push(format!("{}: {}", r.test_id, off.join(", ")));
        }
    }
    let n = judged.len();
    if bad.is_empty() {
        return check(
            NAME,
            CheckStatus::Pass,
            format!(
                "{n} of {n} requests: the runtime's prefill and generate times match rkbench's clock (largest differences {:.1} ms prefill, {:.1} ms generate; {rule})",
                worst[0].0, worst[1].0
            ),
            "",
        );
    }
    check(
        NAME,
        CheckStatus::Fail,
        format!(
            "{} of {n} requests off ({}; {rule})",
            bad.len(),
            examples(&bad)
        ),
        "the runtime's perf times disagree with rkbench's clock: a misread RKLLMPerfStat layout or a runtime clock bug, so every figure computed from them (the runtime's rates, the original section's Average Speed and TTFT) is wrong",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenColumns;
    use crate::trace::{PerfStat, RunHeader};

    fn req(index: u32, id: &str, prompt: &str, n: usize, cap: i32) -> RequestRecord {
        RequestRecord {
            index,
            test_id: id.into(),
            prompt: prompt.into(),
            max_new_tokens: cap,
            cap_source: CapSource::Rkbench,
            tokens: TokenColumns {
                token_dt_us: std::iter::once(100_000)
                    .chain(std::iter::repeat(10_000))
                    .take(n)
                    .collect(),
                token_ids: vec![1; n],
                text_len: vec![0; n],
                ..TokenColumns::default()
            },
            final_state: 2,
            run_return: 0,
            return_us: 100_000 + 10_000 * n as u64,
            perf: Some(PerfStat {
                prefill_time_ms: 100.0,
                prefill_tokens: 10,
                generate_time_ms: 10.0 * n as f32,
                generate_tokens: n as i32,
                memory_usage_mb: 1.0,
            }),
            ..Default::default()
        }
    }

    fn obs(index: u32) -> RuntimeObservation {
        RuntimeObservation {
            index,
            finish_callbacks: 1,
            callbacks_on_other_threads: 5,
            clear_kv_return: 0,
            ..Default::default()
        }
    }

    fn trace(abi: &str, reqs: Vec<RequestRecord>, obs: Vec<RuntimeObservation>) -> Trace {
        let mut header = RunHeader::default();
        header.runtime.abi = abi.into();
        Trace {
            path: String::new(),
            format_minor: 1,
            header,
            requests: reqs,
            telemetry: vec![],
            end: None,
            frames: 0,
            file_len: 0,
            damage: None,
            valid_len: 0,
            skipped_unknown: 0,
            journal_requests: 0,
            impossible: Vec::new(),
            server: None,
            inputs: vec![],
            templates: vec![],
            preset: None,
            input_options: None,
            runtime: crate::trace::RuntimeRecords {
                identity: None,
                observations: obs,
            },
            power: Default::default(),
            load: Default::default(),
        }
    }

    fn status(c: &Conformance, name: &str) -> CheckStatus {
        c.checks.iter().find(|x| x.check == name).unwrap().status
    }

    #[test]
    fn a_well_behaved_runtime_passes() {
        let mut o0 = obs(0);
        o0.stop_requested_at = 12;
        let c = Conformance::of(&trace(
            "1.2.1",
            vec![req(0, "a", "p", 12, 12), req(1, "b", "q", 7, 20)],
            vec![o0, obs(1)],
        ));
        let names: Vec<&str> = c.checks.iter().map(|x| x.check).collect();
        assert_eq!(
            names,
            [
                "token-count-matches-perf",
                "finish-once",
                "stop-return-honoured",
                "cap-held",
                "abort-latency",
                "clear-kv-effective",
                "callback-thread",
                "perf-present",
                "perf-matches-clock"
            ]
        );
        for (n, s) in [
            ("token-count-matches-perf", CheckStatus::Pass),
            ("finish-once", CheckStatus::Pass),
            ("stop-return-honoured", CheckStatus::Pass),
            ("cap-held", CheckStatus::Pass),
            ("abort-latency", CheckStatus::Unknown),
            ("clear-kv-effective", CheckStatus::Unknown),
            ("callback-thread", CheckStatus::Pass),
            ("perf-present", CheckStatus::Pass),
            ("perf-matches-clock", CheckStatus::Pass),
        ] {
            assert_eq!(status(&c, n), s, "{n}: {:?}", c.checks);
        }
        assert_eq!(c.caps[0].how, "stop honoured");
        assert_eq!(c.caps[1].how, "not reached");
        assert_eq!(c.warnings().count(), 0);
    }

    #[test]
    fn ignored_stop_fails_its_check_while_the_cap_holds() {
        let mut o = obs(0);
        o.stop_requested_at = 12;
        o.tokens_after_stop = 1;
        o.abort_us = 200_000;
        o.abort_reason = "cap".into();
        o.abort_at_token = 13;
        let mut r = req(0, "a", "p", 13, 12);
        r.return_us = 203_000;
        let c = Conformance::of(&trace("1.2.1", vec![r], vec![o]));
        assert_eq!(status(&c, "stop-return-honoured"), CheckStatus::Fail);
        assert_eq!(status(&c, "cap-held"), CheckStatus::Pass);
        assert_eq!(status(&c, "abort-latency"), CheckStatus::Pass);
        assert_eq!(c.caps[0].how, "held by abort after 1 extra");
        let w: Vec<_> = c.warnings().collect();
        assert_eq!(w.len(), 1);
        assert!(w[0].1.contains("ignores the callback's stop return"));
        let rw = c.report_warnings();
        assert_eq!(rw[0].code, "runtime-stop-ignored");
        assert!(
            rw[0].message.starts_with("1 of 1 stop returns ignored"),
            "{}",
            rw[0].message
        );
        assert!(!rw[0].invalidates_comparison);
        // A later request aborted at the cap itself: held exactly, and not judged as a stop.
        let mut later = obs(1);
        later.stop_requested_at = 12;
        later.abort_us = 150_000;
        later.abort_reason = abort_reason::CAP_STOP_IGNORED.into();
        later.abort_at_token = 12;
        let mut first = obs(0);
        first.stop_requested_at = 12;
        first.tokens_after_stop = 1;
        first.abort_reason = "cap".into();
        let c = Conformance::of(&trace(
            "1.2.1",
            vec![req(0, "a", "p", 13, 12), req(1, "b", "q", 12, 12)],
            vec![first, later],
        ));
        assert_eq!(
            c.caps[1].how,
            "abort at the cap (stop return ignored earlier in the run)"
        );
        assert!(c.caps[1].held);
        let x = &c.checks[2];
        assert!(
            x.evidence.starts_with("1 of 1 stop returns ignored")
                && x.evidence
                    .ends_with("1 later capped request(s) aborted at the cap itself"),
            "{}",
            x.evidence
        );
        // 40 tokens for a cap of 12: the cap did not hold.
        let c = Conformance::of(&trace(
            "1.2.1",
            vec![req(0, "a", "p", 40, 12)],
            vec![obs(0)],
        ));
        assert_eq!(status(&c, "cap-held"), CheckStatus::Fail);
        assert!(
            c.checks[3].evidence.contains("a: 40 tokens for cap 12"),
            "{:?}",
            c.checks[3]
        );
    }

    #[test]
    fn finish_perf_abort_and_cache_failures() {
        // FINISH late, twice, missing.
        let mut late = obs(0);
        late.end_after_return = true;
        let mut twice = obs(1);
        twice.finish_callbacks = 2;
        let mut none = obs(2);
        none.finish_callbacks = 0;
        let reqs = vec![
            req(0, "a", "p", 5, 0),
            req(1, "b", "q", 5, 0),
            req(2, "c", "r", 5, 0),
        ];
        let c = Conformance::of(&trace("1.2.1", reqs.clone(), vec![late, twice, none]));
        assert_eq!(status(&c, "finish-once"), CheckStatus::Fail);
        assert!(
            c.checks[1].evidence.starts_with("3 of 3 requests"),
            "{}",
            c.checks[1].evidence
        );
        // Perf counting the first token in prefill; perf all zero.
        let mut r = req(0, "a", "p", 5, 0);
        r.perf.as_mut().unwrap().generate_tokens = 4;
        let mut z = req(1, "b", "q", 5, 0);
        z.perf = Some(PerfStat::default());
        let c = Conformance::of(&trace("1.2.1", vec![r, z], vec![obs(0), obs(1)]));
        assert_eq!(status(&c, "token-count-matches-perf"), CheckStatus::Fail);
        assert_eq!(status(&c, "perf-present"), CheckStatus::Fail);
        // 1.2.0: nothing to judge perf or stop returns on.
        let c = Conformance::of(&trace("1.2.0", vec![req(0, "a", "p", 5, 0)], vec![obs(0)]));
        assert_eq!(status(&c, "perf-present"), CheckStatus::Unknown);
        assert_eq!(status(&c, "stop-return-honoured"), CheckStatus::Unknown);
        // A slow abort: 2 s after rkllm_abort with 10 ms tokens.
        let mut o = obs(0);
        o.abort_us = 150_000;
        o.abort_reason = "deadline".into();
        o.abort_at_token = 5;
        let mut r = req(0, "a", "p", 5, 0);
        r.return_us = 2_150_000;
        let c = Conformance::of(&trace("1.2.1", vec![r.clone()], vec![o.clone()]));
        assert_eq!(status(&c, "abort-latency"), CheckStatus::Fail);
        // The same during prefill: not interruptible, not a failure.
        o.abort_at_token = 0;
        let c = Conformance::of(&trace("1.2.1", vec![r], vec![o]));
        assert_eq!(status(&c, "abort-latency"), CheckStatus::Pass);
        // A repeated prompt prefilled in a fifth of the time: served from a cache.
        let z = req(0, "z", "other", 5, 0);
        let a = req(1, "a", "p", 5, 0);
        let mut b = req(2, "a", "p", 5, 0);
        b.perf.as_mut().unwrap().prefill_time_ms = 20.0;
        let o3 = vec![obs(0), obs(1), obs(2)];
        let c = Conformance::of(&trace(
            "1.2.1",
            vec![z.clone(), a.clone(), b.clone()],
            o3.clone(),
        ));
        assert_eq!(status(&c, "clear-kv-effective"), CheckStatus::Fail);
        let c = Conformance::of(&trace("1.2.1", vec![z, a.clone(), a.clone()], o3));
        assert_eq!(status(&c, "clear-kv-effective"), CheckStatus::Pass);
        // The run's first request is not the reference (it is often cold).
        let mut cold = a.clone();
        cold.index = 0;
        cold.perf.as_mut().unwrap().prefill_time_ms = 500.0;
        let mut a1 = a;
        a1.index = 1;
        let c = Conformance::of(&trace("1.2.1", vec![cold, a1], vec![obs(0), obs(1)]));
        assert_eq!(status(&c, "clear-kv-effective"), CheckStatus::Unknown);
    }

    #[test]
    fn perf_on_another_clock_fails_and_tolerance_allows_callback_latency() {
        // 12 tokens: TTFT 100 ms, then 10 ms apart (span 110 ms).
        let honest = req(0, "a", "p", 12, 0);
        let c = Conformance::of(&trace("1.2.1", vec![honest.clone()], vec![obs(0)]));
        let x = c
            .checks
            .iter()
            .find(|x| x.check == "perf-matches-clock")
            .unwrap();
        assert_eq!(x.status, CheckStatus::Pass, "{x:?}");
        assert!(x.evidence.contains("max(50 ms, 25 %)"), "{}", x.evidence);
        // Within tolerance: prefill 60 ms short of TTFT (≤ 10 ms ITL + 50 ms).
        let mut near = honest.clone();
        near.perf.as_mut().unwrap().prefill_time_ms = 40.5;
        let c = Conformance::of(&trace("1.2.1", vec![near], vec![obs(0)]));
        assert_eq!(status(&c, "perf-matches-clock"), CheckStatus::Pass);
        // Board-speed perf from a runtime running 50× faster than its figures say.
        let mut lying = honest.clone();
        let p = lying.perf.as_mut().unwrap();
        p.prefill_time_ms *= 50.0;
        p.generate_time_ms *= 50.0;
        let c = Conformance::of(&trace("1.2.1", vec![honest, lying], vec![obs(0), obs(1)]));
        let x = c
            .checks
            .iter()
            .find(|x| x.check == "perf-matches-clock")
            .unwrap();
        assert_eq!(x.status, CheckStatus::Fail);
        assert!(
            x.evidence.starts_with("1 of 2 requests off (a: prefill_time_ms 5000.0 vs TTFT 100.0 ms, generate_time_ms 6000.0 vs first-to-last token 110.0 ms"),
            "{}",
            x.evidence
        );
        let w = c.report_warnings();
        assert!(w
            .iter()
            .any(|w| w.code == "runtime-perf-clock" && !w.invalidates_comparison));
        // Nothing to judge: no perf (1.2.0), or all-zero perf (perf-present's failure).
        let c = Conformance::of(&trace("1.2.0", vec![req(0, "a", "p", 5, 0)], vec![]));
        assert_eq!(status(&c, "perf-matches-clock"), CheckStatus::Unknown);
        let mut z = req(0, "a", "p", 5, 0);
        z.perf = Some(PerfStat::default());
        let c = Conformance::of(&trace("1.2.1", vec![z], vec![]));
        assert_eq!(status(&c, "perf-matches-clock"), CheckStatus::Unknown);
    }

    #[test]
    fn old_traces_say_what_they_lack() {
        let c = Conformance::of(&trace("1.2.1", vec![req(0, "a", "p", 5, 0)], vec![]));
        for n in [
            "finish-once",
            "stop-return-honoured",
            "abort-latency",
            "callback-thread",
        ] {
            assert_eq!(status(&c, n), CheckStatus::Unknown, "{n}");
        }
        assert_eq!(status(&c, "token-count-matches-perf"), CheckStatus::Pass);
    }
}
