//! The board side: drive the runtime through a suite and write the trace.
pub(crate) mod plan;
pub mod progress;
pub mod recorder;
pub mod run;
pub mod runtime_thread;
pub mod schedule;
pub mod supervise;
pub mod sweep;
pub mod telemetry;
pub(crate) mod template;

pub use run::Outcome;
pub(crate) use run::{record, RecordPlan};
