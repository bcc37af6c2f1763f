#!/bin/bash
# Linux (the afterburnt vmlinux of `afterburn build-linux`) on Xen through the Xen wedge.
#   test-linux-boot.sh AFTERBURN LINUX_OUT LOGDIR   (ctest xen.linux.boot)
# LINUX_OUT holds vmlinux, initramfs.cpio.gz and workload-native.txt (linux.e2e's build
# directory and its native transcript); when vmlinux or the initramfs are missing they are
# built there first with `afterburn build-linux`.
# `afterburn boot --on xen vmlinux --initrd initramfs.cpio.gz` (defaults only) must exit 0 with
# the success marker (the wall clock is reported against the issue's 60 s); the console log is kept in
# LOGDIR/xen-linux.log; its workload transcript must equal the native one
# (tests/linux/compare-workload.sh); Linux must have read the TSC and APIC timer frequencies
# from the wedge (TSC clocksource, APIC timer kept); the wedge must report fallback 0 (every sensitive
# instruction Linux ran was annotated) and the places Linux's alternatives may copy rewritten
# sites to (wedge/alternative_copies.h); vmlinux must be byte for byte what it was; and
# `afterburn rewrite --backend xen` must give the digest the wedge printed.
set -euo pipefail
. "$(dirname "$0")/linux-test-setup.sh"
compare=$here/../../tests/linux/compare-workload.sh

sum_before=$(sha256sum "$vmlinux") || fail "cannot read $vmlinux"
log=$logdir/xen-linux.log
start=$(date +%s.%N)
rc=0
# 900 s (as scripts/main.sh): the run is slow under QEMU TCG (every CR3 load costs on shadow
# paging) and slower under host load.
"$ab" boot --on xen "$vmlinux" --initrd "$initrd" --timeout 900 --log "$log" -q || rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ $rc -eq 0 ] || fail "afterburn boot --on xen exited $rc after $secs s (console log: $log)"
clean=$(tr -d '\r' <"$log")  # the console without the serial line's CRs, read once
grep -q '^AFTERBURN-SUCCESS' <<<"$clean" || fail "no AFTERBURN-SUCCESS line in $log"
echo "xen.linux.boot: AFTERBURN-SUCCESS through the Xen wedge in $secs s (host wall time, Xen boot included)"
"$compare" "$native" "$log" || fail "the workload transcript on Xen differs from the native one (console log: $log)"
# The wedge tells Linux the TSC and APIC timer frequencies (docs/xen-backend.md, "Frequencies
# instead of calibration"): Linux must have read them, kept the TSC as its clocksource and its
# APIC timer (calibrating by polling the PIT through site entries fails, and it ticked on jiffies).
grep -q '^vmware: TSC freq read from hypervisor' <<<"$clean" ||
    fail "Linux did not read the TSC frequency from the wedge (no 'TSC freq read from hypervisor'; console log: $log)"
grep -q '^clocksource: Switched to clocksource tsc$' <<<"$clean" ||
    fail "Linux did not switch to the TSC clocksource (console log: $log)"
! grep -q 'APIC timer disabled' <<<"$clean" || fail "Linux disabled its APIC timer (console log: $log)"
fallback=$(sed -n 's/^xen-wedge: guest: fallback \([0-9]*\) .*/\1/p' <<<"$clean" | tail -n 1)
[ -n "$fallback" ] || fail "the wedge printed no fallback counter (console log: $log)"
[ "$fallback" = 0 ] || fail "fallback $fallback: unannotated sensitive instructions ran through trap-and-emulate"
# Linux's alternatives copy rewritten .altinstr_replacement sites: the wedge must know where.
places=$(sed -n 's/^xen-wedge: guest: alternatives: .* \([0-9][0-9]*\) places .*/\1/p' <<<"$clean")
[ -n "$places" ] && [ "$places" -gt 0 ] ||
    fail "the wedge read no places Linux's alternatives may copy a rewritten site to (console log: $log)"
# User-mode page faults reach Linux through the fast delivery (docs/xen-backend.md, "A user-mode
# exception without the core").
user_exc=$(sed -n 's/^xen-wedge: guest: \([0-9]*\) user-mode exceptions delivered without the core.*/\1/p' <<<"$clean")
[ -n "$user_exc" ] && [ "$user_exc" -gt 0 ] ||
    fail "no user-mode exception delivered without the core (counter '${user_exc:-missing}'; console log: $log)"
# Processes switch back onto the user halves the shadow kept for them (docs/xen-shadow-paging.md,
# "Address spaces").
space_hits=$(sed -n 's/^xen-wedge: guest: shadow: [0-9]* kept CR3 loads switched .*: \([0-9]*\) kept for that root.*/\1/p' <<<"$clean")
[ -n "$space_hits" ] && [ "$space_hits" -gt 0 ] ||
    fail "no CR3 load found its root's user half kept in an address space (counter '${space_hits:-missing}'; console log: $log)"
# Linux's page-table stores go through the wedge by default (--pt-sites stores), so a process
# switched back to with no store since its shadow was checked runs on it unchecked
# (docs/xen-shadow-paging.md, "Switching back without a check").
grep -q '^xen-wedge: guest: page-table sites rewritten: [1-9][0-9]* stores, 0 loads$' <<<"$clean" ||
    fail "the wedge did not rewrite Linux's page_table_store sites (and only those) by default (console log: $log)"
unchecked=$(sed -n 's/^xen-wedge: guest: shadow: \([0-9]*\) kept CR3 loads without a check.*/\1/p' <<<"$clean")
[ -n "$unchecked" ] && [ "$unchecked" -gt 0 ] ||
    fail "no CR3 load kept its space's shadow unchecked (counter '${unchecked:-missing}'; console log: $log)"
grep -E '^xen-wedge: guest: (shadow: |[0-9]+ site entries|alternatives: |[0-9]+ of them from)' <<<"$clean" || true
[ "$(sha256sum "$vmlinux")" = "$sum_before" ] || fail "$vmlinux changed during the boot"
# `afterburn rewrite --backend xen` leaves the bytes this wedge ran (head code included).
"$(dirname "$0")/../../wedge/tests/compare-rewrite-digest.sh" xen "$ab" "$vmlinux" "$log" "$logdir/rewrite" \
    --pt-sites stores || fail "afterburn rewrite --backend xen --pt-sites stores differs from the wedge on $vmlinux"
# The issue's bound (a boot under 60 s of wall clock) is reported, not asserted: wall clock
# under QEMU TCG depends on the machine's load (see the timeout above).
awk -v s="$secs" 'BEGIN { exit !(s < 60) }' || echo "xen.linux.boot: note: $secs s of wall clock, over the 60 s the issue asks for (machine load: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "xen.linux.boot: transcript equal to the native one, fallback 0, vmlinux unchanged"
