//! One function per subcommand: turn parsed arguments into calls on the library modules.
pub mod compare;
pub mod doctor;
pub mod dump;
pub mod info;
pub(crate) mod output;
#[cfg(feature = "record")]
pub(crate) mod record;
pub mod report;
pub(crate) mod suite;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Run a parsed command line; returns the exit code.
pub fn run(cli: Cli, argv: Vec<std::ffi::OsString>) -> Result<i32> {
    match cli.command {
        #[cfg(feature = "record")]
        Command::Record(a) => record::run(a, argv),
        #[cfg(not(feature = "record"))]
        Command::Record(_) => {
            let _ = argv;
            Err(crate::error::Error::usage("this is a replay-only build of rkbench; use the record-capable binary on the board"))
        }
        Command::Report(a) => report::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Dump(a) => dump::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Suite(a) => suite::run(a),
        Command::Info(a) => info::run(a),
        Command::Doctor(a) => doctor::run(a),
    }
}
