#!/bin/bash
# Linux on Xen with direct paging: Xen runs Linux's own page tables, translated at the
# page-table sites (docs/xen-direct-paging.md).
#   test-linux-direct.sh AFTERBURN LINUX_OUT LOGDIR   (ctest xen.linux.direct)
# LINUX_OUT as for test-linux-boot.sh (built there with `afterburn build-linux` when missing).
# `afterburn boot --on xen --paging direct` must succeed with the workload transcript equal
# to the native one and fallback 0; the wedge must say it runs direct paging and report what
# the core did: tables converted, stores and loads through it, table mappings made read-only,
# tables given back as data (> 0 each: a 0 means the mode is not really in use); vmlinux must
# be unchanged (the same file as natively and on shadow paging), and `afterburn rewrite
# --backend xen --pt-sites wedge` must give the digest the wedge printed.
set -euo pipefail
. "$(dirname "$0")/linux-test-setup.sh"
sum_before=$(sha256sum "$vmlinux") || fail "cannot read $vmlinux"

log=$logdir/xen-linux-direct.log
rc=0
"$ab" boot --on xen --paging direct "$vmlinux" --initrd "$initrd" --timeout 900 --log "$log" -q || rc=$?
[ $rc -eq 0 ] || fail "afterburn boot --on xen --paging direct exited $rc (console log: $log)"
clean=$(tr -d '\r' <"$log")
grep -q '^AFTERBURN-SUCCESS' <<<"$clean" || fail "no AFTERBURN-SUCCESS line in $log"
grep -q '^xen-wedge: paging: direct ' <<<"$clean" || fail "the wedge does not say it runs direct paging (console log: $log)"
"$here/../../tests/linux/compare-workload.sh" "$native" "$log" ||
    fail "the workload transcript with direct paging differs from the native one (console log: $log)"
fallback=$(sed -n 's/^xen-wedge: guest: fallback \([0-9]*\) .*/\1/p' <<<"$clean" | tail -n 1)
[ "$fallback" = 0 ] || fail "fallback '$fallback': unannotated sensitive instructions ran through trap-and-emulate"

# "direct paging: R root loads, C tables converted, T tracked, F released as data, S page-table
# stores and L loads through the wedge, P mappings of tables made read-only, ..."
line=$(grep '^xen-wedge: guest: direct paging: ' <<<"$clean" | tail -n 1) ||
    fail "the wedge printed no direct-paging counters (console log: $log)"
echo "$line"
read -r roots converted released stores loads protected < <(sed -n \
    's/^.*: \([0-9]*\) root loads, \([0-9]*\) tables converted, [0-9]* tracked, \([0-9]*\) released as data, \([0-9]*\) page-table stores and \([0-9]*\) loads through the wedge, \([0-9]*\) mappings of tables made read-only.*/\1 \2 \3 \4 \5 \6/p' <<<"$line") ||
    fail "cannot read the direct-paging counters: $line"
for pair in "root loads:$roots" "tables converted:$converted" "tables released:$released" \
            "stores:$stores" "loads:$loads" "read-only mappings:$protected"; do
    [ "${pair#*:}" -gt 0 ] || fail "direct paging: ${pair%%:*} is ${pair#*:} (want > 0)"
done
# "direct paging queue: Q entry updates queued, sent in B batches (...)": stores are batched.
read -r queued batches < <(sed -n \
    's/^xen-wedge: guest: direct paging queue: \([0-9]*\) entry updates queued, sent in \([0-9]*\) batches.*/\1 \2/p' \
    <<<"$clean") || fail "the wedge printed no direct-paging queue counters (console log: $log)"
[ "${batches:-0}" -gt 0 ] && [ "${queued:-0}" -gt "$batches" ] ||
    fail "direct paging: $queued updates queued in $batches batches (want batches > 0 and fewer than the updates)"
# The process switch's fast paths ran (docs/xen-direct-paging.md, "The process switch"): the
# segment sites, the FS base, CR3 and asm_load_gs_index without the core.
read -r seg msr cr3 < <(sed -n \
    's/^xen-wedge: guest: \([0-9]*\) mov to or from a data segment register, \([0-9]*\) wrmsr of a segment base, \([0-9]*\) mov to CR3 finished without the core.*/\1 \2 \3/p' \
    <<<"$clean") || fail "the wedge printed no process-switch fast-path counters (console log: $log)"
gs_index=$(sed -n 's/^xen-wedge: guest: \([0-9]*\) GS loads between two swapgs in one entry.*/\1/p' <<<"$clean")
[ "${seg:-0}" -gt 0 ] && [ "${msr:-0}" -gt 0 ] && [ "${cr3:-0}" -gt 0 ] && [ "${gs_index:-0}" -gt 0 ] ||
    fail "process switch: segment ${seg:-?}, wrmsr ${msr:-?}, CR3 ${cr3:-?}, GS index ${gs_index:-?} sites without the core (want all > 0)"
[ "$(sha256sum "$vmlinux")" = "$sum_before" ] || fail "$vmlinux changed during the boot"
"$here/../../wedge/tests/compare-rewrite-digest.sh" xen "$ab" "$vmlinux" "$log" "$logdir/rewrite-direct" \
    --pt-sites wedge || fail "afterburn rewrite --backend xen --pt-sites wedge differs from the wedge on $vmlinux"
echo "xen.linux.direct: transcript equal to the native one; $converted tables converted, $stores stores and $loads loads through the wedge, $released tables given back"
