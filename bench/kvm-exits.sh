#!/usr/bin/env bash
# bench/kvm-exits.sh: exits to the KVM launcher per sample-guest run, with and without
# pre-virtualization (a benchmark, not a test).
#
# Usage: bench/kvm-exits.sh [GUEST.elf]   (default build/samples/guest/guest.elf)
#
# In one nested QEMU-TCG/L1 session per configuration (afterburn boot --on kvm --nested),
# runs the same annotated sample guest three ways and prints each run's exit total and
# guest run time (afterburn-kvm --stats), then the ratios:
#   plain      --no-wedge GUEST                    no wedge: every port access traps
#   stripped   --trap-and-emulate GUEST-noann      the wedge, but the annotation note removed
#                                                  (objcopy --remove-section=.notes): it
#                                                  rewrites nothing, the trapping fallback
#   wedge      GUEST                               the pre-virtualized run
# Exit counts are deterministic for this guest; times are noisy (shared cores, TCG): compare
# ratios. Needs the project built (afterburn, afterburn-kvm, kvm-wedge, sample-guest); set
# AFTERBURN_BUILD_DIR if the build directory is not <repo>/build.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${AFTERBURN_BUILD_DIR:-$REPO/build}
GUEST=${1:-$BUILD/samples/guest/guest.elf}
AB=$BUILD/bin/afterburn
export AFTERBURN_KVM_L1_CACHE=${AFTERBURN_KVM_L1_CACHE:-$BUILD/kvm-l1}
for f in "$GUEST" "$AB" "$BUILD/libexec/afterburn/kvm-wedge.elf" "$BUILD/libexec/afterburn/afterburn-kvm"; do
    [ -f "$f" ] || { echo "missing $f (build the project first)" >&2; exit 1; }
done
work=$AFTERBURN_KVM_L1_CACHE/bench-kvm-exits   # each run's console (+ --stats table) is kept here
rm -rf "$work" && mkdir -p "$work"
objcopy --remove-section=.notes "$GUEST" "$work/guest-stripped.elf"

declare -A total secs verdict reasons
run() {   # run NAME GUEST [BOOT-OPTIONS...]
    local name=$1 guest=$2 log=$work/$1.log rc=0
    shift 2
    "$AB" boot --on kvm --nested "$guest" --timeout 300 --log "$log" "$@" >"$work/$name.out" 2>&1 || rc=$?
    if [ $rc -eq 4 ]; then grep -m1 -o 'SKIP: .*' "$work/$name.out"; exit 77; fi
    total[$name]=$(awk '$1 == "total" { print $2; exit }' "$work/$name.out")
    secs[$name]=$(sed -n 's/.*guest run time \([0-9.]*\) s.*/\1/p' "$work/$name.out" | head -n1)
    verdict[$name]=$(grep -m1 -o 'AFTERBURN-SUCCESS\|AFTERBURN-FAILURE' "$work/$name.out" || echo "no verdict (status $rc)")
    reasons[$name]=$(sed -n '/exits to user space by reason/,/total/p' "$work/$name.out" | awk 'NR > 2 && $1 != "total" { printf "%s%s %s", sep, $1, $2; sep = ", " }')
}
run plain "$GUEST" --no-wedge
run stripped "$work/guest-stripped.elf" --trap-and-emulate
run wedge "$GUEST"

printf '%-10s %8s %12s  %-18s %s\n' config exits "run time s" verdict "exits by reason"
for n in plain stripped wedge; do
    printf '%-10s %8s %12s  %-18s %s\n' "$n" "${total[$n]:-?}" "${secs[$n]:-?}" "${verdict[$n]}" "${reasons[$n]}"
done
echo "(each run's console and --stats table: $work)"
awk -v s="${total[stripped]}" -v w="${total[wedge]}" -v p="${total[plain]}" 'BEGIN {
    if (w > 0) printf "exits: stripped/wedge = %.1fx, plain/wedge = %.1fx (the wedge removes %.1f%% of the stripped run'"'"'s exits)\n", s / w, p / w, 100 * (s - w) / s }'
awk -v s="${secs[stripped]}" -v w="${secs[wedge]}" 'BEGIN { if (w > 0) printf "guest run time: stripped/wedge = %.2fx\n", s / w }'
