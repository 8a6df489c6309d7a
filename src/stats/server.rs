//! Figures of a run measured through a server, from its chunks (the raw datum): the count
//! source and its mismatch with the server's total, chunk timing (headers, first byte, role,
//! first text, last text, done, close), coalesced reads, the idle wait, the server's own
//! timings with unit checks, and the server's overhead over the runtime's prefill where the
//! server relays it. Pure functions of the trace (docs/SERVERS.md).
use crate::trace::server::{
    gap_rule, ChunkKind, CountSource, ServerRequest, ServerTiming, ServerTrace,
};

/// One request's chunk-based figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRequestFigures {
    pub index: u32,
    pub id: String,
    pub warmup: bool,
    pub status: &'static str,
    pub source: CountSource,
    pub chunks: usize,
    /// Chunks per kind, in [`ChunkKind::ALL`] order (kinds that occurred only).
    pub by_kind: Vec<(ChunkKind, usize)>,
    /// Chunks that arrived in the same `read()` as the chunk before them.
    pub coalesced: usize,
    /// Σ tokens attributed to chunks.
    pub tokens: u64,
    pub server_total: Option<u64>,
    pub server_total_field: String,
    /// Σ chunk tokens − server total (0 = they agree).
    pub mismatch: Option<i128>,
    pub headers_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    pub role_ms: Option<f64>,
    /// First token chunk (the token view's TTFT, what rkbench's own figures use).
    pub first_token_ms: Option<f64>,
    /// First non-empty content or reasoning chunk (TTFT as a client sees text).
    pub first_text_ms: Option<f64>,
    pub last_text_ms: Option<f64>,
    pub done_ms: Option<f64>,
    pub close_ms: Option<f64>,
    /// (N − 1) / (last − first text chunk), N = tokens; none below 2 tokens.
    pub client_decode_tok_s: Option<f64>,
    pub idle_wait_ms: f64,
    /// How the wait before the request ended, as recorded.
    pub idle_wait: String,
    /// The wait was not a clean idle: the server answered HTTP 503 (busy) first, or the wait
    /// hit its bound and the request went to a busy server.
    pub idle_troubled: bool,
    pub checks: Vec<TimingCheck>,
    /// Client TTFT split: the server-reported prefill (field, ms) and the rest (queue,
    /// transport, template: the server's overhead), ms.
    pub prefill_split: Option<(String, f64, f64)>,
    /// The same stream as vLLM, guidellm and llmperf read it.
    pub peers: PeerReading,
    /// Gap-cluster requests: (gaps between consecutive text chunks within a factor 2 of the
    /// threshold, all such gaps). A gap there could have gone either way, so these counts are
    /// less certain than the rest.
    pub ambiguous_gaps: Option<(usize, usize)>,
    /// Gap-cluster requests: the threshold they were counted with and where it came from.
    pub gap_threshold: Option<crate::trace::gap::GapChoice>,
}

/// How other benchmarkers read the same stream, by their own chunk rules (docs/SERVERS.md §2):
/// where they disagree with rkbench's count or TTFT on a server, the report shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerReading {
    /// vLLM `openai-chat`: TTFT at the first message with a non-empty `choices` (a role-only
    /// chunk counts); output tokens from `usage` (else it re-tokenises: not known here).
    pub vllm_ttft_ms: Option<f64>,
    pub vllm_tokens: Option<u64>,
    /// guidellm: TTFT at the first non-empty `delta.content`; tokens = such chunks (iterations).
    pub guidellm_ttft_ms: Option<f64>,
    pub guidellm_tokens: Option<u64>,
    /// llmperf: TTFT at the first truthy content; tokens = every data line but `[DONE]`
    /// (role, empty, finish and usage chunks included); a `"choices": []` chunk makes it fail.
    pub llmperf_ttft_ms: Option<f64>,
    pub llmperf_tokens: Option<u64>,
    /// Why a peer reads nothing (NDJSON is not SSE; llmperf indexes `choices[0]`).
    pub notes: Vec<String>,
}

fn peer_reading(r: &ServerRequest, protocol: &str) -> PeerReading {
    let mut p = PeerReading::default();
    match protocol {
        "ollama-ndjson" => p
            .notes
            .push("NDJSON: vLLM, guidellm and llmperf read only OpenAI SSE".into()),
        "rkllm-chat" => p
            .notes
            .push("/rkllm_chat is not SSE: vLLM, guidellm and llmperf read only OpenAI SSE".into()),
        _ => {}
    }
    if !p.notes.is_empty() {
        return p;
    }
    let n = r.chunks();
    let t = |i: usize| r.chunk_us[i] as f64 / 1e3;
    let has_choice = |k: ChunkKind| {
        matches!(
            k,
            ChunkKind::Role
                | ChunkKind::Content
                | ChunkKind::Reasoning
                | ChunkKind::Empty
                | ChunkKind::Finish
                | ChunkKind::ToolCall
        )
    };
    p.vllm_ttft_ms = (0..n).find(|&i| has_choice(r.kind(i))).map(t);
    p.vllm_tokens = (r.server_total_field == "usage.completion_tokens")
        .then_some(r.server_total)
        .flatten();
    let content: Vec<usize> = (0..n)
        .filter(|&i| r.kind(i) == ChunkKind::Content)
        .collect();
    p.guidellm_ttft_ms = content.first().map(|&i| t(i));
    p.guidellm_tokens = Some(content.len() as u64);
    if (0..n).any(|i| r.kind(i) == ChunkKind::Usage) {
        p.notes
            .push("llmperf fails on the usage chunk (\"choices\": [] has no choices[0])".into());
    } else {
        p.llmperf_ttft_ms = p.guidellm_ttft_ms;
        p.llmperf_tokens = Some(
            (0..n)
                .filter(|&i| !matches!(r.kind(i), ChunkKind::Ping))
                .count() as u64,
        );
    }
    p
}

/// A server timing with what rkbench makes of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingCheck {
    pub field: String,
    pub raw: f64,
    pub unit: String,
    /// `None` = plausible; otherwise the unit error, in one line naming the field.
    pub unit_error: Option<String>,
}

fn ms(us: Option<u64>) -> Option<f64> {
    us.map(|u| u as f64 / 1e3)
}

/// The value of a duration field in seconds, by its declared unit.
fn seconds(t: &ServerTiming) -> Option<f64> {
    match t.unit.as_str() {
        "ms" => Some(t.raw / 1e3),
        "ns" => Some(t.raw / 1e9),
        "s" => Some(t.raw),
        _ => None,
    }
}

fn field<'a>(r: &'a ServerRequest, name: &str) -> Option<&'a ServerTiming> {
    r.timings.iter().find(|t| t.field == name)
}

/// Duration fields that cover generation only (their rate is tokens / that time).
const DECODE_DURATIONS: [(&str, &str); 3] = [
    ("timings.predicted_ms", "timings.predicted_n"),
    ("eval_duration", "eval_count"),
    ("usage.generate_time_ms", "usage.generate_tokens"),
];

/// Fields that report the server's prefill time.
const PREFILL_FIELDS: [&str; 3] = [
    "timings.prompt_ms",
    "prompt_eval_duration",
    "usage.prefill_time_ms",
];

/// A rate over the prompt (llama-server `timings.prompt_per_second`), not over the output.
fn is_prompt_rate(field: &str) -> bool {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    leaf.starts_with("prompt") || leaf.starts_with("prefill")
}

/// Unit checks (docs/SERVERS.md): a server rate > 10× the client's rate, or a duration longer
/// than the client's wall time, is a unit error named by field; a nanosecond decode duration
/// under 1 ms while the client watched more than a second of decoding is milliseconds in a
/// nanosecond field (rkllama).
fn checks(r: &ServerRequest, client_rate: Option<f64>, decode_s: Option<f64>) -> Vec<TimingCheck> {
    let wall_s = r.end_us as f64 / 1e6;
    let mut out = Vec::new();
    for t in &r.timings {
        let mut err = None;
        if let Some(s) = seconds(t) {
            if wall_s > 0.0 && s > wall_s * 1.001 + 0.001 {
                err = Some(format!(
                    "{} = {} {} is {:.3} s, longer than the client's wall time of {wall_s:.3} s",
                    t.field, t.raw, t.unit, s
                ));
            }
            if t.unit == "ns"
                && t.raw < 1e6
                && decode_s.is_some_and(|d| d > 1.0)
                && DECODE_DURATIONS.iter().any(|(d, _)| *d == t.field)
            {
                err = Some(format!(
                    "{} = {} is under 1 ms as nanoseconds while the client saw {:.1} s of decoding: milliseconds in a nanosecond field",
                    t.field,
                    t.raw,
                    decode_s.unwrap_or(0.0)
                ));
            }
        }
        // Only a decode rate is compared with the client's decode rate: prefill runs many
        // tokens per step, so a true prompt rate is often 10–50× the decode rate (and the
        // client's TTFT holds HTTP and template time, so it cannot bound a prompt rate).
        if t.unit == "tok/s" && !is_prompt_rate(&t.field) {
            if let Some(c) = client_rate {
                if t.raw > 10.0 * c {
                    err = Some(format!(
                        "{} = {} tok/s is more than 10× the client's {c:.2} tok/s",
                        t.field, t.raw
                    ));
                }
            }
        }
        out.push(TimingCheck {
            field: t.field.clone(),
            raw: t.raw,
            unit: t.unit.clone(),
            unit_error: err,
        });
    }
    // Derived rates: count / duration as the API defines them.
    for (dur, count) in DECODE_DURATIONS {
        if let (Some(d), Some(n), Some(c)) = (field(r, dur), field(r, count), client_rate) {
            if let Some(s) = seconds(d).filter(|&s| s > 0.0 && n.raw >= 2.0) {
                let server_rate = n.raw / s;
                if server_rate > 10.0 * c {
                    out.push(TimingCheck {
                        field: format!("{count}/{dur}"),
                        raw: server_rate,
                        unit: "tok/s".into(),
                        unit_error: Some(format!(
                            "{count}/{dur} = {server_rate:.1} tok/s is more than 10× the client's {c:.2} tok/s"
                        )),
                    });
                }
            }
        }
    }
    out
}

/// The server's own prefill time of request `r` (ms) and the field it came from: the one
/// reading of `PREFILL_FIELDS` (the prefill split here, the queueing of `stats::load`).
pub(crate) fn server_prefill_ms(r: &ServerRequest) -> Option<(&str, f64)> {
    PREFILL_FIELDS.iter().find_map(|f| {
        let t = field(r, f)?;
        let mut p_ms = seconds(t)? * 1e3;
        // rkllama puts RKLLM's milliseconds in Ollama's nanosecond field.
        if t.unit == "ns"
            && r.timings
                .iter()
                .any(|x| x.field == "eval_duration" && x.raw < 1e6)
        {
            p_ms = t.raw;
        }
        Some((t.field.as_str(), p_ms))
    })
}

pub fn request(r: &ServerRequest) -> ServerRequestFigures {
    request_with(r, "openai-sse")
}

/// [`request`], given the run's protocol (the peers read only OpenAI SSE).
pub fn request_with(r: &ServerRequest, protocol: &str) -> ServerRequestFigures {
    let n = r.chunks();
    let mut by_kind: Vec<(ChunkKind, usize)> = ChunkKind::ALL.iter().map(|&k| (k, 0)).collect();
    let mut coalesced = 0;
    for i in 0..n {
        let k = r.kind(i);
        if let Some(e) = by_kind.iter_mut().find(|(x, _)| *x == k) {
            e.1 += 1;
        }
        if i > 0 && r.chunk_read.get(i) == r.chunk_read.get(i - 1) {
            coalesced += 1;
        }
    }
    by_kind.retain(|(_, c)| *c > 0);
    let text: Vec<usize> = (0..n)
        .filter(|&i| r.kind(i).carries_tokens() && r.has_text(i))
        .collect();
    let first_text = text.first().map(|&i| r.chunk_us[i]);
    let last_text = text.last().map(|&i| r.chunk_us[i]);
    let tokens = r.chunk_token_total();
    let decode_s = first_text
        .zip(last_text)
        .map(|(a, b)| b.saturating_sub(a) as f64 / 1e6);
    // (N − 1) over first to last *token* chunk: with gap clusters a token's later characters
    // arrive after its chunk, and are not decode time.
    let token_at: Vec<u64> = (0..n)
        .filter(|&i| r.chunk_tokens.get(i).is_some_and(|&k| k > 0))
        .map(|i| r.chunk_us[i])
        .collect();
    let client_decode_tok_s = token_at
        .first()
        .zip(token_at.last())
        .map(|(a, b)| b.saturating_sub(*a) as f64 / 1e6)
        .filter(|&s| s > 0.0 && tokens >= 2)
        .map(|s| (tokens - 1) as f64 / s);
    let role = (0..n)
        .find(|&i| r.kind(i) == ChunkKind::Role)
        .map(|i| r.chunk_us[i]);
    let prefill_split = server_prefill_ms(r).and_then(|(f, p_ms)| {
        let ttft = first_text? as f64 / 1e3;
        Some((f.to_string(), p_ms, ttft - p_ms))
    });
    ServerRequestFigures {
        index: r.index,
        id: r.test_id.clone(),
        warmup: r.warmup,
        status: r.status.as_str(),
        source: r.count_source,
        chunks: n,
        by_kind,
        coalesced,
        tokens,
        server_total: r.server_total,
        server_total_field: r.server_total_field.clone(),
        mismatch: r.server_total.map(|t| i128::from(tokens) - i128::from(t)),
        headers_ms: ms(r.headers_us),
        first_byte_ms: ms(r.first_byte_us),
        role_ms: ms(role),
        first_token_ms: ms((0..n)
            .find(|&i| r.chunk_tokens.get(i).is_some_and(|&k| k > 0))
            .map(|i| r.chunk_us[i])),
        first_text_ms: ms(first_text),
        last_text_ms: ms(last_text),
        done_ms: ms(r.done_us),
        close_ms: ms(r.close_us),
        client_decode_tok_s,
        idle_wait_ms: r.idle_wait_us as f64 / 1e3,
        idle_wait: r.idle_wait.clone(),
        idle_troubled: r.idle_wait.contains("HTTP 503") || r.idle_wait.contains("bound reached"),
        checks: checks(r, client_decode_tok_s, decode_s),
        prefill_split,
        peers: peer_reading(r, protocol),
        ambiguous_gaps: None,
        gap_threshold: None,
    }
}

/// (Gaps between consecutive text chunks in [threshold / 2, 2 × threshold), all such gaps):
/// how many boundaries of a gap-cluster count were close calls. Rockchip's legacy server
/// re-encodes its whole answer for every character (~1 ms per character at 1,000 characters,
/// Python's `json.dumps` on an x86 VM), so a long answer's characters drift towards the
/// threshold; this says when.
pub fn ambiguous_gaps(r: &ServerRequest, threshold_us: u64) -> (usize, usize) {
    let gaps = crate::trace::gap::text_gaps(r);
    let close = gaps
        .iter()
        .filter(|&&g| g.saturating_mul(2) >= threshold_us && g < threshold_us.saturating_mul(2))
        .count();
    (close, gaps.len())
}

/// Everything a report shows about a server run.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerAnalysis {
    pub run: crate::trace::server::ServerRun,
    /// The weakest count source of the measured requests (see [`run_source`]).
    pub source: Option<CountSource>,
    /// One entry per request, in run order.
    pub requests: Vec<ServerRequestFigures>,
    /// (request index, the unit error in one line naming the field).
    pub unit_errors: Vec<(u32, String)>,
    /// Σ the server's prompt-token counts over the measured requests (`None`: it sent none).
    pub prompt_tokens: Option<u64>,
    /// Measured requests whose server-counted output exceeds the cap rkbench sent, each as
    /// (request index, the sentence naming the count, its field and the cap). Only a server's
    /// own count can show this: chunks are not tokens.
    pub cap_exceeded: Vec<(u32, String)>,
    /// How the measured requests' output count relates to the tokens generated.
    pub bound: CountBound,
    /// Whether the sampling values sent took effect, and which fields the server reads.
    pub sampling: crate::http::kind::SamplingHonour,
    pub sampling_note: &'static str,
}

/// How an output token count relates to the tokens generated. Servers drop tokens that carry
/// no text (RKLLM's WAITING states for a partial UTF-8 character; Rockchip's flask servers the
/// last token when FINISH follows it within a few ms), so only a count the server made is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CountBound {
    /// Every token counted: runtime callbacks, or chunk tokens that add up to the server's own
    /// count (`server-per-chunk`, `server-total` with nothing unattributed).
    Exact,
    /// At most the tokens generated: `chunks-only` (each text chunk carries at least one token's
    /// text on every server rkbench counts by chunks; a token with no text sends none), or
    /// chunk tokens short of the server's total.
    LowerBound,
    /// Either way: `gap-cluster` (a stall splits a token, two quick tokens merge), or more
    /// chunk tokens than the server's total.
    Estimate,
}

impl CountBound {
    pub fn as_str(self) -> &'static str {
        match self {
            CountBound::Exact => "exact",
            CountBound::LowerBound => "lower-bound",
            CountBound::Estimate => "estimate",
        }
    }

    /// How one request's chunk tokens relate to what was generated.
    pub fn of(r: &ServerRequest) -> CountBound {
        match (r.count_source, r.unattributed) {
            (CountSource::GapCluster, _) => CountBound::Estimate,
            (CountSource::ChunksOnly, _) => CountBound::LowerBound,
            (_, 0) => CountBound::Exact,
            (_, u) if u > 0 => CountBound::LowerBound,
            _ => CountBound::Estimate,
        }
    }

    /// The weakest bound of a run's measured requests (`Exact` with none).
    pub fn of_run(s: &ServerTrace) -> CountBound {
        s.requests
            .iter()
            .filter(|r| !r.warmup)
            .map(CountBound::of)
            .max()
            .unwrap_or(CountBound::Exact)
    }
}

impl ServerAnalysis {
    /// Measured requests whose server total differs from the tokens attributed to chunks.
    pub fn mismatched_requests(&self) -> usize {
        self.requests
            .iter()
            .filter(|f| !f.warmup && f.mismatch.is_some_and(|m| m != 0))
            .count()
    }
}

pub fn analyse(s: &ServerTrace) -> ServerAnalysis {
    let requests: Vec<ServerRequestFigures> = s
        .requests
        .iter()
        .map(|r| {
            let mut f = request_with(r, &s.run.protocol);
            // The threshold is a function of the recorded chunk times (and the rule the run
            // records): the one the recording attributed these chunks by.
            if let (CountSource::GapCluster, Some(rule)) = (r.count_source, gap_rule(&s.run)) {
                let c = crate::trace::gap::threshold_for(r, rule);
                f.ambiguous_gaps = Some(ambiguous_gaps(r, c.threshold_us));
                f.gap_threshold = Some(c);
            }
            f
        })
        .collect();
    let unit_errors = requests
        .iter()
        .flat_map(|f| {
            f.checks
                .iter()
                .filter_map(move |c| c.unit_error.clone().map(|e| (f.index, e)))
        })
        .collect();
    let measured = || s.requests.iter().filter(|r| !r.warmup);
    let prompt_tokens = measured()
        .filter_map(|r| r.prompt_tokens)
        .fold(None, |acc: Option<u64>, n| {
            Some(acc.unwrap_or(0).saturating_add(n))
        });
    let cap_exceeded = measured()
        .filter_map(|r| {
            let total = r.server_total?;
            let cap = u64::try_from(r.max_new_tokens).ok().filter(|&c| c > 0)?;
            (total > cap).then(|| {
                (
                    r.index,
                    format!(
                        "{}: the server counted {total} output tokens ({}) for a cap of {cap} sent with the request ({} over)",
                        r.test_id,
                        r.server_total_field,
                        total - cap
                    ),
                )
            })
        })
        .collect();
    ServerAnalysis {
        run: s.run.clone(),
        source: run_source(s),
        requests,
        unit_errors,
        prompt_tokens,
        cap_exceeded,
        bound: CountBound::of_run(s),
        sampling: crate::http::kind::SamplingHonour::of_run(&s.run.kind, &s.run.protocol),
        sampling_note: crate::http::kind::SamplingHonour::note(&s.run.kind, &s.run.protocol),
    }
}

/// One figure of a bare run beside the same figure through a server.
#[derive(Debug, Clone, PartialEq)]
pub struct OverheadRow {
    pub metric: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
    pub bare: Option<f64>,
    pub server: Option<f64>,
}

impl OverheadRow {
    /// (server − bare, as a fraction of bare).
    pub fn overhead(&self) -> Option<(f64, f64)> {
        match (self.bare, self.server) {
            (Some(b), Some(s)) if b != 0.0 => Some((s - b, (s - b) / b)),
            _ => None,
        }
    }
}

/// What a server costs over the bare runtime, for `compare` of one bare and one server run.
#[derive(Debug, Clone, PartialEq)]
pub struct Overhead {
    pub server_is_candidate: bool,
    pub kind: String,
    pub local: bool,
    pub source: Option<CountSource>,
    /// The gap-cluster threshold of the server run, µs (its count source's parameter).
    pub gap_us: Option<u64>,
    /// Non-empty: no overhead is stated, only these reasons.
    pub not_comparable: Vec<String>,
    pub rows: Vec<OverheadRow>,
}

/// The overhead of a server run over a bare-runtime run (either order), `None` unless exactly
/// one of the two is a server run.
pub fn overhead(
    base: &crate::trace::Trace,
    base_summary: &crate::stats::Summary,
    cand: &crate::trace::Trace,
    cand_summary: &crate::stats::Summary,
) -> Option<Overhead> {
    let (bare, bs, srv, ss, server_is_candidate) = match (&base.server, &cand.server) {
        (None, Some(_)) => (base, base_summary, cand, cand_summary, true),
        (Some(_), None) => (cand, cand_summary, base, base_summary, false),
        _ => return None,
    };
    let s = srv.server.as_ref()?;
    let mut why = not_comparable(&bare.header, &bare.requests, &srv.header, s);
    // The prompt as the model saw it: a different token count means a different template.
    for r in &s.requests {
        let bare_in = bare
            .requests
            .iter()
            .find(|b| b.test_id == r.test_id)
            .and_then(|b| b.perf)
            .map(|p| i64::from(p.prefill_tokens));
        if let (Some(p), Some(b)) = (r.prompt_tokens, bare_in) {
            if p as i64 != b {
                why.push(format!(
                    "template differs: test {} is {b} prompt tokens on the runtime and {p} through the server",
                    r.test_id
                ));
                break;
            }
        }
    }
    let row = |metric, unit, higher_is_better, f: fn(&crate::stats::Summary) -> Option<f64>| {
        OverheadRow {
            metric,
            unit,
            higher_is_better,
            bare: f(bs),
            server: f(ss),
        }
    };
    Some(Overhead {
        server_is_candidate,
        kind: s.run.kind.clone(),
        local: s.run.local,
        source: run_source(s),
        gap_us: crate::trace::server::gap_threshold_us(&s.run),
        not_comparable: why,
        rows: vec![
            row("TTFT median", "ms", false, |x| x.ttft_ms.map(|a| a.median)),
            row("E2E latency median", "ms", false, |x| {
                x.e2e_ms.map(|a| a.median)
            }),
            row("Decode rate mean", "tok/s", true, |x| {
                x.decode_tok_s.map(|a| a.mean)
            }),
        ],
    })
}

/// The run's count source: the weakest any measured request had (a report labels every token
/// figure "per chunk" if one request had no server count).
pub fn run_source(s: &ServerTrace) -> Option<CountSource> {
    s.requests
        .iter()
        .filter(|r| !r.warmup)
        .map(|r| r.count_source)
        .max_by_key(|&c| c.rank())
}

/// Fields in which a server says how many prompt tokens it took from its cache: llama-server
/// `timings.cache_n`, the OpenAI usage detail (vLLM and SGLang prefix caching, llama-server),
/// Ollama `prompt_eval_cached_count`.
const CACHED_PROMPT_FIELDS: [&str; 3] = [
    "timings.cache_n",
    "usage.prompt_tokens_details.cached_tokens",
    "prompt_eval_cached_count",
];

/// Measured requests whose prompt the server took partly from its cache, by its own count:
/// (request, "test #repeat: field = n").
pub fn cached_prompts(s: &ServerTrace) -> Vec<(u32, String)> {
    s.requests
        .iter()
        .filter(|r| !r.warmup)
        .filter_map(|r| {
            let t = CACHED_PROMPT_FIELDS
                .iter()
                .find_map(|f| field(r, f).filter(|t| t.raw > 0.0))?;
            Some((
                r.index,
                format!("{} #{}: {} = {}", r.test_id, r.repeat_index, t.field, t.raw),
            ))
        })
        .collect()
}

/// The `server-ignores-sampling` warning: the server never used the sampling values sent, so
/// the run's sampling is unknown and its figures are not fit for comparison.
pub fn ignored_sampling_warning(s: &ServerTrace) -> Option<crate::stats::warnings::Warning> {
    use crate::http::kind::SamplingHonour;
    (SamplingHonour::of_run(&s.run.kind, &s.run.protocol) == SamplingHonour::Ignored).then(|| {
        crate::stats::warnings::Warning {
            code: "server-ignores-sampling",
            message: format!(
                "the sampling values sent were ignored by the server: {}; the run's sampling is unknown",
                SamplingHonour::note(&s.run.kind, &s.run.protocol)
            ),
            fix: "compare such runs only with runs of the same server configuration; to measure given sampling values, record the bare runtime or a server that applies them".into(),
            invalidates_comparison: true,
        }
    })
}

/// The `server-prompt-cache` warning: a prompt taken from the server's cache makes that
/// request's TTFT and prefill too good, so the run's figures are not fit for comparison.
pub fn prompt_cache_warning(s: &ServerTrace) -> Option<crate::stats::warnings::Warning> {
    let cached = cached_prompts(s);
    let first = cached.first()?;
    let measured = s.requests.iter().filter(|r| !r.warmup).count();
    let more = match cached.len() {
        1 => String::new(),
        n => format!(", and {} more", n - 1),
    };
    Some(crate::stats::warnings::Warning {
        code: "server-prompt-cache",
        message: format!(
            "the server took prompt tokens from its cache in {} of {measured} measured request(s) ({}{more}): their TTFT and prefill are too good",
            cached.len(),
            first.1
        ),
        fix: "llama-server: let rkbench detect it (--server-kind auto or llama-server), which sends cache_prompt: false; vLLM: --no-enable-prefix-caching; SGLang: --disable-radix-cache; otherwise vary the prompts of repeats".into(),
        invalidates_comparison: true,
    })
}

/// The `implausible-server-count` warning: a server count refused as the count source at
/// record time ([`crate::trace::server::CountRefusals`]: beyond the chunks × the stated factor,
/// beyond the cap, going down). The figures rest on the next source, and a server that says
/// something about its tokens that cannot be true is suspect, so the run is not fit for
/// comparison.
pub fn implausible_count_warning(s: &ServerTrace) -> Option<crate::stats::warnings::Warning> {
    let refused: Vec<String> = s
        .requests
        .iter()
        .filter(|r| !r.warmup)
        .filter_map(|r| {
            let c = crate::trace::server::CountRefusals::of(r);
            let why: Vec<&str> = c.lines().collect();
            (!why.is_empty())
                .then(|| format!("{} #{}: {}", r.test_id, r.repeat_index, why.join("; ")))
        })
        .collect();
    let first = refused.first()?;
    let more = match refused.len() {
        1 => String::new(),
        n => format!(", and {} more", n - 1),
    };
    Some(crate::stats::warnings::Warning {
        code: "implausible-server-count",
        message: format!(
            "the server's token count cannot be true in {} measured request(s) ({first}{more}), so it was not taken as the count: the next count source counts there",
            refused.len()
        ),
        fix: "check what the server (or a proxy before it) puts in its usage/timings fields; rkbench takes no count above 16 tokens per streamed chunk or above the cap sent (docs/SERVERS.md)".into(),
        invalidates_comparison: true,
    })
}

/// Why a bare-runtime trace and a server trace cannot be compared figure by figure, or an
/// empty list. Compared: sampling values, output caps, thinking, and the server's prompt cache
/// ([`cached_prompts`]). The chat template is applied by the server and not by the
/// bare runtime's `rkllm_run` in the same way, so it is always named as a caveat by the caller.
pub fn not_comparable(
    bare: &crate::trace::RunHeader,
    bare_requests: &[crate::trace::RequestRecord],
    server_header: &crate::trace::RunHeader,
    server: &ServerTrace,
) -> Vec<String> {
    let mut why = Vec::new();
    let (a, b) = (&bare.params, &server_header.params);
    let pairs: [(&str, f64, f64); 6] = [
        ("top_k", f64::from(a.top_k), f64::from(b.top_k)),
        ("top_p", f64::from(a.top_p), f64::from(b.top_p)),
        (
            "temperature",
            f64::from(a.temperature),
            f64::from(b.temperature),
        ),
        (
            "repeat_penalty",
            f64::from(a.repeat_penalty),
            f64::from(b.repeat_penalty),
        ),
        (
            "frequency_penalty",
            f64::from(a.frequency_penalty),
            f64::from(b.frequency_penalty),
        ),
        (
            "presence_penalty",
            f64::from(a.presence_penalty),
            f64::from(b.presence_penalty),
        ),
    ];
    for (name, x, y) in pairs {
        if x != y {
            why.push(format!("sampling differs: {name} {x} vs {y}"));
        }
    }
    let fixed_note = "the server's sampling is fixed when it starts (/rkllm_chat takes none)";
    let caps = |v: Vec<(String, i32)>| {
        let mut v = v;
        v.sort();
        v.dedup();
        v
    };
    let bare_caps = caps(
        bare_requests
            .iter()
            .map(|r| (r.test_id.clone(), r.max_new_tokens))
            .collect(),
    );
    let server_caps = caps(
        server
            .requests
            .iter()
            .map(|r| (r.test_id.clone(), r.max_new_tokens))
            .collect(),
    );
    let fixed = server
        .run
        .evidence
        .iter()
        .any(|f| f.key == crate::trace::server::FIXED_SAMPLING_FACT);
    if bare_caps != server_caps {
        why.push(if fixed {
            "output caps differ: /rkllm_chat takes no cap (the server's own, fixed when it started, applies)".into()
        } else {
            "output caps or tests differ".into()
        });
    }
    if fixed && why.iter().any(|w| w.starts_with("sampling differs")) {
        why.push(fixed_note.into());
    }
    {
        use crate::http::kind::SamplingHonour;
        let honour = SamplingHonour::of_run(&server.run.kind, &server.run.protocol);
        if honour == SamplingHonour::Ignored {
            why.push(format!(
                "sampling {}: {}",
                honour.as_str(),
                SamplingHonour::note(&server.run.kind, &server.run.protocol)
            ));
        }
    }
    if a.think != b.think {
        why.push(format!("thinking differs: {} vs {}", a.think, b.think));
    }
    if a.max_context_len > 0
        && server_header.params.max_context_len > 0
        && a.max_context_len != b.max_context_len
    {
        why.push(format!(
            "context differs: {} vs {}",
            a.max_context_len, b.max_context_len
        ));
    }
    let cached = cached_prompts(server);
    if let Some((_, first)) = cached.first() {
        why.push(format!(
            "the server reused its prompt cache in {} measured request(s) ({first})",
            cached.len()
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_exact_only_where_the_server_counted_every_token() {
        let r = |source, unattributed| ServerRequest {
            count_source: source,
            unattributed,
            ..Default::default()
        };
        use CountSource::*;
        assert_eq!(CountBound::of(&r(ServerPerChunk, 0)), CountBound::Exact);
        assert_eq!(CountBound::of(&r(ServerTotal, 0)), CountBound::Exact);
        assert_eq!(CountBound::of(&r(ServerTotal, 1)), CountBound::LowerBound);
        assert_eq!(CountBound::of(&r(ServerTotal, -1)), CountBound::Estimate);
        assert_eq!(CountBound::of(&r(ChunksOnly, 0)), CountBound::LowerBound);
        assert_eq!(CountBound::of(&r(GapCluster, 0)), CountBound::Estimate);
        // A run is as weak as its weakest measured request; warm-ups do not count.
        let mut warm = r(GapCluster, 0);
        warm.warmup = true;
        let t = ServerTrace {
            run: Default::default(),
            requests: vec![warm, r(ServerTotal, 0), r(ChunksOnly, 0)],
        };
        assert_eq!(CountBound::of_run(&t), CountBound::LowerBound);
    }
    use crate::http::capture::{Capture, Protocol};

    fn parse(protocol: Protocol, body: &str, end_us: u64, spacing_us: u64) -> ServerRequest {
        // One read per line, `spacing_us` apart.
        let mut c = Capture::new(protocol, ServerRequest::default());
        for (i, l) in body.split_inclusive('\n').enumerate() {
            c.data(l.as_bytes(), (i as u64 + 1) * spacing_us, i as u32 + 1);
        }
        c.end(end_us, 99);
        let mut r = c.finish();
        r.end_us = end_us;
        r
    }

    #[test]
    fn decode_rate_runs_from_first_to_last_token_chunk() {
        // Gap clusters "ab" at 10 ms, "c" at 30 ms, "de" at 50 ms (e at 50.9 ms).
        let mut r = ServerRequest::default();
        for (i, (t, s)) in [
            (10_000u64, "a"),
            (10_020, "b"),
            (30_000, "c"),
            (50_000, "d"),
            (50_900, "e"),
        ]
        .iter()
        .enumerate()
        {
            r.push_chunk(*t, i as u32, 0, ChunkKind::Content, None, s.as_bytes());
        }
        crate::http::capture::attribute(&mut r, Some(crate::trace::server::GapRule::fixed(1000)));
        let f = request(&r);
        assert_eq!((f.tokens, f.source), (3, CountSource::GapCluster));
        // (3 − 1) tokens over 40 ms, not over the 40.9 ms to the last character.
        assert_eq!(f.client_decode_tok_s, Some(50.0));
        assert_eq!((f.first_text_ms, f.last_text_ms), (Some(10.0), Some(50.9)));
        // Gaps 20 µs, 19.98 ms, 20 ms, 900 µs: only the last is within a factor 2 of 1 ms.
        assert_eq!(ambiguous_gaps(&r, 1000), (1, 4));
        // At 20 ms the two token gaps (19.98 and 20 ms) are the close calls.
        assert_eq!(ambiguous_gaps(&r, 20_000), (2, 4));
        assert_eq!(ambiguous_gaps(&r, 10_000), (1, 4));
    }

    #[test]
    fn rkllama_milliseconds_in_nanosecond_fields_are_unit_errors_by_name() {
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/streams/rkllama.ndjson"
        ))
        .unwrap();
        // Lines 600 ms apart: 1.2 s of decoding watched by the client.
        let r = parse(Protocol::OllamaNdjson, &body, 2_400_000, 600_000);
        let f = request(&r);
        let eval = f
            .checks
            .iter()
            .find(|c| c.field == "eval_duration")
            .unwrap();
        assert!(
            eval.unit_error
                .as_deref()
                .unwrap()
                .contains("milliseconds in a nanosecond field"),
            "{eval:?}"
        );
        let rate = f
            .checks
            .iter()
            .find(|c| c.field == "eval_count/eval_duration")
            .unwrap();
        assert!(rate
            .unit_error
            .as_deref()
            .unwrap()
            .contains("more than 10×"));
        // total_duration (ns, a real wall time of 1.65 s) fits in the client's 2.4 s.
        assert!(f
            .checks
            .iter()
            .find(|c| c.field == "total_duration")
            .unwrap()
            .unit_error
            .is_none());
        assert_eq!(f.mismatch, Some(3 - 7));
        // prompt_eval_duration 310 is RKLLM's ms: TTFT (600 ms) splits into 310 + 290.
        let (field, p, rest) = f.prefill_split.clone().unwrap();
        assert_eq!(
            (field.as_str(), p, rest),
            ("prompt_eval_duration", 310.0, 290.0)
        );
    }

    #[test]
    fn llama_server_timings_are_plausible_and_counts_agree() {
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/streams/llama-server.sse"
        ))
        .unwrap();
        let r = parse(Protocol::OpenAiSse, &body, 200_000, 10_000);
        let f = request(&r);
        assert!(
            f.checks.iter().all(|c| c.unit_error.is_none()),
            "{:?}",
            f.checks
        );
        assert_eq!(f.mismatch, Some(0));
        assert_eq!(f.source, CountSource::ServerPerChunk);
        assert!(f.role_ms.unwrap() < f.first_text_ms.unwrap());
        // A prompt rate 50× the decode rate is what prefill does, not a unit error; the same
        // figure as the decode rate is one.
        let client = f.client_decode_tok_s.unwrap();
        let mut fast = r.clone();
        for t in fast.timings.iter_mut() {
            if t.field.ends_with("_per_second") {
                t.raw = 50.0 * client;
            }
        }
        let errors: Vec<_> = request(&fast)
            .checks
            .into_iter()
            .filter_map(|c| c.unit_error.map(|_| c.field))
            .collect();
        assert_eq!(errors, ["timings.predicted_per_second"]);
        let d = f
            .checks
            .iter()
            .find(|c| c.field == "timings.predicted_ms")
            .unwrap();
        assert_eq!(d.raw, 60.0);
    }

    #[test]
    fn output_beyond_the_cap_and_prompt_totals_come_from_the_servers_counts() {
        // A warm-up (left out), then two measured requests: 34 counted for a cap of 32 (2 over),
        // and 8 counted for a cap of 16; prompt counts 63 and 20 (the warm-up's 5 left out).
        let req =
            |index: u32, warmup: bool, total: Option<u64>, cap: i32, prompt: u64| ServerRequest {
                index,
                test_id: format!("t{index}"),
                warmup,
                max_new_tokens: cap,
                server_total: total,
                server_total_field: "usage.completion_tokens".into(),
                prompt_tokens: Some(prompt),
                ..Default::default()
            };
        let trace = ServerTrace {
            run: Default::default(),
            requests: vec![
                req(0, true, Some(99), 32, 5),
                req(1, false, Some(34), 32, 63),
                req(2, false, Some(8), 16, 20),
                // No server count: chunks cannot say the cap failed.
                req(3, false, None, 4, 0),
            ],
        };
        let a = analyse(&trace);
        assert_eq!(a.prompt_tokens, Some(83));
        // No chunks carry tokens: both measured requests with a server total mismatch it.
        assert_eq!(a.mismatched_requests(), 2);
        assert_eq!(
            a.cap_exceeded,
            vec![(
                1,
                "t1: the server counted 34 output tokens (usage.completion_tokens) for a cap of 32 sent with the request (2 over)".to_string()
            )]
        );
    }

    #[test]
    fn a_prompt_from_the_servers_cache_is_a_warning_that_invalidates_comparison() {
        let req = |index: u32, warmup: bool, field: &str, raw: f64| ServerRequest {
            index,
            test_id: format!("t{index}"),
            warmup,
            timings: vec![ServerTiming {
                field: field.into(),
                raw,
                unit: "tokens".into(),
            }],
            ..Default::default()
        };
        let mut trace = ServerTrace {
            run: Default::default(),
            requests: vec![
                // A warm-up served from the cache changes no figure.
                req(0, true, "timings.cache_n", 5.0),
                req(1, false, "timings.cache_n", 0.0),
                req(2, false, "usage.prompt_tokens_details.cached_tokens", 12.0),
            ],
        };
        assert_eq!(
            cached_prompts(&trace),
            vec![(
                2,
                "t2 #0: usage.prompt_tokens_details.cached_tokens = 12".to_string()
            )]
        );
        let w = prompt_cache_warning(&trace).unwrap();
        assert_eq!(w.code, "server-prompt-cache");
        assert!(w.invalidates_comparison);
        assert!(
            w.message.starts_with("the server took prompt tokens from its cache in 1 of 2 measured request(s) (t2 #0:"),
            "{}",
            w.message
        );
        trace.requests.truncate(2);
        assert_eq!(prompt_cache_warning(&trace), None);
    }

    #[test]
    fn a_server_duration_longer_than_the_wall_time_is_named() {
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/streams/llama-server.sse"
        ))
        .unwrap();
        // The whole exchange took 50 ms, but the server says it decoded for 60 ms.
        let r = parse(Protocol::OpenAiSse, &body, 50_000, 1_000);
        let f = request(&r);
        let e = f
            .checks
            .iter()
            .find(|c| c.field == "timings.predicted_ms")
            .unwrap();
        assert!(e
            .unit_error
            .as_deref()
            .unwrap()
            .contains("longer than the client's wall time"));
    }

    #[test]
    fn peers_read_a_server_stream_by_their_own_chunk_rules() {
        // llama-cpp-python: role, 2 content, 1 empty (held back), 1 content, finish.
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/streams/llama-cpp-python.sse"
        ))
        .unwrap();
        let r = parse(Protocol::OpenAiSse, &body, 100_000, 1_000);
        let p = request(&r).peers;
        assert_eq!(
            p.vllm_ttft_ms,
            Some(2.0),
            "the role chunk (complete at read 2) is vLLM's first token"
        );
        assert_eq!(p.guidellm_ttft_ms, Some(4.0));
        assert_eq!(p.vllm_tokens, None, "no usage: vLLM re-tokenises");
        assert_eq!(p.guidellm_tokens, Some(3), "content chunks only");
        assert_eq!(p.llmperf_tokens, Some(6), "every data line");
        // rkllama's usage chunk breaks llmperf; vLLM takes usage.
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/streams/rkllama.sse"
        ))
        .unwrap();
        let p = request(&parse(Protocol::OpenAiSse, &body, 100_000, 1_000)).peers;
        assert_eq!(p.vllm_tokens, Some(7));
        assert_eq!(p.llmperf_tokens, None);
        assert!(p.notes[0].contains("llmperf fails"));
        assert_eq!(
            request_with(&r, "ollama-ndjson").peers.guidellm_tokens,
            None
        );
    }
}
