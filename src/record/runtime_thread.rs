//! The one thread that owns the RKLLM session. It blocks in `rkllm_run` for each job while the
//! orchestrator keeps the clock; it is never joined, so a runtime that hangs cannot hang rkbench.
use super::recorder::Recorder;
use crate::error::{Error, Result};
use crate::runtime::{Aborter, InitParams, RunOptions, Runtime, Session};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request for the runtime thread.
pub struct Job {
    pub opts: RunOptions,
    /// Tokens to reserve room for before the run (no allocation on the token path).
    pub expect: usize,
    /// rkbench's own cap for this request (the callback asks to stop there).
    pub cap: Option<u32>,
    /// (system, prefix, postfix) to set with `rkllm_set_chat_template` before this request when
    /// it differs from the one in effect (a suite's system messages; see `record::template`).
    pub template: Option<(String, String, String)>,
}

/// What the runtime thread reports.
pub enum Event {
    Ready(Aborter),
    InitFailed(Error),
    /// `rkllm_run` is about to be called; t0.
    Started(Instant),
    /// `rkllm_run` returned `rc` at `at`.
    Done {
        rc: i32,
        at: Instant,
        err: Option<String>,
    },
}

/// The orchestrator's end of the runtime thread.
pub struct RuntimeLink {
    jobs: Sender<Job>,
    events: Receiver<Event>,
    pub aborter: Aborter,
}

/// What waiting for a running job can return.
pub enum Wait {
    Done {
        rc: i32,
        at: Instant,
        err: Option<String>,
    },
    Tick,
    Gone,
}

impl RuntimeLink {
    /// Start the session on its own thread and wait until `rkllm_init` (and the chat template)
    /// succeeded. One of several instances passes `doorbell` (instance number, sender), rung
    /// after each `Done`, so one thread can wait for whichever instance ends first.
    pub fn start(
        rt: Arc<Runtime>,
        init: InitParams,
        recorder: Arc<Recorder>,
        clear_kv: bool,
        chat_template: Option<(String, String, String)>,
        doorbell: Option<(u32, Sender<u32>)>,
    ) -> Result<RuntimeLink> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (ev_tx, events) = mpsc::channel::<Event>();
        let name = match &doorbell {
            Some((i, _)) => format!("rkllm-runtime-{i}"),
            None => "rkllm-runtime".into(),
        };
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                serve(
                    rt,
                    init,
                    recorder,
                    clear_kv,
                    chat_template,
                    job_rx,
                    ev_tx,
                    doorbell,
                )
            })
            .map_err(|e| Error::internal(format!("cannot start runtime thread: {e}")))?;
        match events.recv() {
            Ok(Event::Ready(aborter)) => Ok(RuntimeLink {
                jobs,
                events,
                aborter,
            }),
            Ok(Event::InitFailed(e)) => Err(e),
            _ => Err(Error::internal("runtime thread ended before init")),
        }
    }

    /// Hand a job over and return its t0.
    pub fn submit(&self, job: Job) -> Result<Instant> {
        self.jobs
            .send(job)
            .map_err(|_| Error::internal("runtime thread gone"))?;
        match self.events.recv() {
            Ok(Event::Started(t0)) => Ok(t0),
            _ => Err(Error::internal("runtime thread did not start the request")),
        }
    }

    /// Wait up to `tick` for the running job to end.
    pub fn wait(&self, tick: Duration) -> Wait {
        loop {
            match self.events.recv_timeout(tick) {
                Ok(Event::Done { rc, at, err }) => return Wait::Done { rc, at, err },
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => return Wait::Tick,
                Err(RecvTimeoutError::Disconnected) => return Wait::Gone,
            }
        }
    }

    /// The running job's end if it has come (`None`: still running): how `rkllm_run`
    /// returned, or `Some(None)` when the runtime thread is gone.
    pub fn try_done(&self) -> Option<super::run::Returned> {
        match self.wait(Duration::ZERO) {
            Wait::Done { rc, at, err } => Some(Some((rc, at, err))),
            Wait::Gone => Some(None),
            Wait::Tick => None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn serve(
    rt: Arc<Runtime>,
    init: InitParams,
    recorder: Arc<Recorder>,
    clear_kv: bool,
    chat_template: Option<(String, String, String)>,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    doorbell: Option<(u32, Sender<u32>)>,
) {
    let mut session = match Session::init(&rt, &init, recorder) {
        Ok(s) => s,
        Err(e) => {
            let _ = events.send(Event::InitFailed(e));
            return;
        }
    };
    if let Some((sys, pre, post)) = &chat_template {
        let failed = match session.set_chat_template(sys, pre, post) {
            Ok(Some(0)) | Ok(None) => None,
            Ok(Some(rc)) => Some(Error::runtime(format!(
                "rkllm_set_chat_template failed with code {rc}; check the --chat-template strings"
            ))),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            let _ = events.send(Event::InitFailed(e));
            return;
        }
    }
    super::recorder::mark_run_thread();
    // The abort thread: calls rkllm_abort the moment a callback asks for it (cap on ≤ 1.2.0, or
    // a token after the stop return). Joined before the session is destroyed.
    let abort_thread = {
        let (rec, aborter) = (Arc::clone(session.sink()), session.aborter());
        std::thread::Builder::new()
            .name("rkllm-abort".into())
            .spawn(move || rec.abort_loop(aborter))
    };
    let _ = events.send(Event::Ready(session.aborter()));
    let stop_by_return = session.abi().callback_returns_int();
    let mut template_in_effect = chat_template;
    while let Ok(job) = jobs.recv() {
        let mut refused = None;
        if let Some(t) = job
            .template
            .filter(|t| template_in_effect.as_ref() != Some(t))
        {
            match session.set_chat_template(&t.0, &t.1, &t.2) {
                Ok(Some(0)) | Ok(None) => template_in_effect = Some(t),
                Ok(Some(rc)) => {
                    refused = Some(format!("rkllm_set_chat_template failed with code {rc}"))
                }
                Err(e) => refused = Some(e.msg),
            }
        }
        let t0 = session.sink().begin(job.expect, job.cap, stop_by_return);
        let _ = events.send(Event::Started(t0));
        let ran = refused.is_none();
        let (rc, err) = match refused {
            Some(e) => (-1, Some(e)),
            None => match session.run(&job.opts) {
                Ok(rc) => (rc, None),
                Err(e) => (-1, Some(e.msg)),
            },
        };
        let at = Instant::now();
        let rec = session.sink();
        rec.mark_returned();
        // A paused run need not send FINISH; any other run should have, so give a late one
        // a moment (the conformance check reports it either way).
        if ran && !rec.ended() && !rec.stop_requested() {
            rec.wait_for_end(LATE_END_GRACE);
        }
        if rec.cap_hit() {
            // Paused at our cap: make sure the runtime does not resume it on the next run.
            session.aborter().abort();
        }
        if clear_kv {
            if let Some(rc) = session.clear_kv_cache() {
                session.sink().note_clear_kv(rc);
            }
        }
        let _ = events.send(Event::Done { rc, at, err });
        if let Some((i, d)) = &doorbell {
            let _ = d.send(*i);
        }
    }
    session.sink().stop_abort_thread();
    if let Ok(t) = abort_thread {
        let _ = t.join();
    }
}

/// How long to wait for a FINISH that did not arrive before `rkllm_run` returned.
const LATE_END_GRACE: Duration = Duration::from_millis(250);
