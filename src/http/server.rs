//! Which server is on the other end, and how to talk to it: detection by each server's own
//! endpoints (every probe and its answer kept as evidence), the request body, the idle wait,
//! and the server process on this machine.
use super::capture::Protocol;
use super::client::{self, Url};
pub use super::kind::{SamplingHonour, ServerKind};
use crate::trace::Fact;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// What Rockchip's `/rkllm_chat` server fixes at `rkllm_init` (its `flask_server.py`): the
/// request cannot change sampling or the output cap, so the run's parameters are these.
pub const RKLLM_CHAT_FIXED: Sampling = Sampling {
    temperature: 0.8,
    top_p: 0.9,
    top_k: 1,
    repeat_penalty: 1.1,
    frequency_penalty: 0.0,
    presence_penalty: 0.0,
    seed: 0,
};

/// Facts about how the run is measured, kept with the detection evidence: the gap-cluster
/// threshold, and for `/rkllm_chat` that sampling and the cap are the server's.
pub fn run_facts(kind: ServerKind, protocol: Protocol, token_gap_us: Option<u64>) -> Vec<Fact> {
    let mut v = Vec::new();
    if let Some(rule) = kind.gap_cluster_us(token_gap_us) {
        v.push(Fact {
            key: crate::trace::server::GAP_THRESHOLD_FACT.into(),
            value: crate::trace::server::gap_rule_fact(rule),
        });
    }
    if protocol == Protocol::RkllmChat {
        let f = RKLLM_CHAT_FIXED;
        v.push(Fact {
            key: crate::trace::server::FIXED_SAMPLING_FACT.into(),
            value: format!(
                "/rkllm_chat takes no sampling values or output cap; the server's own, fixed at its start, are recorded as the run's: top_k {}, top_p {}, temperature {}, repeat_penalty {}, frequency_penalty {}, presence_penalty {}, max_new_tokens 4096 (1.2.1+)",
                f.top_k, f.top_p, f.temperature, f.repeat_penalty, f.frequency_penalty, f.presence_penalty
            ),
        });
    }
    v
}

/// What detection found.
#[derive(Debug, Clone)]
pub struct Detected {
    pub kind: ServerKind,
    /// The protocol rkbench streams with (Rockchip's server: by which API answered).
    pub protocol: Protocol,
    pub version: String,
    /// `probe …` → answer, sorted.
    pub evidence: Vec<Fact>,
    /// At least one probe got an HTTP answer.
    pub reachable: bool,
    /// What the first probe that got no answer met, in one line for `--server URL: …`.
    pub no_answer: Option<String>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The probes of one detection: their evidence, and what the first that got no answer met.
struct Probes<'a> {
    url: &'a Url,
    evidence: Vec<Fact>,
    no_answer: Option<String>,
    /// A probe met a server that accepted it and sent nothing in [`PROBE_TIMEOUT`]: the rest
    /// would each wait as long for nothing.
    silent: bool,
}

/// What a probe's failure means, in one line naming what to do.
fn no_answer(url: &Url, path: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        _ if client::no_head_in_time(e) => format!(
            "the server {e} to GET {path}; it is stuck or not an HTTP server: check the process listening on port {}",
            url.port
        ),
        TimedOut | WouldBlock => format!(
            "GET {path}: the server {e}; check the server at {url}"
        ),
        InvalidData | UnexpectedEof => format!(
            "GET {path} was answered, but not with an answer rkbench can read ({e}); check that it is an LLM server speaking plain HTTP/1.1"
        ),
        _ => format!(
            "no HTTP server answers there ({e}); start the server or fix the address"
        ),
    }
}

impl Probes<'_> {
    /// Probe one endpoint; the answer in one line for the evidence.
    fn get(&mut self, path: &str) -> Option<(u16, String)> {
        let key = format!("probe GET {path}");
        if self.silent {
            self.evidence.push(Fact {
                key,
                value: "not sent (an earlier probe got no answer)".into(),
            });
            return None;
        }
        let r = client::fetch(self.url, "GET", path, None, PROBE_TIMEOUT);
        let value = match &r {
            Ok((status, body)) => {
                let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
                let cut: String = one_line.chars().take(160).collect();
                format!("HTTP {status}: {cut}")
            }
            Err(e) => {
                self.silent |= client::no_head_in_time(e);
                let url = self.url;
                self.no_answer
                    .get_or_insert_with(|| no_answer(url, path, e));
                format!("no answer ({e})")
            }
        };
        self.evidence.push(Fact { key, value });
        r.ok()
    }
}

fn json_of(body: &str) -> Option<Value> {
    serde_json::from_str(body).ok()
}

/// [`detect`], waiting while the server says it is not ready: an HTTP 503 to a probe
/// (llama-server answers every route with 503 "Loading model" until its model is loaded, which
/// takes a minute for a large model on a board). Detecting then would take it for a generic
/// server. At most `bound`; `waiting` is told once, with the answer, when the wait begins. The
/// wait is recorded in the evidence.
pub fn detect_when_ready(
    url: &Url,
    given: Option<ServerKind>,
    bound: Duration,
    mut waiting: impl FnMut(&str),
) -> Detected {
    let start = Instant::now();
    let mut told = false;
    loop {
        let mut d = detect(url, given);
        let busy = d
            .evidence
            .iter()
            .find(|f| f.value.starts_with("HTTP 503"))
            .map(|f| format!("{}: {}", f.key, f.value));
        match busy {
            Some(why) if start.elapsed() < bound => {
                if !told {
                    waiting(&why);
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            _ => {
                if told {
                    d.evidence.push(Fact {
                        key: "waited for the server to be ready".into(),
                        value: format!(
                            "{:.1} s of HTTP 503 answers before detecting{}",
                            start.elapsed().as_secs_f64(),
                            if busy.is_some() {
                                " (bound reached: still 503)"
                            } else {
                                ""
                            }
                        ),
                    });
                    d.evidence.sort();
                }
                return d;
            }
        }
    }
}

/// Detect the server by its own endpoints, in an order where each probe is harmless to the
/// others (never `/api/generate`: on rkllama one without a prompt unloads the model).
pub fn detect(url: &Url, given: Option<ServerKind>) -> Detected {
    let mut ev = Probes {
        url,
        evidence: Vec::new(),
        no_answer: None,
        silent: false,
    };
    let mut reachable = false;
    let mut found: Option<(ServerKind, String)> = None;
    // llama-server: /props has build_info.
    if let Some((200, body)) = ev.get("/props") {
        reachable = true;
        if let Some(b) = json_of(&body)
            .as_ref()
            .and_then(|v| v.get("build_info"))
            .and_then(Value::as_str)
        {
            found = Some((ServerKind::LlamaServer, b.to_string()));
        }
    } else if ev
        .evidence
        .last()
        .is_some_and(|f| f.value.starts_with("HTTP"))
    {
        reachable = true;
    }
    // rkllama: its welcome message at /.
    if found.is_none() {
        if let Some((status, body)) = ev.get("/") {
            reachable = true;
            if status == 200 && body.contains("RKLLama") {
                let v = ev
                    .get("/api/version")
                    .and_then(|(_, b)| json_of(&b))
                    .and_then(|v| v.get("version").and_then(Value::as_str).map(String::from))
                    .unwrap_or_default();
                found = Some((ServerKind::Rkllama, v));
            }
        }
    }
    // Rockchip 1.3.0: /v1/models owned_by "rkllm".
    if found.is_none() {
        if let Some((status, body)) = ev.get("/v1/models") {
            reachable = true;
            let owned_by_rkllm = json_of(&body)
                .and_then(|v| v.get("data").and_then(Value::as_array).cloned())
                .is_some_and(|d| {
                    d.iter()
                        .any(|m| m.get("owned_by").and_then(Value::as_str) == Some("rkllm"))
                });
            if status == 200 && owned_by_rkllm {
                found = Some((ServerKind::RkllmServer, String::new()));
            }
        }
    }
    // Rockchip 1.1.x-1.2.3: no introspection route; a GET on its POST-only /rkllm_chat gets
    // Flask's 405, other servers 404. Harmless: the route's view never runs for a GET.
    let mut legacy = false;
    let forced_rkllm = given == Some(ServerKind::RkllmServer)
        && !found
            .as_ref()
            .is_some_and(|(k, _)| *k == ServerKind::RkllmServer);
    if found.is_none() || forced_rkllm {
        if let Some((status, _)) = ev.get("/rkllm_chat") {
            reachable = true;
            // 405 only: any other answer (a 503 while a server loads its model, a 401) is
            // not the route's Flask refusal of a GET.
            if status == 405 {
                legacy = true;
                found = Some((ServerKind::RkllmServer, String::new()));
            }
        }
    }
    // The original tool's server: /v1/health says whether a model is loaded (its /v1/models
    // says owned_by "rockchip", which is not Rockchip's own server).
    if found.is_none() {
        if let Some((200, body)) = ev.get("/v1/health") {
            reachable = true;
            let health = json_of(&body).filter(|v| {
                v.get("status").and_then(Value::as_str) == Some("healthy")
                    && v.get("model_loaded").is_some()
            });
            if health.is_some() {
                // No version route; the loaded model is in the probe's answer.
                found = Some((ServerKind::RockchipLlama, String::new()));
            }
        }
    }
    // Ollama: /api/version (rkllama answered above).
    if found.is_none() {
        if let Some((200, body)) = ev.get("/api/version") {
            reachable = true;
            if let Some(v) = json_of(&body)
                .as_ref()
                .and_then(|v| v.get("version"))
                .and_then(Value::as_str)
            {
                found = Some((ServerKind::Ollama, v.to_string()));
            }
        }
    }
    let (kind, version) = match (given, found) {
        (Some(k), Some((f, v))) if k == f => (k, v),
        (Some(k), _) => (k, String::new()),
        (None, Some((f, v))) => (f, v),
        (None, None) => (ServerKind::Generic, String::new()),
    };
    let protocol = if kind == ServerKind::RkllmServer && legacy {
        Protocol::RkllmChat
    } else {
        kind.default_protocol()
    };
    let Probes {
        mut evidence,
        no_answer,
        ..
    } = ev;
    evidence.sort();
    Detected {
        kind,
        protocol,
        version,
        evidence,
        reachable,
        no_answer,
    }
}

/// Sampling and thinking values sent with every request (explicit: no server default applies).
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: i32,
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub seed: u64,
}

/// f32 values as the decimal the user typed (0.95, not 0.949999988079071).
fn num(x: f32) -> Value {
    let s = format!("{x}");
    serde_json::from_str(&s).unwrap_or(Value::Null)
}

/// What a request sends as its prompt.
#[derive(Debug, Clone, Copy)]
pub enum Prompt<'a> {
    /// Text, sent as the user message of a chat.
    Text(&'a str),
    /// An exact token input ([`crate::token_input`]): these ids, with no tokenizer or chat
    /// template in between.
    Tokens(&'a [i32]),
}

/// Where an exact token input goes: OpenAI's `/v1/completions`, whose `prompt` may be a list
/// of token ids (its chat endpoint has no way to take ids).
pub const TOKEN_ENDPOINT: &str = "/v1/completions";

/// The endpoint a prompt is posted to: text to the protocol's streaming endpoint; token ids to
/// [`TOKEN_ENDPOINT`] where the server takes them there — llama-server, and a generic
/// OpenAI-compatible server (vLLM and SGLang do; one that does not answers each request with
/// an HTTP error, recorded as such). `Err` says why a server has no token-id API.
pub fn endpoint(
    kind: ServerKind,
    protocol: Protocol,
    tokens: bool,
) -> Result<&'static str, String> {
    if !tokens {
        return Ok(protocol.endpoint());
    }
    match (kind, protocol) {
        (ServerKind::LlamaServer | ServerKind::Generic, Protocol::OpenAiSse) => Ok(TOKEN_ENDPOINT),
        (ServerKind::RkllmServer, _) => Err("Rockchip's server takes only chat messages (it tokenizes the last user message itself)".into()),
        (ServerKind::Rkllama, _) => Err("rkllama takes only text (it applies the model's chat template and tokenizer itself)".into()),
        (ServerKind::RockchipLlama, _) => Err("the original tool's server takes only text prompts".into()),
        (ServerKind::Ollama, _) => Err("Ollama's APIs take only text prompts".into()),
        (k, p) => Err(format!("{} over {} takes no token ids", k.as_str(), p.as_str())),
    }
}

/// The request body for one prompt, exactly as it will be sent (to [`endpoint`]). A token
/// prompt is only built for a server [`endpoint`] accepts it for.
pub fn body(
    kind: ServerKind,
    protocol: Protocol,
    model: &str,
    prompt: Prompt,
    cap: Option<u32>,
    think: Option<bool>,
    s: &Sampling,
) -> String {
    let (messages, tokens) = match prompt {
        Prompt::Text(t) => (json!([{ "role": "user", "content": t }]), None),
        Prompt::Tokens(ids) => (Value::Null, Some(ids)),
    };
    let mut m = Map::new();
    if protocol == Protocol::RkllmChat {
        // It reads `messages` (the last user message), `stream`, `enable_thinking`, `tools`;
        // nothing else would reach the runtime (and `tools` changes the prompt).
        m.insert("messages".into(), messages);
        m.insert("stream".into(), json!(true));
        if let Some(t) = think {
            m.insert("enable_thinking".into(), json!(t));
        }
        return Value::Object(m).to_string();
    }
    m.insert("model".into(), json!(model));
    match tokens {
        Some(ids) => m.insert("prompt".into(), json!(ids)),
        None => m.insert("messages".into(), messages),
    };
    m.insert("stream".into(), json!(true));
    match protocol {
        Protocol::OpenAiSse => {
            m.insert("temperature".into(), num(s.temperature));
            m.insert("top_p".into(), num(s.top_p));
            m.insert("top_k".into(), json!(s.top_k));
            m.insert("repeat_penalty".into(), num(s.repeat_penalty));
            m.insert("frequency_penalty".into(), num(s.frequency_penalty));
            m.insert("presence_penalty".into(), num(s.presence_penalty));
            m.insert("seed".into(), json!(s.seed));
            // A generic server is also asked for its running count on every chunk: vLLM and
            // SGLang then count each chunk exactly (`server-per-chunk`); others ignore it.
            let mut stream = json!({ "include_usage": true });
            if kind == ServerKind::Generic {
                stream["continuous_usage_stats"] = json!(true);
            }
            m.insert("stream_options".into(), stream);
            if let Some(c) = cap {
                m.insert("max_tokens".into(), json!(c));
                m.insert("max_completion_tokens".into(), json!(c));
            }
            match kind {
                ServerKind::LlamaServer => {
                    m.insert("cache_prompt".into(), json!(false));
                    m.insert("timings_per_token".into(), json!(true));
                    // An exact token input measures a fixed output length, as the runtime's
                    // `ignore_eos_token`; no chat template, so no thinking switch.
                    if tokens.is_some() {
                        if cap.is_some() {
                            m.insert("ignore_eos".into(), json!(true));
                        }
                    } else if let Some(t) = think {
                        m.insert(
                            "chat_template_kwargs".into(),
                            json!({ "enable_thinking": t }),
                        );
                    }
                }
                ServerKind::RkllmServer => {
                    if let Some(t) = think {
                        m.insert("enable_thinking".into(), json!(t));
                    }
                }
                _ => {}
            }
        }
        Protocol::OllamaNdjson => {
            let mut o = Map::new();
            o.insert("temperature".into(), num(s.temperature));
            o.insert("top_p".into(), num(s.top_p));
            o.insert("top_k".into(), json!(s.top_k));
            o.insert("repeat_penalty".into(), num(s.repeat_penalty));
            o.insert("frequency_penalty".into(), num(s.frequency_penalty));
            o.insert("presence_penalty".into(), num(s.presence_penalty));
            o.insert("seed".into(), json!(s.seed));
            if let Some(c) = cap {
                o.insert("num_predict".into(), json!(c));
                if kind == ServerKind::Rkllama {
                    o.insert("max_new_tokens".into(), json!(c));
                }
            }
            m.insert("options".into(), Value::Object(o));
            if let Some(t) = think {
                m.insert("think".into(), json!(t));
                if kind == ServerKind::Rkllama {
                    m.insert("enable_thinking".into(), json!(t));
                }
            }
        }
        Protocol::RkllmChat => {}
    }
    Value::Object(m).to_string()
}

/// The same body without streaming (to ask the server for its own count of the same request).
pub fn non_streaming(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut m)) => {
            m.insert("stream".into(), json!(false));
            m.remove("stream_options");
            Value::Object(m).to_string()
        }
        _ => body.to_string(),
    }
}

/// How a wait for an idle server ended.
#[derive(Debug, Clone)]
pub struct IdleWait {
    pub waited: Duration,
    pub how: String,
    /// The server said it is still busy when the bound was reached (llama-server `/slots`):
    /// the request must not be sent. A heuristic wait (process CPU, quiet period) never sets
    /// it: it cannot know, and the request goes out with the wait recorded.
    pub busy: bool,
}

/// How [`wait_idle`] decides, in one line for the trace.
pub fn idle_method(kind: ServerKind, have_pid: bool, quiet: Duration) -> String {
    let q = humantime::format_duration(quiet);
    let mut m = match (kind, have_pid) {
        (ServerKind::LlamaServer, _) => "llama-server /slots is_processing".to_string(),
        (_, true) => format!("server process CPU (with its child processes) quiet for {q}"),
        _ => format!("quiet period of {q}"),
    };
    if kind == ServerKind::Rkllama {
        m.push_str(" (rkllama's /api/ps last_call is when a request was queued, not when it finished: no busy signal)");
    }
    m.push_str("; an HTTP 503 (busy) answer is waited out and the request sent again");
    m
}

/// Wait until the server is idle, at most `bound`; `interrupted` is checked between polls.
/// llama-server: every slot in `/slots` has `is_processing: false`. A local server process:
/// its CPU time and that of its child processes stays still (< 5 %) for `quiet`. Otherwise:
/// a quiet period of `quiet`. rkllama's `/api/ps` is no help: its `last_call` is set when a
/// task is queued to the model's worker, never when generation ends (docs/SERVERS.md).
pub fn wait_idle(
    url: &Url,
    kind: ServerKind,
    pid: Option<u32>,
    quiet: Duration,
    bound: Duration,
    interrupted: &dyn Fn() -> bool,
) -> IdleWait {
    let start = Instant::now();
    let poll = Duration::from_millis(50);
    if kind == ServerKind::LlamaServer {
        let mut polls = 0u32;
        loop {
            polls += 1;
            match client::fetch(url, "GET", "/slots", None, PROBE_TIMEOUT) {
                Ok((200, b)) => {
                    let busy = json_of(&b).and_then(|v| v.as_array().cloned()).map(|a| {
                        a.iter()
                            .filter(|s| s.get("is_processing") == Some(&json!(true)))
                            .count()
                    });
                    match busy {
                        Some(0) => {
                            return IdleWait {
                                waited: start.elapsed(),
                                how: format!("/slots idle after {polls} poll(s)"),
                                busy: false,
                            }
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                _ => break,
            }
            if start.elapsed() >= bound || interrupted() {
                return IdleWait {
                    waited: start.elapsed(),
                    how: format!(
                        "/slots still busy after {} (bound reached)",
                        humantime::format_duration(bound)
                    ),
                    busy: !interrupted(),
                };
            }
            std::thread::sleep(poll);
        }
    }
    if let Some(pid) = pid {
        // Idle = the process used under 5 % of one core over the last `quiet` (a window, not
        // per poll: CPU time comes in 10 ms ticks, and a server's event loop wakes now and then).
        let mut history: std::collections::VecDeque<(Instant, i64)> = Default::default();
        while let Some(cpu) = super::process::tree_cpu_ms(pid) {
            let now = Instant::now();
            history.push_back((now, cpu));
            while history.len() > 1 && now.duration_since(history[1].0) >= quiet {
                history.pop_front();
            }
            let (t_old, c_old) = history[0];
            let window = now.duration_since(t_old);
            if window >= quiet && (cpu - c_old) * 20 <= window.as_millis() as i64 {
                return IdleWait {
                    waited: start.elapsed(),
                    how: format!(
                        "server process {pid} (with its children) CPU quiet (< 5 %) for {}",
                        humantime::format_duration(quiet)
                    ),
                    busy: false,
                };
            }
            if start.elapsed() >= bound || interrupted() {
                return IdleWait {
                    waited: start.elapsed(),
                    how: format!(
                        "server process {pid} CPU not quiet after {} (bound reached): sent anyway, the CPU is only a hint of work",
                        humantime::format_duration(bound)
                    ),
                    busy: false,
                };
            }
            std::thread::sleep(poll);
        }
    }
    let until = start + quiet;
    while Instant::now() < until && !interrupted() {
        std::thread::sleep(poll.min(until.saturating_duration_since(Instant::now())));
    }
    IdleWait {
        waited: start.elapsed(),
        how: format!(
            "quiet period of {} (the server cannot say whether it is idle)",
            humantime::format_duration(quiet)
        ),
        busy: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> Sampling {
        Sampling {
            temperature: 0.8,
            top_p: 0.95,
            top_k: 1,
            repeat_penalty: 1.1,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: 0,
        }
    }

    #[test]
    fn llama_server_body_has_every_switch() {
        let b: Value = serde_json::from_str(&body(
            ServerKind::LlamaServer,
            Protocol::OpenAiSse,
            "m",
            Prompt::Text("hi"),
            Some(64),
            Some(false),
            &s(),
        ))
        .unwrap();
        assert_eq!(b["max_tokens"], 64);
        assert_eq!(b["max_completion_tokens"], 64);
        assert_eq!(b["cache_prompt"], false);
        assert_eq!(b["timings_per_token"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(b["chat_template_kwargs"]["enable_thinking"], false);
        assert_eq!(b["top_p"].to_string(), "0.95");
        assert_eq!(b["messages"][0]["content"], "hi");
        let n: Value = serde_json::from_str(&non_streaming(&b.to_string())).unwrap();
        assert_eq!(n["stream"], false);
        assert!(n.get("stream_options").is_none());
    }

    #[test]
    fn an_exact_token_input_goes_as_ids_to_v1_completions_or_is_refused() {
        let ids = crate::token_input::ids(3);
        let b: Value = serde_json::from_str(&body(
            ServerKind::LlamaServer,
            Protocol::OpenAiSse,
            "m",
            Prompt::Tokens(&ids),
            Some(64),
            Some(true),
            &s(),
        ))
        .unwrap();
        assert_eq!(b["prompt"], json!([1000, 1001, 1002]));
        assert!(b.get("messages").is_none() && b.get("chat_template_kwargs").is_none());
        assert_eq!(
            (b["max_tokens"].as_u64(), b["ignore_eos"].as_bool()),
            (Some(64), Some(true))
        );
        assert_eq!(b["cache_prompt"], false);
        let ep = |k, p| endpoint(k, p, true);
        assert_eq!(
            ep(ServerKind::LlamaServer, Protocol::OpenAiSse),
            Ok("/v1/completions")
        );
        assert_eq!(
            ep(ServerKind::Generic, Protocol::OpenAiSse),
            Ok("/v1/completions")
        );
        assert_eq!(
            endpoint(ServerKind::Ollama, Protocol::OllamaNdjson, false),
            Ok("/api/chat")
        );
        for (k, p) in [
            (ServerKind::RkllmServer, Protocol::OpenAiSse),
            (ServerKind::RkllmServer, Protocol::RkllmChat),
            (ServerKind::Rkllama, Protocol::OllamaNdjson),
            (ServerKind::RockchipLlama, Protocol::OpenAiSse),
            (ServerKind::Ollama, Protocol::OllamaNdjson),
        ] {
            assert!(ep(k, p).is_err(), "{k:?}");
        }
    }

    #[test]
    fn a_generic_server_is_asked_for_its_running_count() {
        let body_of = |kind| -> Value {
            let b = body(
                kind,
                Protocol::OpenAiSse,
                "m",
                Prompt::Text("hi"),
                Some(8),
                None,
                &s(),
            );
            serde_json::from_str(&b).unwrap()
        };
        let g = body_of(ServerKind::Generic);
        assert_eq!(g["stream_options"]["include_usage"], true);
        assert_eq!(g["stream_options"]["continuous_usage_stats"], true);
        // Asked only where a vLLM or SGLang may answer: the known servers do not have it.
        let l = body_of(ServerKind::LlamaServer);
        assert!(l["stream_options"].get("continuous_usage_stats").is_none());
    }

    #[test]
    fn ollama_and_rkllama_bodies_use_options() {
        let b: Value = serde_json::from_str(&body(
            ServerKind::Rkllama,
            Protocol::OllamaNdjson,
            "qwen",
            Prompt::Text("hi"),
            Some(8),
            Some(true),
            &s(),
        ))
        .unwrap();
        assert_eq!(b["options"]["num_predict"], 8);
        assert_eq!(b["options"]["max_new_tokens"], 8);
        assert_eq!(b["think"], true);
        assert_eq!(b["enable_thinking"], true);
        let o: Value = serde_json::from_str(&body(
            ServerKind::Ollama,
            Protocol::OllamaNdjson,
            "qwen",
            Prompt::Text("hi"),
            None,
            None,
            &s(),
        ))
        .unwrap();
        assert!(o["options"].get("num_predict").is_none());
        assert!(o.get("think").is_none());
    }

    #[test]
    fn rkllm_chat_body_has_only_what_the_server_reads() {
        let b = body(
            ServerKind::RkllmServer,
            Protocol::RkllmChat,
            "qwen",
            Prompt::Text("hi"),
            Some(64),
            Some(true),
            &s(),
        );
        assert_eq!(
            b,
            r#"{"enable_thinking":true,"messages":[{"content":"hi","role":"user"}],"stream":true}"#
        );
        let b = body(
            ServerKind::RkllmServer,
            Protocol::RkllmChat,
            "qwen",
            Prompt::Text("hi"),
            None,
            None,
            &s(),
        );
        assert_eq!(
            b,
            r#"{"messages":[{"content":"hi","role":"user"}],"stream":true}"#
        );
        // The 1.3.0 OpenAI API takes sampling and a cap.
        let o: Value = serde_json::from_str(&body(
            ServerKind::RkllmServer,
            Protocol::OpenAiSse,
            "qwen",
            Prompt::Text("hi"),
            Some(64),
            Some(true),
            &s(),
        ))
        .unwrap();
        assert_eq!(
            (o["max_tokens"].as_u64(), o["top_k"].as_i64()),
            (Some(64), Some(1))
        );
        assert_eq!(o["enable_thinking"], true);
        let facts = run_facts(ServerKind::RkllmServer, Protocol::RkllmChat, None);
        assert_eq!(facts.len(), 2);
        assert!(facts[0].value.starts_with("adaptive ("));
        assert!(
            run_facts(ServerKind::RkllmServer, Protocol::OpenAiSse, Some(2500))[0]
                .value
                .starts_with("2500 us (--token-gap; ")
        );
        assert!(facts[1]
            .value
            .contains("top_k 1, top_p 0.9, temperature 0.8"));
        assert!(run_facts(ServerKind::LlamaServer, Protocol::OpenAiSse, Some(500)).is_empty());
    }

    /// Per kind, from each server's code: which sampling values take effect.
    #[test]
    fn each_kind_says_whether_the_sampling_sent_takes_effect() {
        use SamplingHonour::*;
        let cases = [
            ("llama-server", "openai-sse", Applied),
            ("rkllama", "ollama-ndjson", Applied),
            ("ollama", "ollama-ndjson", Applied),
            ("rkllm-server", "openai-sse", Applied),
            ("rkllm-server", "rkllm-chat", Fixed),
            ("rockchipllama", "openai-sse", Ignored),
            ("generic", "openai-sse", Applied),
            ("a-kind-from-later", "openai-sse", Applied),
        ];
        for (kind, protocol, want) in cases {
            assert_eq!(
                SamplingHonour::of_run(kind, protocol),
                want,
                "{kind} {protocol}"
            );
        }
        assert_eq!(Ignored.as_str(), "ignored by the server");
        assert_eq!(Fixed.as_str(), "fixed by the server");
        assert!(
            SamplingHonour::note("rockchipllama", "openai-sse").contains("inference_config.json")
        );
        assert!(SamplingHonour::note("rkllm-server", "rkllm-chat").contains("top_k 1"));
        assert!(SamplingHonour::note("rkllm-server", "openai-sse").contains("seed is not read"));
    }

    #[test]
    fn kinds_parse() {
        assert_eq!(ServerKind::parse("auto"), Ok(None));
        assert_eq!(ServerKind::parse("rkllama"), Ok(Some(ServerKind::Rkllama)));
        assert!(ServerKind::parse("vllm")
            .unwrap_err()
            .contains("llama-server"));
    }

    /// A server answering GETs from a table (path → status, body); 404 otherwise.
    fn canned(routes: &'static [(&'static str, u16, &'static str)]) -> Url {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                let mut c = c;
                let mut line = String::new();
                let _ = BufReader::new(&c).read_line(&mut line);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .map(|(_, s, b)| (*s, *b))
                    .unwrap_or((404, "{\"detail\":\"Not Found\"}"));
                let _ = write!(
                    c,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    /// llama-server while it loads its model: 503 on every route for `loading`, then itself.
    fn loading_llama_server(loading: Duration) -> Url {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let start = Instant::now();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut line = String::new();
                let _ = BufReader::new(&c).read_line(&mut line);
                let (status, body) = if start.elapsed() < loading {
                    (503, r#"{"error":{"message":"Loading model","code":503}}"#)
                } else if line.contains("/props") {
                    (200, r#"{"build_info":"b1-x"}"#)
                } else {
                    (404, "{}")
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    #[test]
    fn detection_waits_while_the_server_loads_its_model() {
        let url = loading_llama_server(Duration::from_millis(800));
        let mut told = Vec::new();
        let d = detect_when_ready(&url, None, Duration::from_secs(30), |w| {
            told.push(w.to_string())
        });
        // Not taken for a generic server because every route answered 503 at first.
        assert_eq!(d.kind, ServerKind::LlamaServer);
        assert_eq!(told.len(), 1, "told once: {told:?}");
        assert!(told[0].contains("HTTP 503") && told[0].contains("Loading model"));
        let waited = d
            .evidence
            .iter()
            .find(|f| f.key == "waited for the server to be ready")
            .unwrap();
        assert!(
            waited.value.ends_with("before detecting"),
            "{}",
            waited.value
        );
        // With no time to wait, the 503s decide (and the evidence says the bound was reached).
        let url = loading_llama_server(Duration::from_secs(60));
        let d = detect_when_ready(&url, None, Duration::ZERO, |_| {});
        assert_eq!(d.kind, ServerKind::Generic);
        assert!(d
            .evidence
            .iter()
            .all(|f| f.key != "waited for the server to be ready"));
    }

    #[test]
    fn detects_each_server_by_its_own_endpoints() {
        let d = detect(
            &canned(&[("/props", 200, r#"{"build_info":"b6000-abc"}"#)]),
            None,
        );
        assert_eq!(
            (d.kind, d.version.as_str()),
            (ServerKind::LlamaServer, "b6000-abc")
        );
        let d = detect(
            &canned(&[
                (
                    "/",
                    200,
                    r#"{"message":"Welcome to RKLLama with Ollama API compatibility!"}"#,
                ),
                ("/api/version", 200, r#"{"version":"0.0.74"}"#),
            ]),
            None,
        );
        assert_eq!(
            (d.kind, d.version.as_str()),
            (ServerKind::Rkllama, "0.0.74")
        );
        let d = detect(
            &canned(&[(
                "/v1/models",
                200,
                r#"{"data":[{"id":"qwen","owned_by":"rkllm"}]}"#,
            )]),
            None,
        );
        assert_eq!(d.kind, ServerKind::RkllmServer);
        assert_eq!(d.protocol, Protocol::OpenAiSse);
        // Rockchip 1.1.x-1.2.3: only its POST route exists, and a GET gets Flask's 405.
        let legacy: &'static [(&'static str, u16, &'static str)] =
            &[("/rkllm_chat", 405, "<title>405 Method Not Allowed</title>")];
        let d = detect(&canned(legacy), None);
        assert_eq!(
            (d.kind, d.protocol),
            (ServerKind::RkllmServer, Protocol::RkllmChat)
        );
        assert!(d
            .evidence
            .iter()
            .any(|f| f.key == "probe GET /rkllm_chat" && f.value.starts_with("HTTP 405")));
        // Given the kind, the probes still choose the protocol; 1.3.0 is the default.
        let d = detect(&canned(legacy), Some(ServerKind::RkllmServer));
        assert_eq!(d.protocol, Protocol::RkllmChat);
        let d = detect(&canned(&[]), Some(ServerKind::RkllmServer));
        assert_eq!(
            (d.kind, d.protocol),
            (ServerKind::RkllmServer, Protocol::OpenAiSse)
        );
        let d = detect(
            &canned(&[("/api/version", 200, r#"{"version":"0.9.0"}"#)]),
            None,
        );
        assert_eq!((d.kind, d.version.as_str()), (ServerKind::Ollama, "0.9.0"));
        let d = detect(
            &canned(&[(
                "/v1/models",
                200,
                r#"{"data":[{"id":"tiny","owned_by":"me"}]}"#,
            )]),
            None,
        );
        assert_eq!(d.kind, ServerKind::Generic);
        assert!(d.reachable);
        assert!(d
            .evidence
            .iter()
            .any(|f| f.key == "probe GET /v1/models" && f.value.contains("owned_by")));
        // The flag wins, and the evidence is still kept.
        let d = detect(
            &canned(&[("/props", 200, r#"{"build_info":"b1"}"#)]),
            Some(ServerKind::Generic),
        );
        assert_eq!(d.kind, ServerKind::Generic);
        assert!(!d.evidence.is_empty());
    }
}
