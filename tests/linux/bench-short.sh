#!/usr/bin/env bash
# bench.short: `afterburn bench --short` runs on all five systems (the stock kernel, built here
# into STOCK_DIR and cached; the afterburnt one natively and on Xen, shadow and direct paging;
# XenoLinux) and its JSON,
# table and chart are complete and consistent; then two short runs of the afterburnt kernel
# natively must give the same instruction counts. A check that the benchmark works, not a measurement.
# Usage: tests/linux/bench-short.sh BUILD_DIR AFTERBURNT_DIR XENO_DIR STOCK_DIR
# Exit: 0 ok, 1 failure, 77 Xen is not available here (skipped, with the reason).
set -euo pipefail
[[ $# -eq 4 ]] || { echo "usage: $0 BUILD_DIR AFTERBURNT_DIR XENO_DIR STOCK_DIR" >&2; exit 2; }
build=$1 afterburnt=$2 xeno=$3 stock=$4
ab=$build/bin/afterburn
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-short.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "bench.short: FAIL: $*" >&2; exit 1; }

echo "== afterburn bench --short --json --plot (all five systems)"
rc=0
"$ab" bench --short --json --plot "$work/bench.svg" --logs "$work/logs" --linux "$afterburnt" \
    --xenolinux "$xeno" --plain "$stock" >"$work/bench.json" 2>"$work/bench.err" || rc=$?
cat "$work/bench.err"
[[ $rc -eq 0 ]] || { tail -n 30 "$work"/logs/*.log 2>/dev/null || true; fail "afterburn bench exited $rc"; }
json=$(tr -d '\n' <"$work/bench.json")
if grep -q '"status": "n/a' <<<"$json"; then
    echo "bench.short: SKIP: a hypervisor is not available: $(grep -o '"status": "n/a[^"]*"' <<<"$json" | head -n 1)" >&2
    exit 77
fi
grep -q '^{"unit": "instructions", "mode": "icount shift=0", "runs": 1, "short": true,' <<<"$json" ||
    fail "the JSON does not start with its unit and mode: $(head -c 120 <<<"$json")"
for system in plain native afterburn-xen afterburn-xen-direct xenolinux; do
    grep -q "\"$system\": {\"kernel\": \"[^\"]*\", \"status\": \"ok\"}" <<<"$json" || fail "$system did not run: $json"
done
# Every operation has a positive count on each system.
for op in getpid fork_exit fork_exec pipe page_fault mmap_munmap sched_yield user_loop boot; do
    counts=$(grep -o "\"$op\": {\"plain\": [0-9]*, \"native\": [0-9]*, \"afterburn-xen\": [0-9]*, \"afterburn-xen-direct\": [0-9]*, \"xenolinux\": [0-9]*}" <<<"$json") ||
        fail "ops.$op lacks a count for some system: $json"
    for n in $(grep -o '[0-9][0-9]*' <<<"${counts#*:}"); do [[ $n -gt 0 ]] || fail "ops.$op has a zero: $counts"; done
    echo "   $counts"
done
# The control loop is the same 40,000-odd instructions everywhere: only timer interrupts that
# land in it differ. Off by more than 2 % means the unit is not instructions.
loop=$(grep -o '"user_loop": {"plain": [^}]*}' <<<"$json" | head -n 1 | grep -o ' [0-9][0-9]*')
awk '{ v[NR] = $1 } END { for (i = 2; i <= NR; ++i) if (v[i] > v[1] * 1.02 || v[i] < v[1] * 0.98) exit 1 }' <<<"$loop" ||
    fail "the control loop's counts differ by more than 2 % between systems: $(tr '\n' ' ' <<<"$loop")"
grep -q 'pipe round trip' "$work/bench.err" || fail "the table lacks the pipe row"
# The wedge's counters reach the log (the reset is prompt) and the JSON names where it was entered.
grep -q '"wedge_site_entries": {"total": [1-9][0-9]*, "by_kind": {"[a-z_0-9]*": [1-9]' <<<"$json" ||
    fail "no wedge_site_entries with counts: $(grep -o '"wedge_site_entries": [^}]*' <<<"$json")"
# One bar per system and operation: 5 systems x 9 operations.
[[ $(grep -c '<title>' "$work/bench.svg") -eq 45 ]] || fail "the chart lacks bars: $(grep -c '<title>' "$work/bench.svg") of 45"

echo "== afterburn bench --short --runs 2 --systems native: the counts repeat"
"$ab" bench --short --json --runs 2 --systems native --no-build --linux "$afterburnt" \
    >"$work/again.json" 2>"$work/again.err" || { cat "$work/again.err"; fail "the second bench exited non-zero"; }
spread=$(tr -d '\n' <"$work/again.json" | grep -o '"spread_percent": {[^}]*}') || fail "no spread_percent in $(cat "$work/again.json")"
echo "   $spread"
for system in native; do
    s=$(grep -o "\"$system\": [0-9.]*" <<<"$spread" | awk '{ print $2 }')
    awk -v s="$s" 'BEGIN { exit !(s != "" && s <= 1.0) }' || fail "$system's counts differ by $s % between two runs"
done
echo "bench.short: ok"
