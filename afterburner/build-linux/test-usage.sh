#!/usr/bin/env bash
# build-linux.usage: argument errors are caught before any work starts (no kernel is built).
set -u
BL=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../../tests/lib/expect.sh"
expect "--help"          0 "Usage: afterburn build-linux -o DIR"        -- "$BL" --help
expect "no -o"           1 "missing -o DIR"                              -- "$BL" --plain
expect "unknown option"  1 "unknown argument '--frob'"                   -- "$BL" -o "$TMP/o" --frob
expect "bad --jobs"      1 "--jobs wants a positive number, got 'x'"     -- "$BL" -o "$TMP/o" --plain --jobs x
expect "-o without DIR"  1 "option -o needs an argument"                 -- "$BL" --plain -o
expect "missing fragment" 1 "--config fragment not found: $TMP/none.cfg" -- "$BL" -o "$TMP/o" --plain --config "$TMP/none.cfg"
expect "defconfig+xenolinux" 1 "--defconfig and --xenolinux cannot be combined" -- "$BL" -o "$TMP/o" --defconfig --xenolinux
[[ ! -e $TMP/o ]] || { echo "FAIL: an output directory was created for bad arguments"; failures=$((failures + 1)); }
[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
