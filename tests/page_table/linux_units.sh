#!/usr/bin/env bash
# The cross-check on every C object of Linux's mm/ and arch/x86/mm/ in a built Linux object tree
# (linux.e2e's, or $AFTERBURN_LINUX_OBJ), recompiled with the flags Kbuild recorded, and on the
# other units of the sample configuration whose source names an entry type (early page tables,
# the decompressor's identity map, text poking, /proc/PID/smaps), where built.
# usage: linux_units.sh AFTERBURN_CC AFTERBURN TYPES.conf OBJDIR
# Exit 77 (ctest: skipped, with the reason printed) when no built tree is there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cc=$1 scan=$2 types=$3 obj=${AFTERBURN_LINUX_OBJ:-$4}
if [[ ! -f $obj/vmlinux && ! -f $obj/mm/memory.o ]]; then
    echo "SKIP: no built Linux object tree at $obj (run linux.e2e first, or set AFTERBURN_LINUX_OBJ)"
    exit 77
fi
units=()
others=(arch/x86/kernel/head64.o arch/x86/kernel/alternative.o arch/x86/realmode/init.o
        arch/x86/boot/compressed/ident_map_64.o arch/x86/boot/compressed/pgtable_64.o
        kernel/events/core.o fs/proc/task_mmu.o)
for o in "$obj"/mm/*.o "$obj"/arch/x86/mm/*.o "${others[@]/#/$obj/}"; do
    [[ -f $o ]] || continue
    rel=${o#"$obj"/}
    [[ -f $obj/$(dirname "$rel")/.$(basename "$rel").cmd ]] || continue
    grep -qE "^cmd_$rel := .* -c -o $rel [^ ]+\.c( |$)" "$obj/$(dirname "$rel")/.$(basename "$rel").cmd" || continue  # built from C
    units+=("$rel")
done
[[ ${#units[@]} -gt 0 ]] || { echo "FAIL: no C objects under $obj/mm and $obj/arch/x86/mm"; exit 1; }
exec "$here/crosscheck.sh" --cc "$cc" --scan "$scan" --types "$types" --linux "$obj" "${units[@]}"
