#!/bin/sh
# `afterburn rewrite IMAGE --backend B` must leave exactly the bytes B's wedge ran, as the
# wedge's console LOG of a boot of IMAGE says. Both print the same digest (wedge/site_rewrite.h:
# FNV-1a over every site's address, size and bytes after rewriting): the host tool from its
# output file, the wedge from guest memory right after it rewrote the loaded guest.
#   compare-rewrite-digest.sh xen|kvm AFTERBURN IMAGE LOG WORKDIR [REWRITE OPTION...]
# (the options go to `afterburn rewrite`, e.g. --pt-sites wedge as the boot had it)
# Exit 0 when they are equal, 1 when not (or a digest is missing).
set -eu
backend=$1 afterburn=$2 image=$3 log=$4 work=$5
shift 5
opts="$*"
name="rewrite digest ($backend, $(basename "$image"))"
mkdir -p "$work"
out=$work/rewritten.$backend
"$afterburn" rewrite "$image" --backend "$backend" "$@" -o "$out" >"$work/rewrite.$backend.txt" 2>&1 || {
    cat "$work/rewrite.$backend.txt"; echo "$name: afterburn rewrite failed"; exit 1; }
rm -f "$out"
host=$(sed -n 's/^afterburn rewrite: sites digest 0x\([0-9a-f]*\) (fnv1a64 over \([0-9]*\) sites)$/\1 \2/p' \
    "$work/rewrite.$backend.txt")
[ -n "$host" ] || { cat "$work/rewrite.$backend.txt"; echo "$name: afterburn rewrite printed no digest"; exit 1; }
case $backend in
xen) pattern='s/^.*xen-wedge: guest: sites digest 0x\([0-9a-f]*\) (fnv1a64 over \([0-9]*\) sites).*$/\1 \2/p' ;;
kvm) pattern='s/^.*kvm-wedge: sites digest \([0-9a-f]*\) (fnv1a64 over \([0-9]*\) sites).*$/\1 \2/p' ;;
*) echo "usage: compare-rewrite-digest.sh xen|kvm AFTERBURN IMAGE LOG WORKDIR" >&2; exit 2 ;;
esac
wedge=$(tr -d '\r' <"$log" | sed -n "$pattern" | head -n 1)
[ -n "$wedge" ] || { echo "$name: the wedge printed no digest (log: $log)"; exit 1; }
# The wedge prints hex without leading zeros (kvm) or with them (xen): compare as numbers.
strip() { echo "$1" | sed 's/^0*//'; }
set -- $host
host_digest=$(strip "$1") host_sites=$2
set -- $wedge
wedge_digest=$(strip "$1") wedge_sites=$2
echo "$name: afterburn rewrite: $host_sites sites, digest $host_digest"
echo "$name: $backend wedge:      $wedge_sites sites, digest $wedge_digest"
[ "$host_sites" = "$wedge_sites" ] || { echo "$name: FAIL: different site counts"; exit 1; }
[ "$host_digest" = "$wedge_digest" ] || { echo "$name: FAIL: the rewritten bytes differ"; exit 1; }
echo "$name: afterburn rewrite --backend $backend${opts:+ $opts} leaves the bytes the $backend wedge ran"
