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
failures=0
# expect STATUS 'regex' BOUND CMD...: CMD must exit STATUS within BOUND seconds, printing regex.
expect() {
    local want=$1 pattern=$2 bound=$3; shift 3
    local o rc
    o=$(timeout "$bound" "$@" 2>&1 </dev/null); rc=$?
    if [ $rc -ne "$want" ]; then
        echo "FAIL [$*]: status $rc, want $want"; printf '%s\n' "$o" | tail -n 8; failures=$((failures + 1))
    elif ! printf '%s\n' "$o" | grep -qE -- "$pattern"; then
        echo "FAIL [$*]: no /$pattern/ in:"; printf '%s\n' "$o" | tail -n 8; failures=$((failures + 1))
    else
        echo "ok   [${*:4:4}...] -> $rc: $(printf '%s\n' "$o" | grep -E -- "$pattern" | head -n1 | cut -c1-220)"
    fi
}
# A kernel without annotations: the Afterburn notes' owner renamed in place (they share the
# .notes section with the PVH entry note, which must stay for the image to be bootable).
python3 - "$vmlinux" "$tmp/unannotated" <<'PY' || fail "cannot make an unannotated copy"
import re, sys
data = open(sys.argv[1], 'rb').read()
# {namesz=10, descsz, type=0x41420001, "Afterburn\0"}: docs/annotation-format.md
pat = re.compile(rb'\x0a\x00\x00\x00(....)\x01\x00\x42\x41Afterburn\x00', re.S)
new, n = pat.subn(lambda m: b'\x0a\x00\x00\x00' + m.group(1) + b'\x01\x00\x42\x41Afterbxrn\x00', data)
if n == 0:
    sys.exit("no Afterburn notes found")
open(sys.argv[2], 'wb').write(new)
PY
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
