//! Append-only trace writer. Each record is one frame; `sync` makes everything written so far
//! durable, which the recorder calls after every finished request.
//!
//! Nothing recorded is ever overwritten: a new run's trace and journal are both created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` (a planted symlink or a leftover file is refused, never
//! followed or truncated), and a write that fails (disk full, file-size limit) cuts its own torn
//! frame off so the file stays a valid prefix.
use super::{
    encode_frame, encode_record, file_header,
    schema::{JournalBinding, Record, RunHeader},
    FILE_HEADER_LEN, FLAG_JOURNAL,
};
use crate::error::Error;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

/// Longest file name most filesystems accept (Linux `NAME_MAX`), in bytes.
pub const NAME_MAX: usize = 255;

pub struct TraceWriter {
    file: File,
    path: PathBuf,
    seq: u32,
    buf: Vec<u8>,
    bytes: u64,
}

/// Open `path` for writing as a new file: never an existing file, never through a symlink.
fn create_exclusive(path: &Path) -> io::Result<File> {
    no_follow(OpenOptions::new().write(true).create_new(true)).open(path)
}

/// Open without following a symlink at `path` (`O_NOFOLLOW`). The browser build (wasm32) has
/// no file system and writes no trace, so there the options stay as they are.
fn no_follow(o: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW)
    }
    #[cfg(not(unix))]
    o
}

impl TraceWriter {
    /// A writer appending to `file` at byte `bytes`, next frame number `seq`.
    fn at(file: File, path: &Path, seq: u32, bytes: u64) -> Self {
        TraceWriter {
            file,
            path: path.to_path_buf(),
            seq,
            buf: Vec::with_capacity(1 << 16),
            bytes,
        }
    }

    /// Create a new trace file; refuses to overwrite an existing one (traces are archives).
    pub fn create(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        Self::create_file(path, 0)
    }

    fn create_file(path: &Path, flags: u32) -> io::Result<Self> {
        let mut file = create_exclusive(path)?;
        file.write_all(&file_header(flags))?;
        Ok(Self::at(file, path, 0, FILE_HEADER_LEN as u64))
    }

    /// Reopen an existing trace to append after its valid prefix (used by the supervisor to
    /// finalise the trace of a crashed recorder): a torn tail is cut off first.
    pub fn resume(path: &Path, valid_len: u64, next_seq: u32) -> io::Result<Self> {
        let mut file = no_follow(OpenOptions::new().write(true)).open(path)?;
        file.set_len(valid_len)?;
        file.seek(io::SeekFrom::Start(valid_len))?;
        Ok(Self::at(file, path, next_seq, valid_len))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Append one record as a frame (written to the OS, not yet synced). If the write fails
    /// (disk full, file-size limit), the part of the frame that reached the file is cut off
    /// again, so the file still ends at a frame boundary.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        let (kind, payload) = encode_record(record)
            .map_err(|e| io::Error::other(format!("encoding trace record: {e}")))?;
        self.buf.clear();
        encode_frame(self.seq, kind, &payload, &mut self.buf);
        if let Err(e) = self.file.write_all(&self.buf) {
            // Shrinking needs no space; if even that fails, the reader treats the rest as a
            // torn tail.
            let _ = self.file.set_len(self.bytes);
            let _ = self.file.seek(io::SeekFrom::Start(self.bytes));
            return Err(e);
        }
        self.seq += 1;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Make every appended frame durable (`fdatasync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Create the trace and the checkpoint journal of a new run. Both names are checked before
/// anything is created; both files are created exclusively and without following symlinks; a
/// journal already at the journal's name is refused, because it may be the only copy of an
/// interrupted run's last request.
pub fn create_run(path: &Path) -> Result<(TraceWriter, Journal), Error> {
    let shown = path.display();
    let jp = super::journal_path(path);
    let name_len = path.file_name().map(|n| n.len()).unwrap_or(0);
    if name_len == 0 {
        return Err(Error::input(format!(
            "--out {shown} names no file; pass a file path such as run.rktrace"
        )));
    }
    let journal_len = name_len + ".journal".len();
    if journal_len > NAME_MAX {
        return Err(Error::input(format!(
            "--out file name is {name_len} bytes; its journal (NAME.journal, {journal_len} bytes) would pass the {NAME_MAX}-byte file-name limit; choose a name of at most {} bytes",
            NAME_MAX - ".journal".len()
        )));
    }
    if std::fs::symlink_metadata(&jp).is_ok() {
        let beside = if std::fs::symlink_metadata(path).is_ok() {
            format!("beside the existing trace {shown}")
        } else {
            "without its trace".to_string()
        };
        return Err(Error::input(format!(
            "a checkpoint journal {} is already there, {beside}; it may hold the only copy of an interrupted run's last request, so it is never overwritten: check it with `rkbench verify {shown}`, then move it away, or choose another --out",
            jp.display()
        )));
    }
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::input(format!(
            "trace {shown} already exists; traces are never overwritten, choose another --out"
        )));
    }
    let fail = |what: &Path, e: io::Error| {
        let msg = format!("cannot create {}: {e}", what.display());
        if crate::error::is_disk_full(&e) {
            Error::disk_full(format!("{msg}; nothing was recorded yet: free space or raise the file-size limit, then run again"))
        } else {
            Error::input(format!("{msg}; choose another --out path"))
        }
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        }
    }
    let journal = TraceWriter::create_file(&jp, FLAG_JOURNAL).map_err(|e| fail(&jp, e))?;
    let trace = match TraceWriter::create_file(path, 0) {
        Ok(t) => t,
        Err(e) => {
            // Ours (created exclusively just now) and empty: nothing recorded is lost.
            let _ = std::fs::remove_file(&jp);
            return Err(fail(path, e));
        }
    };
    Ok((
        trace,
        Journal {
            path: jp,
            inner: journal,
            base: FILE_HEADER_LEN as u64,
            base_seq: 0,
        },
    ))
}

/// The checkpoint journal beside a trace: the request in flight (`Partial` + `Tokens` frames)
/// after a binding frame that names the trace. Reset after every finished request, removed when
/// the run ends cleanly, so the trace holds each token once; after a crash or kill the reader
/// (or the supervisor) merges what it holds.
pub struct Journal {
    path: PathBuf,
    inner: TraceWriter,
    /// Length and frame count of the part kept by `reset` (the file header and the binding).
    base: u64,
    base_seq: u32,
}

impl Journal {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tie the journal to its trace: a binding frame with the hash of the trace's header frame.
    pub fn bind(&mut self, trace: &Path, header: &RunHeader) -> io::Result<()> {
        let (_, payload) = encode_record(&Record::Header(header.clone()))
            .map_err(|e| io::Error::other(format!("encoding trace record: {e}")))?;
        self.inner.append(&Record::Binding(JournalBinding {
            header_sha256: Sha256::digest(&payload).to_vec(),
            trace_name: trace
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }))?;
        self.base = self.inner.bytes;
        self.base_seq = self.inner.seq;
        self.inner.sync()
    }

    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.inner.append(record)
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }

    /// Forget the checkpoints of a request whose final frame is durable in the trace.
    pub fn reset(&mut self) -> io::Result<()> {
        let w = &mut self.inner;
        w.file.set_len(self.base)?;
        w.file.seek(io::SeekFrom::Start(self.base))?;
        w.seq = self.base_seq;
        w.bytes = self.base;
        Ok(())
    }

    /// Delete the journal (the trace is complete).
    pub fn remove(&mut self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
