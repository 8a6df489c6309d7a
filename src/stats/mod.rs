//! Statistics: pure functions from trace records to numbers. Nothing here reads a clock, a
//! file or the environment, so the same trace always gives the same figures.
pub mod aggregate;
pub mod conformance;
pub mod energy;
pub mod fleet;
pub(crate) mod instances;
pub mod load;
pub mod original;
pub mod peers;
pub mod prefill;
pub mod reference;
pub mod request;
pub mod server;
pub mod significance;
pub mod summary;
pub mod telemetry;
pub mod throughput;
pub mod verdict;
pub mod warnings;

pub use aggregate::Aggregate;
pub use request::RequestMetrics;
pub use summary::Summary;
