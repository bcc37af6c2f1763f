#!/bin/sh
# install.boot_xen, install.boot_kvm: `afterburn` installed with `cmake --install` into a fresh
# prefix and run from / boots the sample guest: nothing it needs may come from the source or
# build tree.
#
#   boot.sh xen|kvm BUILD_DIR PREFIX GUEST
#
# Checks: the install succeeds; the installed boot program holds no build- or source-tree path
# in its read-only data (where a compiled-in lookup path would be); `cd / && PREFIX/bin/afterburn
# boot --on BACKEND GUEST` exits 0 with the guest's PASS verdict (AFTERBURN-SUCCESS; on Xen the
# wedge's verdict 0 too) and the guest's check lines matching samples/guest/expected.txt.
# kvm: nested when this host's /dev/kvm cannot run guests, with the L1 system cached in
# $AFTERBURN_KVM_L1_CACHE (the test passes the build tree's); status 77 (skipped) when afterburn
# boot says KVM cannot run here at all (its status 4).
set -eu
backend=$1 build=$2 prefix=$3 guest=$4
case $backend in xen|kvm) ;; *) echo "boot.sh: unknown backend $backend" >&2; exit 2 ;; esac
source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
[ -n "$source_dir" ] || { echo "FAIL: no CMAKE_HOME_DIRECTORY in $build/CMakeCache.txt"; exit 1; }

rm -rf "$prefix"
mkdir -p "$(dirname "$prefix")"
cmake --install "$build" --prefix "$prefix" >"$prefix.install.log" 2>&1 ||
    { cat "$prefix.install.log"; echo "FAIL: cmake --install $build --prefix $prefix"; exit 1; }
echo "ok: installed into $prefix ($(grep -c '^-- Installing' "$prefix.install.log") files)"
for f in bin/afterburn libexec/afterburn/boot libexec/afterburn/xen-wedge.elf libexec/afterburn/kvm-wedge.elf \
         libexec/afterburn/afterburn-kvm share/afterburn/l1/build-l1.sh share/afterburn/l1/init.sh; do
    [ -f "$prefix/$f" ] || { echo "FAIL: $prefix/$f not installed"; exit 1; }
done

boot=$prefix/libexec/afterburn/boot
for tree in "$build" "$source_dir"; do
    if readelf -p .rodata "$boot" | grep -F -- "$tree"; then
        echo "FAIL: $boot holds the path $tree in .rodata"; exit 1
    fi
done
echo "ok: no build- or source-tree path in the installed boot program's .rodata"

# The guest is copied out of the build tree, so the boot reads nothing from there.
mkdir -p "$prefix/run"
cp "$guest" "$prefix/run/guest.elf"
log=$prefix/run/console.log
status=0
# Its own cache (XDG_CACHE_HOME), so the test leaves nothing in the user's home.
timeout=120
[ "$backend" = kvm ] && timeout=300
(cd / && env -u AFTERBURN_XEN_CACHE XDG_CACHE_HOME="$prefix/cache" \
    "$prefix/bin/afterburn" boot --on "$backend" "$prefix/run/guest.elf" --timeout $timeout -q --log "$log") \
    2>"$prefix/run/stderr" || status=$?
cat "$prefix/run/stderr"
[ "$backend" = kvm ] && [ "$status" = 4 ] && { echo "SKIP: KVM cannot run here (see above)"; exit 77; }
[ "$status" = 0 ] || { echo "FAIL: installed afterburn boot --on $backend exited with $status"; exit 1; }
success="^afterburn boot: success: 'AFTERBURN-SUCCESS' after "
[ "$backend" = xen ] && success="$success.*(the wedge's verdict 0 (isa-debug-exit))$"
grep -q "$success" "$prefix/run/stderr" || { echo "FAIL: no line matches /$success/"; exit 1; }
tr -d '\r' <"$log" | grep -qx 'AFTERBURN-SUCCESS' || { echo "FAIL: the guest printed no AFTERBURN-SUCCESS"; exit 1; }
if tr -d '\r' <"$log" | grep -E '^FAIL '; then echo "FAIL: the guest reported failing checks"; exit 1; fi
sh "$source_dir/samples/guest/compare-transcript.sh" "$source_dir/samples/guest/expected.txt" "$log" ||
    { echo "FAIL: the guest's check lines do not match expected.txt"; exit 1; }
passed=$(tr -d '\r' <"$log" | grep -c '^PASS ')
if [ "$backend" = xen ] && [ ! -s "$prefix/cache/afterburn/xen-4.17-amd64" ]; then
    echo "FAIL: the hypervisor was not unpacked into XDG_CACHE_HOME"; exit 1
fi
echo "PASS: installed afterburn, run from /, booted the guest on $backend: $passed checks PASS"
