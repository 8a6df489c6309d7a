#!/usr/bin/env python3
"""Recompute per-request figures of a runtime trace from `rkbench dump` alone (docs/DUMP.md).

    rkbench dump TRACE | python3 scripts/dump_figures.py

Prints one JSON object: {"requests": [{index, output_tokens, ttft_ms, decode_tok_s}]}, in index
order, with the definitions of the README's "Metrics" (the same figures as `requests[]` of the
JSON report): output tokens = token callbacks (WAITING included), TTFT = the first token's time
since the call into the runtime, decode rate = (N - 1) / (t_N - t_1). Numbers have 3 decimals,
as the JSON report prints them. Standard library only: it shows that the dump alone is enough.

Requests are the final `request` frames; a request that never got one (the recorder died) is its
latest `partial` frame continued by the `tokens` frames that extend it exactly, as rkbench reads it.
"""
import json
import sys


def read_requests(lines):
    finals, partials, chunks = {}, {}, []
    for line in lines:
        obj = json.loads(line)
        if obj["line"] != "frame" or obj["record"] is None:
            continue
        rec = obj["record"]
        if obj["kind"] == "request":
            finals[rec["index"]] = rec["tokens"]["token_dt_us"]
        elif obj["kind"] == "partial":
            partials[rec["index"]] = list(rec["tokens"]["token_dt_us"])
        elif obj["kind"] == "tokens":
            chunks.append(rec)
    for c in chunks:
        have = partials.get(c["index"])
        if have is None:
            continue
        first, dts = c["first"], c["tokens"]["token_dt_us"]
        if first <= len(have) < first + len(dts):
            have.extend(dts[len(have) - first:])
    merged = dict(partials)
    merged.update(finals)
    return [(i, merged[i]) for i in sorted(merged)]


def fixed(x):
    return None if x is None else float("%.3f" % x)


def figures(index, dts):
    n = len(dts)
    ttft = dts[0] / 1e3 if n else None
    decode = None
    if n >= 2:
        span = sum(dts[1:])
        if span > 0:
            decode = (n - 1) / (span / 1e6)
    return {
        "index": index,
        "output_tokens": n,
        "ttft_ms": fixed(ttft),
        "decode_tok_s": fixed(decode),
    }


def main():
    reqs = read_requests(l for l in sys.stdin if l.strip())
    out = {"requests": [figures(i, d) for i, d in reqs]}
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
