#!/bin/sh
# l4.bad.*: the L4 wedge given a broken guest must name what is wrong on the console and end
# the run with a failure verdict (exit 1) before it rewrites anything; nothing may hang
# (--timeout turns a hang into a timeout, which fails here: the failure line must decide).
# Skipped (77) without $AFTERBURN_PISTACHIO.
#   test-boot-bad.sh MODE AFTERBURN GUEST LOGDIR
# MODE: truncated  the guest cut 256 bytes into its last PT_LOAD (headers and notes intact, so
#                  the host's image probe lets it through to the wedge)
#       kind       the first record of an Afterburn table given kind 200 (no such kind)
#       notes      an Afterburn note's descsz set far past its segment
#       memory     the writable PT_LOAD's p_memsz raised to 256 MiB (guest RAM is 64)
set -u
mode=$1 afterburn=$2 guest=$3 logdir=$4
if [ -z "${AFTERBURN_PISTACHIO:-}" ]; then
    echo "SKIP: AFTERBURN_PISTACHIO is not set: it must name the OUT of backends/l4/build-pistachio.sh (docs/l4-backend.md)"
    exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$logdir"
bad=$logdir/bad-$mode.elf log=$logdir/bad-$mode.log
python3 - "$guest" "$bad" "$mode" <<'PY' || exit 1
import struct, sys
src, dst, mode = sys.argv[1:4]
b = bytearray(open(src, 'rb').read())
phoff, = struct.unpack_from('<Q', b, 0x20)
phentsize, phnum = struct.unpack_from('<HH', b, 0x36)
phdrs = [struct.unpack_from('<IIQQQQQQ', b, phoff + n * phentsize) for n in range(phnum)]
if mode == 'truncated':
    last = max(p[2] for p in phdrs if p[0] == 1)
    b = b[:last + 256]
elif mode == 'memory':
    n = next(n for n, p in enumerate(phdrs) if p[0] == 1 and p[1] & 2)
    struct.pack_into('<Q', b, phoff + n * phentsize + 40, 0x10000000)
else:
    i = b.find(b'Afterburn\0')
    while i >= 0 and struct.unpack_from('<III', b, i - 12)[::2] != (10, 0x41420001):
        i = b.find(b'Afterburn\0', i + 1)
    if i < 0:
        sys.exit('no Afterburn note in ' + src)
    if mode == 'kind':
        b[i + 12 + 8 + 4] = 200          # the first record's kind (after table_header and site)
    else:
        struct.pack_into('<I', b, i - 8, 0x00fffff0)
open(dst, 'wb').write(b)
PY
case $mode in
truncated) expect='^l4-wedge: guest: boot module: PT_(LOAD|NOTE) [0-9]+: file data \[0x[0-9a-f]+, \+0x[0-9a-f]+\) lies beyond the end of the file \([0-9]+ bytes; truncated\?\)$'
           verdict='the guest cannot be loaded' ;;
memory)    expect='^l4-wedge: guest: PT_LOAD [0-9]+ \[0x[0-9a-f]+, \+0x10000000\) does not fit guest RAM \(0x4000000 bytes\): the guest needs more memory$'
           verdict='the guest cannot be loaded' ;;
kind)      expect='^l4-wedge: guest: PT_NOTE [0-9]+ at 0x[0-9a-f]+: record 0 \(kind 200, site 0x[0-9a-f]+\): unknown site kind$'
           verdict="the guest's annotations are bad" ;;
notes)     expect='^l4-wedge: guest: PT_NOTE [0-9]+ at 0x[0-9a-f]+: malformed notes at offset 0x[0-9a-f]+: '
           verdict="the guest's annotations are bad" ;;
*) echo "test-boot-bad.sh: unknown mode $mode" >&2; exit 2 ;;
esac

"$afterburn" boot --on l4 "$bad" --memory 64 --timeout 120 -q --log "$log" 2>"$log.stderr"; status=$?
cat "$log.stderr"
tr -d '\r' <"$log" | sed -n '/^l4-wedge:/p; /^AFTERBURN-/p'
[ $status = 1 ] || fail "exit $status, expected 1"
tr -d '\r' <"$log" | grep -Eq "$expect" || fail "no line matching: $expect"
tr -d "\r" <"$log.stderr" | grep -q "^afterburn boot: FAILED: guest reported failure after .*: AFTERBURN-FAILURE: l4-wedge: $verdict\$" ||
    fail "the run did not end on 'AFTERBURN-FAILURE: l4-wedge: $verdict'"
if tr -d '\r' <"$log" | grep -q '^l4-wedge: guest loaded and rewritten'; then fail "the wedge went on with the broken guest"; fi
echo "PASS: the broken guest ($mode) was refused"
