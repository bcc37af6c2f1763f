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
sed 's/^[0-9.]* //' "$log" | grep -qx AFTERBURN-SUCCESS || { echo "$name: no AFTERBURN-SUCCESS"; status=1; }
sed 's/^[0-9.]* //' "$log" | awk '
    NR == FNR { if ($0 ~ /^#/ || NF == 0) next; n++; want[n] = $2; opt[n] = ($3 == "?"); next }
    /^(PASS|FAIL|SKIP) / { m++; v[m] = $1; name = $2; sub(/:$/, "", name); got[m] = name; line[m] = $0 }
    END {
        bad = 0; last = n > m ? n : m
        for (i = 1; i <= last; i++) {
            if (i > n) { print "unexpected check line: " line[i]; bad++; continue }
            if (i > m) { print "missing: " want[i]; bad++; continue }
            if (got[i] != want[i] || !(v[i] == "PASS" || (opt[i] && v[i] == "SKIP"))) {
                print "check " i ": want PASS " want[i] (opt[i] ? " (or SKIP)" : "") ", got: " line[i]; bad++
            }
        }
        if (bad) print bad " mismatch(es) against expected.txt"; else print "transcript matches expected.txt (" n " checks)"
        exit bad > 0
    }' "$expected" - || status=1
exit $status
