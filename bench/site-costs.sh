#!/usr/bin/env bash
# bench/site-costs.sh: what the main site kinds cost on Xen (through the Xen wedge) compared
# with running natively (a benchmark, not a test).
#
# Usage: bench/site-costs.sh [--keep DIR]
#
# Boots the same sample guest file twice in one run, natively and on Xen, both under QEMU
# TCG with `-icount shift=0`: the TSC then advances with instructions executed, so the costs
# are deterministic instruction counts, not noisy times. The guest's `bench` mode times cli,
# sti, pushf, popf, rdtsc, rdtscp, a CR3 write, iretq, a syscall round trip from ring 3 and a page fault
# (samples/guest/bench.cpp), each over 2000 iterations with the loop's own cost subtracted.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ab=${AFTERBURN:-$repo/build/bin/afterburn}
guest=${AFTERBURN_GUEST:-$repo/build/samples/guest/guest.elf}
keep=""
[ "${1:-}" = --keep ] && keep=$2
work=${keep:-$(mktemp -d)}
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
[ -x "$ab" ] && [ -f "$guest" ] || { echo "build the project first (cmake --build build)"; exit 2; }

echo "== native (QEMU TCG, -icount shift=0)"
"$ab" boot --on native "$guest" --append "console=ttyS0 bench" -q --log "$work/native.log" \
    --qemu-arg -icount --qemu-arg shift=0 --timeout 300 || { echo "native run failed"; exit 1; }
echo "== xen (Xen 4.17 + the Xen wedge, same QEMU settings)"
"$ab" boot --on xen "$guest" --append "console=ttyS0 bench" -q --qemu-arg -icount --qemu-arg shift=0 \
    --log "$work/xen.log" --timeout 600 || { echo "xen run failed (status $?)"; exit 1; }

echo
echo "Site cost in guest-visible TSC ticks (= instructions under -icount) per operation"
python3 - "$work/native.log" "$work/xen.log" <<'PY'
import re, sys
def read(path):
    out = {}
    for line in open(path, errors="replace"):
        m = re.match(r"BENCH (\w+) (\d+)\s*$", line.strip())
        if m: out[m.group(1)] = int(m.group(2))
    return out
native, xen = read(sys.argv[1]), read(sys.argv[2])
print(f"  {'site kind':<12} {'native':>9} {'xen':>11} {'xen/native':>11}")
for k in ["cli", "sti", "pushf", "popf", "rdtsc", "rdtscp", "cr3_write", "iretq", "syscall", "page_fault"]:
    n, x = native.get(k), xen.get(k)
    if n is None or x is None:
        print(f"  {k:<12} {'?' if n is None else n:>9} {'?' if x is None else x:>11}   (missing)")
        continue
    ratio = f"{x / n:.1f}x" if n else "-"
    print(f"  {k:<12} {n:>9} {x:>11} {ratio:>11}")
PY
