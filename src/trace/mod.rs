//! The `.rktrace` file: a 16-byte file header, then append-only frames.
//!
//! ```text
//! file   = "RKBTRACE" | major u16 | minor u16 | flags u32                       (16 bytes)
//! frame  = len u32 | crc32(kind ‖ payload) u32 | "RF" | kind u8 | 0 u8 | seq u32 | payload | pad to 16
//! ```
//! The payload is the rkyv archive of one record of that kind (see [`schema::kind`]). The
//! 16-byte frame header keeps every payload 16-aligned for validated zero-copy access; the marker
//! and sequence number let a reader tell a torn tail (the recorder was killed mid-write) from
//! corruption in the middle. Checkpoints of the request in flight go to a journal file beside
//! the trace (`<trace>.journal`, same framing, flag bit 0 set, first frame a binding to the
//! trace's run header), which the reader merges after a crash only into the trace it is bound to,
//! and the recorder deletes on a clean end, so the trace itself holds each token once.
pub mod gap;
pub mod load;
pub mod plan_extras;
pub mod power;
pub mod reader;
pub mod schema;
pub mod server;
pub mod sweep_index;
pub(crate) mod validate;
pub mod vocab;
pub mod writer;

pub use load::{LoadRecords, LoadRun, RequestSent};
pub use plan_extras::{PresetUsed, TemplateSent};
pub use power::{PowerRecords, PowerSamples, PowerSource};
pub use reader::{Damage, Impossible, RuntimeRecords, Trace};
pub use schema::*;
pub use sweep_index::{SweepIndex, SweepRun, SweepStatus};
pub use vocab::NOT_READ;
pub use writer::{Journal, TraceWriter};

/// File magic.
pub const MAGIC: [u8; 8] = *b"RKBTRACE";
/// Format major version: a reader refuses unknown newer majors with a clear error.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version: newer minors only add record kinds, which older readers skip
/// (1.1: kinds 7, 9–18; 1.2: the power kinds 24–25; 1.3: the load kinds 26–27).
pub const FORMAT_MINOR: u16 = 3;
/// Size of the file header.
pub const FILE_HEADER_LEN: usize = 16;
/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 16;
/// Per-frame marker.
pub const FRAME_MAGIC: [u8; 2] = *b"RF";
/// File-header flag: this file is a journal of checkpoints, not a trace.
pub const FLAG_JOURNAL: u32 = 1;
/// Largest payload a reader accepts (a request of 10 M tokens fits easily).
pub const MAX_FRAME_LEN: u32 = 1 << 30;

/// Round `n` up to the frame alignment.
pub(crate) fn pad16(n: usize) -> usize {
    (n + 15) & !15
}

/// Encode the file header.
pub(crate) fn file_header(flags: u32) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&FORMAT_MAJOR.to_le_bytes());
    h[10..12].copy_from_slice(&FORMAT_MINOR.to_le_bytes());
    h[12..16].copy_from_slice(&flags.to_le_bytes());
    h
}

/// crc32 over the kind byte and the payload.
pub(crate) fn frame_crc(kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// Encode one frame (header + payload + padding) into `out`.
pub(crate) fn encode_frame(seq: u32, kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("frame payload over 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_crc(kind, payload).to_le_bytes());
    out.extend_from_slice(&FRAME_MAGIC);
    out.extend_from_slice(&[kind, 0]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + pad16(payload.len()) - payload.len(), 0);
}

/// Archive one record as (kind, rkyv bytes).
pub(crate) fn encode_record(
    r: &Record,
) -> Result<(u8, rkyv::util::AlignedVec), rkyv::rancor::Error> {
    use rkyv::rancor::Error;
    Ok(match r {
        Record::Header(h) => (kind::HEADER, rkyv::to_bytes::<Error>(h)?),
        Record::Request(x) => (kind::REQUEST, rkyv::to_bytes::<Error>(x)?),
        Record::Partial(x) => (kind::PARTIAL, rkyv::to_bytes::<Error>(x)?),
        Record::Telemetry(x) => (kind::TELEMETRY, rkyv::to_bytes::<Error>(x)?),
        Record::End(x) => (kind::END, rkyv::to_bytes::<Error>(x)?),
        Record::Tokens(x) => (kind::TOKENS, rkyv::to_bytes::<Error>(x)?),
        Record::ServerRun(x) => (server::kind::SERVER_RUN, rkyv::to_bytes::<Error>(x)?),
        Record::ServerRequest(x) => (server::kind::SERVER_REQUEST, rkyv::to_bytes::<Error>(x)?),
        Record::ServerPartial(x) => (server::kind::SERVER_PARTIAL, rkyv::to_bytes::<Error>(x)?),
        Record::Binding(x) => (kind::BINDING, rkyv::to_bytes::<Error>(x)?),
        Record::Input(x) => (kind::INPUT, rkyv::to_bytes::<Error>(x)?),
        Record::TemplateSent(x) => (
            plan_extras::kind::TEMPLATE_SENT,
            rkyv::to_bytes::<Error>(x)?,
        ),
        Record::PresetUsed(x) => (plan_extras::kind::PRESET_USED, rkyv::to_bytes::<Error>(x)?),
        Record::InputOptions(x) => (kind::INPUT_OPTIONS, rkyv::to_bytes::<Error>(x)?),
        Record::Identity(x) => (kind::IDENTITY, rkyv::to_bytes::<Error>(x)?),
        Record::RuntimeObs(x) => (kind::RUNTIME_OBS, rkyv::to_bytes::<Error>(x)?),
        Record::PowerSource(x) => (power::kind::POWER_SOURCE, rkyv::to_bytes::<Error>(x)?),
        Record::PowerSamples(x) => (power::kind::POWER_SAMPLES, rkyv::to_bytes::<Error>(x)?),
        Record::LoadRun(x) => (load::kind::LOAD_RUN, rkyv::to_bytes::<Error>(x)?),
        Record::RequestSent(x) => (load::kind::REQUEST_SENT, rkyv::to_bytes::<Error>(x)?),
    })
}

/// Path of the checkpoint journal that belongs to a trace.
pub fn journal_path(trace: &std::path::Path) -> std::path::PathBuf {
    let mut p = trace.as_os_str().to_os_string();
    p.push(".journal");
    std::path::PathBuf::from(p)
}
