#!/usr/bin/env bash
# Release binaries (docs/BOARD.md):
#   dist/rkbench-<version>-aarch64-linux-gnu          the board binary: record-capable, glibc >= 2.17
#   dist/rkbench-<version>-x86_64-linux-gnu           record-capable x86_64, glibc >= 2.17 (DIST_X86_RECORD=0 skips it)
#   dist/rkbench-<version>-x86_64-linux-replay-static replay-only (report/verify/info), fully static
#   dist/rkbench-viewer.html                         the browser viewer: the replay code as WebAssembly in one
#                                                    offline page (scripts/viewer.sh, docs/VIEWER.md)
#   dist/SHA256SUMS
# Each binary passes the same gates as scripts/cross-check.sh and scripts/static-check.sh before it is
# copied. Installs missing tools like cross-check.sh (root for apt). Uses --locked: Cargo.lock must be current.
# Usage: scripts/dist.sh   (or: make dist)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=scripts/cross-check.sh
source scripts/cross-check.sh
# shellcheck source=scripts/static-check.sh
source scripts/static-check.sh
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET CARGO_BUILD_RUSTFLAGS

version=$(cargo pkgid -p rkbench | sed 's/.*[#@]//')
[ -n "$version" ] || { echo "dist: cannot read rkbench's version" >&2; exit 1; }
dist=$root/dist
t_all=$(date +%s)
t0=$t_all
timings=()
lap() { timings+=("$(printf '%-40s %4ss' "$1" $(($(date +%s) - t0)))"); t0=$(date +%s); }

if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "dist: warning: the work tree has uncommitted changes; the binaries' --version will say (dirty)" >&2
fi
mkdir -p "$dist"
rm -f "$dist"/rkbench-* "$dist"/rkbench-viewer.html "$dist"/SHA256SUMS

echo "== tools"
cross_ensure_tools
lap "tools"

echo "== aarch64-linux-gnu (glibc $GLIBC_FLOOR floor, record-capable)"
cross_build_aarch64 "$root/target/h-dist-a64" --locked
a64=$root/target/h-dist-a64/$CROSS_TRIPLE/release/rkbench
cross_check_glibc "$a64" aarch64-linux-gnu-objdump
cross_check_needed "$a64"
qemu-aarch64 "$a64" --version | grep -q "^target: $CROSS_TRIPLE" || cross_die "$a64 does not run under qemu-aarch64"
install -m 755 "$a64" "$dist/rkbench-$version-aarch64-linux-gnu"
lap "aarch64 build + checks"

echo "== x86_64-linux-replay-static (replay-only, +crt-static)"
x86_dir=$root/target/h-dist
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$x86_dir \
    cargo build --release --locked --no-default-features --target x86_64-unknown-linux-gnu -p rkbench
sbin=$x86_dir/x86_64-unknown-linux-gnu/release/rkbench
check_fully_static "$sbin"
"$sbin" --version | grep -q '^record: no' || die "$sbin is not the replay-only build"
install -m 755 "$sbin" "$dist/rkbench-$version-x86_64-linux-replay-static"
lap "x86_64 static replay build + checks"

if [ "${DIST_X86_RECORD:-1}" != 0 ]; then
    echo "== x86_64-linux-gnu (glibc $GLIBC_FLOOR floor, record-capable; rustup's cargo, zig as linker)"
    CARGO_TARGET_DIR=$root/target/h-dist-x86z CARGO_ZIGBUILD_ZIG_PATH=$CROSS_ZIG \
        "$CROSS_ZIGBUILD" zigbuild --release --locked --target x86_64-unknown-linux-gnu.$GLIBC_FLOOR -p rkbench
    xbin=$root/target/h-dist-x86z/x86_64-unknown-linux-gnu/release/rkbench
    cross_check_glibc "$xbin" objdump
    cross_check_needed "$xbin"
    "$xbin" --version | grep -q '^record: yes' || die "$xbin is not record-capable"
    install -m 755 "$xbin" "$dist/rkbench-$version-x86_64-linux-gnu"
    lap "x86_64 record build + checks"
fi

echo "== rkbench-viewer.html (the replay code for wasm32 in one page; its own size and offline gates)"
bash scripts/viewer.sh
install -m 644 "${CARGO_TARGET_DIR:-$root/target}/viewer/rkbench-viewer.html" "$dist/rkbench-viewer.html"
lap "viewer page"

(cd "$dist" && sha256sum rkbench-"$version"-* rkbench-viewer.html >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
echo "== dist/"
(cd "$dist" && stat -c '%s %n' rkbench-"$version"-* rkbench-viewer.html SHA256SUMS | awk '{printf "  %10s  %s\n", $1, $2}')
echo "== timings"
printf '  %s\n' "${timings[@]}"
echo "dist: ok ($(($(date +%s) - t_all))s)"
