#!/bin/bash
# kvm.nested.bad_request: a wedge request with bad arguments must end the run with a clear
# error, never hang or be ignored. The "guest" here is a few bytes of 64-bit code built on
# the spot: it sends the launcher a wedge request whose address is outside guest RAM.
#   test-nested-bad-request.sh LAUNCHER WEDGE CACHE
# Exits 77 when nested KVM cannot be had.
set -u
launcher=$1 wedge=$2 cache=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
guest=$cache/bad-request.elf
log=$cache/nested-bad-request.log
python3 - "$guest" <<'PY' || { echo "cannot build the test image"; exit 1; }
import struct, sys
# mov $0x7ffff000, %eax ; mov $0xab0, %dx ; out %eax, %dx ; hlt ; jmp .-1
code = bytes([0xb8]) + struct.pack("<I", 0x7ffff000) + bytes([0x66, 0xba, 0xb0, 0x0a, 0xef, 0xf4, 0xeb, 0xfd])
base = 0x100000
ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1, base + 0x78, 0x40, 0, 0,
                   64, 56, 1, 0, 0, 0)
phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x78, base + 0x78, base + 0x78, len(code), len(code), 0x1000)
open(sys.argv[1], "wb").write(ehdr + phdr + code)
PY
# With the wedge loaded (it finds no notes here and enters the code as is), so the launcher
# serves wedge requests; a short watchdog so a missed error cannot stall the suite.
NESTED_LOG=$log AFTERBURN_KVM=$launcher AFTERBURN_KVM_L1_CACHE=$cache NESTED_TIMEOUT=120 NESTED_WEDGE=$wedge \
    "$here/run-nested.sh" "$guest" --timeout 30 > "$log.out" 2>&1
rc=$?
[ $rc -eq 77 ] && { grep -m1 '^SKIP' "$log.out"; exit 77; }
if [ $rc -eq 0 ] || [ $rc -eq 1 ]; then
    echo "kvm.nested.bad_request: the run ended with status $rc as if the guest had succeeded"; tail -20 "$log.out"; exit 1
fi
if ! grep -q "wedge hypercall: request at 0x7ffff000 is not in guest RAM" "$log.out"; then
    echo "kvm.nested.bad_request: no clear error about the bad request (status $rc)"; tail -20 "$log.out"; exit 1
fi
echo "kvm.nested.bad_request: refused with status $rc: $(grep -m1 'request at 0x7ffff000' "$log.out")"
