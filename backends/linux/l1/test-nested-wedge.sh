#!/bin/bash
# kvm.nested.wedge / kvm.nested.stripped: the sample guest under afterburn-kvm with the KVM
# wedge in nested KVM (afterburn boot --on kvm --nested), judged like kvm.nested.guest
# (test-nested-guest.sh: the whole transcript of EXPECTED, AFTERBURN-SUCCESS, launcher status 1).
#   test-nested-wedge.sh annotated|stripped AFTERBURN GUEST EXPECTED CACHE
# annotated: GUEST as built (afterburn-cc). The wedge must have found its records and rewritten
#   sites (none failing), and the guest must pass.
# stripped: GUEST with its annotation note removed (objcopy --remove-section=.notes: the section
#   that holds every object's .note.afterburn), booted with --trap-and-emulate. The wedge must
#   find no records and rewrite nothing; the guest must still pass, every port access trapping
#   to the launcher.
# Prints the launcher's exit total ("kvm exits: ..."). Exits 77 when nested KVM cannot be had.
set -u
mode=$1 ab=$2 guest=$3 expected=$4 cache=$5
here=$(cd "$(dirname "$0")" && pwd)
case $mode in
annotated) name=kvm.nested.wedge ;;
stripped) name=kvm.nested.stripped ;;
*) echo "usage: test-nested-wedge.sh annotated|stripped AFTERBURN GUEST EXPECTED CACHE" >&2; exit 2 ;;
esac
[ -f "$guest" ] || { echo "$name: no guest image at $guest (cmake --build build --target sample-guest)"; exit 1; }
mkdir -p "$cache"
log=$cache/nested-$mode.log
run_guest=$guest
options=()
if [ "$mode" = stripped ]; then
    run_guest=$cache/guest-stripped.elf
    objcopy --remove-section=.notes "$guest" "$run_guest" || { echo "$name: objcopy failed"; exit 1; }
    if readelf -n "$run_guest" | grep -q Afterburn; then
        echo "$name: $run_guest still has Afterburn notes"; exit 1
    fi
    options=(--trap-and-emulate)
elif ! readelf -n "$guest" | grep -q Afterburn; then
    echo "$name: $guest has no Afterburn notes (built without afterburn-cc?)"; exit 1
fi

TEST_NAME=$name NESTED_LOG=$log "$here/test-nested-guest.sh" "$ab" "$run_guest" "$expected" "$cache" "${options[@]}"
rc=$?
[ $rc -eq 77 ] && exit 77
status=$rc
clean() { tr -d '\r' <"$log"; }
summary=$(clean | grep -m1 '^kvm-wedge: [0-9]* sites: rewrote')
records=$(clean | grep -m1 '^kvm-wedge: [0-9]* Afterburn tables')
echo "$name: $records"
echo "$name: $summary"
rewrote=$(sed -n 's/.* rewrote \([0-9]*\) .*/\1/p' <<<"$summary")
failed=$(sed -n 's/.* \([0-9]*\) could not be rewritten.*/\1/p' <<<"$summary")
if [ -z "$summary" ] || [ -z "$rewrote" ]; then
    echo "$name: the wedge did not report its rewrite (did it run?)"; status=1
elif [ "$mode" = annotated ]; then
    [ "$rewrote" -gt 0 ] || { echo "$name: the wedge rewrote no site"; status=1; }
    [ "$failed" = 0 ] || { echo "$name: $failed sites could not be rewritten"; status=1; }
    # The guest's xsetbv must reach KVM through the wedge (set_xcr), not run natively: an L0
    # QEMU < 8.2 lets a nested xsetbv through without an exit (docs/kvm-backend-notes.md).
    if clean | grep -q '^PASS xsave'; then
        xsetbv_sites=$(sed -n 's/.* xsetbv \([0-9]*\)).*/\1/p' <<<"$summary")
        set_xcr=$(clean | sed -n 's/^  wedge hypercalls .* set_xcr \([0-9]*\).*/\1/p' | head -n 1)
        echo "$name: xsetbv sites rewritten ${xsetbv_sites:-?}, set_xcr hypercalls ${set_xcr:-0}"
        [ "${xsetbv_sites:-0}" -gt 0 ] || { echo "$name: the wedge rewrote no xsetbv site"; status=1; }
        [ "${set_xcr:-0}" -gt 0 ] || { echo "$name: the guest's xsetbv never reached KVM_SET_XCRS"; status=1; }
    fi
else
    grep -q ' 0 Afterburn tables, 0 records' <<<"$records" || { echo "$name: the wedge found records in a stripped guest"; status=1; }
    [ "$rewrote" = 0 ] || { echo "$name: the wedge rewrote $rewrote sites of a stripped guest"; status=1; }
fi
total=$(clean | awk '$1 == "total" { print $2; exit }')
echo "kvm exits: $name total ${total:-?} (guest $(basename "$run_guest"), wedge kvm-wedge.elf)"
[ $status -eq 0 ] && echo "$name: passed"
exit $status
