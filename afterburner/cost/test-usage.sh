#!/usr/bin/env bash
# cost.usage: argument and environment errors are caught before any work (no tree is read),
# with a message saying what is wrong and exit status 2; --help and --paths work.
set -u
COST=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../../tests/lib/expect.sh"
expect "--help"           0 "Usage: afterburn cost \[--json\]"             -- "$COST" --help
expect "--paths: ours"    0 "cost +backend_xen +backends/xen"              -- "$COST" --paths
expect "--paths: Linux"   0 "core +arch_pv +arch/x86/xen"                  -- "$COST" --paths
expect "--paths: hooks"   0 "hooks_pv +#if blocks on CONFIG_PARAVIRT_XXL"  -- "$COST" --paths
expect "unknown option"   2 "unknown argument '--frob'"                    -- "$COST" --frob
expect "--tree without DIR" 2 "option --tree needs an argument"            -- "$COST" --tree
expect "--compare outside" 2 "--compare wants a plain path inside the tree" -- "$COST" --compare ../etc
expect "--compare glob"   2 "--compare wants a plain path inside the tree" -- "$COST" --compare 'arch/*'
expect "nothing to do"    2 "--no-compare and --diff-only leave nothing"  -- "$COST" --no-compare --diff-only
expect "--files --json"   2 "cannot be combined with --json"              -- "$COST" --files --json
expect "missing tarball"  2 "tarball not found: $TMP/none.tar.xz"        -- "$COST" --source "$TMP/none.tar.xz"
expect "... and the fix"  2 "apt-get install linux-source-6.1"           -- "$COST" --source "$TMP/none.tar.xz"
expect "missing tree"     2 "Linux tree not found: $TMP/none"             -- "$COST" --no-compare --tree "$TMP/none"
expect "... and the fix"  2 "build-linux --unpack-only"                   -- "$COST" --no-compare --tree "$TMP/none"
# No cloc on the PATH: the script gets only what it needs to reach the check.
mkdir "$TMP/bin"
ln -s "$(command -v dirname)" "$TMP/bin/dirname"
expect "no cloc"          2 "cloc not found.*apt-get install cloc"        -- env PATH="$TMP/bin" "$BASH" "$COST" --no-compare
# A cloc that fails is an error, not a count of 0.
mkdir "$TMP/badbin"
printf '#!/bin/sh\n[ "$1" = --version ] && echo 1.96 && exit 0\necho "cloc: broken" >&2; exit 3\n' >"$TMP/badbin/cloc"
chmod +x "$TMP/badbin/cloc"
expect "cloc fails"       2 "cloc failed on the files of"                 -- env PATH="$TMP/badbin:$PATH" "$COST" --no-compare --tree "$TMP"
if env PATH="$TMP/badbin:$PATH" "$COST" --no-compare --tree "$TMP" 2>&1 | grep -q 'is it Linux'; then
    echo "FAIL: cloc fails: the program went on counting"; failures=$((failures + 1))
fi
# A tree that is not Linux is named as such.
expect "not Linux"        2 "has no arch/x86/xen .group arch_pv.: is it Linux 6.1"  -- "$COST" --no-compare --tree "$TMP"
[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
