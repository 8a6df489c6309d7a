//! The `rkbench` binary: argument parsing and dispatch only.
use argh::FromArgs;
use rkbench::error::exit;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() == 2 && (argv[1] == "--version" || argv[1] == "-V") {
        print!("{}", rkbench::provenance::long_version());
        return;
    }
    let cmd = argv.first().map(|s| s.as_str()).unwrap_or("rkbench");
    let rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let cli = match rkbench::cli::Cli::from_args(&[cmd], &rest) {
        Ok(c) => c,
        Err(e) => {
            if e.status.is_ok() {
                print!("{}", e.output);
                return;
            }
            eprint!("{}", e.output);
            std::process::exit(exit::USAGE);
        }
    };
    match rkbench::commands::run(cli, argv) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            rkbench::err_line!("rkbench: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
