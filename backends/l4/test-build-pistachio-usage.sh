#!/usr/bin/env bash
# ctest l4.build_pistachio_usage: usage errors of build-pistachio.sh and check-pistachio-boot.sh
# exit 2 with a clear message before doing anything; --help exits 0. No checkout is needed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$HERE/build-pistachio.sh
CHECK=$HERE/check-pistachio-boot.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

# expect STATUS PATTERN CMD...: CMD exits with STATUS and its output matches PATTERN (grep -E).
expect() {
    local want=$1 pattern=$2 status=0
    shift 2
    "$@" >"$TMP/expect.log" 2>&1 || status=$?
    if [[ $status -ne $want ]] || ! grep -Eq -- "$pattern" "$TMP/expect.log"; then
        echo "FAIL: $* -> status $status (want $want), output:"; sed 's/^/    /' "$TMP/expect.log"
        echo "    (wanted a line matching: $pattern)"
        failures=$((failures + 1))
    else
        echo "ok: $(basename "$1") ${*:2} -> $status: $(grep -Em1 -- "$pattern" "$TMP/expect.log")"
    fi
}

expect 0 '^Usage: build-pistachio.sh \[--jobs N\] SRC OUT' "$BUILD" --help
expect 0 'docs/l4-backend.md' "$BUILD" -h
expect 2 'expected SRC and OUT, got 0' "$BUILD"
expect 2 'expected SRC and OUT, got 1' "$BUILD" "$TMP"
expect 2 'expected SRC and OUT, got 3' "$BUILD" a b c
expect 2 'unknown option: --frobnicate' "$BUILD" --frobnicate "$TMP" "$TMP/out"
expect 2 '--jobs needs a positive number' "$BUILD" --jobs 0 "$TMP" "$TMP/out"
expect 2 'SRC is not a directory: .*/no-such-dir' "$BUILD" "$TMP/no-such-dir" "$TMP/out"
mkdir "$TMP/empty"
expect 2 'SRC is not a Pistachio checkout \(no kernel/Makefile' "$BUILD" "$TMP/empty" "$TMP/out"
expect 2 'git clone https://github.com/l4ka/pistachio' "$BUILD" "$TMP/empty" "$TMP/out"
# The files build-pistachio.sh looks for, empty: enough to get past the checkout test.
fake=$TMP/fake
for f in kernel/Makefile kernel/Mk/Makeconf kernel/Mk/Makeconf.x86 kernel/config/rules.cml \
         kernel/config/template/Makefile kernel/src/platform/pc99/startup.S \
         user/configure.in user/config.mk.in user/serv/sigma0/sigma0.cc \
         user/util/kickstart/mbi-loader.cc; do
    mkdir -p "$(dirname "$fake/$f")"; : >"$fake/$f"
done
rm "$fake/user/util/kickstart/mbi-loader.cc"
expect 2 'not a Pistachio checkout \(no user/util/kickstart/mbi-loader.cc' "$BUILD" "$fake" "$TMP/out"
: >"$fake/user/util/kickstart/mbi-loader.cc"
: >"$TMP/a-file"
expect 2 'cannot create OUT: .*/a-file/out' "$BUILD" "$fake" "$TMP/a-file/out"
expect 2 'OUT must not be inside SRC' "$BUILD" "$fake" "$fake/out"
expect 2 'must not contain spaces' "$BUILD" "$fake" "$TMP/with space"
if [[ $(id -u) -ne 0 ]]; then   # root writes anywhere; only an ordinary user can see this one
    mkdir "$TMP/readonly"; chmod 555 "$TMP/readonly"
    expect 2 'OUT is not writable' "$BUILD" "$fake" "$TMP/readonly"
fi
# Nothing was built or written for any of these.
[[ ! -e $TMP/out && ! -e $fake/out && ! -e "$TMP/with space" ]] || { echo "FAIL: a usage error wrote output"; failures=$((failures + 1)); }

expect 0 '^Usage: check-pistachio-boot.sh' "$CHECK" --help
expect 2 'expected OUT' "$CHECK"
expect 2 'expected OUT' "$CHECK" a b
expect 2 '--timeout needs a positive number' "$CHECK" --timeout x "$TMP"
expect 2 '--cpu needs a QEMU CPU model' "$CHECK" --cpu 'max;rm' "$TMP"
expect 2 'kickstart not found \(run build-pistachio.sh SRC' "$CHECK" "$TMP/empty"

if [[ $failures -ne 0 ]]; then echo "$failures check(s) failed"; exit 1; fi
echo "all usage checks passed"
