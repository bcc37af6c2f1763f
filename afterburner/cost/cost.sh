#!/usr/bin/env bash
# afterburn cost: the engineering-cost table of pre-virtualization against para-virtualization,
# measured: the guest source lines afterburn changes (the tree it builds from against Debian's
# pristine tarball: tar --compare), the code lines of afterburn's own components, and the code
# lines Linux 6.1 carries for Xen PV in that very tree, all counted by Debian's cloc.
#
# Installed (by CMake) as build/libexec/afterburn/cost and run as `afterburn cost`.
# Every path list lives in this file (the "path lists" section); --paths prints them and
# docs/cost.md says why each path is where it is.
set -euo pipefail -o errtrace
# Anything that fails unexpectedly is an error (2), never the "tree differs" status (1).
trap 'echo "afterburn cost: error: unexpected failure (line $LINENO: $BASH_COMMAND)" >&2; exit 2' ERR

readonly PROG="afterburn cost"
readonly DEFAULT_TARBALL=/usr/src/linux-source-6.1.tar.xz

# --- path lists ----------------------------------------------------------------------------
# afterburn's side, relative to its source tree. The components in AB_COST are the cost;
# the others are reported but not counted. A file of a cost component that matches
# AB_TEST_RULE is a test: it is moved to "tests".
readonly AB_COST=(toolchain rewriter wedge launcher build backend_xen backend_linux backend_l4)
readonly AB_OTHER=(tests bench samples scripts)
declare -A AB_PATHS=(
    [toolchain]="afterburner"
    [rewriter]="rewriter"
    [wedge]="wedge"
    [launcher]="launcher"
    [build]="CMakeLists.txt backends/CMakeLists.txt cmake"
    [backend_xen]="backends/xen"
    [backend_linux]="backends/linux"
    [backend_l4]="backends/l4"
    [tests]="tests"
    [bench]="bench"
    [samples]="samples"
    [scripts]="scripts .ci"
)
declare -A AB_LABEL=(
    [toolchain]="toolchain: as, cc, GCC plugin, scan, build-linux..."
    [rewriter]="rewriter core (freestanding)"
    [wedge]="wedge core (freestanding)"
    [launcher]="launcher: afterburn boot, native backend"
    [build]="build system (CMake)"
    [backend_xen]="backend Xen: PV wedge, shadow paging, glue"
    [backend_linux]="backend Linux/KVM: VMM, wedge, nested L1, glue"
    [backend_l4]="backend L4"
    [tests]="tests (tests/, test files of the components)"
    [bench]="benchmarks"
    [samples]="samples: sample guest, Linux config, initramfs"
    [scripts]="set-up and CI scripts"
)
readonly AB_TEST_RULE='(^|/)tests/|(^|/)(test|check)-[^/]*$|_test\.(c|cc|cpp|h)$'

# Linux's side, relative to the Linux tree. A path is a file or a directory (all files under
# it); LX_EXCLUDE takes files or directories out of a group. LX_CORE is the headline: what a
# 64-bit x86 Xen PV guest (SMP, with its console) builds; LX_OTHER is the rest of Linux's Xen
# code. The two hooks groups are not path lists: they are the lines inside #if blocks on the
# symbols below, in files of no other group (measured with unifdef, see count_hooks).
readonly LX_CORE=(arch_pv asm_xen include_xen drivers_core console pv_ops hooks_pv)
readonly LX_OTHER=(arch_hvm_pvh drivers_optional frontends backends paravirt_shared hooks_other)
declare -A LX_PATHS=(
    [arch_pv]="arch/x86/xen"
    [asm_xen]="arch/x86/include/asm/xen"
    [include_xen]="include/xen"
    [drivers_core]="drivers/xen/Makefile drivers/xen/grant-table.c drivers/xen/features.c
        drivers/xen/balloon.c drivers/xen/manage.c drivers/xen/time.c drivers/xen/mem-reservation.c
        drivers/xen/cpu_hotplug.c drivers/xen/events drivers/xen/xenbus"
    [console]="drivers/tty/hvc/hvc_xen.c"
    [pv_ops]="arch/x86/kernel/paravirt.c arch/x86/kernel/paravirt-spinlocks.c
        arch/x86/include/asm/paravirt.h arch/x86/include/asm/paravirt_types.h
        arch/x86/include/asm/paravirt_api_clock.h"
    [arch_hvm_pvh]="arch/x86/xen/enlighten_hvm.c arch/x86/xen/mmu_hvm.c arch/x86/xen/suspend_hvm.c
        arch/x86/xen/smp_hvm.c arch/x86/xen/platform-pci-unplug.c arch/x86/xen/enlighten_pvh.c
        drivers/xen/platform-pci.c"
    [drivers_optional]="drivers/xen arch/x86/xen/efi.c arch/x86/xen/vga.c arch/x86/xen/debugfs.c
        arch/x86/xen/debugfs.h arch/x86/xen/trace.c include/trace/events/xen.h include/uapi/xen
        arch/x86/pci/xen.c"
    [frontends]="drivers/block/xen-blkfront.c drivers/net/xen-netfront.c drivers/input/misc/xen-kbdfront.c
        drivers/video/fbdev/xen-fbfront.c drivers/pci/xen-pcifront.c drivers/scsi/xen-scsifront.c
        drivers/char/tpm/xen-tpmfront.c drivers/gpu/drm/xen sound/xen drivers/usb/host/xen-hcd.c
        drivers/watchdog/xen_wdt.c net/9p/trans_xen.c drivers/xen/pvcalls-front.c drivers/xen/pvcalls-front.h"
    [backends]="drivers/block/xen-blkback drivers/net/xen-netback drivers/xen/xen-pciback
        drivers/xen/xen-scsiback.c drivers/xen/pvcalls-back.c drivers/xen/xenbus/xenbus_probe_backend.c
        drivers/xen/xenbus/xenbus_dev_backend.c"
    [paravirt_shared]="arch/x86/include/asm/qspinlock_paravirt.h kernel/locking/qspinlock_paravirt.h"
)
declare -A LX_EXCLUDE=(
    [arch_pv]="${LX_PATHS[arch_hvm_pvh]} arch/x86/xen/efi.c arch/x86/xen/vga.c arch/x86/xen/debugfs.c
        arch/x86/xen/debugfs.h arch/x86/xen/trace.c"
    [include_xen]="include/xen/arm"
    [drivers_core]="drivers/xen/xenbus/xenbus_probe_backend.c drivers/xen/xenbus/xenbus_dev_backend.c"
    [arch_hvm_pvh]=""
    [drivers_optional]="${LX_PATHS[drivers_core]} drivers/xen/platform-pci.c drivers/xen/pvcalls-front.c
        drivers/xen/pvcalls-front.h drivers/xen/xen-pciback drivers/xen/xen-scsiback.c drivers/xen/pvcalls-back.c"
)
declare -A LX_LABEL=(
    [arch_pv]="arch/x86/xen: the PV port"
    [asm_xen]="arch/x86/include/asm/xen: hypercalls, ABI"
    [include_xen]="include/xen (with interface/, the Xen ABI)"
    [drivers_core]="drivers/xen core: events, xenbus, grants, ..."
    [console]="drivers/tty/hvc/hvc_xen.c: the PV console"
    [pv_ops]="pv_ops: paravirt*.c, paravirt*.h"
    [hooks_pv]="#if PARAVIRT_XXL/XEN/XEN_PV blocks elsewhere"
    [arch_hvm_pvh]="HVM/PVH enlightenments"
    [drivers_optional]="dom0, /dev/xen, optional features"
    [frontends]="PV device frontends (blk, net, ...)"
    [backends]="PV device backends (blkback, netback, ...)"
    [paravirt_shared]="PV spinlocks (shared with KVM)"
    [hooks_other]="other #if PARAVIRT*/XEN_* blocks elsewhere"
)
# Directories whose every file must belong to exactly one group (a new file in a Debian upload
# is an error until it is placed). LX_NOT_X86 is ARM's Xen code: in no group, no hook.
readonly LX_COVERED="arch/x86/xen arch/x86/include/asm/xen include/xen drivers/xen"
readonly LX_NOT_X86="include/xen/arm drivers/firmware/efi/fdtparams.c"
# Hooks: where to look (arch/x86 of the architectures; no tools/, Documentation/, scripts/),
# the symbols whose #if blocks are the PV core's, and files that belong to other hypervisors.
readonly HOOK_SKIP_TOP="arch tools Documentation scripts samples usr LICENSES"
readonly HOOK_CORE_SYMBOLS="CONFIG_PARAVIRT_XXL CONFIG_XEN CONFIG_XEN_PV CONFIG_XEN_PV_SMP"
readonly HOOK_SYMBOL_RE='CONFIG_(XEN|PARAVIRT)[A-Z0-9_]*'
readonly HOOK_OTHER_HYPERVISORS="arch/x86/kernel/kvm.c arch/x86/include/asm/kvm_para.h
    arch/x86/kernel/cpu/mshyperv.c arch/x86/kernel/cpu/vmware.c drivers/clocksource/hyperv_timer.c"
# Files build-linux itself adds to the unpacked tree: not changes to the guest source.
readonly TREE_OWN_FILES=".afterburn-unpacked"
# cloc: code lines only; these "languages" are prose, not code.
readonly CLOC_OPTS=(--skip-uniqueness --exclude-lang=Text,Markdown --csv --quiet)

usage() {
    cat <<EOF
Usage: afterburn cost [--json] [--tree DIR] [--source TARBALL] [--compare PATH]...
                      [--no-compare | --diff-only] [--files]
       afterburn cost --paths

The engineering-cost table, measured with Debian's cloc (code lines: no comments, no blank
lines): the lines of afterburn's toolchain, rewriter, wedge core and each backend, against the
lines Linux 6.1 carries for Xen para-virtualization in the very tree afterburn builds from;
and the guest source lines afterburn changed: that tree compared with Debian's pristine
tarball (tar --compare), which must be 0.

  --json            one JSON object instead of the table
  --tree DIR        the unpacked Linux tree (default: the one \`afterburn build-linux\`
                    builds from, unpacked on demand: build-linux --unpack-only)
  --source TARBALL  the pristine source (default: $DEFAULT_TARBALL,
                    Debian package linux-source-6.1)
  --compare PATH    compare only PATH (relative to the tree) with the tarball; may be
                    repeated (default: the whole tree, about 10 s here)
  --no-compare      count only; the guest's changed lines are then not measured (null)
  --diff-only       compare only; no line counts (cloc is not needed)
  --files           also list every counted file, one "group<TAB>path" per line
  --paths           print the path lists (afterburn's components, Linux's Xen groups) and exit
  -h, --help        this text

Exit status: 0 the tree is Debian's source; 1 it differs (the differences are named and
their lines counted); 2 bad arguments or a missing tool, tree or tarball.
See docs/cost.md for what is counted and why.
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- locations ------------------------------------------------------------------------------
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# CMake substitutes these; run straight from the source tree they stay unexpanded.
SOURCE_DIR="@AFTERBURN_SOURCE_DIR@"
if [[ $SOURCE_DIR == @*@ ]]; then SOURCE_DIR=$(cd "$SCRIPT_DIR/../.." && pwd); fi
readonly BUILD_LINUX=$SCRIPT_DIR/build-linux

# --- arguments ------------------------------------------------------------------------------
JSON=0 TREE="" TARBALL=$DEFAULT_TARBALL COMPARE=1 COUNT=1 LIST_FILES=0 PATHS_ONLY=0
COMPARE_PATHS=()
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs an argument (see --help)"; }
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --json) JSON=1; shift ;;
        --tree) need_arg "$@"; TREE=$2; shift 2 ;;
        --source) need_arg "$@"; TARBALL=$2; shift 2 ;;
        --compare) need_arg "$@"; COMPARE_PATHS+=("$2"); shift 2 ;;
        --no-compare) COMPARE=0; shift ;;
        --diff-only) COUNT=0; shift ;;
        --files) LIST_FILES=1; shift ;;
        --paths) PATHS_ONLY=1; shift ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $COMPARE -eq 1 || $COUNT -eq 1 ]] || die "--no-compare and --diff-only leave nothing to do"
[[ $COMPARE -eq 1 || ${#COMPARE_PATHS[@]} -eq 0 ]] || die "--compare and --no-compare contradict each other"
[[ $LIST_FILES -eq 0 || $JSON -eq 0 ]] || die "--files lists files as text; it cannot be combined with --json"
[[ $LIST_FILES -eq 0 || $COUNT -eq 1 ]] || die "--files lists the counted files; --diff-only counts none"
for p in "${COMPARE_PATHS[@]}"; do
    # Paths become tar member patterns: no globbing characters, no way out of the tree.
    [[ $p != /* && $p != *..* && $p =~ ^[A-Za-z0-9._/+-]+$ ]] ||
        die "--compare wants a plain path inside the tree (letters, digits, . _ / + -), got '$p'"
done

# --paths: the lists, straight from the arrays above.
print_paths() {
    echo "afterburn (relative to $SOURCE_DIR):"
    local c
    for c in "${AB_COST[@]}"; do printf '  cost     %-14s %s\n' "$c" "${AB_PATHS[$c]}"; done
    for c in "${AB_OTHER[@]}"; do printf '  not cost %-14s %s\n' "$c" "${AB_PATHS[$c]}"; done
    echo "  test files moved from the cost components to tests: paths matching /$AB_TEST_RULE/"
    echo "Linux (relative to the tree):"
    local g kind
    for g in "${LX_CORE[@]}" "${LX_OTHER[@]}"; do
        kind="other"; [[ " ${LX_CORE[*]} " == *" $g "* ]] && kind="core "
        case $g in
            hooks_pv) printf '  %s %-16s #if blocks on %s\n' "$kind" "$g" "$HOOK_CORE_SYMBOLS" ;;
            hooks_other) printf '  %s %-16s #if blocks on the other %s symbols found\n' "$kind" "$g" "$HOOK_SYMBOL_RE" ;;
            *) printf '  %s %-16s %s\n' "$kind" "$g" "$(echo ${LX_PATHS[$g]})"
               [[ -z ${LX_EXCLUDE[$g]:-} ]] || printf '  %22s except %s\n' "" "$(echo ${LX_EXCLUDE[$g]})" ;;
        esac
    done
    echo "  every file under $LX_COVERED (but $LX_NOT_X86) is in exactly one group"
    echo "  hooks: C/asm files of the tree but $HOOK_SKIP_TOP (arch/x86 kept), not in a group above,"
    echo "         not ARM's ($LX_NOT_X86), not another hypervisor's ($(echo $HOOK_OTHER_HYPERVISORS))"
    echo "not guest changes: files build-linux adds to the tree: $TREE_OWN_FILES"
}
if [[ $PATHS_ONLY -eq 1 ]]; then print_paths; exit 0; fi

# --- tools ----------------------------------------------------------------------------------
if [[ $COUNT -eq 1 ]]; then
    command -v cloc >/dev/null 2>&1 || die "cloc not found: install Debian's counter: apt-get install cloc"
    command -v unifdef >/dev/null 2>&1 || die "unifdef not found (it measures the #if hooks): apt-get install unifdef"
    CLOC_VERSION=$(cloc --version) || die "cloc --version failed"
fi
for tool in tar xz diff find sort comm awk grep; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# --- the Linux tree -------------------------------------------------------------------------
if [[ $COMPARE -eq 1 ]]; then
    [[ -f $TARBALL ]] || die "kernel source tarball not found: $TARBALL
  install it: apt-get install linux-source-6.1 (or name another with --source)"
    TARBALL=$(realpath "$TARBALL")
fi
if [[ -z $TREE ]]; then
    [[ -x $BUILD_LINUX ]] || die "build-linux not found next to this program ($BUILD_LINUX); give --tree DIR"
    note "asking build-linux for its source tree (it unpacks $TARBALL once if needed, ~10 s here)"
    if ! bl_out=$("$BUILD_LINUX" --unpack-only --source "$TARBALL" 2>&1); then
        echo "$bl_out" >&2
        die "build-linux --unpack-only failed (see above); or give the tree with --tree DIR"
    fi
    TREE=$(tail -n 1 <<<"$bl_out")
fi
[[ -d $TREE ]] || die "Linux tree not found: $TREE
  unpack it with: afterburn build-linux --unpack-only (or give --tree DIR)"
TREE=$(realpath "$TREE")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/afterburn-cost.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- guest source lines changed -------------------------------------------------------------
# tar --compare reads the tarball once (decompressing ~1.3 GB) and checks every member against
# the tree: content, size, type, link target, mode, owner and mtime. Content differences and
# missing files are changes; mode/owner/mtime alone are noted, not counted. tar cannot see files
# the tarball lacks, so the tree is also listed and the two lists compared.
D_ENTRIES=0 D_CHANGED=0 D_MISSING=0 D_ADDED=0 D_METADATA=0 D_PLUS=0 D_MINUS=0 D_LINES=0 D_SECONDS=0
D_REPORT=()   # one line per difference, for the table and the JSON

# changed_lines OLD NEW: "added removed changed" for one file, from diff's hunks: a hunk that
# replaces m lines by n changes max(m, n) lines, so one edited line is one changed line.
changed_lines() {
    local rc=0 out
    out=$(diff -a "$1" "$2") || rc=$?
    [[ $rc -le 1 ]] || die "diff $1 $2 failed"
    awk '/^[0-9]/ {
            split($0, p, /[acd]/); op = substr($0, length(p[1]) + 1, 1)
            n1 = split(p[1], a, ","); old = (n1 == 2 ? a[2] - a[1] + 1 : 1)
            n2 = split(p[2], b, ","); new = (n2 == 2 ? b[2] - b[1] + 1 : 1)
            if (op == "a") old = 0
            if (op == "d") new = 0
            plus += new; minus += old; changed += (new > old ? new : old)
         }
         END { printf "%d %d %d\n", plus, minus, changed }' <<<"$out"
}
file_lines() { if [[ -f $1 && ! -L $1 ]]; then awk 'END { print NR }' "$1"; else echo 0; fi; }

compare_tree() {
    local t0 log=$WORK/compare.log rc=0
    t0=$(now)
    local patterns=()
    for p in "${COMPARE_PATHS[@]}"; do patterns+=("*/${p%/}"); done
    note "comparing $TREE with $TARBALL (tar --compare${COMPARE_PATHS[*]:+ of ${COMPARE_PATHS[*]}})"
    # Member names keep the tarball's top directory; the transform maps it onto the tree
    # (not symlink targets: S). Verbose lines name members; difference lines start with "./".
    echo 0 >"$WORK/tar.rc"
    { tar --compare --verbose --quoting-style=literal -f "$TARBALL" -C "$TREE" \
          --transform 's|^[^/]*|.|S' --wildcards --no-wildcards-match-slash "${patterns[@]}" 2>&1 ||
          echo $? >"$WORK/tar.rc"; } |
        awk -v logfile="$log" -v prog="$PROG" -v t0="$t0" '
            { print > logfile }
            !/^tar: / && !/^\.\// && ++n % 20000 == 0 {
                "date +%s.%N" | getline t; close("date +%s.%N")
                printf "%s: compared %d entries (%.1f s)\n", prog, n, t - t0 > "/dev/stderr"; fflush("/dev/stderr")
            }'
    rc=$(cat "$WORK/tar.rc")
    local errors
    errors=$(awk '/^tar: / && !/: Warning: Cannot stat: No such file or directory$/ &&
                  !/^tar: Exiting with failure status/' "$log")
    if [[ -n $errors ]]; then
        grep -q 'Not found in archive' <<<"$errors" &&
            die "a --compare path is not in $TARBALL:
$(sed -n 's|^tar: \*/\(.*\): Not found in archive$|  \1|p' <<<"$errors")"
        die "tar --compare of $TREE against $TARBALL failed:
$errors"
    fi
    [[ $rc -le 1 ]] || die "tar --compare failed (exit $rc); see the messages above"

    # Members (names relative to the top directory) and the tree's own list.
    sed -e '/^tar: /d' -e '/^\.\//d' -e 's|^[^/]*/\{0,1\}||' -e 's|/$||' -e '/^$/d' "$log" |
        LC_ALL=C sort -u >"$WORK/members"
    D_ENTRIES=$(wc -l <"$WORK/members")
    [[ $D_ENTRIES -gt 0 ]] || die "tar --compare listed no entries of $TARBALL; is it a tarball?"
    local roots=(.)
    [[ ${#COMPARE_PATHS[@]} -eq 0 ]] || roots=("${COMPARE_PATHS[@]%/}")
    (cd "$TREE" && for r in "${roots[@]}"; do [[ ! -e $r && ! -L $r ]] || find "$r" -mindepth 0; done) |
        sed -e 's|^\./||' -e '/^\.$/d' | LC_ALL=C sort -u >"$WORK/tree"
    local own
    for own in $TREE_OWN_FILES; do echo "$own"; done | LC_ALL=C sort >"$WORK/own"
    LC_ALL=C comm -13 "$WORK/members" "$WORK/tree" | LC_ALL=C comm -23 - "$WORK/own" >"$WORK/added"

    # What tar said, per file.
    sed -nE 's#^\./(.*): (Mode|Mod time|Uid|Gid) differs$#\1#p' "$log" | LC_ALL=C sort -u >"$WORK/metadata"
    sed -nE -e '/: (Mode|Mod time|Uid|Gid) differs$/d' -e 's#^\./(.*): [^:]*$#\1#p' "$log" |
        LC_ALL=C sort -u >"$WORK/changed"
    sed -n 's|^tar: \./\(.*\): Warning: Cannot stat: No such file or directory$|\1|p' "$log" |
        LC_ALL=C sort -u >"$WORK/missing"
    LC_ALL=C comm -23 "$WORK/metadata" "$WORK/changed" | LC_ALL=C comm -23 - "$WORK/missing" >"$WORK/metadata_only"

    # The tarball's version of every changed or missing file, in one more pass that stops
    # once it has them all (--occurrence); names are exact: the top directory, then the path.
    if [[ -s $WORK/changed || -s $WORK/missing ]]; then
        local top
        top=$(sed -e '/^tar: /d' -e '/^\.\//d' -e 's|/.*||' -e q "$log")
        mkdir -p "$WORK/pristine"
        LC_ALL=C sort -u "$WORK/changed" "$WORK/missing" | sed "s|^|$top/|" >"$WORK/wanted"
        tar -xf "$TARBALL" -C "$WORK/pristine" --transform 's|^[^/]*|.|S' --occurrence \
            --verbatim-files-from --files-from="$WORK/wanted" ||
            die "cannot extract the changed files from $TARBALL"
    fi
    local f a r c
    while IFS= read -r f; do
        if [[ -f $WORK/pristine/$f && ! -L $WORK/pristine/$f && -f $TREE/$f && ! -L $TREE/$f ]]; then
            local counts
            counts=$(changed_lines "$WORK/pristine/$f" "$TREE/$f") || die "cannot diff $f"
            read -r a r c <<<"$counts"
        else  # a type or link change: every line of either side counts
            a=$(file_lines "$TREE/$f"); r=$(file_lines "$WORK/pristine/$f"); c=$((a > r ? a : r))
        fi
        D_CHANGED=$((D_CHANGED + 1)); D_PLUS=$((D_PLUS + a)); D_MINUS=$((D_MINUS + r)); D_LINES=$((D_LINES + c))
        D_REPORT+=("changed $f: $c lines changed (+$a -$r)")
    done <"$WORK/changed"
    while IFS= read -r f; do
        [[ -d $WORK/pristine/$f && ! -L $WORK/pristine/$f ]] && continue  # its files are named too
        r=$(file_lines "$WORK/pristine/$f")
        D_MISSING=$((D_MISSING + 1)); D_MINUS=$((D_MINUS + r)); D_LINES=$((D_LINES + r))
        D_REPORT+=("missing $f: $r lines removed")
    done <"$WORK/missing"
    while IFS= read -r f; do
        [[ -d $TREE/$f && ! -L $TREE/$f ]] && continue  # its files are named too
        a=$(file_lines "$TREE/$f")
        D_ADDED=$((D_ADDED + 1)); D_PLUS=$((D_PLUS + a)); D_LINES=$((D_LINES + a))
        D_REPORT+=("added $f: $a lines added")
    done <"$WORK/added"
    while IFS= read -r f; do
        D_METADATA=$((D_METADATA + 1))
        D_REPORT+=("metadata $f: $(awk -v p="./$f: " 'index($0, p) == 1 { print substr($0, length(p) + 1) }' "$log" |
            paste -sd, -) (content equal)")
    done <"$WORK/metadata_only"
    D_SECONDS=$(seconds_since "$t0")
    note "compared $D_ENTRIES entries in $D_SECONDS s: $D_CHANGED changed, $D_MISSING missing, $D_ADDED added, $D_LINES lines changed"
}
[[ $COMPARE -eq 0 ]] || compare_tree

# --- counting -------------------------------------------------------------------------------
declare -A R_FILES R_CODE R_LANGS   # by "ab:COMPONENT" and "lx:GROUP"
declare -A R_LIST                   # the file list each count was made from (for --files)

# under PATHS... < LIST: the lines of LIST that are one of PATHS or lie below one;
# not_under: the others.
under_awk='BEGIN { n = split(paths, p, /[ \t\n]+/) }
    { hit = 0; for (i = 1; i <= n; i++) if (p[i] != "" && ($0 == p[i] || index($0, p[i] "/") == 1)) hit = 1
      if (hit != invert) print }'
under() { awk -v paths="$*" -v invert=0 "$under_awk"; }
not_under() { awk -v paths="$*" -v invert=1 "$under_awk"; }

# cloc_csv BASE LIST: cloc's CSV (files,language,blank,comment,code) of the files LIST names.
cloc_csv() {
    [[ -s $2 ]] || return 0
    (cd "$1" && cloc --list-file="$2" "${CLOC_OPTS[@]}") || die "cloc failed on the files of $2"
}
# record KEY CSV [MINUS_CSV]: files, code lines and languages (largest first), optionally the
# difference of two counts (the hooks: the files before and after unifdef).
record() {
    local key=$1 parsed
    parsed=$(awk -F, '
        FNR == 1 { part++; next }
        $2 == "SUM" || $2 == "" { next }
        part == 1 { code[$2] += $5; nfiles += $1 }
        part == 2 { code[$2] -= $5 }
        END {
            for (l in code) total += code[l]
            printf "%d %d", nfiles, total
            for (l in code) if (code[l] != 0) printf "\t%s\t%d", l, code[l]
            printf "\n"
        }' <(printf '%s\n' "$2") <(printf '%s\n' "${3:-header}")) || die "cannot read cloc's output for $key"
    local head=${parsed%%$'\t'*}
    R_FILES[$key]=${head% *}
    R_CODE[$key]=${head#* }
    # Languages, largest first: "C 1234, C/C++ Header 56".
    R_LANGS[$key]=$(tr '\t' '\n' <<<"${parsed#"$head"}" | sed '/^$/d' | paste - - -d$'\t' |
        sort -t$'\t' -k2,2nr -k1,1 | awk -F'\t' '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $1, $2 }')
}

# afterburn's files: tracked or new but not ignored (so build/ never counts), or every file
# when the source is not a git checkout.
ab_all_files() {
    if git -C "$SOURCE_DIR" rev-parse --show-toplevel >/dev/null 2>&1; then
        git -C "$SOURCE_DIR" ls-files --cached --others --exclude-standard ||
            die "git ls-files failed in $SOURCE_DIR"
    else
        (cd "$SOURCE_DIR" && find . -type f -not -path './build/*' | sed 's|^\./||')
    fi
}

count_afterburn() {
    [[ -f $SOURCE_DIR/afterburner/cost/cost.sh ]] ||
        die "afterburn's source tree not found at $SOURCE_DIR (afterburn cost counts the tree it was built from)"
    local all=$WORK/ab.all c csv
    ab_all_files | while IFS= read -r f; do [[ ! -f $SOURCE_DIR/$f ]] || echo "$f"; done |
        LC_ALL=C sort -u >"$all"
    local tests_extra=$WORK/ab.tests_extra
    : >"$tests_extra"
    for c in "${AB_COST[@]}"; do
        under ${AB_PATHS[$c]} <"$all" | awk -v re="$AB_TEST_RULE" '$0 !~ re' >"$WORK/ab.$c"
        under ${AB_PATHS[$c]} <"$all" | awk -v re="$AB_TEST_RULE" '$0 ~ re' >>"$tests_extra"
    done
    for c in "${AB_OTHER[@]}"; do under ${AB_PATHS[$c]} <"$all" >"$WORK/ab.$c"; done
    LC_ALL=C sort -u "$WORK/ab.tests" "$tests_extra" -o "$WORK/ab.tests"
    # Every file with code is in a component (docs, licences and the like have none).
    cat "${AB_COST[@]/#/$WORK/ab.}" "${AB_OTHER[@]/#/$WORK/ab.}" | LC_ALL=C sort |
        LC_ALL=C comm -13 - "$all" >"$WORK/ab.unplaced"
    csv=$(cloc_csv "$SOURCE_DIR" "$WORK/ab.unplaced") || exit 2
    record ab:unplaced "$csv"
    if [[ ${R_CODE[ab:unplaced]} -ne 0 ]]; then
        local named
        named=$(cd "$SOURCE_DIR" && cloc --by-file --list-file="$WORK/ab.unplaced" "${CLOC_OPTS[@]}" |
            awk -F, 'NR > 1 && $2 != "" && $1 != "SUM" { print "  " $2 " (" $5 " code lines)" }') ||
            die "cloc failed on the files in no component"
        die "code in no component of $SOURCE_DIR (place it in the path lists of $0):
$named"
    fi
    for c in "${AB_COST[@]}" "${AB_OTHER[@]}"; do
        if [[ ! -s $WORK/ab.$c && ! -e $SOURCE_DIR/${AB_PATHS[$c]%% *} ]]; then
            R_FILES[ab:$c]=absent; R_CODE[ab:$c]=absent; R_LANGS[ab:$c]=""
            continue
        fi
        R_LIST[ab:$c]=$WORK/ab.$c
        csv=$(cloc_csv "$SOURCE_DIR" "$WORK/ab.$c") || exit 2
        record "ab:$c" "$csv"
    done
}

# lx_group_files GROUP: the group's files (relative to the tree), sorted.
lx_group_files() {
    local g=$1 p
    for p in ${LX_PATHS[$g]}; do
        if [[ -d $TREE/$p ]]; then (cd "$TREE" && find "$p" -type f) || return 1
        elif [[ -f $TREE/$p ]]; then echo "$p"
        else echo "$PROG: error: $TREE has no $p (group $g): is it Linux 6.1?" >&2; return 1
        fi
    done >"$WORK/lx.$g.in" || return 1
    not_under ${LX_EXCLUDE[$g]:-} <"$WORK/lx.$g.in" | LC_ALL=C sort -u
}

# The #if hooks: for every C or assembly file outside the groups that has a preprocessor
# condition on a Xen or paravirt symbol, unifdef removes the blocks as if the symbols were
# off; the code lines that disappear are the hooks. Core symbols first, then the others, so no
# line counts twice. (C conditions such as IS_ENABLED() or xen_pv_domain() are not #if blocks:
# this is a lower bound.)
count_hooks() {
    local dirs=() d
    for d in "$TREE"/*; do
        d=${d##*/}
        [[ -d $TREE/$d && " $HOOK_SKIP_TOP " != *" $d "* ]] && dirs+=("$d")
    done
    dirs+=(arch/x86)
    local cond="^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif)\\b.*$HOOK_SYMBOL_RE" rc=0
    (cd "$TREE" && grep -rlE --include='*.c' --include='*.h' --include='*.S' "$cond" "${dirs[@]}") \
        >"$WORK/hook.found" || rc=$?
    [[ $rc -le 1 ]] || die "grep for #if hooks in $TREE failed"
    LC_ALL=C sort -u "$WORK/hook.found" | not_under $LX_NOT_X86 |
        LC_ALL=C comm -23 - <(printf '%s\n' $HOOK_OTHER_HYPERVISORS | cat - "$WORK/lx.all" | LC_ALL=C sort) \
        >"$WORK/hook.candidates"
    [[ -s $WORK/hook.candidates ]] || die "no #if hooks found in $TREE: is it Linux 6.1?"
    local symbols core_args=() all_args=() s f
    symbols=$(cd "$TREE" && xargs grep -hE "$cond" <"$WORK/hook.candidates" | grep -oE "$HOOK_SYMBOL_RE" |
        LC_ALL=C sort -u) || die "cannot read the hook symbols"
    for s in $HOOK_CORE_SYMBOLS; do core_args+=("-U$s"); all_args+=("-U$s"); done
    HOOK_OTHER_FOUND=""
    for s in $symbols; do
        [[ " $HOOK_CORE_SYMBOLS " == *" $s "* ]] && continue
        all_args+=("-U$s"); HOOK_OTHER_FOUND+="$s "
    done
    mkdir -p "$WORK/hA" "$WORK/hB" "$WORK/hC"
    : >"$WORK/lx.hooks_pv"; : >"$WORK/lx.hooks_other"
    while IFS= read -r f; do
        mkdir -p "$WORK/hA/${f%/*}" "$WORK/hB/${f%/*}" "$WORK/hC/${f%/*}"
        cp "$TREE/$f" "$WORK/hA/$f"
        rc=0; unifdef "${core_args[@]}" "$WORK/hA/$f" >"$WORK/hB/$f" || rc=$?
        [[ $rc -le 1 ]] || die "unifdef cannot read $TREE/$f"
        [[ $rc -eq 0 ]] || echo "$f" >>"$WORK/lx.hooks_pv"
        rc=0; unifdef "${all_args[@]}" "$WORK/hA/$f" >"$WORK/hC/$f" || rc=$?
        [[ $rc -le 1 ]] || die "unifdef cannot read $TREE/$f"
        cmp -s "$WORK/hB/$f" "$WORK/hC/$f" || echo "$f" >>"$WORK/lx.hooks_other"
    done <"$WORK/hook.candidates"
    R_LIST[lx:hooks_pv]=$WORK/lx.hooks_pv
    R_LIST[lx:hooks_other]=$WORK/lx.hooks_other
    local before after
    before=$(cloc_csv "$WORK/hA" "$WORK/lx.hooks_pv") || exit 2
    after=$(cloc_csv "$WORK/hB" "$WORK/lx.hooks_pv") || exit 2
    record lx:hooks_pv "$before" "$after"
    before=$(cloc_csv "$WORK/hB" "$WORK/lx.hooks_other") || exit 2
    after=$(cloc_csv "$WORK/hC" "$WORK/lx.hooks_other") || exit 2
    record lx:hooks_other "$before" "$after"
}

count_linux() {
    local g csv
    for g in "${LX_CORE[@]}" "${LX_OTHER[@]}"; do
        [[ $g == hooks_* ]] && continue
        lx_group_files "$g" >"$WORK/lx.$g" || die "cannot list the files of Linux group $g"
        [[ -s $WORK/lx.$g ]] || die "group $g is empty in $TREE: is it Linux 6.1?"
    done
    # No file in two groups; every file of the covered directories in one.
    local listed=() twice uncovered
    for g in "${LX_CORE[@]}" "${LX_OTHER[@]}"; do [[ $g == hooks_* ]] || listed+=("$WORK/lx.$g"); done
    twice=$(cat "${listed[@]}" | LC_ALL=C sort | uniq -d)
    [[ -z $twice ]] || die "files in two Linux groups (fix the path lists in $0):
$twice"
    cat "${listed[@]}" | LC_ALL=C sort >"$WORK/lx.all"
    uncovered=$(cd "$TREE" && find $LX_COVERED -type f | not_under $LX_NOT_X86 | LC_ALL=C sort |
        LC_ALL=C comm -23 - "$WORK/lx.all") || die "cannot list $LX_COVERED in $TREE"
    [[ -z $uncovered ]] || die "files of $LX_COVERED in no Linux group (place them in the path lists of $0):
$uncovered"
    for g in "${LX_CORE[@]}" "${LX_OTHER[@]}"; do
        [[ $g == hooks_* ]] && continue
        R_LIST[lx:$g]=$WORK/lx.$g
        csv=$(cloc_csv "$TREE" "$WORK/lx.$g") || exit 2
        record "lx:$g" "$csv"
    done
    count_hooks
}

if [[ $COUNT -eq 1 ]]; then
    note "counting afterburn's components in $SOURCE_DIR"
    count_afterburn
    note "counting Linux's Xen code in $TREE"
    count_linux
fi

# --- totals and ratios ----------------------------------------------------------------------
sum_of() { # sum_of PREFIX NAME... -> "files code" over the present ones
    local files=0 code=0 n
    for n in "${@:2}"; do
        [[ ${R_CODE[$1:$n]} == absent ]] && continue
        files=$((files + R_FILES[$1:$n])); code=$((code + R_CODE[$1:$n]))
    done
    echo "$files $code"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "null"; else printf "%.4f\n", a / b }'; }
if [[ $COUNT -eq 1 ]]; then
    read -r AB_FILES AB_CODE < <(sum_of ab "${AB_COST[@]}")
    read -r LX_CORE_FILES LX_CORE_CODE < <(sum_of lx "${LX_CORE[@]}")
    read -r LX_OTHER_FILES LX_OTHER_CODE < <(sum_of lx "${LX_OTHER[@]}")
    [[ -n $AB_CODE && -n $LX_CORE_CODE && -n $LX_OTHER_CODE ]] || die "cannot add up the counts"
    LX_ALL_FILES=$((LX_CORE_FILES + LX_OTHER_FILES)) LX_ALL_CODE=$((LX_CORE_CODE + LX_OTHER_CODE))
    RATIO_NAMES=("afterburn_cost/linux_core" "backend_xen/linux_core" "backend_linux/linux_core"
                 "backend_l4/linux_core" "afterburn_cost/linux_all")
    RATIO_TEXT=("afterburn's whole cost / Linux's Xen PV core" "backends/xen / Linux's Xen PV core"
                "backends/linux / Linux's Xen PV core" "backends/l4 / Linux's Xen PV core"
                "afterburn's whole cost / all Linux Xen code counted")
    declare -A RATIO
    RATIO[afterburn_cost/linux_core]=$(ratio "$AB_CODE" "$LX_CORE_CODE")
    RATIO[afterburn_cost/linux_all]=$(ratio "$AB_CODE" "$LX_ALL_CODE")
    for b in xen linux l4; do
        if [[ ${R_CODE[ab:backend_$b]} == absent ]]; then RATIO[backend_$b/linux_core]=null
        else RATIO[backend_$b/linux_core]=$(ratio "${R_CODE[ab:backend_$b]}" "$LX_CORE_CODE"); fi
    done
fi
DIFFERS=0
[[ $COMPARE -eq 0 || $((D_CHANGED + D_MISSING + D_ADDED)) -eq 0 ]] || DIFFERS=1

# --- output ---------------------------------------------------------------------------------
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; printf '"%s"' "$s"; }
json_list() { local first=1 x; printf '['; for x in "$@"; do
    [[ $first -eq 1 ]] || printf ', '; first=0; json_str "$x"; done; printf ']'; }
json_langs() { # "C 12, C/C++ Header 3" -> {"C": 12, "C/C++ Header": 3}
    local first=1 item
    printf '{'
    [[ -z $1 ]] || while IFS= read -r item; do
        [[ $first -eq 1 ]] || printf ', '; first=0
        json_str "${item% *}"; printf ': %s' "${item##* }"
    done < <(sed 's/, /\n/g' <<<"$1")
    printf '}'
}
json_count() { [[ ${R_CODE[$1]} == absent ]] && printf 'null' || printf '%s' "${R_CODE[$1]}"; }

emit_json() {
    local unit="code lines (cloc ${CLOC_VERSION:-not run}: code only, ${CLOC_OPTS[*]:0:2})"
    printf '{"unit": %s' "$(json_str "$unit")"
    if [[ $COMPARE -eq 1 ]]; then
        local compared=(.)
        [[ ${#COMPARE_PATHS[@]} -eq 0 ]] || compared=("${COMPARE_PATHS[@]}")
        printf ', "guest_lines_changed": %d, "guest_diff": {"tarball": %s, "tree": %s, "compared": %s' \
            "$D_LINES" "$(json_str "$TARBALL")" "$(json_str "$TREE")" "$(json_list "${compared[@]}")"
        printf ', "entries": %d, "files_changed": %d, "files_missing": %d, "files_added": %d, "metadata_only": %d' \
            "$D_ENTRIES" "$D_CHANGED" "$D_MISSING" "$D_ADDED" "$D_METADATA"
        printf ', "lines_added": %d, "lines_removed": %d, "seconds": %s, "differences": %s' \
            "$D_PLUS" "$D_MINUS" "$D_SECONDS" "$(json_list "${D_REPORT[@]}")"
        printf ', "not_changes": %s, "build": "out of tree (make O=DIR/obj)"}' "$(json_list $TREE_OWN_FILES)"
    else
        printf ', "guest_lines_changed": null, "guest_diff": null'
    fi
    if [[ $COUNT -eq 1 ]]; then
        local c g first
        printf ', "afterburn": {'
        for c in "${AB_COST[@]}"; do printf '"%s": %s, ' "$c" "$(json_count "ab:$c")"; done
        printf '"cost": %d}, "afterburn_not_counted": {' "$AB_CODE"
        first=1
        for c in "${AB_OTHER[@]}"; do
            [[ $first -eq 1 ]] || printf ', '; first=0
            printf '"%s": %s' "$c" "$(json_count "ab:$c")"
        done
        printf '}, "linux_xen_pv": {"core": %d, "all": %d' "$LX_CORE_CODE" "$LX_ALL_CODE"
        for g in "${LX_CORE[@]}" "${LX_OTHER[@]}"; do printf ', "%s": %d' "$g" "${R_CODE[lx:$g]}"; done
        printf '}, "ratios": {'
        first=1
        for r in "${RATIO_NAMES[@]}"; do
            [[ $first -eq 1 ]] || printf ', '; first=0
            printf '"%s": %s' "$r" "${RATIO[$r]}"
        done
        printf '}, "details": {'
        first=1
        local key paths
        for key in "${AB_COST[@]/#/ab:}" "${AB_OTHER[@]/#/ab:}" "${LX_CORE[@]/#/lx:}" "${LX_OTHER[@]/#/lx:}"; do
            [[ $first -eq 1 ]] || printf ', '; first=0
            if [[ $key == ab:* ]]; then read -ra paths <<<"${AB_PATHS[${key#ab:}]}"
            elif [[ $key == lx:hooks_pv ]]; then read -ra paths <<<"$HOOK_CORE_SYMBOLS"; paths=("${paths[@]/#/#if }")
            elif [[ $key == lx:hooks_other ]]; then read -ra paths <<<"$HOOK_OTHER_FOUND"; paths=("${paths[@]/#/#if }")
            else read -ra paths <<<"$(echo ${LX_PATHS[${key#lx:}]})"; fi
            printf '%s: {"files": %s, "code": %s, "paths": %s, "languages": %s' "$(json_str "$key")" \
                "$([[ ${R_FILES[$key]} == absent ]] && echo null || echo "${R_FILES[$key]}")" \
                "$(json_count "$key")" "$(json_list "${paths[@]}")" "$(json_langs "${R_LANGS[$key]}")"
            if [[ $key == lx:* && -n ${LX_EXCLUDE[${key#lx:}]:-} ]]; then
                read -ra paths <<<"$(echo ${LX_EXCLUDE[${key#lx:}]})"
                printf ', "except": %s' "$(json_list "${paths[@]}")"
            fi
            printf '}'
        done
        printf '}'
    fi
    printf '}\n'
}

row() { if [[ -n ${4:-} ]]; then printf '  %-52s %6s %7s  %s\n' "$@"; else printf '  %-52s %6s %7s\n' "$1" "$2" "$3"; fi; }
emit_table() {
    if [[ $COMPARE -eq 1 ]]; then
        echo "Guest source lines changed: $D_LINES"
        echo "  $TREE"
        echo "  against $TARBALL: tar --compare of $D_ENTRIES entries${COMPARE_PATHS[*]:+ under ${COMPARE_PATHS[*]}}, $D_SECONDS s"
        echo "  files changed: $D_CHANGED, missing: $D_MISSING, added: $D_ADDED (lines +$D_PLUS -$D_MINUS);" \
             "metadata only: $D_METADATA; not changes: build-linux's $TREE_OWN_FILES"
        local d
        for d in "${D_REPORT[@]}"; do echo "    $d"; done
        echo "  afterburn build-linux builds out of tree (make O=DIR/obj): it only reads this tree"
    else
        echo "Guest source lines changed: not measured (--no-compare)"
    fi
    [[ $COUNT -eq 1 ]] || return 0
    echo
    echo "Code lines: cloc $CLOC_VERSION, code only (no comments, no blank lines), ${CLOC_OPTS[*]:0:2}"
    echo
    row "afterburn" files code languages
    local c g
    for c in "${AB_COST[@]}"; do
        if [[ ${R_CODE[ab:$c]} == absent ]]; then row "${AB_LABEL[$c]}" absent - "(no ${AB_PATHS[$c]} yet)"
        else row "${AB_LABEL[$c]}" "${R_FILES[ab:$c]}" "${R_CODE[ab:$c]}" "${R_LANGS[ab:$c]}"; fi
    done
    row "afterburn's whole cost" "$AB_FILES" "$AB_CODE" ""
    echo "  not counted as cost:"
    for c in "${AB_OTHER[@]}"; do row "${AB_LABEL[$c]}" "${R_FILES[ab:$c]}" "${R_CODE[ab:$c]}" "${R_LANGS[ab:$c]}"; done
    echo
    row "Linux 6.1: Xen para-virtualization (same tree)" files code languages
    echo "  core: what a 64-bit x86 Xen PV guest builds"
    for g in "${LX_CORE[@]}"; do row "${LX_LABEL[$g]}" "${R_FILES[lx:$g]}" "${R_CODE[lx:$g]}" "${R_LANGS[lx:$g]}"; done
    row "Linux's Xen PV core" "$LX_CORE_FILES" "$LX_CORE_CODE" ""
    echo "  not core:"
    for g in "${LX_OTHER[@]}"; do row "${LX_LABEL[$g]}" "${R_FILES[lx:$g]}" "${R_CODE[lx:$g]}" "${R_LANGS[lx:$g]}"; done
    row "all Linux Xen code counted" "$LX_ALL_FILES" "$LX_ALL_CODE" ""
    echo
    echo "Ratios (code lines)"
    local i
    for i in "${!RATIO_NAMES[@]}"; do
        printf '  %-52s %s\n' "${RATIO_TEXT[$i]}" "${RATIO[${RATIO_NAMES[$i]}]/null/absent}"
    done
}

if [[ $JSON -eq 1 ]]; then emit_json; else emit_table; fi
if [[ $LIST_FILES -eq 1 && $COUNT -eq 1 ]]; then
    for key in "${!R_LIST[@]}"; do sed "s|^|$key\t|" "${R_LIST[$key]}"; done | LC_ALL=C sort
fi
exit "$DIFFERS"
