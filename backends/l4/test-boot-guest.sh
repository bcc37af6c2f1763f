#!/bin/sh
# l4.boot.guest: `afterburn boot --on l4` with the sample guest, byte for byte the file the
# other backends boot. The L4 wedge, as Pistachio's root task, must find the guest module,
# get its RAM from sigma0, load both PT_LOADs, check and rewrite its sites with the l4 plan
# to the same bytes as `afterburn rewrite --backend l4` (the digest), relocate the image to
# its load address, and run it as an L4 thread in its own address space: its sites reach the
# wedge by IPC from the entry window, its page faults are served from its page tables or
# delivered to it, its exceptions come as exception IPC. The guest's own console (through
# the emulated UART) must show its banner and exactly the check lines of L4_TRANSCRIPT below,
# in order: its whole transcript as the L4 backend gives it (docs/l4-backend.md, "How far the
# guest gets"; the two SKIPs are CPUID's), its summary and its verdict (AFTERBURN-SUCCESS,
# exit 0). The timer checks pass only when the wedge's interrupt thread interrupts the
# spinning guest thread (asynchronous interrupts); cr4 and rdtsc only with fix 0016 (ring-3
# rdtsc reaches the wedge), user.gp only with fix 0017 (the guest thread at IOPL 0), msr.fsgs
# and swapgs only with fix 0018 (the guest thread's own FS/GS bases), user.sysret only with
# fix 0019 (ring 3's syscall reaches the wedge) in $AFTERBURN_PISTACHIO.
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
"$afterburn" boot --on l4 "$guest" --memory 64 --timeout 150 -q --log "$log" 2>"$log.stderr"; status=$?
cat "$log.stderr"
tr -d '\r' <"$log" | sed -n '/^l4-wedge:/p; /^AFTERBURN-/p; /^PASS /p; /^FAIL /p; /^SKIP /p; /^afterburn sample guest/p; /^kdb:/p'
[ $status = 0 ] || fail "exit $status, expected 0 (the guest's verdict: every check passes or is skipped)"

# The guest's check lines (status and name) on L4 today, in order.
L4_TRANSCRIPT="PASS boot.params|PASS cpuid|PASS desc.gdt|PASS desc.idt|PASS desc.tss|PASS desc.ldt|PASS seg.mov|\
PASS seg.pushpop|PASS seg.lar|PASS cr0|PASS cr2|PASS cr3|PASS cr4|PASS cr8|PASS msr.efer|\
PASS msr.syscall|PASS msr.fsgs|PASS msr.tsc|PASS swapgs|SKIP fsgsbase|PASS paging.map|\
PASS paging.invlpg|PASS paging.accessed|PASS paging.dirty|PASS paging.notpresent|\
PASS paging.protection|PASS exc.de|PASS exc.ud|PASS exc.gp|PASS exc.int3|PASS exc.intn|\
PASS exc.nested|PASS iretq|PASS if.cli_sti|PASS if.sti_shadow|PASS if.popf|PASS if.iretq|\
PASS timer.pit|PASS timer.lapic|PASS hlt|PASS user.iretq|PASS user.sysret|PASS user.gp|PASS user.pf|\
PASS user.isolation|PASS rdtsc|PASS xsave|PASS wbinvd|PASS rdpmc|SKIP monitor|"
got=$(tr -d '\r' <"$log" | grep -E '^(PASS|FAIL|SKIP) ' | sed 's/:.*//' | tr '\n' '|')
[ "$got" = "$L4_TRANSCRIPT" ] || fail "the guest's check lines are not the L4 transcript:
got:  $got
want: $L4_TRANSCRIPT"
# Every PASS line is also expected.txt's (the transcript every backend must give).
expected=$(dirname "$0")/../../samples/guest/expected.txt
for c in $(echo "$L4_TRANSCRIPT" | tr '|' '\n' | sed -n 's/^PASS //p'); do
    grep -Eq "^PASS $c( \\?)?\$" "$expected" || fail "PASS $c is not in expected.txt"
done
tr -d '\r' <"$log" | grep -Eq '^48 passed, 0 failed, 2 skipped$' || fail "no summary line '48 passed, 0 failed, 2 skipped'"
# (The wedge's counts and "verdict 0 written to port 0xf4" follow the guest's verdict line;
# the launcher may stop QEMU before they are out, so they are not required.)
tr -d "\r" <"$log.stderr" | grep -q "^afterburn boot: success: 'AFTERBURN-SUCCESS' after " ||
    fail "the run did not end on the guest's own AFTERBURN-SUCCESS"

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
                  "^l4-wedge: guest thread started at 0x7fe0[0-9a-f]+ \\(the window.s start path\\), rip 0x10001a7 rsi 0x7000|" \
                  "^l4-wedge: interrupt thread [0-9a-f]+\\.1: ticks the wedge at the emulated timers. deadlines$|" \
                  "^afterburn sample guest: .*x2APIC|" \
                  "^PASS boot.params$|" \
                  "^PASS exc.gp$|" \
                  "^PASS timer.pit$|" \
                  "^PASS user.isolation$|" \
                  "^48 passed, 0 failed, 2 skipped$|" \
                  "^AFTERBURN-SUCCESS$", want, "|")
        i = 1
    }
    i <= n && $0 ~ want[i] { i++ }
    END { if (i <= n) { print "FAIL: missing, in order: " want[i]; exit 1 } }' || exit 1

wedge=$(tr -d '\r' <"$log" | sed -n 's/^l4-wedge: guest: sites digest \(0x[0-9a-f]*\) .*/\1/p')
host=$("$afterburn" rewrite "$guest" --backend l4 -o "$logdir/guest.l4.elf" 2>&1 |
       sed -n 's/^afterburn rewrite: sites digest \(0x[0-9a-f]*\) .*/\1/p')
[ -n "$host" ] || fail "afterburn rewrite --backend l4 printed no digest"
[ "$wedge" = "$host" ] || fail "the wedge's digest $wedge is not afterburn rewrite --backend l4's $host"
echo "PASS: loaded and rewritten on L4 (digest $wedge = afterburn rewrite --backend l4's), relocated, run as an L4 thread: $(echo "$L4_TRANSCRIPT" | tr '|' '\n' | grep -c '^PASS') checks pass, the guest's whole transcript"
