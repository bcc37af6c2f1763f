#!/usr/bin/env bash
# census.scan_agrees: the CPUID-gated block of selftest64.s, with a few ordinary sensitive
# instructions, assembled by afterburn-as: `afterburn scan` and the objdump census must agree
# class by class (compare.py), every gated class must be explained, none annotated, and the
# wedge's decoder must agree with LLVM on each of them.
# Usage: scan-agrees.sh AFTERBURN_AS AFTERBURN
set -euo pipefail
AS=$1 AFTERBURN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
{
    echo "    .text"
    echo "    cli"
    echo "    outb %al, \$0x80"
    echo "    cpuid"
    # LLVM 14 cannot assemble rdpru (afterburn-as refuses it by name): its bytes instead.
    sed -n '/^# The CPUID-gated classes/,/^#= none/p' "$HERE/selftest64.s" | grep -v '^#' |
        sed 's/^    rdpru$/    .byte 0x0f, 0x01, 0xfd/'
} >"$TMP/gated.s"
[[ $(grep -c . "$TMP/gated.s") -gt 60 ]] || { echo "FAIL: the gated block of selftest64.s was not found"; exit 1; }
"$AS" --64 -o "$TMP/gated.o" "$TMP/gated.s"
rc=0
"$AFTERBURN" scan --json "$TMP/gated.o" >"$TMP/scan.json" || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: afterburn scan exit $rc"; "$AFTERBURN" scan "$TMP/gated.o" | tail -20; exit 1; }
python3 "$HERE/compare.py" "$TMP/gated.o" "$TMP/scan.json"
python3 - "$TMP/scan.json" <<'PY'
import json, sys
scan = json.load(open(sys.argv[1]))
bad = 0
for name in scan["gated_classes"]:
    c = scan["classes"][name]
    if c["total"] == 0 or c["explained"] != c["total"] or c["annotated"]:
        print(f"FAIL: gated class {name}: {c}")
        bad += 1
    elif not any(r.startswith(name + ": ") and "(checked)" in r for r in scan["explained_reasons"]):
        print(f"FAIL: gated class {name} has no checked reason")
        bad += 1
if scan["decoder_disagreements"]:
    print(f"FAIL: {scan['decoder_disagreements']} decoder disagreements")
    bad += 1
for name in ("cli", "out", "cpuid"):
    if scan["classes"][name]["annotated"] != 1:
        print(f"FAIL: {name} not annotated: {scan['classes'][name]}")
        bad += 1
print(f"ok: {len(scan['gated_classes'])} gated classes explained, sensitive sites annotated" if not bad else f"{bad} failure(s)")
sys.exit(1 if bad else 0)
PY
