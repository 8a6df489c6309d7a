#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit + integration + golden tests.
# Installs what the tests need on a fresh Debian machine (a C compiler is already required by
# cargo; chromium is used by the HTML report and viewer tests, DuckDB from PyPI by the export
# test, Debian's wasm toolchain by the viewer page (scripts/viewer.sh); each is skipped with a
# note when it cannot be installed).
set -euo pipefail
set -o pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
        || echo "note: chromium could not be installed; the HTML browser test will be skipped"
fi
# DuckDB from PyPI in a venv under target/, for the test that loads every export
# (tests/duckdb.rs); Debian's python3 needs python3-venv for `python3 -m venv`.
venv="${CARGO_TARGET_DIR:-target}/py-duckdb"
if ! "$venv/bin/python" -c 'import duckdb' >/dev/null 2>&1; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null) || true
        fi
    fi
    rm -rf "$venv"
    (python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check duckdb) \
        || echo "note: DuckDB could not be installed; the DuckDB export test will be skipped"
fi
if "$venv/bin/python" -c 'import duckdb' >/dev/null 2>&1; then
    export RKBENCH_REQUIRE_DUCKDB=1
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The browser viewer page, for tests/viewer_chromium.rs (scripts/viewer.sh: the first build
# compiles std for wasm32, about 1-2 min; later ones reuse it). Exit 3: its toolchain cannot be
# installed here, and the test is skipped with a note; any other failure fails the suite.
viewer_rc=0
bash scripts/viewer.sh || viewer_rc=$?
case $viewer_rc in
    0) export RKBENCH_REQUIRE_VIEWER=1 ;;
    3) echo "note: the viewer page could not be built here; the viewer browser test will be skipped" ;;
    *) exit "$viewer_rc" ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# One closing line with the totals over every test binary (cargo prints one line per binary,
# the last ones being empty doc-test runs).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) g += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, g }' "$log" | tee target/test-summary.txt
