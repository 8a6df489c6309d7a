//! One error type for the CLI: a one-line message that names the file or flag and what to do,
//! plus the documented exit code of its class.
use std::fmt;

/// Exit codes (documented in the README).
pub mod exit {
    /// Success (for `record`: every request finished or was stopped by its deadline/cap).
    pub const OK: i32 = 0;
    /// An unexpected internal failure (a bug: please report it).
    pub const INTERNAL: i32 = 1;
    /// Bad command line.
    pub const USAGE: i32 = 2;
    /// Bad input: a file or value given by the user (suite, model path, trace, library file).
    pub const INPUT: i32 = 3;
    /// The runtime library could not be loaded or initialised.
    pub const RUNTIME: i32 = 4;
    /// `verify`: at least one trace is damaged (a valid prefix may still be readable).
    pub const DAMAGED: i32 = 5;
    /// `record`: the runtime did not stop after `rkllm_abort`; trace written with status `hung`.
    pub const HUNG: i32 = 6;
    /// `record`: the runtime crashed; trace finalised with status `crashed`.
    pub const CRASHED: i32 = 7;
    /// `doctor`: the board is not ready for a benchmark (at least one finding failed).
    pub const NOT_READY: i32 = 8;
    /// `compare --fail-if-slower`: a candidate is significantly slower than allowed (not an
    /// error: the comparison was written).
    pub const REGRESSION: i32 = 10;
    /// `record`: the disk is full or a file-size limit was reached (ENOSPC, EDQUOT, EFBIG): the
    /// trace was cut back to its last whole frame and the journal kept; the message says what
    /// each holds. The value is ENOSPC's errno.
    pub const DISK_FULL: i32 = 28;
    /// `record`: the supervised recorder process could not be started (e.g. under qemu-user
    /// without binfmt_misc); run with `--no-supervise`.
    pub const CANNOT_EXEC: i32 = 127;
    /// `record`: interrupted by Ctrl-C / SIGTERM; trace finalised with status `interrupted`.
    pub const INTERRUPTED: i32 = 130;
    /// `report`, `compare`, `suite show`: the reader of stdout went away (e.g. `| head -1`);
    /// output stops quietly, as a Unix tool ended by SIGPIPE (128 + 13).
    pub const STDOUT_CLOSED: i32 = 141;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Usage,
    Input,
    Runtime,
    DiskFull,
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub msg: String,
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error {
            kind: Kind::Usage,
            msg: msg.into(),
        }
    }
    pub fn input(msg: impl Into<String>) -> Self {
        Error {
            kind: Kind::Input,
            msg: msg.into(),
        }
    }
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error {
            kind: Kind::Runtime,
            msg: msg.into(),
        }
    }
    pub fn disk_full(msg: impl Into<String>) -> Self {
        Error {
            kind: Kind::DiskFull,
            msg: msg.into(),
        }
    }
    /// A failed write of a trace or journal: a full disk or file-size limit is its own class
    /// (the user frees space); anything else is unexpected.
    pub fn writing(what: &str, e: std::io::Error) -> Self {
        let msg = format!("{what}: {e}");
        if is_disk_full(&e) {
            Self::disk_full(msg)
        } else {
            Self::internal(msg)
        }
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Error {
            kind: Kind::Internal,
            msg: msg.into(),
        }
    }
    /// The line the CLI prints for this error on stderr (the browser viewer throws the same).
    pub fn line(&self) -> String {
        format!("rkbench: error: {}", self.msg)
    }
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Internal => exit::INTERNAL,
            Kind::Usage => exit::USAGE,
            Kind::Input => exit::INPUT,
            Kind::Runtime => exit::RUNTIME,
            Kind::DiskFull => exit::DISK_FULL,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// No space left, quota exceeded, or the file-size limit (`ulimit -f`) reached.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    return matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
    );
    // The browser build has no file system, so nothing it writes can fill a disk.
    #[cfg(target_arch = "wasm32")]
    {
        let _ = e;
        false
    }
}

/// stderr goes through one writer thread and a bounded queue, so a stderr nobody reads (a
/// paused `| less`, a stalled `| tee`, a terminal under flow control) can never stop a
/// recording: the recorder's loop enforces deadlines and writes checkpoints, and a blocking
/// `write(2)` there would hold both. When the queue is full, lines are dropped and counted; the
/// count is written before the next line that gets through. [`exit`] drains the queue (bounded)
/// before the process ends.
mod stderr_queue {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// Lines held while stderr is not being read (≈ 100 KB of progress lines).
    const DEPTH: usize = 1024;
    static QUEUE: OnceLock<Option<SyncSender<Vec<u8>>>> = OnceLock::new();
    /// Lines queued and not yet written.
    static PENDING: AtomicUsize = AtomicUsize::new(0);
    /// Lines dropped since the last one written.
    static DROPPED: AtomicU64 = AtomicU64::new(0);

    fn direct(bytes: &[u8]) {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(bytes);
        let _ = e.flush();
    }

    fn dropped_line(n: u64) -> Vec<u8> {
        format!("rkbench: {n} line(s) of output dropped: stderr was not being read\n").into_bytes()
    }

    fn queue() -> Option<&'static SyncSender<Vec<u8>>> {
        QUEUE
            .get_or_init(|| {
                let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
                std::thread::Builder::new()
                    .name("rkbench-stderr".into())
                    .spawn(move || {
                        for bytes in rx {
                            let dropped = DROPPED.swap(0, Ordering::SeqCst);
                            if dropped > 0 {
                                direct(&dropped_line(dropped));
                            }
                            direct(&bytes);
                            PENDING.fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                    .ok()
                    .map(|_| tx)
            })
            .as_ref()
    }

    /// Queue `bytes` for stderr; never blocks.
    pub(super) fn send(bytes: Vec<u8>) {
        let Some(tx) = queue() else {
            // No thread could be started: write here (blocking) rather than lose the line.
            return direct(&bytes);
        };
        PENDING.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(bytes) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                PENDING.fetch_sub(1, Ordering::SeqCst);
                DROPPED.fetch_add(1, Ordering::SeqCst);
            }
            Err(TrySendError::Disconnected(bytes)) => {
                PENDING.fetch_sub(1, Ordering::SeqCst);
                direct(&bytes);
            }
        }
    }

    /// Wait until every queued line is written, at most `bound`; true when none is left. Lines
    /// dropped since the last one written are counted in a line of their own first (no later
    /// line would carry the count).
    pub(super) fn drain(bound: Duration) -> bool {
        let dropped = DROPPED.swap(0, Ordering::SeqCst);
        if dropped > 0 {
            send(dropped_line(dropped));
        }
        let until = Instant::now() + bound;
        while PENDING.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

/// Write one line to stderr and ignore failure: a closed pipe (`2>&1 | head`), a full device
/// (`2>/dev/full`), a terminal that went away or a reader that stopped reading must never end
/// or stall a recording, and a panic on EPIPE would lose the run. Used instead of `eprintln!`
/// on every path that can run while recording.
pub fn err_line(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let mut line = Vec::with_capacity(128);
    let _ = line.write_fmt(args);
    line.push(b'\n');
    stderr_queue::send(line);
}

/// Bytes for stderr as they are (a progress line redrawn in place), in order with
/// [`err_line`]'s lines.
pub fn err_raw(bytes: &[u8]) {
    stderr_queue::send(bytes.to_vec());
}

/// End the process with `code` once stderr has taken what is queued for it (at most 2 s: a
/// stderr nobody reads must not keep a finished run alive).
pub fn exit(code: i32) -> ! {
    stderr_queue::drain(std::time::Duration::from_secs(2));
    std::process::exit(code)
}

/// `println!` that ignores a closed or full stdout (see [`err_line`]).
pub fn out_line(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(args);
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

/// `eprintln!` that never panics: see [`err_line`].
#[macro_export]
macro_rules! err_line {
    ($($arg:tt)*) => { $crate::error::err_line(format_args!($($arg)*)) };
}

/// `println!` that never panics: see [`out_line`].
#[macro_export]
macro_rules! out_line {
    ($($arg:tt)*) => { $crate::error::out_line(format_args!($($arg)*)) };
}
