//! Writing to the terminal the way Unix tools do: a reader that goes away (`rkbench report T |
//! head -1`) ends the command quietly with [`exit::STDOUT_CLOSED`] instead of a panic, and a
//! warning that cannot be written to a closed stderr is dropped rather than ending the command.
use crate::error::{exit, Error, Result};
use std::io::{ErrorKind, Write};

/// What happened to text sent to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Written,
    /// The reader closed the pipe: stop and exit with [`exit::STDOUT_CLOSED`].
    Closed,
}

/// Write `text` to stdout and flush. Other write errors (a full disk behind a redirect) are
/// input errors naming standard output.
pub(crate) fn stdout(text: &str) -> Result<Sent> {
    to(&mut std::io::stdout().lock(), text)
}

fn to(w: &mut impl Write, text: &str) -> Result<Sent> {
    match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        Ok(()) => Ok(Sent::Written),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Sent::Closed),
        Err(e) => Err(Error::input(format!(
            "cannot write to standard output: {e}; check where it is redirected"
        ))),
    }
}

/// The exit code after sending everything: [`exit::STDOUT_CLOSED`] when the reader went away.
pub(crate) fn exit_code(sent: Sent) -> i32 {
    match sent {
        Sent::Written => exit::OK,
        Sent::Closed => exit::STDOUT_CLOSED,
    }
}

/// A note line on stderr; dropped when stderr is closed or full (it must never end the
/// command or cost a report).
pub(crate) fn note(msg: &str) {
    crate::err_line!("{}", note_line(msg));
}

/// The stderr line of a warning (commands print it; the browser viewer collects it).
pub(crate) fn warning_line(msg: &str) -> String {
    format!("rkbench: warning: {msg}")
}

/// The stderr line of a note.
pub(crate) fn note_line(msg: &str) -> String {
    format!("rkbench: note: {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn closed_pipe_is_quiet_and_full_disk_is_an_input_error() {
        assert_eq!(to(&mut Closed, "x").unwrap(), Sent::Closed);
        assert_eq!(exit_code(Sent::Closed), 141);
        let e = to(&mut Full, "x").unwrap_err();
        assert_eq!(e.exit_code(), exit::INPUT);
        assert!(e.msg.contains("standard output"), "{}", e.msg);
        let mut v = Vec::new();
        assert_eq!(to(&mut v, "abc").unwrap(), Sent::Written);
        assert_eq!(v, b"abc");
    }
}
