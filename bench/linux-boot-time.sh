#!/usr/bin/env bash
# bench/linux-boot-time.sh: boot-to-init and boot-to-success of the afterburnt Linux natively
# and on Xen through the wedge, from one run (a benchmark, not a test).
#
# Usage: bench/linux-boot-time.sh [--icount] [LINUX_OUT]
#   LINUX_OUT  `afterburn build-linux -o` output (vmlinux, initramfs.cpio.gz); default
#              build/linux-e2e, else build/linux
#   --icount   run QEMU with -icount shift=0: one virtual nanosecond per guest instruction, so
#              the kernel's own timestamps count instructions (deterministic natively; on Xen
#              they include Xen's and the wedge's instructions)
# For each platform (native, xen), one `afterburn boot` of the same vmlinux + initramfs:
#   wall init     host seconds from `afterburn boot` to the console line "Run /init"
#   wall done     host seconds to AFTERBURN-SUCCESS (the workload ran)
#   guest init    the guest's /proc/uptime when the workload starts (guest time from the
#                 kernel's start to init's workload; the workload prints it)
# then the Xen/native ratios, and the wedge's end-of-run counters. Wall clock under QEMU TCG
# depends on the machine's load: compare the ratios of one run.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${AFTERBURN_BUILD_DIR:-$REPO/build}
AB=$BUILD/bin/afterburn
icount=() out=
for arg in "$@"; do
    case $arg in
    --icount) icount=(--qemu-arg -icount --qemu-arg shift=0) ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "linux-boot-time.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) out=$arg ;;
    esac
done
if [ -z "$out" ]; then
    for d in "$BUILD/linux-e2e" "$BUILD/linux"; do [ -f "$d/vmlinux" ] && { out=$d; break; }; done
fi
[ -n "$out" ] && [ -f "$out/vmlinux" ] && [ -f "$out/initramfs.cpio.gz" ] ||
    { echo "linux-boot-time.sh: no Linux build (give LINUX_OUT, or run afterburn build-linux -o build/linux)" >&2; exit 2; }
[ -x "$AB" ] || { echo "linux-boot-time.sh: $AB missing (build the project)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/linux-boot-time.XXXXXX")
echo "linux-boot-time.sh: $out/vmlinux, ${icount:+-icount shift=0, }logs in $work"

declare -A wall_init wall_done guest_init
for platform in native xen; do
    log=$work/$platform.log stamps=$work/$platform.stamps
    start=$EPOCHREALTIME
    rc=0
    # Each console line with the host time it arrived.
    "$AB" boot --on "$platform" "$out/vmlinux" --initrd "$out/initramfs.cpio.gz" --timeout 900 \
        "${icount[@]}" --log "$log" 2>"$work/$platform.err" |
        while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$stamps" || rc=$?
    [ $rc = 0 ] || { echo "linux-boot-time.sh: $platform boot failed (exit $rc): $(tail -n 1 "$work/$platform.err")" >&2; exit 1; }
    at() { awk -v s="$start" -v re="$1" '$0 ~ re { printf "%.2f", $1 - s; found = 1; exit } END { exit !found }' "$stamps"; }
    wall_init[$platform]=$(at 'Run /init') || { echo "linux-boot-time.sh: no 'Run /init' line on $platform" >&2; exit 1; }
    wall_done[$platform]=$(at 'AFTERBURN-SUCCESS') || { echo "linux-boot-time.sh: no success line on $platform" >&2; exit 1; }
    guest_init[$platform]=$(tr -d '\r' <"$log" | sed -n 's/^AFTERBURN-WL-TIME: begin at \([0-9.]*\) s of uptime$/\1/p' | head -n 1)
    [ -n "${guest_init[$platform]}" ] || guest_init[$platform]=?
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "?") printf "%.2fx", a / b; else print "-" }'; }
printf '\n%-14s %12s %12s %14s\n' "" "wall init s" "wall done s" "guest init s"
for platform in native xen; do
    printf '%-14s %12s %12s %14s\n' "$platform" "${wall_init[$platform]}" "${wall_done[$platform]}" "${guest_init[$platform]}"
done
printf '%-14s %12s %12s %14s\n' "xen/native" "$(ratio "${wall_init[xen]}" "${wall_init[native]}")" \
    "$(ratio "${wall_done[xen]}" "${wall_done[native]}")" "$(ratio "${guest_init[xen]}" "${guest_init[native]}")"
echo
echo "the wedge's counters (xen):"
tr -d '\r' <"$work/xen.log" | grep -E '^xen-wedge: guest: ([0-9]+ site entries|fallback|shadow: |[0-9]+ xAPIC)' | sed 's/^/  /' || true
