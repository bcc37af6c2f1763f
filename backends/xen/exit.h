// Leaving the machine with a verdict.
//
// Tests run the wedge as dom0 under QEMU with `-device isa-debug-exit,iobase=0xf4,iosize=4`:
// a write of V to port 0xf4 ends QEMU with exit status (V << 1) | 1. Port I/O from a PV
// kernel (ring 3) needs an I/O privilege level granted with PHYSDEVOP_set_iopl; Xen then
// emulates the `out`. If that fails (no such device, or Xen refuses) we fall back to
// SCHEDOP_shutdown, which for dom0 makes Xen halt or reboot the machine.
#pragma once

namespace xw {

enum verdict : unsigned {
    verdict_pass = 0,
    verdict_fail = 1,             // a self-check failed
    verdict_unexpected_trap = 2,  // an exception the wedge did not ask for
    verdict_failsafe = 3,         // Xen could not return to us (failsafe callback)
    verdict_main_returned = 4,    // wedge_main fell off its end (a bug)
};

[[noreturn]] void exit_with(verdict v);

} // namespace xw
