//! The `.rktrace` file: a 16-byte file header, then append-only frames.
//!
//! ```text
//! file   = "RKBTRACE" | major u16 | minor u16 | flags u32            (16 bytes)
//! frame  = len u32 | crc32(payload) u32 | "FRM1" | seq u32 | payload | zero pad to 16
//! ```
//! The payload is one rkyv-archived [`schema::Record`]. The 16-byte frame header keeps every
//! payload 16-aligned for validated zero-copy access, and the per-frame marker + sequence number
//! let a reader tell a torn tail (the recorder was killed mid-write) from corruption in the middle.
pub mod reader;
pub mod schema;
pub mod writer;

pub use reader::{Damage, Trace};
pub use schema::*;
pub use writer::TraceWriter;

/// File magic.
pub const MAGIC: [u8; 8] = *b"RKBTRACE";
/// Format major version: a reader refuses unknown newer majors with a clear error.
pub const FORMAT_MAJOR: u16 = 1;
/// Format minor version: newer minors only add record kinds, which older readers skip.
pub const FORMAT_MINOR: u16 = 0;
/// Size of the file header.
pub const FILE_HEADER_LEN: usize = 16;
/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 16;
/// Per-frame marker.
pub const FRAME_MAGIC: [u8; 4] = *b"FRM1";
/// Largest payload a reader accepts (a request of 10 M tokens fits easily).
pub const MAX_FRAME_LEN: u32 = 1 << 30;

/// Round `n` up to the frame alignment.
pub(crate) fn pad16(n: usize) -> usize {
    (n + 15) & !15
}

/// Encode the file header.
pub(crate) fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&FORMAT_MAJOR.to_le_bytes());
    h[10..12].copy_from_slice(&FORMAT_MINOR.to_le_bytes());
    h
}

/// Encode one frame (header + payload + padding) into `out`.
pub(crate) fn encode_frame(seq: u32, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("frame payload over 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(&FRAME_MAGIC);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + pad16(payload.len()) - payload.len(), 0);
}
