#!/bin/sh
# xen.guest.swapgs_shadow_pending: the swapgs fast path (swapgs_fast_path.cpp, docs/wedge-abi.md
# "Fast paths") against an interrupt that is due at its end. The sample guest's `swapgs-shadow`
# mode makes a self-IPI pending with IF=0 and runs `sti; swapgs; <marker>`: the CPU takes the
# interrupt right after the swapgs, sti's shadowed instruction. On Xen that swapgs reaches the
# wedge with IF set and the vector pending, so it must go through the core, which delivers at
# the site's exit; a fast path that finished it would let the marker run first. Natively and
# on Xen the guest must print "PASS swapgs.shadow_pending", and on Xen the wedge must report
# swapgs sites it finished itself (else the run did not have the fast path at all).
#
#   check-guest-swapgs-shadow.sh AFTERBURN GUEST LOGDIR
set -u
afterburn=$1 guest=$2 logdir=$3
mkdir -p "$logdir"
fail() { echo "FAIL: $*"; exit 1; }
for on in native xen; do
    log=$logdir/swapgs-shadow-$on.log
    "$afterburn" boot --on "$on" "$guest" --append "console=ttyS0 swapgs-shadow" -q --log "$log" --timeout 300 ||
        fail "afterburn boot --on $on exited $? (log: $log)"
    tr -d '\r' <"$log" | grep -E '^(SWAPGS-SHADOW|PASS swapgs|FAIL swapgs)'
    tr -d '\r' <"$log" | grep -q '^PASS swapgs.shadow_pending$' || fail "no 'PASS swapgs.shadow_pending' on $on (log: $log)"
done
fast=$(tr -d '\r' <"$log" | sed -n 's/^xen-wedge: guest: \([0-9]*\) swapgs finished without the core .*/\1/p')
echo "xen: ${fast:-no} swapgs finished without the core"
[ -n "$fast" ] && [ "$fast" -gt 0 ] || fail "the wedge finished no swapgs itself: the run did not test the fast path (log: $log)"
echo "PASS"
