//! `record --concurrency N` on the bare runtime: N runtime instances in one process (RKLLM
//! 1.2.2+ multi-instance), each its own `rkllm_init` (own handle, own callback userdata, own
//! runtime thread and abort thread), driven as a closed loop: an instance takes the next slot of
//! the schedule as soon as its last request ended. The orchestrating thread stays the only
//! writer of the trace; every request's frames are on the one run clock and land in the order
//! the requests finished.
//!
//! Decisions (docs/INSTANCES.md):
//! - Warm-ups run first, one at a time on instance 0, before the level starts (the level's
//!   `LoadRun.start_us` is after them), so the load itself is all measured requests.
//! - Instance i gets `base_domain_id` = the configured one + i: two big models need distinct
//!   NPU IOMMU domains (rknn-llm #437; shared/docs/rkllm-concurrency.md B2).
//! - Refused before anything is written: a runtime older than 1.2.2 (or of unknown 1.2.x
//!   release), and N × the model file's size above `MemAvailable` (the model file is a lower
//!   bound of what each instance maps).
//! - The journal holds every in-flight request's checkpoints and is emptied only when none is
//!   left in flight ([`TraceOut::request_done_among`]).
//!
//! [`TraceOut::request_done_among`]: super::trace_out::TraceOut::request_done_among
use super::interrupt::{self, interrupted};
use super::progress::Tally;
use super::recorder::Recorder;
use super::run::{conclude, summary_line, Orchestrator, Outcome, Prepared, RecordPlan, Watch};
use super::runtime_thread::RuntimeLink;
use super::schedule::Slot;
use super::trace_out::micros;
use crate::board::mem_available_kb;
use crate::error::{Error, Result};
use crate::runtime::{AbiVersion, Runtime};
use crate::trace::load::RequestSent;
use crate::trace::{Fact, Record, RequestRecord, RunStatus, Status};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::trace::load::fact;

/// What the level of instances is, decided before anything is loaded into the runtime.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Level {
    pub n: u32,
    /// The level's facts so far (base domains, memory, simulated contention).
    pub facts: Vec<Fact>,
}

/// Whether runtime `version` (identified ABI `abi`) supports several instances in one process:
/// its 1.2.2 changelog says "Supported for multi-instance inference" (rknn-llm #383).
pub(crate) fn multi_instance_refusal(abi: AbiVersion, version: &str) -> Option<String> {
    let ok_release = |v: &str| {
        let p: Vec<u32> = v.trim().split('.').map_while(|x| x.parse().ok()).collect();
        matches!(p.as_slice(), [1, 2, patch, ..] if *patch >= 2)
    };
    let is = match (abi, version.trim()) {
        (AbiVersion::V1_3_0, _) => return None,
        (AbiVersion::V1_2_1, v) if ok_release(v) => return None,
        (AbiVersion::V1_2_1, "") => {
            "ABI 1.2.1–1.2.3 of unknown release (not an official file, no version text)".into()
        }
        (_, "") => format!("ABI {abi}"),
        (_, v) => v.to_string(),
    };
    Some(format!(
        "multi-instance needs RKLLM ≥ 1.2.2 (changelog 1.2.2: \"Supported for multi-instance inference\"); this runtime is {is}"
    ))
}

/// Instance `i`'s `base_domain_id`: the configured one + i, so that no two instances share an
/// NPU IOMMU domain (the one place this rule is spelt: the init and the level's facts use it).
fn base_domain_id(base: i32, i: u32) -> i32 {
    base.saturating_add(i32::try_from(i).unwrap_or(i32::MAX))
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The level for `--concurrency N` on the runtime, or the one-line refusal.
pub(crate) fn check(rt: &Runtime, plan: &RecordPlan, model_size: u64) -> Result<Level> {
    let n = plan.load.concurrency.max(1);
    if n >= 2 {
        if let Some(why) = multi_instance_refusal(rt.abi(), &rt.identity.version) {
            return Err(Error::usage(format!("--concurrency {n}: {why}")));
        }
    }
    let mut facts = Vec::new();
    for i in 0..n {
        facts.push(Fact {
            key: fact::base_domain_id(i),
            value: base_domain_id(plan.init.base_domain_id, i).to_string(),
        });
    }
    facts.push(Fact {
        key: fact::MODEL_FILE.into(),
        value: format!(
            "{model_size} bytes ({}; the model file, which each instance maps: a lower bound)",
            mib(model_size)
        ),
    });
    match mem_available_kb(&plan.sysfs_root) {
        Ok(kb) => {
            let need = model_size.saturating_mul(u64::from(n));
            let have = kb.saturating_mul(1024);
            if n >= 2 && need > have {
                return Err(Error::usage(format!(
                    "--concurrency {n}: {n} instances map at least {n} × {} = {} of model, more than MemAvailable {} ({kb} kB in {}); lower --concurrency",
                    mib(model_size),
                    mib(need),
                    mib(have),
                    plan.sysfs_root.path("/proc/meminfo").display()
                )));
            }
            facts.push(Fact {
                key: fact::MEM_AVAILABLE.into(),
                value: format!("{kb} kB"),
            });
        }
        Err(why) => facts.push(Fact {
            key: fact::MEM_AVAILABLE.into(),
            value: crate::trace::vocab::unavailable(&why),
        }),
    }
    if let Some(model) = rt.simulated_npu_model() {
        let what = match model.as_str() {
            "serial" => "one lock held for each prefill and each decode step: instances run one after another, as Rockchip says the shared NPU does",
            "parallel" => "no sharing: every instance runs at full speed",
            _ => "unknown to this rkbench",
        };
        facts.push(Fact {
            key: fact::SIMULATED_NPU.into(),
            value: format!("{model} (the simulated runtime's contention model: {what})"),
        });
    }
    Ok(Level { n, facts })
}

/// One more runtime instance beside instance 0 (which is the orchestrator's own link).
pub(super) struct Lane {
    pub link: RuntimeLink,
    pub recorder: Arc<Recorder>,
}

/// A request running on an instance.
struct Running {
    rec: RequestRecord,
    position: usize,
    t0: Instant,
    timeout: Option<Duration>,
    watch: Watch,
}

impl Orchestrator<'_> {
    fn lane(&self, i: usize) -> (&RuntimeLink, &Arc<Recorder>) {
        match i {
            0 => (&self.link, &self.recorder),
            _ => (&self.more[i - 1].link, &self.more[i - 1].recorder),
        }
    }

    /// The run with N instances: warm-ups on instance 0, then the closed-loop level.
    pub(super) fn run_instances(
        &mut self,
        slots: &[Slot],
        mut facts: Vec<Fact>,
        doorbell: Receiver<u32>,
    ) -> Result<Outcome> {
        let plan = self.plan;
        let control = plan.run_control();
        let mut tally = Tally::default();
        let mut position = 0usize;
        // Warm-ups: one at a time on instance 0, before the level starts.
        while let Some(slot) = slots.get(position).filter(|s| s.warmup) {
            if interrupted() {
                return self.end(&tally, Outcome::Interrupted, String::new());
            }
            if position > 0 {
                self.cool_down()?;
            }
            let rec = self.run_request(*slot, position, tally.written)?;
            position += 1;
            tally.add(rec.warmup, rec.status, !rec.tokens.token_ids.is_empty());
            match rec.status {
                Status::Hung => return self.end(&tally, Outcome::Hung, rec.detail),
                Status::Interrupted => {
                    return self.end(&tally, Outcome::Interrupted, String::new())
                }
                _ => {}
            }
        }
        let n = 1 + self.more.len();
        let start = Instant::now();
        let start_us = micros(start.duration_since(self.origin));
        facts.sort();
        let level = plan.load.level(start_us, n as u32, facts);
        self.out.append(&Record::LoadRun(level))?;
        self.out.sync()?;

        let mut running: Vec<Option<Running>> = (0..n).map(|_| None).collect();
        let mut free_since = vec![start; n];
        let mut next_index = tally.written;
        let mut stopping = false;
        let mut no_more = false;
        let mut stop_reason = String::new();
        let mut outcome = Outcome::Complete;
        let mut hung_detail = String::new();
        loop {
            if !stopping {
                if interrupted() {
                    outcome = Outcome::Interrupted;
                    stopping = true;
                    self.abort_all(&mut running, Status::Interrupted);
                } else if let Some(why) = control.stop_now(self.origin.elapsed(), tally.measured) {
                    stop_reason = why;
                    stopping = true;
                }
            }
            if !stopping && !no_more {
                for i in 0..n {
                    if running[i].is_some() {
                        continue;
                    }
                    let measured_in_flight =
                        running.iter().flatten().filter(|r| !r.rec.warmup).count() as u32;
                    let Some(slot) =
                        control.next_slot(slots, position, tally.measured + measured_in_flight)
                    else {
                        stop_reason = control.completed(slots, position);
                        no_more = true;
                        break;
                    };
                    running[i] = Some(self.send(i, slot, position, next_index, free_since[i])?);
                    position += 1;
                    next_index += 1;
                }
            }
            if running.iter().all(Option::is_none) && (stopping || no_more) {
                break;
            }
            // Sleep until an instance ends or the next tick (deadlines, checkpoints, signals).
            let _ = doorbell.recv_timeout(plan.watch_tick());
            while doorbell.try_recv().is_ok() {}
            let now = Instant::now();
            for i in 0..n {
                let Some(r) = running[i].as_mut() else {
                    continue;
                };
                let (link, recorder) = self.lane(i);
                // An interrupt reaches every instance at once (`abort_all`), not per request.
                let done = match link.try_done() {
                    Some(returned) => Some(returned),
                    None if r.watch.tick(now, false, recorder, link, plan) => Some(None),
                    None => None,
                };
                match done {
                    Some(done) => {
                        let r = running[i].take().expect("checked above");
                        let free_at = done.as_ref().map_or(now, |d| d.1);
                        let others = running.iter().any(Option::is_some);
                        let rec = self.close(i, r, done, others)?;
                        free_since[i] = free_at;
                        tally.add(rec.warmup, rec.status, !rec.tokens.token_ids.is_empty());
                        if rec.status == Status::Hung && outcome != Outcome::Hung {
                            outcome = Outcome::Hung;
                            hung_detail = format!("instance {i}: {}", rec.detail);
                            stopping = true;
                            self.abort_all(&mut running, Status::Interrupted);
                        }
                    }
                    None => {
                        if r.watch.checkpoint_due(now, recorder.tokens(), plan) {
                            let (index, from) = (r.rec.index, r.watch.checkpointed);
                            let n = self.checkpoint_of(i, index, from)?;
                            if let Some(r) = running[i].as_mut() {
                                r.watch.checkpointed(n, now);
                            }
                        }
                    }
                }
            }
            self.out.flush_telemetry(false)?;
            let tokens: u32 = (0..n)
                .filter(|&i| running[i].is_some())
                .map(|i| self.lane(i).1.tokens())
                .sum();
            let busy = running.iter().flatten().count();
            let sampler = self.out.sampler();
            self.progress.tick(
                position.saturating_sub(1),
                &format!("{busy} of {n} instances busy"),
                tokens,
                None,
                start.elapsed(),
                || {
                    sampler
                        .map(|s| super::telemetry::progress_line(&s.latest()))
                        .unwrap_or_default()
                },
            );
        }
        let detail = match outcome {
            Outcome::Hung => hung_detail,
            _ => stop_reason,
        };
        self.end(&tally, outcome, detail)
    }

    /// Finish the trace for `outcome`.
    fn end(&mut self, tally: &Tally, outcome: Outcome, detail: String) -> Result<Outcome> {
        let (status, detail) = match outcome {
            Outcome::Complete => (RunStatus::Complete, detail),
            Outcome::Interrupted => (RunStatus::Interrupted, "interrupted by signal".to_string()),
            Outcome::Hung => (RunStatus::Hung, detail),
        };
        self.out.finish(status, &detail, tally.written)?;
        if outcome != Outcome::Hung {
            self.progress.done(tally, self.origin.elapsed(), &detail);
        }
        Ok(outcome)
    }

    /// Send `slot` as request `index` on instance `i`, free since `free_since`.
    fn send(
        &mut self,
        i: usize,
        slot: Slot,
        position: usize,
        index: u32,
        free_since: Instant,
    ) -> Result<Running> {
        let Prepared {
            mut rec,
            job,
            timeout,
        } = self.prepare(slot, index)?;
        let t0 = self.lane(i).0.submit(job)?;
        rec.start_us = micros(t0.duration_since(self.origin));
        // Before any chunk of the request: a crash still says where it ran and when.
        self.out.append(&Record::RequestSent(RequestSent {
            index,
            stream: i as u32,
            scheduled_us: micros(free_since.duration_since(self.origin)),
            sent_us: rec.start_us,
        }))?;
        self.out.checkpoint(&Record::Partial(rec.clone()), false)?;
        self.progress
            .start_request(position, &format!("{} @{i}", rec.test_id), slot.warmup);
        Ok(Running {
            rec,
            position,
            t0,
            timeout,
            watch: Watch::new(timeout.map(|d| t0 + d)),
        })
    }

    /// Close the request that ran on instance `i` and write its final frames.
    fn close(
        &mut self,
        i: usize,
        mut r: Running,
        done: super::run::Returned,
        others_in_flight: bool,
    ) -> Result<RequestRecord> {
        let capture = self.lane(i).1.finish();
        let obs = conclude(
            &mut r.rec,
            capture,
            self.abi,
            done,
            r.watch.reason,
            r.timeout,
            r.t0,
            self.plan,
        );
        self.out.request_done_among(
            &[Record::Request(r.rec.clone()), Record::RuntimeObs(obs)],
            others_in_flight,
        )?;
        self.progress.finish_request(
            r.position,
            &format!("{} @{i}", r.rec.test_id),
            r.t0.elapsed(),
            &summary_line(&r.rec),
        );
        Ok(r.rec)
    }

    /// `rkllm_abort` on every instance with a request running that was not aborted yet.
    fn abort_all(&self, running: &mut [Option<Running>], why: Status) {
        let now = Instant::now();
        for (i, r) in running.iter_mut().enumerate() {
            let Some(r) = r.as_mut().filter(|r| r.watch.aborted_at.is_none()) else {
                continue;
            };
            let (link, recorder) = self.lane(i);
            r.watch.abort(why, now, recorder, link);
        }
    }

    /// Append instance `i`'s tokens of request `index` from `from` on; returns how many.
    fn checkpoint_of(&mut self, i: usize, index: u32, from: usize) -> Result<usize> {
        let recorder = Arc::clone(self.lane(i).1);
        let fsync = self.plan.fsync_checkpoints;
        super::run::checkpoint_tokens(&mut self.out, &recorder, index, from, fsync)
    }
}

/// Start instances 1..N beside instance 0 (already started): each its own `rkllm_init` with its
/// own `base_domain_id`, each ringing `doorbell` when a request ends. The `MemAvailable` after
/// each init is added to `facts`.
pub(super) fn start_more(
    rt: &Arc<Runtime>,
    plan: &RecordPlan,
    init: &crate::runtime::InitParams,
    n: u32,
    doorbell: &std::sync::mpsc::Sender<u32>,
    facts: &mut Vec<Fact>,
) -> Result<Vec<Lane>> {
    let mut lanes = Vec::new();
    for i in 1..n {
        let recorder = Arc::new(Recorder::new());
        let mut ip = init.clone();
        ip.base_domain_id = base_domain_id(init.base_domain_id, i);
        let domain = ip.base_domain_id;
        let link = RuntimeLink::start(
            Arc::clone(rt),
            ip,
            Arc::clone(&recorder),
            plan.clear_kv,
            plan.chat_template.clone(),
            Some((i, doorbell.clone())),
        )
        .map_err(|e| Error {
            msg: format!(
                "runtime instance {i} of {n} (base_domain_id {domain}): {}",
                e.msg
            ),
            ..e
        })?;
        note_memory(plan, i, facts);
        lanes.push(Lane { link, recorder });
    }
    Ok(lanes)
}

/// Add `MemAvailable` after instance `i`'s init to `facts`.
pub(super) fn note_memory(plan: &RecordPlan, i: u32, facts: &mut Vec<Fact>) {
    facts.push(Fact {
        key: fact::mem_after_init(i),
        value: match mem_available_kb(&plan.sysfs_root) {
            Ok(kb) => format!("{kb} kB"),
            Err(why) => crate::trace::vocab::unavailable(&why),
        },
    });
}

/// The interrupt message while several instances run.
pub(super) fn install_interrupt() {
    interrupt::install(
        interrupt::Source::TerminalAndSupervisor,
        "aborting the requests in flight on every instance",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_instance_needs_1_2_2() {
        assert!(multi_instance_refusal(AbiVersion::V1_3_0, "1.3.0").is_none());
        assert!(multi_instance_refusal(AbiVersion::V1_2_1, "1.2.2").is_none());
        assert!(multi_instance_refusal(AbiVersion::V1_2_1, "1.2.3").is_none());
        let old = multi_instance_refusal(AbiVersion::V1_2_1, "1.2.1").unwrap();
        assert!(
            old.contains("≥ 1.2.2") && old.ends_with("this runtime is 1.2.1"),
            "{old}"
        );
        let unknown = multi_instance_refusal(AbiVersion::V1_2_1, "").unwrap();
        assert!(unknown.contains("unknown release"), "{unknown}");
        assert!(multi_instance_refusal(AbiVersion::V1_2_0, "1.2.0")
            .unwrap()
            .ends_with("is 1.2.0"));
        assert!(multi_instance_refusal(AbiVersion::V1_1, "")
            .unwrap()
            .ends_with("is ABI 1.1"));
    }
}
