#!/usr/bin/env bash
# rkbench's performance figures (docs/PERFORMANCE.md), each beside its comparison and goal.
#
#   scripts/bench.sh            # everything: ~2-3 minutes on 2 cores
#
# 1. builds the simulated runtime (release, RKLLM 1.2.1 ABI) and rkbench (release);
# 2. runs `cargo bench --bench rkbench`: recorder cost per token through the FFI callback path
#    and heap allocations per token, beside a Python ctypes recorder; trace bytes per token
#    beside JSON Lines; replay throughput beside a Python recompute; `rkbench report` over
#    1,000 traces;
# 3. measures the process-level figures: stripped binary size, start-up time of
#    `rkbench --version` (hyperfine, else a loop), peak RSS of `rkbench record` on the default
#    suite with the simulated runtime.
#
# Results: out/bench/ (bench.txt, bench.json, process.json). Needs cargo and a C compiler;
# python3 for the comparisons (skipped without it). As root on Debian it installs hyperfine and
# GNU time when they are missing (RKBENCH_NO_INSTALL=1 to skip: start-up is then timed with a
# shell loop, and peak RSS is not measured without /usr/bin/time). Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
OUT=${RKBENCH_BENCH_DIR:-out/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ -z "${RKBENCH_NO_INSTALL:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=()
    command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
    [ -x /usr/bin/time ] || missing+=(time)
    if [ ${#missing[@]} -gt 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null) \
            || echo "note: could not install ${missing[*]}; using fallbacks"
    fi
fi

echo "== building the simulated runtime (release, ABI 1.2.1) and rkbench (release)"
cargo build -q --release -p fake-rkllmrt --no-default-features --features abi-1-2-1 \
    --target-dir "$TARGET/fake-bench"
FAKE="$TARGET/fake-bench/release/librkllmrt.so"
cargo build -q --release --bin rkbench
BIN="$TARGET/release/rkbench"
MODEL="$ROOT/fixtures/models/Qwen3-4B-sim.rkllm"

echo "== cargo bench --bench rkbench"
RKBENCH_FAKE_LIB="$FAKE" RKBENCH_BENCH_OUT="$OUT/bench.json" \
    cargo bench -q --bench rkbench 2>&1 | tee "$OUT/bench.txt"

echo
echo "== process-level figures"
size=$(stat -c %s "$BIN")
stripped=$(file -b "$BIN" 2>/dev/null | grep -o 'not stripped\|stripped' || echo "unknown")
printf '   %-46s %s B (%s MiB, %s)\n' "release binary size" "$size" "$(awk -v s="$size" 'BEGIN{printf "%.2f", s/1048576}')" "$stripped"

# Start-up time of `rkbench --version`.
if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N --warmup 50 --runs 1000 --export-json "$OUT/startup.json" "$BIN --version" >/dev/null 2>&1
    startup_ms=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f %.3f %.3f" % (r["mean"]*1e3, r["stddev"]*1e3, r["median"]*1e3))' "$OUT/startup.json" 2>/dev/null || echo "? ? ?")
    startup_how="hyperfine -N, 1000 runs"
else
    n=500
    t0=$(date +%s%N); for _ in $(seq $n); do "$BIN" --version >/dev/null; done; t1=$(date +%s%N)
    b0=$(date +%s%N); for _ in $(seq $n); do /bin/true; done; b1=$(date +%s%N)
    startup_ms="$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{printf "%.3f", (b-a)/n/1e6}') - -"
    startup_how="shell loop, $n runs, includes fork+exec ($(awk -v a="$b0" -v b="$b1" -v n="$n" 'BEGIN{printf "%.3f", (b-a)/n/1e6}') ms for /bin/true)"
fi
read -r startup_mean startup_sd startup_median <<<"$startup_ms"
printf '   %-46s %s ms mean (± %s, median %s; %s)\n' "start-up: rkbench --version" "$startup_mean" "$startup_sd" "$startup_median" "$startup_how"

# Peak RSS (kB) of a command, including its waited-for children.
maxrss_kb() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$@" 2>"$OUT/time.txt" >/dev/null
        sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/time.txt"
    else
        # Without GNU time there is no honest figure: a forking wrapper's pages count as the child's.
        "$@" >/dev/null 2>&1
        echo null
    fi
}
rm -f "$OUT"/rss-*.rktrace
rss_version=$(maxrss_kb "$BIN" --version)
rss_info=$(maxrss_kb env -u RKLLM_LIB "$BIN" info --lib "$FAKE")
rss_record=$(maxrss_kb env -u RKLLM_LIB FAKE_RKLLM_TIME_SCALE=0.001 "$BIN" record --lib "$FAKE" \
    --model "$MODEL" --suite default -q --out "$OUT/rss-supervised.rktrace")
rss_nosup=$(maxrss_kb env -u RKLLM_LIB FAKE_RKLLM_TIME_SCALE=0.001 "$BIN" record --lib "$FAKE" \
    --model "$MODEL" --suite default -q --no-supervise --out "$OUT/rss-inprocess.rktrace")
tokens=$("$BIN" report "$OUT/rss-supervised.rktrace" --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["summary"]["output_tokens"])' 2>/dev/null || echo "?")
printf '   %-46s %s kB\n' "peak RSS: rkbench record, default suite" "$rss_record"
printf '   %-46s %s kB\n' "peak RSS: same with --no-supervise" "$rss_nosup"
printf '   %-46s %s kB\n' "peak RSS: rkbench info --lib (runtime loaded)" "$rss_info"
printf '   %-46s %s kB\n' "peak RSS: rkbench --version (floor)" "$rss_version"
echo "   (record: simulated runtime at FAKE_RKLLM_TIME_SCALE=0.001, 10 requests, $tokens tokens;"
echo "    the whole process with the simulated runtime loaded, which itself allocates little)"

cat >"$OUT/process.json" <<EOF
{
  "binary_bytes": $size,
  "binary": "$stripped",
  "startup_ms_mean": $startup_mean,
  "startup_ms_median": "$startup_median",
  "startup_method": "$startup_how",
  "peak_rss_kb": {"record_supervised": $rss_record, "record_no_supervise": $rss_nosup, "info": $rss_info, "version": $rss_version},
  "record_tokens": "$tokens"
}
EOF
rm -f "$OUT/time.txt"
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
echo "results: $OUT/bench.txt, $OUT/bench.json, $OUT/process.json"
