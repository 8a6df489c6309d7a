#!/usr/bin/env bash
# The real-server test: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with a tiny
# random-weight GGUF written here (never downloaded), for at most 15 minutes, and
# tests/real_server.rs against it (record the quick suite, counts equal the server's own usage,
# a deadline mid-stream keeps its chunks, the next request waits for idle). CI runs this as its
# own step (.ci/run); the Python environment is built once (scripts/llama-server-env.sh,
# ~15 min on 2 cores) and reused from the cache directory afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(nice -n 19 bash scripts/llama-server-env.sh | tail -1)
work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
"$venv/bin/python" scripts/tiny_gguf.py "$work/tiny.gguf"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 900 "$venv/bin/python" -m llama_cpp.server --model "$work/tiny.gguf" --model_alias tiny \
    --host 127.0.0.1 --port "$port" --n_ctx 1024 --seed 7 >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log"; echo "real-server: the server did not start"; exit 1; fi
    sleep 0.5
done
echo "real-server: llama-cpp-python $("$venv/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)') on 127.0.0.1:$port"
RKBENCH_REAL_SERVER="http://127.0.0.1:$port" cargo test --test real_server -- --ignored --test-threads=1
