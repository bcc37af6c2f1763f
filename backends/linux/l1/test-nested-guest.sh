#!/bin/bash
# kvm.nested.guest: the sample guest under afterburn-kvm in nested KVM, through the front door
# (afterburn boot --on kvm --nested: QEMU TCG -> L1 Debian kernel -> kvm_amd nested=1).
#   test-nested-guest.sh AFTERBURN GUEST EXPECTED CACHE [BOOT-OPTIONS...]
# kvm.nested.guest passes --no-wedge (afterburn-kvm alone); test-nested-wedge.sh none or
# --trap-and-emulate. Passes only if the guest ran every check of EXPECTED
# (samples/guest/expected.txt) in order, each PASS (or SKIP where EXPECTED marks it optional),
# printed AFTERBURN-SUCCESS, afterburn boot exited 0, and afterburn-kvm in the L1 exited with
# the guest's verdict 0 (status 1).
# Exits 77 (ctest: skipped) with the reason when nested KVM cannot be had (afterburn boot's 4).
# Environment: TEST_NAME, NESTED_LOG (the console log; default CACHE/nested-guest.log).
set -u
ab=$1 guest=$2 expected=$3 cache=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$guest" ] || { echo "no guest image at $guest (cmake --build build --target sample-guest)"; exit 1; }
mkdir -p "$cache"
name=${TEST_NAME:-kvm.nested.guest}
log=${NESTED_LOG:-$cache/nested-guest.log}
AFTERBURN_KVM_L1_CACHE=$cache "$ab" boot --on kvm --nested "$guest" --timeout 300 --log "$log" "$@" 2>&1 |
    tee "$log.out"
rc=${PIPESTATUS[0]}
[ $rc -eq 4 ] && { echo "$name: skipped: $(grep -m1 -o 'SKIP: .*' "$log.out")"; exit 77; }
status=0
[ $rc -eq 0 ] || { echo "$name: afterburn boot exited $rc, want 0"; status=1; }
grep -q "^afterburn boot: success: .*(in the L1, afterburn-kvm exited with status 1 (debug-exit value 0))$" "$log.out" ||
    { echo "$name: afterburn-kvm in the L1 did not exit with status 1 (guest verdict 0)"; status=1; }
# The same transcript comparison as every other backend's test. afterburn-kvm alone leaves
# the local APIC to the L1's KVM, whose timer current count reads 0 whenever its host timer
# is overdue, as it nearly always is nested under QEMU TCG (docs/wedge-core.md): the guest
# SKIPs timer.lapic then, which only this run and the stripped guest's allow. The wedge
# answers the count from its rdmsr sites; a stripped guest has none, so its x2APIC reads go
# to the L1's KVM as without the wedge. The annotated guest through the wedge must PASS.
also_optional=()
for a in "$@"; do
    case $a in --no-wedge|--trap-and-emulate) also_optional=(timer.lapic) ;; esac
done
sh "$here/../../../samples/guest/compare-transcript.sh" "$expected" "$log" "${also_optional[@]}" || status=1
exit $status
