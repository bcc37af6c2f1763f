#!/bin/sh
# xen.guest.progress: the annotated sample guest under the Xen wedge (docs/xen-backend.md).
# Boots it with `afterburn boot --on xen` (xen-wedge.elf as dom0, the guest ELF its boot module;
# --memory 64 gives dom0 128 MiB) and checks the wedge's
# lines: the loader's record count equals what `afterburn scan` finds on the host, the PT_LOAD
# byte sums equal the file's, the shadow (real mmu_update/mmuext_op) serves the guest's boot
# tables and the entry window, every site is rewritten, no fallback was needed; then the
# guest's own check lines: they must be, in order, the lines of samples/guest/expected.txt
# (PASS, or SKIP where it allows), at least MIN_PASS of them, and the run must end with the
# guest's verdict (STOP, VERDICT). A FAIL line, a line out of order, fewer lines or another
# way of stopping fails the test.
#
#   check-guest-progress.sh AFTERBURN AFTERBURN_BOOT_ARGS... -- GUEST LOG
set -u
afterburn=$1; shift
run=
while [ "$1" != "--" ]; do run="$run $1"; shift; done
shift
guest=$1 log=$2
here=$(cd "$(dirname "$0")" && pwd)
expected=$here/../../samples/guest/expected.txt
MIN_PASS=50
STOP='^xen-wedge: guest: verdict 0 written to port 0xf4 after [0-9]+ console lines$'
VERDICT=0

counts=$("$afterburn" scan "$guest" | sed -n 's/^ *\([0-9]*\) annotation tables, \([0-9]*\) records.*/\1 \2/p')
[ -n "$counts" ] || { echo "check-guest-progress.sh: afterburn scan gave no record count" >&2; exit 2; }
set -- $counts
tables=$1 records=$2
# Byte sums of the two PT_LOADs' file contents, computed on the host.
sums=$(readelf -lW "$guest" | awk '$1 == "LOAD" { print $2, $5 }' | while read off size; do
    dd if="$guest" bs=1 skip=$((off)) count=$((size)) 2>/dev/null | od -An -tu1 -v |
        awk '{ for (i = 1; i <= NF; i++) s += $i } END { printf "%08x\n", s % 4294967296 }'
done)
expects=
for s in $sums; do expects="$expects --expect ^xen-wedge:.guest:.PT_LOAD.*byte.sum.0x$s\$"; done

# shellcheck disable=SC2086
sh "$here/check-run.sh" --verdict $VERDICT --log "$log" \
    --expect "^xen-wedge: guest: $tables Afterburn tables, $records records in [0-9]+ PT_NOTE segments$" \
    $expects \
    --expect "^xen-wedge: guest: boot_params at 0x[0-9a-f]+: 3 e820 entries \\[0x0-0xa0000\\) RAM \\[0xa0000-0x100000\\) reserved \\[0x100000-0x[0-9a-f]+\\) RAM," \
    --expect "^xen-wedge: shadow: running on shadow roots kernel mfn 0x[0-9a-f]+ user mfn 0x[0-9a-f]+" \
    --expect "^xen-wedge: shadow: guest view: entry bytes match at 0xffffffff810001a7, boot_params magic 0x53726448 at 0x7202, identity write seen at link address: yes, [1-9][0-9]* faults filled$" \
    --expect "^xen-wedge: shadow: entry window: 71 entries and slots ok, vCPU page alias ok$" \
    --expect "^xen-wedge: guest: [0-9]+ sites: rewrote [0-9]+ \([0-9]+ cli as inline stores\), [0-9]+ int n left to trap, [0-9]+ left in ring-3 code \([0-9]+ of them trap with int3\), 0 outside the image, 0 could not be rewritten$" \
    --expect "^xen-wedge: guest: entering at 0xffffffff810001a7 \(boot_params 0x7000\), virtual IF 0$" \
    --expect "^afterburn sample guest: " \
    --expect "^xen-wedge: guest: [0-9]+ site entries, [0-9]+ exceptions delivered, [1-9][0-9]* returns to user mode, [1-9][0-9]* timer upcalls" \
    --expect "^xen-wedge: guest: site entries by kind: .*lgdt [1-9]" \
    --expect "^xen-wedge: guest: fallback 0 \(" \
    --expect "$STOP" \
    -- $run --on xen --log "$log" --memory 64 "$guest"
status=$?
[ $status = 0 ] || exit $status

# The guest's check lines against the head of expected.txt.
tr -d '\r' <"$log" | sed 's/^\[ *[0-9.]*\] //' | grep -E '^(PASS|FAIL|SKIP) ' >"$log.checks"
grep -v '^#' "$expected" | grep -v '^$' >"$log.expected"
awk -v min="$MIN_PASS" '
    NR == FNR { want[NR] = $2; optional[NR] = ($3 == "?"); n = NR; next }
    {
        i++
        if (i > n) { printf "FAIL: extra check line: %s\n", $0; bad = 1; exit }
        name = $2; sub(/:$/, "", name)
        if (name != want[i]) { printf "FAIL: line %d is \"%s\", expected check %s\n", i, $0, want[i]; bad = 1; exit }
        if ($1 == "FAIL" || ($1 == "SKIP" && !optional[i])) { printf "FAIL: %s\n", $0; bad = 1; exit }
        printf "ok: %s\n", $0
    }
    END {
        if (bad) exit 1
        if (i < n) printf "first check not reached: %s (%d of %d checks ran)\n", want[i + 1], i, n
        if (i < min) { printf "FAIL: only %d check lines, expected at least %d\n", i, min; exit 1 }
        printf "PASS: %d check lines match the head of expected.txt\n", i
    }' "$log.expected" "$log.checks"
