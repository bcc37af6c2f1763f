#!/bin/bash
# run-nested.sh GUEST [LAUNCHER-ARGS...]: run GUEST under afterburn-kvm inside an L1
# Debian kernel that QEMU TCG (-cpu max, i.e. with an emulated SVM CPU) boots, using
# the L1's nested KVM (kvm_amd nested=1). Prints the L1 console, then a summary.
# Exit status: the launcher's (for the sample guest: 1 = AFTERBURN-SUCCESS, 3 = FAILURE;
# see docs/kvm-backend-notes.md), 77 only when the L1 CPU has no SVM, i.e. nested KVM
# genuinely cannot run (the failed check is printed, "SKIP: ..."), 1 when the L1 system
# cannot be built or breaks (a missing tool, package, module: "run-nested.sh: ERROR: ...")
# or the L1 did not report a result.
# Environment: AFTERBURN_KVM (launcher; default build/libexec/afterburn/afterburn-kvm),
#   AFTERBURN_KVM_L1_CACHE (default build/kvm-l1), NESTED_TIMEOUT (s, default 600),
#   NESTED_LOG (console log, default $AFTERBURN_KVM_L1_CACHE/run.log), NESTED_QEMU_CPU
#   (default max; e.g. max,-svm shows the SKIP path), NESTED_WEDGE (a kvm-wedge.elf: it goes
#   into the guest archive and the launcher gets --wedge /guest/kvm-wedge.elf).
set -u
[ $# -ge 1 ] || { echo "usage: run-nested.sh GUEST [LAUNCHER-ARGS...]" >&2; exit 2; }
guest=$1; shift
here=$(cd "$(dirname "$0")" && pwd -P)  # -P: the build tree links share/afterburn/l1 here
repo=$(cd "$here/../../.." && pwd)
launcher=${AFTERBURN_KVM:-$repo/build/libexec/afterburn/afterburn-kvm}
cache=${AFTERBURN_KVM_L1_CACHE:-$repo/build/kvm-l1}
timeout_s=${NESTED_TIMEOUT:-600}
cpu=${NESTED_QEMU_CPU:-max}
log=${NESTED_LOG:-$cache/run.log}
skip() { echo "SKIP: $*"; exit 77; }

[ -f "$guest" ] || { echo "run-nested.sh: no guest image $guest" >&2; exit 2; }
error() { echo "run-nested.sh: ERROR: $*" >&2; exit 1; }
for tool in qemu-system-x86_64 cpio gzip timeout awk flock; do
    command -v "$tool" >/dev/null || error "the tool '$tool' is not installed (scripts/deps.sh installs it)"
done
# One builder at a time: concurrent runs (ctest -j: guest.kvm, kvm.nested.*, install.boot_kvm)
# share the cache, and a rebuild must not be read half-written. Held until l1.cpio.gz is made.
mkdir -p "$cache" || error "cannot create $cache"
exec 9>"$cache/.lock" || error "cannot open $cache/.lock"
flock 9 || error "cannot lock $cache/.lock"
"$here/build-l1.sh" "$cache" "$launcher" || error "the L1 system cannot be built (build-l1.sh's ERROR above)"

# The guest archive, appended to the base one (the kernel unpacks both).
g=$(mktemp -d) || error "mktemp failed"
trap 'rm -rf "$g"' EXIT
mkdir -p "$g/guest" && cp "$guest" "$g/guest/guest.elf" || error "cannot copy $guest into the guest archive"
# Default launcher arguments: exit table, enough memory, a watchdog well inside ours.
args=(--stats --memory 128 --timeout 300 "$@")
if [ -n "${NESTED_WEDGE:-}" ]; then
    [ -f "$NESTED_WEDGE" ] || { echo "run-nested.sh: no wedge image $NESTED_WEDGE" >&2; exit 2; }
    cp "$NESTED_WEDGE" "$g/guest/kvm-wedge.elf" || error "cannot copy $NESTED_WEDGE"
    args+=(--wedge /guest/kvm-wedge.elf)
fi
if [ -n "${NESTED_INITRD:-}" ]; then
    [ -f "$NESTED_INITRD" ] || { echo "run-nested.sh: no initrd $NESTED_INITRD" >&2; exit 2; }
    cp "$NESTED_INITRD" "$g/guest/initrd" || error "cannot copy $NESTED_INITRD"
    args+=(--initrd /guest/initrd)
fi
# One argument per line: arguments with spaces (--append "a b") survive; no newlines.
for a in "${args[@]}"; do
    case $a in *$'\n'*) echo "run-nested.sh: a launcher argument holds a newline: $a" >&2; exit 2 ;; esac
done
printf '%s\n' "${args[@]}" >"$g/guest/args" || error "cannot write $g/guest/args"
(set -o pipefail; cd "$g" && find guest | cpio -o -H newc --owner=0:0 --quiet | gzip -1 >"$g/guest.cpio.gz") ||
    error "cannot build the guest archive (cpio/gzip)"
# Per run (not in the cache), so concurrent runs (ctest -j) do not overwrite each other's.
cat "$cache/l1-base.cpio.gz" "$g/guest.cpio.gz" >"$g/l1.cpio.gz" || error "cannot write $g/l1.cpio.gz"
flock -u 9

echo "run-nested.sh: QEMU TCG -cpu $cpu, L1 $(basename "$(readlink -f "$cache/vmlinuz")") + l1-base.cpio.gz + guest archive, guest $guest ${args[*]}"
for attempt in 1 2; do
start=$EPOCHREALTIME
# Each console line gets the host time it arrived, so L1 boot and guest run can be timed.
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu "$cpu" -m 1024 -nographic -no-reboot \
    -serial stdio -monitor none -kernel "$cache/vmlinuz" -initrd "$g/l1.cpio.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off" \
    -device isa-debug-exit,iobase=0xf4,iosize=4 </dev/null 2>&1 |
    while IFS= read -r line; do
        line=${line//$'\r'/}
        printf '%s\n' "$line"
        printf '%s %s\n' "$EPOCHREALTIME" "$line" >&3
    done 3>"$log"
qemu_rc=${PIPESTATUS[0]}
# QEMU 7.2 TCG itself (the L0, not the guest) sometimes aborts under nested SVM with
# "tcg_handle_interrupt: assertion failed: (qemu_mutex_iothread_locked())" (status 134), seen
# once in ~20 runs. That run produced no result at all, so it is retried once, saying so.
if [ "$qemu_rc" -eq 134 ] && [ $attempt -eq 1 ] && ! grep -q AFTERBURN-L1-RESULT "$log" &&
   grep -q 'tcg_handle_interrupt: assertion failed' "$log"; then
    echo "run-nested.sh: QEMU aborted (its own TCG assertion, before any result): retrying once"
    continue
fi
break
done
end=$EPOCHREALTIME

at() { awk -v m="$1" -v s="$start" 'index($0, m) { printf "%.2f", $1 - s; exit }' "$log"; }
t_init=$(at AFTERBURN-L1-INIT) t_kvm=$(at AFTERBURN-L1-KVM) t_res=$(at AFTERBURN-L1-RESULT)
total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
echo "run-nested.sh: host wall time: L1 /init at ${t_init:-?} s, KVM ready at ${t_kvm:-?} s," \
     "result at ${t_res:-?} s, QEMU exited at $total s (status $qemu_rc)"
reason=$(sed -n 's/^[0-9.]* AFTERBURN-L1-SKIP: //p' "$log" | head -n1)
[ -n "$reason" ] && skip "nested KVM is not available in the L1: $reason"
reason=$(sed -n 's/^[0-9.]* AFTERBURN-L1-ERROR: //p' "$log" | head -n1)
[ -n "$reason" ] && error "the L1 system is broken: $reason"
result=$(sed -n 's/^[0-9.]* AFTERBURN-L1-RESULT status=\([0-9]*\) .*/\1/p' "$log" | head -n1)
if [ -z "$result" ]; then
    [ "$qemu_rc" -eq 124 ] && echo "run-nested.sh: QEMU timed out after $timeout_s s" >&2
    echo "run-nested.sh: the L1 gave no result (QEMU status $qemu_rc); console log: $log" >&2
    exit 1
fi
echo "run-nested.sh: launcher status $result"
exit "$result"
