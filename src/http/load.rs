//! `record --server URL --concurrency N | --rate R`: one level of load. Warm-up requests run
//! first, one at a time (the sequential path, idle wait included); then the bounded idle wait;
//! then the level: requests go out on the load's schedule, each on a worker thread of its
//! stream, with no idle wait or cool-down between them (that is the load), and an HTTP 503 is a
//! rejection, recorded, not waited out.
//!
//! Only this thread writes the trace. Workers hand it three things: the moment a request is
//! sent (a `RequestSent` frame at once, so a crash still says what was in flight and when it
//! was due), checkpoints (the journal holds the latest snapshot of *every* request in flight),
//! and the finished record (durable, in the order requests end). Times are taken on the
//! workers, on the run's one clock.
use super::record::{attempt, finish, summary, Busy, Hooks, Plan, Prepared, Recorder, TICK};
use crate::error::{Error, Result};
use crate::record::interrupt::interrupted;
use crate::record::load::LoadPlan;
use crate::record::progress::Tally;
use crate::record::schedule::Slot;
use crate::record::trace_out::micros;
use crate::suite::Suite;
use crate::trace::load::LoadMode;
use crate::trace::server::ServerRequest;
use crate::trace::{Fact, Record, RequestSent, RunStatus, Status};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// A request handed to a stream's worker.
struct Job {
    slot: Slot,
    index: u32,
    scheduled: Instant,
}

/// What a worker tells the recorder's thread.
enum Msg {
    Sent(RequestSent),
    Checkpoint(Box<ServerRequest>),
    Done {
        stream: u32,
        ended: Instant,
        warmup: bool,
        req: Box<ServerRequest>,
        frames: Vec<Record>,
        gone: Option<String>,
    },
    /// The worker could not run its request (an internal error).
    Failed(Error),
}

/// A worker's hooks: everything goes to the recorder's thread.
struct ToRecorder<'a> {
    tx: &'a Sender<Msg>,
    origin: Instant,
    index: u32,
    stream: u32,
    scheduled: Instant,
    /// The recorder gave up (a trace write failed): stop reading at once.
    abandon: &'a AtomicBool,
}

impl Hooks for ToRecorder<'_> {
    fn sent(&mut self, t0: Instant) {
        let _ = self.tx.send(Msg::Sent(RequestSent {
            index: self.index,
            stream: self.stream,
            scheduled_us: micros(self.scheduled.saturating_duration_since(self.origin)),
            sent_us: micros(t0.saturating_duration_since(self.origin)),
        }));
    }

    fn checkpoint(&mut self, snap: ServerRequest) -> Result<()> {
        let _ = self.tx.send(Msg::Checkpoint(Box::new(snap)));
        Ok(())
    }

    fn tick(&mut self, _now: Instant, _t0: Instant, _chunks: u32) -> Result<()> {
        if self.abandon.load(Ordering::Relaxed) {
            return Err(Error::internal("the recorder stopped"));
        }
        Ok(())
    }
}

/// A stream's worker: runs the jobs it is given, one after another, until its channel closes.
fn worker(
    plan: &Plan,
    suite: &Suite,
    stream: u32,
    jobs: Receiver<Job>,
    tx: Sender<Msg>,
    abandon: &AtomicBool,
) {
    for job in jobs {
        let test = &suite.tests[job.slot.test];
        let prepared = match Prepared::new(plan, suite, job.slot, job.index) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                continue;
            }
        };
        let mut busy = Busy {
            waited: Duration::ZERO,
            how:
                "none (under load: sent on the level's schedule, the server's state not waited for)"
                    .into(),
            answers: Vec::new(),
        };
        let mut hooks = ToRecorder {
            tx: &tx,
            origin: plan.origin,
            index: job.index,
            stream,
            scheduled: job.scheduled,
            abandon,
        };
        let msg = match attempt(plan, &prepared, &mut busy, false, true, &mut hooks) {
            Err(e) => Msg::Failed(e),
            Ok(o) => {
                let gone = o.gone.clone();
                let (req, frames) = finish(plan, test, &prepared, o, job.index, None);
                Msg::Done {
                    stream,
                    ended: Instant::now(),
                    warmup: job.slot.warmup,
                    req: Box::new(req),
                    frames,
                    gone,
                }
            }
        };
        let _ = tx.send(msg);
    }
}

/// rkbench's own CPU time so far (user + system), ms, from procfs: a level that keeps the
/// client busy measures the client.
fn own_cpu_ms() -> Option<i64> {
    super::process::cpu_ms(std::process::id())
}

/// Run the warm-ups and then the level; writes the run end.
pub(super) fn run(
    rec: &mut Recorder,
    plan: &Plan,
    suite: &Suite,
    load: LoadPlan,
) -> Result<RunStatus> {
    let slots = std::mem::take(&mut rec.slots);
    let mut tally = Tally::default();
    let mut position = 0usize;
    let mut status = RunStatus::Complete;
    let mut detail = String::new();
    // Warm-ups: one at a time, as a sequential run sends them.
    while let Some(slot) = slots.get(position).copied().filter(|s| s.warmup) {
        if interrupted() {
            status = RunStatus::Interrupted;
            break;
        }
        let r = rec.request(plan, suite, slot, position, tally.written)?;
        tally.add(r.warmup, r.status, r.chunk_token_total() > 0);
        position += 1;
        if r.status == Status::Interrupted {
            status = RunStatus::Interrupted;
        } else if let Some(why) = rec.server_gone.take() {
            status = RunStatus::Crashed;
            detail = why;
        }
        if status != RunStatus::Complete {
            break;
        }
    }
    if status == RunStatus::Complete {
        // The one idle wait of a level: before it starts, bounded by --idle-timeout.
        let idle = super::server::wait_idle(
            &plan.url,
            plan.detected.kind,
            plan.pid,
            plan.quiet_period,
            plan.idle_timeout,
            &interrupted,
        );
        let mut facts = vec![Fact {
            key: "idle wait before the level".into(),
            value: format!(
                "{:.3} s, {}{}",
                idle.waited.as_secs_f64(),
                idle.how,
                if idle.busy {
                    " (the server was still busy: the level started anyway)"
                } else {
                    ""
                }
            ),
        }];
        if interrupted() {
            status = RunStatus::Interrupted;
        } else {
            let r = level(
                rec,
                plan,
                suite,
                load,
                &slots,
                &mut position,
                &mut tally,
                &mut facts,
            )?;
            (status, detail) = r;
        }
    }
    if status == RunStatus::Interrupted {
        detail = "interrupted by signal".into();
    }
    rec.out.finish(status, &detail, tally.written)?;
    rec.progress.done(&tally, rec.out.origin.elapsed(), &detail);
    Ok(status)
}

/// The level itself: dispatch on the schedule, collect what the workers send.
#[allow(clippy::too_many_arguments)]
fn level(
    rec: &mut Recorder,
    plan: &Plan,
    suite: &Suite,
    load: LoadPlan,
    slots: &[Slot],
    position: &mut usize,
    tally: &mut Tally,
    facts: &mut Vec<Fact>,
) -> Result<(RunStatus, String)> {
    let control = plan.control;
    let origin = plan.origin;
    let start = Instant::now();
    let start_us = micros(start.saturating_duration_since(origin));
    let cpu0 = own_cpu_ms();
    rec.out
        .append(&Record::LoadRun(load.level(start_us, 0, facts.clone())))?;
    let warm = *position;
    let planned = control.expected(slots).saturating_sub(warm);
    let open = load.mode == LoadMode::Rate;
    let due: Vec<Instant> = if open {
        load.schedule(planned)
            .into_iter()
            .map(|us| start + Duration::from_micros(us))
            .collect()
    } else {
        Vec::new()
    };
    let streams = load.concurrency.max(1) as usize;
    let abandon = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Msg>();
    let result = std::thread::scope(|scope| -> Result<(RunStatus, String)> {
        let mut jobs: Vec<Sender<Job>> = Vec::new();
        let mut busy = vec![false; streams];
        let mut free_since = vec![start; streams];
        let mut in_flight = 0usize;
        let mut sent = 0u32;
        let mut stop: Option<(RunStatus, String)> = None;
        let mut snapshots: BTreeMap<u32, ServerRequest> = BTreeMap::new();
        let r = (|| -> Result<()> {
            loop {
                // Send everything that is due and has a free stream.
                while stop.is_none() {
                    if interrupted() {
                        stop = Some((RunStatus::Interrupted, String::new()));
                        break;
                    }
                    if let Some(why) = control.stop_now(origin.elapsed(), sent) {
                        stop = Some((RunStatus::Complete, why));
                        break;
                    }
                    let Some(slot) = control.next_slot(slots, *position, sent) else {
                        stop = Some((RunStatus::Complete, control.completed(slots, *position)));
                        break;
                    };
                    let Some(stream) = busy.iter().position(|b| !b) else {
                        break;
                    };
                    let scheduled = if open {
                        match due.get((*position - warm).min(due.len().saturating_sub(1))) {
                            Some(&t) => t,
                            None => Instant::now(),
                        }
                    } else {
                        free_since[stream]
                    };
                    if open && Instant::now() < scheduled {
                        break;
                    }
                    while jobs.len() <= stream {
                        let (jtx, jrx) = mpsc::channel::<Job>();
                        let (tx, abandon) = (tx.clone(), &abandon);
                        let s = jobs.len() as u32;
                        std::thread::Builder::new()
                            .name(format!("rkbench-stream-{s}"))
                            .spawn_scoped(scope, move || worker(plan, suite, s, jrx, tx, abandon))
                            .map_err(|e| {
                                Error::internal(format!("cannot start a stream thread: {e}"))
                            })?;
                        jobs.push(jtx);
                    }
                    let index = u32::try_from(*position).unwrap_or(u32::MAX);
                    let test = &suite.tests[slot.test];
                    rec.progress.start_request(*position, &test.id, slot.warmup);
                    jobs[stream]
                        .send(Job {
                            slot,
                            index,
                            scheduled,
                        })
                        .map_err(|_| Error::internal("a stream thread ended early"))?;
                    busy[stream] = true;
                    in_flight += 1;
                    *position += 1;
                    sent += 1;
                }
                if in_flight == 0 && stop.is_some() {
                    return Ok(());
                }
                // Wait for a worker, or until the next request is due.
                let now = Instant::now();
                let mut wait = TICK;
                if open && stop.is_none() && busy.iter().any(|b| !b) {
                    if let Some(&t) = due.get(*position - warm) {
                        wait = wait.min(t.saturating_duration_since(now));
                    }
                }
                let first = match rx.recv_timeout(wait) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(Error::internal("every stream thread ended"))
                    }
                };
                let mut next = first;
                while let Some(msg) = next.take() {
                    match msg {
                        Msg::Sent(s) => rec.out.append(&Record::RequestSent(s))?,
                        Msg::Checkpoint(snap) => {
                            snapshots.insert(snap.index, *snap);
                            rewrite_journal(rec, &snapshots)?;
                        }
                        Msg::Done {
                            stream,
                            ended,
                            warmup,
                            req,
                            frames,
                            gone,
                        } => {
                            snapshots.remove(&req.index);
                            rec.out.request_done(&frames)?;
                            rewrite_journal(rec, &snapshots)?;
                            tally.add(warmup, req.status, req.chunk_token_total() > 0);
                            rec.progress.finish_request(
                                req.index as usize,
                                &req.test_id,
                                Duration::from_micros(req.end_us),
                                &summary(&req),
                            );
                            let s = stream as usize;
                            busy[s] = false;
                            free_since[s] = ended;
                            in_flight -= 1;
                            if let Some(why) = gone {
                                if stop.is_none() {
                                    stop = Some((RunStatus::Crashed, why));
                                }
                            }
                        }
                        Msg::Failed(e) => return Err(e),
                    }
                    next = rx.try_recv().ok();
                }
                rec.out.flush_telemetry(false)?;
            }
        })();
        // Close every stream: workers finish what they hold (at once, if abandoned) and end.
        if r.is_err() {
            abandon.store(true, Ordering::Relaxed);
        }
        drop(jobs);
        r?;
        Ok(stop.unwrap_or((RunStatus::Complete, String::new())))
    });
    let (status, detail) = result?;
    let cpu = own_cpu_ms().zip(cpu0).map(|(b, a)| b - a);
    facts.push(Fact {
        key: "client cpu_ms".into(),
        value: cpu.map_or_else(|| "unknown".into(), |c| c.to_string()),
    });
    facts.push(Fact {
        key: "level end".into(),
        value: format!(
            "{} us ({})",
            micros(Instant::now().saturating_duration_since(origin)),
            if detail.is_empty() {
                "the schedule ran out"
            } else {
                detail.as_str()
            }
        ),
    });
    // Written again at the end with what the level measured of itself (the last one wins).
    rec.out
        .append(&Record::LoadRun(load.level(start_us, 0, facts.clone())))?;
    Ok((status, detail))
}

/// The journal holds the latest snapshot of every request in flight, and nothing else.
fn rewrite_journal(rec: &mut Recorder, snapshots: &BTreeMap<u32, ServerRequest>) -> Result<()> {
    let mut first = true;
    for s in snapshots.values() {
        let r = Record::ServerPartial(s.clone());
        if first {
            rec.out.checkpoint_anew(&r)?;
            first = false;
        } else {
            rec.out.checkpoint(&r, false)?;
        }
    }
    Ok(())
}
