#!/bin/sh
# Boot a PV kernel (the wedge) as Xen's dom0 under QEMU TCG and exit with its verdict.
#
#   run-under-xen.sh [options] WEDGE [MODULE [MODULE_ARGS...]]
#
# WEDGE is the dom0 kernel, MODULE the optional boot module Xen passes it (mod_start/mod_len
# in start_info; later the guest ELF). MODULE_ARGS become the guest part of the dom0
# command line, after a lone "--": Xen gives a PV dom0 no per-module command line.
#
# Options:
#   --wedge-args ARGS   wedge options (before "--" on the dom0 command line), e.g. fault=ud2
#   --xen-args ARGS     extra Xen command-line options, appended
#   --timeout SECONDS   kill QEMU after this long (default 60)
#   --log FILE          also write the whole console to FILE
#   --timestamps        prefix each console line with host seconds since QEMU started
#   --cache DIR         where the gunzipped hypervisor is kept
#   (environment) AFTERBURN_XEN_QEMU_ARGS: extra QEMU arguments, e.g. "-icount shift=0"
#                       (default: $AFTERBURN_XEN_CACHE, else <script dir>/../../build/xen-cache)
#
# Exit status: the wedge's verdict V (it writes V to QEMU's isa-debug-exit port, QEMU exits
# (V << 1) | 1); if the wedge fell back to SCHEDOP_shutdown, the V from its
# "xen-wedge: verdict V via SCHEDOP_shutdown" line; 124 on timeout; 125 if no verdict was
# given at all (Xen died, QEMU failed); 126 for bad usage or missing files.
set -u

XEN_GZ=${AFTERBURN_XEN_GZ:-/boot/xen-4.17-amd64.gz}
# Xen command line (docs/xen-pv-notes.md, "Xen command line"):
#  console=com1           Xen's console, and with it dom0's CONSOLEIO_write output, on COM1
#                         (QEMU -serial stdio); no VGA console to update.
#  dom0_mem=64M,max:64M   small dom0: building its p2m and page tables is most of the time
#                         between "Xen starting" and dom0's first instruction under TCG.
#  dom0_max_vcpus=1       the wedge is uniprocessor for now.
#  loglvl=all guest_loglvl=all  everything Xen says about us reaches the log.
#  no-real-mode           skip Xen's real-mode trampoline BIOS calls (EDD, video mode).
#  bootscrub=0            do not scrub free RAM before starting dom0.
#  ucode=no, cpufreq=none, iommu=0: nothing to find under QEMU.
# AFTERBURN_XEN_CMDLINE replaces all of it (for experiments); --xen-args appends (last wins).
XEN_CMDLINE=${AFTERBURN_XEN_CMDLINE:-"console=com1 com1=115200,8n1 dom0_mem=64M,max:64M dom0_max_vcpus=1 loglvl=all guest_loglvl=all no-real-mode bootscrub=0 ucode=no cpufreq=none iommu=0"}

script_dir=$(cd "$(dirname "$0")" && pwd)
wedge_args= xen_args= timeout=60 log= stamps=0 cache=${AFTERBURN_XEN_CACHE:-$script_dir/../../build/xen-cache}
usage() { sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 126; }
while [ $# -gt 0 ]; do
    case $1 in
    --wedge-args) wedge_args=$2; shift 2 ;;
    --xen-args) xen_args=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --timestamps) stamps=1; shift ;;
    --cache) cache=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "run-under-xen.sh: unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || usage
wedge=$1; shift
module=
if [ $# -ge 1 ]; then module=$1; shift; fi
module_args="$*"

for f in "$wedge" ${module:+"$module"} "$XEN_GZ"; do
    [ -r "$f" ] || { echo "run-under-xen.sh: cannot read $f" >&2; exit 126; }
done
# QEMU's multiboot -initrd syntax separates modules with ',' and a module's path from its
# command line with ' '.
case "$wedge$module" in *,*|*" "*) echo "run-under-xen.sh: paths must not contain ',' or ' '" >&2; exit 126 ;; esac

# QEMU's multiboot loader wants the uncompressed ELF; unpack once per hypervisor image.
mkdir -p "$cache" || exit 126
xen="$cache/$(basename "$XEN_GZ" .gz)"
if [ ! -s "$xen" ] || [ "$XEN_GZ" -nt "$xen" ]; then
    gzip -dc "$XEN_GZ" >"$xen.tmp.$$" && mv "$xen.tmp.$$" "$xen" || { rm -f "$xen.tmp.$$"; exit 126; }
fi

# Module strings: Xen drops the first word (the file name) of each; the rest of the first
# module's string is dom0's command line (start_info.cmd_line).
dom0_cmdline="$wedge_args"
[ -n "$module_args" ] && dom0_cmdline="$dom0_cmdline -- $module_args"
initrd="$wedge $dom0_cmdline"
[ -n "$module" ] && initrd="$initrd,$module"

out=$(mktemp "${TMPDIR:-/tmp}/run-under-xen.XXXXXX") || exit 126
rcfile="$out.rc"
trap 'rm -f "$out" "$rcfile"' EXIT
trap 'exit 130' INT TERM

# -no-reboot: Xen's reboot (after a dom0 crash) ends QEMU instead of looping. Do not give Xen
# "noreboot": it then panics and hangs until the timeout. QEMU's status travels through
# $rcfile because a POSIX sh pipeline only reports its last command's.
start=$(date +%s.%N)
{
    timeout -k 5 "$timeout" \
        qemu-system-x86_64 -accel tcg -cpu max -m 512 -nographic -no-reboot \
            -serial stdio -monitor none -device isa-debug-exit,iobase=0xf4,iosize=4 \
            -kernel "$xen" -append "$XEN_CMDLINE $xen_args" -initrd "$initrd" ${AFTERBURN_XEN_QEMU_ARGS:-} \
            </dev/null 2>&1
    echo $? >"$rcfile"
} | if [ "$stamps" = 1 ]; then
        T0=$start perl -MTime::HiRes=time -e '$| = 1; while (<STDIN>) { printf "[%7.3f] %s", time - $ENV{T0}, $_ }'
    else
        cat
    fi | tee "$out"
end=$(date +%s.%N)
[ -n "$log" ] && cp "$out" "$log"

rc=$(cat "$rcfile" 2>/dev/null || echo 255)
elapsed=$(awk "BEGIN { printf \"%.2f\", $end - $start }")
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "run-under-xen.sh: timed out after ${timeout}s" >&2
    exit 124
fi
# Timestamps and Xen's CRLF line ends are stripped before matching console lines.
console() { tr -d '\r' <"$out" | sed 's/^\[ *[0-9.]*\] //'; }
if [ $((rc & 1)) = 1 ] && console | grep -q '^xen-wedge: verdict '; then
    verdict=$((rc >> 1))
    echo "run-under-xen.sh: verdict $verdict (isa-debug-exit) after ${elapsed}s" >&2
    exit $verdict
fi
verdict=$(console | sed -n 's/^xen-wedge: verdict \([0-9]*\) via SCHEDOP_shutdown$/\1/p' | tail -n 1)
if [ -n "$verdict" ]; then
    echo "run-under-xen.sh: verdict $verdict (SCHEDOP_shutdown; QEMU status $rc) after ${elapsed}s" >&2
    exit "$verdict"
fi
echo "run-under-xen.sh: no verdict (QEMU status $rc) after ${elapsed}s" >&2
exit 125
