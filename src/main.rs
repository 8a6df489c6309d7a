//! The `rkbench` binary: argument parsing and dispatch only.
use rkbench::cli::Parsed;

fn main() {
    // args_os: a non-UTF-8 argument must never panic (std::env::args does).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = match rkbench::cli::parse(&argv) {
        Ok(Parsed::Run(cli)) => rkbench::commands::run(*cli, argv),
        Ok(Parsed::Print(text)) => {
            // Help or version text: a reader that went away is not an error.
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            return;
        }
        Ok(Parsed::Refuse(text, code)) => {
            use std::io::Write;
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            std::process::exit(code);
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => rkbench::error::exit(code),
        Err(e) => {
            rkbench::err_line!("{}", e.line());
            rkbench::error::exit(e.exit_code());
        }
    }
}
