#!/usr/bin/env bash
# Builds the browser viewer (docs/VIEWER.md): rkbench's own replay code (the crate in viewer/:
# the rkbench library without `record`, behind plain extern "C" exports) for
# wasm32-unknown-unknown, base64-inlined with the page's scripts into one self-contained page,
# target/viewer/rkbench-viewer.html (no network request, works from file://, <= 4 MiB).
#
# Toolchain (docs/VIEWER.md, recipe from the project's wasm-build notes): rustup's toolchains
# have no wasm32 std here, so Debian's rustc-web + cargo-web build std from rust-web-src
# (-Zbuild-std; RUSTC_BOOTSTRAP=1 on that one command only) and lld's wasm-ld links. Missing
# packages are installed with apt-get (as root), as scripts/cross-check.sh does for aarch64.
# rustup's cargo stays first in PATH for everything else; Debian's is called as /usr/bin/cargo.
#
# Usage: scripts/viewer.sh          (prints the page's path, size and sha256)
# Exit status: 0 built; 3 the toolchain cannot be installed here; anything else a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
out_dir=$target_dir/viewer
page=$out_dir/rkbench-viewer.html
wasm=$target_dir/wasm32-unknown-unknown/viewer-wasm/rkbench_viewer.wasm
max_bytes=$((4 * 1024 * 1024))

die() {
    echo "viewer: FAIL: $*" >&2
    exit 1
}

# The toolchain cannot be had here (not root, no apt-get, no network): exit 3, which
# scripts/test.sh reports as a skipped viewer test rather than a failure.
no_tools() {
    echo "viewer: cannot build: $*" >&2
    exit 3
}

_pkg_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }

# The packages of the recipe; rust-web-src must be the exact version of rustc-web (it is the
# source of the std that compiler builds).
ensure_tools() {
    local missing=() p
    for p in rustc-web cargo-web rust-web-src lld; do
        [ -n "$(_pkg_version "$p")" ] || missing+=("$p")
    done
    local rv sv
    rv=$(_pkg_version rustc-web)
    sv=$(_pkg_version rust-web-src)
    if [ -n "$rv" ] && [ -n "$sv" ] && [ "$rv" != "$sv" ]; then missing+=(rust-web-src); fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "viewer: installing with apt: ${missing[*]}"
        [ "$(id -u)" = 0 ] || no_tools "need root to install ${missing[*]} (see docs/VIEWER.md), or install them first"
        command -v apt-get >/dev/null || no_tools "no apt-get: install ${missing[*]} by hand (docs/VIEWER.md)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || no_tools "apt-get update failed"
        if [ -z "$rv" ]; then
            apt-get install -y -qq --no-install-recommends rustc-web cargo-web >/dev/null \
                || no_tools "apt-get could not install rustc-web cargo-web"
            rv=$(_pkg_version rustc-web)
        fi
        apt-get install -y -qq --no-install-recommends "rust-web-src=$rv" lld cargo-web >/dev/null \
            || no_tools "apt-get could not install rust-web-src=$rv lld"
    fi
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] || die "/usr/bin/cargo or /usr/bin/rustc missing after installing cargo-web/rustc-web"
    [ -d /usr/lib/rustlib/src/rust/library ] || die "rust-web-src did not install /usr/lib/rustlib/src/rust/library"
    command -v wasm-ld >/dev/null || die "wasm-ld missing after installing lld"
}

ensure_tools

# Paths in panic locations would otherwise carry this machine's CARGO_HOME and checkout: the
# page must be the same bytes wherever it is built from the same commit.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
echo "viewer: building the module ($(/usr/bin/rustc --version))"
RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
    RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$PWD=/rkbench" \
    PATH=/usr/bin:$PATH \
    /usr/bin/cargo build --locked --quiet -p rkbench-viewer --profile viewer-wasm \
    --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort
[ -s "$wasm" ] || die "the build wrote no $wasm"

template=viewer/page/viewer.html
marker='<!-- @@SCRIPTS@@ -->'
grep -qF "$marker" "$template" || die "$template has no $marker line"
if grep -qi '</script' viewer/page/api.js viewer/page/ui.js; then
    die "a page script contains '</script', which would end its inline <script> early"
fi
mkdir -p "$out_dir"
tmp=$page.tmp
{
    sed "/$marker/,\$d" "$template"
    printf '<script>\nglobalThis.RKBENCH_WASM = "'
    base64 -w0 "$wasm"
    printf '";\n'
    cat viewer/page/api.js viewer/page/ui.js
    printf '</script>\n'
    sed "1,/$marker/d" "$template"
} >"$tmp"
size=$(stat -c %s "$tmp")
[ "$size" -le "$max_bytes" ] || die "the page is $size bytes, over the 4 MiB budget ($max_bytes)"
mv "$tmp" "$page"
echo "viewer: $page ($size bytes, module $(stat -c %s "$wasm") bytes, sha256 $(sha256sum "$page" | cut -c1-16)…)"
