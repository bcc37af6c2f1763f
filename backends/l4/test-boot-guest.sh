#!/bin/sh
# l4.boot.guest: `afterburn boot --on l4` with the sample guest, byte for byte the file the
# other backends boot. The L4 wedge, as Pistachio's root task, must find the guest module,
# get its RAM from sigma0, load both PT_LOADs, check and rewrite its sites with the l4 plan
# to the same bytes as `afterburn rewrite --backend l4` (the digest), start the guest as an
# L4 thread at its entry and receive its first fault: the write of its first instruction (a
# cli rewritten into a store to the vCPU page, 0xffffffffffe20000, the entry window) arrives
# as a page-fault IPC. Then it says that it cannot run the guest further: a failure verdict
# (exit 1), by that line and no other.
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
tr -d '\r' <"$log" | sed -n '/^l4-wedge:/p; /^AFTERBURN-/p'
[ $status = 1 ] || fail "exit $status, expected 1 (the wedge cannot run the guest yet)"
tr -d "\r" <"$log.stderr" | grep -q "^afterburn boot: FAILED: guest reported failure after .*: AFTERBURN-FAILURE: l4-wedge: the L4 backend cannot run the guest yet$" ||
    fail "the run did not end on the wedge's 'cannot run the guest yet' line"

# Each of these, in this order.
tr -d '\r' <"$log" | awk '
    BEGIN {
        n = split("^l4-wedge: root task thread [0-9a-f]+\\.[0-9a-f]+, KIP at 0x[0-9a-f]+ \\(magic L4,|" \
                  "^l4-wedge: guest module \"[^\"]*\": [0-9]+ bytes at 0x[0-9a-f]+$|" \
                  "^l4-wedge: guest RAM: 64 MiB at 0x100000000, sigma0|" \
                  "^l4-wedge: guest: PT_LOAD vaddr 0xffffffff81000000 paddr 0x1000000 |" \
                  "^l4-wedge: guest: PT_LOAD vaddr 0xffffffff8100e000 paddr 0x100e000 |" \
                  "^l4-wedge: guest: [0-9]+ sites: rewrote [1-9][0-9]* .* 0 could not be rewritten$|" \
                  "^l4-wedge: guest: rewritten by kind: cli [0-9]+ sti [0-9]+ |" \
                  "^l4-wedge: guest: sites digest 0x[0-9a-f]+ |" \
                  "^l4-wedge: guest loaded and rewritten$|" \
                  "^l4-wedge: guest thread [0-9a-f]+\\.1 \\(UTCB at 0x[0-9a-f]+\\) starts at 0x1010001a7 \\(guest-physical 0x10001a7\\), user level, pager the wedge$|" \
                  "^l4-wedge: guest thread: first IPC: page fault \\(label 0xffffffffffe2\\), MR1 0xffffffffffe20000 MR2 0x1010001a7: write at 0xffffffffffe20000 from guest-physical rip 0x10001a7$|" \
                  "^l4-wedge: running the guest further is not implemented yet|" \
                  "^AFTERBURN-FAILURE: l4-wedge: the L4 backend cannot run the guest yet$", want, "|")
        i = 1
    }
    i <= n && $0 ~ want[i] { i++ }
    END { if (i <= n) { print "FAIL: missing, in order: " want[i]; exit 1 } }' || exit 1

wedge=$(tr -d '\r' <"$log" | sed -n 's/^l4-wedge: guest: sites digest \(0x[0-9a-f]*\) .*/\1/p')
host=$("$afterburn" rewrite "$guest" --backend l4 -o "$logdir/guest.l4.elf" 2>&1 |
       sed -n 's/^afterburn rewrite: sites digest \(0x[0-9a-f]*\) .*/\1/p')
[ -n "$host" ] || fail "afterburn rewrite --backend l4 printed no digest"
[ "$wedge" = "$host" ] || fail "the wedge's digest $wedge is not afterburn rewrite --backend l4's $host"
echo "PASS: loaded and rewritten on L4 (digest $wedge = afterburn rewrite --backend l4's), first instruction run as an L4 thread, its fault received as IPC"
