//! The server kinds rkbench knows and what each does with a request's fields: vocabulary the
//! recorder (detection, request bodies) and the replay-only analysis (sampling honour, count
//! fields) share, so it is built without the `record` feature.
use super::capture::Protocol;
use crate::trace::server::GapRule;

/// The servers rkbench knows (docs/SERVERS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    LlamaServer,
    Rkllama,
    RkllmServer,
    /// The original tool's FastAPI server (VenomekPL/RockchipLlama), the one the report this
    /// project started from was measured through.
    RockchipLlama,
    Ollama,
    Generic,
}

impl ServerKind {
    pub const NAMES: &'static str =
        "auto, llama-server, rkllama, rkllm-server, rockchipllama, ollama, generic";

    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::LlamaServer => "llama-server",
            ServerKind::Rkllama => "rkllama",
            ServerKind::RkllmServer => "rkllm-server",
            ServerKind::RockchipLlama => "rockchipllama",
            ServerKind::Ollama => "ollama",
            ServerKind::Generic => "generic",
        }
    }

    /// `None` = auto.
    pub fn parse(s: &str) -> Result<Option<ServerKind>, String> {
        Ok(Some(match s {
            "auto" => return Ok(None),
            "llama-server" => ServerKind::LlamaServer,
            "rkllama" => ServerKind::Rkllama,
            "rkllm-server" => ServerKind::RkllmServer,
            "rockchipllama" => ServerKind::RockchipLlama,
            "ollama" => ServerKind::Ollama,
            "generic" => ServerKind::Generic,
            other => {
                return Err(format!(
                    "{other:?} is not a server kind; use one of {}",
                    Self::NAMES
                ))
            }
        }))
    }

    /// The protocol rkbench streams with unless the probes say otherwise: the server's native
    /// one where it has counters there (Rockchip's: its 1.3.0 OpenAI API; `/rkllm_chat` when
    /// only that answers, see [`detect`]).
    pub fn default_protocol(self) -> Protocol {
        match self {
            ServerKind::Rkllama | ServerKind::Ollama => Protocol::OllamaNdjson,
            _ => Protocol::OpenAiSse,
        }
    }

    /// Usage fields this server fills with something other than tokens: the original tool's
    /// server counts words (`len(text.split())`) in `usage.completion_tokens` and
    /// `usage.prompt_tokens`. RKLLM's own counts came beside them (`generate_tokens` /
    /// `prefill_tokens`) only up to its `2445d32`; since `806b3fb` its `Usage` model drops them.
    pub fn not_token_counts(self) -> &'static [&'static str] {
        match self {
            ServerKind::RockchipLlama => &["usage.completion_tokens", "usage.prompt_tokens"],
            _ => &[],
        }
    }

    /// Whether the sampling values rkbench sends take effect ([`SamplingHonour`]).
    pub fn sampling(self, protocol: Protocol) -> SamplingHonour {
        match (self, protocol) {
            (_, Protocol::RkllmChat) => SamplingHonour::Fixed,
            (ServerKind::RockchipLlama, _) => SamplingHonour::Ignored,
            _ => SamplingHonour::Applied,
        }
    }

    /// Count by gap clusters where the server gives no count: Rockchip's servers send one
    /// character per chunk, a token's characters µs to a few ms apart and tokens a decode
    /// interval apart (docs/SERVERS.md). `token_gap_us` = `--token-gap` (fixed); without it
    /// each request's threshold is chosen from its own gaps.
    pub fn gap_cluster_us(self, token_gap_us: Option<u64>) -> Option<GapRule> {
        (self == ServerKind::RkllmServer).then_some(match token_gap_us {
            Some(us) => GapRule::Fixed { us, flag: true },
            None => GapRule::Adaptive,
        })
    }
}

/// Whether the sampling values a request carries take effect on a server, from each server's
/// code (docs/SERVERS.md): a run's sampling is what the server used, and only values that took
/// effect can be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingHonour {
    /// The server passes the request's values to the runtime.
    Applied,
    /// The server takes none and uses its own, known values (recorded as the run's).
    Fixed,
    /// The server accepts the values and never uses them; its own are unknown to the client.
    Ignored,
}

impl SamplingHonour {
    pub fn as_str(self) -> &'static str {
        match self {
            SamplingHonour::Applied => "applied",
            SamplingHonour::Fixed => "fixed by the server",
            SamplingHonour::Ignored => "ignored by the server",
        }
    }

    /// From a trace's server run (`kind`, `protocol` as recorded); a kind this version does not
    /// know is taken at its word (applied).
    pub fn of_run(kind: &str, protocol: &str) -> SamplingHonour {
        let protocol = if protocol == Protocol::RkllmChat.as_str() {
            Protocol::RkllmChat
        } else {
            Protocol::OpenAiSse
        };
        match ServerKind::parse(kind) {
            Ok(Some(k)) => k.sampling(protocol),
            _ => SamplingHonour::Applied,
        }
    }

    /// Which request fields take effect on the server of `kind` over `protocol`, in one line.
    pub fn note(kind: &str, protocol: &str) -> &'static str {
        match (ServerKind::parse(kind), protocol == Protocol::RkllmChat.as_str()) {
            (_, true) => "/rkllm_chat reads no sampling values: the server's own, set at rkllm_init (top_k 1, top_p 0.9, temperature 0.8, repeat_penalty 1.1, frequency_penalty 0, presence_penalty 0), are the run's",
            (Ok(Some(ServerKind::RockchipLlama)), _) => "the original tool's server accepts temperature, top_p, top_k, repeat_penalty and passes them to its generate(), which never uses them: RKLLM took its sampling at rkllm_init from the server's config/inference_config.json, which the client cannot see",
            (Ok(Some(ServerKind::RkllmServer)), _) => "Rockchip's 1.3.0 server passes top_k, top_p, temperature, repeat_penalty, frequency_penalty and presence_penalty to rkllm_run per request (RKLLMInferParam.sampling_params); seed is not read, mirostat is fixed at 0",
            (Ok(Some(ServerKind::Rkllama)), _) => "rkllama passes top_k, top_p, temperature and the three penalties to the runtime; seed is dropped",
            (Ok(Some(ServerKind::LlamaServer | ServerKind::Ollama)), _) => "the server applies every sampling value sent",
            _ => "taken as applied: an OpenAI-compatible server reads these fields, which rkbench cannot check",
        }
    }
}
