#!/usr/bin/env bash
# census.selftest: run objdump-census.sh on small objects assembled from selftest64.s and
# selftest32.s and compare every class count (and every section total) with the counts
# declared in those files ("#= CLASS N", "#= section NAME TOTAL").
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
CENSUS=$HERE/objdump-census.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# declared FILE: prints "class CLASS N" and "section NAME TOTAL" lines from the declarations,
# checking that each section's declared total equals the sum of its class declarations.
declared() {
    awk '
        /^#= section / { sec = $3; sectotal[sec] = $4; order[++n] = sec; next }
        /^#= none/ { next }
        /^#= / { cls[$2] += $3; secsum[sec] += $3 }
        END {
            for (c in cls) print "class", c, cls[c]
            for (i = 1; i <= n; i++) {
                print "section", order[i], sectotal[order[i]]
                if (secsum[order[i]] != sectotal[order[i]])
                    print "inconsistent", order[i], secsum[order[i]], sectotal[order[i]]
            }
        }' "$1"
}

ALL_CLASSES=$(sed -n '/^CLASSES="/,/"$/p' "$CENSUS" | tr -d '"' | sed 's/^CLASSES=//')
NCLASSES=$(wc -w <<<"$ALL_CLASSES")
covered=" "
for half in 64 32; do
    src=$HERE/selftest$half.s obj=$TMP/selftest$half.o before=$failures
    flag=(); [[ $half == 32 ]] && flag=(--32)
    if ! as "${flag[@]}" -o "$obj" "$src" 2>"$TMP/as.err"; then
        fail "as $src: $(cat "$TMP/as.err")"; continue
    fi
    declared "$src" >"$TMP/decl"
    while read -r _ sec got want; do fail "$src: section $sec declares total $want but its classes sum to $got"; done \
        < <(grep '^inconsistent' "$TMP/decl")

    if ! "$CENSUS" "$obj" >"$TMP/out" 2>>"$TMP/census.err"; then fail "census failed on $obj"; continue; fi
    # Every class line, zero or not, must equal the declaration (absent declaration = 0).
    sum=0 nlines=0
    while read -r cls count; do
        [[ $cls == total ]] && continue
        nlines=$((nlines + 1))
        want=$(awk -v c="$cls" '$1 == "class" && $2 == c { print $3 }' "$TMP/decl")
        want=${want:-0}
        sum=$((sum + want))
        [[ $count -eq $want ]] || fail "selftest$half: $cls counted $count, declared $want"
        [[ $want -gt 0 ]] && covered+="$cls "
    done <"$TMP/out"
    [[ $nlines -eq $NCLASSES ]] || fail "selftest$half: census printed $nlines classes, want $NCLASSES"
    total=$(awk '$1 == "total" { print $2 }' "$TMP/out")
    [[ $total -eq $sum ]] || fail "selftest$half: total $total, declared $sum"
    # A declared class the census does not even print would be silently lost: catch it.
    while read -r _ cls _; do
        grep -q "^$cls " "$TMP/out" || fail "selftest$half: declared class '$cls' is not in the census output"
    done < <(grep '^class ' "$TMP/decl")

    # Per section: totals as declared, and data sections never appear.
    "$CENSUS" --by-section "$obj" >"$TMP/bysec" 2>>"$TMP/census.err" || fail "census --by-section failed on $obj"
    while read -r _ sec want; do
        got=$(awk -v s="$sec" '$1 == "section" { cur = $2 } cur == s && $1 == "total" { print $2 }' "$TMP/bysec")
        [[ ${got:-0} -eq $want ]] || fail "selftest$half: section $sec total ${got:-none}, declared $want"
    done < <(grep '^section ' "$TMP/decl")
    nsec=$(grep -c '^section ' "$TMP/bysec")
    [[ $nsec -eq $(grep -c '^section ' "$TMP/decl") ]] || fail "selftest$half: census reports $nsec sections"

    # int3 fill runs are skipped by default and counted with --all-int3.
    fill=$(grep -A4 '0xcc fill between functions' "$src" | grep -c '^ *int3$')
    all=$("$CENSUS" --all-int3 "$obj" 2>/dev/null | awk '$1 == "total" { print $2 }')
    [[ $all -eq $((total + fill)) ]] || fail "selftest$half: --all-int3 total $all, want $total + $fill fill"

    # --sites lists exactly total sites; --json carries the same numbers.
    nsites=$("$CENSUS" --sites "$obj" 2>>"$TMP/census.err" | grep -c '^site ')
    [[ $nsites -eq $total ]] || fail "selftest$half: --sites lists $nsites sites, total is $total"
    "$CENSUS" --json --by-section "$obj" >"$TMP/json" || fail "census --json failed"
    if command -v python3 >/dev/null; then
        python3 - "$TMP/json" "$TMP/out" <<'PY' || fail "selftest$half: JSON output does not match the text output"
import json, sys
doc = json.load(open(sys.argv[1]))
text = dict(line.split() for line in open(sys.argv[2]))
assert doc["total"] == int(text.pop("total")), "total"
assert {k: str(v) for k, v in doc["classes"].items()} == text, "classes"
assert sum(s["total"] for s in doc["sections"].values()) == doc["total"], "sections"
PY
    else
        grep -q "\"total\": $total}" "$TMP/json" || grep -q "\"total\": $total," "$TMP/json" ||
            fail "selftest$half: JSON lacks total $total"
    fi
    [[ $failures -eq $before ]] && echo "ok: selftest$half: $total sites in $nsec section(s), all $NCLASSES classes as declared"
done

# Between the two objects, every class must have been exercised at least once.
for cls in $ALL_CLASSES; do
    [[ $covered == *" $cls "* ]] || fail "class $cls is not exercised by the selftest sources"
done

# Bad input is refused with exit status 2.
echo "not an elf" >"$TMP/text"
"$CENSUS" "$TMP/text" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "non-ELF input not rejected with status 2"
"$CENSUS" "$TMP/missing" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "missing input not rejected with status 2"

[[ $failures -eq 0 ]] && echo "census selftest passed" || { echo "$failures failure(s)"; exit 1; }
