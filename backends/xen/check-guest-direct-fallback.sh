#!/bin/sh
# xen.guest.direct_fallback: --paging direct with an image that has no page-table sites (the
# sample guest is built without the compiler pass) falls back to shadow paging, says so on
# the launcher's side and in the wedge's line, and the guest passes as with shadow paging.
#   check-guest-direct-fallback.sh AFTERBURN GUEST LOG
set -u
ab=$1 guest=$2 log=$3
fail() { echo "FAIL: $*"; exit 1; }
rc=0
"$ab" boot --on xen --paging direct "$guest" --log "$log" -q 2>"$log.err" || rc=$?
[ $rc -eq 0 ] || { cat "$log.err"; fail "afterburn boot --on xen --paging direct exited $rc (console: $log)"; }
grep -q "has no page-table sites (built without the compiler pass): shadow paging instead of direct" "$log.err" ||
    { cat "$log.err"; fail "the launcher did not say it falls back to shadow paging"; }
tr -d '\r' <"$log" | grep -q '^xen-wedge: paging: shadow$' || fail "the wedge does not say it runs shadow paging (console: $log)"
! tr -d '\r' <"$log" | grep -q 'paging=direct' || fail "paging=direct reached the wedge (console: $log)"
echo "xen.guest.direct_fallback: shadow paging instead of direct for an image without page-table sites, guest passed"
