//! A safe session over one `LLMHandle`: init with every parameter laid out for the detected ABI,
//! blocking runs, abort from any thread, and the callback trampolines that turn the runtime's
//! C callbacks (on the runtime's own thread) into calls on a [`CallbackSink`].
use super::abi::{self, v1_1, v1_2_0, v1_2_1, v1_3_0, LLMHandle};
use super::library::{AbiVersion, Api, ClearKv, CreateDefault, Runtime};
use crate::error::{Error, Result};
use std::ffi::{c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The runtime's own figures delivered with FINISH (1.2.1+) are the trace's type, so they go
/// from the callback into the record without a copy.
pub use crate::trace::PerfStat;

/// Receives callbacks. Called on the runtime's thread; must not block or allocate per token.
pub trait CallbackSink: Send + Sync + 'static {
    /// One generated token (WAITING tokens included). Return `false` to ask the runtime to stop
    /// (honoured from the callback on 1.2.1+; older ABIs need [`Aborter::abort`]).
    fn on_token(&self, token_id: i32, text: &[u8], waiting: bool) -> bool;
    /// FINISH, with the runtime's perf stats where the ABI has them.
    fn on_finish(&self, perf: Option<PerfStat>);
    /// ERROR state.
    fn on_error(&self);
}

/// Init parameters, ABI-neutral. Fields that an ABI lacks are ignored for it.
#[derive(Debug, Clone)]
pub struct InitParams {
    pub model_path: String,
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
    pub base_domain_id: i32,
    pub embed_flash: i8,
    pub enabled_cpus_num: i8,
    pub enabled_cpus_mask: u32,
    pub n_batch: u8,
    /// 1.3.0 only: keep generating past EOS up to the cap (exactly `max_new_tokens` tokens),
    /// as a fixed-length method such as Rockchip's needs.
    pub ignore_eos_token: bool,
}

/// Per-run options.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub prompt: String,
    /// Exact token input: when set, these ids are sent as `RKLLM_INPUT_TOKEN` and `prompt` is
    /// not sent.
    pub token_ids: Option<Vec<i32>>,
    pub enable_thinking: bool,
    pub keep_history: bool,
    /// 1.3.0 only: per-run cap (≤ 0 = the init value).
    pub max_new_tokens: i32,
}

/// Lets another thread abort the running generation.
#[derive(Clone, Copy)]
pub struct Aborter {
    handle: usize,
    abort: unsafe extern "C" fn(LLMHandle) -> c_int,
}

impl Aborter {
    /// An aborter that calls `f` with a NULL handle (unit tests of the callers).
    #[cfg(test)]
    pub(crate) fn for_test(f: unsafe extern "C" fn(LLMHandle) -> c_int) -> Aborter {
        Aborter {
            handle: 0,
            abort: f,
        }
    }

    /// Call `rkllm_abort`. Safe from any thread while the session is alive.
    pub fn abort(&self) -> i32 {
        // SAFETY: `handle` came from a successful `rkllm_init` and the owning `Session` outlives
        // every use (the recorder drops aborters before the session); rkllm_abort is documented
        // to be called while `rkllm_run` blocks in another thread.
        unsafe { (self.abort)(self.handle as LLMHandle) }
    }
}

/// Context handed to the runtime as `userdata`.
struct Ctx<S> {
    sink: Arc<S>,
}

pub struct Session<S: CallbackSink> {
    api: Api,
    abi: AbiVersion,
    handle: LLMHandle,
    // Boxed so the pointers given to the runtime stay put for the session's life.
    ctx: Box<Ctx<S>>,
    _callback: Option<Box<v1_3_0::RKLLMCallback>>,
}

// SAFETY: the handle is an opaque pointer owned by this session; the RKLLM API is used from one
// thread at a time except `rkllm_abort`, which goes through `Aborter`.
unsafe impl<S: CallbackSink> Send for Session<S> {}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::input(format!("{what} contains a NUL byte")))
}

macro_rules! fill_common {
    ($p:expr, $ip:expr, $path:expr) => {{
        $p.model_path = $path.as_ptr();
        $p.max_context_len = $ip.max_context_len;
        $p.max_new_tokens = $ip.max_new_tokens;
        $p.top_k = $ip.top_k;
        $p.top_p = $ip.top_p;
        $p.temperature = $ip.temperature;
        $p.repeat_penalty = $ip.repeat_penalty;
        $p.frequency_penalty = $ip.frequency_penalty;
        $p.presence_penalty = $ip.presence_penalty;
        $p.mirostat = $ip.mirostat;
        $p.mirostat_tau = $ip.mirostat_tau;
        $p.mirostat_eta = $ip.mirostat_eta;
        $p.skip_special_token = $ip.skip_special_token;
        $p.is_async = false;
        $p.extend_param.base_domain_id = $ip.base_domain_id;
    }};
}

/// The fields 1.2.0 added (`n_keep`, and the CPU/flash fields of `RKLLMExtendParam`).
macro_rules! fill_since_1_2 {
    ($p:expr, $ip:expr) => {{
        $p.n_keep = $ip.n_keep;
        $p.extend_param.embed_flash = $ip.embed_flash;
        $p.extend_param.enabled_cpus_num = $ip.enabled_cpus_num;
        $p.extend_param.enabled_cpus_mask = $ip.enabled_cpus_mask;
    }};
}

impl<S: CallbackSink> Session<S> {
    /// `rkllm_createDefaultParam` + our parameters + `rkllm_init`.
    pub fn init(rt: &Runtime, ip: &InitParams, sink: Arc<S>) -> Result<Self> {
        let path = cstring(&ip.model_path, "--model")?;
        let api = rt.api;
        let abi = rt.abi();
        let mut ctx = Box::new(Ctx { sink });
        let ud = (&mut *ctx) as *mut Ctx<S> as *mut c_void;
        let mut handle: LLMHandle = std::ptr::null_mut();
        let mut callback = None;
        // SAFETY: each struct is the #[repr(C)] mirror for the detected ABI (asserted layouts),
        // returned by value by the runtime's own rkllm_createDefaultParam and then filled in;
        // every pointer in it (model path) outlives the call; the callback is a trampoline of
        // the matching signature and `ud` points at the boxed context kept in the session.
        let rc = unsafe {
            match api.create_default {
                CreateDefault::V1_1(f) => {
                    let mut p = f();
                    fill_common!(p, ip, path);
                    let cb: v1_1::LLMResultCallback = trampoline_void::<S>;
                    (api.init)(
                        &mut handle,
                        &mut p as *mut _ as *mut c_void,
                        cb as *const c_void,
                    )
                }
                CreateDefault::V1_2_0(f) => {
                    let mut p = f();
                    fill_common!(p, ip, path);
                    fill_since_1_2!(p, ip);
                    let cb: v1_1::LLMResultCallback = trampoline_void::<S>;
                    (api.init)(
                        &mut handle,
                        &mut p as *mut _ as *mut c_void,
                        cb as *const c_void,
                    )
                }
                CreateDefault::V1_2_1(f) => {
                    let mut p = f();
                    fill_common!(p, ip, path);
                    fill_since_1_2!(p, ip);
                    p.extend_param.n_batch = ip.n_batch;
                    let cb: v1_2_1::LLMResultCallback = trampoline_int::<S>;
                    (api.init)(
                        &mut handle,
                        &mut p as *mut _ as *mut c_void,
                        cb as *const c_void,
                    )
                }
                CreateDefault::V1_3_0(f) => {
                    let mut p = f();
                    fill_common!(p, ip, path);
                    fill_since_1_2!(p, ip);
                    p.ignore_eos_token = ip.ignore_eos_token;
                    p.extend_param.n_batch = ip.n_batch;
                    let cb = Box::new(v1_3_0::RKLLMCallback {
                        result_callback: Some(trampoline_int::<S>),
                        result_userdata: ud,
                        tokenizer_callback: std::ptr::null(),
                        tokenizer_userdata: std::ptr::null_mut(),
                        embed_callback: std::ptr::null(),
                        embed_userdata: std::ptr::null_mut(),
                    });
                    let ptr = &*cb as *const v1_3_0::RKLLMCallback as *const c_void;
                    callback = Some(cb);
                    (api.init)(&mut handle, &mut p as *mut _ as *mut c_void, ptr)
                }
            }
        };
        if rc != 0 || handle.is_null() {
            return Err(Error::runtime(format!(
                "rkllm_init failed with code {rc} for model {}; check that the file is an .rkllm model converted for this runtime version and board, and that max_context_len fits the model",
                ip.model_path
            )));
        }
        Ok(Session {
            api,
            abi,
            handle,
            ctx,
            _callback: callback,
        })
    }

    pub fn abi(&self) -> AbiVersion {
        self.abi
    }

    pub fn aborter(&self) -> Aborter {
        Aborter {
            handle: self.handle as usize,
            abort: self.api.abort,
        }
    }

    pub fn sink(&self) -> &Arc<S> {
        &self.ctx.sink
    }

    /// `rkllm_run`, blocking until the runtime returns. Returns its return code.
    pub fn run(&mut self, opts: &RunOptions) -> Result<i32> {
        let prompt = cstring(&opts.prompt, "prompt")?;
        // The runtime takes `int32_t*` (non-const) but only reads it; the copy keeps our
        // options untouched whatever it does.
        let mut ids: Vec<i32> = opts.token_ids.clone().unwrap_or_default();
        let (input_type, token_input) = match &opts.token_ids {
            Some(_) => (
                abi::RKLLM_INPUT_TOKEN,
                Some(abi::RKLLMTokenInput {
                    input_ids: ids.as_mut_ptr(),
                    n_tokens: ids.len(),
                }),
            ),
            None => (abi::RKLLM_INPUT_PROMPT, None),
        };
        let role = c"user";
        let ud = (&mut *self.ctx) as *mut Ctx<S> as *mut c_void;
        let keep = c_int::from(opts.keep_history);
        // The union member written is the one `input_type` names.
        macro_rules! set_input {
            ($u:expr) => {
                match token_input {
                    Some(t) => $u.token_input = t,
                    None => $u.prompt_input = prompt.as_ptr(),
                }
            };
        }
        // `rkllm_run` with this ABI's input and infer structs.
        macro_rules! run {
            ($input:ident, $infer:ident) => {
                (self.api.run)(
                    self.handle,
                    &mut $input as *mut _ as *mut c_void,
                    &mut $infer as *mut _ as *mut c_void,
                    ud,
                )
            };
        }
        // 1.2.0 and 1.2.1 share one infer struct.
        let infer_1_2 = || v1_2_0::RKLLMInferParam {
            mode: abi::RKLLM_INFER_GENERATE,
            lora_params: std::ptr::null_mut(),
            prompt_cache_params: std::ptr::null_mut(),
            keep_history: keep,
        };
        // SAFETY: input and infer structs are the mirrors for this ABI; the prompt/role strings,
        // the token ids and the structs live on this stack frame until rkllm_run returns (it
        // blocks); the union member written matches `input_type`.
        let rc = unsafe {
            match self.abi {
                AbiVersion::V1_1 => {
                    let mut input = v1_1::RKLLMInput {
                        input_type,
                        u: v1_1::RKLLMInputUnion { _size: [0; 3] },
                    };
                    set_input!(input.u);
                    let mut infer = v1_1::RKLLMInferParam {
                        mode: abi::RKLLM_INFER_GENERATE,
                        lora_params: std::ptr::null_mut(),
                        prompt_cache_params: std::ptr::null_mut(),
                    };
                    run!(input, infer)
                }
                AbiVersion::V1_2_0 => {
                    let mut input = v1_2_0::RKLLMInput {
                        input_type,
                        u: v1_2_0::RKLLMInputUnion { _size: [0; 3] },
                    };
                    set_input!(input.u);
                    let mut infer = infer_1_2();
                    run!(input, infer)
                }
                AbiVersion::V1_2_1 => {
                    let mut input = v1_2_1::RKLLMInput {
                        role: role.as_ptr(),
                        enable_thinking: opts.enable_thinking,
                        input_type,
                        u: v1_2_1::RKLLMInputUnion { _size: [0; 6] },
                    };
                    set_input!(input.u);
                    let mut infer = infer_1_2();
                    run!(input, infer)
                }
                AbiVersion::V1_3_0 => {
                    let mut input = v1_3_0::RKLLMInput {
                        role: role.as_ptr(),
                        enable_thinking: opts.enable_thinking,
                        input_type,
                        u: v1_3_0::RKLLMInputUnion { _size: [0; 18] },
                    };
                    set_input!(input.u);
                    let mut infer = v1_3_0::RKLLMInferParam {
                        mode: abi::RKLLM_INFER_GENERATE,
                        lora_params: std::ptr::null_mut(),
                        prompt_cache_params: std::ptr::null_mut(),
                        // NULL = keep the sampling given at init (rkbench passes it there).
                        sampling_params: std::ptr::null_mut(),
                        keep_history: keep,
                        max_new_tokens: opts.max_new_tokens,
                    };
                    run!(input, infer)
                }
            }
        };
        Ok(rc)
    }

    /// `rkllm_clear_kv_cache` where the ABI has it (not 1.1.x). Returns its code.
    pub fn clear_kv_cache(&mut self) -> Option<i32> {
        // SAFETY: valid handle; the 1.2.1 variant accepts NULL start/end position pointers.
        unsafe {
            match self.api.clear_kv {
                ClearKv::None => None,
                ClearKv::V1_2_0(f) => Some(f(self.handle, 0)),
                ClearKv::V1_2_1(f) => Some(f(
                    self.handle,
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )),
            }
        }
    }

    /// `rkllm_set_chat_template` where the ABI has it (1.2.0+).
    pub fn set_chat_template(
        &mut self,
        system: &str,
        prefix: &str,
        postfix: &str,
    ) -> Result<Option<i32>> {
        let Some(f) = self.api.set_chat_template else {
            return Ok(None);
        };
        let (s, p, q) = (
            cstring(system, "chat template")?,
            cstring(prefix, "chat template")?,
            cstring(postfix, "chat template")?,
        );
        // SAFETY: valid handle; the strings outlive the call (the runtime copies them).
        Ok(Some(unsafe {
            f(self.handle, s.as_ptr(), p.as_ptr(), q.as_ptr())
        }))
    }
}

impl<S: CallbackSink> Drop for Session<S> {
    fn drop(&mut self) {
        // SAFETY: the handle came from rkllm_init and is destroyed exactly once.
        unsafe {
            (self.api.destroy)(self.handle);
        }
    }
}

/// Shared body: read the fields every ABI has at the same offsets (`text` @0, `token_id` @8).
///
/// # Safety
/// `result` must be NULL or point at a valid `RKLLMResult` of at least the 1.1 prefix; `ud` must
/// be the `Ctx<S>` this session registered.
unsafe fn dispatch<S: CallbackSink>(
    result: *const v1_1::RKLLMResult,
    perf: Option<PerfStat>,
    ud: *mut c_void,
    state: c_int,
) -> bool {
    if ud.is_null() {
        return true;
    }
    // SAFETY: per the function contract.
    let ctx = unsafe { &*(ud as *const Ctx<S>) };
    match state {
        abi::RKLLM_RUN_NORMAL | abi::RKLLM_RUN_WAITING => {
            let (id, text) = if result.is_null() {
                (-1, &[][..])
            } else {
                // SAFETY: result is valid for the duration of the callback; text is NUL-terminated.
                let r = unsafe { &*result };
                let text = if r.text.is_null() {
                    &[][..]
                } else {
                    unsafe { CStr::from_ptr(r.text) }.to_bytes()
                };
                (r.token_id, text)
            };
            ctx.sink.on_token(id, text, state == abi::RKLLM_RUN_WAITING)
        }
        abi::RKLLM_RUN_FINISH => {
            ctx.sink.on_finish(perf);
            true
        }
        abi::RKLLM_RUN_ERROR => {
            ctx.sink.on_error();
            true
        }
        _ => true,
    }
}

/// ≤ 1.2.0 callback (`void`). Panics are caught: they must never unwind into C.
unsafe extern "C" fn trampoline_void<S: CallbackSink>(
    result: *mut v1_1::RKLLMResult,
    ud: *mut c_void,
    state: c_int,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called by the runtime with its own result pointer and our userdata.
        unsafe { dispatch::<S>(result, None, ud, state) }
    }));
}

/// ≥ 1.2.1 callback (`int`: 0 continue, 1 pause). Panics are caught and mean "continue".
unsafe extern "C" fn trampoline_int<S: CallbackSink>(
    result: *mut v1_2_1::RKLLMResult,
    ud: *mut c_void,
    state: c_int,
) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let perf = if state == abi::RKLLM_RUN_FINISH && !result.is_null() {
            // SAFETY: 1.2.1+ results carry `perf` at offset 48 (asserted in abi.rs).
            let p = unsafe { (*result).perf };
            Some(PerfStat {
                prefill_time_ms: p.prefill_time_ms,
                prefill_tokens: p.prefill_tokens,
                generate_time_ms: p.generate_time_ms,
                generate_tokens: p.generate_tokens,
                memory_usage_mb: p.memory_usage_mb,
            })
        } else {
            None
        };
        // SAFETY: the 1.2.1 result starts with the 1.1 prefix.
        unsafe { dispatch::<S>(result as *const v1_1::RKLLMResult, perf, ud, state) }
    }));
    match r {
        Ok(true) | Err(_) => 0,
        Ok(false) => 1,
    }
}
