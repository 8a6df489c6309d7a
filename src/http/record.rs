//! `rkbench record --server URL`: the same suites, schedule, deadlines, warm-up, telemetry and
//! progress as the runtime path, through a server's streaming API, into the same trace format
//! (chunks as the raw datum, [`crate::trace::server`]). No FFI here, so no supervisor: the
//! recorder runs in this process, and every finished request is durable before the next.
use super::capture::{Capture, Protocol};
use super::client::{self, Event, Url};
use super::process;
use super::redact::{self, Secret};
use super::server::{self, Detected, Sampling, ServerKind};
use crate::board::{self, SysRoot};
use crate::cli::RecordArgs;
use crate::error::{exit, Error, Result};
use crate::provenance;
use crate::record::interrupt::{self, interrupted, Source};
use crate::record::plan::Plan as RecordPlanned;
use crate::record::progress::{Progress, Tally};
use crate::record::schedule::{self, Order, RunControl, Slot};
use crate::record::telemetry::Sampler;
use crate::record::trace_out::{micros, TraceOut};
use crate::suite::Suite;
use crate::trace::server::{ServerRequest, ServerRun};
use crate::trace::{
    Fact, ModelInfo, Record, RunHeader, RunParams, RunStatus, RuntimeInfo, Status, SuiteInfo,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use super::redact::API_KEY_VAR;

/// Socket read timeout: how often deadlines, Ctrl-C, checkpoints and progress are looked at.
pub(super) const TICK: Duration = Duration::from_millis(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--head-timeout`. A server that accepted a request and never answers must not hang
/// a run without `--timeout`; servers built on WSGI (Flask: Rockchip's demo server, rkllama)
/// send their head only with the first token, after the prefill of the prompt, which takes
/// minutes for a long prompt on a board: ten minutes leaves room for that.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The waits before a request: the idle wait, then each HTTP 503 (busy) answer and the wait
/// after it.
pub(super) struct Busy {
    pub(super) waited: Duration,
    /// How the last idle wait ended.
    pub(super) how: String,
    /// Each 503: when (since the first wait began) and what the server said.
    pub(super) answers: Vec<String>,
}

impl Busy {
    /// The request's `idle_wait` text.
    fn text(&self) -> String {
        if self.answers.is_empty() {
            return self.how.clone();
        }
        const SHOWN: usize = 3;
        let more = self.answers.len().saturating_sub(SHOWN);
        format!(
            "{} HTTP 503 (busy) answer(s), each waited out [{}{}]; last wait: {}",
            self.answers.len(),
            self.answers[..self.answers.len().min(SHOWN)].join("; "),
            if more > 0 {
                format!("; {more} more")
            } else {
                String::new()
            },
            self.how
        )
    }
}

/// Everything resolved from the command line.
pub(super) struct Plan {
    /// The run's clock origin: every time in the trace counts from here.
    pub(super) origin: Instant,
    pub(super) url: Url,
    pub(super) detected: Detected,
    pub(super) model: String,
    pub(super) sampling: Sampling,
    pub(super) think: Option<bool>,
    pub(super) max_new_tokens: Option<u32>,
    pub(super) timeout: Option<Duration>,
    pub(super) repeat: u32,
    pub(super) warmup: u32,
    pub(super) order: Order,
    pub(super) seed: u64,
    pub(super) cooldown: Duration,
    /// `--max-duration` / `--min-requests`: the runtime path's rules.
    pub(super) control: RunControl,
    /// One request at a time, N streams, or an arrival rate.
    pub(super) load: crate::record::load::LoadPlan,
    pub(super) idle_timeout: Duration,
    /// `--head-timeout`: longest wait for the response head ([`DEFAULT_HEAD_TIMEOUT`]).
    pub(super) head_timeout: Duration,
    pub(super) quiet_period: Duration,
    /// `--token-gap`, µs; `None` = each request's own threshold from its gaps.
    pub(super) token_gap_us: Option<u64>,
    pub(super) checkpoint_interval: Duration,
    /// `--fsync-checkpoints`: each checkpoint is durable, not only each finished request.
    pub(super) fsync_checkpoints: bool,
    pub(super) pid: Option<u32>,
    /// The API key, kept out of everything recorded or printed.
    pub(super) secret: Secret,
    /// The server runs on this machine ([`Url::on_this_machine`]): telemetry and its process.
    pub(super) local: bool,
    pub(super) quiet: bool,
    pub(super) out: PathBuf,
}

/// A duration flag of the server path: positive, at most a day.
fn duration(flag: &str, v: Option<&str>, default: Duration) -> Result<Duration> {
    let Some(v) = v else { return Ok(default) };
    match humantime::parse_duration(v) {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(86_400) => Ok(d),
        Ok(_) => Err(Error::usage(format!(
            "{flag} {v:?} is out of range; give a duration from 1ms to 24h, e.g. 30s"
        ))),
        Err(e) => Err(Error::usage(format!(
            "{flag} {v:?} is not a duration ({e}); write it like 500ms, 30s or 5m"
        ))),
    }
}

/// Flags that only mean something for the runtime: its settings belong to the server.
fn refuse_runtime_flags(a: &RecordArgs, p: &RecordPlanned) -> Result<()> {
    let r = &p.record;
    let bad = [
        ("--lib", p.lib.is_some()),
        ("--runtime-abi", p.abi_flag.is_some()),
        ("--chat-template", r.chat_template.is_some()),
        ("--no-clear-kv", !r.clear_kv),
        ("--max-context-len", a.max_context_len.is_some()),
        ("--threads", a.threads.is_some()),
        ("--cpus-mask", a.cpus_mask.is_some()),
    ];
    match bad.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(Error::usage(format!(
            "{flag} is not available with --server (runtime settings belong to the server); drop it"
        ))),
        None if p.sweep.is_some() => Err(Error::internal(
            "a --sweep plan reached the single-run server recorder; plan::role sends it to the sweep",
        )),
        None => Ok(()),
    }
}

/// Flags whose values `/rkllm_chat` cannot carry: given explicitly they would label the trace
/// with a value the server never used.
fn refuse_unsendable_flags(a: &RecordArgs) -> Result<()> {
    let given = [
        ("--top-k", a.top_k.is_some()),
        ("--top-p", a.top_p.is_some()),
        ("--temperature", a.temperature.is_some()),
        ("--repeat-penalty", a.repeat_penalty.is_some()),
        ("--frequency-penalty", a.frequency_penalty.is_some()),
        ("--presence-penalty", a.presence_penalty.is_some()),
        ("--max-new-tokens", a.max_new_tokens.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(Error::usage(format!(
            "{flag} cannot be sent to Rockchip's /rkllm_chat server (it fixes sampling and the output cap when it starts, and the trace records its values); drop it"
        ))),
        None => Ok(()),
    }
}

/// `record --server URL`: `plan` is the same validated plan a runtime recording uses (suite,
/// sampling, caps, schedule, deadlines, telemetry); only the server-specific flags are read here.
pub(crate) fn run(
    a: &RecordArgs,
    planned: &RecordPlanned,
    argv: Vec<String>,
    server_url: &str,
) -> Result<i32> {
    refuse_runtime_flags(a, planned)?;
    let rp = &planned.record;
    let mut url = Url::parse(server_url).map_err(|e| Error::usage(format!("--server {e}")))?;
    // From the environment only: a key on the command line would be recorded with it.
    url.api_key = redact::api_key_from_env()?;
    let secret = Secret::new(url.api_key.as_deref());
    let given = ServerKind::parse(&a.server_kind)
        .map_err(|e| Error::usage(format!("--server-kind: {e}")))?;
    let suite = planned.suite.clone();
    let model = planned.model.display().to_string();
    let out = rp.out.clone();
    if out.exists() {
        return Err(Error::input(format!(
            "trace {} already exists; traces are never overwritten, choose another --out",
            out.display()
        )));
    }
    // None: each request's threshold is chosen from its own gaps (trace::gap).
    let token_gap_us = match a.token_gap.as_deref() {
        Some(g) => Some(micros(duration("--token-gap", Some(g), Duration::ZERO)?)),
        None => None,
    };
    let idle_timeout = duration(
        "--idle-timeout",
        a.idle_timeout.as_deref(),
        Duration::from_secs(300),
    )?;
    let mut detected = server::detect_when_ready(&url, given, idle_timeout, |why| {
        let mut why = why.to_string();
        secret.text(&mut why);
        if !rp.quiet {
            crate::err_line!(
                "rkbench: {url} is not ready ({why}): waiting up to --idle-timeout {} for it",
                humantime::format_duration(idle_timeout)
            )
        }
    });
    if secret.facts(&mut detected.evidence) | secret.text(&mut detected.version) {
        crate::err_line!("rkbench: warning: the server echoed the API key ({API_KEY_VAR}) in its answers to the detection probes; redacted as {}", redact::MARKER);
        detected.evidence.push(crate::trace::Fact {
            key: "redacted".into(),
            value: format!("the server echoed the API key ({API_KEY_VAR}) in its probe answers; each is recorded as {}", redact::MARKER),
        });
    }
    if !rp.quiet
        && detected
            .evidence
            .iter()
            .any(|f| f.value.starts_with("HTTP 401") || f.value.starts_with("HTTP 403"))
    {
        crate::err_line!(
            "rkbench: {url} refused some probes with HTTP 401/403: {}",
            key_hint(&url)
        );
    }
    if !detected.reachable {
        let why = detected.no_answer.clone().unwrap_or_else(|| {
            "no HTTP server answers there; start the server or fix the address".into()
        });
        return Err(Error::input(format!("--server {url}: {why}")));
    }
    detected.evidence.extend(server::run_facts(
        detected.kind,
        detected.protocol,
        token_gap_us,
    ));
    detected.evidence.sort();
    // Rockchip's /rkllm_chat takes no sampling values and no cap: the run used the server's.
    let fixed = detected.protocol == Protocol::RkllmChat;
    if fixed {
        refuse_unsendable_flags(a)?;
    }
    if let Some((t, n)) = suite.tests.iter().find_map(|t| Some((t, t.input_tokens?))) {
        match server::endpoint(detected.kind, detected.protocol, true) {
            Err(why) => return Err(Error::usage(format!(
                "--suite {}: test {} is an exact token input ({n} token ids), and {why}; nothing was sent. Measure exact token inputs on the runtime or through llama-server (its /v1/completions takes token ids), or use a suite of text prompts",
                suite.name, t.id
            ))),
            Ok(ep) => detected.evidence.push(crate::trace::Fact {
                key: "exact token input".into(),
                value: format!("the suite's exact token inputs are sent as token ids (\"prompt\": [ids]) to {ep}, with no chat template; a request's input count is the server's where it counts, else the number of ids sent"),
            }),
        }
        detected.evidence.sort();
    }
    if a.token_gap.is_some() && detected.kind.gap_cluster_us(token_gap_us).is_none() {
        return Err(Error::usage(format!(
            "--token-gap applies to Rockchip's servers (rkllm-server), which stream characters; this one is {}: drop it",
            detected.kind.as_str()
        )));
    }
    let local = url.on_this_machine();
    let pid = if local {
        a.server_pid.or_else(|| process::pid_listening_on(url.port))
    } else {
        if a.server_pid.is_some() {
            return Err(Error::usage(
                "--server-pid needs a server on this machine (localhost or one of its own addresses); drop it for a remote server",
            ));
        }
        None
    };
    let init = &rp.init;
    let plan = Plan {
        origin: Instant::now(),
        url,
        detected,
        model,
        sampling: if fixed {
            server::RKLLM_CHAT_FIXED
        } else {
            Sampling {
                temperature: init.temperature,
                top_p: init.top_p,
                top_k: init.top_k,
                repeat_penalty: init.repeat_penalty,
                frequency_penalty: init.frequency_penalty,
                presence_penalty: init.presence_penalty,
                seed: rp.seed,
            }
        },
        think: rp.think,
        max_new_tokens: rp.max_new_tokens.filter(|_| !fixed),
        timeout: rp.timeout,
        repeat: rp.repeat.max(1),
        warmup: rp.warmup,
        order: rp.order,
        seed: rp.seed,
        cooldown: rp.cooldown,
        control: rp.run_control(),
        load: rp.load,
        idle_timeout,
        head_timeout: duration(
            "--head-timeout",
            a.head_timeout.as_deref(),
            DEFAULT_HEAD_TIMEOUT,
        )?,
        quiet_period: duration(
            "--quiet-period",
            a.quiet_period.as_deref(),
            Duration::from_secs(1),
        )?,
        checkpoint_interval: rp.checkpoint_interval,
        fsync_checkpoints: rp.fsync_checkpoints,
        token_gap_us,
        pid,
        secret,
        local,
        quiet: rp.quiet,
        out,
    };
    let root = planned.sysfs_root.clone();
    let telemetry = rp.telemetry.clone().filter(|_| plan.local);
    let header = header(&plan, &suite, argv, &root, rp.telemetry.is_none());
    if !plan.quiet {
        crate::err_line!(
            "rkbench: recording suite {} ({} tests) through {} at {} ({}, {}) into {}",
            suite.name,
            suite.tests.len(),
            plan.detected.kind.as_str(),
            plan.url,
            plan.detected.protocol.as_str(),
            if given.is_some() {
                "--server-kind"
            } else {
                "detected"
            },
            plan.out.display()
        );
        if fixed {
            crate::err_line!("rkbench: /rkllm_chat takes no sampling values or output cap: the server's own (fixed at its start) are recorded as the run's parameters, and rkbench's are not sent");
        }
    }
    interrupt::install(Source::Terminal, "closing the current request");
    // A file-size limit (`ulimit -f`) must fail a trace write with EFBIG (a full disk, said
    // with what was kept), not kill the recorder with SIGXFSZ.
    let _ = crate::runtime::signals::prepare_recording_process();
    let status = Recorder::start(
        &plan,
        &suite,
        header,
        telemetry,
        given.is_some(),
        rp.power.as_ref(),
    )?
    .run(&plan, &suite)?;
    if !plan.quiet {
        crate::err_line!("rkbench: trace written to {}", plan.out.display());
    }
    crate::out_line!("{}", plan.out.display());
    Ok(match status {
        RunStatus::Interrupted => exit::INTERRUPTED,
        RunStatus::Crashed => exit::CRASHED,
        _ => exit::OK,
    })
}

/// The run header: the server stands where the runtime library stands for a bare run.
fn header(
    plan: &Plan,
    suite: &Suite,
    argv: Vec<String>,
    root: &SysRoot,
    no_telemetry: bool,
) -> RunHeader {
    let d = &plan.detected;
    let s = &plan.sampling;
    let mut board_facts = if plan.local {
        board::facts(root)
    } else {
        vec![
            Fact {
                key: "network".into(),
                value: "remote server: every time includes the network".into(),
            },
            Fact {
                key: "telemetry".into(),
                value: "unavailable (the server is on another machine)".into(),
            },
        ]
    };
    if plan.local && no_telemetry {
        board_facts.push(Fact {
            key: "telemetry".into(),
            value: "unavailable (disabled by --no-telemetry)".into(),
        });
    }
    board_facts.push(Fact {
        key: "clock".into(),
        value: "CLOCK_MONOTONIC (std::time::Instant), microseconds; chunk times are the read() that delivered them".into(),
    });
    board_facts.sort();
    RunHeader {
        rkbench: provenance::build_info(),
        command_line: argv,
        hostname: board::hostname(root),
        started_unix_ms: provenance::started_unix_ms(),
        runtime: RuntimeInfo {
            lib_path: plan.url.to_string(),
            lib_size: 0,
            lib_sha256: String::new(),
            abi: format!("http:{}", d.kind.as_str()),
            version: d.version.clone(),
            evidence: d
                .evidence
                .iter()
                .map(|f| format!("{} → {}", f.key, f.value))
                .collect::<Vec<_>>()
                .join("; "),
        },
        model: ModelInfo {
            path: plan.model.clone(),
            file_name: plan.model.clone(),
            size: 0,
            fingerprint: String::new(),
        },
        params: RunParams {
            max_context_len: 0,
            max_new_tokens: plan.max_new_tokens.map(|n| n as i32).unwrap_or(-1),
            top_k: s.top_k,
            top_p: s.top_p,
            temperature: s.temperature,
            repeat_penalty: s.repeat_penalty,
            frequency_penalty: s.frequency_penalty,
            presence_penalty: s.presence_penalty,
            think: plan.think.unwrap_or(false),
            timeout_ms: plan.timeout.map(|d| d.as_millis() as u64).unwrap_or(0),
            ..Default::default()
        },
        suite: SuiteInfo {
            name: suite.name.clone(),
            source: suite.source.clone(),
            sha256: suite.sha256.clone(),
            tests: suite.tests.len() as u32,
        },
        board: board_facts,
    }
}

/// The trace being written and the telemetry going into it.
pub(super) struct Recorder {
    pub(super) out: TraceOut,
    pub(super) progress: Progress,
    pub(super) slots: Vec<Slot>,
    /// Nothing listens at the server's address any more (it answered before): the run ends.
    pub(super) server_gone: Option<String>,
}

/// What to do about an HTTP 401/403: the server wants an API key, or refused the one given.
fn key_hint(url: &Url) -> String {
    if url.api_key.is_some() {
        format!("the server refused the API key in {API_KEY_VAR}")
    } else {
        format!("the server wants an API key: set {API_KEY_VAR} (it is sent as a bearer token and never recorded)")
    }
}

/// An HTTP 3xx answer in one line: where it points, and that rkbench does not follow it (a
/// measurement through a redirect would time two servers).
fn redirect(status: u16, location: Option<&str>, url: &Url) -> String {
    match location.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => {
            let to = if l.starts_with('/') {
                format!("http://{}{l}", url.authority())
            } else {
                l.chars().take(200).collect()
            };
            format!("HTTP {status} redirect to {to}: rkbench does not follow redirects; pass that server as --server")
        }
        None => format!(
            "HTTP {status} redirect without a Location header: rkbench does not follow redirects; check --server {url}"
        ),
    }
}

/// A connection that could not be opened because nothing listens there (or the host cannot
/// be reached): the server crashed or was stopped. A timeout is not: a remote link may recover.
fn unreachable(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
    )
}

impl Recorder {
    fn start(
        plan: &Plan,
        suite: &Suite,
        mut header: RunHeader,
        telemetry: Option<(SysRoot, Duration)>,
        kind_given: bool,
        power: Option<&crate::record::power::PowerPlan>,
    ) -> Result<Recorder> {
        let origin = plan.origin;
        let power = TraceOut::start_power(power, origin)?;
        let mut out = TraceOut::create(&plan.out, origin)?;
        out.measure_power(power);
        let sampler = telemetry
            .map(|(root, every)| Sampler::start_with_server(root, every, origin, plan.pid));
        if let Some(s) = &sampler {
            header.board.extend(s.facts());
            header.board.sort();
        }
        let d = &plan.detected;
        let run = ServerRun {
            url: plan.url.to_string(),
            kind: d.kind.as_str().into(),
            kind_source: if kind_given {
                "--server-kind"
            } else {
                "detected"
            }
            .into(),
            protocol: d.protocol.as_str().into(),
            // An exact-token suite streams from the token endpoint (each request records its own).
            endpoint: server::endpoint(
                d.kind,
                d.protocol,
                suite.tests.iter().all(|t| t.input_tokens.is_some()),
            )
            .unwrap_or(d.protocol.endpoint())
            .into(),
            model: plan.model.clone(),
            version: d.version.clone(),
            evidence: d.evidence.clone(),
            local: plan.local,
            server_pid: plan.pid.unwrap_or(0),
            server_pid_source: match (plan.pid, plan.local) {
                (None, true) => "not found (no process listening on the port is visible)".into(),
                (None, false) => "remote server".into(),
                (Some(p), _) => {
                    format!("{} ({})", p, process::comm(p).unwrap_or_else(|| "?".into()))
                }
            },
            idle_method: server::idle_method(d.kind, plan.pid.is_some(), plan.quiet_period),
        };
        out.sample(sampler);
        let mut r = Recorder {
            out,
            progress: Progress::new(plan.quiet, 0),
            slots: schedule::plan(suite, plan.repeat, plan.warmup, plan.order, plan.seed),
            server_gone: None,
        };
        r.progress = Progress::new(plan.quiet, plan.control.expected(&r.slots));
        r.out.begin(&plan.out, header)?;
        r.out.append(&Record::ServerRun(run))?;
        r.out.sync()?;
        Ok(r)
    }

    /// Run the schedule; a full disk is said with what the trace and the journal kept.
    fn run(mut self, plan: &Plan, suite: &Suite) -> Result<RunStatus> {
        let in_flight = "the chunks of the request in flight, as last checkpointed";
        let r = self.out.power_baseline(plan.quiet).and_then(|()| {
            if plan.load.is_load() {
                super::load::run(&mut self, plan, suite, plan.load)
            } else {
                self.run_schedule(plan, suite)
            }
        });
        r.map_err(|e| self.out.explain(e, in_flight))
    }

    fn run_schedule(&mut self, plan: &Plan, suite: &Suite) -> Result<RunStatus> {
        let slots = std::mem::take(&mut self.slots);
        let control = plan.control;
        let mut tally = Tally::default();
        let mut position = 0usize;
        let mut status = RunStatus::Complete;
        let mut detail = String::new();
        loop {
            if interrupted() {
                status = RunStatus::Interrupted;
                break;
            }
            if let Some(why) = control.stop_now(self.out.origin.elapsed(), tally.measured) {
                detail = why;
                break;
            }
            let Some(slot) = control.next_slot(&slots, position, tally.measured) else {
                detail = control.completed(&slots, position);
                break;
            };
            if position > 0 && !plan.cooldown.is_zero() {
                interrupt::cool_down(plan.cooldown, TICK, || self.out.flush_telemetry(false))?;
            }
            let rec = self.request(plan, suite, slot, position, tally.written)?;
            tally.add(rec.warmup, rec.status, rec.chunk_token_total() > 0);
            position += 1;
            if rec.status == Status::Interrupted {
                status = RunStatus::Interrupted;
                break;
            }
            if let Some(why) = self.server_gone.take() {
                status = RunStatus::Crashed;
                detail = why;
                break;
            }
        }
        if status == RunStatus::Interrupted {
            detail = "interrupted by signal".into();
        }
        self.out.finish(status, &detail, tally.written)?;
        self.progress
            .done(&tally, self.out.origin.elapsed(), &detail);
        Ok(status)
    }

    /// One request: wait for an idle server, send, read every chunk until the end, the
    /// deadline or Ctrl-C, and make the record durable.
    pub(super) fn request(
        &mut self,
        plan: &Plan,
        suite: &Suite,
        slot: Slot,
        position: usize,
        index: u32,
    ) -> Result<ServerRequest> {
        let prepared = Prepared::new(plan, suite, slot, index)?;
        let test = &suite.tests[slot.test];
        let wait_idle = |bound: Duration| {
            server::wait_idle(
                &plan.url,
                plan.detected.kind,
                plan.pid,
                plan.quiet_period,
                bound,
                &interrupted,
            )
        };
        let idle = wait_idle(plan.idle_timeout);
        let mut still_busy = idle.busy;
        let before = plan.pid.map(|p| (process::rss_kb(p), process::cpu_ms(p)));
        self.progress.start_request(position, &test.id, slot.warmup);
        // A server answering HTTP 503 is busy and did not start this request: wait for it
        // (bounded by --idle-timeout in all) and send again; each 503 is kept in `idle_wait`.
        let mut busy = Busy {
            waited: idle.waited,
            how: idle.how,
            answers: Vec::new(),
        };
        let outcome = loop {
            let mut hooks = Sequential {
                rec: self,
                position,
                test_id: &test.id,
                fsync: plan.fsync_checkpoints,
            };
            let o = attempt(plan, &prepared, &mut busy, still_busy, false, &mut hooks)?;
            if let Some(why) = o.gone.clone() {
                self.server_gone = Some(why);
            }
            if o.retry {
                let w = wait_idle(plan.idle_timeout.saturating_sub(busy.waited));
                busy.waited += w.waited;
                busy.how = w.how;
                still_busy = w.busy;
                self.out.flush_telemetry(false)?;
                continue;
            }
            break o;
        };
        let t0 = outcome.t0;
        let (req, frames) = finish(plan, test, &prepared, outcome, index, before);
        self.out.request_done(&frames)?;
        let end = t0 + Duration::from_micros(req.end_us);
        self.progress
            .finish_request(position, &test.id, end.duration_since(t0), &summary(&req));
        Ok(req)
    }
}

/// What a finished request's progress line says.
pub(super) fn summary(req: &ServerRequest) -> String {
    let n = req.chunk_token_total();
    format!(
        "{}: {} chunks, {n} tokens ({}{}), {:.1} s",
        req.status.as_str(),
        req.chunks(),
        req.count_source.as_str(),
        match req.server_total {
            Some(t) if t as i64 != n as i64 => format!(", server says {t}"),
            _ => String::new(),
        },
        req.end_us as f64 / 1e6
    )
}

/// What one request sends, decided before it is sent (the same for every attempt).
pub(super) struct Prepared {
    pub(super) endpoint: &'static str,
    pub(super) body: String,
    /// The record every attempt starts from (status in flight, no times yet).
    pub(super) template: ServerRequest,
    pub(super) deadline: Option<Duration>,
}

impl Prepared {
    pub(super) fn new(plan: &Plan, suite: &Suite, slot: Slot, index: u32) -> Result<Prepared> {
        let test = &suite.tests[slot.test];
        let kind = plan.detected.kind;
        let protocol = plan.detected.protocol;
        // /rkllm_chat cannot take a cap: none is sent, none recorded as sent.
        let cap = (protocol != Protocol::RkllmChat)
            .then(|| plan.max_new_tokens.or(test.max_new_tokens))
            .flatten();
        let think = plan.think.or(test.think);
        let ids = test.input_tokens.map(crate::token_input::ids);
        let prompt = match &ids {
            Some(ids) => server::Prompt::Tokens(ids),
            None => server::Prompt::Text(&test.prompt),
        };
        // Refused in `run` before the first request when the server takes no token ids.
        let endpoint = server::endpoint(kind, protocol, ids.is_some()).map_err(Error::internal)?;
        let body = server::body(
            kind,
            protocol,
            &plan.model,
            prompt,
            cap,
            think,
            &plan.sampling,
        );
        let template = ServerRequest {
            index,
            test_id: test.id.clone(),
            name: test.name.clone(),
            category: test.category.clone(),
            prompt: match test.input_tokens {
                Some(n) => crate::token_input::describe(n),
                None => test.prompt.clone(),
            },
            repeat_index: slot.repeat,
            warmup: slot.warmup,
            think: think.unwrap_or(false),
            max_new_tokens: cap.map(|c| c as i32).unwrap_or(-1),
            status: Status::InFlight,
            endpoint: endpoint.into(),
            body: body.clone(),
            ..Default::default()
        };
        Ok(Prepared {
            endpoint,
            body,
            template,
            deadline: plan.timeout.or(test.timeout),
        })
    }
}

/// What an exchange hands out while it runs: checkpoints of the request in flight, and a
/// tick for telemetry and progress. The sequential recorder does both itself; a load worker
/// hands them to the recorder's thread.
pub(super) trait Hooks {
    /// The request is about to be sent at `t0`.
    fn sent(&mut self, _t0: Instant) {}
    fn checkpoint(&mut self, snap: ServerRequest) -> Result<()>;
    fn tick(&mut self, now: Instant, t0: Instant, chunks: u32) -> Result<()>;
}

/// The sequential recorder's hooks: the journal holds the one request in flight.
struct Sequential<'a> {
    rec: &'a mut Recorder,
    position: usize,
    test_id: &'a str,
    /// `--fsync-checkpoints`.
    fsync: bool,
}

impl Hooks for Sequential<'_> {
    fn checkpoint(&mut self, snap: ServerRequest) -> Result<()> {
        self.rec
            .out
            .checkpoint_anew(&[Record::ServerPartial(snap)], self.fsync)
    }

    fn tick(&mut self, now: Instant, t0: Instant, chunks: u32) -> Result<()> {
        self.rec.out.flush_telemetry(false)?;
        let sampler = self.rec.out.sampler();
        self.rec.progress.tick(
            self.position,
            self.test_id,
            chunks,
            None,
            now.duration_since(t0),
            || {
                sampler
                    .map(|s| crate::record::telemetry::progress_line(&s.latest()))
                    .unwrap_or_default()
            },
        );
        Ok(())
    }
}

/// How one send ended.
pub(super) struct Outcome {
    cap: Capture,
    pub(super) t0: Instant,
    stopped: Option<Status>,
    failure: Option<String>,
    /// HTTP 503 with time left to wait: send again after an idle wait (sequential only).
    retry: bool,
    /// Nothing listens at the server's address any more: the run ends.
    pub(super) gone: Option<String>,
}

/// One send of `prepared` and every chunk of its answer, until the end, the deadline, a
/// failure or Ctrl-C. `under_load`: an HTTP 503 is a rejection, recorded as it came, never
/// waited out (a level offers its load whatever the server does).
pub(super) fn attempt(
    plan: &Plan,
    prepared: &Prepared,
    busy: &mut Busy,
    still_busy: bool,
    under_load: bool,
    hooks: &mut dyn Hooks,
) -> Result<Outcome> {
    let kind = plan.detected.kind;
    let protocol = plan.detected.protocol;
    let origin = plan.origin;
    let t0 = Instant::now();
    let mut req = prepared.template.clone();
    req.start_us = micros(t0.duration_since(origin));
    req.idle_wait_us = micros(busy.waited);
    req.idle_wait = busy.text();
    let deadline = prepared.deadline.map(|d| t0 + d);
    let us = |at: Instant| micros(at.saturating_duration_since(t0));
    let mut o = Outcome {
        cap: Capture::new(protocol, req)
            .with_gap_cluster(kind.gap_cluster_us(plan.token_gap_us))
            .ignoring_counts(kind.not_token_counts()),
        t0,
        stopped: None,
        failure: None,
        retry: false,
        gone: None,
    };
    let mut last_read = 0u32;
    let mut checkpointed = 0usize;
    let mut last_checkpoint = Instant::now();
    // Never start a request into a server that says it is busy, nor after Ctrl-C.
    if interrupted() {
        o.stopped = Some(Status::Interrupted);
        return Ok(o);
    }
    if still_busy {
        o.failure = Some(format!(
            "not sent: the server was still busy after --idle-timeout {} ({}); rkbench never starts a request into a busy server",
            humantime::format_duration(plan.idle_timeout),
            busy.how
        ));
        return Ok(o);
    }
    hooks.sent(t0);
    match client::send(
        &plan.url,
        "POST",
        prepared.endpoint,
        Some(&prepared.body),
        CONNECT_TIMEOUT,
        TICK,
    ) {
        Err(e) => {
            if unreachable(&e) {
                o.gone = Some(format!(
                    "the server stopped answering at request {} ({} refused or unreachable: {e}): it crashed or was stopped; the run ends here, with every chunk recorded before",
                    prepared.template.index, plan.url
                ));
            }
            o.failure = Some(format!("cannot send the request to {}: {e}", plan.url))
        }
        Ok(mut x) => loop {
            let ev = match x.poll() {
                Ok(ev) => ev,
                Err(e) => {
                    o.failure = Some(format!(
                        "reading the response from {}{}: {e}",
                        plan.url,
                        protocol.endpoint()
                    ));
                    o.cap.abandon(us(Instant::now()));
                    break;
                }
            };
            match ev {
                Event::Head { status, at } => {
                    o.cap.req.headers_us = Some(us(at));
                    o.cap.req.http_status = status;
                    if status != 200 {
                        // The body is only the message: at most 10 s of it, within
                        // the request's deadline and Ctrl-C like every other read.
                        let body_until = Instant::now() + Duration::from_secs(10);
                        let (rest, cut) = x.read_for_message(
                            1 << 20,
                            deadline.map_or(body_until, |d| d.min(body_until)),
                            interrupted,
                        );
                        let now = Instant::now();
                        let mut said: String =
                            String::from_utf8_lossy(&rest).chars().take(200).collect();
                        if said.trim().is_empty() {
                            said = "(no message)".into();
                        }
                        if let Some(why) = cut {
                            said.push_str(&format!(" (answer cut: {why})"));
                        }
                        if status == 503 && !under_load {
                            busy.answers.push(format!(
                                "+{:.3} s: {}",
                                busy.waited.as_secs_f64(),
                                said.chars().take(100).collect::<String>()
                            ));
                            busy.waited += now.duration_since(t0);
                            if busy.waited < plan.idle_timeout && !interrupted() {
                                x.close();
                                o.retry = true;
                                break;
                            }
                            o.cap.req.idle_wait_us = micros(busy.waited);
                            o.cap.req.idle_wait = busy.text();
                        }
                        o.cap.error_body(&rest, us(now), last_read + 1);
                        o.cap.req.close_us = Some(us(now));
                        o.failure = Some(if status == 503 && under_load {
                            format!("HTTP 503: rejected under load (the server was busy and did not take the request; not retried): {said}")
                        } else if status == 503 {
                            format!(
                                "HTTP 503: the server stayed busy through {} answer(s) over {:.1} s (--idle-timeout {}); rkbench never measures a request sent into a busy server: {said}",
                                busy.answers.len(),
                                busy.waited.as_secs_f64(),
                                humantime::format_duration(plan.idle_timeout)
                            )
                        } else if status == 401 || status == 403 {
                            format!("HTTP {status}: {said}; {}", key_hint(&plan.url))
                        } else if (300..400).contains(&status) {
                            redirect(status, x.header("location"), &plan.url)
                        } else {
                            format!("HTTP {status}: {said}")
                        });
                        if interrupted() {
                            // Ctrl-C while waiting out a busy server or reading an
                            // error answer: an interrupt.
                            o.stopped = Some(Status::Interrupted);
                        }
                        break;
                    }
                }
                Event::Data { bytes, at, read } => {
                    last_read = read;
                    o.cap.data(&bytes, us(at), read);
                    if let Some(why) = o.cap.overflow() {
                        o.failure = Some(format!(
                            "reading the response from {}{}: {why}",
                            plan.url,
                            protocol.endpoint()
                        ));
                        x.close();
                        o.cap.abandon(us(Instant::now()));
                        break;
                    }
                }
                Event::End { at, clean } => {
                    o.cap.end(us(at), last_read);
                    if !clean {
                        o.failure = Some("the server closed the connection mid-body".into());
                    }
                    break;
                }
                Event::Tick => {}
            }
            let now = Instant::now();
            if interrupted() {
                o.stopped = Some(Status::Interrupted);
            } else if deadline.is_some_and(|d| now >= d) {
                o.stopped = Some(Status::Timeout);
            }
            if o.stopped.is_some() {
                x.close();
                o.cap.abandon(us(now));
                break;
            }
            if !x.has_head() && now.duration_since(t0) >= plan.head_timeout {
                o.failure = Some(format!(
                    "no response head from {}{} within --head-timeout {} (the server accepted the request but did not answer); raise --head-timeout if its prefill takes longer, or check the server",
                    plan.url,
                    protocol.endpoint(),
                    humantime::format_duration(plan.head_timeout)
                ));
                x.close();
                o.cap.abandon(us(now));
                break;
            }
            if o.cap.req.chunks() > checkpointed
                && now.duration_since(last_checkpoint) >= plan.checkpoint_interval
            {
                let mut snap = o.cap.snapshot();
                plan.secret.request(&mut snap);
                snap.end_us = us(now);
                hooks.checkpoint(snap)?;
                checkpointed = o.cap.req.chunks();
                last_checkpoint = now;
            }
            let chunks = u32::try_from(o.cap.tokens_so_far()).unwrap_or(u32::MAX);
            hooks.tick(now, t0, chunks)?;
        },
    }
    Ok(o)
}

/// The finished record of an exchange and the frames that make it durable (its `Input`
/// record, then the request). `before`: the server process's RSS and CPU before it was sent.
pub(super) fn finish(
    plan: &Plan,
    test: &crate::suite::TestCase,
    prepared: &Prepared,
    o: Outcome,
    index: u32,
    before: Option<(Option<i64>, Option<i64>)>,
) -> (ServerRequest, Vec<Record>) {
    let t0 = o.t0;
    let us = |at: Instant| micros(at.saturating_duration_since(t0));
    let end = Instant::now();
    let unfinished = o.cap.unfinished();
    let mut req = o.cap.finish();
    req.end_us = req.end_us.max(us(end));
    let n = req.chunk_token_total();
    (req.status, req.detail) = match (o.stopped, o.failure) {
        (Some(Status::Timeout), _) => (
            Status::Timeout,
            format!(
                "deadline of {} passed; stream closed after {} chunks ({n} tokens, {})",
                humantime::format_duration(prepared.deadline.unwrap_or_default()),
                req.chunks(),
                req.count_source.as_str()
            ),
        ),
        (Some(s), _) => (s, format!("interrupted after {} chunks", req.chunks())),
        (None, Some(f)) => (Status::Error, f),
        (None, None) if unfinished.is_some() => (Status::Error, unfinished.unwrap_or_default()),
        (None, None) => (Status::Ok, String::new()),
    };
    // An exact token input is exactly its ids: the input count where the server gave none.
    if req.prompt_tokens.is_none() {
        req.prompt_tokens = test.input_tokens.map(u64::from);
    }
    let echoed = plan.secret.request(&mut req);
    if !echoed.is_empty() {
        let said = format!(
            "the server echoed the API key ({API_KEY_VAR}) in: {}; redacted as {}",
            echoed.join(", "),
            redact::MARKER
        );
        crate::err_line!("rkbench: warning: request {index} ({}): {said}", test.id);
        if !req.detail.is_empty() {
            req.detail.push_str("; ");
        }
        req.detail.push_str(&said);
    }
    if let (Some(p), Some((rss0, cpu0))) = (plan.pid, before) {
        let (rss1, cpu1) = (process::rss_kb(p), process::cpu_ms(p));
        let mut f = |k: &str, v: Option<i64>| {
            if let Some(v) = v {
                req.process.push(Fact {
                    key: k.into(),
                    value: v.to_string(),
                });
            }
        };
        f("rss_kb.before", rss0);
        f("rss_kb.after", rss1);
        f("cpu_ms", cpu0.zip(cpu1).map(|(a, b)| b - a));
        req.process.sort();
    }
    // The trace says what was fed, as the runtime path does: a request's `Input` record.
    let input = test
        .input_tokens
        .map(|n| Record::Input(crate::record::run::input_record(index, Some(n))));
    let frames: Vec<Record> = input
        .into_iter()
        .chain([Record::ServerRequest(req.clone())])
        .collect();
    (req, frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_waits_list_the_first_503s_and_count_the_rest() {
        let mut b = Busy {
            waited: Duration::from_secs(3),
            how: "quiet period of 1s".into(),
            answers: Vec::new(),
        };
        assert_eq!(b.text(), "quiet period of 1s");
        b.answers = (0..5).map(|i| format!("+{i}.000 s: busy")).collect();
        assert_eq!(
            b.text(),
            "5 HTTP 503 (busy) answer(s), each waited out [+0.000 s: busy; +1.000 s: busy; +2.000 s: busy; 2 more]; last wait: quiet period of 1s"
        );
    }
}
