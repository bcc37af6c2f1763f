#!/usr/bin/env bash
# bench/linux-build.sh: what the afterburn toolchain costs a Linux build (a benchmark, not a test).
#
# Usage: bench/linux-build.sh [-o WORKDIR] [--jobs N] [--defconfig] [--only plain|afterburn]
#                             [--boot] [--keep]
#
# In one run, builds the same Linux tree with the same configuration twice, with
# `afterburn build-linux`: first --plain (stock gcc), then through the toolchain (afterburn-cc),
# each from scratch into WORKDIR/plain and WORKDIR/afterburn (default WORKDIR: a temp dir,
# removed afterwards unless --keep or -o is given). Then prints:
#   - build times (configure + compile, as build-linux measures them), wall clock and CPU
#     seconds (user + system of every compiler), and the ratios toolchain/plain (target:
#     <= 1.15); the CPU ratio is the one to trust on a loaded machine;
#   - .text size of both vmlinux (size -A) and its growth from the NOP padding, and the same for
#     the summed function sizes (nm -S), since .text's 0xcc fill up to 2 MiB hides most growth;
#   - with --boot, the time each kernel takes to reach AFTERBURN-SUCCESS under `afterburn boot`.
# --defconfig builds the full-size x86_64_defconfig kernel and its modules (build-linux
# --defconfig; ~30 min per build on 2 cores) instead of the small sample.
# --only NAME builds one of the two into WORKDIR (-o) and keeps the other from an earlier run
# there, so the halves can be built at different times; the report needs both.
# Timings on a shared machine are noisy: compare the ratio, not the absolute numbers, and run it
# niced when others are working (e.g. `nice -n 10 bench/linux-build.sh`).
# Needs the project built (build/libexec/afterburn/build-linux, build/bin/afterburn-cc); set
# AFTERBURN_BUILD_DIR if the CMake build directory is not <repo>/build.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${AFTERBURN_BUILD_DIR:-$REPO/build}
BUILD_LINUX=$BUILD_DIR/libexec/afterburn/build-linux
BOOT=$BUILD_DIR/libexec/afterburn/boot

WORK="" JOBS=$(nproc) DO_BOOT=0 KEEP=0 ONLY="" CONFIG_ARGS=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -o) WORK=$2; KEEP=1; shift 2 ;;
        -j|--jobs) JOBS=$2; shift 2 ;;
        --boot) DO_BOOT=1; shift ;;
        --defconfig) CONFIG_ARGS=(--defconfig); shift ;;
        --only) [[ ${2:-} == plain || ${2:-} == afterburn ]] ||
                    { echo "linux-build.sh: --only wants 'plain' or 'afterburn'" >&2; exit 2; }
                ONLY=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "linux-build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ -x $BUILD_LINUX ]] || { echo "linux-build.sh: $BUILD_LINUX not found: build the project first" >&2; exit 2; }
[[ -x $BUILD_DIR/bin/afterburn-cc ]] || { echo "linux-build.sh: $BUILD_DIR/bin/afterburn-cc not found: build it first" >&2; exit 2; }
if [[ $DO_BOOT -eq 1 && ! -x $BOOT ]]; then echo "linux-build.sh: $BOOT not found" >&2; exit 2; fi
if [[ -n $ONLY && -z $WORK ]]; then echo "linux-build.sh: --only needs -o WORKDIR (where the other half is kept)" >&2; exit 2; fi
if [[ -z $WORK ]]; then WORK=$(mktemp -d /tmp/afterburn-bench.XXXXXX); fi
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
[[ $KEEP -eq 1 ]] || trap 'rm -rf "$WORK"' EXIT

# From scratch each time: an incremental rebuild would measure nothing.
for name in plain afterburn; do
    [[ -n $ONLY && $ONLY != "$name" ]] || rm -rf "${WORK:?}/$name"
done

build() { # build NAME [build-linux args]
    local name=$1; shift
    echo "== $name build"
    if ! "$BUILD_LINUX" -o "$WORK/$name" --jobs "$JOBS" "$@" >"$WORK/$name.out" 2>&1; then
        cat "$WORK/$name.out" >&2
        echo "linux-build.sh: the $name build failed (see above)" >&2
        exit 1
    fi
    tail -n 7 "$WORK/$name.out"
}

# The first build would otherwise pay for reading the source from disk and the second not:
# unpack (cached by build-linux) and read the tree once before timing anything.
echo "== warming the source cache"
SRC_TREE=$("$BUILD_LINUX" --unpack-only | tail -n 1)
[[ -d $SRC_TREE ]] || { echo "linux-build.sh: build-linux --unpack-only gave no source tree" >&2; exit 1; }
find "$SRC_TREE" -type f \( -name '*.[chS]' -o -name 'Makefile*' -o -name 'Kconfig*' \) -print0 |
    xargs -0 cat >/dev/null
[[ -n $ONLY && $ONLY != plain ]] || build plain --plain "${CONFIG_ARGS[@]}"
[[ -n $ONLY && $ONLY != afterburn ]] || build afterburn "${CONFIG_ARGS[@]}"
for name in plain afterburn; do
    [[ -f $WORK/$name/build-time && -f $WORK/$name/vmlinux ]] && continue
    echo "linux-build.sh: no $name build in $WORK yet (run with --only $name)" >&2
    exit 0
done

t_plain=$(cat "$WORK/plain/build-time")
t_ab=$(cat "$WORK/afterburn/build-time")
cpu_of() { cat "$1/build-cpu" 2>/dev/null || echo "?"; }   # older build-linux wrote no build-cpu
c_plain_cpu=$(cpu_of "$WORK/plain")
c_ab_cpu=$(cpu_of "$WORK/afterburn")
text_of() { size -A "$1" | awk '$1 == ".text" { print $2 }'; }
x_plain=$(text_of "$WORK/plain/vmlinux")
x_ab=$(text_of "$WORK/afterburn/vmlinux")
objects=$(wc -l <"$WORK/afterburn/annotate.log" 2>/dev/null || echo 0)

echo
echo "Linux build, plain vs. afterburn toolchain (jobs: $JOBS, work dir: $WORK)"
printf '  %-28s %10s s\n' "build time, plain" "$t_plain"
printf '  %-28s %10s s\n' "build time, afterburn" "$t_ab"
awk -v a="$t_ab" -v p="$t_plain" 'BEGIN { r = a / p; printf "  %-28s %10.3f   (target <= 1.15: %s)\n", "wall ratio afterburn/plain", r, (r <= 1.15 ? "met" : "NOT met") }'
printf '  %-28s %10s s\n' "CPU time, plain" "$c_plain_cpu"
printf '  %-28s %10s s\n' "CPU time, afterburn" "$c_ab_cpu"
if [[ $c_plain_cpu != "?" && $c_ab_cpu != "?" ]]; then
    awk -v a="$c_ab_cpu" -v p="$c_plain_cpu" 'BEGIN { r = a / p; printf "  %-28s %10.3f   (target <= 1.15: %s)\n", "CPU ratio afterburn/plain", r, (r <= 1.15 ? "met" : "NOT met") }'
fi
printf '  %-28s %10s bytes\n' ".text, plain" "$x_plain"
printf '  %-28s %10s bytes\n' ".text, afterburn" "$x_ab"
awk -v a="$x_ab" -v p="$x_plain" 'BEGIN { printf "  %-28s %+10d bytes (%+.2f%%)\n", ".text growth (padding)", a - p, 100 * (a - p) / p }'
# .text of a vmlinux is mostly 0xcc fill up to a 2 MiB boundary, which swallows growth; the sum
# of the function sizes (nm -S, text symbols) is where the padding really shows.
code_of() {
    nm -S --defined-only "$1" | awk '
        function hex(s,    i, n) { n = 0; s = tolower(s); for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return n }
        NF == 4 && $3 ~ /^[tT]$/ { sum += hex($2) } END { printf "%d\n", sum }'
}
c_plain=$(code_of "$WORK/plain/vmlinux")
c_ab=$(code_of "$WORK/afterburn/vmlinux")
printf '  %-28s %10s bytes\n' "function bytes, plain" "$c_plain"
printf '  %-28s %10s bytes\n' "function bytes, afterburn" "$c_ab"
awk -v a="$c_ab" -v p="$c_plain" 'BEGIN { printf "  %-28s %+10d bytes (%+.2f%%)\n", "function growth (padding)", a - p, 100 * (a - p) / p }'
printf '  %-28s %10s\n' "annotate.log lines" "$objects"
sites=$(grep -oE '(^|[[:space:]])sites=[0-9]+' "$WORK/afterburn/annotate.log" 2>/dev/null | awk -F= '{ s += $2 } END { print s + 0 }')
printf '  %-28s %10s\n' "annotated sites" "$sites"

if [[ $DO_BOOT -eq 1 ]]; then
    for name in plain afterburn; do
        t0=$(date +%s.%N)
        if "$BOOT" --on native "$WORK/$name/vmlinux" --initrd "$WORK/$name/initramfs.cpio.gz" -q --timeout 120 2>"$WORK/$name.boot"; then
            printf '  %-28s %10.2f s\n' "boot to marker, $name" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
        else
            printf '  %-28s %10s   (%s)\n' "boot, $name" FAILED "$(grep -m1 FAILED "$WORK/$name.boot" || true)"
        fi
    done
fi
