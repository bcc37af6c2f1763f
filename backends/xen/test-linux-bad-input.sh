#!/bin/bash
# xen.linux.bad_input: Linux images and initrds `afterburn boot --on xen` must refuse or end
# with a clear message and a failure status, within a bound, never a hang.
#   test-linux-bad-input.sh AFTERBURN LINUX_OUT LOGDIR
# LINUX_OUT holds vmlinux and initramfs.cpio.gz (linux.e2e's build directory).
# Cases: a vmlinux without annotations (refused unless --trap-and-emulate), --trap-and-emulate
# on another backend, a missing initrd, an initrd that does not fit --memory, a truncated
# initrd (only the kernel can tell: it must panic and end the run).
set -uo pipefail
ab=$1 out=$2 logdir=$3
mkdir -p "$logdir"
fail() { echo "FAIL: $*"; exit 1; }
vmlinux=$out/vmlinux initrd=$out/initramfs.cpio.gz
[ -f "$vmlinux" ] && [ -f "$initrd" ] || fail "no Linux build in $out (linux.e2e makes it)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../../tests/linux/bad-input-lib.sh"
make_unannotated "$vmlinux" "$tmp/unannotated" || fail "cannot make an unannotated copy"
expect 2 'no Afterburn annotation note.*--trap-and-emulate' 20 "$ab" boot --on xen "$tmp/unannotated" --initrd "$initrd"
expect 2 'trap-and-emulate is for --on xen' 20 "$ab" boot --on native --trap-and-emulate "$vmlinux"
expect 2 'initrd .*(no such file|does not exist|cannot)' 20 "$ab" boot --on xen "$vmlinux" --initrd "$tmp/missing.cpio.gz"
# The guest's memory cannot hold kernel and initrd: the wedge's loader says so.
expect 1 'does not fit guest RAM|needs more memory' 300 "$ab" boot --on xen "$vmlinux" --initrd "$initrd" --memory 16 --timeout 240 \
    --log "$logdir/xen-linux-small-memory.log"
head -c $(($(stat -c %s "$initrd") / 2)) "$initrd" >"$tmp/truncated.cpio.gz"
expect 1 'Kernel panic|guest reported failure|crashed' 400 \
    "$ab" boot --on xen "$vmlinux" --initrd "$tmp/truncated.cpio.gz" --timeout 300 --log "$logdir/xen-linux-truncated.log"
[ $failures -eq 0 ] || fail "$failures bad-input case(s)"
echo "xen.linux.bad_input: every case ended with a clear message and a failure status"
