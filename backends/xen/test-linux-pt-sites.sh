#!/bin/bash
# Linux on Xen with its page-table accesses performed by the Xen wedge (--pt-sites wedge, the
# base of direct paging; docs/xen-backend.md, "Page-table sites through the wedge").
#   test-linux-pt-sites.sh AFTERBURN LINUX_OUT LOGDIR   (ctest xen.linux.pt_sites)
# LINUX_OUT as for test-linux-boot.sh (built there with `afterburn build-linux` when missing).
# The boot must succeed with the workload transcript equal to the native one and fallback 0;
# the wedge must have rewritten page_table_store and page_table_load sites (> 0 of each) and
# run each kind (> 0 times: a count of 0 means the plumbing is not in use); with
# --verify-shadow, every switch back the wedge would have made without a check is checked and
# must find no change (and there must be some); and `afterburn rewrite --backend xen
# --pt-sites wedge` must give the digest the wedge printed.
set -euo pipefail
. "$(dirname "$0")/linux-test-setup.sh"

log=$logdir/xen-linux-pt-sites.log
rc=0
"$ab" boot --on xen "$vmlinux" --initrd "$initrd" --pt-sites wedge --verify-shadow --timeout 900 --log "$log" -q || rc=$?
[ $rc -eq 0 ] || fail "afterburn boot --on xen --pt-sites wedge --verify-shadow exited $rc (console log: $log)"
clean=$(tr -d '\r' <"$log")
grep -q '^AFTERBURN-SUCCESS' <<<"$clean" || fail "no AFTERBURN-SUCCESS line in $log"
"$here/../../tests/linux/compare-workload.sh" "$native" "$log" ||
    fail "the workload transcript with --pt-sites wedge differs from the native one (console log: $log)"
fallback=$(sed -n 's/^xen-wedge: guest: fallback \([0-9]*\) .*/\1/p' <<<"$clean" | tail -n 1)
[ "$fallback" = 0 ] || fail "fallback '$fallback': unannotated sensitive instructions ran through trap-and-emulate"

# "page-table sites through the wedge (pt-sites=wedge): S stores, L loads (...)"
read -r stores loads < <(sed -n 's/^xen-wedge: guest: page-table sites through the wedge (pt-sites=wedge): \([0-9]*\) stores, \([0-9]*\) loads .*/\1 \2/p' <<<"$clean") ||
    fail "the wedge did not say which page-table sites it takes (console log: $log)"
grep -E '^xen-wedge: guest: page-table sites' <<<"$clean"
[ "${stores:-0}" -gt 0 ] && [ "${loads:-0}" -gt 0 ] ||
    fail "the wedge took ${stores:-0} page_table_store and ${loads:-0} page_table_load sites (want > 0 of each)"
grep -qx "xen-wedge: guest: page-table sites rewritten: $stores stores, $loads loads" <<<"$clean" ||
    fail "the wedge did not rewrite all $stores store and $loads load sites it took (console log: $log)"
by_kind=$(grep '^xen-wedge: guest: site entries by kind:' <<<"$clean" | tr '\n' ' ')
read -r ran_stores ran_loads < <(sed -n 's/^xen-wedge: guest: page-table sites ran: \([0-9]*\) stores, \([0-9]*\) loads .*/\1 \2/p' <<<"$clean") ||
    fail "the wedge printed no page-table run counts (console log: $log)"
[ "${ran_stores:-0}" -gt 0 ] && [ "${ran_loads:-0}" -gt 0 ] ||
    fail "page_table_store ran ${ran_stores:-0} times, page_table_load ${ran_loads:-0} (want > 0 of each)"
# The per-kind entry line says the same (two independent counts of one thing).
grep -q " page_table_store $ran_stores\b" <<<"$by_kind" && grep -q " page_table_load $ran_loads\b" <<<"$by_kind" ||
    fail "the site entries by kind disagree with the page-table run counts: $by_kind"
# --verify-shadow: every switch back the wedge would have made unchecked (no page-table store
# reported since the space's last check) is checked all the same, and must find nothing: no
# store to Linux's tables bypassed the compiler pass's page_table_store sites.
read -r candidates stale < <(sed -n 's/^xen-wedge: guest: shadow: \([0-9]*\) kept CR3 loads without a check.*, \([0-9]*\) whose check found a change.*/\1 \2/p' <<<"$clean") ||
    fail "the wedge printed no unchecked-load counters (console log: $log)"
[ "${candidates:-0}" -gt 0 ] || fail "no CR3 load qualified for keeping its shadow unchecked (console log: $log)"
[ "$stale" = 0 ] ||
    fail "$stale of $candidates switches back the wedge would not have checked had a change: a page-table store it did not see (console log: $log)"
echo "xen.linux.pt_sites: $candidates switches back without a store since their last check, checked all the same: none had a change"
"$here/../../wedge/tests/compare-rewrite-digest.sh" xen "$ab" "$vmlinux" "$log" "$logdir/rewrite-pt-sites" \
    --pt-sites wedge || fail "afterburn rewrite --backend xen --pt-sites wedge differs from the wedge on $vmlinux"
echo "xen.linux.pt_sites: transcript equal to the native one; $stores store and $loads load sites through the wedge, run $ran_stores and $ran_loads times"
