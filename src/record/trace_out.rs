//! The trace a recorder writes, its checkpoint journal and the telemetry going into it: one
//! definition of what is made durable when, and of what a full disk kept, for the runtime and
//! the `--server` recorder. A request's final frames are synced before its checkpoints are
//! dropped, so a crash or a kill at any moment loses nothing already produced.
use super::power::{PowerPlan, PowerSampler};
use super::telemetry::Sampler;
use crate::error::{Error, Kind, Result};
use crate::trace::{Journal, Record, RunEnd, RunHeader, RunStatus, TraceWriter};
use std::path::Path;
use std::time::{Duration, Instant};

/// A failed trace or journal write: a full disk (or file-size limit) is exit 28, said with what
/// was kept by [`TraceOut::explain`]; anything else is a bug.
fn io(e: std::io::Error) -> Error {
    Error::writing("writing the trace", e)
}

/// A duration in whole microseconds, the trace's unit.
pub(crate) fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

pub(crate) struct TraceOut {
    writer: TraceWriter,
    journal: Journal,
    /// The board sampler whose batches go into the trace (none with `--no-telemetry`).
    sampler: Option<Sampler>,
    /// The power source polled into the trace (`--power`; none otherwise).
    power: Option<PowerSampler>,
    /// The idle window measured before the first request (µs).
    idle: (u64, u64),
    last_batch: Instant,
    /// The run's time origin: the trace's times count from it.
    pub(crate) origin: Instant,
    /// Requests whose final frames are durable in the trace.
    finished: u32,
}

impl TraceOut {
    /// Create the trace and its journal at `out` (never over an existing file); nothing is
    /// written yet.
    pub(crate) fn create(out: &Path, origin: Instant) -> Result<TraceOut> {
        let (writer, journal) = crate::trace::writer::create_run(out)?;
        Ok(TraceOut {
            writer,
            journal,
            sampler: None,
            power: None,
            idle: (0, 0),
            last_batch: Instant::now(),
            origin,
            finished: 0,
        })
    }

    /// Sample the board into this trace from now on (`None`: no telemetry).
    pub(crate) fn sample(&mut self, sampler: Option<Sampler>) {
        self.sampler = sampler;
        self.last_batch = Instant::now();
    }

    pub(crate) fn sampler(&self) -> Option<&Sampler> {
        self.sampler.as_ref()
    }

    /// Start polling `plan`'s power source on the clock from `origin` (an error if it cannot
    /// be read now): call before [`TraceOut::create`], so a dead source leaves no trace file.
    pub(crate) fn start_power(
        plan: Option<&PowerPlan>,
        origin: Instant,
    ) -> Result<Option<PowerSampler>> {
        plan.map(|p| PowerSampler::start(p, origin)).transpose()
    }

    /// Poll this power source into the trace from now on.
    pub(crate) fn measure_power(&mut self, power: Option<PowerSampler>) {
        self.power = power;
    }

    /// Measure idle power for `--power-baseline` (the runtime or server loaded, before the
    /// first request; Ctrl-C ends it early), then record the source and that window.
    pub(crate) fn power_baseline(&mut self, quiet: bool) -> Result<()> {
        let Some(p) = &self.power else {
            return Ok(());
        };
        let baseline = p.plan.baseline;
        let from = micros(self.origin.elapsed());
        if !baseline.is_zero() && !quiet {
            crate::err_line!(
                "rkbench: measuring idle power for {} with {}",
                humantime::format_duration(baseline),
                p.device
            );
        }
        super::interrupt::cool_down(baseline, Duration::from_millis(20), || {
            self.flush_telemetry(false)
        })?;
        let to = micros(self.origin.elapsed());
        if let Some(p) = &self.power {
            p.wait_first_reading(Duration::from_secs(5));
        }
        self.idle = (from, to);
        let rec = self
            .power
            .as_ref()
            .map(|p| p.source_record(from, to, (0, 0)))
            .expect("checked above");
        self.append(&Record::PowerSource(rec))?;
        self.flush_telemetry(true)
    }

    /// `--power-baseline …,after`: idle again after the last request of a completed run; the
    /// source record is written anew with both windows.
    fn power_baseline_after(&mut self) -> Result<()> {
        let Some(p) = self.power.as_ref().filter(|p| p.plan.after) else {
            return Ok(());
        };
        let baseline = p.plan.baseline;
        let from = micros(self.origin.elapsed());
        super::interrupt::cool_down(baseline, Duration::from_millis(20), || {
            self.flush_telemetry(false)
        })?;
        let to = micros(self.origin.elapsed());
        let (a, b) = self.idle;
        let rec = self
            .power
            .as_ref()
            .map(|p| p.source_record(a, b, (from, to)))
            .expect("checked above");
        self.append(&Record::PowerSource(rec))
    }

    /// Bind the journal to this trace (`out`, `header`) and write the header.
    pub(crate) fn begin(&mut self, out: &Path, header: RunHeader) -> Result<()> {
        self.journal.bind(out, &header).map_err(io)?;
        self.append(&Record::Header(header))
    }

    pub(crate) fn append(&mut self, r: &Record) -> Result<()> {
        self.writer.append(r).map_err(io)
    }

    pub(crate) fn sync(&mut self) -> Result<()> {
        self.writer.sync().map_err(io)
    }

    /// Append the telemetry and power sampled since the last batch, once
    /// [`super::telemetry::BATCH_EVERY`] has passed (or now). Both recorders (bare runtime and
    /// server) batch through this.
    pub(crate) fn flush_telemetry(&mut self, now: bool) -> Result<()> {
        if !now && self.last_batch.elapsed() < super::telemetry::BATCH_EVERY {
            return Ok(());
        }
        self.last_batch = Instant::now();
        if let Some(b) = self.sampler.as_ref().and_then(Sampler::take_batch) {
            self.writer.append(&Record::Telemetry(b)).map_err(io)?;
        }
        if let Some(p) = self.power.as_ref().and_then(PowerSampler::take_batch) {
            self.writer.append(&Record::PowerSamples(p)).map_err(io)?;
        }
        Ok(())
    }

    /// Checkpoint into the journal (the request in flight), after what it holds already.
    pub(crate) fn checkpoint(&mut self, r: &Record, sync: bool) -> Result<()> {
        self.journal.append(r).map_err(io)?;
        if sync {
            self.journal.sync().map_err(io)?;
        }
        Ok(())
    }

    /// Checkpoint into the journal in place of what it held: `snapshots` are whole snapshots
    /// of every request in flight, and the journal is replaced by them atomically (never
    /// truncated first, so a kill at any moment leaves the old snapshots or the new ones);
    /// with `sync` (`--fsync-checkpoints`) durable too, as [`TraceOut::checkpoint`] makes it.
    pub(crate) fn checkpoint_anew(&mut self, snapshots: &[Record], sync: bool) -> Result<()> {
        self.journal.replace(snapshots, sync).map_err(io)
    }

    /// A request's final frames: durable in the trace, then its checkpoints are dropped.
    pub(crate) fn request_done(&mut self, frames: &[Record]) -> Result<()> {
        self.request_done_among(frames, false)
    }

    /// [`TraceOut::request_done`] while `others_in_flight` says whether other requests are
    /// still running (several runtime instances, or a server level's streams). Their checkpoints share the journal, so it
    /// is only emptied when none is left: truncating it and writing their snapshots anew would
    /// leave a moment in which a kill loses them. The finished request's stale checkpoints stay
    /// until then, harmless (its final frame wins when a reader merges the journal); the
    /// journal holds at most the checkpoints of one level's overlapping requests.
    pub(crate) fn request_done_among(
        &mut self,
        frames: &[Record],
        others_in_flight: bool,
    ) -> Result<()> {
        for f in frames {
            self.append(f)?;
        }
        self.flush_telemetry(true)?;
        self.sync()?;
        self.finished += 1;
        if others_in_flight {
            return Ok(());
        }
        self.journal.reset().map_err(io)
    }

    /// `e` with what was kept when it is a full disk (else `e` unchanged): the trace up to its
    /// last whole frame with the finished requests, and the journal holding `in_flight`.
    pub(crate) fn explain(&self, e: Error, in_flight: &str) -> Error {
        if e.kind != Kind::DiskFull {
            return e;
        }
        Error::disk_full(format!(
            "{}; kept: {} (the run header and {} finished requests; its torn last frame was cut off, it has no end record) and {} ({in_flight}); free space, then `rkbench report {}` reads both",
            e.msg,
            self.writer.path().display(),
            self.finished,
            self.journal.path().display(),
            self.writer.path().display()
        ))
    }

    /// Stop sampling, write the last batch and the run end, make it durable.
    pub(crate) fn finish(&mut self, status: RunStatus, detail: &str, requests: u32) -> Result<()> {
        if status == RunStatus::Complete {
            self.power_baseline_after()?;
        }
        if let Some(b) = self.sampler.take().and_then(Sampler::stop) {
            self.append(&Record::Telemetry(b))?;
        }
        if let Some(b) = self.power.take().and_then(PowerSampler::stop) {
            self.append(&Record::PowerSamples(b))?;
        }
        self.append(&Record::End(RunEnd {
            status,
            detail: detail.to_string(),
            end_us: micros(self.origin.elapsed()),
            requests,
        }))?;
        self.sync()?;
        self.journal.remove().map_err(io)
    }
}
