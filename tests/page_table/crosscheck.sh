#!/usr/bin/env bash
# Cross-checks the compiler pass on C units: each unit is compiled by afterburn-cc (the plugin
# marks page-table accesses) with -fverbose-asm, -fdump-tree-optimized and -g, and
# crosscheck.py decides independently, from GCC's printed operand expressions, the tree dump's
# declarations and the DWARF types of globals, which instructions access an entry. The
# assembly is then assembled through afterburn-as and `afterburn scan --json` must count as
# many page_table_store/page_table_load records as there are marks, with 0 bad records and 0
# unexplained sites.
#
# usage: crosscheck.sh --cc AFTERBURN_CC --scan AFTERBURN --types CONF [--drop N] [--work DIR]
#                      (--file UNIT.c [CFLAGS...] | --linux OBJDIR UNIT.o...)
#   --file   a C file compiled with -O2 and CFLAGS
#   --linux  units of a configured, built Linux object tree, compiled with the flags Kbuild
#            recorded for them (OBJDIR/DIR/.UNIT.o.cmd); OBJDIR is only read
#   --drop N the plugin leaves its N-th access of each unit unmarked: the check must then fail
# Exit: 0 all agree, 1 a disagreement or a scan failure, 2 bad usage or a unit that does not build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "crosscheck.sh: error: $*" >&2; exit 2; }

cc="" scan="" types="" drop="" work="" mode="" objdir=""
units=() cflags=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --cc) cc=$2; shift 2 ;;
        --scan) scan=$2; shift 2 ;;
        --types) types=$2; shift 2 ;;
        --drop) drop=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --file) mode=file; units=("$2"); shift 2; cflags=("$@"); set --; ;;
        --linux) mode=linux; objdir=$2; shift 2; units=("$@"); set --; ;;
        *) die "unknown argument '$1'" ;;
    esac
done
[[ -x $cc ]] || die "--cc: not an executable: '$cc'"
[[ -x $scan ]] || die "--scan: not an executable: '$scan'"
[[ -f $types ]] || die "--types: no such file: '$types'"
types=$(realpath "$types")
[[ -n $mode && ${#units[@]} -gt 0 ]] || die "give --file UNIT.c or --linux OBJDIR UNIT.o..."
[[ -z $drop || $drop =~ ^[1-9][0-9]*$ ]] || die "--drop wants a positive number, got '$drop'"
command -v python3 >/dev/null || die "python3 is needed"
command -v readelf >/dev/null || die "readelf is needed"

if [[ -z $work ]]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
export AFTERBURN_PAGE_TABLE_TYPES=$types
extra=(-g -fverbose-asm)
[[ -n $drop ]] && extra+=("-fplugin-arg-afterburn_pt-drop=$drop")

# The compile command Kbuild ran for OBJDIR/UNIT.o, as an array, without its dependency
# output, its -c -o and its object tool step.
kbuild_command() {
    local unit=$1 cmdfile
    cmdfile=$objdir/$(dirname "$unit")/.$(basename "$unit").cmd
    [[ -f $cmdfile ]] || die "$cmdfile not found (is $unit built in $objdir?)"
    local line
    line=$(grep -m1 "^cmd_$unit := " "$cmdfile") || die "$cmdfile has no cmd_$unit line"
    line=${line#"cmd_$unit := "}
    line=${line%%;*}
    eval "kcmd=($line)"
    local out=() skip=0 w
    for w in "${kcmd[@]:1}"; do
        if [[ $skip -eq 1 ]]; then skip=0; continue; fi
        case $w in
            -Wp,-MMD,*|-Wp,-MD,*) ;;
            -o) skip=1 ;;
            -c) ;;
            *) out+=("$w") ;;
        esac
    done
    kcmd=("${out[@]}")
}

status=0
total_store=0 total_load=0
for unit in "${units[@]}"; do
    name=$(echo "$unit" | tr '/' '_'); name=${name%.*}
    s=$work/$name.s; dump=$work/$name.optimized; obj=$work/$name.o; err=$work/$name.err
    if [[ $mode == file ]]; then
        [[ -f $unit ]] || die "no such file: $unit"
        "$cc" -O2 "${cflags[@]}" "${extra[@]}" -S "-fdump-tree-optimized=$dump" "$unit" -o "$s" 2>"$err" ||
            { cat "$err" >&2; die "$unit does not compile"; }
        "$cc" -O2 "${cflags[@]}" -g -c "$s" -o "$obj" 2>>"$err" || { cat "$err" >&2; die "$unit: $s does not assemble"; }
    else
        kbuild_command "$unit"
        (cd "$objdir" && "$cc" "${kcmd[@]}" "${extra[@]}" -S "-fdump-tree-optimized=$dump" -o "$s") 2>"$err" ||
            { cat "$err" >&2; die "$unit does not compile"; }
        "$cc" -c "$s" -o "$obj" 2>>"$err" ||
            { cat "$err" >&2; die "$unit: $s does not assemble"; }
    fi
    set +e
    python3 "$here/crosscheck.py" "$types" "$s" "$dump" "$obj" "$err"
    rc=$?
    set -e
    [[ $rc -le 1 ]] || die "crosscheck.py failed on $unit"
    [[ $rc -eq 0 ]] || status=1
    stores=$(grep -c '^[[:space:]]*#afterburn_page_table store' "$s" || true)
    loads=$(grep -c '^[[:space:]]*#afterburn_page_table load' "$s" || true)
    json=$("$scan" scan --json "$obj") || { echo "crosscheck.sh: $unit: afterburn scan fails" >&2; status=1; continue; }
    read -r got_store got_load bad unexplained < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
c = r["classes"]
print(c["page_table_store"]["annotated"], c["page_table_load"]["annotated"], r["bad_records"], r["unexplained"])' "$json")
    echo "crosscheck.sh: $unit: marks store=$stores load=$loads; scan page_table_store=$got_store" \
         "page_table_load=$got_load bad_records=$bad unexplained=$unexplained"
    if [[ $got_store != "$stores" || $got_load != "$loads" || $bad != 0 || $unexplained != 0 ]]; then
        echo "crosscheck.sh: $unit: the object's records do not match the marks" >&2
        status=1
    fi
    grep -h "warning: afterburn_pt" "$err" | sed 's/^/  reported: /' || true
    total_store=$((total_store + got_store)); total_load=$((total_load + got_load))
done
echo "crosscheck.sh: ${#units[@]} unit(s): page_table_store=$total_store page_table_load=$total_load:" \
     "$([[ $status -eq 0 ]] && echo "AGREE" || echo "DISAGREE")"
exit $status
