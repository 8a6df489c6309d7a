//! What one event of a stream says: its kind, its text, and every server count or timing in it.
//! One function per protocol, from the servers' documented formats (see docs/SERVERS.md).
use crate::trace::server::{ChunkKind, ServerTiming};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One classified event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub kind: Option<ChunkKind>,
    /// Content / reasoning text; for other kinds the raw event (kept, never interpreted again).
    pub text: String,
    /// Running output-token count of the server in this chunk and the field it came from
    /// (llama-server `timings.predicted_n`; vLLM/SGLang `usage.completion_tokens` on every
    /// chunk with `continuous_usage_stats`).
    pub server_n: Option<(i64, &'static str)>,
    pub finish_reason: Option<String>,
    /// Output-token total and the field it came from.
    pub total: Option<(u64, String)>,
    /// Prompt-token count and the field it came from.
    pub prompt_tokens: Option<(u64, String)>,
    pub timings: Vec<ServerTiming>,
    /// Ollama `done: true` (the stream's own end marker).
    pub done: bool,
}

impl Parsed {
    pub fn kind(&self) -> ChunkKind {
        self.kind.unwrap_or(ChunkKind::Other)
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The unit an API defines for a numeric field, by its name.
fn unit_of(field: &str, ollama: bool) -> &'static str {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    if leaf.ends_with("_per_second") || leaf == "tokens_per_second" {
        "tok/s"
    } else if leaf.ends_with("_ms") || leaf.ends_with("_per_token_ms") {
        "ms"
    } else if leaf.ends_with("_duration") && ollama {
        "ns"
    } else if leaf.ends_with("_mb") {
        "MB"
    } else if leaf.ends_with("_n")
        || leaf.ends_with("_tokens")
        || leaf.ends_with("_count")
        || leaf.ends_with("cached_tokens")
    {
        "tokens"
    } else {
        "?"
    }
}

/// Every number under `v` (one level of nesting), as `prefix.key`.
fn numbers(v: &Value, prefix: &str, ollama: bool, out: &mut Vec<ServerTiming>) {
    let Some(obj) = v.as_object() else { return };
    for (k, x) in obj {
        let field = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let Some(f) = x.as_f64() {
            out.push(ServerTiming {
                unit: unit_of(&field, ollama).to_string(),
                field,
                raw: f,
            });
        } else if x.is_object() && !prefix.contains('.') {
            numbers(x, &field, ollama, out);
        }
    }
}

/// An OpenAI-compatible `chat.completion.chunk` (or `text_completion`) SSE payload.
pub fn openai(data: &str) -> Parsed {
    let mut p = Parsed::default();
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        p.kind = Some(ChunkKind::Error);
        p.text = data.to_string();
        return p;
    };
    if v.get("error").is_some_and(|e| !e.is_null()) {
        p.kind = Some(ChunkKind::Error);
        p.text = data.to_string();
        return p;
    }
    if let Some(t) = v.get("timings") {
        numbers(t, "timings", false, &mut p.timings);
        p.server_n = t
            .get("predicted_n")
            .and_then(Value::as_i64)
            .map(|n| (n, "timings.predicted_n"));
        // llama-server: the prompt tokens it processed plus those it took from its cache; in
        // every chunk with timings_per_token, so a request cut by its deadline has it too.
        // (A usage below, at the end, is preferred.)
        if let Some(n) = t.get("prompt_n").and_then(Value::as_u64) {
            let cached = t.get("cache_n").and_then(Value::as_u64).unwrap_or(0);
            p.prompt_tokens = Some((n + cached, "timings.prompt_n".into()));
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        numbers(u, "usage", false, &mut p.timings);
        // The original tool's server puts word counts in completion_tokens (never used, see
        // ServerKind::not_token_counts) and, up to its 2445d32, RKLLM's own count in
        // generate_tokens.
        if let Some(n) = u.get("generate_tokens").and_then(Value::as_u64) {
            p.total = Some((n, "usage.generate_tokens".into()));
        } else if let Some(n) = u.get("completion_tokens").and_then(Value::as_u64) {
            p.total = Some((n, "usage.completion_tokens".into()));
        }
        if let Some(n) = ["prefill_tokens", "prompt_tokens"].iter().find_map(|k| {
            u.get(*k)
                .and_then(Value::as_u64)
                .map(|n| (n, format!("usage.{k}")))
        }) {
            p.prompt_tokens = Some(n);
        }
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let Some(c) = choice else {
        p.kind = Some(if v.get("usage").is_some_and(|u| u.is_object()) {
            ChunkKind::Usage
        } else {
            ChunkKind::Other
        });
        p.text = data.to_string();
        return p;
    };
    p.finish_reason = str_of(c, "finish_reason").map(str::to_string);
    // A usage beside a choice is a running count (`continuous_usage_stats`): the tokens so far,
    // this chunk's included. (A final usage chunk has no choice and only gives the total.)
    if p.server_n.is_none() {
        p.server_n = v
            .get("usage")
            .and_then(|u| u.get("completion_tokens"))
            .and_then(Value::as_i64)
            .map(|n| (n, "usage.completion_tokens"));
    }
    let delta = c.get("delta").or_else(|| c.get("message"));
    let content = delta
        .and_then(|d| str_of(d, "content"))
        .or_else(|| str_of(c, "text"));
    let reasoning =
        delta.and_then(|d| str_of(d, "reasoning_content").or_else(|| str_of(d, "reasoning")));
    let tool = delta
        .and_then(|d| d.get("tool_calls"))
        .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()));
    let role = delta.is_some_and(|d| d.get("role").is_some_and(|r| !r.is_null()));
    let (kind, text) = if let Some(t) = content.filter(|t| !t.is_empty()) {
        (ChunkKind::Content, t.to_string())
    } else if let Some(t) = reasoning.filter(|t| !t.is_empty()) {
        (ChunkKind::Reasoning, t.to_string())
    } else if tool {
        (ChunkKind::ToolCall, data.to_string())
    } else if p.finish_reason.is_some() {
        (ChunkKind::Finish, data.to_string())
    } else if role {
        (ChunkKind::Role, String::new())
    } else if content.is_some() || reasoning.is_some() {
        (ChunkKind::Empty, String::new())
    } else {
        (ChunkKind::Other, data.to_string())
    };
    p.kind = Some(kind);
    p.text = text;
    p
}

/// One Ollama NDJSON line (`/api/chat` or `/api/generate`; rkllama's too).
pub fn ollama(line: &str) -> Parsed {
    let mut p = Parsed::default();
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        p.kind = Some(ChunkKind::Error);
        p.text = line.to_string();
        return p;
    };
    if v.get("error").is_some_and(|e| !e.is_null()) {
        p.kind = Some(ChunkKind::Error);
        p.text = line.to_string();
        return p;
    }
    let msg = v.get("message");
    let content = msg
        .and_then(|m| str_of(m, "content"))
        .or_else(|| str_of(&v, "response"));
    let thinking = msg
        .and_then(|m| str_of(m, "thinking"))
        .or_else(|| str_of(&v, "thinking"));
    p.done = v.get("done").and_then(Value::as_bool).unwrap_or(false);
    if p.done {
        for key in [
            "total_duration",
            "load_duration",
            "prompt_eval_count",
            "prompt_eval_duration",
            "prompt_eval_cached_count",
            "eval_count",
            "eval_duration",
        ] {
            if let Some(f) = v.get(key).and_then(Value::as_f64) {
                p.timings.push(ServerTiming {
                    field: key.into(),
                    raw: f,
                    unit: unit_of(key, true).into(),
                });
            }
        }
        p.total = v
            .get("eval_count")
            .and_then(Value::as_u64)
            .map(|n| (n, "eval_count".into()));
        p.prompt_tokens = v
            .get("prompt_eval_count")
            .and_then(Value::as_u64)
            .map(|n| (n, "prompt_eval_count".into()));
        p.finish_reason = Some(str_of(&v, "done_reason").unwrap_or("done").to_string());
    }
    let (kind, text) = if let Some(t) = content.filter(|t| !t.is_empty()) {
        (ChunkKind::Content, t.to_string())
    } else if let Some(t) = thinking.filter(|t| !t.is_empty()) {
        (ChunkKind::Reasoning, t.to_string())
    } else if p.done {
        (ChunkKind::Finish, line.to_string())
    } else {
        (ChunkKind::Empty, String::new())
    };
    p.kind = Some(kind);
    p.text = text;
    p
}

/// One message of Rockchip's `/rkllm_chat` stream (demo server 1.1.x–1.2.3). Each message is
/// the whole response so far: `choices` gains one `{"delta": {"content": <char>}}` per message
/// (a token per message in 1.1.x). Only the choices beyond the `seen` already taken are new;
/// their contents make this chunk's text. `usage` is always null there; `finish_reason` is
/// "stop" only if the server saw its own finished state, which it may never do.
///
/// The messages grow by ~110 bytes per character, so the seen choices are skipped without
/// being built ([`IgnoredAny`]): building them all made a message of a 1,000-character answer
/// cost over 1 ms to parse (measured on x86), enough to delay the next read past the
/// gap-cluster threshold and split one token in two. Skipping is ~6× cheaper.
pub fn rkllm_chat(data: &str, seen: &mut usize) -> Parsed {
    let mut p = Parsed::default();
    let raw = |mut p: Parsed, kind: ChunkKind| {
        p.kind = Some(kind);
        p.text = data.to_string();
        p
    };
    let mut de = serde_json::Deserializer::from_str(data);
    let msg = match serde::Deserializer::deserialize_map(&mut de, ChatMessage(*seen))
        .and_then(|m| de.end().map(|()| m))
    {
        Ok(m) => m,
        Err(_) => return raw(p, ChunkKind::Error),
    };
    if msg.error {
        return raw(p, ChunkKind::Error);
    }
    // No list, or fewer choices than already seen: not the cumulative list this parser follows.
    let Some(ChatChoices::New { len, new }) = msg.choices else {
        return raw(p, ChunkKind::Other);
    };
    *seen = len;
    let mut text = String::new();
    for c in &new {
        let part = c.get("delta").or_else(|| c.get("message"));
        if let Some(t) = part.and_then(|d| str_of(d, "content")) {
            text.push_str(t);
        }
        if let Some(f) = str_of(c, "finish_reason") {
            p.finish_reason = Some(f.to_string());
        }
    }
    p.kind = Some(if !text.is_empty() {
        ChunkKind::Content
    } else if p.finish_reason.is_some() {
        ChunkKind::Finish
    } else if !new.is_empty() {
        ChunkKind::Empty
    } else {
        return raw(p, ChunkKind::Other);
    });
    p.text = text;
    p
}

/// What [`rkllm_chat`] reads of a message: an error marker and the choices after `.0` seen.
struct ChatMessage(usize);

struct ChatRead {
    /// `"status": "error"` or a non-null `error`.
    error: bool,
    choices: Option<ChatChoices>,
}

enum ChatChoices {
    /// The list is shorter than the choices already seen.
    Fewer,
    /// The list's length and its choices beyond those seen.
    New { len: usize, new: Vec<Value> },
}

impl<'de> Visitor<'de> for ChatMessage {
    type Value = ChatRead;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a /rkllm_chat message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ChatRead, A::Error> {
        let mut r = ChatRead {
            error: false,
            choices: None,
        };
        while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
            match k.as_ref() {
                "choices" => r.choices = Some(m.next_value_seed(SkipSeen(self.0))?),
                "status" => r.error |= m.next_value::<Value>()?.as_str() == Some("error"),
                "error" => r.error |= !m.next_value::<Value>()?.is_null(),
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

/// A `choices` array: the first `.0` elements skipped unbuilt, the rest kept.
struct SkipSeen(usize);

impl<'de> DeserializeSeed<'de> for SkipSeen {
    type Value = ChatChoices;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<ChatChoices, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SkipSeen {
    type Value = ChatChoices;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a choices array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<ChatChoices, A::Error> {
        for _ in 0..self.0 {
            if a.next_element::<IgnoredAny>()?.is_none() {
                return Ok(ChatChoices::Fewer);
            }
        }
        let mut new = Vec::new();
        while let Some(c) = a.next_element::<Value>()? {
            new.push(c);
        }
        Ok(ChatChoices::New {
            len: self.0 + new.len(),
            new,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_kinds() {
        let k = |s: &str| openai(s).kind();
        assert_eq!(
            k(r#"{"choices":[{"delta":{"role":"assistant"},"finish_reason":null}]}"#),
            ChunkKind::Role
        );
        assert_eq!(
            k(r#"{"choices":[{"delta":{"role":"assistant","content":"Hi"}}]}"#),
            ChunkKind::Content
        );
        assert_eq!(
            k(r#"{"choices":[{"delta":{"content":""},"finish_reason":null}]}"#),
            ChunkKind::Empty
        );
        assert_eq!(
            k(r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#),
            ChunkKind::Reasoning
        );
        assert_eq!(
            k(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#),
            ChunkKind::Finish
        );
        assert_eq!(
            k(r#"{"choices":[],"usage":{"completion_tokens":3}}"#),
            ChunkKind::Usage
        );
        assert_eq!(k(r#"{"error":{"message":"boom"}}"#), ChunkKind::Error);
        assert_eq!(k("not json"), ChunkKind::Error);
        assert_eq!(k(r#"{"prompt_progress":{"total":3}}"#), ChunkKind::Other);
    }

    #[test]
    fn rkllm_chat_takes_only_the_choices_beyond_those_seen() {
        let c = |s: &str, f: &str| {
            format!(
                r#"{{"index":0,"delta":{{"role":"assistant","content":"{s}"}},"logprobs":null,"finish_reason":{f}}}"#
            )
        };
        let msg = |cs: &[String]| {
            format!(
                r#"{{"id":"rkllm_chat","object":"rkllm_chat","created":null,"choices":[{}],"usage":{{"prompt_tokens":null,"completion_tokens":null,"total_tokens":null}}}}"#,
                cs.join(",")
            )
        };
        let mut seen = 0;
        let a = c("H", "null");
        let b = c("i", "null");
        // Python's json.dumps escapes non-ASCII: \u4f60 is one character (3 bytes in UTF-8).
        let d = c("\\u4f60", "null");
        let p = rkllm_chat(&msg(std::slice::from_ref(&a)), &mut seen);
        assert_eq!(
            (p.kind(), p.text.as_str(), seen),
            (ChunkKind::Content, "H", 1)
        );
        // Two new choices in one message (coalesced by the server): one chunk of both.
        let p = rkllm_chat(&msg(&[a.clone(), b.clone(), d.clone()]), &mut seen);
        assert_eq!(
            (p.kind(), p.text.as_str(), seen),
            (ChunkKind::Content, "i你", 3)
        );
        assert_eq!(p.text.len(), 4);
        assert_eq!(p.finish_reason, None);
        let e = c("!", r#""stop""#);
        let p = rkllm_chat(&msg(&[a.clone(), b.clone(), d.clone(), e]), &mut seen);
        assert_eq!(
            (p.text.as_str(), p.finish_reason.as_deref()),
            ("!", Some("stop"))
        );
        // A repeat with nothing new, a shorter list, the busy answer, garbage.
        let p = rkllm_chat(&msg(std::slice::from_ref(&a)), &mut seen);
        assert_eq!((p.kind(), seen), (ChunkKind::Other, 4));
        assert_eq!(
            rkllm_chat(
                r#"{"status":"error","message":"RKLLM_Server is busy! Maybe you can try again later."}"#,
                &mut seen
            )
            .kind(),
            ChunkKind::Error
        );
        assert_eq!(rkllm_chat("{\"cho", &mut seen).kind(), ChunkKind::Error);
        assert_eq!(rkllm_chat("{} x", &mut seen).kind(), ChunkKind::Error);
        assert_eq!(
            rkllm_chat(r#"{"choices":"no"}"#, &mut seen).kind(),
            ChunkKind::Error
        );
        assert_eq!(
            rkllm_chat(r#"{"id":1}"#, &mut seen).kind(),
            ChunkKind::Other
        );
        assert_eq!(seen, 4);
    }

    #[test]
    fn llama_server_prompt_count_from_every_chunks_timings() {
        // Processed plus cached prompt tokens: known before the final usage (a request cut by
        // its deadline never gets one); the usage, when it comes, is taken instead.
        let p = openai(
            r#"{"choices":[{"delta":{"content":"a"}}],"timings":{"prompt_n":5,"cache_n":7,"predicted_n":1}}"#,
        );
        assert_eq!(p.prompt_tokens, Some((12, "timings.prompt_n".into())));
        let p = openai(
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4},"timings":{"prompt_n":5,"cache_n":7}}"#,
        );
        assert_eq!(p.prompt_tokens, Some((12, "usage.prompt_tokens".into())));
    }

    #[test]
    fn original_tool_word_counts_are_never_the_total() {
        let p = openai(
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"completion_tokens":7,"generate_tokens":12,"prefill_time_ms":80.5}}"#,
        );
        assert_eq!(p.total, Some((12, "usage.generate_tokens".into())));
        assert!(p
            .timings
            .iter()
            .any(|t| t.field == "usage.prefill_time_ms" && t.unit == "ms"));
    }

    #[test]
    fn ollama_final_line_counters_in_ns() {
        let p = ollama(
            r#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":9,"eval_duration":123,"prompt_eval_count":4}"#,
        );
        assert_eq!(p.kind(), ChunkKind::Finish);
        assert_eq!(p.total, Some((9, "eval_count".into())));
        assert_eq!(p.finish_reason.as_deref(), Some("stop"));
        assert!(p
            .timings
            .iter()
            .any(|t| t.field == "eval_duration" && t.unit == "ns"));
    }
}
