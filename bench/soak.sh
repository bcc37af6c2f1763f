#!/usr/bin/env bash
# bench/soak.sh: boot one guest N times in a row on one backend and count the runs that fail.
# A hypervisor that fails one boot in twenty shows it here, not in a single test run.
#
# Usage: bench/soak.sh [-n N] [--on native|xen|kvm] [--expected FILE] [--keep DIR]
#                      [GUEST] [-- AFTERBURN-BOOT-ARGS...]
#   -n N             runs (default 100)
#   --on BACKEND     afterburn boot's backend (default native)
#   --expected FILE  also compare each console with this transcript: the sample guest's
#                    (compare-transcript.sh; default samples/guest/expected.txt when GUEST is
#                    the sample guest) or a Linux workload's, e.g. linux-e2e/workload-native.txt
#                    (tests/linux/compare-workload.sh: the lines must equal, timing aside)
#   --keep DIR       where each run's console and status go (default a new directory under
#                    ${TMPDIR:-/tmp}); kept at the end, its path is printed
#   GUEST            default build/samples/guest/guest.elf
# Runs are sequential (one QEMU at a time). A run passes when `afterburn boot` exits 0 and,
# with a transcript, the console matches it. For every failed run it prints the first FAIL
# line, else afterburn boot's reason and the last console lines (a crash or a verdict).
# Progress: one line per run. Exit status: 0 when every run passed, 1 when one failed, 2 on
# bad usage, 4 when the backend is not available here (the first run said so).
# Set AFTERBURN_BUILD_DIR if the build directory is not <repo>/build.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${AFTERBURN_BUILD_DIR:-$REPO/build}
AFTERBURN=$BUILD/bin/afterburn
COMPARE=$REPO/samples/guest/compare-transcript.sh

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "soak.sh: $*" >&2; exit 2; }

runs=100 backend=native expected= keep= guest= expected_set=0
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    -n) [ $# -ge 2 ] || die "-n needs a number"; runs=$2; shift 2 ;;
    --on) [ $# -ge 2 ] || die "--on needs a backend"; backend=$2; shift 2 ;;
    --expected) [ $# -ge 2 ] || die "--expected needs a file"; expected=$2; expected_set=1; shift 2 ;;
    --keep) [ $# -ge 2 ] || die "--keep needs a directory"; keep=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; extra=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$guest" ] || die "more than one guest: $guest and $1"; guest=$1; shift ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number, got '$runs'"
case $backend in native|xen|kvm) ;; *) die "--on wants native, xen or kvm, got '$backend'" ;; esac
sample=$BUILD/samples/guest/guest.elf
guest=${guest:-$sample}
[ -f "$guest" ] || die "no guest image $guest (build the project first)"
[ -x "$AFTERBURN" ] || die "no $AFTERBURN (build the project first)"
if [ $expected_set = 0 ] && [ "$(readlink -f "$guest")" = "$(readlink -f "$sample")" ]; then
    expected=$REPO/samples/guest/expected.txt
fi
[ -z "$expected" ] || [ -f "$expected" ] || die "no transcript $expected"
if [ -n "$expected" ] && grep -q '^AFTERBURN-WL: begin' "$expected"; then
    COMPARE=$REPO/tests/linux/compare-workload.sh
fi
if [ -z "$keep" ]; then
    keep=$(mktemp -d "${TMPDIR:-/tmp}/soak-$backend.XXXXXX")
else
    mkdir -p "$keep"
fi

echo "soak.sh: $runs runs of afterburn boot --on $backend $guest ${extra[*]:-}" \
     "${expected:+(transcript $expected)}; consoles in $keep"
passes=0 failures=0 total_s=0
summary=$keep/failures.txt
: >"$summary"
for ((i = 1; i <= runs; i++)); do
    log=$keep/run-$i.log err=$keep/run-$i.err
    start=$EPOCHREALTIME
    rc=0
    "$AFTERBURN" boot --on "$backend" "$guest" --quiet --log "$log" "${extra[@]}" >/dev/null 2>"$err" || rc=$?
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    total_s=$(awk -v a="$total_s" -v b="$secs" 'BEGIN { print a + b }')
    if [ $rc = 4 ]; then
        echo "soak.sh: backend $backend is not available here:" >&2
        cat "$err" >&2
        exit 4
    fi
    touch "$log"
    why=
    if [ $rc != 0 ]; then
        why="afterburn boot exit $rc"
    elif [ -n "$expected" ] && ! "$COMPARE" "$expected" "$log" >"$keep/run-$i.compare" 2>&1; then
        why="transcript mismatch"
    fi
    if [ -z "$why" ]; then
        passes=$((passes + 1))
        echo "[$i/$runs] pass  ${secs}s  (passes $passes, failures $failures)"
        continue
    fi
    failures=$((failures + 1))
    echo "[$i/$runs] FAIL  ${secs}s  (passes $passes, failures $failures): $why"
    {
        echo "run $i: $why (console $log)"
        first_fail=$(tr -d '\r' <"$log" | grep -m1 '^FAIL ' || true)
        if [ -n "$first_fail" ]; then
            echo "  $first_fail"
        else
            # No check failed: a crash, a verdict or a hang. Say what afterburn boot said and
            # how the console ended.
            # An empty console (the boot never started) must not end the soak.
            sed 's/^/  boot: /' "$err" | head -5
            { tr -d '\r' <"$log" | grep -v '^[[:space:]]*$' || true; } | tail -8 | sed 's/^/  console: /'
        fi
    } | tee -a "$summary"
done
mean=$(awk -v t="$total_s" -v n="$runs" 'BEGIN { printf "%.1f", t / n }')
echo "soak.sh: backend $backend: $runs runs, $passes passed, $failures failed (mean ${mean}s per run)"
[ $failures = 0 ] || { echo "soak.sh: failures (also in $summary):"; cat "$summary"; }
[ $failures = 0 ]
