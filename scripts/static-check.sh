#!/usr/bin/env bash
# Linkage gate for the two x86_64 release builds (DESIGN.md §7, docs/BOARD.md):
#   (a) record-capable (default features): every Rust dependency static, only C-library parts
#       dynamic — NEEDED may list libc.so.6, libm, libdl, libpthread, libgcc_s, ld-linux and nothing else;
#   (b) replay-only (--no-default-features) with +crt-static: a static-pie with no NEEDED entry at all,
#       `ldd` says so, and it runs (--version; `report` on a committed trace if traces/ has one).
# Exits non-zero with a message naming the violation. Both builds share one target dir
# (target/h-dist, ~75 s from scratch on 2 cores, ~35 s when only src/ changed).
#
# Usage: scripts/static-check.sh
# Can be sourced (by scripts/dist.sh) for its functions only.
# Lists are flattened with an unquoted $(echo $list) on purpose.
# shellcheck disable=SC2086,SC2116,SC2015
set -euo pipefail

# NEEDED entries a record-capable binary may have: the C library and its parts, nothing else.
ALLOWED_NEEDED_RE='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'

die() {
    echo "static-check: FAIL: $*" >&2
    exit 1
}

# needed_of BIN: the NEEDED entries of BIN, one per line.
needed_of() {
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# check_c_only BIN: NEEDED lists only C-library parts (and at least libc).
check_c_only() {
    local bin=$1 needed bad
    needed=$(needed_of "$bin")
    bad=$(printf '%s\n' "$needed" | grep -Ev "$ALLOWED_NEEDED_RE" | grep -v '^$' || true)
    [ -z "$bad" ] || die "$bin links non-C-library shared objects dynamically: $(echo $bad) (NEEDED: $(echo $needed))"
    printf '%s\n' "$needed" | grep -qx 'libc.so.6' || die "$bin: NEEDED has no libc.so.6 (NEEDED: $(echo $needed))"
    echo "  NEEDED: $(echo $needed)  -> C library only: ok"
}

# check_fully_static BIN: no NEEDED, no interpreter, ldd agrees.
check_fully_static() {
    local bin=$1 needed ldd_out
    needed=$(needed_of "$bin")
    [ -z "$needed" ] || die "$bin should be fully static but NEEDED lists: $(echo $needed)"
    if readelf -l "$bin" | grep -q 'INTERP'; then
        die "$bin has a program interpreter (PT_INTERP): not a static binary"
    fi
    ldd_out=$(ldd "$bin" 2>&1 || true)
    case "$ldd_out" in
        *"statically linked"* | *"not a dynamic executable"*) ;;
        *) die "ldd does not call $bin static: $ldd_out" ;;
    esac
    echo "  NEEDED: (none); no PT_INTERP; ldd: $(echo $ldd_out | tr -s ' \t' ' ')  -> fully static: ok"
}

static_check_main() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    local target=x86_64-unknown-linux-gnu
    export CARGO_TARGET_DIR="$PWD/target/h-dist"
    local outdir="$CARGO_TARGET_DIR/static-check"
    local bin="$CARGO_TARGET_DIR/$target/release/rkbench"
    local t_start t0 t_a t_b
    # The builds below set their own flags; inherited ones would change what is checked.
    unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET CARGO_BUILD_RUSTFLAGS
    mkdir -p "$outdir"
    t_start=$(date +%s)
    echo "static-check: $(cargo --version), $(rustc --version)"

    # (a) record-capable: default features. `--target` keeps the output apart from the host build.
    echo "== (a) record-capable release build, $target"
    t0=$(date +%s)
    cargo build --release --target "$target" -p rkbench
    t_a=$(($(date +%s) - t0))
    cp "$bin" "$outdir/rkbench-record"
    check_c_only "$outdir/rkbench-record"
    "$outdir/rkbench-record" --version | grep -q '^record: yes' \
        || die "record-capable build does not report 'record: yes' in --version"
    echo "  --version: $("$outdir/rkbench-record" --version | tr '\n' ';')"

    # (b) replay-only, fully static. Explicit --target: RUSTFLAGS then reach only target code, so
    # build scripts and proc macros stay ordinary host programs.
    echo "== (b) replay-only fully static build, $target, +crt-static"
    t0=$(date +%s)
    RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --no-default-features --target "$target" -p rkbench
    t_b=$(($(date +%s) - t0))
    cp "$bin" "$outdir/rkbench-replay-static"
    local sbin="$outdir/rkbench-replay-static"
    check_fully_static "$sbin"
    file "$sbin" | grep -q 'static-pie linked\|statically linked' \
        || echo "  note: file(1) says: $(file -b "$sbin")"
    local ver
    ver=$("$sbin" --version) || die "$sbin --version failed"
    echo "  --version: $(echo "$ver" | tr '\n' ';')"
    echo "$ver" | grep -q '^record: no' || die "replay-only build does not report 'record: no' in --version"

    local traces=() tr
    shopt -s nullglob
    traces=(traces/*.rktrace)
    shopt -u nullglob
    if [ ${#traces[@]} -eq 0 ]; then
        echo "  report: skipped (no trace in traces/)"
    else
        tr=${traces[0]}
        "$sbin" report "$tr" --format json -o "$outdir/static-report.json" \
            || die "static replay binary could not report $tr"
        "$outdir/rkbench-record" report "$tr" --format json -o "$outdir/record-report.json" \
            || die "record-capable binary could not report $tr"
        cmp -s "$outdir/static-report.json" "$outdir/record-report.json" \
            || die "static and dynamic builds report $tr differently (see $outdir/*-report.json)"
        echo "  report $tr: ok, identical JSON from both builds"
    fi
    echo "static-check: ok (record build ${t_a}s, static build ${t_b}s, total $(($(date +%s) - t_start))s)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    static_check_main "$@"
fi
