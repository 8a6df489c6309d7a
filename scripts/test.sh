#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit + integration + golden tests.
# Installs what the tests need on a fresh Debian machine (a C compiler is already required by
# cargo; chromium is used by the HTML report test and skipped with a note when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
        || echo "note: chromium could not be installed; the HTML browser test will be skipped"
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
