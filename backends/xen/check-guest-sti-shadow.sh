#!/bin/sh
# xen.guest.sti_shadow_async: sti's interrupt shadow against interrupts that arrive on their own
# time (docs/wedge-abi.md, "Fast paths"). The sample guest's `sti-stress` mode runs
# `cli; sti; nop` in a loop under a periodic APIC timer and counts ticks taken at the nop, the
# instruction in sti's shadow, where the CPU never takes one. Natively (QEMU TCG) and through
# the Xen wedge, whose sti fast path returns without looking at later events, the guest must
# print "PASS sti.shadow_async"; on Xen the wedge must also report upcalls it held at that
# instruction (else the run did not test the fast path's shadow at all).
#
#   check-guest-sti-shadow.sh AFTERBURN GUEST LOGDIR
set -u
afterburn=$1 guest=$2 logdir=$3
mkdir -p "$logdir"
fail() { echo "FAIL: $*"; exit 1; }
for on in native xen; do
    log=$logdir/sti-shadow-$on.log
    "$afterburn" boot --on "$on" "$guest" --append "console=ttyS0 sti-stress" -q --log "$log" --timeout 300 ||
        fail "afterburn boot --on $on exited $? (log: $log)"
    tr -d '\r' <"$log" | grep -E '^(STI-STRESS|PASS sti|FAIL sti)'
    tr -d '\r' <"$log" | grep -q '^PASS sti.shadow_async$' || fail "no 'PASS sti.shadow_async' on $on (log: $log)"
done
held=$(tr -d '\r' <"$log" | sed -n 's/^xen-wedge: guest: [0-9]* sti finished in the entry window .*, \([0-9]*\) upcalls waited for the instruction after one$/\1/p')
echo "xen: ${held:-no} upcalls held in an sti shadow"
[ -n "$held" ] && [ "$held" -gt 0 ] || fail "the wedge held no upcall in an sti shadow: the run did not test it (log: $log)"
echo "PASS"
