#!/usr/bin/env bash
# The real-server tests: two real OpenAI-compatible servers on 127.0.0.1 with a tiny
# random-weight GGUF written here (never downloaded), each for at most 15 minutes, and
# tests/real_server.rs against them:
# - llama-cpp-python's server (record the quick suite, counts equal the server's own usage, a
#   deadline mid-stream keeps its chunks, the next request waits for the server process);
# - llama.cpp's llama-server (detected by /props, per-chunk counts, no prompt cache, plausible
#   timings, the /slots wait), and a second one with two slots (--parallel 2) for load: closed
#   loops of 1, 2 and 4 streams, an open-loop Poisson schedule and a load=auto sweep, each checked
#   against its own /metrics counters.
# CI runs this as its own step (.ci/run); both are built once by scripts/llama-server-env.sh
# (one llama.cpp compile, ~20 min on 2 cores) and reused from the cache directory afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
env_out=$(nice -n 19 bash scripts/llama-server-env.sh)
venv=$(echo "$env_out" | tail -2 | head -1)
llama_server=$(echo "$env_out" | tail -1)
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
"$venv/bin/python" scripts/tiny_gguf.py "$work/tiny.gguf"
# A heavier one for load (4 blocks of 512): its throughput is the server's arithmetic, not HTTP.
"$venv/bin/python" scripts/tiny_gguf.py "$work/load.gguf" 7 load
free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits until the server answers on its port (or says why it did not start).
wait_up() { # PID PORT LOG
    for _ in $(seq 1 240); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
        if ! kill -0 "$1" 2>/dev/null; then cat "$3"; echo "real-server: a server did not start"; exit 1; fi
        sleep 0.5
    done
    cat "$3"; echo "real-server: a server did not answer within 2 min"; exit 1
}

port=$(free_port)
timeout 900 "$venv/bin/python" -m llama_cpp.server --model "$work/tiny.gguf" --model_alias tiny \
    --host 127.0.0.1 --port "$port" --n_ctx 1024 --seed 7 >"$work/python.log" 2>&1 &
pids+=($!)
wait_up "${pids[-1]}" "$port" "$work/python.log"

lport=$(free_port)
# One slot, so /slots says busy exactly while the one request runs.
timeout 900 "$llama_server" --model "$work/tiny.gguf" --alias tiny --host 127.0.0.1 --port "$lport" \
    --ctx-size 1024 --parallel 1 --seed 7 --threads 2 >"$work/llama-server.log" 2>&1 &
pids+=($!)
wait_up "${pids[-1]}" "$lport" "$work/llama-server.log"
# llama-server listens before its model is loaded (503 until then): wait for /health.
for _ in $(seq 1 240); do
    if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$lport/health', timeout=2)" 2>/dev/null; then break; fi
    sleep 0.5
done

# Two slots and its Prometheus counters, for the load tests (closed loop at 1, 2 and 4 streams);
# one thread, so the other core is left to rkbench's streams on a 2-core machine.
pport=$(free_port)
timeout 900 "$llama_server" --model "$work/load.gguf" --alias tiny --host 127.0.0.1 --port "$pport" \
    --ctx-size 4096 --parallel 2 --metrics --seed 7 --threads 1 >"$work/llama-server-parallel.log" 2>&1 &
pids+=($!)
wait_up "${pids[-1]}" "$pport" "$work/llama-server-parallel.log"
for p in "$lport" "$pport"; do
    for _ in $(seq 1 240); do
        if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$p/health', timeout=2)" 2>/dev/null; then break; fi
        sleep 0.5
    done
done

echo "real-server: llama-cpp-python $("$venv/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)') on 127.0.0.1:$port, $("$llama_server" --version 2>&1 | grep -m1 version) on 127.0.0.1:$lport"
RKBENCH_REAL_SERVER="http://127.0.0.1:$port" RKBENCH_REAL_LLAMA_SERVER="http://127.0.0.1:$lport" \
    RKBENCH_REAL_LLAMA_SERVER_PARALLEL="http://127.0.0.1:$pport" \
    cargo test --test real_server -- --ignored --test-threads=1
