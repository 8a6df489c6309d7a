//! Everything that touches `librkllmrt.so`. The only module (with the trace mapper) allowed
//! `unsafe`; each block states why it is sound.
pub mod abi;
pub mod identity;
pub mod library;
pub mod session;
pub mod signals;

pub use identity::Identity;
pub use library::{AbiVersion, LibraryFile, Runtime};
pub use session::{Aborter, CallbackSink, InitParams, PerfStat, RunOptions, Session};
