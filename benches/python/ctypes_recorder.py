"""The callback recorder of the tool rkbench started from, for comparison: a ctypes CFUNCTYPE
callback that appends time.perf_counter_ns(), the token id and the text to Python lists.

Drives the same simulated librkllmrt.so (RKLLM 1.2.1 ABI) as the Rust bench and prints one JSON
object: ns/token of runs with the recording callback and with a no-op callback, and of the two
callback bodies called directly from Python (no runtime, no trampoline).

usage: ctypes_recorder.py LIB MODEL TOKENS REPS
The FAKE_RKLLM_* environment (zero delay, fixed output length) is set by the caller.
"""
import ctypes
import json
import sys
import time
from ctypes import (POINTER, Structure, Union, c_bool, c_char_p, c_float, c_int, c_int8,
                    c_int32, c_size_t, c_uint8, c_uint32, c_void_p)


# --- RKLLM 1.2.1 structs (docs/rkllm-abi.md); sizes asserted below -------------------------
class RKLLMExtendParam(Structure):
    _fields_ = [("base_domain_id", c_int32), ("embed_flash", c_int8),
                ("enabled_cpus_num", c_int8), ("enabled_cpus_mask", c_uint32),
                ("n_batch", c_uint8), ("use_cross_attn", c_int8), ("reserved", c_uint8 * 104)]


class RKLLMParam(Structure):
    _fields_ = [("model_path", c_char_p), ("max_context_len", c_int32),
                ("max_new_tokens", c_int32), ("top_k", c_int32), ("n_keep", c_int32),
                ("top_p", c_float), ("temperature", c_float), ("repeat_penalty", c_float),
                ("frequency_penalty", c_float), ("presence_penalty", c_float),
                ("mirostat", c_int32), ("mirostat_tau", c_float), ("mirostat_eta", c_float),
                ("skip_special_token", c_bool), ("is_async", c_bool),
                ("img_start", c_char_p), ("img_end", c_char_p), ("img_content", c_char_p),
                ("extend_param", RKLLMExtendParam)]


class RKLLMMultiModalInput(Structure):
    _fields_ = [("prompt", c_char_p), ("image_embed", c_void_p), ("n_image_tokens", c_size_t),
                ("n_image", c_size_t), ("image_width", c_size_t), ("image_height", c_size_t)]


class RKLLMInputUnion(Union):
    _fields_ = [("prompt_input", c_char_p), ("multimodal", RKLLMMultiModalInput)]


class RKLLMInput(Structure):
    _fields_ = [("role", c_char_p), ("enable_thinking", c_bool), ("input_type", c_int),
                ("u", RKLLMInputUnion)]


class RKLLMInferParam(Structure):
    _fields_ = [("mode", c_int), ("lora_params", c_void_p), ("prompt_cache_params", c_void_p),
                ("keep_history", c_int)]


class RKLLMPerfStat(Structure):
    _fields_ = [("prefill_time_ms", c_float), ("prefill_tokens", c_int),
                ("generate_time_ms", c_float), ("generate_tokens", c_int),
                ("memory_usage_mb", c_float)]


class RKLLMResult(Structure):
    _fields_ = [("text", c_char_p), ("token_id", c_int32),
                ("hidden_states", c_void_p), ("embd_size", c_int), ("num_tokens", c_int),
                ("logits", c_void_p), ("vocab_size", c_int), ("logits_num_tokens", c_int),
                ("perf", RKLLMPerfStat)]


for cls, size in ((RKLLMExtendParam, 120), (RKLLMParam, 208), (RKLLMInput, 64),
                  (RKLLMInferParam, 32), (RKLLMResult, 72)):
    assert ctypes.sizeof(cls) == size, (cls.__name__, ctypes.sizeof(cls), size)
assert RKLLMParam.extend_param.offset == 88 and RKLLMResult.perf.offset == 48
assert RKLLMInput.u.offset == 16 and RKLLMInput.input_type.offset == 12

CALLBACK = ctypes.CFUNCTYPE(c_int, POINTER(RKLLMResult), c_void_p, c_int)

# --- the recorder under test: what the original tool did per token --------------------------
times, ids, texts = [], [], []
perf_counter_ns = time.perf_counter_ns


def record(result, userdata, state):
    if state == 0 or state == 1:  # NORMAL, WAITING
        r = result.contents
        times.append(perf_counter_ns())
        ids.append(r.token_id)
        texts.append(r.text)
    return 0


def noop(result, userdata, state):
    return 0


def main():
    lib_path, model, tokens, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    lib = ctypes.CDLL(lib_path)
    lib.rkllm_createDefaultParam.restype = RKLLMParam
    lib.rkllm_init.argtypes = [POINTER(c_void_p), POINTER(RKLLMParam), CALLBACK]
    lib.rkllm_run.argtypes = [c_void_p, POINTER(RKLLMInput), POINTER(RKLLMInferParam), c_void_p]
    lib.rkllm_destroy.argtypes = [c_void_p]

    callbacks = {"noop": CALLBACK(noop), "record": CALLBACK(record)}
    handles = {}
    for name, cb in callbacks.items():
        param = lib.rkllm_createDefaultParam()
        param.model_path = model.encode()
        param.max_context_len = 4096
        param.max_new_tokens = -1
        h = c_void_p()
        rc = lib.rkllm_init(ctypes.byref(h), ctypes.byref(param), cb)
        assert rc == 0 and h.value, f"rkllm_init failed: {rc}"
        handles[name] = h

    inp = RKLLMInput()
    inp.role = b"user"
    inp.enable_thinking = False
    inp.input_type = 0  # PROMPT
    inp.u.prompt_input = b"Explain the NPU of the RK3588."
    infer = RKLLMInferParam()

    out = {"tokens": tokens, "noop_ns_per_token": [], "record_ns_per_token": []}
    for _ in range(reps):
        for name in ("noop", "record"):
            del times[:], ids[:], texts[:]
            t0 = perf_counter_ns()
            rc = lib.rkllm_run(handles[name], ctypes.byref(inp), ctypes.byref(infer), None)
            dt = perf_counter_ns() - t0
            assert rc == 0, f"rkllm_run failed: {rc}"
            if name == "record":
                assert len(times) == tokens, (len(times), tokens)
            out[f"{name}_ns_per_token"].append(dt / tokens)
    for h in handles.values():
        lib.rkllm_destroy(h)

    # The callback bodies alone, called from Python with a real RKLLMResult pointer (no runtime,
    # no foreign-thread trampoline): best of `reps` loops each.
    res = RKLLMResult()
    res.text = b" word"
    res.token_id = 1234
    ptr = ctypes.pointer(res)
    for name, fn in (("noop", noop), ("record", record)):
        best = float("inf")
        for _ in range(reps):
            del times[:], ids[:], texts[:]
            t0 = perf_counter_ns()
            for _ in range(tokens):
                fn(ptr, None, 0)
            best = min(best, (perf_counter_ns() - t0) / tokens)
        out[f"direct_{name}_ns_per_token"] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
