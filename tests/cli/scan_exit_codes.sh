#!/usr/bin/env bash
# afterburn scan's contract on the command line: 0 clean, 1 unexplained sites or bad records
# (naming them), 2 unusable input; --json prints the documented object.
set -u
afterburn=$1 as=$2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf '\t.text\n\tcli\n\tmov %%rax, %%cr3\n\tret\n' > "$dir/a.s"
"$as" --64 -o "$dir/a.o" "$dir/a.s" || fail "afterburn-as failed"

"$afterburn" scan "$dir/a.o" > "$dir/out" || fail "clean object: exit $?"
grep -q '^  cli  *1  *1  *0  *0$' "$dir/out" || fail "table row for cli missing: $(cat "$dir/out")"

"$afterburn" scan --json "$dir/a.o" > "$dir/json" || fail "--json exit $?"
python3 - "$dir/json" <<'PY' || fail "json shape"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("total", "annotated", "explained", "unexplained", "bad_records", "classes"):
    assert k in j, k
assert j["total"] == 2 and j["annotated"] == 2 and j["unexplained"] == 0 and j["bad_records"] == 0, j
assert j["classes"]["cli"] == {"total": 1, "annotated": 1, "explained": 0, "unexplained": 0}, j["classes"]["cli"]
assert j["classes"]["mov_to_cr"]["annotated"] == 1
PY

# Plain GNU as: unannotated sites -> exit 1, listed.
as -o "$dir/b.o" "$dir/a.s"
"$afterburn" scan "$dir/b.o" > "$dir/out"; rc=$?
[ $rc -eq 1 ] || fail "unannotated object: exit $rc, want 1"
grep -q 'no annotation record' "$dir/out" || fail "unexplained site not listed"

# Corrupt the kind byte of the first record -> exit 1 naming the record.
off=$(python3 - "$dir/a.o" <<'PY'
import sys, struct
d = open(sys.argv[1], 'rb').read()
i = d.find(b'Afterburn\0')
print(i + 12 + 8 + 4)   # name (padded to 12) + table header (8) + site field (4)
PY
)
cp "$dir/a.o" "$dir/c.o"
printf '\x03' | dd of="$dir/c.o" bs=1 seek="$off" conv=notrunc status=none
"$afterburn" scan "$dir/c.o" > "$dir/out"; rc=$?
[ $rc -eq 1 ] || fail "corrupted record: exit $rc, want 1"
grep -q 'record .note.afterburn+0x' "$dir/out" || fail "bad record not named: $(cat "$dir/out")"

# Not an ELF file, missing file, no argument -> exit 2 with a reason.
echo hello > "$dir/text"
"$afterburn" scan "$dir/text" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'not an ELF' "$dir/err" || fail "non-ELF: exit $rc: $(cat "$dir/err")"
"$afterburn" scan "$dir/missing" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] || fail "missing file: exit $rc"
"$afterburn" scan 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] || fail "no argument: exit $rc"

# Several files and directories: one line each, then the total; the worst verdict wins, and an
# unusable input does not stop the others from being scanned.
mkdir -p "$dir/tree/sub" "$dir/empty"
cp "$dir/a.o" "$dir/tree/sub/a.o"; cp "$dir/a.o" "$dir/tree/a2.o"; echo notelf > "$dir/tree/readme"
"$afterburn" scan "$dir/tree" > "$dir/out"; rc=$?
[ $rc -eq 0 ] || fail "directory of clean objects: exit $rc: $(cat "$dir/out")"
[ "$(grep -c '^  OK ' "$dir/out")" -eq 2 ] || fail "directory: want 2 OK lines: $(cat "$dir/out")"
grep -q '^total over 2 files:' "$dir/out" || fail "directory: no total: $(cat "$dir/out")"
grep -q '^  cli  *2  *2  *0  *0$' "$dir/out" || fail "directory: total cli row: $(cat "$dir/out")"
"$afterburn" scan "$dir/a.o" "$dir/b.o" > "$dir/out"; rc=$?
[ $rc -eq 1 ] || fail "clean + unannotated: exit $rc, want 1"
grep -q "^  FAILED $dir/b.o:" "$dir/out" && grep -q "^  OK     $dir/a.o:" "$dir/out" ||
    fail "per-file verdicts: $(cat "$dir/out")"
"$afterburn" scan "$dir/a.o" "$dir/missing" > "$dir/out" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^  OK     $dir/a.o:" "$dir/out" || fail "good + missing: exit $rc, $(cat "$dir/out" "$dir/err")"
"$afterburn" scan "$dir/empty" 2> "$dir/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'a directory without ELF files' "$dir/err" || fail "empty directory: exit $rc: $(cat "$dir/err")"
"$afterburn" scan --json "$dir/a.o" "$dir/tree" > "$dir/json"; rc=$?
[ $rc -eq 0 ] || fail "--json of several: exit $rc"
python3 - "$dir/json" <<'PY' || fail "json shape of several"
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["images"]) == 3, j.keys()
assert j["total"]["total"] == 6 and j["total"]["classes"]["cli"]["annotated"] == 3, j["total"]
assert all(i["image"].endswith(".o") for i in j["images"])
PY

echo "scan exit codes: ok"
