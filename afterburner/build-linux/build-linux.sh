#!/usr/bin/env bash
# afterburn build-linux: build the sample Linux 6.1 guest, plain or through the afterburn toolchain.
#
# Installed (by CMake) as build/libexec/afterburn/build-linux and run as `afterburn build-linux`.
# Stages: check dependencies -> unpack Debian's linux-source tarball into a cache (reused) ->
# configure out of tree (tinyconfig + samples/linux/afterburn.config, or with --defconfig
# x86_64_defconfig + samples/linux/defconfig.config [+ --config fragments]) -> make vmlinux bzImage
# [modules] (CC=afterburn-cc unless --plain or --xenolinux) -> initramfs -> verify (toolchain
# builds: afterburn scan of vmlinux and every module) -> summary. --xenolinux builds the para-virtualized baseline: the same tree and fragment plus
# samples/linux/xenolinux.config (a 64-bit Xen PV dom0), stock gcc.
set -euo pipefail

readonly PROG="afterburn build-linux"
readonly DEFAULT_TARBALL=/usr/src/linux-source-6.1.tar.xz

usage() {
    cat <<EOF
Usage: afterburn build-linux -o DIR [--plain | --xenolinux] [--defconfig] [--config FRAGMENT]...
                            [--jobs N] [--source TARBALL]
       afterburn build-linux --unpack-only [--source TARBALL]

Builds the sample Linux guest (vmlinux + bzImage) and its busybox initramfs.

  -o, --output DIR     output directory (created); the kernel is built in DIR/obj, which a
                       later build reuses (incremental) unless the toolchain (afterburn-cc,
                       afterburn-as, the compiler pass, the mode) changed: then it starts over
      --plain          build with the stock compiler (no afterburn-cc), e.g. as a baseline
      --xenolinux      XenoLinux, the para-virtualized baseline: stock compiler, the same
                       fragment plus samples/linux/xenolinux.config (64-bit Xen PV dom0);
                       boot it with afterburn boot --on xenolinux (docs/xenolinux.md)
      --defconfig      a full-size kernel instead of the small sample: x86_64_defconfig (SMP,
                       modules, PARAVIRT, KVM_GUEST, ACPI, PCI, ...) + samples/linux/defconfig.config
                       (the PVH entry); also builds the modules into DIR/modules/
                       (~30 min on 2 cores, ~20x the sample)
      --config FILE    extra Kconfig fragment applied after the base configuration
                       (may be repeated)
  -j, --jobs N         parallel make jobs (default: number of CPUs)
      --source TARBALL kernel source tarball (default: $DEFAULT_TARBALL,
                       from the Debian package linux-source-6.1)
      --unpack-only    only unpack the source into the cache and print its path
  -h, --help           this text

DIR receives: vmlinux, bzImage, initramfs.cpio.gz, config, build.log, build-time (wall seconds
of configure + compile), build-cpu (their user + system CPU seconds), with --defconfig modules/ (every .ko, by its path in the tree) and, for
toolchain builds, annotate.log (AFTERBURN_REPORT: one line per object written by afterburn-as)
and scan.log (afterburn scan of vmlinux and each module; a scan that fails fails the build).
The unpacked source is cached in \$AFTERBURN_LINUX_CACHE (default: <build>/linux-src).
Missing Debian packages are installed with apt-get when run as root.

Boot the result with:
  afterburn boot --on native DIR/vmlinux --initrd DIR/initramfs.cpio.gz
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
note() { printf '%s: [%6.1fs] %s\n' "$PROG" "$(elapsed "$T_START")" "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
T_START=$(now)

# --- locations ----------------------------------------------------------------------------
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# CMake substitutes these; when run straight from the source tree they stay unexpanded.
SOURCE_DIR="@AFTERBURN_SOURCE_DIR@"
BINARY_DIR="@AFTERBURN_BINARY_DIR@"
if [[ $SOURCE_DIR == @*@ ]]; then SOURCE_DIR=$(cd "$SCRIPT_DIR/../.." && pwd); fi
if [[ $BINARY_DIR == @*@ ]]; then BINARY_DIR=$SOURCE_DIR/build; fi
BASE_FRAGMENT=$SOURCE_DIR/samples/linux/afterburn.config
readonly XENOLINUX_FRAGMENT=$SOURCE_DIR/samples/linux/xenolinux.config
readonly DEFCONFIG_FRAGMENT=$SOURCE_DIR/samples/linux/defconfig.config
readonly INIT_SCRIPT=$SOURCE_DIR/samples/linux/initramfs/init
readonly WORKLOAD_SCRIPT=$SOURCE_DIR/samples/linux/initramfs/workload
readonly BENCH_SOURCE=$SOURCE_DIR/samples/linux/bench/afterburn-bench.c
readonly AFTERBURN_CC=$SCRIPT_DIR/../../bin/afterburn-cc
readonly AFTERBURN=$SCRIPT_DIR/../../bin/afterburn
CACHE_DIR=${AFTERBURN_LINUX_CACHE:-$BINARY_DIR/linux-src}

# --- arguments ----------------------------------------------------------------------------
OUT="" PLAIN=0 XENOLINUX=0 DEFCONFIG=0 JOBS=$(nproc) TARBALL=$DEFAULT_TARBALL UNPACK_ONLY=0
EXTRA_FRAGMENTS=()
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs an argument (see --help)"; }
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        -o|--output) need_arg "$@"; OUT=$2; shift 2 ;;
        --plain) PLAIN=1; shift ;;
        --xenolinux) XENOLINUX=1; PLAIN=1; shift ;;
        --defconfig) DEFCONFIG=1; shift ;;
        --unpack-only) UNPACK_ONLY=1; PLAIN=1; shift ;;
        --config) need_arg "$@"; EXTRA_FRAGMENTS+=("$2"); shift 2 ;;
        -j|--jobs) need_arg "$@"; JOBS=$2; shift 2 ;;
        -j*) JOBS=${1#-j}; shift ;;
        --jobs=*) JOBS=${1#--jobs=}; shift ;;
        --source) need_arg "$@"; TARBALL=$2; shift 2 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ -n $OUT || $UNPACK_ONLY -eq 1 ]] || die "missing -o DIR (see --help)"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number, got '$JOBS'"
[[ $DEFCONFIG -eq 0 || $XENOLINUX -eq 0 ]] ||
    die "--defconfig and --xenolinux cannot be combined (XenoLinux is built from the sample configuration)"
[[ $DEFCONFIG -eq 0 ]] || BASE_FRAGMENT=$DEFCONFIG_FRAGMENT
[[ -f $BASE_FRAGMENT ]] || die "base Kconfig fragment not found: $BASE_FRAGMENT"
[[ -f $INIT_SCRIPT ]] || die "initramfs /init not found: $INIT_SCRIPT"
[[ -f $WORKLOAD_SCRIPT ]] || die "initramfs workload not found: $WORKLOAD_SCRIPT"
[[ -f $BENCH_SOURCE ]] || die "initramfs microbenchmark not found: $BENCH_SOURCE"
FRAGMENTS=("$BASE_FRAGMENT")
if [[ $XENOLINUX -eq 1 ]]; then
    [[ -f $XENOLINUX_FRAGMENT ]] || die "XenoLinux Kconfig fragment not found: $XENOLINUX_FRAGMENT"
    FRAGMENTS+=("$XENOLINUX_FRAGMENT")
fi
for f in "${EXTRA_FRAGMENTS[@]}"; do
    [[ -f $f ]] || die "--config fragment not found: $f"
    FRAGMENTS+=("$(realpath "$f")")
done
if [[ $PLAIN -eq 0 ]]; then
    [[ -x $AFTERBURN_CC ]] || die "toolchain driver not found: $(realpath -m "$AFTERBURN_CC")
  build it first (cmake --build build --target afterburn-cc), or use --plain for a stock build"
    AFTERBURN_CC_ABS=$(realpath "$AFTERBURN_CC")
    [[ -x $AFTERBURN ]] || die "afterburn not found: $(realpath -m "$AFTERBURN") (it scans the result)"
fi

if [[ $UNPACK_ONLY -eq 1 ]]; then
    LOG=/dev/null
else
    mkdir -p "$OUT" || die "cannot create output directory $OUT"
    OUT=$(realpath "$OUT")
    OBJ=$OUT/obj
    LOG=$OUT/build.log
    : >"$LOG"
fi

# --- dependencies ---------------------------------------------------------------------------
# A missing tool maps to the Debian package that provides it; install what is missing (root only).
missing=()
for pair in gcc:gcc make:make flex:flex bison:bison bc:bc cpio:cpio gzip:gzip xz:xz-utils \
            perl:perl objdump:binutils; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[[ -f /usr/include/gelf.h ]] || missing+=(libelf-dev)          # objtool
[[ -f /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)   # scripts/ host tools
[[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)  # the static afterburn-bench
# The initramfs runs /bin/busybox without a libc, so it must be the static build.
if [[ ! -x /bin/busybox ]] || ! file -L /bin/busybox 2>/dev/null | grep 'statically linked' >/dev/null; then
    missing+=(busybox-static)
fi
if [[ $TARBALL == "$DEFAULT_TARBALL" && ! -f $TARBALL ]]; then missing+=(linux-source-6.1); fi
if ! command -v file >/dev/null 2>&1; then missing+=(file); fi
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        die "missing Debian packages: ${missing[*]}
  install them as root: apt-get install ${missing[*]}"
    fi
    note "installing missing packages: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; then
        apt-get update >>"$LOG" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 ||
            die "apt-get install ${missing[*]} failed; see $LOG"
    fi
fi
[[ -f $TARBALL ]] || die "kernel source tarball not found: $TARBALL"
TARBALL=$(realpath "$TARBALL")

# --- unpack (cached) ------------------------------------------------------------------------
# The cache key is the tarball's path, size and mtime, so a new Debian upload re-unpacks.
stem=$(basename "$TARBALL"); stem=${stem%.tar.*}
SRC=$CACHE_DIR/$stem
stamp_want="$TARBALL $(stat -c '%s %Y' "$TARBALL")"
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.lock"
flock 9   # two concurrent builds must not unpack into the same cache at once
if [[ -f $SRC/.afterburn-unpacked && $(cat "$SRC/.afterburn-unpacked") == "$stamp_want" ]]; then
    note "source: reusing $SRC"
else
    note "source: unpacking $TARBALL into $CACHE_DIR"
    rm -rf "$SRC" "$SRC.tmp"
    mkdir -p "$SRC.tmp"
    tar -xf "$TARBALL" -C "$SRC.tmp" || die "cannot unpack $TARBALL"
    top=("$SRC.tmp"/*)
    [[ ${#top[@]} -eq 1 && -d ${top[0]} ]] || die "$TARBALL does not hold a single top-level directory"
    mv "${top[0]}" "$SRC"
    rmdir "$SRC.tmp"
    echo "$stamp_want" >"$SRC/.afterburn-unpacked"
fi
flock -u 9
[[ -f $SRC/Makefile && -f $SRC/arch/x86/Kconfig && -x $SRC/scripts/kconfig/merge_config.sh ]] ||
    die "$SRC does not look like a Linux source tree (delete it to force a fresh unpack)"
# An in-tree configuration would make out-of-tree builds refuse to run.
[[ ! -f $SRC/.config ]] || die "$SRC has an in-tree .config; delete $SRC to re-unpack"
KVER=$(make -s -C "$SRC" kernelversion 2>>"$LOG") || die "cannot read the kernel version of $SRC"
note "source: Linux $KVER"
if [[ $UNPACK_ONLY -eq 1 ]]; then echo "$SRC"; exit 0; fi

# --- configure ------------------------------------------------------------------------------
# CC is passed to every make call: Kconfig records the compiler, and a change re-runs config.
MAKE_ARGS=(-C "$SRC" O="$OBJ" ARCH=x86_64)
if [[ $PLAIN -eq 1 ]]; then
    MODE=plain
    [[ $XENOLINUX -eq 1 ]] && MODE=xenolinux
    unset AFTERBURN_REPORT
    rm -f "$OUT/annotate.log"
else
    MODE=afterburn
    MAKE_ARGS+=(CC="$AFTERBURN_CC_ABS")
    export AFTERBURN_REPORT=$OUT/annotate.log
    : >"$AFTERBURN_REPORT"
fi
note "mode: $MODE (jobs: $JOBS; output: $OUT; log: $LOG)"

# Kbuild rebuilds an object when its command line changes, not when the compiler binary does:
# after afterburn-as, afterburn-cc or the compiler pass changed, DIR/obj's objects would keep the
# old annotations. DIR/obj records what built it (file hashes); a different record means a
# full rebuild.
TOOLCHAIN_RECORD=$OBJ/.afterburn-toolchain
toolchain_record() {
    echo "mode $MODE"
    [[ $MODE == afterburn ]] || return 0
    local bindir as plugin types f
    bindir=$(dirname "$AFTERBURN_CC_ABS")
    as=${AFTERBURN_AS_DIR:-$bindir/../libexec/afterburn/as}/as
    plugin=${AFTERBURN_PT_PLUGIN:-$bindir/../libexec/afterburn/afterburn_pt.so}
    types=${AFTERBURN_PAGE_TABLE_TYPES:-$bindir/../share/afterburn/page-table-types/linux.conf}
    echo "compiler ${AFTERBURN_GCC:-gcc}: $("${AFTERBURN_GCC:-gcc}" --version 2>/dev/null | head -n 1 || true)"
    for f in "afterburn-cc:$AFTERBURN_CC_ABS" "afterburn-as:$as" "compiler pass:$plugin" "page-table types:$types"; do
        if [[ ${f#*:} == none ]]; then echo "${f%%:*} none"
        elif [[ -r ${f#*:} ]]; then echo "${f%%:*} $(sha256sum <"${f#*:}" | cut -c1-16)"
        else echo "${f%%:*} missing"; fi
    done
}
RECORD_NOW=$(toolchain_record)
if [[ -f $OBJ/.config ]]; then
    if [[ ! -f $TOOLCHAIN_RECORD ]]; then
        note "$OBJ has no record of the toolchain that built it: removing it for a full build"
        rm -rf "$OBJ"
    elif [[ $(cat "$TOOLCHAIN_RECORD") != "$RECORD_NOW" ]]; then
        changed=$(diff <(cat "$TOOLCHAIN_RECORD") <(echo "$RECORD_NOW") | sed -n 's/^> //p' |
                  sed -E 's/ [^ ]+$//' | paste -sd, - | sed 's/,/, /g' || true)
        note "the toolchain changed since $OBJ was built (${changed:-its record}): removing it for a full build"
        rm -rf "$OBJ"
    fi
fi

T_BUILD=$(now)
mkdir -p "$OBJ"
echo "$RECORD_NOW" >"$TOOLCHAIN_RECORD"
BASE_CONFIG=tinyconfig
[[ $DEFCONFIG -eq 0 ]] || BASE_CONFIG=defconfig   # arch/x86/configs/x86_64_defconfig
{
    echo "### $BASE_CONFIG"
    make "${MAKE_ARGS[@]}" "$BASE_CONFIG"
    echo "### merge ${FRAGMENTS[*]}"
    "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "${FRAGMENTS[@]}"
    echo "### olddefconfig"
    make "${MAKE_ARGS[@]}" olddefconfig
} >>"$LOG" 2>&1 || die "configuration failed; see $LOG"

# Kconfig silently drops values whose dependencies are unmet: check every requested line stuck.
# A later fragment overrides an earlier one (as in merge_config.sh): the last line per symbol counts.
declare -A wanted=()
syms=()
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        sym=${BASH_REMATCH[1]}; want="$line"
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        sym=${BASH_REMATCH[1]}; want=""
    else
        continue
    fi
    [[ -v wanted[$sym] ]] || syms+=("$sym")
    wanted[$sym]=$want
done < <(cat "${FRAGMENTS[@]}")
bad=0
for sym in "${syms[@]}"; do
    want=${wanted[$sym]}
    got=$(grep -E "^($sym=|# $sym is not set)" "$OBJ/.config" || true)
    if [[ -z $want ]]; then
        [[ -z $got || $got == "# $sym is not set" ]] && continue
    else
        [[ $got == "$want" ]] && continue
    fi
    echo "$PROG: config: requested '${want:-# $sym is not set}', got '${got:-(absent)}'" >&2
    bad=1
done
[[ $bad -eq 0 ]] || die "the configuration does not match the fragments (dependencies unmet?)"
note "configured: $BASE_CONFIG + ${#FRAGMENTS[@]} fragment(s), $(grep -c '=y$' "$OBJ/.config") options =y, $(grep -c '=m$' "$OBJ/.config") =m"

# --- compile --------------------------------------------------------------------------------
# make runs in its own session so a signal to us can take down the whole make tree.
MAKE_PID=""
cleanup() {
    if [[ -n $MAKE_PID ]] && kill -0 "$MAKE_PID" 2>/dev/null; then
        kill -TERM -- "-$MAKE_PID" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$MAKE_PID" 2>/dev/null || true
    fi
}
trap 'cleanup; echo "$PROG: interrupted" >&2; exit 130' INT TERM
trap cleanup EXIT

# An earlier build in the same DIR makes this one incremental: build-time and annotate.log then
# cover only what was rebuilt.
INCREMENTAL=0
[[ -f $OBJ/vmlinux ]] && INCREMENTAL=1
TARGETS=(vmlinux bzImage)
grep -q '^CONFIG_MODULES=y' "$OBJ/.config" && TARGETS+=(modules)
echo "### make ${TARGETS[*]}" >>"$LOG"
setsid make "${MAKE_ARGS[@]}" -j"$JOBS" "${TARGETS[@]}" >>"$LOG" 2>&1 &
MAKE_PID=$!
count_objects() { grep -cE '^  (CC|AS)  ' "$LOG" || true; }
last_report=$(date +%s)
while kill -0 "$MAKE_PID" 2>/dev/null; do
    sleep 1
    if (( $(date +%s) - last_report >= 15 )); then
        last_report=$(date +%s)
        last=$(grep -E '^  [A-Z]+ ' "$LOG" | tail -n 1 | sed -E 's/^ +//') || true
        note "compiling: $(count_objects) objects so far (last: ${last:-none})"
    fi
done
set +e
wait "$MAKE_PID"
rc=$?
set -e
MAKE_PID=""
if [[ $rc -ne 0 ]]; then
    echo "$PROG: error: make failed (exit $rc) after $(elapsed "$T_BUILD")s, $(count_objects) objects compiled" >&2
    # make's "*** [file:line: target] Error N" lines name the failing targets, innermost first;
    # keep the files (objects, images), not the directories that failed because of them.
    targets=$(grep -oE '\*\*\* \[.*\] Error [0-9]+' "$LOG" | sed -E 's/^\*\*\* \[.*: ([^]]+)\] Error.*/\1/' |
              grep -E '\.[A-Za-z0-9_]+$' | grep -vE '^(\.|.*/\.)$' | awk '!seen[$0]++' || true)
    if [[ -n $targets ]]; then
        echo "failing file(s):" >&2
        sed 's/^/  /' <<<"$targets" >&2
    fi
    # The diagnostics: compiler/assembler "error:" lines, and whatever the failing tool printed
    # just before make's first "***" line (not every tool says "error").
    echo "errors:" >&2
    awk '
        /^### / { n = 0; next }                                      # a new stage of build.log
        /^#/ || /^[ \t]*$/ { next }
        /^make(\[[0-9]+\])?: \*\*\* / { if (!shown) for (i = 1; i <= n; i++) print ctx[i]; shown = 1; next }
        /error:|Error:|[Ff]atal/ && !shown { if (!(($0) in had)) { had[$0] = 1; ctx[++n] = $0 }; next }
        /^  [A-Z0-9_]+ +[^ ]/ || /^make(\[[0-9]+\])?: / { next }   # progress and directory chatter
        !shown { ctx[++n] = $0 }
        n > 12 { for (i = 1; i < n; i++) ctx[i] = ctx[i + 1]; n-- }
    ' "$LOG" | sed 's/^/  /' >&2 || true
    echo "full log: $LOG" >&2
    exit 1
fi
BUILD_SECONDS=$(elapsed "$T_BUILD")
echo "$BUILD_SECONDS" >"$OUT/build-time"
# CPU seconds (user + system) of everything this script waited for: configure and make with all
# its compilers. Unlike the wall time it hardly moves when others load the machine.
# (`times` itself runs here: in a $(...) subshell it would report that subshell's children.)
times >"$OUT/.times"
BUILD_CPU=$(awk 'NR == 2 {
    n = split($1 " " $2, t, " "); s = 0
    for (i = 1; i <= n; i++) { split(t[i], ms, /[ms]/); s += ms[1] * 60 + ms[2] }
    printf "%.1f", s }' "$OUT/.times")
rm -f "$OUT/.times"
echo "$BUILD_CPU" >"$OUT/build-cpu"
note "compiled: $(count_objects) objects in ${BUILD_SECONDS}s (${BUILD_CPU} CPU seconds)"

cp "$OBJ/vmlinux" "$OUT/vmlinux"
cp "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage"
cp "$OBJ/.config" "$OUT/config"
# Modules keep their path in the tree (two modules may share a name in different directories).
rm -rf "$OUT/modules"
MODULE_COUNT=0
if [[ " ${TARGETS[*]} " == *" modules "* ]]; then
    mkdir -p "$OUT/modules"
    while IFS= read -r -d '' ko; do
        rel=${ko#"$OBJ"/}
        mkdir -p "$OUT/modules/$(dirname "$rel")"
        cp "$ko" "$OUT/modules/$rel"
        MODULE_COUNT=$((MODULE_COUNT + 1))
    done < <(find "$OBJ" -name '*.ko' -not -path "$OBJ/modules/*" -print0)
    note "modules: $MODULE_COUNT copied to $OUT/modules"
fi

# --- initramfs ------------------------------------------------------------------------------
STAGE=$(mktemp -d)
trap 'cleanup; rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,root,tmp}
cp /bin/busybox "$STAGE/bin/busybox"
install -m 0755 "$INIT_SCRIPT" "$STAGE/init"
install -m 0755 "$WORKLOAD_SCRIPT" "$STAGE/bin/afterburn-workload"
# The microbenchmark of `afterburn bench` (init in its place: rdinit=/bin/afterburn-bench). A
# user program, so the stock compiler; static, as nothing in the initramfs has a libc.
gcc -static -O2 -Wall -Wextra -Werror -o "$STAGE/bin/afterburn-bench" "$BENCH_SOURCE" >>"$LOG" 2>&1 ||
    die "cannot compile $BENCH_SOURCE; see $LOG"
# Fixed timestamps and owners: the same inputs give a byte-identical archive.
find "$STAGE" -exec touch -h -d @0 {} +
(cd "$STAGE" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >"$OUT/initramfs.cpio.gz" ||
    die "cannot build the initramfs"
note "initramfs: busybox $(/bin/busybox 2>&1 | head -n 1 | awk '{print $2}') + /init + workload + afterburn-bench"

# --- verify ---------------------------------------------------------------------------------
[[ $(head -c 4 "$OUT/vmlinux" | od -An -c | tr -d ' ') == '177ELF' ]] || die "vmlinux is not an ELF file"
# PVH entry (XEN_ELFNOTE_PHYS32_ENTRY, type 18) is what lets QEMU -kernel load the ELF.
readelf -nW "$OUT/vmlinux" | grep -E '^ *Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+(Unknown note type: \(0x00000012\)|[A-Z_]*PHYS32_ENTRY)' >/dev/null ||
    die "vmlinux has no PVH (Xen PHYS32_ENTRY) note; check CONFIG_PVH"
# A PV kernel's entry note (XEN_ELFNOTE_ENTRY, type 1) is what Xen's dom0 builder starts;
# readelf names type 1 generically (NT_VERSION) whatever the owner.
if [[ $MODE == xenolinux ]]; then
    readelf -nW "$OUT/vmlinux" | grep -E '^ *Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+(Unknown note type: \(0x00000001\)|NT_VERSION|XEN_ELFNOTE_ENTRY)' >/dev/null ||
        die "vmlinux has no Xen PV entry note; check CONFIG_XEN_PV"
fi
[[ $(dd if="$OUT/bzImage" bs=1 skip=514 count=4 status=none) == HdrS ]] || die "bzImage lacks the HdrS boot header"
gzip -t "$OUT/initramfs.cpio.gz" || die "initramfs.cpio.gz is not a valid gzip file"
listing=$(gzip -dc "$OUT/initramfs.cpio.gz" | cpio -it --quiet)
for f in init bin/busybox bin/afterburn-workload bin/afterburn-bench; do
    grep -qx "$f" <<<"$listing" || die "initramfs lacks $f"
done
if [[ $MODE == afterburn ]]; then
    [[ -s $AFTERBURN_REPORT ]] || echo "$PROG: warning: $AFTERBURN_REPORT is empty: afterburn-as reported no objects" >&2
    # The proof that nothing sensitive was missed, for the kernel and every module it built.
    if [[ $MODULE_COUNT -eq 0 ]]; then note "scanning vmlinux"; else note "scanning vmlinux and $MODULE_COUNT modules"; fi
    scan_inputs=("$OUT/vmlinux")
    [[ $MODULE_COUNT -eq 0 ]] || scan_inputs+=("$OUT/modules")
    "$AFTERBURN" scan "${scan_inputs[@]}" >"$OUT/scan.log" 2>&1 ||
        { tail -n 30 "$OUT/scan.log" >&2; die "afterburn scan found unannotated sites or bad records; see $OUT/scan.log"; }
fi

# --- summary --------------------------------------------------------------------------------
text_size=$(size -A "$OUT/vmlinux" | awk '$1 == ".text" { print $2 }')
echo
echo "afterburn build-linux: Linux $KVER ($MODE) built in ${BUILD_SECONDS}s (total $(elapsed "$T_START")s)"
printf '  %-18s %10s bytes  (.text %s bytes)\n' vmlinux "$(stat -c %s "$OUT/vmlinux")" "$text_size"
printf '  %-18s %10s bytes\n' bzImage "$(stat -c %s "$OUT/bzImage")"
printf '  %-18s %10s bytes\n' initramfs.cpio.gz "$(stat -c %s "$OUT/initramfs.cpio.gz")"
[[ $MODULE_COUNT -eq 0 ]] || printf '  %-18s %10s files, %s bytes\n' modules/ "$MODULE_COUNT" "$(du -sb "$OUT/modules" | cut -f1)"
if [[ $MODE == afterburn ]]; then
    # afterburn-as writes "... sites=N ..." per object; sum them when the field is there.
    # (grep finds nothing when an incremental build recompiled no object: that is 0, not an error.)
    sites=$({ grep -oE '(^|[[:space:]])sites=[0-9]+' "$AFTERBURN_REPORT" || true; } | awk -F= '{ s += $2 } END { print s + 0 }')
    # Of those, the page-table accesses the compiler pass marked (page_table=N, docs/annotation-format.md).
    pt_sites=$({ grep -oE '(^|[[:space:]])page_table=[0-9]+' "$AFTERBURN_REPORT" || true; } | awk -F= '{ s += $2 } END { print s + 0 }')
    printf '  %-18s %10s lines (objects), %s annotated sites (%s page-table accesses)\n' annotate.log \
        "$(wc -l <"$AFTERBURN_REPORT")" "$sites" "$pt_sites"
    # 16/32-bit code (boot, realmode) is assembled unannotated: say how much there is.
    awk -F'\t' '
        { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
        f["bits"] == 32 { objs32++; s32 += f["narrow_sensitive"] }
        f["bits"] == 64 && f["narrow_sensitive"] > 0 { objs64++; s64 += f["narrow_sensitive"] }
        f["unannotated"] > 0 { missed += f["unannotated"]; missed_objs++ }
        { delete f }
        END {
            printf "  %-18s %d objects with %d sensitive instructions, left unannotated\n", "16/32-bit objects", objs32, s32
            printf "  %-18s %d objects with %d sensitive instructions, marked as regions\n", ".code16/.code32", objs64, s64
            if (missed) printf "  WARNING: %d sensitive instructions in %d objects were not annotated (see build.log)\n", missed, missed_objs
        }' "$AFTERBURN_REPORT"
fi
[[ $MODE != afterburn ]] || echo "  scan: $(tail -n 1 "$OUT/scan.log")"
echo "  config, build.log, build-time in $OUT"
if [[ $INCREMENTAL -eq 1 ]]; then
    echo "  note: incremental build (DIR/obj existed): build-time and annotate.log cover only the rebuilt part;"
    echo "        remove $OBJ for a full build"
fi
if [[ $MODE == xenolinux ]]; then
    echo "  boot: afterburn boot --on xenolinux $OUT/vmlinux --initrd $OUT/initramfs.cpio.gz"
else
    echo "  boot: afterburn boot --on native $OUT/vmlinux --initrd $OUT/initramfs.cpio.gz"
fi
