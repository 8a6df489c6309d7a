#!/usr/bin/env bash
# Prepares the real servers of the real-server test (scripts/real-server.sh), built once and
# reused from the cache directory afterwards:
# - a venv with llama-cpp-python's OpenAI-compatible server (pip compiles llama.cpp from the
#   sdist, ~15 min on 2 cores) and the `gguf` package that writes the test's tiny model;
# - llama.cpp's own `llama-server`, from the same compile: the llama.cpp that pip builds for
#   llama-cpp-python is told to build its server tool too, in a build directory kept here, so
#   the second server costs a few minutes instead of a second ~17 min build of llama.cpp.
# Idempotent: a complete environment is reused. Prints the venv's path, then llama-server's.
set -euo pipefail
cache="${RKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rkbench}"
venv="$cache/llama-cpp-venv"
build="$cache/llama-cpp-build"
server="$build/bin/llama-server"
if [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ] && [ -x "$server" ]; then
    echo "$venv"
    echo "$server"
    exit 0
fi
mkdir -p "$cache"
rm -rf "$venv" "$build"
python3 -m venv "$venv"
# A portable, CPU-only build; no GPU backends, no examples or tests of llama.cpp itself. The
# tools are on for llama-server (a subproject installs none of them); its web UI is neither
# built (needs npm) nor downloaded (offline), and no TLS or curl. llama.cpp's tools include the
# multimodal library that llama-cpp-python would add a second time, so its own copy is off
# (LLAVA_BUILD): the tests send no images.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
-DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
# --no-cache-dir: a wheel cached by an earlier build without the server would skip the compile.
"$venv/bin/pip" install --quiet --no-cache-dir --config-settings=build-dir="$build" \
    "llama-cpp-python[server]" gguf numpy >&2
if [ ! -x "$server" ]; then
    echo "llama-server-env: the llama.cpp build made no $server" >&2
    exit 1
fi
touch "$venv/.complete"
echo "$venv"
echo "$server"
