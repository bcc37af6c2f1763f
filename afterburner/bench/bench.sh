#!/usr/bin/env bash
# afterburn bench: what a Linux operation costs on five systems, measured side by side in one
# run: the stock kernel natively, the afterburnt kernel natively, the same afterburnt file on
# Xen through the wedge with shadow and with direct paging, and XenoLinux (the same tree
# para-virtualized) on the same Xen.
#
# Each system boots once per run with afterburn-bench (samples/linux/bench) as its init; under
# QEMU -icount shift=0 (and a pinned clock and no hardware randomness) the guest's nanoseconds
# are guest instructions and two runs give the same counts. docs/bench.md says what each
# operation is and how to read the numbers.
#
# Installed (by CMake) as libexec/afterburn/bench and run as `afterburn bench`.
set -euo pipefail -o errtrace
trap 'echo "afterburn bench: error: unexpected failure (line $LINENO: $BASH_COMMAND)" >&2; exit 2' ERR

readonly PROG="afterburn bench"
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# CMake substitutes these; when run straight from the source tree they stay unexpanded.
SOURCE_DIR="@AFTERBURN_SOURCE_DIR@"
BINARY_DIR="@AFTERBURN_BINARY_DIR@"
if [[ $SOURCE_DIR == @*@ ]]; then SOURCE_DIR=$(cd "$SCRIPT_DIR/../.." && pwd); fi
if [[ $BINARY_DIR == @*@ ]]; then BINARY_DIR=$SOURCE_DIR/build; fi
AFTERBURN=$(realpath -m "$SCRIPT_DIR/../../bin/afterburn")

readonly SYSTEMS=(plain native afterburn-xen afterburn-xen-direct xenolinux)
readonly OPS=(getpid fork_exit fork_exec pipe page_fault mmap_munmap sched_yield user_loop boot)
declare -A OP_LABEL=(
    [getpid]="getpid" [fork_exit]="fork+exit+wait" [fork_exec]="fork+execve+wait"
    [pipe]="pipe round trip" [page_fault]="page fault (anonymous)" [mmap_munmap]="mmap+munmap"
    [sched_yield]="sched_yield round trip" [user_loop]="user loop (control)" [boot]="boot to init"
)
declare -A SYSTEM_LABEL=(
    [plain]="stock kernel, natively" [native]="afterburnt kernel, natively"
    [afterburn-xen]="afterburnt kernel on Xen (wedge, shadow paging)"
    [afterburn-xen-direct]="afterburnt kernel on Xen (wedge, direct paging)" [xenolinux]="XenoLinux on Xen"
)

usage() {
    cat <<EOF
Usage: afterburn bench [--json] [--runs N] [--plot FILE.svg] [--short] [--wall]
                       [--systems LIST] [--linux DIR] [--plain DIR] [--xenolinux DIR] [--no-build]
                       [--logs DIR] [--timeout S] [--pt-sites stores|native|wedge]

Measures per operation what Linux costs on five systems, side by side in one run:
  plain                 the stock kernel (build-linux --plain), natively under QEMU
  native                the afterburnt kernel (build-linux), natively under QEMU
  afterburn-xen         the same afterburnt vmlinux file on Xen 4.17 through the Xen wedge,
                        shadow paging (afterburn boot --on xen)
  afterburn-xen-direct  the same file and Xen, direct paging (--paging direct)
  xenolinux             XenoLinux (build-linux --xenolinux) as the PV dom0 of the same Xen
Operations: getpid, fork+exit+wait, fork+execve+wait, a pipe round trip between two processes,
a page fault on a fresh anonymous page, mmap+munmap of one page, a sched_yield round trip
between two processes, a user-mode loop (the control), and the boot to init.

The unit is guest instructions: QEMU runs with -icount shift=0 (one virtual nanosecond per
instruction, the clock pinned, no RDRAND), so the counts repeat from run to run. They include
everything the virtual CPU executes: Xen's and the wedge's instructions count for the guest.
Boot to init is the TSC since the machine's reset: firmware, Xen and the wedge included.

  --json           print the results as JSON on stdout (the table goes to stderr)
  --runs N         boot each system N times and take the median (default 1)
  --plot FILE.svg  also draw the instructions per operation relative to the stock kernel
  --short          a tenth of the iterations: checks that it works, does not measure
  --systems LIST   only these systems, comma-separated (default: all five)
  --wall           without -icount: guest nanoseconds of wall clock under QEMU TCG (noisy;
                   boot is then the kernel's own clock from its timekeeping start)
  --linux DIR      the afterburnt build (default: $BINARY_DIR/linux)
  --plain DIR      the stock build (default: $BINARY_DIR/linux-plain)
  --xenolinux DIR  the XenoLinux build (default: $BINARY_DIR/linux-xenolinux)
                   A DIR without a vmlinux is built first with afterburn build-linux
                   (a few minutes each; XenoLinux about 12 on 2 cores).
  --no-build       fail instead of building a missing kernel
  --logs DIR       keep each boot's console log in DIR (default: a temporary directory,
                   kept only when a boot fails)
  --timeout S      give up on one boot after S seconds (default 1200)
  --pt-sites MODE  afterburn-xen (shadow paging), as afterburn boot --pt-sites: stores
                   (default: the wedge makes Linux's page-table stores), native (none) or
                   wedge (the wedge performs every page-table access; direct paging always
                   does)
  -h, --help       this text

All five systems boot the afterburnt build's initramfs. A system whose hypervisor is not
available on this machine is reported as n/a. Exit status: 0 every available system was
measured, 1 a boot failed, 2 bad usage or input. docs/bench.md describes the method.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }
progress() { echo "$PROG: $*" >&2; }

# --- arguments ------------------------------------------------------------------------------
JSON=0 RUNS=1 PLOT="" ONLY="" SHORT=0 WALL=0 NO_BUILD=0 LOGS="" TIMEOUT=1200 PT_SITES=stores
declare -A KERNEL_DIR=(
    [native]=$BINARY_DIR/linux [plain]=$BINARY_DIR/linux-plain [xenolinux]=$BINARY_DIR/linux-xenolinux
)
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs an argument (see --help)"; }
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --json) JSON=1; shift ;;
        --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
        --plot) need_arg "$@"; PLOT=$2; shift 2 ;;
        --short) SHORT=1; shift ;;
        --wall) WALL=1; shift ;;
        --systems) need_arg "$@"; ONLY=$2; shift 2 ;;
        --linux) need_arg "$@"; KERNEL_DIR[native]=$2; shift 2 ;;
        --plain) need_arg "$@"; KERNEL_DIR[plain]=$2; shift 2 ;;
        --xenolinux) need_arg "$@"; KERNEL_DIR[xenolinux]=$2; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --logs) need_arg "$@"; LOGS=$2; shift 2 ;;
        --timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
        --pt-sites) need_arg "$@"; PT_SITES=$2; shift 2 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
declare -A WANTED
if [[ -z $ONLY ]]; then
    for system in "${SYSTEMS[@]}"; do WANTED[$system]=1; done
else
    IFS=, read -ra only_list <<<"$ONLY"
    for system in "${only_list[@]}"; do
        [[ -n ${SYSTEM_LABEL[$system]:-} ]] ||
            die "--systems: unknown system '$system' (plain, native, afterburn-xen, afterburn-xen-direct, xenolinux)"
        WANTED[$system]=1
    done
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive number, got '$RUNS'"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a positive number of seconds, got '$TIMEOUT'"
[[ $PT_SITES == stores || $PT_SITES == native || $PT_SITES == wedge ]] ||
    die "--pt-sites wants stores, native or wedge, got '$PT_SITES'"
if [[ -n $PLOT ]]; then
    [[ -d $(dirname "$PLOT") ]] || die "--plot: directory $(dirname "$PLOT") does not exist"
fi
[[ -x $AFTERBURN ]] || die "afterburn not found: $AFTERBURN"
command -v gzip >/dev/null && command -v cpio >/dev/null ||
    die "gzip and cpio are needed to read the initramfs (apt-get install gzip cpio)"

# --- kernels --------------------------------------------------------------------------------
# An existing kernel is used as it is; one older than the toolchain that annotates it (or an
# initramfs older than the bench program) measures yesterday's afterburn: say so.
warn_if_stale() {
    local which=$1 dir=$2 f newer=()
    if [[ $which == native ]]; then
        local bin
        bin=$(dirname "$AFTERBURN")
        for f in "afterburn-cc:$bin/afterburn-cc" "afterburn-as:$bin/../libexec/afterburn/as/as" \
                 "the compiler pass:$bin/../libexec/afterburn/afterburn_pt.so"; do
            [[ ! ${f#*:} -nt $dir/vmlinux ]] || newer+=("${f%%:*}")
        done
        [[ ! $SOURCE_DIR/samples/linux/bench/afterburn-bench.c -nt $dir/initramfs.cpio.gz ]] ||
            newer+=("the bench program")
    fi
    [[ ${#newer[@]} -gt 0 ]] || return 0
    local list
    list=$(printf '%s, ' "${newer[@]}")
    progress "  warning: $dir is older than ${list%, }: its numbers are not today's afterburn's" \
             "(rebuild: afterburn build-linux -o $dir)"
}
# A build directory without a vmlinux is built here, with progress, unless --no-build.
ensure_kernel() {
    local which=$1 dir=${KERNEL_DIR[$1]} flag
    case $which in native) flag=() ;; plain) flag=(--plain) ;; xenolinux) flag=(--xenolinux) ;; esac
    if [[ -f $dir/vmlinux ]]; then
        progress "$which kernel: $dir/vmlinux"
        warn_if_stale "$which" "$dir"
        return
    fi
    [[ $NO_BUILD -eq 0 ]] ||
        die "no kernel in $dir (build it: afterburn build-linux ${flag[*]:+${flag[*]} }-o $dir)"
    progress "$which kernel: none in $dir, building it: afterburn build-linux ${flag[*]:+${flag[*]} }-o $dir"
    local start=$EPOCHREALTIME
    if ! "$AFTERBURN" build-linux "${flag[@]}" -o "$dir" >"$WORK/build-$which.out" 2>&1; then
        tail -n 15 "$WORK/build-$which.out" >&2
        die "building the $which kernel failed (above; the whole output is $WORK/build-$which.out)"
    fi
    progress "$which kernel: built in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/afterburn-bench.XXXXXX")
KEEP_WORK=0
trap 'if [[ $KEEP_WORK -eq 0 ]]; then rm -rf "$WORK"; fi' EXIT
if [[ -n $LOGS ]]; then mkdir -p "$LOGS" || die "cannot create --logs directory $LOGS"; else LOGS=$WORK; fi

# The afterburnt build is always needed: its initramfs is every system's.
ensure_kernel native
[[ -z ${WANTED[plain]:-} ]] || ensure_kernel plain
[[ -z ${WANTED[xenolinux]:-} ]] || ensure_kernel xenolinux
INITRD=${KERNEL_DIR[native]}/initramfs.cpio.gz
[[ -f $INITRD ]] || die "$INITRD is missing (rebuild: afterburn build-linux -o ${KERNEL_DIR[native]})"
listing=$(gzip -dc "$INITRD" | cpio -it --quiet) || die "$INITRD is not a gzip'd cpio archive"
grep -qx 'bin/afterburn-bench' <<<"$listing" ||
    die "$INITRD has no bin/afterburn-bench: it predates afterburn bench (rebuild: afterburn build-linux -o ${KERNEL_DIR[native]})"

# --- one boot -------------------------------------------------------------------------------
# Every system gets the same machine: one CPU model without hardware randomness (and without
# SMAP, which Xen's dom0 cannot run with under TCG: docs/xenolinux.md), and under -icount a
# virtual clock that does not sleep while the guest idles and an RTC that follows it.
QEMU_ARGS=(--cpu max,-smap,-rdrand,-rdseed)
if [[ $WALL -eq 0 ]]; then
    QEMU_ARGS+=(--qemu-arg -icount --qemu-arg shift=0,sleep=off
                --qemu-arg -rtc --qemu-arg base=2026-01-01T00:00:00,clock=vm)
fi
declare -A VALUE STATUS
WEDGE_ENTRIES="" WEDGE_BY_KIND=""
for system in "${SYSTEMS[@]}"; do [[ -n ${WANTED[$system]:-} ]] || STATUS[$system]="not run (--systems)"; done
# boot_system SYSTEM RUN: boots it, parses its AFTERBURN-BENCH lines into VALUE[SYSTEM,OP,RUN].
boot_system() {
    local system=$1 run=$2 on image console extra=()
    case $system in
        plain) on=native image=${KERNEL_DIR[plain]}/vmlinux console=ttyS0 ;;
        native) on=native image=${KERNEL_DIR[native]}/vmlinux console=ttyS0 ;;
        afterburn-xen) on=xen image=${KERNEL_DIR[native]}/vmlinux console=ttyS0 extra=(--pt-sites "$PT_SITES") ;;
        afterburn-xen-direct) on=xen image=${KERNEL_DIR[native]}/vmlinux console=ttyS0 extra=(--paging direct) ;;
        xenolinux) on=xenolinux image=${KERNEL_DIR[xenolinux]}/vmlinux console=hvc0 ;;
    esac
    local append="console=$console rdinit=/bin/afterburn-bench quiet norandmaps panic=-1"
    [[ $SHORT -eq 0 ]] || append+=" AFTERBURN_BENCH=short"
    local log=$LOGS/$system-$run.log err=$LOGS/$system-$run.err rc=0
    local start=$EPOCHREALTIME
    "$AFTERBURN" boot --on "$on" "$image" --initrd "$INITRD" --append "$append" "${QEMU_ARGS[@]}" "${extra[@]}" \
        --timeout "$TIMEOUT" -q --log "$log" >/dev/null 2>"$err" || rc=$?
    local wall
    wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    if [[ $rc -eq 4 ]]; then
        STATUS[$system]="n/a: $(grep -m1 -v '^$' "$err" || echo "afterburn boot --on $on: not available")"
        progress "  $system: not available on this machine: ${STATUS[$system]#n/a: }"
        return
    fi
    if [[ $rc -ne 0 ]]; then
        KEEP_WORK=1
        STATUS[$system]="failed (exit $rc): $(grep -m1 'afterburn boot' "$err" || tail -n 1 "$err")"
        progress "  $system: the boot failed after $wall s: ${STATUS[$system]#failed }"
        progress "  its console log: $log"
        return
    fi
    local lines
    lines=$(tr -d '\r' <"$log" | grep -a -o 'AFTERBURN-BENCH: .*' || true)
    if ! grep -qx 'AFTERBURN-BENCH: done' <<<"$lines"; then
        KEEP_WORK=1
        STATUS[$system]="failed: no 'AFTERBURN-BENCH: done' line (console log: $log)"
        progress "  $system: ${STATUS[$system]#failed: }"
        return
    fi
    local op value
    for op in "${OPS[@]}"; do
        if [[ $op == boot ]]; then
            if [[ $WALL -eq 0 ]]; then
                value=$(sed -n 's/^AFTERBURN-BENCH: boot tsc=\([0-9]*\) kernel_ns=[0-9]*$/\1/p' <<<"$lines")
            else
                value=$(sed -n 's/^AFTERBURN-BENCH: boot tsc=[0-9]* kernel_ns=\([0-9]*\)$/\1/p' <<<"$lines")
            fi
        else
            value=$(sed -n "s/^AFTERBURN-BENCH: op=$op ns=\\([0-9]*\\) .*/\\1/p" <<<"$lines")
        fi
        if [[ ! $value =~ ^[0-9]+$ ]]; then
            KEEP_WORK=1
            STATUS[$system]="failed: no value for $op (console log: $log)"
            progress "  $system: ${STATUS[$system]#failed: }"
            return
        fi
        VALUE[$system,$op,$run]=$value
    done
    VALUE[$system,boot_kernel,$run]=$(sed -n 's/^AFTERBURN-BENCH: boot tsc=[0-9]* kernel_ns=\([0-9]*\)$/\1/p' <<<"$lines")
    VALUE[$system,wall,$run]=$wall
    if [[ $system == afterburn-xen ]]; then
        # Where the wedge was entered (boot and bench together; the same in every run).
        WEDGE_ENTRIES=$(tr -d '\r' <"$log" | sed -n 's/^xen-wedge: guest: \([0-9]*\) site entries,.*/\1/p' | tail -n 1)
        WEDGE_BY_KIND=$(tr -d '\r' <"$log" | sed -n 's/^xen-wedge: guest: site entries by kind: //p' | tail -n 1)
    fi
    STATUS[$system]=ok
    progress "  $system: $wall s wall; getpid ${VALUE[$system,getpid,$run]}, fork+exec ${VALUE[$system,fork_exec,$run]}, boot ${VALUE[$system,boot,$run]}"
}

mode="-icount shift=0: instructions" short_note=""
[[ $WALL -eq 0 ]] || mode="wall clock: guest nanoseconds"
[[ $SHORT -eq 0 ]] || short_note=", short"
total=$(( ${#WANTED[@]} * RUNS )) n=0
for ((run = 1; run <= RUNS; ++run)); do
    for system in "${SYSTEMS[@]}"; do
        [[ -n ${WANTED[$system]:-} ]] || continue
        [[ ${STATUS[$system]:-} == n/a* || ${STATUS[$system]:-} == failed* ]] && continue
        n=$((n + 1))
        progress "[$n/$total] $system (${SYSTEM_LABEL[$system]}), run $run of $RUNS, $mode$short_note"
        boot_system "$system" "$run"
    done
done

# --- results --------------------------------------------------------------------------------
# sorted_runs SYSTEM KEY: the value of every run, one per line, smallest first.
sorted_runs() {
    local run
    for ((run = 1; run <= RUNS; ++run)); do echo "${VALUE[$1,$2,$run]}"; done | sort -n
}
# median SYSTEM KEY: the median over the runs ("" when the system did not run).
median() {
    [[ ${STATUS[$1]} == ok ]] || return 0
    sorted_runs "$1" "$2" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
# spread SYSTEM KEY: (max - min) / median over the runs, in percent.
spread() {
    [[ ${STATUS[$1]} == ok ]] || return 0
    sorted_runs "$1" "$2" |
        awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; if (m > 0) printf "%.2f", (v[NR] - v[1]) * 100 / m; else print 0 }'
}
# largest_spread SYSTEM: the largest spread of any operation.
largest_spread() {
    local system=$1 op
    [[ ${STATUS[$system]} == ok ]] || return 0
    for op in "${OPS[@]}"; do spread "$system" "$op"; echo; done | sort -n | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.3f", a / b }'; }
declare -A RESULT
for system in "${SYSTEMS[@]}"; do
    for op in "${OPS[@]}" boot_kernel wall; do RESULT[$system,$op]=$(median "$system" "$op"); done
done
declare -A RATIO_PAIRS=([native/plain]="native plain" [afterburn-xen/xenolinux]="afterburn-xen xenolinux"
                        [afterburn-xen-direct/xenolinux]="afterburn-xen-direct xenolinux"
                        [afterburn-xen/native]="afterburn-xen native")
readonly RATIO_ORDER=(native/plain afterburn-xen/xenolinux afterburn-xen-direct/xenolinux afterburn-xen/native)
# Column widths of the table: the system's name, at least 13.
width_of() { local w=${#1}; echo $((w > 13 ? w : 13)); }

print_table() {
    local unit=instructions
    [[ $WALL -eq 0 ]] || unit="guest ns (wall clock)"
    printf '\n%s per operation (%s), median of %d run(s)%s\n\n' "$unit" \
        "$([[ $WALL -eq 0 ]] && echo 'QEMU -icount shift=0' || echo 'QEMU TCG, no -icount')" "$RUNS" \
        "$([[ $SHORT -eq 1 ]] && echo '; SHORT MODE: a check, not a measurement')"
    printf '%-24s' operation
    for system in "${SYSTEMS[@]}"; do printf " %$(width_of "$system")s" "$system"; done
    printf ' %13s %13s %13s %13s\n' native/plain ab-xen/xenoL direct/xenoL ab-xen/native
    local op system pair a b
    for op in "${OPS[@]}"; do
        printf '%-24s' "${OP_LABEL[$op]}"
        for system in "${SYSTEMS[@]}"; do
            printf " %$(width_of "$system")s" "${RESULT[$system,$op]:-n/a}"
        done
        for pair in "${RATIO_ORDER[@]}"; do
            read -r a b <<<"${RATIO_PAIRS[$pair]}"
            r=$(ratio "${RESULT[$a,$op]}" "${RESULT[$b,$op]}")
            r=${r:+${r}x}
            printf ' %13s' "${r:--}"
        done
        echo
    done
    printf '%-24s' "whole boot, wall s"
    for system in "${SYSTEMS[@]}"; do
        printf " %$(width_of "$system")s" "${RESULT[$system,wall]:-n/a}"
    done
    echo
    if [[ $RUNS -gt 1 ]]; then
        printf '%-24s' "largest spread, %"
        for system in "${SYSTEMS[@]}"; do
            s=$(largest_spread "$system")
            printf " %$(width_of "$system")s" "${s:-n/a}"
        done
        echo
    fi
    echo
    if [[ -n $WEDGE_ENTRIES ]]; then
        printf 'afterburn-xen: %s site entries into the Xen wedge over the whole run (boot and bench); most:' \
            "$WEDGE_ENTRIES"
        wedge_kinds_by_count | head -n 6 | awk '{ printf "%s %s %s", (NR > 1 ? "," : ""), $1, $2 } END { print "" }'
    fi
    for system in "${SYSTEMS[@]}"; do
        [[ ${STATUS[$system]} == ok ]] || printf '%s: %s\n' "$system" "${STATUS[$system]}"
    done
}
# The wedge's "site entries by kind" line as "kind count" lines, most first.
wedge_kinds_by_count() { awk '{ for (i = 1; i < NF; i += 2) print $i, $(i + 1) }' <<<"$WEDGE_BY_KIND" | sort -k2,2nr -k1,1; }

json_number() { if [[ -n $1 ]]; then printf '%s' "$1"; else printf 'null'; fi; }
json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
print_json() {
    local op system pair a b sep
    printf '{"unit": "%s", "mode": "%s", "runs": %d, "short": %s,\n' \
        "$([[ $WALL -eq 0 ]] && echo instructions || echo nanoseconds)" \
        "$([[ $WALL -eq 0 ]] && echo 'icount shift=0' || echo wall)" "$RUNS" \
        "$([[ $SHORT -eq 1 ]] && echo true || echo false)"
    printf ' "ops": {'
    sep=""
    for op in "${OPS[@]}"; do
        printf '%s\n  "%s": {' "$sep" "$op"
        local s2=""
        for system in "${SYSTEMS[@]}"; do
            printf '%s"%s": %s' "$s2" "$system" "$(json_number "${RESULT[$system,$op]}")"; s2=", "
        done
        printf '}'; sep=","
    done
    printf '},\n "ratios": {'
    sep=""
    for op in "${OPS[@]}"; do
        printf '%s\n  "%s": {' "$sep" "$op"
        local s2=""
        for pair in "${RATIO_ORDER[@]}"; do
            read -r a b <<<"${RATIO_PAIRS[$pair]}"
            printf '%s"%s": %s' "$s2" "$pair" "$(json_number "$(ratio "${RESULT[$a,$op]}" "${RESULT[$b,$op]}")")"; s2=", "
        done
        printf '}'; sep=","
    done
    printf '},\n "boot_kernel_ns": {'
    sep=""
    for system in "${SYSTEMS[@]}"; do
        printf '%s"%s": %s' "$sep" "$system" "$(json_number "${RESULT[$system,boot_kernel]}")"; sep=", "
    done
    if [[ $RUNS -gt 1 ]]; then
        printf '},\n "spread_percent": {'
        sep=""
        for system in "${SYSTEMS[@]}"; do
            printf '%s"%s": %s' "$sep" "$system" "$(json_number "$(largest_spread "$system")")"; sep=", "
        done
    fi
    printf '},\n "wall_seconds": {'
    sep=""
    for system in "${SYSTEMS[@]}"; do
        printf '%s"%s": %s' "$sep" "$system" "$(json_number "${RESULT[$system,wall]:-}")"; sep=", "
    done
    printf '},\n "wedge_site_entries": '
    if [[ -n $WEDGE_ENTRIES ]]; then
        printf '{"total": %s, "by_kind": {%s}}' "$WEDGE_ENTRIES" \
            "$(wedge_kinds_by_count | awk '{ printf "%s\"%s\": %s", (NR > 1 ? ", " : ""), $1, $2 }')"
    else
        printf 'null'
    fi
    printf ',\n "pt_sites": %s' "$(json_string "$PT_SITES")"
    printf ',\n "systems": {'
    sep=""
    for system in "${SYSTEMS[@]}"; do
        local kernel=${KERNEL_DIR[$system]:-${KERNEL_DIR[native]}}
        printf '%s\n  "%s": {"kernel": %s, "status": %s}' "$sep" "$system" "$(json_string "$kernel/vmlinux")" \
            "$(json_string "${STATUS[$system]}")"
        sep=","
    done
    printf '}}\n'
}

# The SVG: per operation one bar per system, its instructions relative to the stock kernel
# natively, on a log scale from 0.5x to the largest ratio.
print_svg() {
    local op system rows=""
    for op in "${OPS[@]}"; do
        rows+=${OP_LABEL[$op]}
        for system in "${SYSTEMS[@]}"; do
            r=$(ratio "${RESULT[$system,$op]}" "${RESULT[plain,$op]}")
            rows+=$'\t'${r:--}
        done
        rows+=$'\n'
    done
    printf '%s' "$rows" | awk -F '\t' -v title="afterburn bench: instructions per operation relative to the stock kernel natively" '
    function y(r) { return top + plot_h * (1 - (log(r) - log(lo)) / (log(hi) - log(lo))) }
    NF == 6 { ++n; label[n] = $1; for (s = 1; s <= 5; ++s) { v[n, s] = $(s + 1); if (v[n, s] != "-" && v[n, s] + 0 > hi) hi = v[n, s] + 0 } }
    END {
        lo = 0.5; if (hi < 2) hi = 2; hi *= 1.3
        left = 70; top = 50; plot_h = 360; group_w = 120; bar_w = 20
        width = left + n * group_w + 20; height = top + plot_h + 110
        split("plain native afterburn-xen afterburn-xen-direct xenolinux", name, " ")
        split("#7f7f7f #1f77b4 #d62728 #ff7f0e #2ca02c", color, " ")
        printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", width, height
        printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
        printf "<text x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n", left, title
        for (r = 1; r <= hi; r *= 10) {
            printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>\n", left, width - 20, y(r), y(r)
            printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%gx</text>\n", left - 6, y(r) + 4, r
        }
        for (g = 1; g <= n; ++g) {
            x0 = left + (g - 1) * group_w + 10
            for (s = 1; s <= 5; ++s) {
                if (v[g, s] == "-") continue
                yy = y(v[g, s]); base = y(lo)
                printf "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s %s: %sx</title></rect>\n", x0 + (s - 1) * bar_w, yy, bar_w - 2, base - yy, color[s], label[g], name[s], v[g, s]
            }
            printf "<text x=\"%d\" y=\"%d\" transform=\"rotate(30 %d %d)\">%s</text>\n", x0, top + plot_h + 16, x0, top + plot_h + 16, label[g]
        }
        for (s = 1; s <= 5; ++s) {
            printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", left + (s - 1) * 170, height - 24, color[s]
            printf "<text x=\"%d\" y=\"%d\">%s</text>\n", left + (s - 1) * 170 + 16, height - 14, name[s]
        }
        printf "</svg>\n"
    }'
}

if [[ $JSON -eq 1 ]]; then
    print_table >&2
    print_json
else
    print_table
fi
if [[ -n $PLOT ]]; then
    print_svg >"$PLOT" || die "cannot write $PLOT"
    progress "chart: $PLOT"
fi
if [[ $KEEP_WORK -eq 1 && $LOGS == "$WORK" ]]; then progress "console logs kept in $WORK"; fi
for system in "${SYSTEMS[@]}"; do [[ ${STATUS[$system]} != failed* ]] || exit 1; done
exit 0
