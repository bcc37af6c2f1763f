#!/usr/bin/env bash
# Proves the cross-check can fail: the plugin leaves its N-th access of the unit unmarked, for
# every N in turn, and crosscheck.sh must report a disagreement (exit 1) each time; with N past
# the last access nothing is dropped and it must agree (exit 0).
# usage: drop_test.sh AFTERBURN_CC AFTERBURN TYPES.conf UNIT.c
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cc=$1 scan=$2 types=$3 unit=$4
out=$("$here/crosscheck.sh" --cc "$cc" --scan "$scan" --types "$types" --file "$unit") ||
    { echo "$out"; echo "FAIL: the cross-check disagrees with nothing dropped"; exit 1; }
marks=$(sed -nE 's/.*marks store=([0-9]+) load=([0-9]+);.*/\1 \2/p' <<<"$out")
[[ -n $marks ]] || { echo "$out"; echo "FAIL: no mark counts in the output"; exit 1; }
read -r stores loads <<<"$marks"
total=$((stores + loads))
[[ $total -gt 0 ]] || { echo "FAIL: $unit has no page-table access to drop"; exit 1; }
for ((n = 1; n <= total; n++)); do
    set +e
    dropped=$("$here/crosscheck.sh" --cc "$cc" --scan "$scan" --types "$types" --drop "$n" --file "$unit" 2>&1)
    rc=$?
    set -e
    if [[ $rc -ne 1 ]]; then
        echo "$dropped"
        echo "FAIL: access $n of $total dropped, the cross-check exits $rc instead of 1"
        exit 1
    fi
    echo "ok   drop $n/$total: $(grep -m1 'DISAGREE ' <<<"$dropped" | sed 's/^ *//')"
done
"$here/crosscheck.sh" --cc "$cc" --scan "$scan" --types "$types" --drop $((total + 1)) --file "$unit" >/dev/null ||
    { echo "FAIL: dropping nothing (N past the last access) makes the cross-check fail"; exit 1; }
echo "drop test: each of the $total accesses, dropped alone, is found missing"
