#!/bin/sh
# Every check can fail: boot the guest once per check with break=<check> on its command
# line and require that exactly that check prints FAIL (and the verdict is a failure).
#   break-checks.sh GUEST.ELF EXPECTED.TXT OUTDIR [AFTERBURN]
# Boots go through `AFTERBURN boot --on native` when that binary exists, else straight
# to QEMU (TCG). CPU model: $GUEST_QEMU_CPU, default max.
set -u
guest=$1 expected=$2 out=$3 afterburn=${4:-}
cpu=${GUEST_QEMU_CPU:-max}
mkdir -p "$out"
if [ -n "$afterburn" ] && [ -x "$afterburn" ]; then
    echo "booting with: $afterburn boot --on native --cpu $cpu"
    boot() {   # boot LOG APPEND
        "$afterburn" boot --on native "$guest" --cpu "$cpu" --timeout 60 -q --log "$1.raw" \
            ${2:+--append "$2"} </dev/null >/dev/null 2>&1
        tr -d '\r' <"$1.raw" >"$1"
        rm -f "$1.raw"
    }
else
    echo "booting with: qemu-system-x86_64 -accel tcg -cpu $cpu (no afterburn binary)"
    boot() {   # boot LOG APPEND
        timeout 60 qemu-system-x86_64 -accel tcg -cpu "$cpu" -m 256 -display none -no-reboot \
            -serial stdio -monitor none -device isa-debug-exit,iobase=0xf4,iosize=4 \
            -kernel "$guest" -append "$2" </dev/null 2>&1 | tr -d '\r' >"$1"
    }
fi
boot "$out/baseline.log" ""
checks=$(grep -v '^#' "$expected" | awk 'NF { print $2 }')
bad=0 tested=0
for c in $checks; do
    if grep -q "^SKIP $c:" "$out/baseline.log"; then
        echo "skip  $c (SKIP on this CPU, cannot be broken)"
        continue
    fi
    tested=$((tested + 1))
    boot "$out/$c.log" "break=$c"
    line=$(grep "^FAIL $c:" "$out/$c.log")
    others=$(grep '^FAIL ' "$out/$c.log" | grep -v "^FAIL $c:" | sed 's/:.*//; s/^FAIL //' | tr '\n' ' ')
    if [ -n "$line" ] && grep -qx AFTERBURN-FAILURE "$out/$c.log"; then
        echo "ok    $line${others:+   [also failed: $others]}"
    else
        echo "NOT BROKEN: $c (log $out/$c.log)"
        bad=$((bad + 1))
    fi
done
echo "$tested checks broken on purpose, $bad did not FAIL"
[ $bad -eq 0 ]
