//! rkbench: record every token of an RKLLM run on the board, replay reports anywhere.
//!
//! Data flows one way: [`suite`] → [`runtime`] (librkllmrt via libloading) → [`record`] →
//! [`trace`] (framed rkyv records) → [`analysis`] (one [`analysis::Analysis`] per trace, built
//! from the pure functions in [`stats`]) → [`report`] renderers, which only format.
//! Record never computes report statistics; replay never touches the runtime.
//!
//! `unsafe` is denied everywhere except the FFI module and the one function that maps a trace.
#![deny(unsafe_code)]
pub mod analysis;
pub mod board;
pub mod cli;
pub mod commands;
pub mod error;
pub mod http;
// The replay-only build checks suite files with the table but parses no record flags.
#[cfg_attr(not(feature = "record"), allow(dead_code))]
pub(crate) mod limits;
pub mod provenance;
#[cfg(feature = "record")]
pub mod record;
pub mod reference;
pub mod replay;
pub mod report;
#[cfg(feature = "record")]
#[allow(unsafe_code)] // the FFI boundary to librkllmrt.so
pub mod runtime;
pub mod stats;
pub(crate) mod suite;
pub mod token_input;
pub mod trace;
