#!/bin/sh
# rewrite.bad_record: `afterburn rewrite` admits records through the wedge's site table, so a
# record the wedge would refuse (here: the first record of one Afterburn table given kind 200,
# which does not exist) is named with the reason and makes the exit status 1.
#   check-rewrite-bad-record.sh AFTERBURN GUEST WORKDIR
set -eu
afterburn=$1 guest=$2 work=$3
mkdir -p "$work"
bad=$work/guest.badkind.elf
python3 - "$guest" "$bad" <<'PY'
import struct, sys
src, dst = sys.argv[1:3]
b = bytearray(open(src, 'rb').read())
i = b.find(b'Afterburn\0')
while i >= 0:
    namesz, descsz, ntype = struct.unpack_from('<III', b, i - 12)
    if namesz == 10 and ntype == 0x41420001:
        break
    i = b.find(b'Afterburn\0', i + 1)
if i < 0:
    sys.exit('no Afterburn note in ' + src)
b[i + 12 + 8 + 4] = 200  # the first record's kind: after the name, table_header and `site`
open(dst, 'wb').write(b)
PY
status=0
"$afterburn" rewrite "$bad" --backend xen -o "$work/out.elf" >"$work/out.txt" 2>"$work/err.txt" || status=$?
cat "$work/err.txt"
[ "$status" = 1 ] || { echo "rewrite.bad_record: exit status $status, expected 1"; exit 1; }
grep -Eq '^  cannot rewrite .*\(record kind 200\): unknown site kind$' "$work/err.txt" || {
    echo "rewrite.bad_record: the refused record is not named"; exit 1; }
echo "rewrite.bad_record: PASS"
