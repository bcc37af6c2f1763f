#!/bin/sh
# Run the wedge under Xen once and check the outcome (used by the xen.* ctest tests).
#
#   check-run.sh --verdict N --log FILE [--expect ERE]... [--expect-module FILE] -- COMMAND...
#
# COMMAND (normally run-under-xen.sh ... --log FILE) must exit with the wedge's verdict and
# leave the console in FILE. Passes if the verdict is N and every --expect pattern matches a
# console line. --expect-module FILE computes, on the host, what the wedge must print about
# boot module FILE (length, first 16 bytes, byte sum) and expects exactly that.
set -u
want= log= patterns= module=
nl='
'
while [ $# -gt 0 ]; do
    case $1 in
    --verdict) want=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --expect) patterns="$patterns$2$nl"; shift 2 ;;
    --expect-module) module=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "check-run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$want" ] && [ -n "$log" ] && [ $# -gt 0 ] || { echo "usage: check-run.sh --verdict N --log FILE [--expect ERE]... -- COMMAND..." >&2; exit 2; }

if [ -n "$module" ]; then
    len=$(wc -c <"$module" | tr -d ' ')
    n=$len; [ "$n" -gt 16 ] && n=16
    hex=$(od -An -tx1 -v -N "$n" "$module" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
    sum=$(od -An -tu1 -v "$module" | awk '{ for (i = 1; i <= NF; i++) s += $i } END { printf "%08x", s % 4294967296 }')
    patterns="${patterns}^xen-wedge: module: $len bytes at 0x[0-9a-f]{16}\$$nl"
    patterns="${patterns}^xen-wedge: module: first $n bytes: $hex \\|$nl"
    patterns="${patterns}^xen-wedge: module: byte sum 0x$sum\$$nl"
fi

rm -f "$log"
"$@" </dev/null >/dev/null
rc=$?
status=0
if [ ! -f "$log" ]; then echo "no console log at $log"; exit 1; fi
# Console lines without Xen's CRs or run-under-xen.sh --timestamps prefixes.
console() { tr -d '\r' <"$log" | sed 's/^\[ *[0-9.]*\] //'; }
console | grep '^xen-wedge:'
[ "$rc" = "$want" ] || { echo "FAIL: verdict $rc, expected $want"; status=1; }
printf '%s' "$patterns" | while IFS= read -r p; do
    [ -n "$p" ] || continue
    if console | grep -Eq -- "$p"; then
        echo "ok: /$p/"
    else
        echo "FAIL: no console line matches /$p/"
        exit 1
    fi
done || status=1
[ $status = 0 ] && echo "PASS (verdict $rc)"
exit $status
