//! Sending a suite's system message. RKLLM takes a system prompt only through
//! `rkllm_set_chat_template` (≥ 1.2.0), whose three strings are the whole text around the user
//! turn; setting it also turns off the runtime's built-in template, including its
//! `enable_thinking` handling. So rkbench writes the template of the model's family itself —
//! detected from the model file name or given with `--template-family` — and records what it
//! sent (trace kind 12).

/// A chat-template family rkbench can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `<|im_start|>role\n…<|im_end|>`: Qwen, Qwen2, Qwen2.5, InternLM2, MiniCPM3/4.
    ChatMl,
    /// ChatML, and with thinking off the empty `<think>\n\n</think>\n\n` block that Qwen3's own
    /// template appends for `enable_thinking = false` (hybrid Qwen3 models only).
    Qwen3,
}

impl Family {
    pub const NAMES: &'static str = "chatml, qwen3";

    pub fn name(self) -> &'static str {
        match self {
            Family::ChatMl => "chatml",
            Family::Qwen3 => "qwen3",
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "chatml" => Some(Family::ChatMl),
            "qwen3" => Some(Family::Qwen3),
            _ => None,
        }
    }

    /// The family of a model from its file name, when the name says it unambiguously.
    pub fn detect(file_name: &str) -> Option<Family> {
        let n = file_name.to_ascii_lowercase();
        // Distilled models keep their teacher's template, not the base model's.
        if n.contains("deepseek") {
            return None;
        }
        if n.contains("qwen3") {
            // The 2507 Instruct/Thinking models have no thinking switch in their template.
            return Some(if n.contains("2507") {
                Family::ChatMl
            } else {
                Family::Qwen3
            });
        }
        ["qwen", "internlm2", "minicpm3", "minicpm4"]
            .iter()
            .any(|k| n.contains(k))
            .then_some(Family::ChatMl)
    }

    /// The three `rkllm_set_chat_template` strings for one request.
    pub fn template(self, system: Option<&str>, think: Option<bool>) -> ChatTemplate {
        let system = match system {
            Some(s) => format!("<|im_start|>system\n{s}<|im_end|>\n"),
            None => String::new(),
        };
        let mut postfix = "<|im_end|>\n<|im_start|>assistant\n".to_string();
        if self == Family::Qwen3 && think == Some(false) {
            postfix.push_str("<think>\n\n</think>\n\n");
        }
        ChatTemplate {
            system,
            prefix: "<|im_start|>user\n".into(),
            postfix,
        }
    }
}

/// The strings given to `rkllm_set_chat_template`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ChatTemplate {
    pub system: String,
    pub prefix: String,
    pub postfix: String,
}

impl ChatTemplate {
    pub fn into_tuple(self) -> (String, String, String) {
        (self.system, self.prefix, self.postfix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_file_names() {
        for (name, want) in [
            ("Qwen3-4B-sim.rkllm", Some(Family::Qwen3)),
            ("qwen3-0.6b-w8a8.rkllm", Some(Family::Qwen3)),
            (
                "Qwen3-4B-Instruct-2507-rk3588-w8a8-opt-0-hybrid-ratio-0.0-16k.rkllm",
                Some(Family::ChatMl),
            ),
            (
                "Qwen2.5-1.5B-Instruct_W8A8_RK3588.rkllm",
                Some(Family::ChatMl),
            ),
            ("internlm2-chat-1_8b.rkllm", Some(Family::ChatMl)),
            ("DeepSeek-R1-Distill-Qwen-1.5B_W8A8_RK3588.rkllm", None),
            ("gemma-2-2b.rkllm", None),
            ("model.rkllm", None),
        ] {
            assert_eq!(Family::detect(name), want, "{name}");
        }
    }

    #[test]
    fn chatml_is_what_qwen_expects() {
        let t = Family::ChatMl.template(Some("You are terse."), None);
        assert_eq!(t.system, "<|im_start|>system\nYou are terse.<|im_end|>\n");
        assert_eq!(t.prefix, "<|im_start|>user\n");
        assert_eq!(t.postfix, "<|im_end|>\n<|im_start|>assistant\n");
        assert_eq!(Family::ChatMl.template(None, Some(false)).system, "");
        // Qwen3 with thinking off: the block its own template adds for enable_thinking=false.
        let q = Family::Qwen3.template(None, Some(false));
        assert_eq!(
            q.postfix,
            "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
        );
        assert_eq!(Family::Qwen3.template(None, Some(true)).postfix, t.postfix);
        assert_eq!(Family::parse("qwen3"), Some(Family::Qwen3));
        assert_eq!(Family::parse("llama3"), None);
    }
}
