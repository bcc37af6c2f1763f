#!/bin/sh
# rewrite.matches.xen / rewrite.matches.kvm: `afterburn rewrite IMAGE --backend B` must leave
# exactly the bytes that backend's wedge runs. Both print the same digest (wedge/site_rewrite.h:
# FNV-1a over every site's address, size and bytes after rewriting): the host tool from its
# output file, the wedge from guest memory right after it rewrote the loaded guest. The guest
# must also pass on B, so the digest is the one of a run that worked.
#   check-rewrite-matches-wedge.sh xen|kvm AFTERBURN GUEST WORKDIR
# Exits 77 (skip) when `afterburn boot --on B` says B cannot run here (its status 4).
set -eu
backend=$1 afterburn=$2 guest=$3 work=$4
name=rewrite.matches.$backend
mkdir -p "$work"
log=$work/boot.$backend.log

status=0
timeout=120
[ "$backend" = kvm ] && timeout=300
"$afterburn" boot --on "$backend" "$guest" --timeout "$timeout" --log "$log" >/dev/null 2>&1 || status=$?
if [ "$status" = 4 ]; then
    echo "$name: SKIP: afterburn boot --on $backend cannot run here:"; tail -n 5 "$log" 2>/dev/null || true
    exit 77
fi
[ "$status" = 0 ] || { echo "$name: the guest did not pass on $backend (status $status, log: $log)"; exit 1; }
"$(dirname "$0")/compare-rewrite-digest.sh" "$backend" "$afterburn" "$guest" "$log" "$work" || exit 1
wedge_digest=$(tr -d '\r' <"$log" | sed -n 's/^.*-wedge: .*sites digest \(0x\)\{0,1\}\([0-9a-f]*\) .*$/\2/p' | head -n 1 | sed 's/^0*//')
[ -n "$wedge_digest" ] || { echo "$name: the wedge printed no digest (log: $log)"; exit 1; }
strip() { echo "$1" | sed 's/^0*//'; }
# The digest tells plans apart: the other backend's rewrite of the same guest must differ.
other=xen
[ "$backend" = xen ] && other=kvm
"$afterburn" rewrite "$guest" --backend $other -o "$work/guest.$other.check.elf" >"$work/rewrite.$other.check.txt" || {
    echo "$name: afterburn rewrite --backend $other failed"; exit 1; }
other_digest=$(sed -n 's/^afterburn rewrite: sites digest 0x\([0-9a-f]*\) .*/\1/p' "$work/rewrite.$other.check.txt")
[ -n "$other_digest" ] && [ "$(strip "$other_digest")" != "$wedge_digest" ] || {
    echo "$name: FAIL: the $other plan gives the same digest ($other_digest): the comparison proves nothing"; exit 1; }
echo "$name: PASS: afterburn rewrite --backend $backend leaves the bytes the $backend wedge runs"
