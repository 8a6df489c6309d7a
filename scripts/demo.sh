#!/usr/bin/env bash
# Demo: build rkbench and the simulated RKLLM runtime, record the default suite through real
# dlopen of the simulated librkllmrt.so, then regenerate reports from the trace.
# Usage: scripts/demo.sh [TIME_SCALE]   (1.0 = real RK3588 timing, ~15 min; default 0.02, ~30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-0.02}"
out=out/demo
cargo build --release -p rkbench -p fake-rkllmrt
mkdir -p "$out"
trace="$out/qwen3-4b-sim-$(date -u +%Y%m%dT%H%M%SZ).rktrace"
FAKE_RKLLM_TIME_SCALE="$scale" ./target/release/rkbench record \
    --lib target/release/librkllmrt.so \
    --model fixtures/models/Qwen3-4B-sim.rkllm \
    --suite default --timeout 10m --out "$trace"
./target/release/rkbench verify "$trace"
./target/release/rkbench report "$trace" --format md,json,html,csv -o "$out"
echo
echo "trace:   $trace"
echo "reports: $(ls "$out"/*.md "$out"/*.json "$out"/*.html "$out"/*.csv | tr "\n" " ")"
