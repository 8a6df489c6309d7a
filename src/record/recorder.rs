//! The hot path: what happens in the runtime's callback. One clock read, a few pushes into
//! buffers reserved before the request starts (no allocation per token in steady state), and
//! atomics the orchestrator and progress display can read without touching the buffers.
use crate::runtime::{CallbackSink, PerfStats};
use crate::trace::vocab::final_state;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Raw capture of one request, in recorder units (µs since t0).
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub token_dt_us: Vec<u32>,
    pub token_ids: Vec<i32>,
    pub waiting: Vec<u32>,
    pub text_len: Vec<u16>,
    pub text: Vec<u8>,
    /// 2 FINISH, 3 ERROR, -1 none yet.
    pub final_state: i32,
    /// t_end − t0 when FINISH/ERROR arrived.
    pub end_us: Option<u64>,
    pub perf: Option<PerfStats>,
}

struct Buffers {
    active: bool,
    t0: Instant,
    last: Instant,
    cap: Capture,
    /// Callbacks that arrived while no request was active (the runtime kept going after abort).
    stray: u32,
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
    ended: AtomicBool,
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
            }),
            origin: now,
            first_us: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
            tokens: AtomicU32::new(0),
            cap: AtomicU32::new(u32::MAX),
            cap_hit: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffers> {
        // A panic while holding the lock cannot leave the buffers inconsistent in a way that
        // matters more than losing the trace, so recover the guard.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prepare for a request: reserve room for `expect_tokens`, arm the cap, and return t0.
    /// Call immediately before `rkllm_run`.
    pub fn begin(&self, expect_tokens: usize, cap: Option<u32>) -> Instant {
        let mut b = self.lock();
        let c = &mut b.cap;
        c.token_dt_us.clear();
        c.token_ids.clear();
        c.waiting.clear();
        c.text_len.clear();
        c.text.clear();
        c.token_dt_us.reserve(expect_tokens);
        c.token_ids.reserve(expect_tokens);
        c.text_len.reserve(expect_tokens);
        c.text.reserve(expect_tokens * 8);
        c.waiting.reserve(64);
        c.final_state = final_state::NONE;
        c.end_us = None;
        c.perf = None;
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
        let from = from.min(c.token_dt_us.len());
        let skip: usize = c.text_len[..from].iter().map(|&l| usize::from(l)).sum();
        Capture {
            token_dt_us: c.token_dt_us[from..].to_vec(),
            token_ids: c.token_ids[from..].to_vec(),
            waiting: c
                .waiting
                .iter()
                .copied()
                .filter(|&w| w as usize >= from)
                .collect(),
            text_len: c.text_len[from..].to_vec(),
            text: c.text[skip..].to_vec(),
            final_state: c.final_state,
            end_us: c.end_us,
            perf: c.perf,
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
        let c = &mut b.cap;
        let i = c.token_dt_us.len() as u32;
        c.token_dt_us.push(dt);
        c.token_ids.push(token_id);
        let len = text.len().min(usize::from(u16::MAX));
        c.text_len.push(len as u16);
        c.text.extend_from_slice(&text[..len]);
        if waiting {
            c.waiting.push(i);
        }
        drop(b);
        let since = micros(now.duration_since(self.origin));
        self.last_us.store(since, Ordering::Relaxed);
        let n = self.tokens.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 {
            self.first_us.store(since, Ordering::Relaxed);
        }
        if n >= self.cap.load(Ordering::Relaxed) {
            self.cap_hit.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn on_finish(&self, perf: Option<PerfStats>) {
        let now = Instant::now();
        let mut b = self.lock();
        if !b.active {
            b.stray += 1;
            return;
        }
        let end = micros(now.duration_since(b.t0));
        b.cap.final_state = final_state::FINISH;
        b.cap.end_us = Some(end);
        b.cap.perf = perf;
        self.ended.store(true, Ordering::Release);
    }

    fn on_error(&self) {
        let now = Instant::now();
        let mut b = self.lock();
        if !b.active {
            b.stray += 1;
            return;
        }
        let end = micros(now.duration_since(b.t0));
        b.cap.final_state = final_state::ERROR;
        b.cap.end_us = Some(end);
        self.ended.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_tokens_waiting_and_cap() {
        let r = Recorder::new();
        r.begin(16, Some(3));
        assert!(r.on_token(5, b"a", false));
        assert!(r.on_token(6, b"\xc3", true));
        assert!(!r.on_token(7, b"\xa9", false), "cap of 3 reached");
        r.on_finish(Some(PerfStats {
            generate_tokens: 3,
            ..Default::default()
        }));
        let c = r.finish();
        assert_eq!(c.token_ids, vec![5, 6, 7]);
        assert_eq!(c.waiting, vec![1]);
        assert_eq!(c.text, "aé".as_bytes());
        assert_eq!(c.final_state, 2);
        assert!(r.cap_hit());
        // After finish, callbacks are stray and not recorded.
        r.on_token(8, b"x", false);
        assert_eq!(r.stray(), 1);
    }
}
