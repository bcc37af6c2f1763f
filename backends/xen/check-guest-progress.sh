#!/bin/sh
# xen.guest.progress: how far the annotated sample guest gets under the Xen wedge today
# (docs/xen-backend.md, "Milestones"). Boots xen-wedge.elf with `guest` and the guest ELF as
# the boot module and checks the milestone lines: the loader's record count equals what
# `afterburn scan` finds on the host, the PT_LOAD byte sums equal the file's, the shadow
# (real mmu_update/mmuext_op) serves the guest's boot tables and the entry window.
#
#   check-guest-progress.sh AFTERBURN RUN_UNDER_XEN_ARGS... -- WEDGE GUEST LOG
set -u
afterburn=$1; shift
run=
while [ "$1" != "--" ]; do run="$run $1"; shift; done
shift
wedge=$1 guest=$2 log=$3
here=$(cd "$(dirname "$0")" && pwd)

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
exec sh "$here/check-run.sh" --verdict 0 --log "$log" \
    --expect "^xen-wedge: guest: $tables Afterburn tables, $records records in [0-9]+ PT_NOTE segments$" \
    $expects \
    --expect "^xen-wedge: guest: boot_params at 0x[0-9a-f]+: 2 e820 entries" \
    --expect "^xen-wedge: shadow: running on shadow roots kernel mfn 0x[0-9a-f]+ user mfn 0x[0-9a-f]+" \
    --expect "^xen-wedge: shadow: guest view: entry bytes match at 0xffffffff810001a7, boot_params magic 0x53726448 at 0x7202, identity write seen at link address: yes, [1-9][0-9]* faults filled$" \
    --expect "^xen-wedge: shadow: entry window: 69 entries and slots ok, vCPU page alias ok$" \
    -- $run --log "$log" --xen-args "dom0_mem=128M,max:128M" --wedge-args guest "$wedge" "$guest" console=ttyS0
