#!/usr/bin/env bash
# Cross-build check for the board binary (docs/BOARD.md, /work/shared/docs/cross-build.md):
#  1. installs what it needs when missing (root: apt arm64 Rust std + cross binutils + qemu-user; pip:
#     ziglang + cargo-zigbuild); rustup's cargo stays the one in PATH for native builds;
#  2. builds rkbench and the simulated runtime for aarch64-unknown-linux-gnu with a glibc 2.17 floor:
#     cargo-zigbuild driving Debian's /usr/bin/cargo + rustc (which has the aarch64 std), zig as linker;
#  3. gates: highest GLIBC symbol version <= 2.17, NEEDED only C-library parts;
#  4. under qemu-aarch64 (no -L): --version, `record` of the default suite on the aarch64 simulated
#     runtime, `verify`;
#  5. loads a C++ stand-in for the vendor runtime (the independent C stub + a C++ part that throws and
#     catches exceptions on a std::thread, libstdc++/libgcc_s dynamic) into the zig-linked binary;
#  6. records the same suite with the x86_64 build, and reports both traces with both binaries: every
#     report format must be byte-identical across architectures (portability of the trace format).
#
# Usage: scripts/cross-check.sh            (env CROSS_FORMATS=md,json,... to change the compared formats)
# Target dirs: target/h-dist-a64 (aarch64), target/h-dist (x86_64, shared with static-check.sh),
# target/h-dist-run (traces and reports). Can be sourced (by scripts/dist.sh) for its functions only.
# Lists are flattened with an unquoted $(echo $list) on purpose.
# shellcheck disable=SC2086,SC2116,SC2015
set -euo pipefail

CROSS_TRIPLE=aarch64-unknown-linux-gnu
GLIBC_FLOOR=2.17
CROSS_APT_PKGS=(rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
    qemu-user binutils-aarch64-linux-gnu libstdc++6:arm64)
CROSS_PY=${CROSS_PY:-python3}

cross_die() {
    echo "cross-check: FAIL: $*" >&2
    exit 1
}

_pkg_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }

# Prints the apt packages that are missing (or whose aarch64 std does not match rustc-web's version).
_cross_missing_apt() {
    local p
    for p in "${CROSS_APT_PKGS[@]}"; do
        [ -n "$(_pkg_version "$p")" ] || echo "$p"
    done
    local host_v arm_v
    host_v=$(_pkg_version rustc-web)
    arm_v=$(_pkg_version libstd-rust-web-dev:arm64)
    if [ -n "$host_v" ] && [ -n "$arm_v" ] && [ "$host_v" != "$arm_v" ]; then
        echo "libstd-rust-web-dev:arm64"
    fi
}

_cross_zig_path() {
    "$CROSS_PY" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))' 2>/dev/null
}

_cross_zigbuild_path() {
    local d
    d=$("$CROSS_PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/cargo-zigbuild" ]; then
        echo "$d/cargo-zigbuild"
        return
    fi
    d=$("$CROSS_PY" -c 'import site; print(site.getuserbase())' 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/bin/cargo-zigbuild" ]; then
        echo "$d/bin/cargo-zigbuild"
        return
    fi
    command -v cargo-zigbuild 2>/dev/null || true
}

# Installs whatever is missing; sets CROSS_ZIG and CROSS_ZIGBUILD.
cross_ensure_tools() {
    local missing=()
    mapfile -t missing < <(_cross_missing_apt | sort -u)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "cross-check: installing with apt: ${missing[*]}"
        [ "$(id -u)" = 0 ] || cross_die "need root to install ${missing[*]} (see docs/BOARD.md), or install them first"
        command -v apt-get >/dev/null || cross_die "no apt-get: install ${missing[*]} by hand"
        export DEBIAN_FRONTEND=noninteractive
        dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
        apt-get update -qq
        # The aarch64 std must be the exact build of the host rustc: pin all three to one version.
        local ver pkgs=() p
        ver=$(apt-cache policy rustc-web | sed -n 's/^ *Candidate: *//p')
        [ -n "$ver" ] && [ "$ver" != "(none)" ] || cross_die "apt has no rustc-web candidate (Debian 12 bookworm-security/updates needed)"
        for p in "${CROSS_APT_PKGS[@]}"; do
            case "$p" in
                rustc-web | cargo-web | libstd-rust-web-dev:arm64) pkgs+=("$p=$ver") ;;
                *) pkgs+=("$p") ;;
            esac
        done
        apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] || cross_die "/usr/bin/cargo or /usr/bin/rustc missing (cargo-web, rustc-web)"
    [ -d /usr/lib/rustlib/$CROSS_TRIPLE/lib ] || cross_die "no aarch64 std in /usr/lib/rustlib/$CROSS_TRIPLE (libstd-rust-web-dev:arm64)"

    CROSS_ZIG=$(_cross_zig_path || true)
    CROSS_ZIGBUILD=$(_cross_zigbuild_path)
    if [ -z "$CROSS_ZIG" ] || [ ! -x "$CROSS_ZIG" ] || [ -z "$CROSS_ZIGBUILD" ]; then
        echo "cross-check: installing with pip: ziglang cargo-zigbuild"
        if ! "$CROSS_PY" -m pip --version >/dev/null 2>&1; then
            [ "$(id -u)" = 0 ] || cross_die "$CROSS_PY has no pip; install python3-pip"
            apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
        fi
        # A Debian system python refuses (PEP 668) unless told; a pyenv/venv python does not ask.
        "$CROSS_PY" -m pip install -q --disable-pip-version-check ziglang cargo-zigbuild 2>/dev/null \
            || "$CROSS_PY" -m pip install -q --disable-pip-version-check --break-system-packages ziglang cargo-zigbuild
        CROSS_ZIG=$(_cross_zig_path || true)
        CROSS_ZIGBUILD=$(_cross_zigbuild_path)
    fi
    [ -n "$CROSS_ZIG" ] && [ -x "$CROSS_ZIG" ] || cross_die "zig not found after pip install ziglang"
    [ -n "$CROSS_ZIGBUILD" ] || cross_die "cargo-zigbuild not found after pip install cargo-zigbuild"
    echo "cross-check: $(/usr/bin/rustc --version) + $(/usr/bin/cargo --version | cut -d' ' -f1-2) (Debian) for $CROSS_TRIPLE;" \
        "$("$CROSS_ZIGBUILD" --version), zig $("$CROSS_ZIG" version)"
    # rustc-web must not have displaced rustup's toolchain for native builds.
    if command -v rustup >/dev/null 2>&1 && [ "$(command -v cargo)" = /usr/bin/cargo ]; then
        echo "cross-check: warning: 'cargo' in PATH is Debian's /usr/bin/cargo, not rustup's; put ~/.cargo/bin first" >&2
    fi
    echo "cross-check: native toolchain in PATH: $(command -v cargo) ($(cargo --version))"
}

# cross_build_aarch64 TARGET_DIR [cargo args...]: rkbench + simulated runtime for aarch64, glibc 2.17 floor.
# Debian's cargo/rustc come first in PATH so rustup's proxies (which lack the aarch64 std) are never used.
cross_build_aarch64() {
    local tdir=$1
    shift
    env -u RUSTC -u RUSTDOC -u CARGO -u RUSTC_WRAPPER -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
        -u CARGO_BUILD_TARGET -u CARGO_BUILD_RUSTFLAGS -u RUSTUP_TOOLCHAIN \
        PATH=/usr/bin:/bin CARGO_ZIGBUILD_ZIG_PATH="$CROSS_ZIG" CARGO_TARGET_DIR="$tdir" \
        "$CROSS_ZIGBUILD" zigbuild --release --target "$CROSS_TRIPLE.$GLIBC_FLOOR" -p rkbench "$@"
}

# cross_check_glibc BIN OBJDUMP: the highest GLIBC_x.y symbol version BIN needs is <= the floor.
cross_check_glibc() {
    local bin=$1 objdump=$2 v
    v=$("$objdump" -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    [ -n "$v" ] || cross_die "$bin: no GLIBC symbol versions found (not a glibc binary?)"
    if [ "$(printf '%s\n%s\n' "$v" "GLIBC_$GLIBC_FLOOR" | sort -V | tail -1)" != "GLIBC_$GLIBC_FLOOR" ]; then
        cross_die "$bin needs $v, above the GLIBC_$GLIBC_FLOOR floor: it would not start on older board images"
    fi
    echo "  highest symbol version: $v (floor GLIBC_$GLIBC_FLOOR): ok"
}

# cross_check_needed BIN: NEEDED lists only C-library parts.
cross_check_needed() {
    local bin=$1 needed bad
    needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    bad=$(printf '%s\n' "$needed" | grep -Ev '^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|ld-linux-(aarch64|x86-64)\.so\.[12])$' | grep -v '^$' || true)
    [ -z "$bad" ] || cross_die "$bin links non-C-library objects dynamically: $(echo $bad)"
    echo "  NEEDED: $(echo $needed) -> C library only: ok"
}

# cross_cxx_standin OUTDIR: OUTDIR/librkllmrt.so for aarch64, built like a vendor C++ library: the
# independent C stub (fixtures/c-rkllmrt, ABI 1.2.1) linked by g++ with a C++ object whose constructor
# throws and catches 1000 exceptions on a std::thread and 1000 on the loading thread.
cross_cxx_standin() {
    local out=$1 stub=fixtures/c-rkllmrt
    mkdir -p "$out"
    cat >"$out/exc.cpp" <<'CXX'
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>
static std::atomic<int> caught{0};
static void thrower(int n) {
    for (int i = 0; i < n; i++) {
        try { throw std::runtime_error("x"); } catch (const std::exception &) { caught++; }
    }
}
__attribute__((constructor)) static void init_cxx() {
    std::thread t(thrower, 1000);
    t.join();
    thrower(1000);
    std::fprintf(stderr, "[c++ stand-in] caught %d exceptions (std::thread + loading thread)\n", caught.load());
}
CXX
    aarch64-linux-gnu-gcc -DRKLLM_ABI=121 -fPIC -O2 -pthread -I"$stub" -c "$stub/rkllm_stub.c" -o "$out/stub.o"
    aarch64-linux-gnu-g++ -fPIC -O2 -pthread -c "$out/exc.cpp" -o "$out/exc.o"
    aarch64-linux-gnu-g++ -shared -pthread -o "$out/librkllmrt.so" "$out/stub.o" "$out/exc.o"
    readelf -d "$out/librkllmrt.so" | grep -q 'libstdc++' || cross_die "C++ stand-in does not link libstdc++ dynamically"
}

cross_check_main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    local root=$PWD
    local a64_dir=$root/target/h-dist-a64 x86_dir=$root/target/h-dist run=$root/target/h-dist-run
    local a64=$a64_dir/$CROSS_TRIPLE/release x86=$x86_dir/x86_64-unknown-linux-gnu/release
    local formats=${CROSS_FORMATS:-md,json,csv,html}
    local model=fixtures/models/Qwen3-4B-sim.rkllm suite=${CROSS_SUITE:-default}
    local t_all t0 timings=()
    export FAKE_RKLLM_TIME_SCALE=${FAKE_RKLLM_TIME_SCALE:-0.001}
    lap() { timings+=("$(printf '%-52s %4ss' "$1" $(($(date +%s) - t0)))"); t0=$(date +%s); }
    t_all=$(date +%s)
    t0=$t_all

    echo "== tools"
    cross_ensure_tools
    lap "tools (install if missing)"

    echo "== build $CROSS_TRIPLE.$GLIBC_FLOOR with cargo-zigbuild + Debian cargo"
    cross_build_aarch64 "$a64_dir" -p fake-rkllmrt
    lap "aarch64 build (rkbench + simulated runtime)"
    file "$a64/rkbench" | grep -q 'ARM aarch64' || cross_die "$a64/rkbench is not an aarch64 ELF: $(file -b "$a64/rkbench")"
    echo "rkbench ($CROSS_TRIPLE):"
    cross_check_glibc "$a64/rkbench" aarch64-linux-gnu-objdump
    cross_check_needed "$a64/rkbench"
    echo "librkllmrt.so (simulated runtime, $CROSS_TRIPLE):"
    cross_check_glibc "$a64/librkllmrt.so" aarch64-linux-gnu-objdump

    echo "== x86_64 build (rustup cargo), for the cross-architecture comparison"
    (unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET
        CARGO_TARGET_DIR=$x86_dir cargo build --release --target x86_64-unknown-linux-gnu -p rkbench -p fake-rkllmrt)
    lap "x86_64 build (rkbench + simulated runtime)"

    echo "== run under qemu-aarch64"
    rm -rf "$run" && mkdir -p "$run"
    local ver
    ver=$(qemu-aarch64 "$a64/rkbench" --version) || cross_die "qemu-aarch64 rkbench --version failed"
    printf '  %s\n' "${ver//$'\n'/$'\n  '}"
    echo "$ver" | grep -q "^target: $CROSS_TRIPLE" || cross_die "--version does not say target: $CROSS_TRIPLE"
    echo "$ver" | grep -q '^record: yes' || cross_die "aarch64 build is not record-capable"

    local rec=(record --model "$model" --suite "$suite" --timeout 5m -q)
    local rc=0
    timeout 600 qemu-aarch64 "$a64/rkbench" "${rec[@]}" --lib "$a64/librkllmrt.so" --out "$run/a64.rktrace" || rc=$?
    if [ $rc -eq 127 ]; then
        # The supervisor re-executes rkbench as a child; without binfmt_misc the host kernel cannot
        # exec an aarch64 ELF (ENOEXEC, reported as 127 by qemu's vfork emulation). Not an issue on a board.
        echo "  note: supervised record exited 127 under qemu-user (child re-exec needs binfmt_misc); retrying with --no-supervise"
        rm -f "$run/a64.rktrace"
        rc=0
        timeout 600 qemu-aarch64 "$a64/rkbench" "${rec[@]}" --lib "$a64/librkllmrt.so" --no-supervise --out "$run/a64.rktrace" || rc=$?
    fi
    [ $rc -eq 0 ] || cross_die "aarch64 record under qemu exited $rc"
    qemu-aarch64 "$a64/rkbench" verify "$run/a64.rktrace" | sed 's/^/  /' || cross_die "aarch64 verify failed"
    lap "aarch64 --version, record ($suite suite), verify"

    echo "== C++ runtime stand-in (threads + exceptions, dynamic libstdc++) loaded by the aarch64 binary"
    cross_cxx_standin "$run/cxx"
    rc=0
    timeout 600 qemu-aarch64 "$a64/rkbench" record --model "$model" --suite quick --timeout 5m -q --no-supervise \
        --lib "$run/cxx/librkllmrt.so" --out "$run/cxx.rktrace" 2>"$run/cxx.stderr" || rc=$?
    grep -q 'caught 2000 exceptions' "$run/cxx.stderr" || { cat "$run/cxx.stderr" >&2; cross_die "the C++ stand-in's exceptions did not all run (rc $rc)"; }
    [ $rc -eq 0 ] || { cat "$run/cxx.stderr" >&2; cross_die "record through the C++ stand-in exited $rc"; }
    echo "  $(grep 'caught' "$run/cxx.stderr"); record of the quick suite through it: ok"
    lap "aarch64 record through a C++ stand-in"

    echo "== x86_64 record of the same suite"
    timeout 600 "$x86/rkbench" "${rec[@]}" --lib "$x86/librkllmrt.so" --out "$run/x86.rktrace" \
        || cross_die "x86_64 record failed"
    "$x86/rkbench" verify "$run/x86.rktrace" | sed 's/^/  /'

    echo "== reports ($formats) of both traces by both binaries must be byte-identical"
    local tr
    for tr in a64 x86; do
        mkdir -p "$run/$tr-by-a64" "$run/$tr-by-x86"
        qemu-aarch64 "$a64/rkbench" report "$run/$tr.rktrace" --format "$formats" -o "$run/$tr-by-a64/" \
            || cross_die "aarch64 report of the $tr trace failed"
        "$x86/rkbench" report "$run/$tr.rktrace" --format "$formats" -o "$run/$tr-by-x86/" \
            || cross_die "x86_64 report of the $tr trace failed"
        [ -n "$(ls -A "$run/$tr-by-x86")" ] || cross_die "no report written for the $tr trace"
        if ! diff -r "$run/$tr-by-a64" "$run/$tr-by-x86" >"$run/$tr.diff"; then
            head -40 "$run/$tr.diff" >&2
            cross_die "reports of the $tr trace differ between aarch64 and x86_64 (full diff: $run/$tr.diff)"
        fi
        echo "  $tr trace: $(cd "$run/$tr-by-x86" && printf '%s ' *)identical"
    done
    lap "x86_64 record + 4 reports compared"

    echo "== timings"
    printf '  %s\n' "${timings[@]}"
    echo "cross-check: ok ($(($(date +%s) - t_all))s)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    cross_check_main "$@"
fi
