#!/usr/bin/env bash
# Compile-time cost of the compiler pass (the GCC plugin afterburn_pt) on units of a built Linux
# object tree: each unit compiled with the flags Kbuild recorded, by stock gcc, by afterburn-cc
# without the plugin (AFTERBURN_PT_PLUGIN=none) and by afterburn-cc with it; least CPU time
# (user + system of the whole compile, assembler included) of N runs, so a loaded machine skews it less.
# usage: bench/pt-plugin-overhead.sh AFTERBURN_CC OBJDIR [RUNS] UNIT.o...
set -euo pipefail
cc=$1 obj=$2 runs=$3; shift 3
[[ -x $cc && -d $obj && $runs =~ ^[1-9][0-9]*$ && $# -gt 0 ]] ||
    { echo "usage: $0 AFTERBURN_CC OBJDIR RUNS UNIT.o..." >&2; exit 2; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
best() {  # least CPU time (user + system, children included) of "$@" over $runs runs, in $obj
    local b="" t
    for ((i = 0; i < runs; i++)); do
        t=$( { TIMEFORMAT='%3U %3S'; time (cd "$obj" && "$@" >/dev/null 2>&1) || echo FAIL; } 2>&1 )
        [[ $t != *FAIL* ]] || { echo "failed: $*" >&2; exit 1; }
        t=$(awk '{ printf "%.3f", $1 + $2 }' <<<"$t")
        if [[ -z $b ]] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
    done
    echo "$b"
}
printf '%-28s %9s %12s %12s %9s\n' unit gcc afterburn-cc +plugin overhead
tg=0 tn=0 tp=0
for unit in "$@"; do
    cmdfile=$obj/$(dirname "$unit")/.$(basename "$unit").cmd
    line=$(grep -m1 "^cmd_$unit := " "$cmdfile") || { echo "no cmd_$unit in $cmdfile" >&2; exit 1; }
    line=${line#"cmd_$unit := "}; line=${line%%;*}
    eval "kcmd=($line)"
    args=()
    skip=0
    for w in "${kcmd[@]:1}"; do
        if [[ $skip -eq 1 ]]; then skip=0; continue; fi
        case $w in -Wp,-MMD,*) ;; -o) skip=1 ;; *) args+=("$w") ;; esac
    done
    o=$out/$(basename "$unit")
    g=$(best gcc "${args[@]}" -o "$o")
    n=$(AFTERBURN_PT_PLUGIN=none best "$cc" "${args[@]}" -o "$o")
    p=$(best "$cc" "${args[@]}" -o "$o")
    printf '%-28s %8.3fs %11.3fs %11.3fs %8.1f%%\n' "$unit" "$g" "$n" "$p" "$(awk -v n="$n" -v p="$p" 'BEGIN { print (p / n - 1) * 100 }')"
    tg=$(awk -v a="$tg" -v b="$g" 'BEGIN { print a + b }'); tn=$(awk -v a="$tn" -v b="$n" 'BEGIN { print a + b }')
    tp=$(awk -v a="$tp" -v b="$p" 'BEGIN { print a + b }')
done
printf '%-28s %8.3fs %11.3fs %11.3fs %8.1f%%\n' total "$tg" "$tn" "$tp" "$(awk -v n="$tn" -v p="$tp" 'BEGIN { print (p / n - 1) * 100 }')"
