#!/usr/bin/env bash
# A stand-in for qemu-system-x86_64 used by fake_qemu_run.sh: it records its arguments and
# pids, then behaves as $FAKE_QEMU_MODE says, printing "console" text on stdout like -serial stdio.
printf '%s\n' "$@" >"$FAKE_QEMU_DIR/argv"
echo $$ >"$FAKE_QEMU_DIR/pid"
# A grandchild, as a real VMM might have: the launcher must take it down with the group.
sleep 1000 &
echo $! >"$FAKE_QEMU_DIR/child-pid"
console() { printf '%s\r\n' "$@"; }
case $FAKE_QEMU_MODE in
    success_exit) console "booting" "AFTERBURN-START" "AFTERBURN-SUCCESS"; kill $!; exit 0 ;;
    success_hang) console "booting" "AFTERBURN-SUCCESS"; sleep 1000 ;;
    failure)      console "booting" "AFTERBURN-FAILURE: wedge self-test 3"; sleep 1000 ;;
    panic)        console "booting" "Kernel panic - not syncing: No working init found."
                  console "CPU: 0 PID: 1 Comm: swapper"; sleep 1000 ;;
    debug_exit)   console "booting" "guest wrote 3 to port 0xf4"; kill $!; exit 7 ;;
    silent)       sleep 1000 ;;
    bad_args)     echo "qemu-system-x86_64: -kernel x: cannot load kernel" >&2; kill $!; exit 1 ;;
    mention)      console "Kernel command line: console=ttyS0 marker=AFTERBURN-SUCCESS"
                  console "echo AFTERBURN-SUCCESS" "AFTERBURN-SUCCESSOR"; kill $!; exit 0 ;;
    partial)      printf 'line one\r\n'; sleep 0.3; printf '[    1.234567] AFTERBURN-SUCCESS'
                  kill $!; exit 0 ;;
    wedge_verdict) console "(XEN) starting dom0" "xen-wedge: TRAP #UD" "xen-wedge: verdict 2"; kill $!; exit 5 ;;
    wedge_schedop) console "xen-wedge: verdict 1" "xen-wedge: isa-debug-exit at 0xf4 did not end the machine"
                   console "xen-wedge: verdict 1 via SCHEDOP_shutdown" "(XEN) Hardware Dom0 shutdown"; kill $!; exit 0 ;;
    wedge_none)   console "(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds."; kill $!; exit 0 ;;
    *)            echo "fake-qemu: unknown FAKE_QEMU_MODE '$FAKE_QEMU_MODE'" >&2; exit 99 ;;
esac
