#!/bin/sh
# A Xen wedge fast path against interrupts (docs/wedge-abi.md, "Fast paths"): one sample-guest
# mode, natively (QEMU TCG) and through the Xen wedge. The guest must print its PASS line on
# both, and on Xen the wedge's counter must show that the run went through the fast path at
# all (else it tested nothing).
#
#   check-guest-fast-path.sh AFTERBURN GUEST LOGDIR MODE
#
#   sti-stress     xen.guest.sti_shadow_async: `cli; sti; nop` in a loop under a periodic APIC
#                  timer, counting ticks taken at the nop, in sti's shadow, where the CPU never
#                  takes one. The sti fast path (sti_fast_path.S) returns without looking at
#                  later events; the wedge must report upcalls it held at that instruction.
#   swapgs-shadow  xen.guest.swapgs_shadow_pending: a self-IPI pending with IF=0, then
#                  `sti; swapgs; <marker>`: the CPU takes the interrupt right after the swapgs.
#                  On Xen that swapgs reaches the wedge with IF set and the vector pending, so
#                  it must go through the core, which delivers at the site's exit; a fast path
#                  that finished it would let the marker run first. The wedge must report
#                  swapgs it finished itself (swapgs_fast_path.cpp).
#   user-return    xen.guest.user_return_pending: iretq to ring 3 (plain, and after swapgs and
#                  Linux's jmps) with a self-IPI pending, an APIC timer expiring in ring 3 or
#                  nothing, IF set or clear in the popped RFLAGS: a pending interrupt must be
#                  taken before ring 3's first instruction exactly when IF is set, the timer in
#                  ring 3 only with IF set, ring 3 must start with the popped arithmetic flags,
#                  and the GS bases must be swapped. The wedge must report returns to user mode
#                  it made without the core (user_return_fast_path.cpp), some after the swapgs.
set -u
afterburn=$1 guest=$2 logdir=$3 mode=$4
case $mode in
    sti-stress) check=sti.shadow_async what="upcalls held in an sti shadow"
        counter='s/^xen-wedge: guest: [0-9]* sti finished in the entry window .*, \([0-9]*\) upcalls waited for the instruction after one$/\1/p' ;;
    swapgs-shadow) check=swapgs.shadow_pending what="swapgs finished without the core"
        counter='s/^xen-wedge: guest: \([0-9]*\) swapgs finished without the core .*/\1/p' ;;
    user-return) check=user_return.delivery what="returns to user mode without the core after a swapgs"
        counter='s/^xen-wedge: guest: [0-9]* returns to user mode without the core, \([0-9]*\) of them with the swapgs.*/\1/p' ;;
    *) echo "check-guest-fast-path.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac
mkdir -p "$logdir"
fail() { echo "FAIL: $*"; exit 1; }
for on in native xen; do
    log=$logdir/$mode-$on.log
    "$afterburn" boot --on "$on" "$guest" --append "console=ttyS0 $mode" -q --log "$log" --timeout 300 ||
        fail "afterburn boot --on $on exited $? (log: $log)"
    tr -d '\r' <"$log" | grep -E "^($(echo "$mode" | tr a-z A-Z)|PASS ${check%%.*}|FAIL ${check%%.*})"
    tr -d '\r' <"$log" | grep -q "^PASS $check\$" || fail "no 'PASS $check' on $on (log: $log)"
done
n=$(tr -d '\r' <"$log" | sed -n "$counter")
echo "xen: ${n:-no} $what"
[ -n "$n" ] && [ "$n" -gt 0 ] || fail "the wedge reports no $what: the run did not test the fast path (log: $log)"
echo "PASS"
