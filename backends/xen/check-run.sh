#!/bin/sh
# Run the wedge under Xen once and check the outcome (used by the xen.* ctest tests).
#
#   check-run.sh --verdict N --log FILE [--expect ERE]... [--expect-module FILE] -- COMMAND...
#
# COMMAND is `afterburn boot --on xen|xen-dom0 ... --log FILE`: it leaves the console in FILE
# and ends with a line naming the wedge's verdict ("the wedge's verdict N (isa-debug-exit)", or
# "(SCHEDOP_shutdown; ...)" when the wedge had to fall back to it). Passes if that verdict is N,
# afterburn boot's status agrees (0 for a run that reached its marker with verdict 0, 1 for a
# failing verdict) and every --expect pattern matches a console line. A timeout, a run without a
# verdict or a VMM that did not start fails. --expect-module FILE computes, on the host, what the
# wedge must print about boot module FILE (length, first 16 bytes, byte sum) and expects that.
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

rm -f "$log" "$log.stderr"
"$@" </dev/null >/dev/null 2>"$log.stderr"
rc=$?
status=0
cat "$log.stderr"
if [ ! -f "$log" ]; then echo "no console log at $log"; exit 1; fi
# Console lines without Xen's CRs.
console() { tr -d '\r' <"$log"; }
console | grep '^xen-wedge:'
verdict=$(sed -n "s/^afterburn boot: .*the wedge's verdict \([0-9][0-9]*\) (.*/\1/p" "$log.stderr" | tail -n 1)
want_rc=1
[ "$want" = 0 ] && want_rc=0
if [ -z "$verdict" ]; then
    echo "FAIL: afterburn boot reported no verdict from the wedge (exit status $rc), expected verdict $want"; status=1
elif [ "$verdict" != "$want" ]; then
    echo "FAIL: verdict $verdict, expected $want"; status=1
elif [ "$rc" != "$want_rc" ]; then
    echo "FAIL: afterburn boot exited with $rc for verdict $verdict, expected $want_rc"; status=1
fi
printf '%s' "$patterns" | while IFS= read -r p; do
    [ -n "$p" ] || continue
    if console | grep -Eq -- "$p"; then
        echo "ok: /$p/"
    else
        echo "FAIL: no console line matches /$p/"
        exit 1
    fi
done || status=1
[ $status = 0 ] && echo "PASS (verdict $verdict)"
exit $status
