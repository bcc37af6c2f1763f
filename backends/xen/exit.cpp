// Verdict exit: isa-debug-exit through an emulated `outl`, else SCHEDOP_shutdown.
#include "exit.h"

#include "console.h"
#include "hypercall.h"

namespace xw {

namespace {

constexpr unsigned short debug_exit_port = 0xf4;

// Xen treats a 64-bit PV kernel as running at ring 1 for I/O-privilege checks (unless the
// guest opts into VMASST_TYPE_architectural_iopl), so iopl 1 is the least that lets the
// kernel's `out` through.
constexpr unsigned least_iopl = 1;

} // namespace

void exit_with(verdict v) {
    print("xen-wedge: verdict %u\n", static_cast<unsigned>(v));

    physdev_set_iopl iopl{};
    iopl.iopl = least_iopl;
    long rc = physdev_op(PHYSDEVOP_set_iopl, &iopl);
    if (rc == 0) {
        // QEMU exits right here if the device is present.
        asm volatile("outl %0, %1" : : "a"(static_cast<unsigned>(v)), "Nd"(debug_exit_port));
        print("xen-wedge: isa-debug-exit at 0x%x did not end the machine\n", debug_exit_port);
    } else {
        print("xen-wedge: PHYSDEVOP_set_iopl(%u) failed: %ld\n", least_iopl, rc);
    }

    // Fallback. Test scripts read this line when QEMU gives no debug-exit status.
    print("xen-wedge: verdict %u via SCHEDOP_shutdown\n", static_cast<unsigned>(v));
    sched_shutdown shutdown{};
    shutdown.reason = v == verdict_pass ? SHUTDOWN_poweroff : SHUTDOWN_crash;
    for (;;) sched_op(SCHEDOP_shutdown, &shutdown);
}

} // namespace xw
