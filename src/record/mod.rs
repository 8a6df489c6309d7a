//! The board side: drive the runtime through a suite and write the trace.
pub mod recorder;
pub mod run;
pub mod supervise;
pub mod telemetry;

pub use run::{record, Outcome, RecordPlan};
