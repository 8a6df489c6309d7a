//! Trace reader: maps the file, checks every frame's length, marker and crc32, validates each
//! payload with rkyv's checked access (never unchecked on input files), and keeps the valid
//! prefix of a torn or damaged file while saying exactly what it dropped.
use super::load::{kind as lk, LoadRun, RequestSent};
use super::plan_extras::{kind as pk, PresetUsed, TemplateSent};
use super::power::{kind as wk, PowerSamples, PowerSource};
use super::schema::{
    kind as k, InputOptions, JournalBinding, Record, RequestInput, RequestRecord, RunEnd,
    RunHeader, RuntimeIdentity, RuntimeObservation, TelemetryBatch, TokenChunk,
};
use super::server::{kind as sk, ServerRequest, ServerRun, ServerTrace};
use super::{
    FILE_HEADER_LEN, FLAG_JOURNAL, FORMAT_MAJOR, FRAME_HEADER_LEN, FRAME_MAGIC, MAGIC,
    MAX_FRAME_LEN,
};
use sha2::{Digest, Sha256};
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
    /// The 16-byte file header has a damaged field, but the frames after it are intact and
    /// were read (what the header should say is known from the first frame).
    FileHeader { reason: String },
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
            Damage::FileHeader { reason } => write!(
                f,
                "damaged file header: {reason}; every frame after it is intact and was read"
            ),
        }
    }
}

/// A frame whose bytes are intact (length, marker, crc32, layout) but whose contents cannot be
/// true (see [`super::validate`]): a TTFT longer than the E2E, columns of different lengths, a
/// request past the run's end. The framing around it is sound, so only that frame is dropped and
/// every other frame is read: the figures never rest on it, and nothing else is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impossible {
    pub frame: u32,
    /// Byte offset of the frame header in its file.
    pub at: u64,
    /// The record kind, as messages name it.
    pub record: &'static str,
    pub fact: String,
    /// The frame is in the checkpoint journal beside the trace, not in the trace.
    pub journal: bool,
}

impl fmt::Display for Impossible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt: {}frame {} at byte {} ({}): {}; that frame was dropped, every other frame was read",
            if self.journal { "journal " } else { "" },
            self.frame,
            self.at,
            self.record,
            self.fact
        )
    }
}

/// At most this many dropped frames are named one per line; the rest are counted.
pub const IMPOSSIBLE_NAMED: usize = 10;

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
    /// A directory, FIFO or device: mapping or even opening it would fail or block.
    NotAFile {
        path: String,
        what: &'static str,
    },
    /// The file header is damaged and the first frame cannot tell what the file was.
    DamagedHeader {
        path: String,
        reason: String,
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
            TraceError::NotAFile { path, what } => write!(
                f,
                "{path} is {what}, not a trace file; pass the .rktrace files{}",
                if *what == "a directory" { " inside it (e.g. DIR/*.rktrace)" } else { " written by `rkbench record`" }
            ),
            TraceError::DamagedHeader { path, reason } => write!(
                f,
                "{path}: damaged file header ({reason}) and no intact first frame; the file cannot be read as a trace"
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
#[derive(Debug, Clone, Default)]
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
    /// Frames dropped because what they say cannot be true, in file order (trace, then journal).
    pub impossible: Vec<Impossible>,
    /// A run measured through an HTTP server: its chunks (`requests` holds their token view).
    pub server: Option<ServerTrace>,
    /// What each request fed the runtime (format 1.1+; empty for older traces), in file order.
    pub inputs: Vec<RequestInput>,
    /// Chat templates rkbench set (format 1.1+), each in effect from its request on.
    pub templates: Vec<super::TemplateSent>,
    /// The `--preset` the run used (format 1.1+).
    pub preset: Option<super::PresetUsed>,
    /// Run-wide input settings (format 1.1+; `None` for older traces).
    pub input_options: Option<InputOptions>,
    /// Runtime identity and per-request runtime observations (format 1.1; empty before).
    pub runtime: RuntimeRecords,
    /// Power source and samples (`record --power`; empty otherwise).
    pub power: super::PowerRecords,
    /// How the level was driven and each request's stream and intended send time (format
    /// 1.3, `record --concurrency/--rate`; empty for a sequential run).
    pub load: super::LoadRecords,
}

/// The runtime's identity evidence and per-request observations (record kinds 9 and 10).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeRecords {
    pub identity: Option<RuntimeIdentity>,
    /// Sorted by request index.
    pub observations: Vec<RuntimeObservation>,
}

impl Trace {
    /// What request `index` fed the runtime; `None` = its text prompt (all older traces).
    pub fn input_of(&self, index: u32) -> Option<&RequestInput> {
        self.inputs.iter().rev().find(|i| i.index == index)
    }

    /// The stream (concurrent lane) a request ran on: its send record's (format 1.3, a run under
    /// load), 0 for a sequential run. Every timeline puts requests of different streams on
    /// separate tracks.
    pub fn stream_of(&self, r: &RequestRecord) -> u32 {
        self.load.stream_of(r.index)
    }
}

/// Map a trace file read-only. The only `unsafe` outside the FFI module.
#[cfg(not(target_arch = "wasm32"))]
#[allow(unsafe_code)]
pub(crate) fn map_file(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this process. Traces are append-only
    // archives; the one hazard is another process truncating the file while we read it (SIGBUS),
    // which rkbench itself never does (the recorder only appends). All bytes are validated
    // (crc32 + rkyv bytecheck) before any typed access.
    unsafe { memmap2::MmapOptions::new().map(file) }
}

/// The browser build (wasm32) has no mapping and no files: traces reach it as bytes
/// ([`check_bytes`]), so this only keeps the path-taking callers compiling there.
#[cfg(target_arch = "wasm32")]
pub(crate) fn map_file(mut file: &File) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut v)?;
    Ok(v)
}

/// What reading a trace found besides its records: a damaged file header and the state of the
/// checkpoint journal beside it. `verify` reports each; `read` keeps only the trace.
#[derive(Debug, Clone)]
pub struct Checked {
    pub trace: Trace,
    /// The file header's damage, even when `trace.damage` names a tail damage instead.
    pub file_header: Option<String>,
    pub journal: JournalCheck,
    /// sha256 of the run-header frame's payload: the run's identity (the journal binding's
    /// hash), the same for every copy of one trace.
    pub header_sha256: [u8; 32],
}

/// The checkpoint journal beside a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalCheck {
    /// No journal, or the run ended (a finished trace holds every request itself).
    Absent,
    /// Merged: `requests` in-flight requests came from it; `damage` is what of it was dropped.
    Merged {
        path: String,
        requests: u32,
        /// The journal's valid frames (what `dump` walks).
        frames: u32,
        damage: Option<Damage>,
    },
    /// Not merged and left untouched on disk: it belongs to another trace, or is unreadable.
    NotMerged { path: String, reason: String },
}

impl Checked {
    /// One line per problem beyond the trace's own `damage` (for `verify`).
    pub fn problems(&self) -> Vec<String> {
        let mut out = impossible_lines(&self.trace.impossible);
        if let Some(h) = &self.file_header {
            if !matches!(self.trace.damage, Some(Damage::FileHeader { .. })) {
                out.push(format!("also a damaged file header: {h}"));
            }
        }
        match &self.journal {
            JournalCheck::Absent | JournalCheck::Merged { damage: None, .. } => {}
            JournalCheck::Merged {
                path,
                requests,
                damage: Some(d),
                ..
            } => out.push(format!(
                "journal {path}: {d}; {requests} in-flight request(s) recovered from its intact part"
            )),
            JournalCheck::NotMerged { path, reason } => out.push(format!(
                "journal {path} not merged: {reason}; it was left untouched (move it away once you know it is not needed)"
            )),
        }
        out
    }
}

/// One line per dropped frame, the first [`IMPOSSIBLE_NAMED`], then how many more.
pub fn impossible_lines(frames: &[Impossible]) -> Vec<String> {
    let mut out: Vec<String> = frames
        .iter()
        .take(IMPOSSIBLE_NAMED)
        .map(|i| i.to_string())
        .collect();
    if frames.len() > IMPOSSIBLE_NAMED {
        out.push(format!(
            "corrupt: {} more frame(s) that cannot be true were dropped",
            frames.len() - IMPOSSIBLE_NAMED
        ));
    }
    out
}

/// Read and validate a whole trace, merging its checkpoint journal if the run did not end.
pub fn read(path: &Path) -> Result<Trace, TraceError> {
    read_checked(path).map(|c| c.trace)
}

/// [`read`], also saying what it found wrong with the file header and the journal.
pub fn read_checked(path: &Path) -> Result<Checked, TraceError> {
    let parsed = read_file(path, false)?;
    let jp = super::journal_path(path);
    // A finished trace holds every request itself; its journal is not consulted.
    let journal = (parsed.trace.end.is_none() && std::fs::symlink_metadata(&jp).is_ok())
        .then(|| (jp.display().to_string(), read_file(&jp, true)));
    Ok(attach_journal(parsed, journal))
}

/// [`read_checked`] for a file already in memory (the browser viewer): `shown` is the path the
/// CLI would print for it, `journal` the bytes of `<shown>.journal` when that file exists.
/// Same checks, same messages, same merge.
pub fn check_bytes(
    bytes: &[u8],
    shown: &str,
    journal: Option<&[u8]>,
) -> Result<Checked, TraceError> {
    let parsed = parse_any(bytes, shown.to_string(), false)?;
    let journal = journal.filter(|_| parsed.trace.end.is_none()).map(|j| {
        let jp = super::journal_path(Path::new(shown)).display().to_string();
        (jp.clone(), parse_any(j, jp, true))
    });
    Ok(attach_journal(parsed, journal))
}

/// Parse a trace and the journal beside it from buffers, merging the journal as [`read`] does
/// (the fuzzer drives the merge through this; an empty journal is none).
pub fn parse_with_journal(trace: &[u8], journal: &[u8]) -> Result<Checked, TraceError> {
    check_bytes(
        trace,
        "fuzz.rktrace",
        Some(journal).filter(|j| !j.is_empty()),
    )
}

/// Merge the journal (path, parse result) into the trace if it belongs to it; say what happened.
fn attach_journal(
    parsed: Parsed,
    journal: Option<(String, Result<Parsed, TraceError>)>,
) -> Checked {
    let mut trace = parsed.trace;
    let check = match journal {
        None => JournalCheck::Absent,
        Some((path, Err(e))) => JournalCheck::NotMerged {
            path,
            reason: match e {
                TraceError::NotATrace { .. } => "it is not an rkbench journal".into(),
                TraceError::Io { err, .. } => format!("cannot read it: {err}"),
                e => e.to_string(),
            },
        },
        Some((path, Ok(j))) => match belongs(&j, parsed.header_sha256, trace.format_minor) {
            Err(reason) => JournalCheck::NotMerged { path, reason },
            Ok(()) => {
                trace.impossible.extend(j.trace.impossible);
                let requests = j.trace.requests.len() as u32;
                trace.journal_requests = requests;
                merge_journal(&mut trace, j.trace.requests);
                if let (Some(s), Some(js)) = (&mut trace.server, j.trace.server) {
                    s.merge_journal(js);
                }
                JournalCheck::Merged {
                    path,
                    requests,
                    frames: j.trace.frames,
                    damage: j.trace.damage,
                }
            }
        },
    };
    Checked {
        trace,
        file_header: parsed.header_damage,
        journal: check,
        header_sha256: parsed.header_sha256.unwrap_or_default(),
    }
}

/// Whether journal `j` belongs to the trace whose header frame payload hashes to `header`.
fn belongs(j: &Parsed, header: Option<[u8; 32]>, trace_minor: u16) -> Result<(), String> {
    match &j.binding {
        Some(b) if header.is_some_and(|h| b.header_sha256 == h) => Ok(()),
        Some(b) => Err(format!(
            "it belongs to another trace (one named {:?} with a different run header): a journal left by another run, or copied here",
            b.trace_name
        )),
        // Written before journals were bound (format 1.0): merged as that rkbench did.
        None if trace_minor == 0 => Ok(()),
        None if j.trace.frames == 0 => Ok(()),
        None => Err("it has no binding to its trace, so it was not written by this run".into()),
    }
}

/// One parsed file with what only the reader needs to know about it.
struct Parsed {
    trace: Trace,
    /// sha256 of the run-header frame payload (traces).
    header_sha256: Option<[u8; 32]>,
    /// The journal's binding frame (journals, format 1.1+).
    binding: Option<JournalBinding>,
    header_damage: Option<String>,
}

fn read_file(path: &Path, journal: bool) -> Result<Parsed, TraceError> {
    let shown = path.display().to_string();
    let io_err = |err| TraceError::Io {
        path: shown.clone(),
        err,
    };
    // Checked before opening: opening a FIFO blocks, mapping a directory fails obscurely.
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        return Err(TraceError::NotAFile {
            path: shown,
            what: if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file (a FIFO, socket or device)"
            },
        });
    }
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    if len < FILE_HEADER_LEN as u64 {
        // Not mapped (mapping an empty file fails): too short for a file header.
        return Err(TraceError::NotATrace { path: shown });
    }
    let map = map_file(&file).map_err(io_err)?;
    parse_any(&map, shown, journal)
}

/// Parse trace bytes (the mapped file, or a buffer in tests and the fuzzer).
pub fn parse(bytes: &[u8], path: String) -> Result<Trace, TraceError> {
    parse_any(bytes, path, false).map(|p| p.trace)
}

/// Parse a checkpoint journal (no header record; only `Partial`/`Tokens` frames).
pub fn parse_journal(bytes: &[u8], path: String) -> Result<Trace, TraceError> {
    parse_any(bytes, path, true).map(|p| p.trace)
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
        k::BINDING => get!(JournalBinding, Record::Binding),
        k::INPUT => get!(RequestInput, Record::Input),
        pk::TEMPLATE_SENT => get!(TemplateSent, Record::TemplateSent),
        pk::PRESET_USED => get!(PresetUsed, Record::PresetUsed),
        k::INPUT_OPTIONS => get!(InputOptions, Record::InputOptions),
        k::IDENTITY => get!(RuntimeIdentity, Record::Identity),
        k::RUNTIME_OBS => get!(RuntimeObservation, Record::RuntimeObs),
        wk::POWER_SOURCE => get!(PowerSource, Record::PowerSource),
        wk::POWER_SAMPLES => get!(PowerSamples, Record::PowerSamples),
        lk::LOAD_RUN => get!(LoadRun, Record::LoadRun),
        lk::REQUEST_SENT => get!(RequestSent, Record::RequestSent),
        _ => None,
    }
}

/// Decode a payload wherever it lies (copied to an aligned buffer if it is not 16-aligned).
pub(crate) fn decode_at(
    kind: u8,
    payload: &[u8],
    aligned: &mut rkyv::util::AlignedVec<16>,
) -> Option<Record> {
    // Payloads are 16-aligned in the file and the mapping is page-aligned, so they can be
    // validated in place; only a buffer at an odd address (tests, the fuzzer) is copied.
    if (payload.as_ptr() as usize) % 16 == 0 {
        decode(kind, payload)
    } else {
        aligned.clear();
        aligned.extend_from_slice(payload);
        decode(kind, aligned)
    }
}

/// The kind of the first frame if it is intact (marker, sequence 0, crc, a valid record):
/// what the file is, independent of its 16-byte header.
fn first_frame_kind(bytes: &[u8]) -> Option<u8> {
    let rest = bytes.get(FILE_HEADER_LEN..)?;
    let h = rest.get(..FRAME_HEADER_LEN)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let seq = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    if h[8..10] != FRAME_MAGIC || seq != 0 || len > MAX_FRAME_LEN {
        return None;
    }
    let payload = rest.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len as usize)?;
    if super::frame_crc(h[10], payload) != crc {
        return None;
    }
    decode_at(h[10], payload, &mut Default::default()).map(|_| h[10])
}

/// Check the 16-byte file header against what the first frame says the file is. A damaged
/// field is named precisely; when the first frame is intact the file is still read.
fn check_file_header(
    bytes: &[u8],
    path: &str,
    journal: bool,
) -> Result<(u16, Option<String>), TraceError> {
    let path = || path.to_string();
    if bytes.len() < FILE_HEADER_LEN {
        return Err(TraceError::NotATrace { path: path() });
    }
    let content_is_journal = match first_frame_kind(bytes) {
        Some(k::HEADER) => Some(false),
        Some(k::BINDING | k::PARTIAL | k::TOKENS | sk::SERVER_PARTIAL) => Some(true),
        _ => None,
    };
    let mut damage: Vec<String> = Vec::new();
    if bytes[..8] != MAGIC {
        if content_is_journal.is_none() {
            return Err(TraceError::NotATrace { path: path() });
        }
        damage.push(format!(
            "magic {:?} instead of \"RKBTRACE\"",
            String::from_utf8_lossy(&bytes[..8])
        ));
    }
    let major = u16::from_le_bytes([bytes[8], bytes[9]]);
    let minor = u16::from_le_bytes([bytes[10], bytes[11]]);
    if major != FORMAT_MAJOR {
        match content_is_journal {
            Some(_) => damage.push(format!(
                "format major version {major}, but its frames are format {FORMAT_MAJOR}"
            )),
            None if major > FORMAT_MAJOR => {
                return Err(TraceError::NewerFormat {
                    path: path(),
                    major,
                    minor,
                })
            }
            None => {
                return Err(TraceError::DamagedHeader {
                    path: path(),
                    reason: format!("format major version {major} was never written"),
                })
            }
        }
    }
    let flags = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let unknown = flags & !FLAG_JOURNAL;
    if unknown != 0 {
        damage.push(format!("unknown flag bits {unknown:#x}"));
    }
    let flag_journal = flags & FLAG_JOURNAL != 0;
    let is_journal = content_is_journal.unwrap_or(flag_journal);
    if is_journal != flag_journal {
        damage.push(
            if flag_journal {
                "the journal flag is set, but the file starts with a run header"
            } else {
                "the journal flag is clear, but the file starts with journal frames"
            }
            .into(),
        );
    }
    if is_journal != journal {
        if content_is_journal.is_none() && !journal {
            // Only the flag says "journal" and the first frame cannot confirm it: a damaged trace
            // looks the same, so name both rather than refuse it as a journal.
            return Err(TraceError::DamagedHeader {
                path: path(),
                reason: "the journal flag is set and the first frame is unreadable: a trace with \
                         a damaged start, or a damaged checkpoint journal (pass the .rktrace beside it)"
                    .into(),
            });
        }
        return Err(if journal {
            TraceError::NotATrace { path: path() }
        } else {
            TraceError::IsJournal { path: path() }
        });
    }
    Ok((minor, (!damage.is_empty()).then(|| damage.join("; "))))
}

fn parse_any(bytes: &[u8], path: String, journal: bool) -> Result<Parsed, TraceError> {
    let (minor, header_damage) = check_file_header(bytes, &path, journal)?;
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
        impossible: Vec::new(),
        server: None,
        inputs: Vec::new(),
        templates: Vec::new(),
        preset: None,
        input_options: None,
        runtime: RuntimeRecords::default(),
        power: Default::default(),
        load: Default::default(),
    };
    let mut have_header = journal;
    let mut header_sha256 = None;
    let mut binding = None;
    let mut finals: Vec<(u32, RequestRecord)> = Vec::new();
    let mut partials: Vec<(u32, RequestRecord)> = Vec::new();
    let mut chunks: Vec<TokenChunk> = Vec::new();
    let mut server = super::server::Collected::default();
    let mut off = FILE_HEADER_LEN;
    // The payload copy guarantees 16-byte alignment even if `bytes` is not aligned.
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    // Where each request-like record's frame is, and its end on the run's clock: checked
    // against the run's end once it is known.
    let mut spans: Vec<Span> = Vec::new();
    while off < bytes.len() {
        let frame_no = trace.frames;
        let frame_at = off as u64;
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
        // A frame header of zeros is what a crash leaves on many filesystems (the file grew,
        // the data never arrived): a torn tail. Decided from these 16 bytes alone, so a tail
        // of gigabytes of zeros costs nothing to read.
        if rest.len() < FRAME_HEADER_LEN || rest[..FRAME_HEADER_LEN].iter().all(|&b| b == 0) {
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
        let record = decode_at(kind, payload, &mut aligned);
        trace.frames += 1;
        off += FRAME_HEADER_LEN + padded.min(rest.len() - FRAME_HEADER_LEN);
        trace.valid_len = off as u64;
        let Some(record) = record else {
            // Valid crc but unknown kind or layout: a record from a newer minor version.
            trace.skipped_unknown += 1;
            continue;
        };
        if have_header {
            if let Some(fact) = super::validate::impossible(&record) {
                trace.impossible.push(Impossible {
                    frame: frame_no,
                    at: frame_at,
                    record: super::validate::kind_name(&record),
                    fact,
                    journal,
                });
                continue;
            }
            let span = |list, pos: usize, index: u32, start: u64, end: u64| Span {
                frame: frame_no,
                at: frame_at,
                record: super::validate::kind_name(&record),
                list,
                pos,
                index,
                end: start.saturating_add(end),
            };
            match &record {
                Record::Request(r) => {
                    spans.push(span(0, finals.len(), r.index, r.start_us, r.end_us))
                }
                Record::ServerRequest(r) => {
                    spans.push(span(1, server.finals.len(), r.index, r.start_us, r.end_us))
                }
                _ => {}
            }
        }
        match record {
            Record::Header(h) if !have_header => {
                trace.header = h;
                header_sha256 = Some(Sha256::digest(payload).into());
                have_header = true;
            }
            Record::Binding(b) if journal && frame_no == 0 => binding = Some(b),
            _ if !have_header => {
                return Err(TraceError::NoHeader {
                    path: trace.path,
                    damage: None,
                });
            }
            Record::Header(_) | Record::Binding(_) => trace.skipped_unknown += 1,
            Record::Request(r) => finals.push((r.index, r)),
            Record::Partial(r) => partials.push((r.index, r)),
            Record::Telemetry(t) => trace.telemetry.push(t),
            Record::End(e) => trace.end = Some(e),
            Record::Tokens(c) => chunks.push(c),
            Record::ServerRun(s) => server.run = Some(s),
            Record::ServerRequest(r) => server.finals.push(r),
            Record::ServerPartial(r) => server.partials.push(r),
            Record::Input(i) => trace.inputs.push(i),
            Record::TemplateSent(t) => trace.templates.push(t),
            Record::PresetUsed(p) => trace.preset = Some(p),
            Record::InputOptions(o) => trace.input_options = Some(o),
            Record::Identity(i) => trace.runtime.identity = Some(i),
            Record::RuntimeObs(o) => trace.runtime.observations.push(o),
            Record::PowerSource(p) => trace.power.source = Some(p),
            Record::PowerSamples(p) => trace.power.samples.push(p),
            Record::LoadRun(l) => trace.load.run = Some(l),
            Record::RequestSent(l) => trace.load.sent.push(l),
        }
    }
    if !have_header {
        return Err(TraceError::NoHeader {
            path: trace.path,
            damage: trace.damage,
        });
    }
    if trace.damage.is_none() {
        if let Some(reason) = &header_damage {
            trace.damage = Some(Damage::FileHeader {
                reason: reason.clone(),
            });
        }
    }
    // An end at 0 µs records no run clock (traces made by hand, a run of no request).
    if let Some(run_end) = trace.end.as_ref().map(|e| e.end_us).filter(|&e| e > 0) {
        past_the_run_end(&mut trace, run_end, spans, &mut finals, &mut server.finals);
    }
    trace.requests = merge_requests(finals, partials, chunks);
    trace.load.settle();
    server.into_trace(&mut trace.requests, &mut trace.server);
    trace.runtime.observations.sort_by_key(|o| o.index);
    Ok(Parsed {
        trace,
        header_sha256,
        binding,
        header_damage,
    })
}

/// Where a finished request's frame is, and when it ended on the run's clock.
struct Span {
    frame: u32,
    at: u64,
    record: &'static str,
    /// 0: runtime finals, 1: server finals.
    list: u8,
    /// Position in that list.
    pos: usize,
    index: u32,
    end: u64,
}

/// Drop the finished requests that end after the run ended (the run's end record is written
/// after every request ends), naming each.
fn past_the_run_end(
    trace: &mut Trace,
    run_end: u64,
    spans: Vec<Span>,
    finals: &mut Vec<(u32, RequestRecord)>,
    server_finals: &mut Vec<ServerRequest>,
) {
    let mut drop = [Vec::new(), Vec::new()];
    for s in spans.into_iter().filter(|s| s.end > run_end) {
        trace.impossible.push(Impossible {
            frame: s.frame,
            at: s.at,
            record: s.record,
            fact: format!(
                "request {} ends at {} µs on the run's clock, after the run ended at {run_end} µs",
                s.index, s.end
            ),
            journal: false,
        });
        drop[usize::from(s.list)].push(s.pos);
    }
    // Positions were pushed in file order: sorted, so looked up by binary search.
    let keep = |pos: usize, list: &[usize]| list.binary_search(&pos).is_err();
    let mut i = 0;
    finals.retain(|_| {
        i += 1;
        keep(i - 1, &drop[0])
    });
    let mut i = 0;
    server_finals.retain(|_| {
        i += 1;
        keep(i - 1, &drop[1])
    });
    trace.impossible.sort_by_key(|i| i.frame);
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
            .max(r.tokens.token_dt_us.iter().map(|&d| u64::from(d)).sum());
    }
    for (i, r) in finals {
        by_index.insert(i, r);
    }
    by_index.into_values().collect()
}

fn extend_with_chunk(r: &mut RequestRecord, c: &TokenChunk) {
    let have = r.tokens.len();
    let first = c.first as usize;
    if first > have || !c.tokens.lengths_agree() {
        return;
    }
    let skip = have - first;
    if skip >= c.tokens.len() {
        return;
    }
    r.tokens.extend_from(&c.tokens, skip);
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
                tokens: TokenColumns {
                    token_dt_us: vec![100, 200],
                    token_ids: vec![1, 2],
                    text_len: vec![1, 1],
                    text: b"xy".to_vec(),
                    ..TokenColumns::default()
                },
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
                tokens: TokenColumns {
                    token_dt_us: vec![10; ids.len()],
                    token_ids: ids.to_vec(),
                    waiting: vec![],
                    text_len: vec![1; ids.len()],
                    text: ids.iter().map(|&i| b'a' + i as u8).collect(),
                },
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
        assert_eq!(t.requests[0].tokens.token_ids, vec![0, 1, 2, 3]);
        assert_eq!(t.requests[0].tokens.text, b"abcd");
        assert_eq!(t.requests[0].end_us, 40);
        assert_eq!(t.valid_len, out.len() as u64);
    }

    #[test]
    fn not_a_trace_and_newer_major() {
        assert!(matches!(
            parse(b"hello world, not a trace", "x".into()),
            Err(TraceError::NotATrace { .. })
        ));
        // A newer major changes the frames too: nothing after the header reads as format 1.
        let mut b = sample();
        b[8] = 2;
        b[16 + 8] = b'X';
        assert!(matches!(
            parse(&b, "x".into()),
            Err(TraceError::NewerFormat { major: 2, .. })
        ));
    }

    /// F16: each single flipped bit of the 16-byte file header of an intact trace is named
    /// precisely, and the trace is still read in full; never "newer format", never "a journal".
    #[test]
    fn every_flipped_header_bit_is_named_and_the_trace_still_reads() {
        let good = sample();
        for bit in 0..FILE_HEADER_LEN * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let t = match parse(&b, "x".into()) {
                Ok(t) => t,
                Err(e) => panic!("bit {bit}: {e}"),
            };
            assert_eq!(t.requests.len(), 1, "bit {bit}");
            assert!(t.end.is_some(), "bit {bit}");
            let byte = bit / 8;
            if (10..12).contains(&byte) {
                // The minor version: a newer minor is legitimate, nothing to flag.
                assert_eq!(t.damage, None, "bit {bit}");
                continue;
            }
            let Some(Damage::FileHeader { reason }) = &t.damage else {
                panic!("bit {bit}: {:?}", t.damage)
            };
            let field = match byte {
                0..=7 => "magic",
                8..=9 => "format major version",
                12 if bit % 8 == 0 => "journal flag is set",
                _ => "unknown flag bits",
            };
            assert!(reason.contains(field), "bit {bit}: {reason}");
        }
        // The journal flag flipped on a trace whose first frame is also damaged: the flag alone
        // cannot make it a journal.
        let mut t = file_header(0).to_vec();
        let (k, p) = encode_record(&Record::Header(RunHeader::default())).unwrap();
        encode_frame(0, k, &p, &mut t);
        t[12] = FLAG_JOURNAL as u8;
        t[FILE_HEADER_LEN + FRAME_HEADER_LEN] ^= 1;
        assert!(matches!(
            parse(&t, "t".into()),
            Err(TraceError::DamagedHeader { .. })
        ));
        // And a journal with its flag cleared is still recognised as a journal.
        let mut j = file_header(FLAG_JOURNAL).to_vec();
        let (k, p) = encode_record(&Record::Partial(RequestRecord::default())).unwrap();
        encode_frame(0, k, &p, &mut j);
        j[12] = 0;
        assert!(matches!(
            parse(&j, "j".into()),
            Err(TraceError::IsJournal { .. })
        ));
        let t = parse_journal(&j, "j".into()).unwrap();
        assert!(
            matches!(&t.damage, Some(Damage::FileHeader { reason }) if reason.contains("journal flag is clear"))
        );
    }

    /// A trace without an end, and journals for it: bound to it, to another trace, unbound.
    fn in_flight_journal(binding: Option<&[u8]>) -> Vec<u8> {
        let mut j = file_header(FLAG_JOURNAL).to_vec();
        let mut recs = Vec::new();
        if let Some(h) = binding {
            recs.push(Record::Binding(JournalBinding {
                header_sha256: h.to_vec(),
                trace_name: "t.rktrace".into(),
            }));
        }
        recs.push(Record::Partial(RequestRecord {
            index: 1,
            status: Status::InFlight,
            ..Default::default()
        }));
        for (i, r) in recs.iter().enumerate() {
            let (k, p) = encode_record(r).unwrap();
            encode_frame(i as u32, k, &p, &mut j);
        }
        j
    }

    #[test]
    fn a_journal_is_merged_only_into_the_trace_it_is_bound_to() {
        let mut t = sample();
        // Drop the end record: the run did not finish.
        let header_len = u32::from_le_bytes(t[16..20].try_into().unwrap()) as usize;
        let header_payload = t[32..32 + header_len].to_vec();
        let first = 32 + crate::trace::pad16(header_len);
        let second_len = u32::from_le_bytes(t[first..first + 4].try_into().unwrap()) as usize;
        t.truncate(first + 16 + crate::trace::pad16(second_len));
        let own: [u8; 32] = Sha256::digest(&header_payload).into();
        let c = parse_with_journal(&t, &in_flight_journal(Some(&own))).unwrap();
        assert_eq!(c.trace.requests.len(), 2);
        assert!(matches!(
            c.journal,
            JournalCheck::Merged {
                requests: 1,
                damage: None,
                ..
            }
        ));
        assert!(c.problems().is_empty());
        for other in [Some(&[7u8; 32][..]), None] {
            let c = parse_with_journal(&t, &in_flight_journal(other)).unwrap();
            assert_eq!(c.trace.requests.len(), 1, "{other:?}");
            assert!(matches!(c.journal, JournalCheck::NotMerged { .. }));
            assert_eq!(c.problems().len(), 1);
        }
        // A format-1.0 trace (written before bindings) merges an unbound journal as before.
        t[10] = 0;
        let c = parse_with_journal(&t, &in_flight_journal(None)).unwrap();
        assert_eq!(c.trace.requests.len(), 2);
    }

    /// F10: a zero frame header ends the frames as a torn tail, whatever follows it.
    #[test]
    fn torn_tail_is_decided_from_the_next_frame_header() {
        let mut b = sample();
        let frames_end = b.len();
        b.extend_from_slice(&[0u8; 64]);
        b.extend_from_slice(b"trailing garbage after the zeros");
        let t = parse(&b, "t".into()).unwrap();
        assert_eq!(
            t.damage,
            Some(Damage::Truncated {
                at: frames_end as u64,
                frames_kept: 3
            })
        );
        assert_eq!(t.valid_len, frames_end as u64);
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
