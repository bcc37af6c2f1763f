#!/usr/bin/env bash
# bench/defconfig-coverage.sh: the coverage proof at full size (a benchmark, not a CI test: the
# build takes ~30-40 min on 2 cores).
#
# Usage: bench/defconfig-coverage.sh [-o DIR] [--jobs N] [--reuse]
#
# Builds x86_64_defconfig (SMP, modules, PARAVIRT, KVM_GUEST, ...) with the toolchain
# (`afterburn build-linux --defconfig -o DIR`, default DIR: build/defconfig), unless --reuse
# and DIR already holds a finished build. Then, class by class:
#   - `afterburn scan DIR/vmlinux --json`: 0 unexplained, 0 bad records, 0 decoder
#     disagreements, and the CPUID-gated classes it met (vmcall, vmmcall, monitorx, ...);
#   - `afterburn scan DIR/modules`: every module clean;
#   - the objdump census (tests/census) against the scan, on vmlinux and on every module.
# Prints one summary; exit 0 only when all of it holds.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${AFTERBURN_BUILD_DIR:-$REPO/build}
AFTERBURN=$BUILD_DIR/bin/afterburn
COMPARE=$REPO/tests/census/compare.py
OUT=$BUILD_DIR/defconfig JOBS=$(nproc) REUSE=0
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -o) OUT=$2; shift 2 ;;
        -j|--jobs) JOBS=$2; shift 2 ;;
        --reuse) REUSE=1; shift ;;
        *) echo "defconfig-coverage.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ -x $AFTERBURN ]] || { echo "defconfig-coverage.sh: $AFTERBURN not found: build the project first" >&2; exit 2; }
command -v python3 >/dev/null || { echo "defconfig-coverage.sh: python3 is needed (apt-get install python3)" >&2; exit 2; }

if [[ $REUSE -eq 1 && -f $OUT/vmlinux && -d $OUT/modules && -f $OUT/build-time ]]; then
    echo "== reusing the defconfig build in $OUT (built in $(cat "$OUT/build-time") s)"
else
    echo "== building x86_64_defconfig with the toolchain into $OUT (~30-40 min on 2 cores)"
    rm -rf "$OUT"
    "$AFTERBURN" build-linux --defconfig -o "$OUT" --jobs "$JOBS"
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== afterburn scan vmlinux"
t0=$(date +%s)
rc=0; "$AFTERBURN" scan --json "$OUT/vmlinux" >"$WORK/vmlinux.json" 2>"$WORK/vmlinux.err" || rc=$?
echo "   ($(( $(date +%s) - t0 )) s)"
[[ $rc -eq 0 ]] || { fail "afterburn scan vmlinux exit $rc"; head -20 "$WORK/vmlinux.err"; }
python3 - "$WORK/vmlinux.json" <<'PY' || fail "vmlinux scan summary"
import json, sys
s = json.load(open(sys.argv[1]))
print(f"   {s['total']} sensitive instructions: {s['annotated']} annotated, {s['explained']} explained, "
      f"{s['unexplained']} unexplained; {s['records']} records, {s['bad_records']} bad; "
      f"{s['decoder_disagreements']} decoder disagreements")
met = {n: s['classes'][n] for n in s['gated_classes'] if s['classes'][n]['total']}
print("   CPUID-gated classes met: " + (", ".join(f"{n} {c['total']} (explained {c['explained']})" for n, c in met.items()) or "none"))
for why, n in sorted(s['explained_reasons'].items()):
    print(f"     {n:6}  {why}")
sys.exit(0 if s['unexplained'] == 0 and s['bad_records'] == 0 and s['decoder_disagreements'] == 0 else 1)
PY

echo "== objdump census vs. scan: vmlinux"
python3 "$COMPARE" "$OUT/vmlinux" "$WORK/vmlinux.json" >"$WORK/vmlinux.census" || fail "census disagrees on vmlinux"
awk '$2 != "0" || /differing|MISMATCH/' "$WORK/vmlinux.census" | sed 's/^/   /'

echo "== afterburn scan modules"
rc=0; "$AFTERBURN" scan "$OUT/modules" >"$WORK/modules.txt" 2>&1 || rc=$?
grep -E '^  (OK|FAILED) ' "$WORK/modules.txt" | sed "s|$OUT/modules/||; s/^/ /"
[[ $rc -eq 0 ]] || { fail "afterburn scan modules exit $rc"; grep -A3 unexplained "$WORK/modules.txt" | head -20; }

echo "== objdump census vs. scan: modules"
nmod=0 nagree=0
while IFS= read -r -d '' ko; do
    nmod=$((nmod + 1))
    "$AFTERBURN" scan --json "$ko" >"$WORK/m.json" 2>/dev/null || true
    if python3 "$COMPARE" "$ko" "$WORK/m.json" >"$WORK/m.census"; then
        nagree=$((nagree + 1))
    else
        fail "census disagrees on ${ko#"$OUT"/}"; sed 's/^/   /' "$WORK/m.census"
    fi
done < <(find "$OUT/modules" -name '*.ko' -print0 | sort -z)
echo "   $nagree of $nmod modules agree class by class"

echo
if [[ $failures -eq 0 ]]; then
    echo "defconfig coverage: OK (vmlinux and $nmod modules scan clean; census agrees on all)"
else
    echo "defconfig coverage: $failures failure(s)"
    exit 1
fi
