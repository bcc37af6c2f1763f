#!/bin/sh
# l4.boot.guest: `afterburn boot --on l4` with the sample guest, byte for byte the file the
# other backends boot. The L4 wedge, as Pistachio's root task, must find the guest module,
# get its RAM from sigma0, load both PT_LOADs, check and rewrite its sites with the l4 plan
# to the same bytes as `afterburn rewrite --backend l4` (the digest), relocate the image to
# its load address, and run it as an L4 thread in its own address space: its sites reach the
# wedge by IPC from the entry window, its page faults are served from its page tables. The
# guest's own console output (through the emulated UART) must show its banner and its checks
# passing, in the order of expected.txt, up to the furthest point the backend reaches today
# (FURTHEST below); no check may fail. The run then ends on the wedge's failure line for the
# first thing it cannot handle yet (exit 1).
# Skipped (77) without $AFTERBURN_PISTACHIO.
#   test-boot-guest.sh AFTERBURN GUEST LOGDIR
set -u
afterburn=$1 guest=$2 logdir=$3
if [ -z "${AFTERBURN_PISTACHIO:-}" ]; then
    echo "SKIP: AFTERBURN_PISTACHIO is not set: it must name the OUT of backends/l4/build-pistachio.sh (docs/l4-backend.md)"
    exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$logdir"
log=$logdir/guest.log
"$afterburn" boot --on l4 "$guest" --memory 64 --timeout 120 -q --log "$log" 2>"$log.stderr"; status=$?
cat "$log.stderr"
tr -d '\r' <"$log" | sed -n '/^l4-wedge:/p; /^AFTERBURN-/p; /^PASS /p; /^FAIL /p; /^SKIP /p; /^afterburn sample guest/p'
[ $status = 1 ] || fail "exit $status, expected 1 (the wedge cannot run the whole guest yet)"
tr -d "\r" <"$log.stderr" | grep -q "^afterburn boot: FAILED: guest reported failure after .*: AFTERBURN-FAILURE: l4-wedge: " ||
    fail "the run did not end on a failure line of the wedge"
if tr -d '\r' <"$log" | grep -q '^FAIL '; then fail "a check of the guest failed on L4"; fi

# The guest's check lines, in expected.txt's order, up to and including FURTHEST.
FURTHEST="PASS seg.lar"
expected=$(dirname "$0")/../../samples/guest/expected.txt
want=$(sed -n "1,/^$FURTHEST\$/p" "$expected" | grep -E '^(PASS|SKIP) ')
echo "$want" | grep -q "^$FURTHEST\$" || fail "expected.txt has no line '$FURTHEST'"
got=$(tr -d '\r' <"$log" | grep -E '^(PASS|SKIP) ' | head -n "$(echo "$want" | wc -l)")
[ "$got" = "$want" ] || fail "the guest's check lines are not expected.txt's up to '$FURTHEST': got
$got"

# Each of these, in this order.
tr -d '\r' <"$log" | awk '
    BEGIN {
        n = split("^l4-wedge: root task thread [0-9a-f]+\\.[0-9a-f]+, KIP at 0x[0-9a-f]+ \\(magic L4,|" \
                  "^l4-wedge: guest module \"[^\"]*\": [0-9]+ bytes at 0x[0-9a-f]+$|" \
                  "^l4-wedge: guest RAM: 64 MiB at 0x100000000, sigma0|" \
                  "^l4-wedge: guest: PT_LOAD vaddr 0xffffffff81000000 paddr 0x1000000 |" \
                  "^l4-wedge: guest: PT_LOAD vaddr 0xffffffff810[0-9a-f]+ paddr 0x10[0-9a-f]+ |" \
                  "^l4-wedge: guest: [0-9]+ sites: rewrote [1-9][0-9]* .* 0 could not be rewritten$|" \
                  "^l4-wedge: guest: rewritten by kind: cli [0-9]+ sti [0-9]+ |" \
                  "^l4-wedge: guest: sites digest 0x[0-9a-f]+ |" \
                  "^l4-wedge: guest loaded and rewritten$|" \
                  "^l4-wedge: guest: relocated to its load address 0x1000000 \\(-0xffffffff80000000\\): [1-9][0-9]* absolute 64-bit and [1-9][0-9]* 32-bit references moved|" \
                  "^l4-wedge: guest thread [0-9a-f]+\\.1 in its own address space \\(KIP at 0x[0-9a-f]+, UTCB at 0x[0-9a-f]+\\), pager the wedge$|" \
                  "^l4-wedge: guest thread started at 0x7fe0[0-9a-f]+ \\(the window.s restore path\\), rip 0x10001a7 rsi 0x7000|" \
                  "^afterburn sample guest: .*x2APIC|" \
                  "^PASS boot.params$|" \
                  "^l4-wedge: guest: [1-9][0-9]* sites emulated, [1-9][0-9]* page faults served|" \
                  "^AFTERBURN-FAILURE: l4-wedge: ", want, "|")
        i = 1
    }
    i <= n && $0 ~ want[i] { i++ }
    END { if (i <= n) { print "FAIL: missing, in order: " want[i]; exit 1 } }' || exit 1

wedge=$(tr -d '\r' <"$log" | sed -n 's/^l4-wedge: guest: sites digest \(0x[0-9a-f]*\) .*/\1/p')
host=$("$afterburn" rewrite "$guest" --backend l4 -o "$logdir/guest.l4.elf" 2>&1 |
       sed -n 's/^afterburn rewrite: sites digest \(0x[0-9a-f]*\) .*/\1/p')
[ -n "$host" ] || fail "afterburn rewrite --backend l4 printed no digest"
[ "$wedge" = "$host" ] || fail "the wedge's digest $wedge is not afterburn rewrite --backend l4's $host"
echo "PASS: loaded and rewritten on L4 (digest $wedge = afterburn rewrite --backend l4's), relocated, run as an L4 thread up to '$FURTHEST': $(tr -d '\r' <"$log" | sed -n 's/^l4-wedge: guest: \([0-9]* sites emulated, [0-9]* page faults served\).*/\1/p')"
