#!/bin/bash
# build-l1.sh OUTDIR LAUNCHER: the L1 system for nested KVM, cached in OUTDIR.
#   OUTDIR/vmlinuz          Debian's linux-image-6.1.0-*-amd64 kernel
#   OUTDIR/l1-base.cpio.gz  initramfs: busybox (static, from this system), init.sh as
#                           /init, the KVM modules (irqbypass, kvm, ccp, kvm-amd and what
#                           they depend on) and the launcher (/afterburn-kvm)
# `afterburn boot --on kvm` (backends/linux/glue/nested_l1.cpp) appends a second archive with
# /guest/guest.elf and /guest/args.
# Packages come from Debian through apt-get download and are unpacked with dpkg -x
# (nothing is installed). Everything is reused while its inputs are unchanged.
# Exit status: 0 built or reused, 1 the L1 system could not be built (the reason is
# printed as "build-l1.sh: ERROR: ..."). A missing tool, a failed download or an unreadable
# module is an error, never a skip: the caller SKIPs only when the L1 itself says nested
# KVM cannot run (init.sh).
# Tools (all from packages scripts/deps.sh installs; /sbin is not needed): apt-cache,
# apt-get, dpkg (apt, dpkg), readelf, objcopy (binutils), xz (xz-utils), zstd, cpio, gzip,
# sha256sum/find/sort/... (coreutils, findutils), and static busybox (busybox-static).
set -euo pipefail
die() { echo "build-l1.sh: ERROR: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: build-l1.sh OUTDIR LAUNCHER"
out=$1 launcher=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$launcher" ] || die "no launcher at $launcher (cmake --build build --target afterburn-kvm)"
for tool in apt-cache apt-get dpkg readelf objcopy xz zstd cpio gzip sha256sum find sort awk sed tr; do
    command -v "$tool" >/dev/null || die "the tool '$tool' is not on PATH ($PATH): run scripts/deps.sh's install (scripts/test.sh does)"
done
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)

# 1. The kernel package: the version linux-image-amd64 points at, else whatever is cached.
deps=$(apt-cache depends linux-image-amd64 2>&1) || { echo "$deps" >&2; deps=; echo "build-l1.sh: apt-cache depends linux-image-amd64 failed; trying the cache" >&2; }
pkg=$(printf '%s\n' "$deps" | sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n1)
deb=
cached() { find "$out/debs" -maxdepth 1 -name "$1" -print | sort -V | tail -n1; }
if [ -n "$pkg" ]; then
    deb=$(cached "${pkg}_*_amd64.deb")
    if [ -z "$deb" ]; then
        echo "build-l1.sh: apt-get download $pkg" >&2
        (cd "$out/debs" && apt-get download "$pkg" >&2) || echo "build-l1.sh: apt-get download $pkg failed" >&2
        deb=$(cached "${pkg}_*_amd64.deb")
    fi
fi
[ -n "$deb" ] || deb=$(cached 'linux-image-6.1.0-*-amd64_*_amd64.deb')
[ -n "$deb" ] || die "cannot get a Debian linux-image-6.1.0-*-amd64 package: apt-cache/apt-get download failed (see above) and none is cached in $out/debs"
kver=$(basename "$deb" | sed 's/^linux-image-\(6\.1\.0-[0-9]*-amd64\)_.*/\1/')

# 2. Unpack once per package.
x=$out/x-$kver
if [ ! -f "$x/.unpacked" ]; then
    rm -rf "$x"
    dpkg -x "$deb" "$x" || die "dpkg -x $deb failed"
    touch "$x/.unpacked"
fi
[ -f "$x/boot/vmlinuz-$kver" ] || die "$deb holds no boot/vmlinuz-$kver"
cp -u "$x/boot/vmlinuz-$kver" "$out/vmlinuz"
moddir=$x/lib/modules/$kver/kernel
[ -d "$moddir" ] || die "$deb holds no lib/modules/$kver/kernel"

# 3. busybox: the system's static one, else the busybox-static package.
static_elf() { readelf -h "$1" >/dev/null 2>&1 && ! readelf -d "$1" 2>/dev/null | grep -q NEEDED; }
bb=
for c in /bin/busybox /usr/bin/busybox; do
    if [ -x "$c" ] && static_elf "$c"; then bb=$c; break; fi
done
if [ -z "$bb" ]; then
    b=$(cached 'busybox-static_*.deb')
    [ -n "$b" ] || { (cd "$out/debs" && apt-get download busybox-static >&2) || echo "build-l1.sh: apt-get download busybox-static failed" >&2; b=$(cached 'busybox-static_*.deb'); }
    [ -n "$b" ] || die "no static busybox on this system (package busybox-static) and it cannot be downloaded"
    dpkg -x "$b" "$out/busybox-static" || die "dpkg -x $b failed"
    bb=$out/busybox-static/bin/busybox
fi

# 4. Module closure of kvm-amd, dependencies first. The package has no modules.dep (depmod
# runs at install time), so each module's own .modinfo section is read: NUL-separated
# key=value strings, among them "depends=a,b". No modinfo (kmod) needed.
modpath() {
    local pat
    pat=$(echo "$1" | sed 's/[-_]/[-_]/g') || return 1
    find "$moddir" -name "$pat.ko" -o -name "$pat.ko.xz" -o -name "$pat.ko.zst" | sort | head -n1
}
# module_elf PATH DEST: the uncompressed module.
module_elf() {
    case $1 in
    *.ko.xz) xz -dc "$1" >"$2" ;;
    *.ko.zst) zstd -dqc "$1" >"$2" ;;
    *) cp "$1" "$2" ;;
    esac
}
# module_depends KO: the depends= field of an uncompressed module, space-separated.
module_depends() {
    local info
    info=$(mktemp)
    if ! objcopy -O binary --only-section=.modinfo "$1" "$info" 2>&1 >&2; then rm -f "$info"; return 1; fi
    if [ ! -s "$info" ]; then rm -f "$info"; echo "build-l1.sh: $1 has no .modinfo section" >&2; return 1; fi
    tr '\0' '\n' <"$info" | sed -n 's/^depends=//p' | tr ',' ' '
    rm -f "$info"
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
order=()
visit() {
    local name=$1 path deps dep
    for done_ in "${order[@]:-}"; do [ "$done_" = "$name" ] && return 0; done
    path=$(modpath "$name") || die "looking for module $name in $moddir failed"
    [ -n "$path" ] || die "module $name is not in $deb"
    module_elf "$path" "$scratch/$name.ko" || die "cannot decompress $path"
    deps=$(module_depends "$scratch/$name.ko") || die "cannot read the .modinfo section of $path"
    for dep in $deps; do visit "$dep"; done
    order+=("$name")
}
visit kvm_amd
[ "${#order[@]}" -ge 2 ] || die "the module closure of kvm_amd is only '${order[*]}': kvm_amd must depend on kvm"

# 5. The base initramfs, rebuilt only when an input changed.
stamp=$( { sha256sum "$launcher" "$here/init.sh" "$0" "$bb" "$deb" | cut -d' ' -f1; echo "${order[*]}"; } | sha256sum | cut -d' ' -f1)
if [ -f "$out/l1-base.cpio.gz" ] && [ "$(cat "$out/l1-base.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "build-l1.sh: reusing $out/l1-base.cpio.gz ($kver; modules: ${order[*]})" >&2
    exit 0
fi
root=$out/root
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,modules,guest}
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 755 "$here/init.sh" "$root/init"
install -m 755 "$launcher" "$root/afterburn-kvm"
if readelf -d "$launcher" 2>/dev/null | grep -q NEEDED; then
    # A dynamically linked launcher (e.g. the Debug build): bring its libraries along.
    libs=$(ldd "$launcher" | awk '/=> \// { print $3 } /^\s*\/.*ld-linux/ { print $1 }') || die "ldd $launcher failed"
    for lib in $libs; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
fi
: >"$root/modules/order"
for m in "${order[@]}"; do
    cp "$scratch/$m.ko" "$root/modules/$m.ko"
    params=
    [ "$m" = kvm_amd ] && params="nested=1"
    echo "$m.ko $params" >>"$root/modules/order"
done
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 >"$out/l1-base.cpio.gz.tmp"
mv "$out/l1-base.cpio.gz.tmp" "$out/l1-base.cpio.gz"
echo "$stamp" >"$out/l1-base.stamp"
echo "build-l1.sh: built $out/l1-base.cpio.gz ($(du -h "$out/l1-base.cpio.gz" | cut -f1); $kver; modules: ${order[*]})" >&2
