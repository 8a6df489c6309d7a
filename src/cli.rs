//! Command-line types (argh) and reading the command line as the OS gives it. Only parsing
//! lives here; each subcommand's work is in `commands`.
//!
//! argh parses `&str`s and its `from_env` exits 1 on a non-UTF-8 argument, so the arguments are
//! read with `args_os`: a non-UTF-8 argument is handed to argh as a placeholder and, where it
//! lands in a path (`--out`, `--lib`, trace files, …), replaced by its exact bytes afterwards.
//! Anywhere else it is refused with one line and the bad-input exit code.
use crate::error::{exit, Error};
use argh::FromArgs;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// rkbench: benchmark LLMs on Rockchip NPUs through the RKLLM runtime. Record every token on the
/// board; regenerate reports anywhere, byte-identical. `rkbench --version` shows build provenance.
#[derive(FromArgs, Debug)]
pub struct Cli {
    #[argh(subcommand)]
    pub command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; argh needs the plain struct
pub enum Command {
    Record(RecordArgs),
    Report(ReportArgs),
    Verify(VerifyArgs),
    Dump(DumpArgs),
    Compare(CompareArgs),
    Suite(SuiteArgs),
    Info(InfoArgs),
    Doctor(DoctorArgs),
}

/// Run a prompt suite through librkllmrt.so and record every token into a trace file. Numeric
/// values are checked against the runtime's C types before anything loads (ranges below; the
/// same rules apply to suite files and --sweep values).
#[derive(FromArgs, Debug, Default, Clone)]
#[argh(subcommand, name = "record")]
pub struct RecordArgs {
    /// path to librkllmrt.so (default: $RKLLM_LIB, /usr/lib, /usr/local/lib, beside rkbench)
    #[argh(option)]
    pub lib: Option<PathBuf>,
    /// the .rkllm model file
    #[argh(option)]
    pub model: PathBuf,
    /// prompt suite: a built-in name (default, quick, context, rockchip) or a JSON file
    /// (default: default)
    #[argh(option)]
    pub suite: Option<String>,
    /// trace file to write (default: traces/<model>-<UTC time>.rktrace); never overwritten
    #[argh(option)]
    pub out: Option<PathBuf>,
    /// settings preset: original (the original Python tool's effective settings: top-k 20,
    /// top-p 0.95, temperature 0.6, repeat-penalty 0.9, frequency-penalty 0.6, presence-penalty
    /// 0.1, max-context-len 16384, max-new-tokens 4096, cpus-mask 0xF0, threads 4, timeout
    /// 300s); explicit flags override it
    #[argh(option)]
    pub preset: Option<String>,
    /// runtime ABI (1.1, 1.2.0, 1.2.1, 1.3.0) when the evidence cannot decide; one that
    /// contradicts the evidence also needs --force-abi
    #[argh(option)]
    pub runtime_abi: Option<String>,
    /// use --runtime-abi even where the library's evidence contradicts it
    #[argh(switch)]
    pub force_abi: bool,
    /// sampling top_k, 1..=1000000 (default 1)
    #[argh(option)]
    pub top_k: Option<String>,
    /// sampling top_p, (0, 1] (default 0.95)
    #[argh(option)]
    pub top_p: Option<String>,
    /// sampling temperature, [0, 10] (default 0.8)
    #[argh(option)]
    pub temperature: Option<String>,
    /// sampling repeat penalty, (0, 10] (default 1.1)
    #[argh(option)]
    pub repeat_penalty: Option<String>,
    /// sampling frequency penalty, [-2, 2] (default 0)
    #[argh(option)]
    pub frequency_penalty: Option<String>,
    /// sampling presence penalty, [-2, 2] (default 0)
    #[argh(option)]
    pub presence_penalty: Option<String>,
    /// context window given to rkllm_init, 1..=131072 (default 4096)
    #[argh(option)]
    pub max_context_len: Option<String>,
    /// output cap for every request, 1..=131072 and at most --max-context-len, overriding the
    /// suite's per-test caps
    #[argh(option)]
    pub max_new_tokens: Option<String>,
    /// CPUs the runtime may use, a mask 0x1..=0xFF (default 0xF0: the RK3588 A76 cores)
    #[argh(option)]
    pub cpus_mask: Option<String>,
    /// runtime CPU threads (enabled_cpus_num), 1..=8 and at most the CPUs in --cpus-mask
    /// (default: the number of CPUs in --cpus-mask)
    #[argh(option)]
    pub threads: Option<String>,
    /// ask the model to think (Qwen3 enable_thinking), overriding the suite
    #[argh(switch)]
    pub think: bool,
    /// ask the model not to think, overriding the suite
    #[argh(switch)]
    pub no_think: bool,
    /// replace the runtime's chat template (RKLLM ≥ 1.2.0): a JSON array of three strings,
    /// [system, prefix, postfix], e.g. '["", "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"]'
    #[argh(option)]
    pub chat_template: Option<String>,
    /// chat template family used to send a suite's system messages: chatml, qwen3 or llama3
    /// (default: detected from the model file name)
    #[argh(option)]
    pub template_family: Option<String>,
    /// per-request deadline, 1ms..=7days (e.g. 5m); at the deadline the request is aborted and
    /// its tokens kept (default: none; `none` also turns off a preset's)
    #[argh(option)]
    pub timeout: Option<String>,
    /// how long to wait for the runtime to stop after rkllm_abort before declaring it hung,
    /// 10ms..=1h (default 10s)
    #[argh(option)]
    pub abort_grace: Option<String>,
    /// append new tokens of the request in flight to the trace this often, 1ms..=1h (default 1s)
    #[argh(option)]
    pub checkpoint_interval: Option<String>,
    /// fdatasync after every checkpoint too (default: only after each request; a crash loses
    /// nothing either way, a power cut may lose the last in-flight checkpoints)
    #[argh(switch)]
    pub fsync_checkpoints: bool,
    /// run the recorder in this process instead of a supervised child (a runtime crash then
    /// leaves the trace without its end record, still readable up to the last checkpoint)
    #[argh(switch)]
    pub no_supervise: bool,
    /// keep the KV cache between requests (default: cleared with rkllm_clear_kv_cache)
    #[argh(switch)]
    pub no_clear_kv: bool,
    /// run each test N times, 1..=10000 (default 1; multiplies the suite's per-test repeat)
    #[argh(option)]
    pub repeat: Option<String>,
    /// warm-up requests before the measured ones, 0..=10000: kept in the trace, marked, not in
    /// statistics (default 0)
    #[argh(option)]
    pub warmup: Option<String>,
    /// order of repeated tests: interleaved (a b a b, default), blocked (a a b b), shuffled
    #[argh(option)]
    pub order: Option<String>,
    /// seed for --order shuffled and the --rate schedule (default 0)
    #[argh(option, default = "0")]
    pub seed: u64,
    /// pause between requests, 0s..=1h (e.g. 30s) so the board cools down
    #[argh(option)]
    pub cooldown: Option<String>,
    /// stop cleanly between requests once the run has lasted this long, 1ms..=30days (e.g. 30m)
    #[argh(option)]
    pub max_duration: Option<String>,
    /// run at least this many measured requests, 0..=1000000 (repeating the suite if needed;
    /// also with --server)
    #[argh(option)]
    pub min_requests: Option<String>,
    /// sweep a parameter: --sweep max-context-len=4096,8192 (repeatable, each key once; every
    /// combination, at most 1000, is recorded into its own trace in the --out directory, with
    /// index.json); with --server only
    /// what a request carries: max-new-tokens, sampling flags, timeout (max-context-len,
    /// threads, cpus-mask are the server's own settings)
    #[argh(option)]
    pub sweep: Vec<String>,
    /// under load: N requests in flight at once, 1..=256, closed loop (each stream sends its next
    /// request when its last ends; no idle wait or cool-down between them); with --server, or
    /// N runtime instances on RKLLM >= 1.2.2 (see README "Under load")
    #[argh(option)]
    pub concurrency: Option<String>,
    /// with --server, open loop: send R requests per second on a schedule (--arrivals,
    /// --burstiness, --seed), whatever is in flight; latency is also reported from each
    /// request's intended send time
    #[argh(option)]
    pub rate: Option<String>,
    /// with --rate: poisson (default; gamma gaps of shape --burstiness) or constant
    #[argh(option)]
    pub arrivals: Option<String>,
    /// with --rate --arrivals poisson: gamma shape of the gaps, (0, 1000] (default 1 = Poisson;
    /// below 1 burstier), as vLLM's --burstiness
    #[argh(option)]
    pub burstiness: Option<String>,
    /// with --rate: most requests in flight at once, 1..=256 (default 256); a request due
    /// while all are busy waits, and its lateness is recorded
    #[argh(option)]
    pub max_concurrency: Option<String>,
    /// board telemetry sampling interval, 10ms..=1h (default 200ms)
    #[argh(option)]
    pub sample_interval: Option<String>,
    /// do not sample board telemetry
    #[argh(switch)]
    pub no_telemetry: bool,
    /// measure power: hwmon[:NAME[:CHANNEL]], shelly:URL[#ID], tasmota:URL,
    /// homeassistant:URL#sensor.ENTITY (token in $RKBENCH_HA_TOKEN) or cmd:COMMAND (prints
    /// watts); see README "Energy"
    #[argh(option)]
    pub power: Option<String>,
    /// power polling period, 10ms..=1h (default 100ms for hwmon, 1s otherwise)
    #[argh(option)]
    pub power_interval: Option<String>,
    /// idle power measured before the first request, 0s..=10m (default 10s)
    #[argh(option)]
    pub power_baseline: Option<String>,
    /// no progress output on stderr
    #[argh(switch, short = 'q')]
    pub quiet: bool,
    /// read /sys and /proc under this directory instead of / (for tests)
    #[argh(option)]
    pub sysfs_root: Option<PathBuf>,
    /// measure an HTTP server instead of loading librkllmrt.so: http://HOST:PORT (plain HTTP,
    /// no TLS; an API key from $RKBENCH_API_KEY, never recorded); --model is then the server's
    /// model name; run control and request-carried sweeps work as for the runtime (see README
    /// "Measuring a server")
    #[argh(option)]
    pub server: Option<String>,
    /// with --server: auto (detect from its endpoints, default), llama-server, rkllama,
    /// rkllm-server (Rockchip's demo server; its 1.3.0 OpenAI API or its older /rkllm_chat,
    /// whichever answers), rockchipllama (the original Python tool's server), ollama, generic
    #[argh(option, default = "String::from(\"auto\")")]
    pub server_kind: String,
    /// with --server on this machine: the server's process id for RSS/CPU and the idle wait
    /// (default: the process listening on the port)
    #[argh(option)]
    pub server_pid: Option<u32>,
    /// with --server: longest wait for the server to become idle before a request, HTTP 503
    /// (busy) answers included (default 5m)
    #[argh(option)]
    pub idle_timeout: Option<String>,
    /// with --server: quiet period that counts as idle where the server cannot say (default 1s)
    #[argh(option)]
    pub quiet_period: Option<String>,
    /// with --server: longest wait for the response head after a request is sent, before any
    /// --timeout (default 10m: a server may answer only with its first token, after prefill)
    #[argh(option)]
    pub head_timeout: Option<String>,
    /// with --server on Rockchip's servers (one character per chunk, no count): a gap at least
    /// this long between two characters starts a token (default: each request's own threshold,
    /// chosen from its gaps; recorded; counts labelled estimated)
    #[argh(option)]
    pub token_gap: Option<String>,
}

/// Recompute statistics from traces and write reports (no hardware needed).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "report")]
pub struct ReportArgs {
    /// trace files
    #[argh(positional)]
    pub traces: Vec<PathBuf>,
    /// render several traces on this many threads (default 1; the output is the same for any value)
    #[argh(option, default = "1")]
    pub jobs: usize,
    /// formats, comma-separated: md, json, html, csv, perfetto (the timeline as Chrome
    /// trace-event JSON for ui.perfetto.dev, written as <stem>.perfetto.json) (default md)
    #[argh(option, default = "String::from(\"md\")")]
    pub format: String,
    /// output file (one trace, one format) or directory (several, written as <trace stem>.<ext>);
    /// default: stdout
    #[argh(option, short = 'o')]
    pub out: Option<PathBuf>,
    /// CSV rows: request (one per request, with its metrics; default), token (one per token,
    /// with its arrival time and text) or chunk (one per streamed chunk of a server run: read
    /// time, kind, attributed tokens, text)
    #[argh(
        option,
        default = "crate::report::CsvPer::Request",
        from_str_fn(crate::report::CsvPer::parse)
    )]
    pub per: crate::report::CsvPer,
    /// goodput as vLLM computes it: requests meeting every SLO per second, with SLOs as
    /// KEY:MS pairs, KEY one of ttft, tpot, e2el, MS 0 or 0.001..=2592000000 (30 days) (e.g.
    /// ttft:500,tpot:350)
    #[argh(option)]
    pub goodput: Option<String>,
    /// compare with Rockchip's published figures for this model (e.g. "Qwen3 0.6B") instead of
    /// the model the trace's model file name names
    #[argh(option)]
    pub reference_model: Option<String>,
    /// one fleet table over all the traces given (files, or directories searched for
    /// *.rktrace), grouped by board, SoC, runtime, model and settings; a directory without a
    /// sweep's index.json is reported this way without the flag
    #[argh(switch)]
    pub fleet: bool,
}

/// Compare candidate traces with a baseline: per metric and per test, the ratio with a 95 %
/// bootstrap interval and a permutation test; with --fail-if-slower, a gate for CI.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "compare")]
pub struct CompareArgs {
    /// the baseline trace
    #[argh(positional)]
    pub baseline: PathBuf,
    /// one or more candidate traces, each compared with the baseline
    #[argh(positional)]
    pub candidates: Vec<PathBuf>,
    /// md (default), json, or csv (one row per candidate, metric and test: ratio, CI, p-value)
    #[argh(option, default = "String::from(\"md\")")]
    pub format: String,
    /// output file (default: stdout)
    #[argh(option, short = 'o')]
    pub out: Option<PathBuf>,
    /// exit 10 when a candidate is significantly slower than the baseline by more than this
    /// percentage, written with its unit: 5% (a bare 5 or 0.05 is refused as ambiguous), on
    /// the --metric figures
    #[argh(option)]
    pub fail_if_slower: Option<String>,
    /// figures the gate checks, comma-separated: decode (default), prefill, ttft, e2e, itl
    #[argh(option)]
    pub metric: Option<String>,
}

/// Check trace files: ok, truncated, corrupt, or not a trace.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "verify")]
pub struct VerifyArgs {
    /// trace files
    #[argh(positional)]
    pub traces: Vec<PathBuf>,
}

/// Print every frame of a trace as one line of JSON (schema: docs/DUMP.md); on a damaged trace,
/// every valid frame, then the damage. Exit 5 when damaged, like verify.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "dump")]
pub struct DumpArgs {
    /// trace file (or a checkpoint journal); one per call, so each file's lines and its exit
    /// code stand alone
    #[argh(positional)]
    pub trace: Vec<PathBuf>,
    /// only frames of these record kinds, comma-separated (e.g. request,server-request)
    #[argh(option)]
    pub kinds: Option<String>,
}

/// List, show or check prompt suites (built-in names or JSON files).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "suite")]
pub struct SuiteArgs {
    /// list | show SUITE | check FILE...
    #[argh(positional)]
    pub action: String,
    /// suite names or files
    #[argh(positional)]
    pub suites: Vec<String>,
}

/// Show the runtime library, its detected ABI, and the board state.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "info")]
pub struct InfoArgs {
    /// path to librkllmrt.so (default: as for record)
    #[argh(option)]
    pub lib: Option<PathBuf>,
    /// runtime ABI when the evidence cannot decide (as for record)
    #[argh(option)]
    pub runtime_abi: Option<String>,
    /// use --runtime-abi even where the evidence contradicts it
    #[argh(switch)]
    pub force_abi: bool,
    /// read /sys and /proc under this directory instead of /
    #[argh(option)]
    pub sysfs_root: Option<PathBuf>,
}

/// The result of reading the command line.
pub enum Parsed {
    Run(Box<Cli>),
    /// `--help` or `--version`: print this on stdout and exit 0.
    Print(String),
    /// A usage error argh found: print this on stderr and exit with `code`.
    Refuse(String, i32),
}

/// Stands for the non-UTF-8 argument `i` while argh parses (U+FFFE never appears in text).
fn placeholder(i: usize) -> String {
    format!("\u{FFFE}rkbench-arg-{i}\u{FFFE}")
}

/// Parse `argv` (as from `std::env::args_os`). Never panics; a non-UTF-8 argument works where
/// it is a path and is refused with a clear error elsewhere.
pub fn parse(argv: &[OsString]) -> Result<Parsed, Error> {
    let mut text: Vec<String> = Vec::with_capacity(argv.len());
    let mut foreign: Vec<(String, OsString, bool)> = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        match a.to_str() {
            Some(s) => text.push(s.to_string()),
            None => {
                let p = placeholder(i);
                foreign.push((p.clone(), a.clone(), false));
                text.push(p);
            }
        }
    }
    if text.len() == 2 && (text[1] == "--version" || text[1] == "-V") {
        return Ok(Parsed::Print(crate::provenance::long_version()));
    }
    let cmd = if argv.first().is_some_and(|a| a.to_str().is_some()) {
        text[0].as_str()
    } else {
        "rkbench"
    };
    let rest: Vec<&str> = text.iter().skip(1).map(String::as_str).collect();
    let mut cli = match Cli::from_args(&[cmd], &rest) {
        Ok(c) => c,
        Err(e) if e.status.is_ok() => return Ok(Parsed::Print(e.output)),
        Err(e) if foreign.is_empty() => return Ok(Parsed::Refuse(e.output, exit::USAGE)),
        Err(_) => return Err(not_utf8(&foreign[0].1)),
    };
    let mut restore = |p: &mut PathBuf| {
        if let Some(f) = foreign
            .iter_mut()
            .find(|f| p.as_os_str() == OsStr::new(&f.0))
        {
            *p = PathBuf::from(f.1.clone());
            f.2 = true;
        }
    };
    match &mut cli.command {
        Command::Record(a) => {
            a.lib.iter_mut().for_each(&mut restore);
            restore(&mut a.model);
            a.out.iter_mut().for_each(&mut restore);
            a.sysfs_root.iter_mut().for_each(&mut restore);
        }
        Command::Report(a) => {
            a.traces.iter_mut().for_each(&mut restore);
            a.out.iter_mut().for_each(&mut restore);
        }
        Command::Verify(a) => a.traces.iter_mut().for_each(&mut restore),
        Command::Dump(a) => a.trace.iter_mut().for_each(&mut restore),
        Command::Compare(a) => {
            restore(&mut a.baseline);
            a.candidates.iter_mut().for_each(&mut restore);
            a.out.iter_mut().for_each(&mut restore);
        }
        Command::Info(a) => {
            a.lib.iter_mut().for_each(&mut restore);
            a.sysfs_root.iter_mut().for_each(&mut restore);
        }
        Command::Doctor(a) => {
            a.lib.iter_mut().for_each(&mut restore);
            a.model.iter_mut().for_each(&mut restore);
            a.sysfs_root.iter_mut().for_each(&mut restore);
        }
        Command::Suite(_) => {}
    }
    match foreign.iter().find(|f| !f.2) {
        Some(f) => Err(not_utf8(&f.1)),
        None => Ok(Parsed::Run(Box::new(cli))),
    }
}

fn not_utf8(arg: &OsStr) -> Error {
    Error::input(format!(
        "argument {:?} is not valid UTF-8; only file paths (--lib, --out, --sysfs-root, trace files) may be, so rename the file or pass a UTF-8 name (e.g. a symlink)",
        arg.to_string_lossy()
    ))
}

/// Check the board before a long benchmark (read-only): governors and clocks, DMC DVFS, heat,
/// rknpu driver, debugfs, memory, runtime identity, model. Exit 0 when ready, 8 when not.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "doctor")]
pub struct DoctorArgs {
    /// path to librkllmrt.so (default: as for record)
    #[argh(option)]
    pub lib: Option<PathBuf>,
    /// the .rkllm model to check (readable, fits in memory)
    #[argh(option)]
    pub model: Option<PathBuf>,
    /// runtime ABI when the evidence cannot decide (as for record)
    #[argh(option)]
    pub runtime_abi: Option<String>,
    /// use --runtime-abi even where the evidence contradicts it
    #[argh(switch)]
    pub force_abi: bool,
    /// read /sys and /proc under this directory instead of /
    #[argh(option)]
    pub sysfs_root: Option<PathBuf>,
    /// text (default) or json
    #[argh(option, default = "String::from(\"text\")")]
    pub format: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn os(v: &[&[u8]]) -> Vec<OsString> {
        v.iter().map(|b| OsString::from_vec(b.to_vec())).collect()
    }

    #[test]
    fn non_utf8_paths_keep_their_bytes() {
        let argv = os(&[b"rkbench", b"verify", b"a\xff.rktrace", b"b.rktrace"]);
        let Ok(Parsed::Run(cli)) = parse(&argv) else {
            panic!("not parsed")
        };
        let Command::Verify(v) = cli.command else {
            panic!("not verify")
        };
        assert_eq!(v.traces[0].as_os_str(), argv[2].as_os_str());
        assert_eq!(v.traces[1], PathBuf::from("b.rktrace"));
    }

    #[test]
    fn non_utf8_elsewhere_is_refused_as_bad_input() {
        for argv in [
            os(&[b"rkbench", b"suite", b"show", b"s\xff.json"]),
            os(&[
                b"rkbench", b"record", b"--model", b"m", b"--top-p", b"0.\xff",
            ]),
            os(&[b"rkbench", b"\xffrecord"]),
            os(&[b"\xff", b"verify", b"x\xff"]),
        ] {
            match parse(&argv) {
                Err(e) => {
                    assert_eq!(e.exit_code(), exit::INPUT);
                    assert!(e.msg.contains("is not valid UTF-8"), "{}", e.msg);
                }
                Ok(Parsed::Run(c)) if argv[0].to_str().is_none() => {
                    assert!(matches!(c.command, Command::Verify(_)))
                }
                Ok(_) => panic!("accepted {argv:?}"),
            }
        }
    }

    #[test]
    fn help_states_every_range_of_the_validation_table() {
        let Ok(Parsed::Print(help)) = parse(&os(&[b"rkbench", b"record", b"--help"])) else {
            panic!("no help")
        };
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for l in crate::limits::LIMITS {
            let line = flat
                .split(" --")
                .find(|s| s.starts_with(&format!("{} ", l.flag)))
                .unwrap_or_else(|| panic!("--{} not in help", l.flag));
            let range = l.range.describe();
            assert!(
                line.contains(&range),
                "--{} help does not say {range}: {line}",
                l.flag
            );
        }
    }
}
