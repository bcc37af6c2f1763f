#!/usr/bin/env bash
# The workload transcript natively, twice: the vmlinux on QEMU's "max" CPU and the bzImage on
# "qemu64" (a different CPU model, a different boot path); the two transcripts must be equal.
# Reuses the Linux build of linux.e2e (ctest fixture linux-build).
# Usage: tests/linux/workload-native.sh BUILD_DIR LINUX_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 2 ]] || { echo "usage: $0 BUILD_DIR LINUX_DIR" >&2; exit 2; }
build=$1 linux=$2
ab=$build/bin/afterburn
for f in vmlinux bzImage initramfs.cpio.gz; do
    [[ -f $linux/$f ]] || { echo "workload-native: $linux/$f is missing: run linux.e2e (or afterburn build-linux -o $linux) first" >&2; exit 1; }
done

rc=0
boot() {  # boot IMAGE CPU LOG
    local start end
    echo "== afterburn boot --on native $1 --cpu $2"
    start=$(date +%s.%N)
    if ! "$ab" boot --on native "$linux/$1" --initrd "$linux/initramfs.cpio.gz" --cpu "$2" \
            --timeout 300 -q --log "$3"; then
        echo "workload-native: the boot of $1 on -cpu $2 failed; its last lines:" >&2
        tail -n 30 "$3" >&2
        rc=1
    fi
    end=$(date +%s.%N)
    echo "   boot + workload: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s (wall)"
    grep -a 'AFTERBURN-WL-TIME: ' "$3" | tr -d '\r' | sed 's/^/   /' || true
}
boot vmlinux max "$linux/workload-max.log"
boot bzImage qemu64 "$linux/workload-qemu64.log"
[[ $rc -eq 0 ]] || exit 1

"$here/compare-workload.sh" "$linux/workload-max.log" "$linux/workload-qemu64.log"
echo "== transcript"
"$here/compare-workload.sh" --extract "$linux/workload-max.log"
