#!/bin/bash
# kvm.nested.bad_request: a wedge request with bad arguments must end the run with a clear
# error, never hang or be ignored. The "guest" here is a few bytes of 64-bit code built on
# the spot (with a PVH entry note, so afterburn boot takes it): it sends the launcher a wedge
# request whose address is outside guest RAM.
#   test-nested-bad-request.sh AFTERBURN CACHE
# Exits 77 when nested KVM cannot be had.
set -u
ab=$1 cache=$2
mkdir -p "$cache"
guest=$cache/bad-request.elf
log=$cache/nested-bad-request.log
python3 - "$guest" <<'PY' || { echo "cannot build the test image"; exit 1; }
import struct, sys
# mov $0x7ffff000, %eax ; mov $0xab0, %dx ; out %eax, %dx ; hlt ; jmp .-1
code = bytes([0xb8]) + struct.pack("<I", 0x7ffff000) + bytes([0x66, 0xba, 0xb0, 0x0a, 0xef, 0xf4, 0xeb, 0xfd])
base = 0x100000
ehdr_size, phdr_size, phnum = 64, 56, 2
note_at = ehdr_size + phnum * phdr_size
code_at = note_at + 20
entry = base + code_at
# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry, what afterburn boot's image probe looks for.
note = struct.pack("<III4sI", 4, 4, 18, b"Xen\0", entry)
ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1, entry, ehdr_size, 0, 0,
                   ehdr_size, phdr_size, phnum, 0, 0, 0)
load = struct.pack("<IIQQQQQQ", 1, 5, code_at, entry, entry, len(code), len(code), 0x1000)
pt_note = struct.pack("<IIQQQQQQ", 4, 4, note_at, 0, 0, len(note), 0, 4)
open(sys.argv[1], "wb").write(ehdr + load + pt_note + note + code)
PY
# With the wedge loaded (it finds no annotations here, hence --trap-and-emulate, and enters the
# code as is), so the launcher serves wedge requests; a short watchdog so a missed error cannot
# stall the suite.
AFTERBURN_KVM_L1_CACHE=$cache "$ab" boot --on kvm --nested --trap-and-emulate "$guest" --timeout 30 --log "$log" \
    > "$log.out" 2>&1
rc=$?
[ $rc -eq 4 ] && { grep -m1 -o 'SKIP: .*' "$log.out"; exit 77; }
if [ $rc -ne 1 ]; then
    echo "kvm.nested.bad_request: afterburn boot exited $rc, want 1 (the guest failed)"; tail -20 "$log.out"; exit 1
fi
# An even status is afterburn-kvm's own error, not a verdict of the guest (odd: (v << 1) | 1).
if ! grep -qE "^afterburn boot: FAILED: .*afterburn-kvm exited with status [0-9]*[02468] " "$log.out"; then
    echo "kvm.nested.bad_request: the run did not end with an error of afterburn-kvm"; tail -20 "$log.out"; exit 1
fi
if ! grep -q "wedge hypercall: request at 0x7ffff000 is not in guest RAM" "$log.out"; then
    echo "kvm.nested.bad_request: no clear error about the bad request"; tail -20 "$log.out"; exit 1
fi
echo "kvm.nested.bad_request: refused: $(grep -m1 'request at 0x7ffff000' "$log.out")"
echo "kvm.nested.bad_request: $(grep -m1 '^afterburn boot: FAILED' "$log.out")"
