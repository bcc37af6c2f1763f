#!/bin/sh
# xen.bad.*: the wedge given a broken guest must say so on the Xen console, end the domain
# with a failing verdict (1) and let QEMU exit; nothing may hang (afterburn boot's --timeout
# would turn a hang into a run without a verdict, which fails here). The broken guest goes to
# the wedge as a raw boot module (--on xen-dom0): `--on xen` would refuse it on the host first.
#
#   check-guest-bad.sh MODE AFTERBURN_BOOT_ARGS... -- WEDGE GUEST LOG
#
# MODE: truncated  the first 3000 bytes of the guest ELF (headers, no segment contents)
#       notes      one Afterburn note's descsz set past the end of the note segment
#       recsize    one Afterburn table's record_size set to 4 (< 20)
#       kind       the first record of one Afterburn table given kind 200 (no such kind): the
#                  site table refuses it, naming the record
#       memory     the writable PT_LOAD's p_memsz raised to 256 MiB (the domain gives the
#                  guest 124 MiB): the guest needs more memory than the domain has
#       filesz     the writable PT_LOAD's p_memsz set to 0 while p_filesz stays > 0: the
#                  shared ELF reader (wedge/boot/elf64) names the segment and both sizes
set -u
mode=$1; shift
run=
while [ "$1" != "--" ]; do run="$run $1"; shift; done
shift
wedge=$1 guest=$2 log=$3
here=$(cd "$(dirname "$0")" && pwd)
bad=$log.$mode.elf

case $mode in
truncated)
    head -c 3000 "$guest" >"$bad"
    expect='^xen-wedge: guest: boot module: PT_(LOAD|NOTE) [0-9]+: file data \[0x[0-9a-f]+, \+0x[0-9a-f]+\) lies beyond the end of the file \(3000 bytes; truncated\?\)$'
    ;;
notes|recsize|kind)
    python3 - "$guest" "$bad" "$mode" <<'PY' || exit 1
import struct, sys
src, dst, mode = sys.argv[1:4]
b = bytearray(open(src, 'rb').read())
# An ELF note header: namesz 10, descsz, type 0x41420001, then "Afterburn\0" (padded to 12).
i = b.find(b'Afterburn\0')
while i >= 0:
    namesz, descsz, ntype = struct.unpack_from('<III', b, i - 12)
    if namesz == 10 and ntype == 0x41420001:
        break
    i = b.find(b'Afterburn\0', i + 1)
if i < 0:
    sys.exit('no Afterburn note in ' + src)
if mode == 'notes':
    struct.pack_into('<I', b, i - 8, 0x00fffff0)        # descsz: far past the segment
elif mode == 'kind':
    b[i + 12 + 8 + 4] = 200                             # first record's kind (after table_header, site)
else:
    struct.pack_into('<H', b, i + 12 + 2, 4)             # table_header.record_size
open(dst, 'wb').write(b)
print('corrupted the Afterburn note at file offset 0x%x (%s)' % (i - 12, mode))
PY
    if [ "$mode" = notes ]; then
        expect='^xen-wedge: guest: PT_NOTE at 0x[0-9a-f]+: malformed notes at offset 0x[0-9a-f]+: .*'
    elif [ "$mode" = kind ]; then
        expect='^xen-wedge: guest: PT_NOTE [0-9]+ at 0x[0-9a-f]+: record 0 \(kind 200, site 0x[0-9a-f]+\): unknown site kind$'
    else
        expect='^xen-wedge: guest: PT_NOTE at 0x[0-9a-f]+: malformed notes at offset 0x[0-9a-f]+: .*record'
    fi
    ;;
memory)
    python3 - "$guest" "$bad" <<'PY' || exit 1
import struct, sys
src, dst = sys.argv[1:3]
b = bytearray(open(src, 'rb').read())
phoff, = struct.unpack_from('<Q', b, 0x20)
phentsize, phnum = struct.unpack_from('<HH', b, 0x36)
for n in range(phnum):
    o = phoff + n * phentsize
    ptype, flags = struct.unpack_from('<II', b, o)
    if ptype == 1 and flags & 2:                        # the writable PT_LOAD
        struct.pack_into('<Q', b, o + 40, 0x10000000)   # p_memsz = 256 MiB
        print('PT_LOAD %d: p_memsz -> 0x10000000' % n)
        break
else:
    sys.exit('no writable PT_LOAD in ' + src)
open(dst, 'wb').write(b)
PY
    expect='^xen-wedge: guest: PT_LOAD [0-9]+ \[0x[0-9a-f]+, \+0x10000000\) does not fit guest RAM \(0x[0-9a-f]+\): the guest needs more memory than the domain has$'
    ;;
filesz)
    seg=$(python3 - "$guest" "$bad" <<'PY'
import struct, sys
src, dst = sys.argv[1:3]
b = bytearray(open(src, 'rb').read())
phoff, = struct.unpack_from('<Q', b, 0x20)
phentsize, phnum = struct.unpack_from('<HH', b, 0x36)
for n in range(phnum):
    o = phoff + n * phentsize
    ptype, flags = struct.unpack_from('<II', b, o)
    filesz, = struct.unpack_from('<Q', b, o + 32)
    if ptype == 1 and flags & 2 and filesz > 0:         # the writable PT_LOAD, with file data
        struct.pack_into('<Q', b, o + 40, 0)            # p_memsz = 0 < p_filesz
        print('%d %x' % (n, filesz))
        break
else:
    sys.exit('no writable PT_LOAD with file data in ' + src)
open(dst, 'wb').write(b)
PY
) || exit 1
    index=${seg% *} filesz=${seg#* }
    echo "PT_LOAD $index: p_memsz -> 0 (p_filesz 0x$filesz)"
    expect="^xen-wedge: guest: boot module: PT_LOAD $index: p_filesz > p_memsz \\(p_filesz 0x$filesz, p_memsz 0x0\\)\$"
    ;;
*) echo "check-guest-bad.sh: unknown mode $mode" >&2; exit 2 ;;
esac

# shellcheck disable=SC2086
sh "$here/check-run.sh" --verdict 1 --log "$log" \
    --expect "$expect" \
    --expect "^xen-wedge: verdict 1$" \
    -- $run --on xen-dom0 --log "$log" --memory 128 "$wedge" --initrd "$bad" --append "guest -- console=ttyS0"
status=$?
[ $status = 0 ] || exit $status
# The guest must never have been entered.
if tr -d '\r' <"$log" | grep -q '^xen-wedge: guest: entering at'; then echo "FAIL: the wedge entered the broken guest"; exit 1; fi
echo "ok: the broken guest was refused before it ran"
