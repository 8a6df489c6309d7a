//! Live progress on stderr for a person watching a long run: one line updated in place on a
//! terminal, plain periodic lines otherwise, nothing with `--quiet`. It only reads snapshots
//! (atomics of the recorder, the sampler's latest values); it never touches the token path.
use crate::trace::Status;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    enabled: bool,
    tty: bool,
    total: usize,
    started: Instant,
    last_draw: Instant,
    /// Durations of finished requests, for the ETA.
    done: Vec<Duration>,
    line_open: bool,
}

/// How often the in-place line is redrawn, and how often a plain line is printed.
const TTY_EVERY: Duration = Duration::from_millis(250);
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// How a run's requests went, for [`Progress::done`]: every request written, and of the
/// measured ones (not warm-up) how many ended ok, partial (stopped with some output) or failed.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) written: u32,
    pub(crate) measured: u32,
    ok: u32,
    partial: u32,
    failed: u32,
}

impl Tally {
    /// Count one written request; `produced` says whether it gave any output.
    pub(crate) fn add(&mut self, warmup: bool, status: Status, produced: bool) {
        self.written += 1;
        if warmup {
            return;
        }
        self.measured += 1;
        match status {
            Status::Ok => self.ok += 1,
            Status::Error => self.failed += 1,
            _ if !produced => self.failed += 1,
            _ => self.partial += 1,
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// What a level under load has done so far, for [`Progress::level_tick`].
#[derive(Debug, Default)]
pub(crate) struct LevelProgress {
    /// The level, as its label reads (`concurrency=4`, `rate=2 poisson`).
    pub(crate) label: String,
    pub(crate) done: usize,
    pub(crate) in_flight: usize,
    /// Output tokens of the finished requests and the latest checkpoints of those in flight.
    pub(crate) tokens: u64,
}

impl LevelProgress {
    fn line(&self, level: Duration, run: Duration) -> String {
        let rate = match level.as_secs_f64() {
            s if s > 0.0 => format!("{:.2} req/s", self.done as f64 / s),
            _ => "-".into(),
        };
        format!(
            "{}: {} done, {} in flight, {} tok, {rate}, {} (run {})",
            self.label,
            self.done,
            self.in_flight,
            self.tokens,
            secs(level),
            secs(run)
        )
    }
}

impl Progress {
    pub fn new(quiet: bool, total: usize) -> Self {
        Self::with_tty(quiet, total, std::io::stderr().is_terminal())
    }

    pub fn with_tty(quiet: bool, total: usize, tty: bool) -> Self {
        let now = Instant::now();
        Progress {
            enabled: !quiet,
            tty,
            total,
            started: now,
            last_draw: now,
            done: Vec::new(),
            line_open: false,
        }
    }

    fn eta(&self, position: usize, current: Duration) -> Option<Duration> {
        if self.done.is_empty() {
            return None;
        }
        let mean = self.done.iter().sum::<Duration>() / self.done.len() as u32;
        let left = self.total.saturating_sub(position + 1) as u32;
        Some((mean * left + mean.saturating_sub(current)).max(Duration::ZERO))
    }

    pub fn start_request(&mut self, position: usize, id: &str, warmup: bool) {
        if !self.enabled {
            return;
        }
        let w = if warmup { " (warm-up)" } else { "" };
        if self.tty {
            self.draw(&format!(
                "[{}/{}] {id}{w} prefill…",
                position + 1,
                self.total
            ));
        } else {
            crate::err_line!("[{}/{}] {id}{w} started", position + 1, self.total);
        }
        self.last_draw = Instant::now();
    }

    /// Called from the orchestrator's loop; draws at most every 250 ms (TTY) / 10 s (plain).
    pub fn tick(
        &mut self,
        position: usize,
        id: &str,
        tokens: u32,
        rate: Option<f64>,
        elapsed: Duration,
        telemetry: impl FnOnce() -> String,
    ) {
        if !self.due() {
            return;
        }
        // Built only when a line is drawn: the caller ticks far more often than that.
        let telemetry = telemetry();
        let rate = rate
            .map(|r| format!("{r:.2} tok/s"))
            .unwrap_or_else(|| "-".into());
        let eta = self
            .eta(position, elapsed)
            .map(|d| format!(", ETA {}", secs(d)))
            .unwrap_or_default();
        let line = format!(
            "[{}/{}] {id}: {tokens} tok, {rate}, {} (run {}{eta}){}{telemetry}",
            position + 1,
            self.total,
            secs(elapsed),
            secs(self.started.elapsed()),
            if telemetry.is_empty() { "" } else { ", " }
        );
        self.show(&line);
    }

    /// Under load, the level as a whole (many requests run at once, so no one request's line
    /// says how it goes): requests done, in flight, output so far, the completed rate.
    /// Drawn at most every 250 ms (TTY) / 10 s (plain), as [`Progress::tick`].
    pub(crate) fn level_tick(&mut self, level: &LevelProgress, elapsed: Duration) {
        if self.due() {
            let line = level.line(elapsed, self.started.elapsed());
            self.show(&line);
        }
    }

    /// Whether a periodic line is due (enabled, and 250 ms on a TTY / 10 s plain since the
    /// last one); if so, it counts as drawn from now.
    fn due(&mut self) -> bool {
        let every = if self.tty { TTY_EVERY } else { PLAIN_EVERY };
        if !self.enabled || self.last_draw.elapsed() < every {
            return false;
        }
        self.last_draw = Instant::now();
        true
    }

    /// A periodic line: in place on a terminal, a plain line otherwise.
    fn show(&mut self, line: &str) {
        if self.tty {
            self.draw(line);
        } else {
            crate::err_line!("{line}");
        }
    }

    pub fn finish_request(&mut self, position: usize, id: &str, took: Duration, summary: &str) {
        self.done.push(took);
        if !self.enabled {
            return;
        }
        self.clear();
        crate::err_line!("[{}/{}] {id}: {summary}", position + 1, self.total);
    }

    pub fn note(&mut self, msg: &str) {
        if self.enabled {
            self.clear();
            crate::err_line!("{msg}");
        }
    }

    /// The closing line of a run: how many requests, how they went, how long it took and why
    /// it stopped (`detail`, empty for a run that simply completed).
    pub(crate) fn done(&mut self, tally: &Tally, took: Duration, detail: &str) {
        self.note(&format!(
            "rkbench: done: {} requests ({} warm-up), {} ok, {} partial, {} failed, in {:.1} s{}",
            tally.written,
            tally.written - tally.measured,
            tally.ok,
            tally.partial,
            tally.failed,
            took.as_secs_f64(),
            if detail.is_empty() {
                String::new()
            } else {
                format!("; {detail}")
            }
        ));
    }

    fn draw(&mut self, line: &str) {
        // Keep to one terminal line: clip to a conservative width.
        let clipped: String = line.chars().take(150).collect();
        crate::error::err_raw(format!("\r\x1b[2K{clipped}").as_bytes());
        self.line_open = true;
    }

    fn clear(&mut self) {
        if self.tty && self.line_open {
            crate::error::err_raw(b"\r\x1b[2K");
            self.line_open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_measured_requests_by_outcome() {
        let mut t = Tally::default();
        t.add(true, Status::Ok, true);
        t.add(false, Status::Ok, true);
        t.add(false, Status::Error, true);
        t.add(false, Status::Timeout, false);
        t.add(false, Status::Interrupted, true);
        assert_eq!((t.written, t.measured), (5, 4));
        assert_eq!((t.ok, t.partial, t.failed), (1, 1, 2));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(secs(Duration::from_millis(1500)), "1.5s");
        assert_eq!(secs(Duration::from_secs(125)), "2m05s");
        assert_eq!(secs(Duration::from_secs(3725)), "1h02m");
    }

    #[test]
    fn a_level_under_load_reads_as_one_line() {
        let l = LevelProgress {
            label: "concurrency=4".into(),
            done: 10,
            in_flight: 4,
            tokens: 1234,
        };
        assert_eq!(
            l.line(Duration::from_secs(4), Duration::from_secs(70)),
            "concurrency=4: 10 done, 4 in flight, 1234 tok, 2.50 req/s, 4.0s (run 1m10s)"
        );
        assert!(l.line(Duration::ZERO, Duration::ZERO).contains(", -, "));
    }

    #[test]
    fn eta_from_finished_requests() {
        let mut p = Progress::with_tty(true, 4, false);
        assert_eq!(p.eta(0, Duration::ZERO), None);
        p.done.push(Duration::from_secs(10));
        // at position 1 with 4 s elapsed: 2 more requests (20 s) + 6 s left of this one
        assert_eq!(
            p.eta(1, Duration::from_secs(4)),
            Some(Duration::from_secs(26))
        );
    }
}
