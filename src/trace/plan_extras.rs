//! What a run's plan added to what `rkllm_init` was given (format 1.1, kinds 12–13): the chat
//! template rkbench set to send a suite's system messages, and the settings preset used. Older
//! readers skip these kinds; the run parameters themselves stay in [`super::RunParams`].
use super::Fact;
use rkyv::{Archive, Deserialize, Serialize};

/// Frame kinds of this module (reserved for the planning step: 12–13).
pub mod kind {
    pub const TEMPLATE_SENT: u8 = 12;
    pub const PRESET_USED: u8 = 13;
}

/// The strings passed to `rkllm_set_chat_template` before request `index`, in effect until the
/// next record of this kind. Setting a template turns off the runtime's own template and its
/// `enable_thinking` handling, so the report can say exactly what the model saw.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TemplateSent {
    /// The first request (trace index) sent with this template.
    pub index: u32,
    /// Why this template: e.g. `chatml (detected from model file name "Qwen2.5-1.5B.rkllm")`,
    /// `qwen3 (--template-family)`, `--chat-template`.
    pub origin: String,
    pub system: String,
    pub prefix: String,
    pub postfix: String,
}

/// The `--preset` a run used: its name, its values, and which of them explicit flags overrode
/// (the values actually passed are in the header's parameters).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct PresetUsed {
    pub name: String,
    /// (flag, value) as the preset defines them.
    pub values: Vec<Fact>,
    /// Flags of the preset given explicitly on the command line, which won.
    pub overridden: Vec<String>,
}
