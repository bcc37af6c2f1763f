#!/bin/bash
# kvm.l1.fresh_build: build-l1.sh as on a fresh Debian 12 machine.
#   test-build-l1-fresh.sh LAUNCHER
# 1. In a scratch directory (nothing cached: the kernel package is downloaded again) with a
#    minimal environment, PATH=/usr/bin:/bin (no /sbin, so no kmod tools even where they
#    are installed): build-l1.sh must succeed and its initramfs must hold kvm_amd's whole
#    module closure, every module after the ones its .modinfo "depends=" names (read here
#    independently, with readelf -p).
# 2. With one tool (zstd) missing from PATH, build-l1.sh must fail (status 1, not 77) and
#    name the tool.
# 3. build-l1.sh must not call anything by an absolute /sbin path.
set -euo pipefail
launcher=$1
here=$(cd "$(dirname "$0")" && pwd)
builder=$here/build-l1.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "kvm.l1.fresh_build: FAIL: $*"; exit 1; }

if grep -n '/sbin/' "$builder" | grep -v '^[0-9]*:#'; then fail "build-l1.sh uses a /sbin path (above)"; fi

echo "== build-l1.sh in $scratch/l1 with PATH=/usr/bin:/bin"
rc=0
env -i PATH=/usr/bin:/bin HOME="$scratch" LANG=C "$builder" "$scratch/l1" "$launcher" || rc=$?
[ $rc -eq 0 ] || fail "build-l1.sh exited $rc with PATH=/usr/bin:/bin"

mkdir "$scratch/unpacked"
(cd "$scratch/unpacked" && gzip -dc "$scratch/l1/l1-base.cpio.gz" | cpio -id --quiet) || fail "cannot unpack l1-base.cpio.gz"
order=$(awk '{ sub(/\.ko$/, "", $1); print $1 }' "$scratch/unpacked/modules/order") || fail "no modules/order"
echo "module order: $(echo $order)"
seen=" "
for m in $order; do
    ko=$scratch/unpacked/modules/$m.ko
    [ -s "$ko" ] || fail "modules/$m.ko is missing or empty"
    info=$(readelf -p .modinfo "$ko") || fail "readelf -p .modinfo $ko failed"
    deps=$(printf '%s\n' "$info" | sed -n 's/.*\] *depends=//p' | tr ',' ' ')
    for d in $deps; do
        case $seen in *" $d "*) ;; *) fail "$m depends on $d, which is not loaded before it" ;; esac
    done
    seen="$seen$m "
done
case $seen in *" kvm "*) ;; *) fail "kvm is not in the closure" ;; esac
[ "$(echo $order | awk '{ print $NF }')" = kvm_amd ] || fail "kvm_amd is not loaded last"
grep -q '^kvm_amd.ko nested=1' "$scratch/unpacked/modules/order" || fail "kvm_amd is not loaded with nested=1"

echo "== build-l1.sh with zstd missing from PATH"
mkdir "$scratch/bin"
for t in /usr/bin/* /bin/*; do
    n=$(basename "$t")
    [ "$n" = zstd ] || [ -e "$scratch/bin/$n" ] || ln -s "$t" "$scratch/bin/$n"
done
out=$(env -i PATH="$scratch/bin" HOME="$scratch" LANG=C "$builder" "$scratch/l1-nozstd" "$launcher" 2>&1) && rc=0 || rc=$?
echo "$out" | tail -n 3
[ $rc -eq 1 ] || fail "build-l1.sh without zstd exited $rc, want 1"
echo "$out" | grep -q "ERROR: the tool 'zstd'" || fail "build-l1.sh without zstd did not name the tool"
echo "kvm.l1.fresh_build: PASS"
