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
use crate::record::progress::{LevelProgress, Tally};
use crate::record::schedule::Slot;
use crate::record::trace_out::micros;
use crate::suite::Suite;
use crate::trace::load::{fact, LoadMode};
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

/// What the dispatcher and the workers tell the recorder's thread.
enum Msg {
    /// The dispatcher handed request `position` to a stream (for the progress line).
    Started {
        position: usize,
        id: String,
    },
    Sent(RequestSent),
    Checkpoint(Box<ServerRequest>),
    Done {
        warmup: bool,
        req: Box<ServerRequest>,
        frames: Vec<Record>,
        gone: Option<String>,
    },
    /// The worker could not run its request (an internal error).
    Failed(Error),
    /// The dispatcher stopped sending and every request it sent has ended: nothing follows.
    Finished,
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
/// A finished request goes to the recorder first, then the stream is free (`free`), so the
/// recorder has every request before the dispatcher can say the level ended.
#[allow(clippy::too_many_arguments)]
fn worker(
    plan: &Plan,
    suite: &Suite,
    stream: u32,
    jobs: Receiver<Job>,
    tx: Sender<Msg>,
    free: Sender<(u32, Instant)>,
    gone: &AtomicBool,
    abandon: &AtomicBool,
) {
    for job in jobs {
        let test = &suite.tests[job.slot.test];
        let prepared = match Prepared::new(plan, suite, job.slot, job.index) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                let _ = free.send((stream, Instant::now()));
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
                let why = o.gone.clone();
                if why.is_some() {
                    gone.store(true, Ordering::Relaxed);
                }
                let (req, frames) = finish(plan, test, &prepared, o, job.index, None);
                Msg::Done {
                    warmup: job.slot.warmup,
                    req: Box::new(req),
                    frames,
                    gone: why,
                }
            }
        };
        let _ = tx.send(msg);
        let _ = free.send((stream, Instant::now()));
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
            key: fact::IDLE_BEFORE.into(),
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

/// What the dispatcher decided when it stopped sending: how the level ended, and the position
/// after its last request.
struct Dispatched {
    status: RunStatus,
    detail: String,
    position: usize,
}

/// The dispatcher: sends each request when it is due (open loop) or its stream is free
/// (closed loop), on a thread of its own so that the recorder's trace writes (an fdatasync per
/// finished request) never delay a send. Returns when it has stopped sending and every request
/// it sent has ended.
#[allow(clippy::too_many_arguments)]
fn dispatch<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    plan: &'s Plan,
    suite: &'s Suite,
    load: LoadPlan,
    slots: &[Slot],
    mut position: usize,
    start: Instant,
    tx: &Sender<Msg>,
    free: &Receiver<(u32, Instant)>,
    free_tx: &Sender<(u32, Instant)>,
    gone: &'s AtomicBool,
    abandon: &'s AtomicBool,
) -> Dispatched {
    let control = plan.control;
    let origin = plan.origin;
    let warm = position;
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
    let mut jobs: Vec<Sender<Job>> = Vec::new();
    let mut busy = vec![false; streams];
    let mut free_since = vec![start; streams];
    let mut in_flight = 0usize;
    let mut sent = 0u32;
    let mut stop: Option<(RunStatus, String)> = None;
    loop {
        // Send everything that is due and has a free stream.
        while stop.is_none() {
            if interrupted() {
                stop = Some((RunStatus::Interrupted, String::new()));
                break;
            }
            if abandon.load(Ordering::Relaxed) {
                stop = Some((RunStatus::Crashed, "the trace could not be written".into()));
                break;
            }
            if gone.load(Ordering::Relaxed) {
                stop = Some((RunStatus::Crashed, String::new()));
                break;
            }
            if let Some(why) = control.stop_now(origin.elapsed(), sent) {
                stop = Some((RunStatus::Complete, why));
                break;
            }
            let Some(slot) = control.next_slot(slots, position, sent) else {
                stop = Some((RunStatus::Complete, control.completed(slots, position)));
                break;
            };
            let Some(stream) = busy.iter().position(|b| !b) else {
                break;
            };
            let scheduled = if open {
                due.get(position - warm)
                    .or(due.last())
                    .copied()
                    .unwrap_or(start)
            } else {
                free_since[stream]
            };
            if open && Instant::now() < scheduled {
                break;
            }
            while jobs.len() <= stream {
                let (jtx, jrx) = mpsc::channel::<Job>();
                let (tx, free_tx) = (tx.clone(), free_tx.clone());
                let s = jobs.len() as u32;
                let spawned = std::thread::Builder::new()
                    .name(format!("rkbench-stream-{s}"))
                    .spawn_scoped(scope, move || {
                        worker(plan, suite, s, jrx, tx, free_tx, gone, abandon)
                    });
                if let Err(e) = spawned {
                    stop = Some((
                        RunStatus::Crashed,
                        format!("cannot start a stream thread: {e}"),
                    ));
                    break;
                }
                jobs.push(jtx);
            }
            if stop.is_some() {
                break;
            }
            let index = u32::try_from(position).unwrap_or(u32::MAX);
            let _ = tx.send(Msg::Started {
                position,
                id: suite.tests[slot.test].id.clone(),
            });
            if jobs[stream]
                .send(Job {
                    slot,
                    index,
                    scheduled,
                })
                .is_err()
            {
                stop = Some((RunStatus::Crashed, "a stream thread ended early".into()));
                break;
            }
            busy[stream] = true;
            in_flight += 1;
            position += 1;
            sent += 1;
        }
        if in_flight == 0 && stop.is_some() {
            break;
        }
        // Wait for a stream to become free, or until the next request is due.
        let mut wait = TICK;
        if open && stop.is_none() && busy.iter().any(|b| !b) {
            if let Some(&t) = due.get(position - warm) {
                wait = wait.min(t.saturating_duration_since(Instant::now()));
            }
        }
        let mut next = match free.recv_timeout(wait) {
            Ok(s) => Some(s),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        while let Some((s, at)) = next.take() {
            let s = s as usize;
            busy[s] = false;
            free_since[s] = at;
            in_flight -= 1;
            next = free.try_recv().ok();
        }
    }
    let (status, detail) = stop.unwrap_or((RunStatus::Complete, String::new()));
    Dispatched {
        status,
        detail,
        position,
    }
}

/// The level itself: the dispatcher sends, this thread writes what the workers report.
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
    let origin = plan.origin;
    let start = Instant::now();
    let start_us = micros(start.saturating_duration_since(origin));
    let cpu0 = own_cpu_ms();
    rec.out
        .append(&Record::LoadRun(load.level(start_us, 0, facts.clone())))?;
    let abandon = AtomicBool::new(false);
    let gone = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Msg>();
    let (free_tx, free_rx) = mpsc::channel::<(u32, Instant)>();
    let from = *position;
    let mut gone_why: Option<String> = None;
    let (written, dispatched) = std::thread::scope(|scope| {
        let d = {
            let (tx, free_tx, gone, abandon) = (tx.clone(), free_tx.clone(), &gone, &abandon);
            std::thread::Builder::new()
                .name("rkbench-dispatch".into())
                .spawn_scoped(scope, move || {
                    let d = dispatch(
                        scope, plan, suite, load, slots, from, start, &tx, &free_rx, &free_tx,
                        gone, abandon,
                    );
                    let _ = tx.send(Msg::Finished);
                    d
                })
        };
        drop(free_tx);
        let d = match d {
            Ok(d) => d,
            Err(e) => {
                return (
                    Err(Error::internal(format!("cannot start the dispatcher: {e}"))),
                    None,
                )
            }
        };
        let mut snapshots: BTreeMap<u32, ServerRequest> = BTreeMap::new();
        let mut progress = LevelProgress {
            label: match load.mode {
                LoadMode::Rate => format!("rate={} {}", load.rate, load.arrivals.as_str()),
                _ => format!("concurrency={}", load.concurrency),
            },
            ..LevelProgress::default()
        };
        let mut done_tokens = 0u64;
        // Checkpoints arrived since the journal was last rewritten.
        let mut stale = false;
        let written = (|| -> Result<()> {
            loop {
                let msg = match rx.recv_timeout(TICK) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(Error::internal("the dispatcher ended without a word"))
                    }
                };
                let mut next = msg;
                while let Some(msg) = next.take() {
                    match msg {
                        Msg::Finished => return Ok(()),
                        Msg::Started { position, id } => {
                            progress.in_flight += 1;
                            rec.progress.start_request(position, &id, false)
                        }
                        Msg::Sent(s) => rec.out.append(&Record::RequestSent(s))?,
                        Msg::Checkpoint(snap) => {
                            snapshots.insert(snap.index, *snap);
                            stale = true;
                        }
                        Msg::Done {
                            warmup,
                            req,
                            frames,
                            gone,
                        } => {
                            snapshots.remove(&req.index);
                            progress.in_flight = progress.in_flight.saturating_sub(1);
                            progress.done += 1;
                            done_tokens += req.chunk_token_total();
                            // The others' checkpoints stay where they are (the finished one's
                            // stale snapshot is superseded by its final frame, and dropped at
                            // the next checkpoint's rewrite): no truncation while any is in
                            // flight.
                            rec.out.request_done_among(&frames, !snapshots.is_empty())?;
                            tally.add(warmup, req.status, req.chunk_token_total() > 0);
                            rec.progress.finish_request(
                                req.index as usize,
                                &req.test_id,
                                Duration::from_micros(req.end_us),
                                &summary(&req),
                            );
                            if gone_why.is_none() {
                                gone_why = gone;
                            }
                        }
                        Msg::Failed(e) => return Err(e),
                    }
                    next = rx.try_recv().ok();
                }
                // One journal rewrite for the batch, however many checkpoints it held.
                if std::mem::take(&mut stale) {
                    rewrite_journal(rec, &snapshots, plan.fsync_checkpoints)?;
                }
                rec.out.flush_telemetry(false)?;
                progress.tokens = done_tokens
                    + snapshots
                        .values()
                        .map(ServerRequest::chunk_token_total)
                        .sum::<u64>();
                rec.progress.level_tick(&progress, start.elapsed());
            }
        })();
        if written.is_err() {
            // Stop sending and reading at once; the dispatcher then ends.
            abandon.store(true, Ordering::Relaxed);
        }
        (written, d.join().ok())
    });
    written?;
    let d = dispatched.ok_or_else(|| Error::internal("the dispatcher panicked"))?;
    *position = d.position;
    let (status, detail) = match gone_why {
        Some(why) => (RunStatus::Crashed, why),
        None => (d.status, d.detail),
    };
    let cpu = own_cpu_ms().zip(cpu0).map(|(b, a)| b - a);
    facts.push(Fact {
        key: fact::CLIENT_CPU.into(),
        value: cpu.map_or_else(|| "unknown".into(), |c| c.to_string()),
    });
    facts.push(Fact {
        key: fact::LEVEL_END.into(),
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

/// The journal holds the latest snapshot of every request in flight, and nothing else, replaced
/// as a whole by rename (`TraceOut::checkpoint_anew`): a server checkpoint is a whole snapshot,
/// so appending them would grow the journal with every checkpoint of a level that never drains.
fn rewrite_journal(
    rec: &mut Recorder,
    snapshots: &BTreeMap<u32, ServerRequest>,
    fsync: bool,
) -> Result<()> {
    let all: Vec<Record> = snapshots
        .values()
        .map(|s| Record::ServerPartial(s.clone()))
        .collect();
    rec.out.checkpoint_anew(&all, fsync)
}
