#!/usr/bin/env bash
# bench/linux-kvm-exits.sh: exits to the KVM launcher for a Linux boot + init workload, with
# and without pre-virtualization (a benchmark, not a test).
#
# Usage: bench/linux-kvm-exits.sh [LINUX_OUT [PLAIN_OUT]]
#   LINUX_OUT  `afterburn build-linux -o` output (vmlinux, initramfs.cpio.gz); default
#              build/linux-e2e, else build/linux-out
#   PLAIN_OUT  optional `afterburn build-linux --plain -o` output: a stock-gcc kernel, run
#              without the wedge as a third column
# Each configuration is one nested session (afterburn boot --on kvm --nested: QEMU TCG -> L1
# Debian kernel -> kvm_amd nested=1 -> afterburn-kvm --stats), same initrd, same command line
# (what afterburn boot gives Linux on KVM):
#   wedge     vmlinux                                     the pre-virtualized run
#   nowedge   --no-wedge vmlinux                          the same file, every port access traps
#   plain     --no-wedge PLAIN_OUT/vmlinux                (if given) stock kernel, no wedge
# Prints each run's exit total, exits by reason, the busiest ports, guest run time and
# whether it reached AFTERBURN-SUCCESS, then the ratio nowedge/wedge. Times are noisy
# (shared cores, TCG): the exit counts are the result.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${AFTERBURN_BUILD_DIR:-$REPO/build}
OUT=${1:-}
if [ -z "$OUT" ]; then
    for d in "$BUILD/linux-e2e" "$BUILD/linux-out"; do [ -f "$d/vmlinux" ] && { OUT=$d; break; }; done
fi
[ -n "$OUT" ] && [ -f "$OUT/vmlinux" ] || { echo "no Linux build (give LINUX_OUT, or run afterburn build-linux -o build/linux-out)" >&2; exit 1; }
PLAIN=${2:-}
AB=$BUILD/bin/afterburn
export AFTERBURN_KVM_L1_CACHE=${AFTERBURN_KVM_L1_CACHE:-$BUILD/kvm-l1}
for f in "$AB" "$BUILD/libexec/afterburn/kvm-wedge.elf" "$BUILD/libexec/afterburn/afterburn-kvm" "$OUT/initramfs.cpio.gz"; do
    [ -f "$f" ] || { echo "missing $f (build the project first)" >&2; exit 1; }
done
work=$AFTERBURN_KVM_L1_CACHE/bench-linux-kvm-exits   # each run's console (+ --stats table) is kept here
rm -rf "$work" && mkdir -p "$work"

declare -A total io secs verdict reasons ports
run() {   # run NAME VMLINUX [BOOT-OPTIONS...]
    local name=$1 kernel=$2 log=$work/$1.log rc=0
    shift 2
    "$AB" boot --on kvm --nested "$kernel" --initrd "$OUT/initramfs.cpio.gz" --memory 256 --timeout 900 --log "$log" "$@" \
        >"$work/$name.out" 2>&1 || rc=$?
    if [ $rc -eq 4 ]; then grep -m1 -o 'SKIP: .*' "$work/$name.out"; exit 77; fi
    total[$name]=$(awk '$1 == "total" { print $2; exit }' "$work/$name.out")
    io[$name]=$(awk '$1 == "IO" { print $2; exit }' "$work/$name.out")
    secs[$name]=$(sed -n 's/.*guest run time \([0-9.]*\) s.*/\1/p' "$work/$name.out" | head -n1)
    verdict[$name]=$(grep -m1 -o 'AFTERBURN-SUCCESS\|AFTERBURN-FAILURE' "$work/$name.out" || echo "no marker (status $rc)")
    reasons[$name]=$(sed -n '/exits to user space by reason/,/total/p' "$work/$name.out" | awk 'NR > 2 && $1 != "total" { printf "%s%s %s", sep, $1, $2; sep = ", " }')
    ports[$name]=$(awk '/^ *0x[0-9a-f]+ / { n = $(NF-2) + $NF; print n, $1 }' "$work/$name.out" | sort -rn | head -n 4 | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')
}
run wedge "$OUT/vmlinux"
run nowedge "$OUT/vmlinux" --no-wedge
configs="wedge nowedge"
if [ -n "$PLAIN" ]; then run plain "$PLAIN/vmlinux" --no-wedge; configs="$configs plain"; fi

printf '%-8s %8s %10s  %-18s %-40s %s\n' config exits "run s" marker "exits by reason" "busiest ports (accesses)"
for n in $configs; do
    printf '%-8s %8s %10s  %-18s %-40s %s\n' "$n" "${total[$n]:-?}" "${secs[$n]:-?}" "${verdict[$n]}" "${reasons[$n]}" "${ports[$n]}"
done
echo "(each run's console and --stats table: $work)"
awk -v n="${total[nowedge]:-0}" -v w="${total[wedge]:-0}" -v p="${total[plain]:-0}" 'BEGIN {
    if (w > 0) printf "exits: nowedge/wedge = %.1fx (the wedge removes %.1f%%)\n", n / w, 100 * (n - w) / n
    if (w > 0 && p > 0) printf "exits: plain/wedge = %.1fx\n", p / w }'
awk -v n="${io[nowedge]:-0}" -v w="${io[wedge]:-0}" 'BEGIN {
    if (w > 0) printf "I/O exits only (without the launcher'"'"'s 10 ms kicks, INTR): nowedge/wedge = %.1fx\n", n / w }'
