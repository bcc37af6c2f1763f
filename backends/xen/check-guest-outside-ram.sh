#!/bin/sh
# xen.guest.outside_ram: a guest kernel that hands the wedge an address outside its RAM gets a
# clear refusal and a failing verdict, never a wedge crash or a hang (docs/wedge-core.md,
# "Isolation"). The guest is a few bytes of 64-bit code built on the spot, with no Afterburn
# notes: its `lidt 0x30000000` traps (ring 3 under Xen PV) and the fallback emulates it. The
# boot tables identity-map 0-1 GiB, so the operand translates, to guest-physical 0x30000000,
# far above the domain's RAM.
#
#   check-guest-outside-ram.sh AFTERBURN_BOOT_ARGS... -- WEDGE LOG
# (--on xen-dom0: the guest has no PVH note, so `--on xen` would refuse it on the host.)
set -u
run=
while [ "$1" != "--" ]; do run="$run $1"; shift; done
shift
wedge=$1 log=$2
here=$(cd "$(dirname "$0")" && pwd)
guest=$log.elf
python3 - "$guest" <<'PY' || { echo "FAIL: cannot build the test guest"; exit 1; }
import struct, sys
# lidt 0x30000000 ; hlt ; jmp .-1
code = bytes([0x0f, 0x01, 0x1c, 0x25]) + struct.pack("<I", 0x30000000) + bytes([0xf4, 0xeb, 0xfd])
base = 0x200000
ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1, base + 0x78, 0x40, 0, 0,
                   64, 56, 1, 0, 0, 0)
phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x78, base + 0x78, base + 0x78, len(code), len(code), 0x1000)
open(sys.argv[1], "wb").write(ehdr + phdr + code)
PY
# shellcheck disable=SC2086
sh "$here/check-run.sh" --verdict 1 --log "$log" \
    --expect "^xen-wedge: guest: refused: a read of guest-virtual 0x30000000 through the wedge reaches guest-physical 0x30000000, outside the guest's RAM \\(0x[0-9a-f]+ bytes\\)$" \
    --expect "^xen-wedge: guest: an address outside guest RAM was refused$" \
    --expect "^xen-wedge: verdict 1$" \
    -- $run --on xen-dom0 --log "$log" --memory 128 "$wedge" --initrd "$guest" --append "guest -- console=ttyS0"
