//! Exact token input: the token ids rkbench feeds as `RKLLM_INPUT_TOKEN` for a test with
//! `input_tokens: N`, so the prefill is exactly N tokens with no tokenizer or chat template in
//! between (a text prompt cannot promise that: the template adds tokens and the tokenizer decides
//! how many the text becomes).
//!
//! The ids are `1000, 1001, …, 1999, 1000, …` — `FIRST_ID + i mod SPAN`. Why they are safe for
//! any model RKLLM runs:
//! * every such vocabulary has at least 32 000 entries (Llama/TinyLlama/Phi-3 32 000, Qwen
//!   151 936, Gemma 256 000, ChatGLM3 65 024, InternLM2 92 544, MiniCPM 73 448, RWKV 65 536),
//!   so ids below 2000 always exist;
//! * the control tokens (BOS, EOS, PAD, UNK, the chat-turn and image/video markers) and the
//!   byte-fallback tokens sit either at the very start of those vocabularies (ids 0–~470) or at
//!   the very end (Qwen ≥ 151 643, Phi-3 ≥ 32 000, ChatGLM3 ≥ 64 789, InternLM2 ≥ 92 538), so ids
//!   1000–1999 are ordinary word pieces everywhere: no id ends the input early, starts a turn,
//!   or asks for an image;
//! * prefill cost does not depend on which ids are fed (every position attends to every earlier
//!   one), so the content does not change what is measured.
//!
//! The same ids go to every request; rkbench clears the KV cache between requests (unless
//! `--no-clear-kv`), so no request reuses another's prefill.

/// The first id fed.
pub const FIRST_ID: i32 = 1000;
/// Ids cycle through `FIRST_ID .. FIRST_ID + SPAN`.
pub const SPAN: i32 = 1000;

/// The `n` token ids of an exact token input.
pub fn ids(n: u32) -> Vec<i32> {
    (0..n)
        .map(|i| FIRST_ID + (i % SPAN as u32) as i32)
        .collect()
}

/// The text stored as a token request's `prompt`, so any reader of the trace (also one older
/// than token input) shows what was sent.
pub fn describe(n: u32) -> String {
    let last = FIRST_ID + (n.saturating_sub(1).min(SPAN as u32 - 1)) as i32;
    let ids = if n == 1 {
        format!("id {FIRST_ID}")
    } else if n <= SPAN as u32 {
        format!("ids {FIRST_ID}..{last}")
    } else {
        format!("ids {FIRST_ID}..{last} repeated")
    };
    format!("[exact token input: {n} token {ids}; no tokenizer or chat template]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_exactly_n_ordinary_tokens() {
        assert!(ids(0).is_empty());
        assert_eq!(ids(3), [1000, 1001, 1002]);
        let v = ids(2500);
        assert_eq!(v.len(), 2500);
        assert_eq!(v[999], 1999);
        assert_eq!(v[1000], 1000);
        assert!(v.iter().all(|&id| (1000..2000).contains(&id)));
        assert_eq!(ids(128), ids(128), "the same ids every time");
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            describe(128),
            "[exact token input: 128 token ids 1000..1127; no tokenizer or chat template]"
        );
        assert_eq!(
            describe(1),
            "[exact token input: 1 token id 1000; no tokenizer or chat template]"
        );
        assert_eq!(
            describe(4096),
            "[exact token input: 4096 token ids 1000..1999 repeated; no tokenizer or chat template]"
        );
    }
}
