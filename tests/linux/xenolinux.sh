#!/usr/bin/env bash
# XenoLinux, the para-virtualized baseline: build the same Linux tree and fragment as a Xen PV
# dom0 (afterburn build-linux --xenolinux, cached in XENO_DIR), boot it on Xen 4.17 under QEMU
# TCG with the same initramfs file as the native boot, and compare its workload transcript with
# the native one that linux.e2e saved (ctest fixture linux-build).
# Usage: tests/linux/xenolinux.sh BUILD_DIR XENO_DIR NATIVE_DIR
# Exit: 0 equal transcripts, 1 failure, 77 Xen is not installed here (skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 3 ]] || { echo "usage: $0 BUILD_DIR XENO_DIR NATIVE_DIR" >&2; exit 2; }
build=$1 xeno=$2 native=$3
ab=$build/bin/afterburn
for f in initramfs.cpio.gz workload-native.txt; do
    [[ -f $native/$f ]] || { echo "xenolinux: $native/$f is missing: run linux.e2e first" >&2; exit 1; }
done

echo "== afterburn build-linux --xenolinux -o $xeno"
"$ab" build-linux --xenolinux -o "$xeno" | tail -n 8

echo "== afterburn boot --on xenolinux $xeno/vmlinux --initrd $native/initramfs.cpio.gz"
start=$(date +%s.%N)
set +e
"$ab" boot --on xenolinux "$xeno/vmlinux" --initrd "$native/initramfs.cpio.gz" --timeout 300 -q \
    --log "$xeno/boot-xen.log"
rc=$?
set -e
end=$(date +%s.%N)
echo "   boot + workload on Xen: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s (wall)"
case $rc in
    0) ;;
    4) echo "xenolinux: SKIP: Xen is not available on this machine" >&2; exit 77 ;;
    *) echo "xenolinux: the boot failed (status $rc); last console lines:" >&2
       tail -n 30 "$xeno/boot-xen.log" >&2; exit 1 ;;
esac
grep -a 'AFTERBURN-WL-TIME: ' "$xeno/boot-xen.log" | tr -d '\r' | sed 's/^/   /' || true
"$here/compare-workload.sh" "$native/workload-native.txt" "$xeno/boot-xen.log"
