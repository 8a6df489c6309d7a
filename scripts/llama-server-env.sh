#!/usr/bin/env bash
# Prepares the Python environment of the real-server test (scripts/real-server.sh): a venv with
# llama-cpp-python's OpenAI-compatible server (it compiles llama.cpp from source, ~15 min on
# 2 cores the first time; pip caches the built wheel, so later runs take seconds) and the `gguf`
# package that writes the test's tiny random-weight model. Idempotent: an existing, complete venv
# is reused. Prints the venv's path on its last line.
set -euo pipefail
cache="${RKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rkbench}"
venv="$cache/llama-cpp-venv"
if [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ]; then
    echo "$venv"
    exit 0
fi
mkdir -p "$cache"
rm -rf "$venv"
python3 -m venv "$venv"
# A portable, CPU-only build; no GPU backends, no examples or tests of llama.cpp itself.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
"$venv/bin/pip" install --quiet "llama-cpp-python[server]" gguf numpy >&2
touch "$venv/.complete"
echo "$venv"
