//! The HTTP backend: measure a server (llama-server, rkllama, Rockchip's demo server, Ollama,
//! any OpenAI-compatible one) the way rkbench measures the bare runtime, into the same traces.
//! Plain HTTP/1.1 over TCP only (no TLS: boards serve plain HTTP). The network parts belong to
//! the record-capable build; the replay-only build keeps the pure parsers.
//!
//! `client` speaks HTTP (its framing is `response`, socket-free); `stream` frames SSE / NDJSON; `chunk` classifies one event; `capture`
//! turns a response into a [`crate::trace::server::ServerRequest`] and picks its count source.
pub mod capture;
pub mod chunk;
#[cfg(feature = "record")]
pub mod client;
pub mod kind;
#[cfg(feature = "record")]
pub(crate) mod load;
#[cfg(feature = "record")]
pub mod process;
#[cfg(feature = "record")]
pub mod record;
#[cfg(feature = "record")]
pub mod redact;
pub mod response;
#[cfg(feature = "record")]
pub mod server;
pub mod stream;
