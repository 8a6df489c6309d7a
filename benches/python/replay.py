"""Straightforward Python recompute of per-request statistics from JSON Lines, for comparison
with `reader::read` + `Summary::of` on the equivalent .rktrace corpus.

Input: a directory of *.jsonl files, one object per token:
  {"request": i, "token": k, "t_us": µs since the request's t0, "token_id": id, "state": 0|1, "text": "..."}
Per request: TTFT, decode rate (N-1)/(t_N - t_1), ITL p50/p90/p99/max (linear interpolation,
numpy's default). Prints one JSON object with the token count, the elapsed time of load + parse +
compute (interpreter start-up excluded) and checksums to compare with the Rust side.

usage: replay.py DIR
"""
import json
import os
import sys
import time


def percentile(sorted_xs, p):
    # type 7 (numpy's default): linear interpolation between closest ranks
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    h = (len(sorted_xs) - 1) * p / 100.0
    lo = int(h)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (h - lo) * (sorted_xs[hi] - sorted_xs[lo])


def request_stats(ts):
    ttft_ms = ts[0] / 1e3
    decode = (len(ts) - 1) / ((ts[-1] - ts[0]) / 1e6) if len(ts) >= 2 and ts[-1] > ts[0] else None
    itl = sorted((b - a) / 1e3 for a, b in zip(ts, ts[1:]))
    if itl:
        p50, p90, p99, mx = (percentile(itl, 50), percentile(itl, 90), percentile(itl, 99), itl[-1])
    else:
        p50 = p90 = p99 = mx = None
    return ttft_ms, decode, p50, p90, p99, mx


def main():
    d = sys.argv[1]
    files = sorted(f for f in os.listdir(d) if f.endswith(".jsonl"))
    t0 = time.perf_counter()
    tokens = 0
    requests = 0
    sum_ttft = 0.0
    sum_p50 = 0.0
    for name in files:
        per_request = {}
        with open(os.path.join(d, name), encoding="utf-8") as f:
            for line in f:
                o = json.loads(line)
                per_request.setdefault(o["request"], []).append(o["t_us"])
        for ts in per_request.values():
            ttft, _decode, p50, _p90, _p99, _mx = request_stats(ts)
            tokens += len(ts)
            requests += 1
            sum_ttft += ttft
            sum_p50 += p50 or 0.0
    elapsed = time.perf_counter() - t0
    print(json.dumps({"files": len(files), "requests": requests, "tokens": tokens,
                      "elapsed_s": elapsed, "sum_ttft_ms": sum_ttft, "sum_itl_p50_ms": sum_p50}))


if __name__ == "__main__":
    main()
