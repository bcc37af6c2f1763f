#!/bin/bash
# kvm.nested.guest: the sample guest under afterburn-kvm in nested KVM (run-nested.sh).
#   test-nested-guest.sh LAUNCHER GUEST EXPECTED CACHE
# Passes only if the guest ran every check of EXPECTED (samples/guest/expected.txt) in
# order, each PASS (or SKIP where EXPECTED marks it optional), printed
# AFTERBURN-SUCCESS, and the launcher exited with the guest's verdict 0 (status 1).
# Exits 77 (ctest: skipped) with the reason when nested KVM cannot be had.
# Environment (for test-nested-wedge.sh): TEST_NAME, NESTED_LOG, NESTED_WEDGE (run-nested.sh).
set -u
launcher=$1 guest=$2 expected=$3 cache=$4
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$guest" ] || { echo "no guest image at $guest (cmake --build build --target sample-guest)"; exit 1; }
mkdir -p "$cache"
name=${TEST_NAME:-kvm.nested.guest}
log=${NESTED_LOG:-$cache/nested-guest.log}
AFTERBURN_KVM=$launcher AFTERBURN_KVM_L1_CACHE=$cache NESTED_LOG=$log NESTED_TIMEOUT=600 \
    "$here/run-nested.sh" "$guest"
rc=$?
[ $rc -eq 77 ] && { echo "$name: skipped (see SKIP above)"; exit 77; }
status=0
[ $rc -eq 1 ] || { echo "$name: launcher status $rc, want 1 (guest verdict 0)"; status=1; }
# The same transcript comparison as every other backend's test.
sh "$here/../../../samples/guest/compare-transcript.sh" "$expected" "$log" || status=1
exit $status
