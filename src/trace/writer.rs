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
            path: jp.clone(),
            inner: journal,
            replacement: replacement_path(&jp),
            base: FILE_HEADER_LEN as u64,
            base_seq: 0,
            binding: None,
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
    /// The binding frame, written again at the head of a replacement journal.
    binding: Option<Record>,
    /// Where a replacement is written before it is renamed over the journal.
    replacement: PathBuf,
}

impl Journal {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tie the journal to its trace: a binding frame with the hash of the trace's header frame.
    pub fn bind(&mut self, trace: &Path, header: &RunHeader) -> io::Result<()> {
        let (_, payload) = encode_record(&Record::Header(header.clone()))
            .map_err(|e| io::Error::other(format!("encoding trace record: {e}")))?;
        let binding = Record::Binding(JournalBinding {
            header_sha256: Sha256::digest(&payload).to_vec(),
            trace_name: trace
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
        self.inner.append(&binding)?;
        self.binding = Some(binding);
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

    /// Replace what the journal holds by `records` (whole snapshots of the requests in flight).
    /// They go into a fresh file beside it, which is renamed over the journal: at every moment
    /// the journal's name holds the old checkpoints or the new ones. Truncating in place and
    /// writing anew would leave a moment in which a kill loses every request in flight. With
    /// `sync` the new file is durable before the rename and the rename after it.
    pub fn replace(&mut self, records: &[Record], sync: bool) -> io::Result<()> {
        let tmp = self.replacement.clone();
        // Only an uncommitted replacement of this very journal can be at that name (a run
        // killed between writing it and renaming it); the journal itself is the copy that counts.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let written = (|| {
            let mut w = TraceWriter::create_file(&tmp, FLAG_JOURNAL)?;
            if let Some(b) = &self.binding {
                w.append(b)?;
            }
            let (base, base_seq) = (w.bytes, w.seq);
            for r in records {
                w.append(r)?;
            }
            if sync {
                w.sync()?;
            }
            std::fs::rename(&tmp, &self.path)?;
            w.path = self.path.clone();
            Ok((w, base, base_seq))
        })();
        match written {
            Ok((w, base, base_seq)) => {
                self.inner = w;
                self.base = base;
                self.base_seq = base_seq;
                if sync {
                    sync_dir(&self.path)?;
                }
                Ok(())
            }
            Err(e) => {
                // The journal is untouched; the partial replacement is ours to drop.
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Delete the journal (the trace is complete).
    pub fn remove(&mut self) -> io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `.rkbench-<hash>.journal.new` beside `journal`: unique to it, and short whatever the
/// trace's name (a name suffix could pass `NAME_MAX`); hidden, as it lives only for a moment.
fn replacement_path(journal: &Path) -> PathBuf {
    let name = journal.file_name().unwrap_or_default();
    let digest = Sha256::digest(name.as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    journal.with_file_name(format!(".rkbench-{hex}.journal.new"))
}

/// Make a rename in `path`'s directory durable (`fsync` of the directory; where a directory
/// cannot be opened for that, as on some non-Unix systems, the rename is as durable as it gets).
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::server::ServerRequest;
    use std::os::unix::fs::MetadataExt;

    fn snap(index: u32, end_us: u64) -> Record {
        Record::ServerPartial(ServerRequest {
            index,
            end_us,
            ..ServerRequest::default()
        })
    }

    /// What the journal at `path` holds, as a reader merges it: (index, end_us) per request.
    fn held(path: &Path) -> Vec<(u32, u64)> {
        let bytes = std::fs::read(path).unwrap();
        let t = crate::trace::reader::parse_journal(&bytes, "j".into()).unwrap();
        let s = t.server.unwrap_or_default();
        s.requests.iter().map(|r| (r.index, r.end_us)).collect()
    }

    /// A new run bound to its trace, in a fresh directory of its own (`tag` names it).
    fn bound_run(tag: &str) -> (PathBuf, TraceWriter, Journal) {
        let dir = std::env::temp_dir().join(format!("rkbench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("run.rktrace");
        let (trace, mut journal) = create_run(&out).unwrap();
        journal.bind(&out, &RunHeader::default()).unwrap();
        (dir, trace, journal)
    }

    #[test]
    fn replace_swaps_the_whole_journal_by_rename() {
        let (dir, _trace, mut j) = bound_run("journal-rename");
        j.replace(&[snap(0, 10), snap(1, 20)], false).unwrap();
        let before = std::fs::metadata(j.path()).unwrap().ino();
        assert_eq!(held(j.path()), [(0, 10), (1, 20)]);

        // A later snapshot of both: a new file took the journal's name (the old one was never
        // truncated), holding the binding and exactly the new snapshots.
        j.replace(&[snap(0, 30), snap(1, 40)], true).unwrap();
        assert_ne!(std::fs::metadata(j.path()).unwrap().ino(), before);
        assert_eq!(held(j.path()), [(0, 30), (1, 40)]);
        // Appending after a replacement continues the new file's frames.
        j.append(&snap(2, 50)).unwrap();
        assert_eq!(held(j.path()), [(0, 30), (1, 40), (2, 50)]);
        // Nothing else is left in the directory.
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["run.rktrace", "run.rktrace.journal"]);
        // reset keeps the binding: an empty journal still belongs to its trace.
        j.reset().unwrap();
        assert_eq!(held(j.path()), []);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_replacement_leaves_the_journal_as_it_was() {
        let (dir, _trace, mut j) = bound_run("journal-failed");
        j.replace(&[snap(0, 10)], false).unwrap();
        // The replacement's name taken by something that is not a file: it cannot be written.
        std::fs::create_dir(&j.replacement).unwrap();
        assert!(j.replace(&[snap(0, 99)], false).is_err());
        assert_eq!(held(j.path()), [(0, 10)]);
        std::fs::remove_dir(&j.replacement).unwrap();
        // A leftover replacement file (a run killed before its rename) is not the journal.
        std::fs::write(&j.replacement, b"stale").unwrap();
        j.replace(&[snap(0, 20)], false).unwrap();
        assert_eq!(held(j.path()), [(0, 20)]);
        assert!(!j.replacement.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
