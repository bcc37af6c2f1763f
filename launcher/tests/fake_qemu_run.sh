#!/usr/bin/env bash
# launcher.fake_qemu: drive `boot` against fake-qemu.sh and check the outcome of each scenario:
# exit status, the reason printed, how long it took, and that no process is left behind.
set -u
BOOT=$1 FAKE=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export AFTERBURN_QEMU=$FAKE FAKE_QEMU_DIR=$TMP

# A minimal PVH ELF that also carries a "Linux" note, so boot treats it as a Linux image.
cat >"$TMP/img.s" <<'S'
    .section .note.Xen, "a", @note
    .long 4, 4, 18
    .asciz "Xen"
    .long _start
    .section .note.Linux, "a", @note
    .long 6, 4, 1
    .asciz "Linux"
    .balign 4
    .long 0
    .text
    .globl _start
_start: hlt
S
as --32 -o "$TMP/img.o" "$TMP/img.s" && ld -m elf_i386 -Ttext=0x100000 -o "$TMP/img.elf" "$TMP/img.o" || exit 1

failures=0
# alive PID: running and not a zombie (an orphan's zombie waits for init to reap it), given up
# to a second for a SIGKILL that was just sent to land.
alive() {
    local i state
    for i in 1 2 3 4 5 6 7 8 9 10; do
        state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
        [[ -z $state || $state == Z || $state == X ]] && return 1
        sleep 0.1
    done
    return 0
}
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# run MODE WANT_RC REGEX MAX_SECONDS [boot args...] (--on native unless ON says otherwise)
ON=native
run() {
    local mode=$1 want=$2 regex=$3 max=$4; shift 4
    rm -f "$TMP/pid" "$TMP/child-pid" "$TMP/argv"
    local t0=$SECONDS rc
    FAKE_QEMU_MODE=$mode "$BOOT" --on "$ON" "$TMP/img.elf" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    local took=$((SECONDS - t0))
    if [[ $rc -ne $want ]]; then fail "$mode: exit $rc, want $want"; cat "$TMP/err"; return; fi
    if ! grep -qE -- "$regex" "$TMP/err"; then fail "$mode: stderr lacks /$regex/"; cat "$TMP/err"; return; fi
    if [[ $took -gt $max ]]; then fail "$mode: took ${took}s, want <= ${max}s"; return; fi
    local p
    for p in "$TMP/pid" "$TMP/child-pid"; do
        if [[ -f $p ]] && alive "$(cat "$p")"; then
            fail "$mode: process $(cat "$p") ($(basename "$p")) still running"; kill -9 "$(cat "$p")"
        fi
    done
    echo "ok: $mode (exit $rc, ${took}s): $(grep -E -- "$regex" "$TMP/err" | head -n 1)"
}

run success_exit 0 "success: 'AFTERBURN-SUCCESS' after .*exited with status 0" 3
grep -qx 'AFTERBURN-START' <(tr -d '\r' <"$TMP/out") || fail "success_exit: console not streamed to stdout"
# The command line: the fixed QEMU setup, console=ttyS0 for a Linux image, extra args last.
run success_exit 0 "success" 3 --qemu-arg -smp --qemu-arg 2 --memory 512 --cpu qemu64
want="-accel tcg -cpu qemu64 -m 512 -nographic -no-reboot -serial stdio -monitor none -kernel $TMP/img.elf -device isa-debug-exit,iobase=0xf4,iosize=4 -append console=ttyS0 no_timer_check -smp 2"
[[ $(tr '\n' ' ' <"$TMP/argv") == "$want " ]] || fail "argv: got '$(tr '\n' ' ' <"$TMP/argv")', want '$want'"
touch "$TMP/initrd"
run success_exit 0 "success" 3 --initrd "$TMP/initrd" --append "quiet console=ttyS0 x=1" --marker AFTERBURN-START
grep -qx -- "-initrd" "$TMP/argv" && grep -qx "quiet console=ttyS0 x=1" "$TMP/argv" ||
    fail "argv: --initrd/--append not passed: $(tr '\n' ' ' <"$TMP/argv")"

run success_hang 0 "success: .*QEMU stopped after 5.0s" 8
run failure      1 "FAILED: guest reported failure .*: AFTERBURN-FAILURE: wedge self-test 3" 2
run panic        1 "FAILED: guest crashed .*Kernel panic - not syncing" 5
grep -q '  | CPU: 0 PID: 1 Comm: swapper' "$TMP/err" || fail "panic: last console lines not shown"
run debug_exit   1 "FAILED: QEMU exited with status 7 \(isa-debug-exit value 3\)" 3
run silent       1 "FAILED: timeout: no 'AFTERBURN-SUCCESS' after 2.0s" 4 --timeout 2
run bad_args     3 "QEMU failed to start: qemu-system-x86_64: -kernel x: cannot load kernel" 3 -q
run mention      1 "FAILED: QEMU exited with status 0 .* without 'AFTERBURN-SUCCESS'" 3
run partial      0 "success" 3 -q --log "$TMP/console.log"
[[ -s $TMP/out ]] && fail "partial: -q still wrote the console to stdout"
[[ $(cat "$TMP/console.log") == $'line one\r\n[    1.234567] AFTERBURN-SUCCESS' ]] ||
    fail "partial: --log content is '$(cat "$TMP/console.log")'"

# --on xen: the QEMU command line (Xen as the multiboot kernel, the wedge next to boot as dom0,
# the guest as its module) and the wedge's verdict, by isa-debug-exit or SCHEDOP_shutdown.
wedge=$(dirname "$BOOT")/xen-wedge.elf
if [[ -f $wedge ]]; then
    head -c 4096 /dev/urandom | gzip >"$TMP/xen-4.17-amd64.gz"
    export AFTERBURN_XEN_GZ=$TMP/xen-4.17-amd64.gz AFTERBURN_XEN_CACHE=$TMP/xen-cache
    ON=xen
    # The fake image has no Afterburn notes: refused, unless the fallback alone is asked for.
    run wedge_verdict 2 "no Afterburn annotation note .*--trap-and-emulate" 3
    run wedge_verdict 2 "trap-and-emulate is for --on xen" 3 --on native --trap-and-emulate
    TE=--trap-and-emulate
    run wedge_verdict 1 "FAILED: the wedge's verdict 2 \(isa-debug-exit\) after" 3 $TE
    want="-accel tcg -cpu max -m 576 -nographic -no-reboot -serial stdio -monitor none -kernel $TMP/xen-cache/xen-4.17-amd64 -device isa-debug-exit,iobase=0xf4,iosize=4 -initrd $wedge guest memory=256 pt-sites=stores -- console=ttyS0 panic=-1,$TMP/img.elf -append console=com1 com1=115200,8n1 dom0_mem=320M,max:320M dom0_max_vcpus=1 no-real-mode bootscrub=0 ucode=no cpufreq=none iommu=0 loglvl=all guest_loglvl=all"
    [[ $(tr '\n' ' ' <"$TMP/argv") == "$want " ]] || fail "xen argv: got '$(tr '\n' ' ' <"$TMP/argv")', want '$want'"
    # --pt-sites wedge reaches the wedge's options; a bad mode, or another backend, is refused.
    run wedge_verdict 1 "FAILED: the wedge's verdict 2" 3 $TE --pt-sites wedge
    grep -qF " guest memory=256 pt-sites=wedge -- console=ttyS0 panic=-1,$TMP/img.elf" "$TMP/argv" ||
        fail "xen argv: no pt-sites=wedge for the wedge: '$(tr '\n' ' ' <"$TMP/argv")'"
    run wedge_verdict 1 "FAILED: the wedge's verdict 2" 3 $TE --pt-sites native --verify-shadow
    grep -qF " guest memory=256 shadow-verify -- console=ttyS0 panic=-1,$TMP/img.elf" "$TMP/argv" ||
        fail "xen argv: --pt-sites native still gave the wedge a pt-sites option, or no shadow-verify: '$(tr '\n' ' ' <"$TMP/argv")'"
    run wedge_verdict 2 "--verify-shadow is for --on xen" 3 --on native --verify-shadow
    run wedge_verdict 2 "--pt-sites wants native, stores or wedge, got 'direct'" 3 $TE --pt-sites direct
    run wedge_verdict 2 "--pt-sites is for --on xen" 3 --on native --pt-sites wedge
    cmp -s <(gzip -dc "$AFTERBURN_XEN_GZ") "$TMP/xen-cache/xen-4.17-amd64" || fail "xen: the hypervisor was not gunzipped into the cache"
    run wedge_schedop 1 "FAILED: the wedge's verdict 1 \(SCHEDOP_shutdown; QEMU status 0\)" 3 $TE
    run wedge_none 1 "FAILED: Xen ended without a verdict from the wedge \(QEMU exited with status 0 .*without 'AFTERBURN-SUCCESS'" 3 $TE
    run success_exit 2 "initrd .* is empty" 3 $TE --initrd "$TMP/initrd"  # --initrd is packed with the kernel (module_pack.h)
    run success_exit 2 "holds a ','" 3 $TE --append "console=ttyS0,115200"
    AFTERBURN_XEN_GZ=$TMP/no-such.gz run success_exit 4 "Xen not available on this machine: $TMP/no-such.gz is missing" 3 $TE
    unset AFTERBURN_XEN_GZ AFTERBURN_XEN_CACHE
    ON=native
else
    fail "no $wedge next to $BOOT (build the xen-wedge target)"
fi

# No QEMU binary at all.
rm -f "$TMP/pid"
AFTERBURN_QEMU=$TMP/no-such-qemu "$BOOT" --on native "$TMP/img.elf" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [[ $rc -ne 3 ]] || ! grep -q "QEMU failed to start: cannot run '.*no-such-qemu': No such file" "$TMP/err"; then
    fail "missing qemu: exit $rc: $(cat "$TMP/err")"
else
    echo "ok: missing qemu binary (exit 3)"
fi

# SIGTERM to the launcher takes QEMU (and its children) down with it.
rm -f "$TMP/pid" "$TMP/child-pid"
FAKE_QEMU_MODE=silent "$BOOT" --on native "$TMP/img.elf" -q >/dev/null 2>&1 &
bpid=$!
for _ in $(seq 50); do [[ -s $TMP/child-pid ]] && break; sleep 0.1; done
kill -TERM "$bpid"; wait "$bpid"; rc=$?
if [[ $rc -ne 143 ]]; then fail "SIGTERM: launcher exit $rc, want 143"; fi
for p in "$TMP/pid" "$TMP/child-pid"; do
    if alive "$(cat "$p")"; then fail "SIGTERM: $(basename "$p") survived"; kill -9 "$(cat "$p")"; fi
done
echo "ok: SIGTERM kills the QEMU process group"

[[ $failures -eq 0 ]] && echo "all fake-QEMU scenarios passed" || { echo "$failures failure(s)"; exit 1; }
