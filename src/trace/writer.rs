//! Append-only trace writer. Each record is one frame; `sync` makes everything written so far
//! durable, which the recorder calls after every finished request.
use super::{
    encode_frame, encode_record, file_header, schema::Record, FILE_HEADER_LEN, FLAG_JOURNAL,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct TraceWriter {
    file: File,
    path: PathBuf,
    seq: u32,
    buf: Vec<u8>,
    bytes: u64,
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
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        file.write_all(&file_header(0))?;
        Ok(Self::at(file, path, 0, FILE_HEADER_LEN as u64))
    }

    /// Reopen an existing trace to append after its valid prefix (used by the supervisor to
    /// finalise the trace of a crashed recorder): a torn tail is cut off first.
    pub fn resume(path: &Path, valid_len: u64, next_seq: u32) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(valid_len)?;
        let mut file = file;
        use std::io::Seek;
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

    /// Append one record as a frame (written to the OS, not yet synced).
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        let (kind, payload) = encode_record(record)
            .map_err(|e| io::Error::other(format!("encoding trace record: {e}")))?;
        self.buf.clear();
        encode_frame(self.seq, kind, &payload, &mut self.buf);
        self.file.write_all(&self.buf)?;
        self.seq += 1;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Make every appended frame durable (`fdatasync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The checkpoint journal beside a trace: the request in flight (`Partial` + `Tokens` frames).
/// Reset after every finished request, removed when the run ends cleanly, so the trace holds each
/// token once; after a crash or kill the reader (or the supervisor) merges what it holds.
pub struct Journal {
    path: PathBuf,
    inner: Option<TraceWriter>,
}

impl Journal {
    pub fn new(trace: &Path) -> Self {
        Journal {
            path: super::journal_path(trace),
            inner: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        if self.inner.is_none() {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)?;
            file.write_all(&file_header(FLAG_JOURNAL))?;
            self.inner = Some(TraceWriter::at(file, &self.path, 0, FILE_HEADER_LEN as u64));
        }
        match &mut self.inner {
            Some(w) => w.append(record),
            None => Ok(()),
        }
    }

    pub fn sync(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Some(w) => w.sync(),
            None => Ok(()),
        }
    }

    /// Forget the checkpoints of a request whose final frame is durable in the trace.
    pub fn reset(&mut self) -> io::Result<()> {
        if let Some(w) = &mut self.inner {
            use std::io::Seek;
            w.file.set_len(FILE_HEADER_LEN as u64)?;
            w.file.seek(io::SeekFrom::Start(FILE_HEADER_LEN as u64))?;
            w.seq = 0;
            w.bytes = FILE_HEADER_LEN as u64;
        }
        Ok(())
    }

    /// Delete the journal (the trace is complete).
    pub fn remove(&mut self) -> io::Result<()> {
        self.inner = None;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
