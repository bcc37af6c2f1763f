// Hypercall wrappers.
//
// Xen fills `hypercall_page` (named by the XEN_ELFNOTE_HYPERCALL_PAGE note) with one 32-byte
// stub per hypercall; calling stub N is the portable way to make hypercall N (the stub knows
// whether this CPU wants syscall, vmcall or vmmcall). x86-64 ABI (xen/arch-x86/xen-x86_64.h):
// number implied by the stub, arguments in rdi, rsi, rdx, r10, r8, result in rax; the
// syscall instruction inside clobbers rcx and r11. Argument registers are declared in/out
// because debug builds of Xen deliberately scramble them on return.
#pragma once

#include "xen_public.h"

extern "C" char hypercall_page[4096];

namespace xw {

template <unsigned Nr>
inline long hypercall(unsigned long a1 = 0, unsigned long a2 = 0, unsigned long a3 = 0,
                      unsigned long a4 = 0, unsigned long a5 = 0) {
    static_assert(Nr < 4096 / 32, "hypercall number outside the hypercall page");
    register unsigned long rdi asm("rdi") = a1;
    register unsigned long rsi asm("rsi") = a2;
    register unsigned long rdx asm("rdx") = a3;
    register unsigned long r10 asm("r10") = a4;
    register unsigned long r8 asm("r8") = a5;
    long rax;
    asm volatile("call hypercall_page + %c[off]"
                 : "=a"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r10), "+r"(r8)
                 : [off] "i"(Nr * 32)
                 : "rcx", "r11", "memory");
    return rax;
}

inline long console_write(const char *buf, unsigned long len) {
    return hypercall<__HYPERVISOR_console_io>(CONSOLEIO_write, len,
                                              reinterpret_cast<unsigned long>(buf));
}

inline long set_trap_table(const trap_info *table) {
    return hypercall<__HYPERVISOR_set_trap_table>(reinterpret_cast<unsigned long>(table));
}

// x86-64 form: event upcall, failsafe callback, syscall entry (0 = none).
inline long set_callbacks(void (*event)(), void (*failsafe)(), void (*syscall)()) {
    return hypercall<__HYPERVISOR_set_callbacks>(reinterpret_cast<unsigned long>(event),
                                                 reinterpret_cast<unsigned long>(failsafe),
                                                 reinterpret_cast<unsigned long>(syscall));
}

// CALLBACKOP_register: one callback with flags (CALLBACKF_mask_events), which the older
// set_callbacks cannot pass.
inline long register_callback(uint16_t type, void (*address)(), uint16_t flags) {
    callback_register reg{type, flags, reinterpret_cast<xen_callback_t>(address)};
    return hypercall<__HYPERVISOR_callback_op>(CALLBACKOP_register, reinterpret_cast<unsigned long>(&reg));
}

inline long sched_op(int cmd, void *arg) {
    return hypercall<__HYPERVISOR_sched_op>(static_cast<unsigned long>(cmd),
                                            reinterpret_cast<unsigned long>(arg));
}

inline long physdev_op(int cmd, void *arg) {
    return hypercall<__HYPERVISOR_physdev_op>(static_cast<unsigned long>(cmd),
                                              reinterpret_cast<unsigned long>(arg));
}

inline long event_channel_op(int cmd, void *arg) {
    return hypercall<__HYPERVISOR_event_channel_op>(static_cast<unsigned long>(cmd),
                                                    reinterpret_cast<unsigned long>(arg));
}

inline long xen_version(int cmd, void *arg) {
    return hypercall<__HYPERVISOR_xen_version>(static_cast<unsigned long>(cmd),
                                               reinterpret_cast<unsigned long>(arg));
}

// FS base, or the kernel/user GS base (SEGBASE_*, xen-x86_64.h).
inline long set_segment_base(unsigned which, uint64_t base) {
    return hypercall<__HYPERVISOR_set_segment_base>(which, base);
}

// The kernel stack Xen switches to on a trap, event or syscall from guest user mode.
inline long stack_switch(unsigned long ss, unsigned long sp) {
    return hypercall<__HYPERVISOR_stack_switch>(ss, sp);
}

// One-shot timer: VIRQ_TIMER fires at this Xen system time (ns); 0 cancels.
inline long set_timer_op(uint64_t deadline_ns) {
    return hypercall<__HYPERVISOR_set_timer_op>(deadline_ns);
}

// CR0.TS: 1 sets it (the next FPU instruction raises #NM), 0 clears it.
inline long fpu_taskswitch(int set) {
    return hypercall<__HYPERVISOR_fpu_taskswitch>(static_cast<unsigned long>(set));
}

// Replace the PTE that maps `va` (in the current page tables) with `pte`, a *machine* PTE.
inline long update_va_mapping(unsigned long va, uint64_t pte, unsigned long flags) {
    return hypercall<__HYPERVISOR_update_va_mapping>(va, pte, flags);
}

} // namespace xw

namespace xw {

inline long mmu_update(const mmu_update_t *reqs, unsigned count, unsigned *done) {
    return hypercall<__HYPERVISOR_mmu_update>(reinterpret_cast<unsigned long>(reqs), count,
                                              reinterpret_cast<unsigned long>(done), DOMID_SELF);
}

inline long mmuext_op(const mmuext_op_t *ops, unsigned count, unsigned *done) {
    return hypercall<__HYPERVISOR_mmuext_op>(reinterpret_cast<unsigned long>(ops), count,
                                             reinterpret_cast<unsigned long>(done), DOMID_SELF);
}

} // namespace xw
