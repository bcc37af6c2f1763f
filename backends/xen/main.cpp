// The wedge's bring-up sequence on Xen: report what Xen gave us, install exception and event
// handling, prove both paths, look at the boot module, and leave with a verdict.
#include "bootmod.h"
#include "cmdline.h"
#include "console.h"
#include "events.h"
#include "exit.h"
#include "hypercall.h"
#include "shared_info.h"
#include "start_info.h"
#include "traps.h"

namespace xw {

namespace {

void print_xen_version() {
    long v = xen_version(XENVER_version, nullptr);
    xen_extraversion_t extra{};
    xen_version(XENVER_extraversion, &extra);
    extra[sizeof extra - 1] = 0;
    print("xen-wedge: running on Xen %ld.%ld%s\n", v >> 16, v & 0xffff, extra);
}

// fault=KIND makes the wedge fault on purpose, to prove that an unexpected exception is
// reported (trap table) and turned into a failing verdict rather than a silent death.
[[noreturn]] void fault_on_purpose(const Slice &kind) {
    print("xen-wedge: faulting on purpose (fault=%.*s)\n", static_cast<int>(kind.len), kind.p);
    // The loads are asm so the compiler cannot reason about (or drop) the bad access.
    unsigned long scratch;
    if (kind.equals("pf")) {
        // Nothing is mapped at the bottom of the address space: the initial mapping starts
        // at VIRT_BASE in the top 2 GiB.
        asm volatile("movq (%1), %0" : "=r"(scratch) : "r"(0x10ul) : "memory");
    } else if (kind.equals("gp")) {
        // A non-canonical address.
        asm volatile("movq (%1), %0" : "=r"(scratch) : "r"(0x8000000000000000ul) : "memory");
    } else {
        asm volatile("ud2");
    }
    print("xen-wedge: fault=%.*s did not fault\n", static_cast<int>(kind.len), kind.p);
    exit_with(kFail);
}

} // namespace

} // namespace xw

extern "C" [[noreturn]] void wedge_main(const start_info_t *si, unsigned long xen_rsp) {
    using namespace xw;
    print("xen-wedge: hello from the afterburn wedge, a Xen PV x86-64 kernel\n");
    if (!start_info_valid(si)) {
        print("xen-wedge: start_info magic is not xen-3.0-x86_64\n");
        exit_with(kFail);
    }
    print_xen_version();
    print_start_info(si, xen_rsp);

    const char *cmdline = reinterpret_cast<const char *>(si->cmd_line);
    print("xen-wedge: guest command line \"%s\"\n", guest_cmdline(cmdline));

    if (!map_shared_info(si) || !install_traps()) exit_with(kFail);
    print("xen-wedge: trap table and callbacks registered\n");

    // The trap path, end to end: int3 goes through the trap table to trap_dispatch and back
    // through HYPERVISOR_iret to the next instruction.
    asm volatile("int3" ::: "memory");
    if (breakpoints_taken() != 1) {
        print("xen-wedge: int3 self-test: %u traps taken, expected 1\n", breakpoints_taken());
        exit_with(kFail);
    }
    print("xen-wedge: trap self-test: int3 handled and resumed\n");

    if (!event_self_test()) exit_with(kFail);

    describe_boot_module(boot_module(si));

    Slice fault = cmdline_option(cmdline, "fault");
    if (fault.found()) fault_on_purpose(fault);

    print("xen-wedge: bring-up complete\n");
    exit_with(kPass);
}

extern "C" [[noreturn]] void wedge_main_returned() { xw::exit_with(xw::kMainReturned); }
