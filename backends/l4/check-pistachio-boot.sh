#!/usr/bin/env bash
# check-pistachio-boot.sh OUT: boot what build-pistachio.sh left in OUT under QEMU TCG and check
# the serial console: kickstart loads the kernel, sigma0 and the root task, the kernel prints
# its banner and, configured with KDB_ON_STARTUP, enters its debugger and shows the prompt;
# then we type "g" (continue) and the root task (grabmem: it asks sigma0 for all memory, page
# by page size, and prints the total) must run to its end: user threads, IPC and sigma0 work.
#
# The multiboot convention (kickstart's mbi-loader.cc): QEMU -kernel loads kickstart (ELF32,
# multiboot header); -initrd "A,B,C" becomes the multiboot modules in that order, and kickstart
# ELF-loads the first three as kernel, sigma0 and root task (it refuses fewer than three).
set -euo pipefail

readonly PROG=check-pistachio-boot.sh

usage() {
    cat <<EOF
Usage: $PROG [--timeout SECONDS] [--log FILE] [--cpu MODEL] OUT
       $PROG --help

Boots OUT/kickstart with the modules OUT/x86-kernel, OUT/sigma0 and OUT/grabmem (the output
of build-pistachio.sh) under qemu-system-x86_64 -accel tcg -cpu qemu64 and waits for the kernel
debugger's prompt on the serial console (COM1), types "g", and waits for the root task.
Passes (exit 0) when these appear in this order: kickstart's "Launching kernel", the kernel's
"L4Ka::Pistachio - built on" banner, KDB's "System started" entry and its "> " prompt, then
(after "g") grabmem's "Hello world" and "Total memory:" lines. Fails (exit 1), naming the last
step reached, on a timeout or a QEMU exit before that.

  --timeout S   seconds to wait for all of it (default 120; under TCG it takes ~25 s)
  --log FILE    keep the serial console here (default OUT/boot.log)
  --cpu MODEL   QEMU CPU model (default qemu64; max works too)
  -h, --help    this text
EOF
}
usage_error() { echo "$PROG: error: $*" >&2; echo "Try '$PROG --help'." >&2; exit 2; }

TIMEOUT=120 LOGFILE="" CPU=qemu64
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
        --cpu)
            [[ $# -ge 2 && $2 =~ ^[A-Za-z0-9_.,=+-]+$ ]] || usage_error "--cpu needs a QEMU CPU model"
            CPU=$2; shift 2 ;;
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

# The serial port is QEMU's stdin/stdout: stdin a FIFO we write KDB's keys to, stdout the log.
FIFO_DIR=$(mktemp -d)
mkfifo "$FIFO_DIR/in"
qemu-system-x86_64 -accel tcg -cpu "$CPU" -m 256 -display none -monitor none -no-reboot \
    -nographic -serial stdio -kernel "$OUT/kickstart" \
    -initrd "$OUT/x86-kernel,$OUT/sigma0,$OUT/grabmem" <"$FIFO_DIR/in" >"$LOGFILE" 2>"$LOGFILE.qemu" &
QEMU_PID=$!
exec 3>"$FIFO_DIR/in"
cleanup() {
    exec 3>&- || true
    kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true
    rm -rf "$FIFO_DIR"
}
trap cleanup EXIT

# The console with escape sequences and carriage returns removed, for matching and showing.
plain() { sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\r//g' "$LOGFILE"; }
# step: how many of the milestones have appeared, in order (each after the previous one).
readonly STEPS=("kickstart: Launching kernel" "kernel banner" "KDB entry (System started)"
                "KDB register line" "KDB prompt" "root task: Hello world" "root task: Total memory")
step() {
    plain | awk '
        step == 0 && /Launching kernel/                 { step = 1; next }
        step == 1 && /L4Ka::Pistachio - built on/       { step = 2; next }
        step == 2 && /KD# System started/               { step = 3; next }
        step == 3 && /^-+ \(eip=/                       { step = 4; next }
        step == 4 && /^> /                              { step = 5 }
        step == 5 && /^Hello world/                     { step = 6; next }
        step == 6 && /^Total memory: /                  { step = 7 }
        END { print step + 0 }'
}

start=$SECONDS
verdict="" sent_go=0 reached=0
while :; do
    reached=$(step)
    if (( reached == ${#STEPS[@]} )); then verdict=pass; break; fi
    if (( reached == 5 && ! sent_go )); then
        sleep 1; printf 'g' >&3; sent_go=1   # KDB: continue; sigma0 and the root task run
    fi
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then verdict="QEMU exited"; break; fi
    if (( SECONDS - start >= TIMEOUT )); then verdict="timeout after ${TIMEOUT}s"; break; fi
    sleep 1
done
elapsed=$((SECONDS - start))

echo "---- serial console (from kickstart on) ----"
plain | sed -n '/KickStart/,$p'
echo
echo "--------------------------------------------"
if [[ $verdict == pass ]]; then
    echo "$PROG: PASS: banner, KDB prompt, root task done after ${elapsed}s (console: $LOGFILE)"
    exit 0
fi
last="nothing"; (( reached > 0 )) && last=${STEPS[reached-1]}
echo "$PROG: FAIL: $verdict; last step reached: $last; missing: ${STEPS[reached]} (console: $LOGFILE)" >&2
[[ -s $LOGFILE.qemu ]] && sed 's/^/qemu: /' "$LOGFILE.qemu" >&2
exit 1
