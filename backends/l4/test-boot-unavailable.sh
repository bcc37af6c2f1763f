#!/bin/sh
# l4.boot.unavailable: `afterburn boot --on l4` without Pistachio exits 4 (the backend is not
# available here) with one line saying how to get it; a --pistachio directory without
# Pistachio's binaries, or --pistachio with another backend, is a usage error (2). Needs no
# Pistachio and starts no QEMU.
#   test-boot-unavailable.sh AFTERBURN GUEST
set -u
afterburn=$1 guest=$2
fail() { echo "FAIL: $*"; exit 1; }

out=$(env -u AFTERBURN_PISTACHIO "$afterburn" boot --on l4 "$guest" 2>&1); status=$?
echo "$out"
[ $status = 4 ] || fail "without Pistachio: exit $status, expected 4"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "without Pistachio: expected one line"
echo "$out" | grep -q '^afterburn boot: L4 not available on this machine: no Pistachio build: give --pistachio DIR or AFTERBURN_PISTACHIO=DIR, DIR being the OUT of backends/l4/build-pistachio.sh SRC OUT (docs/l4-backend.md)$' ||
    fail "without Pistachio: not the expected line"

empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
out=$(env -u AFTERBURN_PISTACHIO "$afterburn" boot --on l4 --pistachio "$empty" "$guest" 2>&1); status=$?
echo "$out"
[ $status = 2 ] || fail "--pistachio without binaries: exit $status, expected 2"
echo "$out" | grep -q "kickstart not found: the Pistachio directory must be the OUT of backends/l4/build-pistachio.sh" ||
    fail "--pistachio without binaries: no message naming kickstart"

out=$("$afterburn" boot --on native --pistachio "$empty" "$guest" 2>&1); status=$?
echo "$out"
[ $status = 2 ] || fail "--pistachio with --on native: exit $status, expected 2"
echo "$out" | grep -q -- "--pistachio is for --on l4, not --on native" || fail "--pistachio with --on native: no message"
echo "PASS"
