#!/usr/bin/env bash
# build-linux.usage: argument errors are caught before any work starts (no kernel is built).
set -u
BL=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
expect() { # expect DESCRIPTION WANT_RC REGEX -- ARGS...
    local what=$1 want=$2 regex=$3; shift 4
    local out rc
    out=$("$BL" "$@" 2>&1); rc=$?
    if [[ $rc -ne $want ]]; then echo "FAIL: $what: exit $rc, want $want: $out"; failures=$((failures + 1))
    elif ! grep -qE -- "$regex" <<<"$out"; then echo "FAIL: $what: output lacks /$regex/: $out"; failures=$((failures + 1))
    else echo "ok: $what"; fi
}
expect "--help"          0 "Usage: afterburn build-linux -o DIR"        -- --help
expect "no -o"           1 "missing -o DIR"                              -- --plain
expect "unknown option"  1 "unknown argument '--frob'"                   -- -o "$TMP/o" --frob
expect "bad --jobs"      1 "--jobs wants a positive number, got 'x'"     -- -o "$TMP/o" --plain --jobs x
expect "-o without DIR"  1 "option -o needs an argument"                 -- --plain -o
expect "missing fragment" 1 "--config fragment not found: $TMP/none.cfg" -- -o "$TMP/o" --plain --config "$TMP/none.cfg"
expect "defconfig+xenolinux" 1 "--defconfig and --xenolinux cannot be combined" -- -o "$TMP/o" --defconfig --xenolinux
[[ ! -e $TMP/o ]] || { echo "FAIL: an output directory was created for bad arguments"; failures=$((failures + 1)); }
[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
