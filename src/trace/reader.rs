//! Trace reader: maps the file, checks every frame's length, marker and crc32, validates each
//! payload with rkyv's checked access (never unchecked on input files), and keeps the valid
//! prefix of a torn or damaged file while saying exactly what it dropped.
use super::schema::{
    kind as k, Record, RequestRecord, RunEnd, RunHeader, TelemetryBatch, TokenChunk,
};
use super::server::{kind as sk, ServerRequest, ServerRun, ServerTrace};
use super::{
    FILE_HEADER_LEN, FLAG_JOURNAL, FORMAT_MAJOR, FRAME_HEADER_LEN, FRAME_MAGIC, MAGIC,
    MAX_FRAME_LEN,
};
use std::fmt;
use std::fs::File;
use std::path::Path;

/// What is wrong with the tail of a trace. Everything before `at` was read and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a frame (the recorder was killed mid-write, or the copy was cut).
    Truncated { at: u64, frames_kept: u32 },
    /// Frame `frame` at byte `at` fails its checks, with more data after it.
    Corrupt {
        frame: u32,
        at: u64,
        frames_kept: u32,
        reason: String,
    },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Truncated { at, frames_kept } => {
                write!(f, "truncated at byte {at} ({frames_kept} frames kept)")
            }
            Damage::Corrupt {
                frame,
                at,
                frames_kept,
                reason,
            } => write!(
                f,
                "corrupt frame {frame} at byte {at}: {reason} ({frames_kept} frames kept)"
            ),
        }
    }
}

/// Why a file could not be read as a trace at all.
#[derive(Debug)]
pub enum TraceError {
    Io {
        path: String,
        err: std::io::Error,
    },
    NotATrace {
        path: String,
    },
    NewerFormat {
        path: String,
        major: u16,
        minor: u16,
    },
    NoHeader {
        path: String,
        damage: Option<Damage>,
    },
    IsJournal {
        path: String,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Io { path, err } => write!(f, "cannot read trace {path}: {err}"),
            TraceError::NotATrace { path } => write!(
                f,
                "{path} is not an rkbench trace (no RKBTRACE header); pass a .rktrace file written by `rkbench record`"
            ),
            TraceError::NewerFormat { path, major, minor } => write!(
                f,
                "{path} uses trace format {major}.{minor}, newer than this rkbench reads ({FORMAT_MAJOR}.x); upgrade rkbench"
            ),
            TraceError::IsJournal { path } => write!(
                f,
                "{path} is a checkpoint journal, not a trace; pass the .rktrace file beside it (its journal is merged automatically)"
            ),
            TraceError::NoHeader { path, damage } => match damage {
                Some(d) => write!(f, "{path}: no readable run header, nothing to recover ({d})"),
                None => write!(f, "{path}: the first record is not a run header; the file is not a valid trace"),
            },
        }
    }
}

impl std::error::Error for TraceError {}

/// A trace read into memory.
#[derive(Debug, Clone)]
pub struct Trace {
    pub path: String,
    pub format_minor: u16,
    pub header: RunHeader,
    /// One entry per request index, in index order: the final `Request` frame if present, else
    /// the latest `Partial` checkpoint (status `in-flight` unless the run end says otherwise).
    pub requests: Vec<RequestRecord>,
    pub telemetry: Vec<TelemetryBatch>,
    pub end: Option<RunEnd>,
    pub frames: u32,
    pub file_len: u64,
    pub damage: Option<Damage>,
    /// Length of the valid prefix (where a writer may resume appending).
    pub valid_len: u64,
    /// Frames with a valid crc whose record kind this version does not know (newer minor).
    pub skipped_unknown: u32,
    /// In-flight requests recovered from the checkpoint journal beside the trace.
    pub journal_requests: u32,
    /// A run measured through an HTTP server: its chunks (`requests` holds their token view).
    pub server: Option<ServerTrace>,
}

/// Map a trace file read-only. The only `unsafe` outside the FFI module.
#[allow(unsafe_code)]
fn map_file(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this process. Traces are append-only
    // archives; the one hazard is another process truncating the file while we read it (SIGBUS),
    // which rkbench itself never does (the recorder only appends). All bytes are validated
    // (crc32 + rkyv bytecheck) before any typed access.
    unsafe { memmap2::MmapOptions::new().map(file) }
}

/// Read and validate a whole trace, merging its checkpoint journal if the run did not end.
pub fn read(path: &Path) -> Result<Trace, TraceError> {
    let mut trace = read_file(path, false)?;
    if trace.end.is_none() {
        let jp = super::journal_path(path);
        if jp.exists() {
            // A journal that cannot be read adds nothing; the trace itself stays valid.
            if let Ok(j) = read_file(&jp, true) {
                trace.journal_requests = j.requests.len() as u32;
                merge_journal(&mut trace, j.requests);
                if let (Some(s), Some(js)) = (&mut trace.server, j.server) {
                    s.merge_journal(js);
                }
            }
        }
    }
    Ok(trace)
}

fn read_file(path: &Path, journal: bool) -> Result<Trace, TraceError> {
    let shown = path.display().to_string();
    let io_err = |err| TraceError::Io {
        path: shown.clone(),
        err,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    if len < FILE_HEADER_LEN as u64 {
        return Err(TraceError::NotATrace { path: shown });
    }
    let map = map_file(&file).map_err(io_err)?;
    parse_any(&map, shown, journal)
}

/// Parse trace bytes (the mapped file, or a buffer in tests and the fuzzer).
pub fn parse(bytes: &[u8], path: String) -> Result<Trace, TraceError> {
    parse_any(bytes, path, false)
}

/// Parse a checkpoint journal (no header record; only `Partial`/`Tokens` frames).
pub fn parse_journal(bytes: &[u8], path: String) -> Result<Trace, TraceError> {
    parse_any(bytes, path, true)
}

/// Decode one validated payload of a known kind; `None` for an unknown kind or layout.
fn decode(kind: u8, payload: &[u8]) -> Option<Record> {
    use rkyv::rancor::Error;
    macro_rules! get {
        ($t:ty, $v:path) => {{
            let a = rkyv::access::<rkyv::Archived<$t>, Error>(payload).ok()?;
            Some($v(rkyv::deserialize::<$t, Error>(a).ok()?))
        }};
    }
    match kind {
        k::HEADER => get!(RunHeader, Record::Header),
        k::REQUEST => get!(RequestRecord, Record::Request),
        k::PARTIAL => get!(RequestRecord, Record::Partial),
        k::TELEMETRY => get!(TelemetryBatch, Record::Telemetry),
        k::END => get!(RunEnd, Record::End),
        k::TOKENS => get!(TokenChunk, Record::Tokens),
        sk::SERVER_RUN => get!(ServerRun, Record::ServerRun),
        sk::SERVER_REQUEST => get!(ServerRequest, Record::ServerRequest),
        sk::SERVER_PARTIAL => get!(ServerRequest, Record::ServerPartial),
        _ => None,
    }
}

fn parse_any(bytes: &[u8], path: String, journal: bool) -> Result<Trace, TraceError> {
    if bytes.len() < FILE_HEADER_LEN || bytes[..8] != MAGIC {
        return Err(TraceError::NotATrace { path });
    }
    let major = u16::from_le_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
    if major != FORMAT_MAJOR {
        return Err(TraceError::NewerFormat { path, major, minor });
    }
    let flags = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if (flags & FLAG_JOURNAL != 0) != journal {
        return Err(if journal {
            TraceError::NotATrace { path }
        } else {
            TraceError::IsJournal { path }
        });
    }
    let mut trace = Trace {
        path,
        format_minor: minor,
        header: RunHeader::default(),
        requests: Vec::new(),
        telemetry: Vec::new(),
        end: None,
        frames: 0,
        file_len: bytes.len() as u64,
        damage: None,
        valid_len: FILE_HEADER_LEN as u64,
        skipped_unknown: 0,
        journal_requests: 0,
        server: None,
    };
    let mut have_header = journal;
    let mut finals: Vec<(u32, RequestRecord)> = Vec::new();
    let mut partials: Vec<(u32, RequestRecord)> = Vec::new();
    let mut chunks: Vec<TokenChunk> = Vec::new();
    let mut server = super::server::Collected::default();
    let mut off = FILE_HEADER_LEN;
    // The payload copy guarantees 16-byte alignment even if `bytes` is not aligned.
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    while off < bytes.len() {
        let frame_no = trace.frames;
        let rest = &bytes[off..];
        let corrupt = |reason: &str| Damage::Corrupt {
            frame: frame_no,
            at: off as u64,
            frames_kept: frame_no,
            reason: reason.to_string(),
        };
        let truncated = Damage::Truncated {
            at: off as u64,
            frames_kept: frame_no,
        };
        // A tail of zeros is what a crash leaves on many filesystems: a torn write, not corruption.
        if rest.iter().all(|&b| b == 0) || rest.len() < FRAME_HEADER_LEN {
            trace.damage = Some(truncated);
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let kind = rest[10];
        let seq = u32::from_le_bytes([rest[12], rest[13], rest[14], rest[15]]);
        if rest[8..10] != FRAME_MAGIC || len > MAX_FRAME_LEN || seq != frame_no {
            trace.damage = Some(corrupt("bad frame header"));
            break;
        }
        let padded = super::pad16(len as usize);
        if rest.len() < FRAME_HEADER_LEN + len as usize {
            trace.damage = Some(truncated);
            break;
        }
        let payload = &rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len as usize];
        let is_last = rest.len() <= FRAME_HEADER_LEN + padded;
        if super::frame_crc(kind, payload) != crc {
            trace.damage = Some(if is_last {
                truncated
            } else {
                corrupt("crc32 mismatch")
            });
            break;
        }
        // Payloads are 16-aligned in the file and the mapping is page-aligned, so they can be
        // validated in place; only a buffer at an odd address (tests, the fuzzer) is copied.
        let record = if (payload.as_ptr() as usize) % 16 == 0 {
            decode(kind, payload)
        } else {
            aligned.clear();
            aligned.extend_from_slice(payload);
            decode(kind, &aligned)
        };
        trace.frames += 1;
        off += FRAME_HEADER_LEN + padded.min(rest.len() - FRAME_HEADER_LEN);
        trace.valid_len = off as u64;
        let Some(record) = record else {
            // Valid crc but unknown kind or layout: a record from a newer minor version.
            trace.skipped_unknown += 1;
            continue;
        };
        match record {
            Record::Header(h) if !have_header => {
                trace.header = h;
                have_header = true;
            }
            _ if !have_header => {
                return Err(TraceError::NoHeader {
                    path: trace.path,
                    damage: None,
                });
            }
            Record::Header(_) => trace.skipped_unknown += 1,
            Record::Request(r) => finals.push((r.index, r)),
            Record::Partial(r) => partials.push((r.index, r)),
            Record::Telemetry(t) => trace.telemetry.push(t),
            Record::End(e) => trace.end = Some(e),
            Record::Tokens(c) => chunks.push(c),
            Record::ServerRun(s) => server.run = Some(s),
            Record::ServerRequest(r) => server.finals.push(r),
            Record::ServerPartial(r) => server.partials.push(r),
        }
    }
    if !have_header {
        return Err(TraceError::NoHeader {
            path: trace.path,
            damage: trace.damage,
        });
    }
    trace.requests = merge_requests(finals, partials, chunks);
    server.into_trace(&mut trace.requests, &mut trace.server);
    Ok(trace)
}

/// Add the journal's in-flight requests that the trace has no final record for.
fn merge_journal(trace: &mut Trace, journal: Vec<RequestRecord>) {
    for r in journal {
        if !trace.requests.iter().any(|x| x.index == r.index) {
            trace.requests.push(r);
        }
    }
    trace.requests.sort_by_key(|r| r.index);
}

/// Final frames win; otherwise the latest checkpoint of a request plus the token chunks that
/// continue it exactly (a chunk that would leave a gap is ignored).
fn merge_requests(
    finals: Vec<(u32, RequestRecord)>,
    partials: Vec<(u32, RequestRecord)>,
    chunks: Vec<TokenChunk>,
) -> Vec<RequestRecord> {
    let mut by_index: std::collections::BTreeMap<u32, RequestRecord> = Default::default();
    for (i, r) in partials {
        by_index.insert(i, r);
    }
    for c in chunks {
        if let Some(r) = by_index.get_mut(&c.index) {
            extend_with_chunk(r, &c);
        }
    }
    for r in by_index.values_mut() {
        // An in-flight request ends, as far as anyone knows, at its last token.
        r.end_us = r
            .end_us
            .max(r.token_dt_us.iter().map(|&d| u64::from(d)).sum());
    }
    for (i, r) in finals {
        by_index.insert(i, r);
    }
    by_index.into_values().collect()
}

fn extend_with_chunk(r: &mut RequestRecord, c: &TokenChunk) {
    let have = r.token_dt_us.len();
    let first = c.first as usize;
    let n = c.token_dt_us.len();
    if first > have || c.token_ids.len() != n || c.text_len.len() != n {
        return;
    }
    let skip = have - first;
    if skip >= n {
        return;
    }
    let skip_bytes: usize = c.text_len[..skip].iter().map(|&l| usize::from(l)).sum();
    r.token_dt_us.extend_from_slice(&c.token_dt_us[skip..]);
    r.token_ids.extend_from_slice(&c.token_ids[skip..]);
    r.text_len.extend_from_slice(&c.text_len[skip..]);
    r.text
        .extend_from_slice(c.text.get(skip_bytes..).unwrap_or(&[]));
    r.waiting
        .extend(c.waiting.iter().copied().filter(|&w| w as usize >= have));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::schema::*;
    use crate::trace::{encode_frame, encode_record, file_header};

    fn sample() -> Vec<u8> {
        let mut out = file_header(0).to_vec();
        let recs = [
            Record::Header(RunHeader {
                hostname: "h".into(),
                ..Default::default()
            }),
            Record::Request(RequestRecord {
                index: 0,
                test_id: "a".into(),
                token_dt_us: vec![100, 200],
                token_ids: vec![1, 2],
                text_len: vec![1, 1],
                text: b"xy".to_vec(),
                ..Default::default()
            }),
            Record::End(RunEnd {
                requests: 1,
                ..Default::default()
            }),
        ];
        for (i, r) in recs.iter().enumerate() {
            let (k, p) = encode_record(r).unwrap();
            encode_frame(i as u32, k, &p, &mut out);
        }
        out
    }

    #[test]
    fn round_trip() {
        let t = parse(&sample(), "t".into()).unwrap();
        assert_eq!(t.header.hostname, "h");
        assert_eq!(t.requests.len(), 1);
        assert_eq!(t.requests[0].token_times_us(), vec![100, 300]);
        assert!(t.end.is_some());
        assert_eq!(t.damage, None);
        assert_eq!(t.frames, 3);
    }

    #[test]
    fn truncation_keeps_prefix() {
        let full = sample();
        let cut = &full[..full.len() - 5];
        let t = parse(cut, "t".into()).unwrap();
        assert!(t.end.is_none());
        assert_eq!(t.requests.len(), 1);
        assert!(matches!(
            t.damage,
            Some(Damage::Truncated { frames_kept: 2, .. })
        ));
    }

    #[test]
    fn corruption_in_middle_is_named() {
        let mut b = sample();
        // Flip a byte inside the second frame's payload.
        let first_len = u32::from_le_bytes(b[16..20].try_into().unwrap()) as usize;
        let second = 16 + 16 + crate::trace::pad16(first_len);
        b[second + 20] ^= 0xff;
        let t = parse(&b, "t".into()).unwrap();
        assert!(
            matches!(t.damage, Some(Damage::Corrupt { frame: 1, .. })),
            "{:?}",
            t.damage
        );
        assert!(t.requests.is_empty());
    }

    #[test]
    fn chunks_continue_a_partial_and_gaps_are_ignored() {
        let mut out = file_header(0).to_vec();
        let chunk = |first: u32, ids: &[i32]| {
            Record::Tokens(TokenChunk {
                index: 0,
                first,
                token_dt_us: vec![10; ids.len()],
                token_ids: ids.to_vec(),
                waiting: vec![],
                text_len: vec![1; ids.len()],
                text: ids.iter().map(|&i| b'a' + i as u8).collect(),
            })
        };
        let recs = [
            Record::Header(RunHeader::default()),
            Record::Partial(RequestRecord {
                index: 0,
                status: Status::InFlight,
                ..Default::default()
            }),
            chunk(0, &[0, 1]),
            chunk(1, &[1, 2, 3]),
            chunk(9, &[9]),
        ];
        for (i, r) in recs.iter().enumerate() {
            let (k, p) = encode_record(r).unwrap();
            encode_frame(i as u32, k, &p, &mut out);
        }
        let t = parse(&out, "t".into()).unwrap();
        assert_eq!(t.requests[0].token_ids, vec![0, 1, 2, 3]);
        assert_eq!(t.requests[0].text, b"abcd");
        assert_eq!(t.requests[0].end_us, 40);
        assert_eq!(t.valid_len, out.len() as u64);
    }

    #[test]
    fn not_a_trace_and_newer_major() {
        assert!(matches!(
            parse(b"hello world, not a trace", "x".into()),
            Err(TraceError::NotATrace { .. })
        ));
        let mut b = sample();
        b[8] = 9;
        assert!(matches!(
            parse(&b, "x".into()),
            Err(TraceError::NewerFormat { major: 9, .. })
        ));
    }

    #[test]
    fn partial_superseded_by_final() {
        let mut out = file_header(0).to_vec();
        let mut r = RequestRecord {
            index: 0,
            status: Status::InFlight,
            ..Default::default()
        };
        let recs = [
            Record::Header(RunHeader::default()),
            Record::Partial(r.clone()),
            {
                r.status = Status::Ok;
                Record::Request(r.clone())
            },
            Record::Partial(RequestRecord {
                index: 1,
                status: Status::InFlight,
                ..Default::default()
            }),
        ];
        for (i, r) in recs.iter().enumerate() {
            let (k, p) = encode_record(r).unwrap();
            encode_frame(i as u32, k, &p, &mut out);
        }
        let t = parse(&out, "t".into()).unwrap();
        assert_eq!(t.requests.len(), 2);
        assert_eq!(t.requests[0].status, Status::Ok);
        assert_eq!(t.requests[1].status, Status::InFlight);
    }
}
