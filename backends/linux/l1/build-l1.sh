#!/bin/bash
# build-l1.sh OUTDIR LAUNCHER: the L1 system for nested KVM, cached in OUTDIR.
#   OUTDIR/vmlinuz          Debian's linux-image-6.1.0-*-amd64 kernel
#   OUTDIR/l1-base.cpio.gz  initramfs: busybox (static, from this system), init.sh as
#                           /init, the KVM modules (irqbypass, kvm, ccp, kvm-amd and what
#                           they depend on) and the launcher (/afterburn-kvm)
# run-nested.sh appends a second archive with /guest/guest.elf and /guest/args.
# Packages come from Debian through apt-get download and are unpacked with dpkg -x
# (nothing is installed). Everything is reused while its inputs are unchanged.
# Exit status: 0 built or reused, 77 the packages cannot be had (download impossible),
# 1 any other failure.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: build-l1.sh OUTDIR LAUNCHER" >&2; exit 1; }
out=$1 launcher=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$launcher" ] || { echo "build-l1.sh: no launcher at $launcher" >&2; exit 1; }
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
skip() { echo "build-l1.sh: SKIP: $*" >&2; exit 77; }

# 1. The kernel package: the version linux-image-amd64 points at, else whatever is cached.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n1 || true)
deb=
if [ -n "$pkg" ]; then
    deb=$(ls "$out"/debs/"${pkg}"_*_amd64.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        echo "build-l1.sh: apt-get download $pkg" >&2
        (cd "$out/debs" && apt-get download "$pkg" >&2) || echo "build-l1.sh: download of $pkg failed" >&2
        deb=$(ls "$out"/debs/"${pkg}"_*_amd64.deb 2>/dev/null | head -n1 || true)
    fi
fi
[ -n "$deb" ] || deb=$(ls "$out"/debs/linux-image-6.1.0-*-amd64_*_amd64.deb 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$deb" ] || skip "cannot get a Debian linux-image-6.1.0-*-amd64 package (apt-cache/apt-get download failed and none is cached in $out/debs)"
kver=$(basename "$deb" | sed 's/^linux-image-\(6\.1\.0-[0-9]*-amd64\)_.*/\1/')

# 2. Unpack once per package.
x=$out/x-$kver
if [ ! -f "$x/.unpacked" ]; then
    rm -rf "$x"
    dpkg -x "$deb" "$x"
    touch "$x/.unpacked"
fi
cp -u "$x/boot/vmlinuz-$kver" "$out/vmlinuz"
moddir=$x/lib/modules/$kver/kernel

# 3. busybox: the system's static one, else the busybox-static package.
bb=
for c in /bin/busybox /usr/bin/busybox; do
    if [ -x "$c" ] && ! readelf -d "$c" 2>/dev/null | grep -q NEEDED; then bb=$c; break; fi
done
if [ -z "$bb" ]; then
    b=$(ls "$out"/debs/busybox-static_*.deb 2>/dev/null | head -n1 || true)
    [ -n "$b" ] || { (cd "$out/debs" && apt-get download busybox-static >&2) || true; b=$(ls "$out"/debs/busybox-static_*.deb 2>/dev/null | head -n1 || true); }
    [ -n "$b" ] || skip "no static busybox on this system and busybox-static cannot be downloaded"
    dpkg -x "$b" "$out/busybox-static"
    bb=$out/busybox-static/bin/busybox
fi

# 4. Module closure of kvm-amd, dependencies first (modinfo's "depends" field; the
# package has no modules.dep, depmod runs at install time).
modpath() { find "$moddir" -name "$(echo "$1" | sed 's/[-_]/[-_]/g').ko*" | head -n1; }
order=()
visit() {
    local name=$1 path dep
    for done_ in "${order[@]:-}"; do [ "$done_" = "$name" ] && return; done
    path=$(modpath "$name")
    [ -n "$path" ] || { echo "build-l1.sh: module $name not in $deb" >&2; exit 1; }
    for dep in $(/sbin/modinfo -F depends "$path" | tr ',' ' '); do visit "$dep"; done
    order+=("$name")
}
visit kvm_amd

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
    for lib in $(ldd "$launcher" | awk '/=> \// { print $3 } /^\s*\/.*ld-linux/ { print $1 }'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
fi
: >"$root/modules/order"
for m in "${order[@]}"; do
    p=$(modpath "$m")
    case $p in
    *.ko.xz) xz -dc "$p" >"$root/modules/$m.ko" ;;
    *.ko.zst) zstd -dqc "$p" >"$root/modules/$m.ko" ;;
    *) cp "$p" "$root/modules/$m.ko" ;;
    esac
    params=
    [ "$m" = kvm_amd ] && params="nested=1"
    echo "$m.ko $params" >>"$root/modules/order"
done
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 >"$out/l1-base.cpio.gz.tmp"
mv "$out/l1-base.cpio.gz.tmp" "$out/l1-base.cpio.gz"
echo "$stamp" >"$out/l1-base.stamp"
echo "build-l1.sh: built $out/l1-base.cpio.gz ($(du -h "$out/l1-base.cpio.gz" | cut -f1); $kver; modules: ${order[*]})" >&2
