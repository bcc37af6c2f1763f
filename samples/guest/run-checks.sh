#!/bin/sh
# Boot the sample guest once and compare its check lines with expected.txt.
#   run-checks.sh --expected FILE --log FILE [--qemu CPU [--append ARGS]] -- COMMAND...
# With --qemu, COMMAND is the guest image and QEMU (TCG) is run directly with that CPU
# model; otherwise COMMAND is run as given (e.g. `afterburn boot ... --log FILE`) and is
# expected to exit 0 on success and to write the full console to the --log file.
set -u
expected= log= cpu= append=
while [ $# -gt 0 ]; do
    case $1 in
    --expected) expected=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --qemu) cpu=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "run-checks.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$expected" ] && [ -n "$log" ] && [ $# -gt 0 ] || { echo "usage: run-checks.sh --expected FILE --log FILE [--qemu CPU] -- COMMAND..." >&2; exit 2; }
rm -f "$log"
start=$(date +%s.%N)
if [ -n "$cpu" ]; then
    timeout 60 qemu-system-x86_64 -accel tcg -cpu "$cpu" -m 256 -display none -no-reboot \
        -serial stdio -monitor none -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel "$1" -append "$append" </dev/null >"$log" 2>&1
    rc=$?
    # isa-debug-exit: guest writes 0 -> QEMU exits (0 << 1) | 1 = 1
    [ $rc -eq 1 ] && rc=0
else
    if [ ! -x "$1" ]; then echo "run-checks.sh: $1 not built yet" >&2; exit 1; fi
    "$@" </dev/null
    rc=$?
fi
end=$(date +%s.%N)
echo "boot took $(awk "BEGIN { printf \"%.2f\", $end - $start }") s, exit status $rc"
# afterburn boot's status 4: the backend cannot run on this machine (it said why): skipped.
[ "${SKIP_STATUS:-}" = "$rc" ] && { echo "SKIP: backend not available"; exit 77; }
if [ ! -f "$log" ]; then echo "no console log at $log" >&2; exit 1; fi
grep -E '^(FAIL|SKIP) ' "$log" | tr -d '\r'
tr -d '\r' <"$log" | grep -E '^[0-9]+ passed'
status=0
[ $rc -eq 0 ] || { echo "guest run failed (exit status $rc)"; status=1; }
sh "$(dirname "$0")/compare-transcript.sh" "$expected" "$log" || status=1
exit $status
