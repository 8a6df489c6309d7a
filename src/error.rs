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
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
    )
}

/// Write one line to stderr and ignore failure: a closed pipe (`2>&1 | head`), a full device
/// (`2>/dev/full`) or a terminal that went away must never end a recording, and a panic on
/// EPIPE would lose the run. Used instead of `eprintln!` on every path that can run while
/// recording.
pub fn err_line(args: fmt::Arguments<'_>) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args);
    let _ = e.write_all(b"\n");
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
