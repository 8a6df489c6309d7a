#!/usr/bin/env bash
# Fuzz for a bounded total time (default 60 s), split over the targets:
# - trace_reader (half the time): the trace reader, the journal merge and all four renderers,
#   seeded with the committed traces and with a crashed run's trace + journal, whole and damaged
#   (fuzz/seeds: an input is a trace, then optionally its journal from the second "RKBTRACE" on);
# - http_response, http_stream, rkllm_chat (a sixth each): what a server's bytes reach — the HTTP
#   response decoder, the SSE / NDJSON / blank-line framing with the chunk parsers, and the
#   cumulative /rkllm_chat parser — seeded from fuzz/seeds/<target>/.
# cargo-fuzz needs nightly-only compiler flags; the stable toolchain's own sanitizer runtimes
# are used through RUSTC_BOOTSTRAP=1 (no nightly toolchain can be downloaded here).
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
run() { # target seconds
    local corpus=target/fuzz-corpus/$1
    mkdir -p "$corpus"
    if [ "$1" = trace_reader ]; then
        cp traces/*.rktrace fuzz/seeds/*.bin "$corpus"/ 2>/dev/null || true
    else
        cp fuzz/seeds/"$1"/* "$corpus"/
    fi
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$1" "$corpus" -- -max_total_time="$2" -max_len=65536 -rss_limit_mb=2048 2>&1 \
        | tee "target/fuzz-$1.log" | tail -n 3
    local done
    done=$(grep -E "Done [0-9]+ runs" "target/fuzz-$1.log")
    echo "$1: $done"
}
# Build every target first, so the time is spent fuzzing.
RUSTC_BOOTSTRAP=1 cargo fuzz build
run trace_reader $((secs / 2))
for t in http_response http_stream rkllm_chat; do
    run "$t" $(( secs / 6 > 0 ? secs / 6 : 1 ))
done
