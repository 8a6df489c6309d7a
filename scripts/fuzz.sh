#!/usr/bin/env bash
# Fuzz the trace reader, the journal merge and all four renderers for a bounded time (default 60 s),
# seeded with the committed traces and with a crashed run's trace + journal, whole and damaged
# (fuzz/seeds: an input is a trace, then optionally its journal from the second "RKBTRACE" on).
# cargo-fuzz needs nightly-only compiler flags; the stable toolchain's own sanitizer runtimes
# are used through RUSTC_BOOTSTRAP=1 (no nightly toolchain can be downloaded here).
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
corpus=target/fuzz-corpus/trace_reader
mkdir -p "$corpus"
cp traces/*.rktrace fuzz/seeds/*.bin "$corpus"/ 2>/dev/null || true
RUSTC_BOOTSTRAP=1 cargo fuzz run trace_reader "$corpus" -- -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 2>&1 | tee target/fuzz.log | tail -n 5
grep -E "Done [0-9]+ runs" target/fuzz.log
