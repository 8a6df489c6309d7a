//! The suite loop: one runtime thread owns the RKLLM session and blocks in `rkllm_run`; the
//! orchestrating thread (here) enforces deadlines and caps, checkpoints in-flight requests,
//! handles Ctrl-C, shows progress, and is the only writer of the trace. If the runtime never
//! returns after `rkllm_abort`, the orchestrator can still finish the trace and exit.
use super::interrupt::{self, interrupted, Source};
use super::progress::{Progress, Tally};
use super::recorder::{Capture, Recorder};
use super::runtime_thread::{Job, RuntimeLink, Wait};
use super::schedule::{self, Order, RunControl, Slot};
use super::telemetry::Sampler;
use super::template::{ChatTemplate, Family};
use super::trace_out::{micros, TraceOut};
use crate::board::SysRoot;
use crate::error::{exit, Result};
use crate::runtime::{AbiVersion, InitParams, RunOptions, Runtime};
use crate::suite::{Suite, TestCase};
use crate::trace::vocab;
use crate::trace::{
    abort_reason, input_type, CapSource, Record, RequestInput, RequestRecord, RunHeader, RunStatus,
    RuntimeObservation, Status, TokenChunk,
};
use crate::trace::{PresetUsed, TemplateSent};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything `record` needs, resolved from the command line.
#[derive(Debug, Clone)]
pub(crate) struct RecordPlan {
    pub init: InitParams,
    /// How requests are offered: one at a time, N streams, or an arrival rate.
    pub load: super::load::LoadPlan,
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
    /// (system, prefix, postfix) for `rkllm_set_chat_template` (`--chat-template`), set once.
    pub chat_template: Option<(String, String, String)>,
    /// The template family that carries the suite's system messages, set per request (and
    /// why that family, for the trace).
    pub template_family: Option<(Family, String)>,
    /// The `--preset` used, as recorded in the trace.
    pub preset: Option<PresetUsed>,
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
    /// `--power`: the power source polled beside telemetry (`None` = off).
    pub power: Option<super::power::PowerPlan>,
    /// Where `/proc/meminfo` is read for the memory check of several instances (`--sysfs-root`).
    pub sysfs_root: SysRoot,
}

impl RecordPlan {
    /// The stop rules of this plan.
    pub(crate) fn run_control(&self) -> RunControl {
        RunControl {
            repeat: self.repeat,
            min_requests: self.min_requests,
            max_duration: self.max_duration,
        }
    }

    /// How often a running request is looked at (deadlines, checkpoints, signals): the
    /// checkpoint interval, kept within 1–20 ms.
    pub(super) fn watch_tick(&self) -> Duration {
        self.checkpoint_interval
            .clamp(Duration::from_millis(1), Duration::from_millis(20))
    }
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

/// The output cap of one test.
pub fn effective_cap(plan_cap: Option<u32>, test: &TestCase) -> Option<u32> {
    plan_cap.or(test.max_new_tokens)
}

/// Run the suite and write the trace. `header` is complete except for what is filled here.
pub(crate) fn record(
    rt: Runtime,
    suite: &Suite,
    plan: &RecordPlan,
    mut header: RunHeader,
) -> Result<Outcome> {
    // `--concurrency N`: N instances, refused here (before anything is written) when the
    // runtime or the memory cannot hold them.
    let level = match plan.load.mode {
        crate::trace::load::LoadMode::Concurrency => {
            Some(super::instances::check(&rt, plan, header.model.size)?)
        }
        _ => None,
    };
    match level {
        Some(_) => super::instances::install_interrupt(),
        None => interrupt::install(
            Source::TerminalAndSupervisor,
            "aborting the current request",
        ),
    }
    let abi = rt.abi();
    let identity = super::recorder::identity_record(&rt);
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

    let power = TraceOut::start_power(plan.power.as_ref(), origin)?;
    let mut out = TraceOut::create(&plan.out, origin)?;
    out.measure_power(power);
    let sampler = plan
        .telemetry
        .as_ref()
        .map(|(root, every)| Sampler::start(root.clone(), *every, origin));
    match &sampler {
        Some(s) => header.board.extend(s.facts()),
        None => header.board.push(crate::trace::Fact {
            key: vocab::fact::TELEMETRY.into(),
            value: vocab::unavailable("disabled by --no-telemetry"),
        }),
    }
    header.board.sort();
    out.sample(sampler);
    out.begin(&plan.out, header)?;
    out.append(&Record::Identity(identity))?;
    if let Some(p) = &plan.preset {
        out.append(&Record::PresetUsed(p.clone()))?;
    }
    if let Some((system, prefix, postfix)) = plan.chat_template.clone() {
        out.append(&Record::TemplateSent(TemplateSent {
            index: 0,
            origin: "--chat-template".into(),
            system,
            prefix,
            postfix,
        }))?;
    }
    out.append(&Record::InputOptions(crate::trace::InputOptions {
        ignore_eos_token: init.ignore_eos_token && abi == AbiVersion::V1_3_0,
    }))?;
    out.sync()?;

    let rt = Arc::new(rt);
    let (doorbell, rings) = std::sync::mpsc::channel::<u32>();
    let mut level_facts = level.as_ref().map(|l| l.facts.clone()).unwrap_or_default();
    let link = match RuntimeLink::start(
        Arc::clone(&rt),
        init.clone(),
        Arc::clone(&recorder),
        plan.clear_kv,
        plan.chat_template.clone(),
        level.as_ref().map(|_| (0, doorbell.clone())),
    ) {
        Ok(l) => l,
        Err(e) => {
            out.finish(RunStatus::Failed, &e.msg, 0)?;
            return Err(e);
        }
    };
    let more = match &level {
        Some(l) => {
            super::instances::note_memory(plan, 0, &mut level_facts);
            match super::instances::start_more(&rt, plan, &init, l.n, &doorbell, &mut level_facts) {
                Ok(m) => m,
                Err(e) => {
                    out.finish(RunStatus::Failed, &e.msg, 0)?;
                    return Err(e);
                }
            }
        }
        None => Vec::new(),
    };
    drop(doorbell);
    let slots = schedule::plan(suite, plan.repeat, plan.warmup, plan.order, plan.seed);
    let mut progress = Progress::new(plan.quiet, plan.run_control().expected(&slots));
    if let Some(s) = out.sampler() {
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
    let mut o = Orchestrator {
        plan,
        suite,
        abi,
        origin,
        recorder,
        link,
        more,
        out,
        progress,
        caps,
        runtime_cap,
        template_sent: None,
    };
    let in_flight = match level {
        Some(_) => "the checkpoints of the requests in flight",
        None => "the checkpoints of the request in flight",
    };
    o.out.power_baseline(plan.quiet)?;
    match level {
        Some(_) => o.run_instances(&slots, level_facts, rings),
        None => o.run_schedule(&slots),
    }
    .map_err(|e| o.out.explain(e, in_flight))
}

/// Everything the suite loop works with.
pub(super) struct Orchestrator<'a> {
    pub(super) plan: &'a RecordPlan,
    suite: &'a Suite,
    pub(super) abi: AbiVersion,
    pub(super) origin: Instant,
    /// Instance 0 (the only one of a sequential run).
    pub(super) recorder: Arc<Recorder>,
    pub(super) link: RuntimeLink,
    /// Instances 1..N of `--concurrency N` on the runtime.
    pub(super) more: Vec<super::instances::Lane>,
    pub(super) out: TraceOut,
    pub(super) progress: Progress,
    caps: Vec<Option<u32>>,
    runtime_cap: i32,
    /// The template last set for the suite's system messages (recorded when it changes).
    template_sent: Option<ChatTemplate>,
}

impl Orchestrator<'_> {
    /// Run the planned requests, honouring stop rules and cool-down; finish the trace.
    fn run_schedule(&mut self, slots: &[Slot]) -> Result<Outcome> {
        let plan = self.plan;
        let mut tally = Tally::default();
        let mut position = 0usize;
        let mut stop_reason = String::new();
        let mut outcome = Outcome::Complete;
        let control = plan.run_control();
        loop {
            if let Some(why) = control.stop_now(self.origin.elapsed(), tally.measured) {
                stop_reason = why;
                break;
            }
            let Some(slot) = control.next_slot(slots, position, tally.measured) else {
                stop_reason = control.completed(slots, position);
                break;
            };
            if interrupted() {
                outcome = Outcome::Interrupted;
                break;
            }
            if position > 0 {
                self.cool_down()?;
            }
            let rec = self.run_request(slot, position, tally.written)?;
            position += 1;
            tally.add(rec.warmup, rec.status, !rec.tokens.token_ids.is_empty());
            match rec.status {
                Status::Hung => {
                    self.out
                        .finish(RunStatus::Hung, &rec.detail, tally.written)?;
                    return Ok(Outcome::Hung);
                }
                Status::Interrupted => {
                    outcome = Outcome::Interrupted;
                    break;
                }
                _ => {}
            }
        }
        let (status, detail) = match outcome {
            Outcome::Complete => (RunStatus::Complete, stop_reason),
            Outcome::Interrupted => (RunStatus::Interrupted, "interrupted by signal".to_string()),
            Outcome::Hung => (RunStatus::Hung, String::new()),
        };
        self.out.finish(status, &detail, tally.written)?;
        self.progress.done(&tally, self.origin.elapsed(), &detail);
        Ok(outcome)
    }

    /// `--cooldown`: wait between requests, still sampling and still answering Ctrl-C.
    pub(super) fn cool_down(&mut self) -> Result<()> {
        let out = &mut self.out;
        interrupt::cool_down(self.plan.cooldown, Duration::from_millis(20), || {
            out.flush_telemetry(false)
        })
    }

    /// One request: submit it, watch deadline/cap/signals while checkpointing, write its record.
    pub(super) fn run_request(
        &mut self,
        slot: Slot,
        position: usize,
        index: u32,
    ) -> Result<RequestRecord> {
        let plan = self.plan;
        let Prepared {
            mut rec,
            job,
            timeout,
        } = self.prepare(slot, index)?;
        let test_id = rec.test_id.clone();
        let t0 = self.link.submit(job)?;
        rec.start_us = micros(t0.duration_since(self.origin));
        self.progress.start_request(position, &test_id, slot.warmup);
        // The request is visible from its start: a crash before the first token still shows
        // which test was running.
        self.out.checkpoint(&Record::Partial(rec.clone()), false)?;
        let deadline = timeout.map(|d| t0 + d);
        let (done, reason) = self.watch(&rec, position, &test_id, t0, deadline)?;
        let capture = self.recorder.finish();
        let obs = conclude(&mut rec, capture, self.abi, done, reason, timeout, t0, plan);
        self.out
            .request_done(&[Record::Request(rec.clone()), Record::RuntimeObs(obs)])?;
        self.progress
            .finish_request(position, &test_id, t0.elapsed(), &summary_line(&rec));
        Ok(rec)
    }

    /// Everything before a request is submitted: its record (in flight), what is fed and the
    /// template (into the trace first, so even a request that crashes the runtime says what it
    /// was given), and the job for the runtime thread.
    pub(super) fn prepare(&mut self, slot: Slot, index: u32) -> Result<Prepared> {
        let (plan, abi) = (self.plan, self.abi);
        let test = &self.suite.tests[slot.test];
        let think = plan.think.or(test.think).unwrap_or(false);
        let cap = self.caps[slot.test];
        let (cap_source, our_cap, per_run) = match cap {
            Some(c) if self.runtime_cap > 0 && c as i32 >= self.runtime_cap => {
                (CapSource::Runtime, None, 0)
            }
            Some(c) if abi.has_per_run_params() => (CapSource::RuntimePerRun, None, c as i32),
            Some(c) => (CapSource::Rkbench, Some(c), 0),
            None => (CapSource::Runtime, None, 0),
        };
        let rec = RequestRecord {
            index,
            test_id: test.id.clone(),
            name: test.name.clone(),
            category: test.category.clone(),
            prompt: match test.input_tokens {
                Some(n) => crate::token_input::describe(n),
                None => test.prompt.clone(),
            },
            repeat_index: slot.repeat,
            warmup: slot.warmup,
            think,
            max_new_tokens: cap.map(|c| c as i32).unwrap_or(-1),
            cap_source,
            status: Status::InFlight,
            run_return: i32::MIN,
            ..Default::default()
        };
        self.out
            .append(&Record::Input(input_record(index, test.input_tokens)))?;
        let template = plan.template_family.as_ref().map(|(family, origin)| {
            let t = family.template(test.system.as_deref(), plan.think.or(test.think));
            (t, origin)
        });
        if let Some((t, origin)) = &template {
            if self.template_sent.as_ref() != Some(t) {
                self.out.append(&Record::TemplateSent(TemplateSent {
                    index,
                    origin: origin.to_string(),
                    system: t.system.clone(),
                    prefix: t.prefix.clone(),
                    postfix: t.postfix.clone(),
                }))?;
                self.template_sent = Some(t.clone());
            }
        }
        let job = Job {
            opts: RunOptions {
                prompt: test.prompt.clone(),
                token_ids: test.input_tokens.map(crate::token_input::ids),
                enable_thinking: think && abi.has_thinking(),
                keep_history: false,
                max_new_tokens: per_run,
            },
            expect: cap.map(|c| c as usize + 16).unwrap_or(4096),
            cap: our_cap,
            template: template.map(|(t, _)| t.into_tuple()),
        };
        Ok(Prepared {
            rec,
            job,
            timeout: plan.timeout.or(test.timeout),
        })
    }

    /// Wait for the running request, enforcing its deadline, our cap and Ctrl-C, and appending
    /// new tokens to the trace every `--checkpoint-interval`. Returns how `rkllm_run` returned
    /// (`None` if it never did within the abort grace) and why rkbench stopped it, if it did.
    fn watch(
        &mut self,
        rec: &RequestRecord,
        position: usize,
        id: &str,
        t0: Instant,
        deadline: Option<Instant>,
    ) -> Result<(Returned, Option<Status>)> {
        let plan = self.plan;
        let mut w = Watch::new(deadline);
        loop {
            match self.link.wait(plan.watch_tick()) {
                Wait::Done { rc, at, err } => return Ok((Some((rc, at, err)), w.reason)),
                Wait::Gone => return Ok((None, w.reason)),
                Wait::Tick => {}
            }
            let now = Instant::now();
            if w.tick(now, interrupted(), &self.recorder, &self.link, plan) {
                return Ok((None, w.reason));
            }
            if w.checkpoint_due(now, self.recorder.tokens(), plan) {
                let n = self.checkpoint(rec.index, w.checkpointed)?;
                w.checkpointed(n, now);
            }
            self.out.flush_telemetry(false)?;
            let sampler = self.out.sampler();
            self.progress.tick(
                position,
                id,
                self.recorder.tokens(),
                self.recorder.live_decode_rate(),
                now.duration_since(t0),
                || {
                    sampler
                        .map(|s| super::telemetry::progress_line(&s.latest()))
                        .unwrap_or_default()
                },
            );
        }
    }

    /// Append the tokens from `from` on as a `Tokens` frame; returns how many.
    fn checkpoint(&mut self, index: u32, from: usize) -> Result<usize> {
        checkpoint_tokens(
            &mut self.out,
            &self.recorder,
            index,
            from,
            self.plan.fsync_checkpoints,
        )
    }
}

/// Append `recorder`'s tokens of request `index` from `from` on to the journal as a `Tokens`
/// frame; returns how many (one instance or several: each checkpoints its own recorder).
pub(super) fn checkpoint_tokens(
    out: &mut TraceOut,
    recorder: &Recorder,
    index: u32,
    from: usize,
    fsync: bool,
) -> Result<usize> {
    let tail = recorder.snapshot_from(from);
    let n = tail.tokens.len();
    let chunk = Record::Tokens(TokenChunk {
        index,
        first: from as u32,
        tokens: tail.tokens,
    });
    out.checkpoint(&chunk, fsync)?;
    Ok(n)
}

/// The trace's record of what request `index` feeds the runtime.
pub(crate) fn input_record(index: u32, input_tokens: Option<u32>) -> RequestInput {
    match input_tokens {
        Some(n) => RequestInput {
            index,
            input_type: input_type::TOKEN,
            n_tokens: n,
            first_id: crate::token_input::FIRST_ID,
            id_span: crate::token_input::SPAN as u32,
        },
        None => RequestInput {
            index,
            input_type: input_type::PROMPT,
            ..RequestInput::default()
        },
    }
}

/// A request about to be submitted ([`Orchestrator::prepare`]).
pub(super) struct Prepared {
    pub rec: RequestRecord,
    pub job: Job,
    /// `--timeout` or the test's own.
    pub timeout: Option<Duration>,
}

/// A running request as rkbench watches it (one request, or one per runtime instance): its
/// deadline, the abort rkbench sent and when, and how far its tokens are checkpointed. The
/// rules of stopping a request are here once: at its deadline or an interrupt rkbench aborts
/// it; an abort the cap sent counts the same; a runtime that ignores the abort past
/// `--abort-grace` has hung.
#[derive(Debug, Clone, Copy)]
pub(super) struct Watch {
    pub deadline: Option<Instant>,
    pub aborted_at: Option<Instant>,
    /// Why rkbench stopped it, if it did.
    pub reason: Option<Status>,
    pub checkpointed: usize,
    pub last_checkpoint: Instant,
}

impl Watch {
    pub(super) fn new(deadline: Option<Instant>) -> Watch {
        Watch {
            deadline,
            aborted_at: None,
            reason: None,
            checkpointed: 0,
            last_checkpoint: Instant::now(),
        }
    }

    /// Stop the request now, for `why` (an interrupt, or its deadline).
    pub(super) fn abort(&mut self, why: Status, now: Instant, rec: &Recorder, link: &RuntimeLink) {
        let code = if why == Status::Interrupted {
            abort_reason::INTERRUPT
        } else {
            abort_reason::DEADLINE
        };
        rec.abort_now(code, &link.aborter);
        self.reason = Some(why);
        self.aborted_at = Some(now);
    }

    /// One tick of the watch at `now` (`interrupt`: Ctrl-C reached this request): abort it if
    /// it is due, note an abort the cap sent (the runtime gets the same grace to stop); `true`
    /// when the runtime ignored the abort past the grace: hung.
    pub(super) fn tick(
        &mut self,
        now: Instant,
        interrupt: bool,
        rec: &Recorder,
        link: &RuntimeLink,
        plan: &RecordPlan,
    ) -> bool {
        match self.aborted_at {
            None => {
                if interrupt {
                    self.abort(Status::Interrupted, now, rec, link);
                } else if self.deadline.is_some_and(|d| now >= d) {
                    self.abort(Status::Timeout, now, rec, link);
                } else if rec.abort_sent() {
                    self.aborted_at = Some(now);
                }
                false
            }
            Some(a) => now.duration_since(a) >= plan.abort_grace,
        }
    }

    /// Whether tokens beyond the checkpointed ones are due for a checkpoint.
    pub(super) fn checkpoint_due(&self, now: Instant, tokens: u32, plan: &RecordPlan) -> bool {
        tokens as usize > self.checkpointed
            && now.duration_since(self.last_checkpoint) >= plan.checkpoint_interval
    }

    /// `n` more tokens checkpointed at `now`.
    pub(super) fn checkpointed(&mut self, n: usize, now: Instant) {
        self.checkpointed += n;
        self.last_checkpoint = now;
    }
}

/// How `rkllm_run` returned: its code, when, and an error of rkbench's own; `None` if it never
/// returned within the abort grace.
pub(super) type Returned = Option<(i32, Instant, Option<String>)>;

/// Close a request: its capture into the record, its status and detail from how `rkllm_run`
/// returned (`done`) and why rkbench stopped it (`reason`). Returns what the runtime did
/// besides tokens.
#[allow(clippy::too_many_arguments)]
pub(super) fn conclude(
    rec: &mut RequestRecord,
    capture: Capture,
    abi: AbiVersion,
    done: Returned,
    reason: Option<Status>,
    timeout: Option<Duration>,
    t0: Instant,
    plan: &RecordPlan,
) -> RuntimeObservation {
    let (end_us, mut obs) = fill(rec, capture, abi);
    obs.index = rec.index;
    match done {
        Some((rc, at, err)) => {
            rec.run_return = rc;
            rec.return_us = micros(at.duration_since(t0));
            rec.end_us = end_us.unwrap_or(rec.return_us);
            rec.status = match reason {
                Some(s) => s,
                None if rc != 0 || rec.final_state == vocab::final_state::ERROR => Status::Error,
                None => Status::Ok,
            };
            rec.detail = match (rec.status, err) {
                (_, Some(e)) => e,
                (Status::Timeout, _) => format!(
                    "deadline of {} passed; aborted after {} tokens",
                    humantime::format_duration(timeout.unwrap_or_default()),
                    rec.tokens.token_ids.len()
                ),
                (Status::Interrupted, _) => {
                    format!("interrupted after {} tokens", rec.tokens.token_ids.len())
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
    obs
}

/// Move a request's capture into its record; returns t_end − t0 if FINISH/ERROR arrived, and
/// what the runtime did besides tokens.
fn fill(rec: &mut RequestRecord, c: Capture, abi: AbiVersion) -> (Option<u64>, RuntimeObservation) {
    rec.tokens = c.tokens;
    rec.final_state = c.final_state;
    rec.perf = if abi.has_perf() { c.perf } else { None };
    (c.end_us, c.obs)
}

/// The one-line result shown after each request, with the report's own definitions.
pub(super) fn summary_line(r: &RequestRecord) -> String {
    let m = crate::stats::RequestMetrics::of(r);
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{}: {} tokens, TTFT {}, {}, {:.1} s",
        r.status.as_str(),
        m.output_tokens,
        or_dash(m.ttft_ms.map(|f| format!("{f:.0} ms"))),
        or_dash(m.decode_tok_s.map(|d| format!("{d:.2} tok/s decode"))),
        m.e2e_ms / 1e3
    )
}
