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
else
    grep -q ' 0 Afterburn tables, 0 records' <<<"$records" || { echo "$name: the wedge found records in a stripped guest"; status=1; }
    [ "$rewrote" = 0 ] || { echo "$name: the wedge rewrote $rewrote sites of a stripped guest"; status=1; }
fi
total=$(clean | awk '$1 == "total" { print $2; exit }')
echo "kvm exits: $name total ${total:-?} (guest $(basename "$run_guest"), wedge kvm-wedge.elf)"
[ $status -eq 0 ] && echo "$name: passed"
exit $status
