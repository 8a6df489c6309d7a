//! The board side: drive the runtime through a suite and write the trace.
pub mod recorder;
pub mod run;

pub use run::{record, Outcome, RecordPlan};
