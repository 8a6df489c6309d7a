"""Write a tiny random-weight llama GGUF for the real-server test (never downloaded).

2 blocks, 64-dim embeddings, an SPM vocabulary of 2048 tokens (control tokens, 256 byte tokens,
printable ASCII with and without the SPM space mark, then filler pieces no text tokenizes to, so
that rkbench's exact token input, ids 1000-1999, exists in this vocabulary as in every RKLLM
model's) and a ChatML template: about 1.6 MiB, written in about a second. The output rows of the control tokens are zero, so a greedy decode
(rkbench's default top_k 1) never picks end-of-sequence and every request runs to its cap:
the counts and the mid-stream deadline are then deterministic. Random weights emit byte
tokens that form partial UTF-8, so chunks differ from tokens, as on a real model.

With a third argument `load`: 4 blocks of 512 dimensions (about 60 MiB), so that a decode step
costs milliseconds of arithmetic rather than microseconds: the load test needs a model whose
throughput is set by the server's compute, not by HTTP overheads and the machine's scheduling.

usage: python tiny_gguf.py OUT.gguf [SEED] [load]
"""
import sys

import numpy as np
import gguf

out = sys.argv[1]
rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 7)

n_embd, n_ff, n_head, n_layer, n_ctx = 64, 128, 4, 2, 1024
if len(sys.argv) > 3 and sys.argv[3] == "load":
    n_embd, n_ff, n_head, n_layer, n_ctx = 512, 1536, 8, 4, 2048
tokens, scores, types = [], [], []


def add(tok, score, typ):
    tokens.append(tok.encode("utf-8"))
    scores.append(score)
    types.append(typ)


NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6
add("<unk>", 0.0, UNKNOWN)
add("<s>", 0.0, CONTROL)
add("</s>", 0.0, CONTROL)
for b in range(256):
    add("<0x%02X>" % b, -1000.0, BYTE)
add("\u2581", -1.0, NORMAL)
for c in range(0x21, 0x7F):
    add(chr(c), -2.0, NORMAL)
    add("\u2581" + chr(c), -1.5, NORMAL)
add("<|im_start|>", 0.0, CONTROL)
add("<|im_end|>", 0.0, CONTROL)
n_base = len(tokens)
# Filler up to 2048: pieces no text contains (so the tokenizer never forms them), with zero
# output rows (never generated) and embeddings drawn after every other tensor (so the weights of
# the first n_base tokens, and with them every text answer, are those of the 450-token model).
while len(tokens) < 2048:
    add("<fill-%d>" % len(tokens), -10.0, NORMAL)
n_vocab = len(tokens)
control = [i for i, t in enumerate(types) if t in (CONTROL, UNKNOWN)]

w = gguf.GGUFWriter(out, "llama")
w.add_context_length(n_ctx)
w.add_embedding_length(n_embd)
w.add_block_count(n_layer)
w.add_feed_forward_length(n_ff)
w.add_rope_dimension_count(n_embd // n_head)
w.add_head_count(n_head)
w.add_head_count_kv(n_head)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(gguf.LlamaFileType.ALL_F32)
w.add_tokenizer_model("llama")
w.add_token_list(tokens)
w.add_token_scores(scores)
w.add_token_types(types)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)
w.add_chat_template(
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def t(*shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


token_embd = t(n_base, n_embd)
for i in range(n_layer):
    p = "blk.%d." % i
    w.add_tensor(p + "attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        w.add_tensor(p + name + ".weight", t(n_embd, n_embd))
    w.add_tensor(p + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor(p + "ffn_gate.weight", t(n_ff, n_embd))
    w.add_tensor(p + "ffn_up.weight", t(n_ff, n_embd))
    w.add_tensor(p + "ffn_down.weight", t(n_embd, n_ff))
w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
output = t(n_base, n_embd)
output[control, :] = 0.0
fill = n_vocab - n_base
token_embd = np.concatenate([token_embd, t(fill, n_embd)])
output = np.concatenate([output, np.zeros((fill, n_embd), dtype=np.float32)])
w.add_tensor("token_embd.weight", token_embd)
w.add_tensor("output.weight", output)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
