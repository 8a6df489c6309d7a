//! Command-line types (argh). Only parsing lives here; each subcommand's work is in `commands`.
use argh::FromArgs;
use std::path::PathBuf;
use std::time::Duration;

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
    Compare(CompareArgs),
    Suite(SuiteArgs),
    Info(InfoArgs),
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); use e.g. 300ms, 30s, 5m"))
}

pub fn parse_mask(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else {
        t.parse::<u32>()
    };
    r.map_err(|_| {
        format!("{s:?} is not a CPU mask; use hex like 0xF0 (CPUs 4-7, the RK3588 A76 cores)")
    })
}

/// Run a prompt suite through librkllmrt.so and record every token into a trace file.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "record")]
pub struct RecordArgs {
    /// path to librkllmrt.so (default: $RKLLM_LIB, /usr/lib, /usr/local/lib, beside rkbench)
    #[argh(option)]
    pub lib: Option<PathBuf>,
    /// the .rkllm model file
    #[argh(option)]
    pub model: PathBuf,
    /// prompt suite: a built-in name (default, quick, context) or a JSON file
    #[argh(option, default = "String::from(\"default\")")]
    pub suite: String,
    /// trace file to write (default: traces/<model>-<UTC time>.rktrace); never overwritten
    #[argh(option)]
    pub out: Option<PathBuf>,
    /// runtime ABI to assume (1.1, 1.2.0, 1.2.1, 1.3.0) instead of detecting it
    #[argh(option)]
    pub runtime_abi: Option<String>,
    /// sampling: top-k (default 1)
    #[argh(option, default = "1")]
    pub top_k: i32,
    /// sampling: top-p (default 0.95)
    #[argh(option, default = "0.95")]
    pub top_p: f32,
    /// sampling: temperature (default 0.8)
    #[argh(option, default = "0.8")]
    pub temperature: f32,
    /// sampling: repeat penalty (default 1.1)
    #[argh(option, default = "1.1")]
    pub repeat_penalty: f32,
    /// sampling: frequency penalty (default 0)
    #[argh(option, default = "0.0")]
    pub frequency_penalty: f32,
    /// sampling: presence penalty (default 0)
    #[argh(option, default = "0.0")]
    pub presence_penalty: f32,
    /// context window given to rkllm_init (default 4096)
    #[argh(option, default = "4096")]
    pub max_context_len: i32,
    /// output cap for every request, overriding the suite's per-test caps
    #[argh(option)]
    pub max_new_tokens: Option<u32>,
    /// CPUs the runtime may use, as a hex mask (default 0xF0: the RK3588 A76 cores)
    #[argh(option, default = "0xF0", from_str_fn(parse_mask))]
    pub cpus_mask: u32,
    /// runtime CPU threads (enabled_cpus_num; default: the number of CPUs in --cpus-mask)
    #[argh(option)]
    pub threads: Option<u8>,
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
    /// per-request deadline (e.g. 5m); at the deadline the request is aborted and its tokens kept
    #[argh(option, from_str_fn(parse_duration))]
    pub timeout: Option<Duration>,
    /// how long to wait for the runtime to stop after rkllm_abort before declaring it hung (default 10s)
    #[argh(
        option,
        default = "Duration::from_secs(10)",
        from_str_fn(parse_duration)
    )]
    pub abort_grace: Duration,
    /// append new tokens of the request in flight to the trace this often (default 1s)
    #[argh(
        option,
        default = "Duration::from_secs(1)",
        from_str_fn(parse_duration)
    )]
    pub checkpoint_interval: Duration,
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
    /// run each test N times (default 1; multiplies the suite's per-test repeat)
    #[argh(option, default = "1")]
    pub repeat: u32,
    /// warm-up requests before the measured ones: kept in the trace, marked, not in statistics
    #[argh(option, default = "0")]
    pub warmup: u32,
    /// order of repeated tests: interleaved (a b a b, default), blocked (a a b b), shuffled
    #[argh(option, default = "String::from(\"interleaved\")")]
    pub order: String,
    /// seed for --order shuffled (default 0)
    #[argh(option, default = "0")]
    pub seed: u64,
    /// pause between requests (e.g. 30s) so the board cools down
    #[argh(option, from_str_fn(parse_duration))]
    pub cooldown: Option<Duration>,
    /// stop cleanly between requests once the run has lasted this long (e.g. 30m)
    #[argh(option, from_str_fn(parse_duration))]
    pub max_duration: Option<Duration>,
    /// run at least this many measured requests (repeating the suite if needed)
    #[argh(option, default = "0")]
    pub min_requests: u32,
    /// sweep a parameter: --sweep max-context-len=4096,8192 (repeatable; every combination is
    /// recorded into its own trace in the --out directory, with index.json)
    #[argh(option)]
    pub sweep: Vec<String>,
    /// board telemetry sampling interval (default 200ms)
    #[argh(
        option,
        default = "Duration::from_millis(200)",
        from_str_fn(parse_duration)
    )]
    pub sample_interval: Duration,
    /// do not sample board telemetry
    #[argh(switch)]
    pub no_telemetry: bool,
    /// no progress output on stderr
    #[argh(switch, short = 'q')]
    pub quiet: bool,
    /// read /sys and /proc under this directory instead of / (for tests)
    #[argh(option)]
    pub sysfs_root: Option<PathBuf>,
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
    /// formats, comma-separated: md, json, html, csv (default md)
    #[argh(option, default = "String::from(\"md\")")]
    pub format: String,
    /// output file (one trace, one format) or directory (several, written as <trace stem>.<ext>);
    /// default: stdout
    #[argh(option, short = 'o')]
    pub out: Option<PathBuf>,
    /// CSV rows: request (one per request, with its metrics; default) or token (one per token,
    /// with its arrival time and text)
    #[argh(
        option,
        default = "crate::report::CsvPer::Request",
        from_str_fn(crate::report::CsvPer::parse)
    )]
    pub per: crate::report::CsvPer,
}

/// Compare a candidate trace with a baseline: per metric (ratio ± σ) and per test.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "compare")]
pub struct CompareArgs {
    /// the baseline trace
    #[argh(positional)]
    pub baseline: PathBuf,
    /// the candidate trace
    #[argh(positional)]
    pub candidate: PathBuf,
    /// md (default) or json
    #[argh(option, default = "String::from(\"md\")")]
    pub format: String,
    /// output file (default: stdout)
    #[argh(option, short = 'o')]
    pub out: Option<PathBuf>,
}

/// Check trace files: ok, truncated, corrupt, or not a trace.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "verify")]
pub struct VerifyArgs {
    /// trace files
    #[argh(positional)]
    pub traces: Vec<PathBuf>,
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
    /// runtime ABI to assume instead of detecting it
    #[argh(option)]
    pub runtime_abi: Option<String>,
    /// read /sys and /proc under this directory instead of /
    #[argh(option)]
    pub sysfs_root: Option<PathBuf>,
}
