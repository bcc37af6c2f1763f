# Sourced by the Linux-on-Xen tests (test-linux-*.sh AFTERBURN LINUX_OUT LOGDIR): the arguments,
# fail(), and the Linux build in LINUX_OUT (built there with `afterburn build-linux` when
# vmlinux or the initramfs are missing); sets ab, out, logdir, vmlinux, initrd, native (the
# native workload transcript, which must exist) and here (this directory).
ab=$1 out=$2 logdir=$3
mkdir -p "$logdir"
fail() { echo "FAIL: $*"; exit 1; }

if [ ! -f "$out/vmlinux" ] || [ ! -f "$out/initramfs.cpio.gz" ]; then
    echo "== no Linux build in $out: afterburn build-linux -o $out"
    "$ab" build-linux -o "$out" || fail "afterburn build-linux failed"
fi
vmlinux=$out/vmlinux initrd=$out/initramfs.cpio.gz native=$out/workload-native.txt
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$native" ] || fail "no native workload transcript $native (linux.e2e / linux.workload_native write it)"
