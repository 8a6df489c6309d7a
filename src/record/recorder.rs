//! The hot path: what happens in the runtime's callback. One clock read, a few pushes into
//! buffers reserved before the request starts (no allocation per token in steady state), and
//! atomics the orchestrator and progress display can read without touching the buffers.
//!
//! Caps hold whatever the runtime does: at the cap the callback returns "stop" (1.2.1+); if a
//! token still arrives, or the ABI has no stop return (≤ 1.2.0), the callback wakes the abort
//! thread, which calls `rkllm_abort` at once (never from inside the callback: a runtime may hold
//! a lock there). Once the run has seen a stop return ignored, later requests wake it at the
//! cap itself, so they end with exactly their cap instead of one ignored token more.
//! Everything the runtime does besides tokens — FINISH count, stop honoured or not, when an
//! abort was sent, which thread called back — goes into the request's
//! [`RuntimeObservation`] for the conformance checks.
use crate::runtime::{Aborter, CallbackSink, PerfStat, Runtime};
use crate::trace::vocab::final_state;
use crate::trace::{
    abort_reason, IdentityEvidence, RuntimeIdentity, RuntimeObservation, TokenColumns,
};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

thread_local! {
    /// True on the thread that calls `rkllm_run` (set by [`mark_run_thread`]): lets a callback
    /// tell whether the runtime calls back on that thread or another, for one TLS read.
    static ON_RUN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Mark the calling thread as the one that calls `rkllm_run`.
pub(crate) fn mark_run_thread() {
    ON_RUN_THREAD.with(|c| c.set(true));
}

/// Raw capture of one request, in recorder units (µs since t0).
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub tokens: TokenColumns,
    /// 2 FINISH, 3 ERROR, -1 none yet.
    pub final_state: i32,
    /// t_end − t0 when FINISH/ERROR arrived.
    pub end_us: Option<u64>,
    pub perf: Option<PerfStat>,
    /// What the runtime did besides tokens (`index` is filled in by the caller).
    pub obs: RuntimeObservation,
}

struct Buffers {
    active: bool,
    t0: Instant,
    last: Instant,
    cap: Capture,
    /// Callbacks that arrived while no request was active (the runtime kept going after abort).
    stray: u32,
    /// `rkllm_run` has returned for the current request.
    returned: bool,
    /// The callback's return value can stop the run (1.2.1+).
    stop_by_return: bool,
}

/// Callback → abort thread: "abort request `generation` (because of `reason`)".
#[derive(Default)]
struct AbortSignal {
    pending: Option<(u64, &'static str)>,
    quit: bool,
}

pub struct Recorder {
    inner: Mutex<Buffers>,
    /// Clock origin for the progress atomics below.
    origin: Instant,
    /// µs since `origin` of the first and latest token of the current request (for the live
    /// decode rate; read by the progress display without touching the buffers).
    first_us: AtomicU64,
    last_us: AtomicU64,
    tokens: AtomicU32,
    /// Stop asking for tokens after this many (u32::MAX = no cap of ours).
    cap: AtomicU32,
    cap_hit: AtomicBool,
    /// A token arrived after a stop return in this run (kept across requests).
    stop_ignored: AtomicBool,
    ended: AtomicBool,
    /// Bumped at every `begin`, so a late abort signal never hits the next request.
    generation: AtomicU64,
    signal: Mutex<AbortSignal>,
    wake: Condvar,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        let now = Instant::now();
        Recorder {
            inner: Mutex::new(Buffers {
                active: false,
                t0: now,
                last: now,
                cap: Capture::default(),
                stray: 0,
                returned: false,
                stop_by_return: false,
            }),
            origin: now,
            first_us: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
            tokens: AtomicU32::new(0),
            cap: AtomicU32::new(u32::MAX),
            cap_hit: AtomicBool::new(false),
            stop_ignored: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            signal: Mutex::new(AbortSignal::default()),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffers> {
        // A panic while holding the lock cannot leave the buffers inconsistent in a way that
        // matters more than losing the trace, so recover the guard.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prepare for a request: reserve room for `expect_tokens`, arm the cap, and return t0.
    /// `stop_by_return`: the callback's return value can stop the run (1.2.1+); otherwise the
    /// cap is enforced by `rkllm_abort` right away. Call immediately before `rkllm_run`.
    pub fn begin(&self, expect_tokens: usize, cap: Option<u32>, stop_by_return: bool) -> Instant {
        let mut b = self.lock();
        b.returned = false;
        b.stop_by_return = stop_by_return;
        self.generation.fetch_add(1, Ordering::SeqCst);
        let c = &mut b.cap;
        c.tokens.clear_reserving(expect_tokens);
        c.final_state = final_state::NONE;
        c.end_us = None;
        c.perf = None;
        c.obs = RuntimeObservation::default();
        self.tokens.store(0, Ordering::Relaxed);
        self.cap.store(cap.unwrap_or(u32::MAX), Ordering::Relaxed);
        self.cap_hit.store(false, Ordering::Relaxed);
        self.ended.store(false, Ordering::Relaxed);
        b.active = true;
        let now = Instant::now();
        b.t0 = now;
        b.last = now;
        now
    }

    /// Close the request and take its capture. Later callbacks count as stray.
    pub fn finish(&self) -> Capture {
        let mut b = self.lock();
        b.active = false;
        // A copy, so the buffers keep their reserved capacity for the next request.
        b.cap.clone()
    }

    /// A copy of the tokens from index `from` on (for incremental checkpoints), without closing
    /// the request. `waiting` holds absolute indices.
    pub fn snapshot_from(&self, from: usize) -> Capture {
        let b = self.lock();
        let c = &b.cap;
        Capture {
            tokens: c.tokens.suffix(from),
            final_state: c.final_state,
            end_us: c.end_us,
            perf: c.perf,
            obs: c.obs.clone(),
        }
    }

    /// `rkllm_run` returned: anything ending the request from now on is late.
    pub fn mark_returned(&self) {
        self.lock().returned = true;
    }

    /// Whether the callback asked the runtime to stop (pause) in this request.
    pub fn stop_requested(&self) -> bool {
        self.lock().cap.obs.stop_requested_at >= 0
    }

    /// Whether `rkllm_abort` was sent for the current request.
    pub fn abort_sent(&self) -> bool {
        self.lock().cap.obs.abort_us >= 0
    }

    /// The return of `rkllm_clear_kv_cache` after this request.
    pub fn note_clear_kv(&self, rc: i32) {
        self.lock().cap.obs.clear_kv_return = rc;
    }

    /// Call `rkllm_abort` now for `reason` (deadline, interrupt), noting when, unless one was
    /// already sent for this request. Returns whether it was sent.
    pub fn abort_now(&self, reason: &'static str, aborter: &Aborter) -> bool {
        if !self.note_abort(reason) {
            return false;
        }
        aborter.abort();
        true
    }

    /// Note the first abort of the request (time, reason, token count); false if one was
    /// already noted or no request is active.
    fn note_abort(&self, reason: &'static str) -> bool {
        let now = Instant::now();
        let mut b = self.lock();
        if !b.active || b.cap.obs.abort_us >= 0 {
            return false;
        }
        let at = micros(now.duration_since(b.t0)).min(i64::MAX as u64) as i64;
        let n = b.cap.tokens.len() as u32;
        let o = &mut b.cap.obs;
        o.abort_us = at;
        o.abort_reason = reason.to_string();
        o.abort_at_token = n;
        true
    }

    /// From the callback: wake the abort thread (never blocks on the runtime).
    fn signal_abort(&self, reason: &'static str) {
        let g = self.generation.load(Ordering::SeqCst);
        let mut s = self.signal.lock().unwrap_or_else(|e| e.into_inner());
        if s.pending.is_none() {
            s.pending = Some((g, reason));
            self.wake.notify_one();
        }
    }

    /// The abort thread's loop: call `rkllm_abort` for each signal of the current request
    /// until [`Recorder::stop_abort_thread`]. Runs on its own thread for the session's life.
    pub(crate) fn abort_loop(&self, aborter: Aborter) {
        loop {
            let (generation, reason) = {
                let mut s = self.signal.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if s.quit {
                        return;
                    }
                    if let Some(p) = s.pending.take() {
                        break p;
                    }
                    s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            if generation == self.generation.load(Ordering::SeqCst) && self.note_abort(reason) {
                aborter.abort();
            }
        }
    }

    /// End [`Recorder::abort_loop`] (before the session is destroyed).
    pub(crate) fn stop_abort_thread(&self) {
        let mut s = self.signal.lock().unwrap_or_else(|e| e.into_inner());
        s.quit = true;
        self.wake.notify_one();
    }

    /// After `rkllm_run` returned without FINISH/ERROR: wait up to `grace` for a late one.
    pub fn wait_for_end(&self, grace: Duration) {
        let until = Instant::now() + grace;
        while !self.ended() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Tokens received in the current request.
    pub fn tokens(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }
    /// Live decode rate of the current request: (n − 1) / (t_last − t_first), tokens/s.
    pub fn live_decode_rate(&self) -> Option<f64> {
        let n = self.tokens();
        let span = self
            .last_us
            .load(Ordering::Relaxed)
            .saturating_sub(self.first_us.load(Ordering::Relaxed));
        (n >= 2 && span > 0).then(|| f64::from(n - 1) / (span as f64 / 1e6))
    }
    /// Whether the cap of ours was reached.
    pub fn cap_hit(&self) -> bool {
        self.cap_hit.load(Ordering::Relaxed)
    }
    /// Whether FINISH/ERROR arrived.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
    pub fn stray(&self) -> u32 {
        self.lock().stray
    }
}

fn note_thread(o: &mut RuntimeObservation) {
    if ON_RUN_THREAD.with(Cell::get) {
        o.callbacks_on_run_thread += 1;
    } else {
        o.callbacks_on_other_threads += 1;
    }
}

/// The trace's record of how the library was identified.
pub(crate) fn identity_record(rt: &Runtime) -> RuntimeIdentity {
    let id = &rt.identity;
    RuntimeIdentity {
        abi: id.abi.as_str().into(),
        version: id.version.clone(),
        git_blob: rt.file.git_blob.clone(),
        param_size: id.param_size.map_or(-1, |n| n as i32),
        conclusion: id.conclusion.clone(),
        forced: id.forced,
        evidence: id
            .evidence
            .iter()
            .map(|e| IdentityEvidence {
                source: e.source.into(),
                observed: e.observed.clone(),
                verdict: e.verdict(),
            })
            .collect(),
    }
}

fn micros(d: std::time::Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

impl CallbackSink for Recorder {
    fn on_token(&self, token_id: i32, text: &[u8], waiting: bool) -> bool {
        let now = Instant::now();
        let mut b = self.lock();
        if !b.active {
            b.stray += 1;
            return false;
        }
        let dt = micros(now.duration_since(b.last)).min(u64::from(u32::MAX)) as u32;
        b.last = now;
        let stop_by_return = b.stop_by_return;
        let c = &mut b.cap;
        note_thread(&mut c.obs);
        let i = c.tokens.len() as u32;
        let len = text.len().min(usize::from(u16::MAX));
        c.tokens.push(dt, token_id, &text[..len], waiting);
        let cap = self.cap.load(Ordering::Relaxed);
        let n = i + 1;
        // Stop asked before and a token still came: the runtime ignores the stop return.
        let ignored_stop = c.obs.stop_requested_at >= 0;
        if ignored_stop {
            c.obs.tokens_after_stop += 1;
        } else if n >= cap && stop_by_return {
            c.obs.stop_requested_at = n as i32;
        }
        drop(b);
        if ignored_stop {
            self.stop_ignored.store(true, Ordering::Relaxed);
        }
        if n >= cap {
            if ignored_stop || !stop_by_return {
                self.signal_abort(abort_reason::CAP);
            } else if self.stop_ignored.load(Ordering::Relaxed) {
                // Known to be ignored: do not wait for the token it would let through.
                self.signal_abort(abort_reason::CAP_STOP_IGNORED);
            }
        }
        let since = micros(now.duration_since(self.origin));
        self.last_us.store(since, Ordering::Relaxed);
        let n = self.tokens.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 {
            self.first_us.store(since, Ordering::Relaxed);
        }
        if n >= cap {
            self.cap_hit.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn on_finish(&self, perf: Option<PerfStat>) {
        self.on_end(final_state::FINISH, perf);
    }

    fn on_error(&self) {
        self.on_end(final_state::ERROR, None);
    }
}

impl Recorder {
    /// A FINISH (with the runtime's figures) or ERROR callback: the first end of the request
    /// gives its end time, final state and figures; a later one is only counted.
    fn on_end(&self, state: i32, perf: Option<PerfStat>) {
        let now = Instant::now();
        let mut b = self.lock();
        if !b.active {
            b.stray += 1;
            return;
        }
        let end = micros(now.duration_since(b.t0));
        let late = b.returned;
        let o = &mut b.cap.obs;
        note_thread(o);
        if state == final_state::FINISH {
            o.finish_callbacks += 1;
        } else {
            o.error_callbacks += 1;
        }
        o.end_after_return |= late;
        if o.finish_callbacks + o.error_callbacks > 1 {
            // A second end: keep the first one's time and figures.
            return;
        }
        b.cap.final_state = state;
        b.cap.end_us = Some(end);
        b.cap.perf = perf;
        self.ended.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_tokens_waiting_and_cap() {
        let r = Recorder::new();
        r.begin(16, Some(3), true);
        assert!(r.on_token(5, b"a", false));
        assert!(r.on_token(6, b"\xc3", true));
        assert!(!r.on_token(7, b"\xa9", false), "cap of 3 reached");
        r.on_finish(Some(PerfStat {
            generate_tokens: 3,
            ..Default::default()
        }));
        let c = r.finish();
        assert_eq!(c.tokens.token_ids, vec![5, 6, 7]);
        assert_eq!(c.tokens.waiting, vec![1]);
        assert_eq!(c.tokens.text, "aé".as_bytes());
        assert_eq!(c.final_state, 2);
        assert!(r.cap_hit());
        assert_eq!(c.obs.stop_requested_at, 3);
        assert_eq!(c.obs.tokens_after_stop, 0);
        assert_eq!(c.obs.finish_callbacks, 1);
        assert_eq!(c.obs.abort_us, -1, "the stop was honoured: no abort");
        assert_eq!(
            (
                c.obs.callbacks_on_run_thread,
                c.obs.callbacks_on_other_threads
            ),
            (0, 4)
        );
        // After finish, callbacks are stray and not recorded.
        r.on_token(8, b"x", false);
        assert_eq!(r.stray(), 1);
    }

    /// A fake Aborter target: counts calls.
    static ABORTS: AtomicU32 = AtomicU32::new(0);
    extern "C" fn count_abort(_h: *mut std::ffi::c_void) -> std::ffi::c_int {
        ABORTS.fetch_add(1, Ordering::SeqCst);
        0
    }

    #[test]
    fn a_token_after_stop_wakes_the_abort_thread_and_ends_count_once() {
        let r = std::sync::Arc::new(Recorder::new());
        let aborter = Aborter::for_test(count_abort);
        let t = {
            let r = std::sync::Arc::clone(&r);
            std::thread::spawn(move || r.abort_loop(aborter))
        };
        mark_run_thread(); // this test thread plays the one blocked in rkllm_run
        r.begin(16, Some(2), true);
        assert!(r.on_token(1, b"a", false));
        assert!(!r.on_token(2, b"b", false), "stop at the cap");
        assert!(!r.on_token(3, b"c", false), "ignored: still stop");
        let until = Instant::now() + Duration::from_secs(5);
        while ABORTS.load(Ordering::SeqCst) == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(ABORTS.load(Ordering::SeqCst), 1);
        r.mark_returned();
        r.on_finish(None);
        r.on_finish(None);
        let c = r.finish();
        assert_eq!(
            c.tokens.token_ids,
            vec![1, 2, 3],
            "every token that arrived is kept"
        );
        let o = &c.obs;
        assert_eq!((o.stop_requested_at, o.tokens_after_stop), (2, 1));
        assert_eq!((o.abort_reason.as_str(), o.abort_at_token), ("cap", 3));
        assert!(o.abort_us >= 0);
        assert_eq!(o.finish_callbacks, 2);
        assert!(o.end_after_return);
        assert_eq!(
            (o.callbacks_on_run_thread, o.callbacks_on_other_threads),
            (5, 0)
        );
        // A second abort for the same request is not sent.
        assert!(!r.abort_now("deadline", &aborter));
        // The next request: the stop return is known to be ignored, so the abort goes out at
        // the cap itself, not after one more token.
        r.begin(16, Some(2), true);
        assert!(r.on_token(1, b"a", false));
        assert!(!r.on_token(2, b"b", false), "stop (and abort) at the cap");
        while ABORTS.load(Ordering::SeqCst) == 1 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(ABORTS.load(Ordering::SeqCst), 2);
        let o = r.finish().obs;
        assert_eq!((o.stop_requested_at, o.tokens_after_stop), (2, 0));
        assert_eq!(
            (o.abort_reason.as_str(), o.abort_at_token),
            (abort_reason::CAP_STOP_IGNORED, 2)
        );
        r.stop_abort_thread();
        t.join().unwrap();
    }
}
