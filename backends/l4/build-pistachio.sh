#!/usr/bin/env bash
# build-pistachio.sh: build L4Ka::Pistachio's amd64 kernel, sigma0 and kickstart from a checkout
# the user brings (github l4ka/pistachio), with Debian 12's GCC 12 and binutils 2.40.
#
# Stages: check arguments and the checkout -> check (install as root) Debian packages -> copy
# the checkout to OUT/src (the user's checkout is never written) -> apply our fixes
# (backends/l4/patches/*.patch, in order) -> kernel: a build directory OUT/kernel-build
# configured from pistachio-x64.config (no Python 2 needed), make -> user level: autoheader +
# autoconf, configure in OUT/user-build, make lib, serv (sigma0), util (kickstart) and
# apps/grabmem (a small root task; kickstart needs three modules) -> copy the binaries to OUT,
# one summary line each. docs/l4-backend.md explains every step and every fix.
set -euo pipefail

readonly PROG=build-pistachio.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly PATCH_DIR=$HERE/patches
readonly KERNEL_CONFIG=$HERE/pistachio-x64.config

usage() {
    cat <<EOF
Usage: $PROG [--jobs N] SRC OUT
       $PROG --help

Builds L4Ka::Pistachio for amd64 from the checkout SRC (git clone
https://github.com/l4ka/pistachio) with the Debian 12 toolchain.

  SRC          a Pistachio checkout (kernel/ and user/ at its top); it is only read
  OUT          output directory (created); rebuilt from scratch on every run
  -j, --jobs N parallel make jobs (default: 2)
  -h, --help   this text

SRC is copied to OUT/src and our fixes (patches/ beside this script, each explained in
docs/l4-backend.md) are applied to the copy. The kernel is configured from
pistachio-x64.config beside this script (no Python 2 needed).

OUT receives:
  x86-kernel   the kernel (ELF64; generic x86-64 "P4" CPU, uniprocessor, kernel debugger on COM1)
  sigma0       the root pager (ELF64)
  kickstart    the multiboot loader (ELF32; QEMU -kernel loads it)
  grabmem      a small Pistachio program used as the root task (kickstart needs three modules)
  build.log    every command's output
  src/, kernel-build/, user-build/   the patched copy and the two build directories

Missing Debian packages are installed with apt-get when run as root; otherwise they are
named with the apt-get line to run. Boot the result with check-pistachio-boot.sh OUT.
EOF
}

usage_error() { echo "$PROG: error: $*" >&2; echo "Try '$PROG --help'." >&2; exit 2; }
die() { echo "$PROG: error: $*" >&2; exit 1; }
note() { echo "$PROG: $*"; }

# --- arguments ----------------------------------------------------------------------------
JOBS=2
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        -j|--jobs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage_error "$1 needs a positive number"
            JOBS=$2; shift 2 ;;
        --jobs=*)
            JOBS=${1#--jobs=}
            [[ $JOBS =~ ^[1-9][0-9]*$ ]] || usage_error "--jobs needs a positive number"
            shift ;;
        --) shift; args+=("$@"); break ;;
        -*) usage_error "unknown option: $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[[ ${#args[@]} -eq 2 ]] || usage_error "expected SRC and OUT, got ${#args[@]} argument(s)"
SRC_ARG=${args[0]} OUT_ARG=${args[1]}

[[ -d $SRC_ARG ]] || usage_error "SRC is not a directory: $SRC_ARG"
SRC=$(cd "$SRC_ARG" && pwd)
# What a Pistachio checkout has: the kernel's Makefiles and CML rules, the user level's
# autoconf input, sigma0 and kickstart.
for f in kernel/Makefile kernel/Mk/Makeconf kernel/Mk/Makeconf.x86 kernel/config/rules.cml \
         kernel/config/template/Makefile kernel/src/platform/pc99/startup.S \
         user/configure.in user/config.mk.in user/serv/sigma0/sigma0.cc \
         user/util/kickstart/mbi-loader.cc; do
    [[ -f $SRC/$f ]] || usage_error "SRC is not a Pistachio checkout (no $f in $SRC);
  get one with: git clone https://github.com/l4ka/pistachio"
done

# Check OUT's path before creating anything.
OUT=$(realpath -m -- "$OUT_ARG")
case $OUT/ in
    "$SRC"/*) usage_error "OUT must not be inside SRC (the checkout is only read): $OUT" ;;
esac
[[ $OUT =~ ^[A-Za-z0-9_./+-]+$ ]] ||
    usage_error "OUT's path must not contain spaces or shell characters (Pistachio's Makefiles): $OUT"
if ! mkdir -p "$OUT" 2>/dev/null; then usage_error "cannot create OUT: $OUT"; fi
OUT=$(cd "$OUT" && pwd -P)
[[ -w $OUT ]] || usage_error "OUT is not writable: $OUT"

LOG=$OUT/build.log
: >"$LOG" 2>/dev/null || usage_error "OUT is not writable: $OUT"
# run CMD...: run a command with its output in the build log; on failure show the log's tail.
run() {
    echo "+ $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        echo "$PROG: error: failed: $*" >&2
        echo "---- last lines of $LOG ----" >&2
        tail -n 25 "$LOG" >&2
        exit 1
    fi
}

# --- Debian packages ----------------------------------------------------------------------
# g++: the kernel's C++ goes through the gcc driver, which needs cc1plus. autoconf: the user
# level ships configure.in only. perl, awk: the kernel's build scripts. patch: our fixes.
missing=()
for pair in gcc:gcc g++:g++ make:make ld:binutils objcopy:binutils autoconf:autoconf \
            autoheader:autoconf patch:patch perl:perl awk:mawk; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
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

# --- copy the checkout and apply our fixes ------------------------------------------------
# A copy, so the user's checkout stays exactly as it was (and a second run starts clean).
note "copying $SRC to $OUT/src"
rm -rf "$OUT/src" "$OUT/kernel-build" "$OUT/user-build"
rm -f "$OUT/x86-kernel" "$OUT/sigma0" "$OUT/kickstart" "$OUT/grabmem"
mkdir -p "$OUT/src"
run tar -C "$SRC" --exclude=./.git -cf "$OUT/src.tar" .
run tar -C "$OUT/src" -xf "$OUT/src.tar"
rm -f "$OUT/src.tar"
if git -C "$SRC" rev-parse --short HEAD >/dev/null 2>&1; then
    note "checkout: $(git -C "$SRC" rev-parse --short HEAD)$(git -C "$SRC" status --porcelain 2>/dev/null | grep -q . && echo ' (with local changes)')"
fi

shopt -s nullglob
patches=("$PATCH_DIR"/[0-9][0-9][0-9][0-9]-*.patch)
[[ ${#patches[@]} -gt 0 ]] || die "no patches in $PATCH_DIR"
for p in "${patches[@]}"; do
    # --forward: never reverse a hunk silently; a fix that does not apply fails the build.
    if ! patch -d "$OUT/src" -p1 --forward --no-backup-if-mismatch -s <"$p" >>"$LOG" 2>&1; then
        die "$(basename "$p") does not apply to this checkout (see $LOG); the patches are made
  for l4ka/pistachio 8be66aa9 (github master); docs/l4-backend.md says what each one fixes"
    fi
    note "applied $(basename "$p")"
done

# --- kernel -------------------------------------------------------------------------------
KB=$OUT/kernel-build
note "kernel: configuring $KB from $(basename "$KERNEL_CONFIG")"
# Pistachio's own way to make a build directory: copy config/template, point Makeconf.local
# at the source.
run make -C "$OUT/src/kernel" BUILDDIR="$KB"
[[ -f $KB/Makeconf.local ]] || die "kernel build directory not created (see $LOG)"
# The configuration CML2 would write (pistachio-x64.config explains the translation).
grep '^CONFIG_[A-Z0-9_]*=' "$KERNEL_CONFIG" >"$KB/config/config.out"
awk -F= '
    BEGIN { print "/* afterburn build-pistachio.sh: from pistachio-x64.config */" }
    $2 == "y" { printf "#define %s 1\n", $1; next }
    $2 == "n" { printf "#undef  %s\n", $1; next }
              { printf "#define %s %s\n", $1, $2 }
    END   { print "#define AUTOCONF_INCLUDED" }' "$KB/config/config.out" >"$KB/config/config.h"
awk -F= '
    $2 == "n" { printf "# %s is not set\n", $1; next }
              { print }' "$KB/config/config.out" >"$KB/config/.config"
# Makeconf.local: what config/Makefile derives from the answers after a CML2 run.
sed -i -e 's/^ARCH *=.*/ARCH=x86/' -e 's/^SUBARCH *=.*/SUBARCH=x64/' -e 's/^CPU *=.*/CPU=p4/' \
       -e 's/^PLATFORM *=.*/PLATFORM=pc99/' -e 's/^SCHED *=.*/SCHED=rr/' "$KB/Makeconf.local"
note "kernel: make -j$JOBS"
run make -C "$KB" -j"$JOBS"
[[ -f $KB/x86-kernel ]] || die "the kernel was not built (see $LOG)"

# --- user level ---------------------------------------------------------------------------
UB=$OUT/user-build
note "user level: autoheader, autoconf, configure"
(cd "$OUT/src/user" && run autoheader && run autoconf)
mkdir -p "$UB"
# COM1 (port 0) at 115200 baud for sigma0's and kickstart's output, like the kernel debugger.
# kickstart at 64 MiB, not amd64's default 1 MiB: QEMU puts the multiboot modules right after
# kickstart, and from 1 MiB a large guest (Linux's vmlinux is ~14 MiB) covers the addresses the
# kernel (6 MiB), sigma0 (15 MiB) and the wedge (32 MiB) are loaded at, which kickstart refuses.
(cd "$UB" && run "$OUT/src/user/configure" --with-kerneldir="$KB" --with-comport=0 --with-comspeed=115200 \
                 --with-kickstart-linkbase=04000000)
note "user level: make lib serv util apps/grabmem"
# The user level's own 'make' also builds apps/l4test and apps/bench, which do not link
# with GCC 12 yet (docs/l4-backend.md, "Not done yet"); build only what this step needs.
for d in lib serv util apps/grabmem; do
    run make -C "$UB/$d" -j"$JOBS"
done

# --- results ------------------------------------------------------------------------------
cp "$KB/x86-kernel" "$OUT/x86-kernel"
cp "$UB/serv/sigma0/sigma0" "$OUT/sigma0"
cp "$UB/util/kickstart/kickstart" "$OUT/kickstart"
cp "$UB/apps/grabmem/grabmem" "$OUT/grabmem"

# summary FILE EXPECTED-CLASS EXPECTED-MACHINE: one line; fails if the ELF is not what we built.
summary() {
    local f=$1 want_class=$2 want_machine=$3 class machine entry size
    class=$(LC_ALL=C readelf -h "$OUT/$f" | awk -F: '/Class:/ { gsub(/ /, "", $2); print $2 }')
    machine=$(LC_ALL=C readelf -h "$OUT/$f" | awk -F: '/Machine:/ { sub(/^ +/, "", $2); print $2 }')
    entry=$(LC_ALL=C readelf -h "$OUT/$f" | awk -F: '/Entry point/ { gsub(/ /, "", $2); print $2 }')
    size=$(stat -c %s "$OUT/$f")
    [[ $class == "$want_class" && $machine == "$want_machine" ]] ||
        die "$f is $class $machine, expected $want_class $want_machine"
    printf '%s: %-10s %s %s, entry %s, %s bytes, sha256 %s\n' "$PROG" "$f" "$class" "$machine" \
        "$entry" "$size" "$(sha256sum "$OUT/$f" | cut -c1-16)"
}
summary x86-kernel ELF64 "Advanced Micro Devices X86-64"
summary sigma0 ELF64 "Advanced Micro Devices X86-64"
summary kickstart ELF32 "Intel 80386"
summary grabmem ELF64 "Advanced Micro Devices X86-64"
note "done; boot it with: $HERE/check-pistachio-boot.sh $OUT"
