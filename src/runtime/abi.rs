//! `#[repr(C)]` mirrors of `rkllm.h`, one module per ABI generation, written from the per-version
//! facts in `shared/docs/rkllm-abi.md`. Sizes and offsets are asserted at compile time: a wrong
//! layout is silent memory corruption on a real board. LP64 only (aarch64, x86_64 agree).
#![allow(non_camel_case_types, non_snake_case, dead_code)]

use std::ffi::{c_char, c_int, c_void};
use std::mem::{offset_of, size_of};

pub type LLMHandle = *mut c_void;

/// `LLMCallState`.
pub const RKLLM_RUN_NORMAL: c_int = 0;
pub const RKLLM_RUN_WAITING: c_int = 1;
pub const RKLLM_RUN_FINISH: c_int = 2;
pub const RKLLM_RUN_ERROR: c_int = 3;
/// 1.1.x only.
pub const RKLLM_RUN_GET_LAST_HIDDEN_LAYER: c_int = 4;

/// `RKLLMInputType::RKLLM_INPUT_PROMPT`.
pub const RKLLM_INPUT_PROMPT: c_int = 0;
/// `RKLLMInputType::RKLLM_INPUT_TOKEN` (1.1+): token ids, no tokenizer or chat template.
pub const RKLLM_INPUT_TOKEN: c_int = 1;

/// `RKLLMTokenInput` (1.1+, the same in every generation): a member of the input union.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RKLLMTokenInput {
    pub input_ids: *mut i32,
    pub n_tokens: usize,
}

const _: () = {
    assert!(size_of::<RKLLMTokenInput>() == 16);
    assert!(offset_of!(RKLLMTokenInput, input_ids) == 0);
    assert!(offset_of!(RKLLMTokenInput, n_tokens) == 8);
};
/// `RKLLMInferMode::RKLLM_INFER_GENERATE`.
pub const RKLLM_INFER_GENERATE: c_int = 0;

#[cfg(not(target_pointer_width = "64"))]
compile_error!("rkbench's RKLLM mirrors are written for LP64 targets (aarch64, x86_64)");

/// `RKLLMPerfStat` (1.2.1+).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RKLLMPerfStat {
    pub prefill_time_ms: f32,
    pub prefill_tokens: c_int,
    pub generate_time_ms: f32,
    pub generate_tokens: c_int,
    pub memory_usage_mb: f32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RKLLMResultLastHiddenLayer {
    pub hidden_states: *const f32,
    pub embd_size: c_int,
    pub num_tokens: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RKLLMResultLogits {
    pub logits: *const f32,
    pub vocab_size: c_int,
    pub num_tokens: c_int,
}

#[repr(C)]
pub struct RKLLMLoraParam {
    pub lora_adapter_name: *const c_char,
}

#[repr(C)]
pub struct RKLLMPromptCacheParam {
    pub save_prompt_cache: c_int,
    pub prompt_cache_path: *const c_char,
}

/// 1.1.4 (covers 1.1.x).
pub mod v1_1 {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMExtendParam {
        pub base_domain_id: i32,
        pub reserved: [u8; 112],
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMParam {
        pub model_path: *const c_char,
        pub max_context_len: i32,
        pub max_new_tokens: i32,
        pub top_k: i32,
        pub top_p: f32,
        pub temperature: f32,
        pub repeat_penalty: f32,
        pub frequency_penalty: f32,
        pub presence_penalty: f32,
        pub mirostat: i32,
        pub mirostat_tau: f32,
        pub mirostat_eta: f32,
        pub skip_special_token: bool,
        pub is_async: bool,
        pub img_start: *const c_char,
        pub img_end: *const c_char,
        pub img_content: *const c_char,
        pub extend_param: RKLLMExtendParam,
    }

    /// The input union, sized by its largest member (multimodal: 3 words).
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub union RKLLMInputUnion {
        pub prompt_input: *const c_char,
        pub token_input: RKLLMTokenInput,
        pub _size: [u64; 3],
    }

    #[repr(C)]
    pub struct RKLLMInput {
        pub input_type: c_int,
        pub u: RKLLMInputUnion,
    }

    #[repr(C)]
    pub struct RKLLMInferParam {
        pub mode: c_int,
        pub lora_params: *mut RKLLMLoraParam,
        pub prompt_cache_params: *mut RKLLMPromptCacheParam,
    }

    #[repr(C)]
    pub struct RKLLMResult {
        pub text: *const c_char,
        pub token_id: i32,
        pub last_hidden_layer: RKLLMResultLastHiddenLayer,
    }

    pub type LLMResultCallback = unsafe extern "C" fn(*mut RKLLMResult, *mut c_void, c_int);

    const _: () = {
        assert!(size_of::<RKLLMExtendParam>() == 116);
        assert!(size_of::<RKLLMParam>() == 200);
        assert!(offset_of!(RKLLMParam, top_k) == 16);
        assert!(offset_of!(RKLLMParam, skip_special_token) == 52);
        assert!(offset_of!(RKLLMParam, img_start) == 56);
        assert!(offset_of!(RKLLMParam, extend_param) == 80);
        assert!(size_of::<RKLLMInput>() == 32);
        assert!(offset_of!(RKLLMInput, u) == 8);
        assert!(size_of::<RKLLMInferParam>() == 24);
        assert!(size_of::<RKLLMResult>() == 32);
        assert!(offset_of!(RKLLMResult, token_id) == 8);
        assert!(offset_of!(RKLLMResult, last_hidden_layer) == 16);
    };
}

/// 1.2.0.
pub mod v1_2_0 {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMExtendParam {
        pub base_domain_id: i32,
        pub embed_flash: i8,
        pub enabled_cpus_num: i8,
        pub enabled_cpus_mask: u32,
        pub reserved: [u8; 106],
    }

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMParam {
        pub model_path: *const c_char,
        pub max_context_len: i32,
        pub max_new_tokens: i32,
        pub top_k: i32,
        pub n_keep: i32,
        pub top_p: f32,
        pub temperature: f32,
        pub repeat_penalty: f32,
        pub frequency_penalty: f32,
        pub presence_penalty: f32,
        pub mirostat: i32,
        pub mirostat_tau: f32,
        pub mirostat_eta: f32,
        pub skip_special_token: bool,
        pub is_async: bool,
        pub img_start: *const c_char,
        pub img_end: *const c_char,
        pub img_content: *const c_char,
        pub extend_param: RKLLMExtendParam,
    }

    pub type RKLLMInput = super::v1_1::RKLLMInput;
    pub type RKLLMInputUnion = super::v1_1::RKLLMInputUnion;

    #[repr(C)]
    pub struct RKLLMInferParam {
        pub mode: c_int,
        pub lora_params: *mut RKLLMLoraParam,
        pub prompt_cache_params: *mut RKLLMPromptCacheParam,
        pub keep_history: c_int,
    }

    #[repr(C)]
    pub struct RKLLMResult {
        pub text: *const c_char,
        pub token_id: i32,
        pub last_hidden_layer: RKLLMResultLastHiddenLayer,
        pub logits: RKLLMResultLogits,
    }

    pub type LLMResultCallback = unsafe extern "C" fn(*mut RKLLMResult, *mut c_void, c_int);

    const _: () = {
        assert!(size_of::<RKLLMExtendParam>() == 120);
        assert!(offset_of!(RKLLMExtendParam, embed_flash) == 4);
        assert!(offset_of!(RKLLMExtendParam, enabled_cpus_num) == 5);
        assert!(offset_of!(RKLLMExtendParam, enabled_cpus_mask) == 8);
        assert!(size_of::<RKLLMParam>() == 208);
        assert!(offset_of!(RKLLMParam, n_keep) == 20);
        assert!(offset_of!(RKLLMParam, top_p) == 24);
        assert!(offset_of!(RKLLMParam, skip_special_token) == 56);
        assert!(offset_of!(RKLLMParam, img_start) == 64);
        assert!(offset_of!(RKLLMParam, extend_param) == 88);
        assert!(size_of::<RKLLMInferParam>() == 32);
        assert!(offset_of!(RKLLMInferParam, keep_history) == 24);
        assert!(size_of::<RKLLMResult>() == 48);
        assert!(offset_of!(RKLLMResult, logits) == 32);
    };
}

/// 1.2.1 – 1.2.3.
pub mod v1_2_1 {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMExtendParam {
        pub base_domain_id: i32,
        pub embed_flash: i8,
        pub enabled_cpus_num: i8,
        pub enabled_cpus_mask: u32,
        pub n_batch: u8,
        pub use_cross_attn: i8,
        pub reserved: [u8; 104],
    }

    /// Same field list as 1.2.0 with the 1.2.1 extend param.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMParam {
        pub model_path: *const c_char,
        pub max_context_len: i32,
        pub max_new_tokens: i32,
        pub top_k: i32,
        pub n_keep: i32,
        pub top_p: f32,
        pub temperature: f32,
        pub repeat_penalty: f32,
        pub frequency_penalty: f32,
        pub presence_penalty: f32,
        pub mirostat: i32,
        pub mirostat_tau: f32,
        pub mirostat_eta: f32,
        pub skip_special_token: bool,
        pub is_async: bool,
        pub img_start: *const c_char,
        pub img_end: *const c_char,
        pub img_content: *const c_char,
        pub extend_param: RKLLMExtendParam,
    }

    /// Largest member: multimodal `{prompt, image_embed, n_image_tokens, n_image, width, height}`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub union RKLLMInputUnion {
        pub prompt_input: *const c_char,
        pub token_input: RKLLMTokenInput,
        pub _size: [u64; 6],
    }

    #[repr(C)]
    pub struct RKLLMInput {
        pub role: *const c_char,
        pub enable_thinking: bool,
        pub input_type: c_int,
        pub u: RKLLMInputUnion,
    }

    pub type RKLLMInferParam = super::v1_2_0::RKLLMInferParam;

    #[repr(C)]
    pub struct RKLLMResult {
        pub text: *const c_char,
        pub token_id: i32,
        pub last_hidden_layer: RKLLMResultLastHiddenLayer,
        pub logits: RKLLMResultLogits,
        pub perf: RKLLMPerfStat,
    }

    pub type LLMResultCallback =
        unsafe extern "C" fn(*mut RKLLMResult, *mut c_void, c_int) -> c_int;

    const _: () = {
        assert!(size_of::<RKLLMExtendParam>() == 120);
        assert!(offset_of!(RKLLMExtendParam, enabled_cpus_mask) == 8);
        assert!(offset_of!(RKLLMExtendParam, n_batch) == 12);
        assert!(offset_of!(RKLLMExtendParam, use_cross_attn) == 13);
        assert!(size_of::<RKLLMParam>() == 208);
        assert!(offset_of!(RKLLMParam, extend_param) == 88);
        assert!(size_of::<RKLLMInput>() == 64);
        assert!(offset_of!(RKLLMInput, enable_thinking) == 8);
        assert!(offset_of!(RKLLMInput, input_type) == 12);
        assert!(offset_of!(RKLLMInput, u) == 16);
        assert!(size_of::<RKLLMResult>() == 72);
        assert!(offset_of!(RKLLMResult, perf) == 48);
        assert!(size_of::<RKLLMPerfStat>() == 20);
    };
}

/// 1.3.0.
pub mod v1_3_0 {
    use super::*;

    pub type RKLLMExtendParam = super::v1_2_1::RKLLMExtendParam;

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct RKLLMParam {
        pub model_path: *const c_char,
        pub max_context_len: i32,
        pub max_new_tokens: i32,
        pub top_k: i32,
        pub n_keep: i32,
        pub top_p: f32,
        pub temperature: f32,
        pub repeat_penalty: f32,
        pub frequency_penalty: f32,
        pub presence_penalty: f32,
        pub mirostat: i32,
        pub mirostat_tau: f32,
        pub mirostat_eta: f32,
        pub skip_special_token: bool,
        pub ignore_eos_token: bool,
        pub is_async: bool,
        pub extend_param: RKLLMExtendParam,
    }

    /// Largest member: multimodal `{prompt, image{8 words}, video{9 words}}` = 18 words.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub union RKLLMInputUnion {
        pub prompt_input: *const c_char,
        pub token_input: RKLLMTokenInput,
        pub _size: [u64; 18],
    }

    #[repr(C)]
    pub struct RKLLMInput {
        pub role: *const c_char,
        pub enable_thinking: bool,
        pub input_type: c_int,
        pub u: RKLLMInputUnion,
    }

    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct RKLLMSamplingParam {
        pub top_k: i32,
        pub top_p: f32,
        pub temperature: f32,
        pub repeat_penalty: f32,
        pub frequency_penalty: f32,
        pub presence_penalty: f32,
        pub mirostat: i32,
        pub mirostat_tau: f32,
        pub mirostat_eta: f32,
    }

    #[repr(C)]
    pub struct RKLLMInferParam {
        pub mode: c_int,
        pub lora_params: *mut RKLLMLoraParam,
        pub prompt_cache_params: *mut RKLLMPromptCacheParam,
        pub sampling_params: *mut RKLLMSamplingParam,
        pub keep_history: c_int,
        pub max_new_tokens: i32,
    }

    pub type RKLLMResult = super::v1_2_1::RKLLMResult;
    pub type LLMResultCallback = super::v1_2_1::LLMResultCallback;

    /// `RKLLMCallback`: passed by pointer to `rkllm_init` in 1.3.0.
    #[repr(C)]
    pub struct RKLLMCallback {
        pub result_callback: Option<LLMResultCallback>,
        pub result_userdata: *mut c_void,
        pub tokenizer_callback: *const c_void,
        pub tokenizer_userdata: *mut c_void,
        pub embed_callback: *const c_void,
        pub embed_userdata: *mut c_void,
    }

    const _: () = {
        assert!(size_of::<RKLLMParam>() == 184);
        assert!(offset_of!(RKLLMParam, skip_special_token) == 56);
        assert!(offset_of!(RKLLMParam, ignore_eos_token) == 57);
        assert!(offset_of!(RKLLMParam, is_async) == 58);
        assert!(offset_of!(RKLLMParam, extend_param) == 60);
        assert!(size_of::<RKLLMInput>() == 160);
        assert!(offset_of!(RKLLMInput, u) == 16);
        assert!(size_of::<RKLLMSamplingParam>() == 36);
        assert!(size_of::<RKLLMInferParam>() == 40);
        assert!(offset_of!(RKLLMInferParam, sampling_params) == 24);
        assert!(offset_of!(RKLLMInferParam, keep_history) == 32);
        assert!(offset_of!(RKLLMInferParam, max_new_tokens) == 36);
        assert!(size_of::<RKLLMCallback>() == 48);
    };
}
