//! The suite loop: one runtime thread owns the RKLLM session and blocks in `rkllm_run`; the
//! orchestrating thread enforces deadlines and caps, checkpoints in-flight requests, handles
//! Ctrl-C, and is the only writer of the trace. If the runtime never returns after
//! `rkllm_abort`, the orchestrator can still finish the trace and exit.
use super::progress::Progress;
use super::recorder::{Capture, Recorder};
use super::schedule::{self, Order};
use super::telemetry::Sampler;
use crate::board::SysRoot;
use crate::error::{exit, Error, Result};
use crate::runtime::{AbiVersion, InitParams, RunOptions, Runtime, Session};
use crate::suite::{Suite, TestCase};
use crate::trace::{
    CapSource, PerfStat, Record, RequestRecord, RunEnd, RunHeader, RunStatus, Status, TokenChunk,
    TraceWriter,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything `record` needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    pub init: InitParams,
    pub think: Option<bool>,
    pub timeout: Option<Duration>,
    /// Output cap given on the command line; overrides the suite's per-test caps.
    pub max_new_tokens: Option<u32>,
    pub clear_kv: bool,
    pub checkpoint_interval: Duration,
    /// `fdatasync` after every checkpoint too (survives power loss, not just a crash).
    pub fsync_checkpoints: bool,
    pub abort_grace: Duration,
    pub quiet: bool,
    pub out: PathBuf,
    /// (system, prefix, postfix) for `rkllm_set_chat_template`.
    pub chat_template: Option<(String, String, String)>,
    /// Each test this many times (× the test's own `repeat`).
    pub repeat: u32,
    /// Warm-up requests before the measured ones (kept in the trace, marked, not counted).
    pub warmup: u32,
    pub order: Order,
    pub seed: u64,
    /// Pause between requests (lets the board cool down; telemetry keeps sampling).
    pub cooldown: Duration,
    /// Stop between requests once the run has lasted this long…
    pub max_duration: Option<Duration>,
    /// …but not before this many measured requests (the schedule repeats if needed).
    pub min_requests: u32,
    /// Board telemetry: the sysfs root and the sampling interval (`None` = off).
    pub telemetry: Option<(SysRoot, Duration)>,
}

/// How a recording ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Interrupted,
    Hung,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Complete => exit::OK,
            Outcome::Interrupted => exit::INTERRUPTED,
            Outcome::Hung => exit::HUNG,
        }
    }
}

/// Count of Ctrl-C / SIGTERM received. The second one exits at once (the trace stays valid up
/// to its last durable frame).
static SIGNALS: AtomicU32 = AtomicU32::new(0);

fn install_signal_handler() {
    let first: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    let _ = ctrlc::set_handler(move || {
        // A signal that reaches us twice at once (the terminal's process-group SIGINT plus the
        // supervisor forwarding it) counts once; a second Ctrl-C later exits immediately.
        let mut f = first.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_some_and(|t| t.elapsed() < Duration::from_millis(500)) {
            return;
        }
        let again = f.is_some();
        *f = Some(Instant::now());
        SIGNALS.fetch_add(1, Ordering::SeqCst);
        if again {
            eprintln!("rkbench: second interrupt, exiting now; the trace is valid up to its last durable frame");
            std::process::exit(exit::INTERRUPTED);
        }
        eprintln!("rkbench: interrupt: aborting the current request and finishing the trace (Ctrl-C again to exit at once)");
    });
}

/// The output cap of one test and how it is enforced.
pub fn effective_cap(plan_cap: Option<u32>, test: &TestCase) -> Option<u32> {
    plan_cap.or(test.max_new_tokens)
}

struct Job {
    opts: RunOptions,
    expect: usize,
    cap: Option<u32>,
}

enum FromRuntime {
    Ready,
    InitFailed(Error),
    Started(Instant),
    Done {
        rc: i32,
        at: Instant,
        err: Option<String>,
    },
}

/// Run the suite and write the trace. `header` is complete except for what is filled here.
pub fn record(
    rt: Runtime,
    suite: &Suite,
    plan: &RecordPlan,
    mut header: RunHeader,
) -> Result<Outcome> {
    install_signal_handler();
    let abi = rt.abi();
    let origin = Instant::now();
    let recorder = Arc::new(Recorder::new());

    // Caps: the runtime's init cap covers the largest request; smaller per-test caps are
    // enforced per run (1.3.0) or by rkbench from the callback (older runtimes).
    let caps: Vec<Option<u32>> = suite
        .tests
        .iter()
        .map(|t| effective_cap(plan.max_new_tokens, t))
        .collect();
    let mut init = plan.init.clone();
    if caps.iter().all(Option::is_some) {
        init.max_new_tokens = caps.iter().flatten().copied().max().unwrap_or(0) as i32;
    }
    header.params.max_new_tokens = init.max_new_tokens;
    let runtime_cap = init.max_new_tokens;

    let mut writer = TraceWriter::create(&plan.out).map_err(|e| {
        Error::input(format!(
            "cannot create trace {}: {e}; choose another --out path",
            plan.out.display()
        ))
    })?;
    let io = |e: std::io::Error| Error::internal(format!("writing trace: {e}"));
    let sampler = plan
        .telemetry
        .as_ref()
        .map(|(root, every)| Sampler::start(root.clone(), *every, origin));
    match &sampler {
        Some(s) => header.board.extend(s.facts()),
        None => header.board.push(crate::trace::Fact {
            key: "telemetry".into(),
            value: "unavailable (disabled by --no-telemetry)".into(),
        }),
    }
    header.board.sort();
    writer.append(&Record::Header(header)).map_err(io)?;
    writer.sync().map_err(io)?;

    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (ev_tx, ev_rx) = mpsc::channel::<FromRuntime>();
    let sink = Arc::clone(&recorder);
    let clear_kv = plan.clear_kv;
    let chat_template = plan.chat_template.clone();
    let aborter_slot: Arc<std::sync::Mutex<Option<crate::runtime::Aborter>>> = Default::default();
    let slot = Arc::clone(&aborter_slot);
    // The runtime thread is never joined: if the runtime hangs, the process exits around it.
    std::thread::Builder::new()
        .name("rkllm-runtime".into())
        .spawn(move || {
            let rt = rt;
            let mut session = match Session::init(&rt, &init, sink) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ev_tx.send(FromRuntime::InitFailed(e));
                    return;
                }
            };
            if let Some((sys, pre, post)) = &chat_template {
                match session.set_chat_template(sys, pre, post) {
                    Ok(Some(0)) | Ok(None) => {}
                    Ok(Some(rc)) => {
                        let _ = ev_tx.send(FromRuntime::InitFailed(Error::runtime(format!("rkllm_set_chat_template failed with code {rc}; check the --chat-template strings"))));
                        return;
                    }
                    Err(e) => {
                        let _ = ev_tx.send(FromRuntime::InitFailed(e));
                        return;
                    }
                }
            }
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(session.aborter());
            let _ = ev_tx.send(FromRuntime::Ready);
            while let Ok(job) = job_rx.recv() {
                let t0 = session.sink().begin(job.expect, job.cap);
                let _ = ev_tx.send(FromRuntime::Started(t0));
                let (rc, err) = match session.run(&job.opts) {
                    Ok(rc) => (rc, None),
                    Err(e) => (-1, Some(e.msg)),
                };
                let at = Instant::now();
                if session.sink().cap_hit() {
                    // Paused at our cap: make sure the runtime does not resume it on the next run.
                    session.aborter().abort();
                }
                if clear_kv {
                    session.clear_kv_cache();
                }
                let _ = ev_tx.send(FromRuntime::Done { rc, at, err });
            }
        })
        .map_err(|e| Error::internal(format!("cannot start runtime thread: {e}")))?;

    match ev_rx.recv() {
        Ok(FromRuntime::Ready) => {}
        Ok(FromRuntime::InitFailed(e)) => {
            if let Some(b) = sampler.and_then(|s| s.stop()) {
                writer.append(&Record::Telemetry(b)).map_err(io)?;
            }
            end_run(&mut writer, origin, RunStatus::Failed, &e.msg, 0)?;
            return Err(e);
        }
        _ => return Err(Error::internal("runtime thread ended before init")),
    }
    let aborter = aborter_slot
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let aborter = aborter.ok_or_else(|| Error::internal("no abort handle"))?;

    let slots = schedule::plan(suite, plan.repeat, plan.warmup, plan.order, plan.seed);
    let mut progress = Progress::new(plan.quiet, slots.len());
    if let Some(s) = &sampler {
        let absent: Vec<String> = s
            .absent()
            .into_iter()
            .map(|(k, why)| format!("{k} ({why})"))
            .collect();
        if !absent.is_empty() {
            progress.note(&format!(
                "rkbench: telemetry not available here: {}",
                absent.join(", ")
            ));
        }
    }
    let mut tally = [0u32; 3]; // ok, partial, failed
    let mut last_telemetry = Instant::now();
    let mut outcome = Outcome::Complete;
    let mut written = 0u32;
    let mut measured = 0u32;
    let mut slot_iter = 0usize;
    let mut stop_reason = String::new();
    loop {
        if let Some(max) = plan.max_duration {
            if origin.elapsed() >= max && measured >= plan.min_requests {
                stop_reason = format!(
                    "stopped after {} (--max-duration)",
                    humantime::format_duration(Duration::from_secs(origin.elapsed().as_secs()))
                );
                break;
            }
        }
        // The schedule repeats only to reach --min-requests.
        let slot = match slots.get(slot_iter) {
            Some(s) => *s,
            None if measured < plan.min_requests && !slots.is_empty() => {
                let extra = slots.iter().filter(|s| !s.warmup).count();
                let k = (slot_iter - slots.len()) % extra.max(1);
                let mut s = *slots
                    .iter()
                    .filter(|s| !s.warmup)
                    .nth(k)
                    .unwrap_or(&slots[0]);
                s.repeat +=
                    (1 + (slot_iter - slots.len()) / extra.max(1)) as u32 * plan.repeat.max(1);
                s
            }
            None => break,
        };
        if SIGNALS.load(Ordering::SeqCst) > 0 {
            outcome = Outcome::Interrupted;
            break;
        }
        if slot_iter > 0 && !plan.cooldown.is_zero() {
            let until = Instant::now() + plan.cooldown;
            while Instant::now() < until && SIGNALS.load(Ordering::SeqCst) == 0 {
                std::thread::sleep(
                    Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
                );
                flush_telemetry(&sampler, &mut writer, &mut last_telemetry, false)?;
            }
        }
        let index = written as usize;
        let test = &suite.tests[slot.test];
        let think = plan.think.or(test.think).unwrap_or(false);
        let cap = caps[slot.test];
        let (cap_source, our_cap, per_run) = match cap {
            Some(c) if runtime_cap > 0 && c as i32 >= runtime_cap => (CapSource::Runtime, None, 0),
            Some(c) if abi.has_per_run_params() => (CapSource::RuntimePerRun, None, c as i32),
            Some(c) => (CapSource::Rkbench, Some(c), 0),
            None => (CapSource::Runtime, None, 0),
        };
        let job = Job {
            opts: RunOptions {
                prompt: test.prompt.clone(),
                enable_thinking: think && abi.has_thinking(),
                keep_history: false,
                max_new_tokens: per_run,
            },
            expect: cap.map(|c| c as usize + 16).unwrap_or(4096),
            cap: our_cap,
        };
        let mut rec = RequestRecord {
            index: index as u32,
            test_id: test.id.clone(),
            name: test.name.clone(),
            category: test.category.clone(),
            prompt: test.prompt.clone(),
            repeat_index: slot.repeat,
            warmup: slot.warmup,
            think,
            max_new_tokens: cap.map(|c| c as i32).unwrap_or(-1),
            cap_source,
            status: Status::InFlight,
            run_return: i32::MIN,
            ..Default::default()
        };
        job_tx
            .send(job)
            .map_err(|_| Error::internal("runtime thread gone"))?;
        let t0 = match ev_rx.recv() {
            Ok(FromRuntime::Started(t0)) => t0,
            _ => return Err(Error::internal("runtime thread did not start the request")),
        };
        rec.start_us = micros(t0.duration_since(origin));
        progress.start_request(slot_iter, &test.id, slot.warmup);
        let deadline = plan.timeout.or(test.timeout).map(|d| t0 + d);
        // The request is visible in the trace from its start: a crash before the first token
        // still shows which test was running.
        writer.append(&Record::Partial(rec.clone())).map_err(io)?;
        let mut aborted_at: Option<Instant> = None;
        let mut reason: Option<Status> = None;
        let mut last_checkpoint = Instant::now();
        let mut checkpointed = 0usize;
        // ≤ 1.2.0 callbacks cannot ask to stop, so rkbench aborts at its cap: poll faster then.
        let abort_at_cap = our_cap.is_some() && !abi.callback_returns_int();
        let tick = if abort_at_cap {
            Duration::from_millis(1)
        } else {
            plan.checkpoint_interval
                .clamp(Duration::from_millis(1), Duration::from_millis(20))
        };
        let done = loop {
            match ev_rx.recv_timeout(tick) {
                Ok(FromRuntime::Done { rc, at, err }) => break Some((rc, at, err)),
                Ok(_) => continue,
                Err(RecvTimeoutError::Disconnected) => break None,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if aborted_at.is_none() {
                if SIGNALS.load(Ordering::SeqCst) > 0 {
                    reason = Some(Status::Interrupted);
                } else if deadline.is_some_and(|d| now >= d) {
                    reason = Some(Status::Timeout);
                } else if abort_at_cap && recorder.cap_hit() {
                    aborter.abort();
                    aborted_at = Some(now);
                }
                if reason.is_some() {
                    aborter.abort();
                    aborted_at = Some(now);
                }
            } else if aborted_at.is_some_and(|a| now.duration_since(a) >= plan.abort_grace) {
                break None; // hung: the runtime ignores rkllm_abort
            }
            if recorder.tokens() as usize > checkpointed
                && now.duration_since(last_checkpoint) >= plan.checkpoint_interval
            {
                let tail = recorder.snapshot_from(checkpointed);
                let n = tail.token_dt_us.len();
                writer
                    .append(&Record::Tokens(TokenChunk {
                        index: rec.index,
                        first: checkpointed as u32,
                        token_dt_us: tail.token_dt_us,
                        token_ids: tail.token_ids,
                        waiting: tail.waiting,
                        text_len: tail.text_len,
                        text: tail.text,
                    }))
                    .map_err(io)?;
                if plan.fsync_checkpoints {
                    writer.sync().map_err(io)?;
                }
                checkpointed += n;
                last_checkpoint = now;
            }
            flush_telemetry(&sampler, &mut writer, &mut last_telemetry, false)?;
            let tele = sampler
                .as_ref()
                .map(|s| super::telemetry::progress_line(&s.latest()))
                .unwrap_or_default();
            progress.tick(
                slot_iter,
                &test.id,
                recorder.tokens(),
                recorder.live_decode_rate(),
                now.duration_since(t0),
                &tele,
            );
        };
        let capture = recorder.finish();
        fill(&mut rec, &capture, abi);
        match done {
            Some((rc, at, err)) => {
                rec.run_return = rc;
                rec.return_us = micros(at.duration_since(t0));
                rec.end_us = capture.end_us.unwrap_or(rec.return_us);
                rec.status = match reason {
                    Some(s) => s,
                    None if rc != 0 => Status::Error,
                    None if capture.final_state == 3 => Status::Error,
                    None => Status::Ok,
                };
                rec.detail = match (rec.status, err) {
                    (_, Some(e)) => e,
                    (Status::Timeout, _) => format!(
                        "deadline of {} passed; aborted after {} tokens",
                        humantime::format_duration(deadline.map(|d| d - t0).unwrap_or_default()),
                        rec.token_ids.len()
                    ),
                    (Status::Interrupted, _) => {
                        format!("interrupted after {} tokens", rec.token_ids.len())
                    }
                    (Status::Error, _) if rc != 0 => format!("rkllm_run returned {rc}"),
                    (Status::Error, _) => "the runtime sent RKLLM_RUN_ERROR".into(),
                    _ => String::new(),
                };
            }
            None => {
                rec.status = Status::Hung;
                rec.end_us = micros(Instant::now().duration_since(t0));
                rec.detail = format!(
                    "the runtime did not return within {} after rkllm_abort",
                    humantime::format_duration(plan.abort_grace)
                );
            }
        }
        writer.append(&Record::Request(rec.clone())).map_err(io)?;
        flush_telemetry(&sampler, &mut writer, &mut last_telemetry, true)?;
        writer.sync().map_err(io)?;
        written += 1;
        if !rec.warmup {
            measured += 1;
            let k = match rec.status {
                Status::Ok => 0,
                Status::Error => 2,
                _ if rec.token_ids.is_empty() => 2,
                _ => 1,
            };
            tally[k] += 1;
        }
        slot_iter += 1;
        progress.finish_request(slot_iter - 1, &test.id, t0.elapsed(), &summary_line(&rec));
        if rec.status == Status::Hung {
            if let Some(b) = sampler.and_then(|s| s.stop()) {
                writer.append(&Record::Telemetry(b)).map_err(io)?;
            }
            end_run(&mut writer, origin, RunStatus::Hung, &rec.detail, written)?;
            return Ok(Outcome::Hung);
        }
        if rec.status == Status::Interrupted {
            outcome = Outcome::Interrupted;
            break;
        }
    }
    drop(job_tx);
    if let Some(s) = sampler {
        if let Some(b) = s.stop() {
            writer.append(&Record::Telemetry(b)).map_err(io)?;
        }
    }
    let (status, detail) = match outcome {
        Outcome::Complete => (RunStatus::Complete, stop_reason),
        Outcome::Interrupted => (RunStatus::Interrupted, "interrupted by signal".to_string()),
        Outcome::Hung => (RunStatus::Hung, String::new()),
    };
    end_run(&mut writer, origin, status, &detail, written)?;
    progress.note(&format!(
        "rkbench: done: {written} requests ({} warm-up), {} ok, {} partial, {} failed, in {:.1} s{}",
        written - measured,
        tally[0],
        tally[1],
        tally[2],
        origin.elapsed().as_secs_f64(),
        if detail.is_empty() { String::new() } else { format!("; {detail}") }
    ));
    Ok(outcome)
}

/// Append the telemetry sampled since the last batch, every couple of seconds (or now).
fn flush_telemetry(
    sampler: &Option<Sampler>,
    w: &mut TraceWriter,
    last: &mut Instant,
    now: bool,
) -> Result<()> {
    let Some(s) = sampler else { return Ok(()) };
    if !now && last.elapsed() < TELEMETRY_BATCH_EVERY {
        return Ok(());
    }
    *last = Instant::now();
    if let Some(b) = s.take_batch() {
        w.append(&Record::Telemetry(b))
            .map_err(|e| Error::internal(format!("writing trace: {e}")))?;
    }
    Ok(())
}

/// Telemetry batches are written this often (samples are taken at `--sample-interval`).
const TELEMETRY_BATCH_EVERY: Duration = Duration::from_secs(2);

fn end_run(
    w: &mut TraceWriter,
    origin: Instant,
    status: RunStatus,
    detail: &str,
    requests: u32,
) -> Result<()> {
    let io = |e: std::io::Error| Error::internal(format!("writing trace: {e}"));
    w.append(&Record::End(RunEnd {
        status,
        detail: detail.to_string(),
        end_us: micros(origin.elapsed()),
        requests,
    }))
    .map_err(io)?;
    w.sync().map_err(io)
}

fn fill(rec: &mut RequestRecord, c: &Capture, abi: AbiVersion) {
    rec.token_dt_us = c.token_dt_us.clone();
    rec.token_ids = c.token_ids.clone();
    rec.waiting = c.waiting.clone();
    rec.text_len = c.text_len.clone();
    rec.text = c.text.clone();
    rec.final_state = c.final_state;
    rec.perf = if abi.has_perf() {
        c.perf.map(|p| PerfStat {
            prefill_time_ms: p.prefill_time_ms,
            prefill_tokens: p.prefill_tokens,
            generate_time_ms: p.generate_time_ms,
            generate_tokens: p.generate_tokens,
            memory_usage_mb: p.memory_usage_mb,
        })
    } else {
        None
    };
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

fn summary_line(r: &RequestRecord) -> String {
    let n = r.token_ids.len();
    let secs = r.end_us as f64 / 1e6;
    let first = r.token_dt_us.first().map(|&d| d as f64 / 1e3);
    let decode = if n > 1 {
        let span: u64 = r.token_dt_us[1..].iter().map(|&d| u64::from(d)).sum();
        if span > 0 {
            format!("{:.2} tok/s decode", (n - 1) as f64 / (span as f64 / 1e6))
        } else {
            "-".into()
        }
    } else {
        "-".into()
    };
    format!(
        "{}: {n} tokens, TTFT {}, {decode}, {secs:.1} s",
        r.status.as_str(),
        first
            .map(|f| format!("{f:.0} ms"))
            .unwrap_or_else(|| "-".into())
    )
}
