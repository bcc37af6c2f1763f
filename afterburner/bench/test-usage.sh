#!/usr/bin/env bash
# bench.usage: argument and input errors are caught before any boot, with a message saying what
# is wrong and exit status 2; --help works. No kernel is built or booted here.
set -u
BENCH=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../../tests/lib/expect.sh"
expect "--help"            0 "Usage: afterburn bench \[--json\]"            -- "$BENCH" --help
expect "--help: systems"   0 "xenolinux +XenoLinux"                         -- "$BENCH" --help
expect "unknown option"    2 "unknown argument '--frob'"                    -- "$BENCH" --frob
expect "--runs 0"          2 "--runs wants a positive number, got '0'"      -- "$BENCH" --runs 0
expect "--runs x"          2 "--runs wants a positive number, got 'x'"      -- "$BENCH" --runs x
expect "--runs no value"   2 "option --runs needs an argument"              -- "$BENCH" --runs
expect "--pt-sites direct" 2 "--pt-sites wants stores, native or wedge, got 'direct'" -- "$BENCH" --pt-sites direct
expect "--timeout -1"      2 "--timeout wants a positive number"            -- "$BENCH" --timeout -1
expect "--plot nowhere"    2 "--plot: directory $TMP/none does not exist"   -- "$BENCH" --plot "$TMP/none/x.svg"
# A missing kernel with --no-build names the directory and the command that builds it.
expect "--no-build"        2 "no kernel in $TMP/k .build it: afterburn build-linux -o $TMP/k"  \
    -- "$BENCH" --no-build --linux "$TMP/k" --plain "$TMP/p" --xenolinux "$TMP/x"
mkdir -p "$TMP/k0" && : >"$TMP/k0/vmlinux"
expect "--no-build plain"  2 "afterburn build-linux --plain -o $TMP/p"      \
    -- "$BENCH" --no-build --linux "$TMP/k0" --plain "$TMP/p" --xenolinux "$TMP/x" --plot "$TMP/k0.svg"
# Kernels present but an initramfs without the benchmark (an old build): say so, do not boot.
for d in k p x; do mkdir -p "$TMP/$d"; : >"$TMP/$d/vmlinux"; done
mkdir -p "$TMP/stage/bin" && : >"$TMP/stage/init"
(cd "$TMP/stage" && find . -mindepth 1 | cpio -o -H newc --quiet) | gzip -n >"$TMP/k/initramfs.cpio.gz"
expect "old initramfs"     2 "has no bin/afterburn-bench: it predates afterburn bench" \
    -- "$BENCH" --no-build --linux "$TMP/k" --plain "$TMP/p" --xenolinux "$TMP/x"
echo "not gzip" >"$TMP/k/initramfs.cpio.gz"
expect "bad initramfs"     2 "is not a gzip'd cpio archive"                 \
    -- "$BENCH" --no-build --linux "$TMP/k" --plain "$TMP/p" --xenolinux "$TMP/x"
rm "$TMP/k/initramfs.cpio.gz"
expect "no initramfs"      2 "initramfs.cpio.gz is missing"                 \
    -- "$BENCH" --no-build --linux "$TMP/k" --plain "$TMP/p" --xenolinux "$TMP/x"
[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
