// What the wedge's core needs from the hypervisor it runs on (Xen, KVM, L4). The core never
// calls a hypervisor itself; each backend implements this interface. Kept narrow on purpose:
// every call is something only the backend can do.
//
// Abstract with a protected, non-virtual destructor: the core never deletes a backend, so
// no deleting destructor (and no operator delete) is needed in the freestanding build.
// A freestanding link needs __cxa_pure_virtual from the backend (the vtable of this class
// names it).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "wedge/console_sink.h"

namespace afterburn::wedge {

struct vcpu;

// Who performs a guest memory access: the guest at its virtual CPL (user when CPL 3), or
// the CPU itself (descriptor tables, the TSS, interrupt frames), which is always a
// supervisor access.
enum class access_mode : uint8_t { supervisor, user };

// A failed guest access: the #PF error code (event.h pf_error bits) and linear address.
struct page_fault {
    uint32_t error_code = 0;
    uint64_t address = 0;
};

// Privileged state the backend must make real on the CPU, or tell its hypervisor about,
// after the wedge changed it in the vCPU. The backend reads the new value from the vCPU.
enum class state_change : uint8_t {
    fs_base,          // vcpu.fs_base (wrfsbase, wrmsr, mov to %fs)
    gs_base,          // vcpu.gs_base (swapgs, wrgsbase, wrmsr, mov to %gs)
    kernel_gs_base,   // vcpu.kernel_gs_base (wrmsr, swapgs)
    segment_selector, // vcpu.selector[] for ds/es/fs/gs/ss (mov/pop to a segment register)
    cr0_ts,           // CR0.TS (clts, mov to cr0, lmsw): lazy FPU switching traps on it
    xcr0,             // xsetbv: the real XCR0 must match what the guest's xsave uses
    debug_registers,  // mov to %db: breakpoints the guest wants armed
    privilege,        // CPL/CS/SS changed (iret, sysret, lret, sysenter, delivery to CPL 0)
    syscall_entry,    // STAR/LSTAR/CSTAR/FMASK/SYSENTER_*: where the hypervisor sends syscalls
};

// Console output (the UART's transmit register, diagnostics) is console_sink::console_write.
class backend : public console_sink {
public:
    // Guest virtual memory, translated through the guest's current page tables with x86
    // permission checks for `mode` (A/D bits set as the CPU would). All or nothing: on a
    // fault nothing was written, and `fault` holds the #PF error code and the first
    // faulting address. Returns true on success.
    virtual bool read(uint64_t va, void *dst, size_t len, access_mode mode, page_fault &fault) = 0;
    virtual bool write(uint64_t va, const void *src, size_t len, access_mode mode, page_fault &fault) = 0;

    // The real time-stamp counter (rdtsc, rdtscp, IA32_TSC). The vCPU adds its offset.
    virtual uint64_t read_tsc() = 0;

    // The guest loaded CR3 (mov to cr3): switch to this root. Implies a flush of every
    // non-global translation, as on the CPU.
    virtual void load_cr3(uint64_t cr3) = 0;
    // Flush translations: all non-global ones, or with `global` every one (CR4.PGE
    // toggled, invpcid all-context).
    virtual void flush_tlb(bool global) = 0;
    // invlpg / invpcid individual-address: drop the translation of this linear address.
    virtual void invalidate_page(uint64_t linear) = 0;

    // See state_change.
    virtual void state_changed(const vcpu &cpu, state_change what) = 0;

    // A monotonic clock in nanoseconds for device timers (PIT, local APIC timer, RTC).
    virtual uint64_t now_ns() = 0;

protected:
    ~backend() = default;
};

} // namespace afterburn::wedge
