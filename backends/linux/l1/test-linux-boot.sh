#!/bin/bash
# Linux (the afterburnt vmlinux of `afterburn build-linux`) on KVM through the wedge.
#   test-linux-boot.sh boot      AFTERBURN LINUX_OUT LOGDIR   (ctest kvm.linux.boot)
#   test-linux-boot.sh bad_input AFTERBURN LINUX_OUT LOGDIR   (ctest kvm.linux.bad_input)
# LINUX_OUT holds vmlinux and initramfs.cpio.gz (linux.e2e's build directory); when they are
# missing they are built there first with `afterburn build-linux`.
# boot: `afterburn boot --on kvm vmlinux --initrd initramfs.cpio.gz` must exit 0 with the
# success marker; the console log is kept in LOGDIR/kvm-linux.log, and its workload transcript
# must equal the native one linux.e2e saved (LINUX_OUT/workload-native.txt), compared by
# tests/linux/compare-workload.sh as on every other platform; and `afterburn rewrite --backend
# kvm` must give the digest the wedge printed.
# bad_input: a missing, empty or truncated initrd, too little --memory and a kernel without
# annotations each end with a clear message and a failure status, within a bound.
# Exit 77 (skip) only when nested KVM cannot run (no SVM in the L1: afterburn boot exits 4).
set -uo pipefail
mode=$1 ab=$2 out=$3 logdir=$4
bindir=$(cd "$(dirname "$ab")" && pwd)
kvm=$bindir/../libexec/afterburn/afterburn-kvm
mkdir -p "$logdir"
fail() { echo "FAIL: $*"; exit 1; }

if [ ! -f "$out/vmlinux" ] || [ ! -f "$out/initramfs.cpio.gz" ]; then
    echo "== no Linux build in $out: afterburn build-linux -o $out"
    "$ab" build-linux -o "$out" || fail "afterburn build-linux failed"
fi
vmlinux=$out/vmlinux initrd=$out/initramfs.cpio.gz

compare=$(cd "$(dirname "$0")/../../../tests/linux" && pwd)/compare-workload.sh

case $mode in
boot)
    log=$logdir/kvm-linux.log
    start=$(date +%s.%N)
    "$ab" boot --on kvm "$vmlinux" --initrd "$initrd" --timeout 900 --log "$log"
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    [ $rc -eq 4 ] && { echo "kvm.linux.boot: skipped: nested KVM is not available (see above)"; exit 77; }
    [ $rc -eq 0 ] || fail "afterburn boot --on kvm exited $rc after $secs s (console log: $log)"
    grep -q '^AFTERBURN-SUCCESS' <(tr -d '\r' <"$log") || fail "no AFTERBURN-SUCCESS line in $log"
    echo "kvm.linux.boot: AFTERBURN-SUCCESS through the KVM wedge in $secs s (host wall time, L1 boot included)"
    native=$out/workload-native.txt
    [ -f "$native" ] || fail "no native workload transcript $native (linux.e2e writes it)"
    "$compare" "$native" "$log" || fail "the workload transcript on KVM differs from the native one (console log: $log)"
    "$(dirname "$0")/../../../wedge/tests/compare-rewrite-digest.sh" kvm "$ab" "$vmlinux" "$log" "$logdir/rewrite" ||
        fail "afterburn rewrite --backend kvm differs from the wedge on $vmlinux"
    ;;
bad_input)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    source "$(dirname "$0")/../../../tests/linux/bad-input-lib.sh"
    # The launcher itself, before any KVM: missing/empty initrd, too little memory.
    expect 4 'initrd .*cannot open' 20 "$kvm" --initrd "$tmp/missing.cpio.gz" "$vmlinux"
    : >"$tmp/empty"
    expect 4 'initrd .*empty' 20 "$kvm" --initrd "$tmp/empty" "$vmlinux"
    expect 4 'needs at least --memory [0-9]+' 20 "$kvm" --memory 16 --initrd "$initrd" "$vmlinux"
    # The front door.
    expect 2 'initrd .*(no such file|does not exist)' 20 "$ab" boot --on kvm "$vmlinux" --initrd "$tmp/missing.cpio.gz"
    make_unannotated "$vmlinux" "$tmp/unannotated" || fail "cannot make an unannotated copy"
    expect 2 'no Afterburn annotation note' 20 "$ab" boot --on kvm "$tmp/unannotated" --initrd "$initrd"
    # Nested (the kernel runs): too little memory inside the L1, and a truncated initrd,
    # which only the kernel can find out: it must end the run (panic=-1 -> reset), not hang.
    expect 1 'needs at least --memory' 400 "$ab" boot --on kvm "$vmlinux" --initrd "$initrd" --memory 16 --timeout 300
    head -c $(($(stat -c %s "$initrd") / 2)) "$initrd" >"$tmp/truncated.cpio.gz"
    expect 1 'crashed.*Kernel panic|Kernel panic.*|guest reported failure' 700 \
        "$ab" boot --on kvm "$vmlinux" --initrd "$tmp/truncated.cpio.gz" --timeout 600 --log "$logdir/kvm-linux-truncated.log"
    [ $failures -eq 0 ] || fail "$failures bad-input case(s)"
    echo "kvm.linux.bad_input: every case ended with a clear message and a failure status"
    ;;
*) echo "usage: test-linux-boot.sh boot|bad_input AFTERBURN LINUX_OUT LOGDIR"; exit 2 ;;
esac
