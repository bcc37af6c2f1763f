#!/bin/sh
# /init of the L1 initramfs (built by build-l1.sh): load KVM for AMD SVM with nested=1,
# check /dev/kvm, run afterburn-kvm on /guest/guest.elf with the arguments in
# /guest/args (one per line), print the result as marker lines, and pass the verdict
# out through QEMU's isa-debug-exit port (0xf4) before powering off.
# Markers (afterburn boot parses them: backends/linux/glue/l1_markers.h):
#   AFTERBURN-L1-INIT uptime=S            L1 kernel reached /init (S = L1 uptime)
#   AFTERBURN-L1-KVM uptime=S             modules loaded, /dev/kvm present
#   AFTERBURN-L1-SKIP: reason             nested KVM cannot run here: the L1 CPU has no SVM
#   AFTERBURN-L1-ERROR: reason            the L1 system is broken (a module does not load,
#                                         /dev/kvm missing): a build error, not a skip
#   AFTERBURN-L1-RESULT status=N seconds=S   the launcher's exit status and run time
#   AFTERBURN-L1-DONE                     last line before poweroff
export PATH=/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "AFTERBURN-L1-INIT uptime=$(uptime_s)"

# exit_qemu V: isa-debug-exit makes QEMU exit with status (V << 1) | 1.
exit_qemu() {
    printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>&1 | grep -v records
    echo "AFTERBURN-L1: the isa-debug-exit write did not end QEMU; powering off"
    poweroff -f
    exit 0   # (then the kernel panics on init's exit; panic=-1 and -no-reboot end QEMU)
}
skip() {
    echo "AFTERBURN-L1-SKIP: $*"
    echo "AFTERBURN-L1-DONE"
    exit_qemu 59   # QEMU status 119
    exit 0
}

l1_error() {
    echo "AFTERBURN-L1-ERROR: $*"
    echo "AFTERBURN-L1-DONE"
    exit_qemu 60   # QEMU status 121
    exit 0
}

grep -qw svm /proc/cpuinfo || skip "check 'svm in /proc/cpuinfo' failed: the L1 CPU has no SVM (QEMU -cpu without svm?)"
while read -r mod params; do
    out=$(insmod "/modules/$mod" $params 2>&1) || l1_error "insmod $mod $params failed: $out (is the module closure in /modules/order complete? $(tr '\n' ' ' </modules/order))"
done </modules/order
[ -c /dev/kvm ] || l1_error "/dev/kvm did not appear after loading $(tr '\n' ' ' </modules/order)"
nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)
echo "AFTERBURN-L1-KVM uptime=$(uptime_s) kvm_amd.nested=$nested"

# One argument per line (so "--append" values may hold spaces).
set --
if [ -f /guest/args ]; then
    while IFS= read -r a; do set -- "$@" "$a"; done </guest/args
fi
t0=$(uptime_s)
# The guest's UART goes to stdout (this console); the launcher's report to stderr.
/afterburn-kvm "$@" /guest/guest.elf
status=$?
t1=$(uptime_s)
echo "AFTERBURN-L1-RESULT status=$status seconds=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')"
echo "AFTERBURN-L1-DONE"
# Odd launcher statuses are guest verdicts (v << 1) | 1: pass v on, so QEMU exits with
# the same status. Even ones are launcher errors: 0x40 + status/2 (QEMU status > 128).
if [ $((status % 2)) -eq 1 ]; then exit_qemu $(((status - 1) / 2)); else exit_qemu $((64 + status / 2)); fi
