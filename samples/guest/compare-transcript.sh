#!/bin/sh
# compare-transcript.sh EXPECTED LOG [CHECK...]: does the console LOG show the sample guest's
# check transcript? Every check line of EXPECTED ("PASS name", "PASS name ?" when a SKIP is
# allowed) must appear as a PASS (or allowed SKIP) line in LOG, in order, with nothing extra,
# plus AFTERBURN-SUCCESS. Each CHECK named after LOG may also SKIP in this run (a platform
# whose test says why). Lines may carry a leading host timestamp ("12.345 ") and CRs.
# Prints what differs; exit status 0 when the transcript matches. Used by every backend's test.
set -u
expected=$1 log=$2
shift 2
also_optional=" $* "
status=0
sed 's/\r//g; s/^[0-9][0-9.]* //' "$log" >"$log.clean"
grep -qx AFTERBURN-SUCCESS "$log.clean" || { echo "no AFTERBURN-SUCCESS on the console"; status=1; }
awk -v also="$also_optional" '
    NR == FNR { if ($0 ~ /^#/ || NF == 0) next; n++; want[n] = $2; opt[n] = ($3 == "?" || index(also, " " $2 " ")); next }
    /^(PASS|FAIL|SKIP) / { m++; v[m] = $1; name = $2; sub(/:$/, "", name); got[m] = name; line[m] = $0 }
    END {
        bad = 0; last = n > m ? n : m
        for (i = 1; i <= last; i++) {
            if (i > n) { print "unexpected check line: " line[i]; bad++; continue }
            if (i > m) { print "missing: PASS " want[i]; bad++; continue }
            if (got[i] != want[i] || !(v[i] == "PASS" || (opt[i] && v[i] == "SKIP"))) {
                print "check " i ": want PASS " want[i] (opt[i] ? " (or SKIP)" : "") ", got: " line[i]; bad++
            }
        }
        if (bad) print bad " mismatch(es) against expected.txt"; else print "transcript matches expected.txt (" n " checks)"
        exit bad > 0
    }' "$expected" "$log.clean" || status=1
rm -f "$log.clean"
exit $status
