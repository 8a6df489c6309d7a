//! The board side: drive the runtime through a suite and write the trace.
pub(crate) mod instances;
pub(crate) mod interrupt;
pub(crate) mod load;
pub(crate) mod plan;
pub(crate) mod power;
pub mod progress;
pub mod recorder;
pub(crate) mod run;
pub mod runtime_thread;
pub(crate) mod schedule;
pub mod supervise;
pub(crate) mod sweep;
pub mod telemetry;
pub(crate) mod template;
pub(crate) mod trace_out;

pub(crate) use run::{record, RecordPlan};
