#!/usr/bin/env bash
# check-pistachio-boot.sh OUT: boot what build-pistachio.sh left in OUT under QEMU TCG and check
# the serial console: kickstart loads the kernel, sigma0 and the root task, the kernel prints
# its banner and, configured with KDB_ON_STARTUP, enters its debugger and shows the prompt.
#
# The multiboot convention (kickstart's mbi-loader.cc): QEMU -kernel loads kickstart (ELF32,
# multiboot header); -initrd "A,B,C" becomes the multiboot modules in that order, and kickstart
# ELF-loads the first three as kernel, sigma0 and root task (it refuses fewer than three).
set -euo pipefail

readonly PROG=check-pistachio-boot.sh

usage() {
    cat <<EOF
Usage: $PROG [--timeout SECONDS] [--log FILE] OUT
       $PROG --help

Boots OUT/kickstart with the modules OUT/x86-kernel, OUT/sigma0 and OUT/grabmem (the output
of build-pistachio.sh) under qemu-system-x86_64 -accel tcg -cpu qemu64 and waits for the kernel
debugger's prompt on the serial console (COM1). Passes (exit 0) when kickstart's "Launching
kernel", the kernel's "L4Ka::Pistachio - built on" banner, KDB's "System started" entry and
its "> " prompt appear in that order; fails (exit 1) on a timeout or a QEMU exit before that.

  --timeout S   seconds to wait for the prompt (default 120; under TCG it takes ~15 s)
  --log FILE    keep the serial console here (default OUT/boot.log)
  -h, --help    this text
EOF
}
usage_error() { echo "$PROG: error: $*" >&2; echo "Try '$PROG --help'." >&2; exit 2; }

TIMEOUT=120 LOGFILE=""
args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --timeout)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--timeout needs a positive number"
            TIMEOUT=$2; shift 2 ;;
        --log)
            [[ $# -ge 2 && -n $2 ]] || usage_error "--log needs a file"
            LOGFILE=$2; shift 2 ;;
        -*) usage_error "unknown option: $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[[ ${#args[@]} -eq 1 ]] || usage_error "expected OUT (build-pistachio.sh's output directory)"
OUT=${args[0]}
for f in kickstart x86-kernel sigma0 grabmem; do
    [[ -f $OUT/$f ]] || usage_error "$OUT/$f not found (run build-pistachio.sh SRC $OUT first)"
done
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
    { echo "$PROG: error: qemu-system-x86_64 not found; install it: apt-get install qemu-system-x86" >&2; exit 1; }
LOGFILE=${LOGFILE:-$OUT/boot.log}
: >"$LOGFILE"

# QEMU splits -initrd at commas, so the module paths must not contain any.
[[ $OUT != *,* ]] || usage_error "OUT's path must not contain a comma (QEMU's -initrd list): $OUT"

qemu-system-x86_64 -accel tcg -cpu qemu64 -m 256 -display none -monitor none -no-reboot \
    -serial "file:$LOGFILE" -kernel "$OUT/kickstart" \
    -initrd "$OUT/x86-kernel,$OUT/sigma0,$OUT/grabmem" </dev/null >"$LOGFILE.qemu" 2>&1 &
QEMU_PID=$!
cleanup() { kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; }
trap cleanup EXIT

# The console with escape sequences and carriage returns removed, for matching and showing.
plain() { sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\r//g' "$LOGFILE"; }
# reached: the four milestones in order (each after the previous one).
reached() {
    plain | awk '
        step == 0 && /Launching kernel/                 { step = 1; next }
        step == 1 && /L4Ka::Pistachio - built on/       { step = 2; next }
        step == 2 && /KD# System started/               { step = 3; next }
        step == 3 && /^-+ \(eip=/                       { step = 4; next }
        step == 4 && /^> /                              { step = 5 }
        END { exit step == 5 ? 0 : 1 }'
}

start=$SECONDS
verdict=""
while :; do
    if reached; then verdict=pass; break; fi
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then verdict="QEMU exited before the prompt"; break; fi
    if (( SECONDS - start >= TIMEOUT )); then verdict="no KDB prompt within ${TIMEOUT}s"; break; fi
    sleep 1
done
elapsed=$((SECONDS - start))

echo "---- serial console (from kickstart on) ----"
plain | sed -n '/KickStart/,$p'
echo
echo "--------------------------------------------"
if [[ $verdict == pass ]]; then
    echo "$PROG: PASS: banner and KDB prompt after ${elapsed}s (console: $LOGFILE)"
    exit 0
fi
echo "$PROG: FAIL: $verdict (console: $LOGFILE)" >&2
[[ -s $LOGFILE.qemu ]] && sed 's/^/qemu: /' "$LOGFILE.qemu" >&2
exit 1
