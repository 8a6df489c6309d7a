//! Ctrl-C / SIGTERM in a recorder (the runtime one and `--server`'s): the first stops the
//! request in flight and the trace is finished as interrupted; a second exits at once. One
//! definition, so both recorders keep the same promise to the user.
use crate::error::exit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Interrupts received by this process.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// One signal may arrive twice (the terminal's process-group SIGINT plus the supervisor
/// forwarding it); two within this window count once.
const SAME_SIGNAL: Duration = Duration::from_millis(500);

/// Where this process's interrupts come from.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// The terminal alone (`record --server` runs unsupervised in rkbench's own process): every
    /// delivery is a Ctrl-C of its own.
    Terminal,
    /// The terminal and the supervisor forwarding the same Ctrl-C: see [`SAME_SIGNAL`].
    TerminalAndSupervisor,
}

/// Whether a Ctrl-C has been received: the caller stops what it waits for and finishes the trace.
pub(crate) fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Count an interrupt received by the supervisor (whose handler forwards it to its recorder):
/// [`interrupted`] then tells a sweep to record no further combination.
pub(crate) fn note_forwarded() {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// `--cooldown` between requests: wait `d`, calling `tick` (telemetry keeps being sampled)
/// every `step`, and end early on Ctrl-C.
pub(crate) fn cool_down(
    d: Duration,
    step: Duration,
    mut tick: impl FnMut() -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until && !interrupted() {
        std::thread::sleep(step.min(until.saturating_duration_since(Instant::now())));
        tick()?;
    }
    Ok(())
}

/// Whether a delivery now is a new interrupt rather than the same one arriving again; `last`
/// holds when the last counted one came.
pub(crate) fn is_new(last: &Mutex<Option<Instant>>) -> bool {
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|t| t.elapsed() < SAME_SIGNAL) {
        return false;
    }
    *last = Some(Instant::now());
    true
}

/// Install the handler. `stopping` says what the first interrupt does to the request in flight
/// (e.g. "aborting the current request"). Installing again (a sweep's next run) keeps the first.
pub(crate) fn install(source: Source, stopping: &'static str) {
    let last: Mutex<Option<Instant>> = Mutex::new(None);
    let _ = ctrlc::set_handler(move || {
        if matches!(source, Source::TerminalAndSupervisor) && !is_new(&last) {
            return;
        }
        if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
            crate::err_line!("rkbench: second interrupt, exiting now; the trace is valid up to its last durable frame");
            crate::error::exit(exit::INTERRUPTED);
        }
        crate::err_line!(
            "rkbench: interrupt: {stopping} and finishing the trace (Ctrl-C again to exit at once)"
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_signal_delivered_twice_counts_once() {
        let last = Mutex::new(None);
        assert!(is_new(&last), "the first delivery counts");
        assert!(!is_new(&last), "the same signal again at once does not");
        *last.lock().unwrap() = Some(Instant::now() - SAME_SIGNAL);
        assert!(is_new(&last), "one after the window is a second Ctrl-C");
    }
}
