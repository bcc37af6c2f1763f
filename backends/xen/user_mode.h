// Guest user mode (virtual CPL 3) runs in Xen's user mode. What differs from the guest's
// kernel mode: the GS base slot Xen swaps in, the real CR4.TSD, and `syscall`, which reaches
// the wedge through Xen's syscall callback (guest_syscall in guest.h).
#pragma once

#include <stdint.h>

#include "guest_stacks.h"
#include "wedge/vcpu.h"

namespace xw {

// Xen keeps one GS base per mode (SEGBASE_GS_KERNEL / SEGBASE_GS_USER) and swaps them when it
// toggles modes; the guest has one active GS base (vcpu.gs_base; the other is its
// KERNEL_GS_BASE, virtual). So the active base goes to the slot of the mode the guest runs
// in, written only when it differs from what Xen holds there.
// Inline: both system-call fast paths call it, and Xen almost always holds the base already.
struct xen_gs_slots {
    uint64_t base[2];  // [0] kernel, [1] user: what Xen holds
};
extern xen_gs_slots g_xen_gs;
void write_gs_slot(const afterburn::wedge::vcpu &c);
inline void sync_gs(const afterburn::wedge::vcpu &c) {
    if (g_xen_gs.base[c.cpl == 3] != c.gs_base) write_gs_slot(c);
}
// sync_gs for a caller that has just set c.cpl itself (3 for `user_mode`, else 0): the slot
// without reading the CPL back (the vCPU's byte stores in between make the compiler reload it).
inline void sync_gs_at(const afterburn::wedge::vcpu &c, bool user_mode) {
    if (g_xen_gs.base[user_mode] != c.gs_base) write_gs_slot(c);
}

// sync_gs on the way back into the guest at `rip` on stack `rsp`, except for the kernel slot
// while the guest kernel provably does not use %gs before its swapgs (gs_free_entry.h): an
// exception or interrupt delivered from user mode leaves the slot with the kernel's base.
void sync_gs_for_resume(const afterburn::wedge::vcpu &c, uint64_t rip, uint64_t rsp);

// CR4.TSD is virtual in the vCPU; the guest kernel's rdtsc are sites. Only the guest's ring-3
// rdtsc (unrewritten .user code) needs the real bit: a PV kernel may set TSD in its CR4 (Xen
// emulates mov to/from %cr4 for it and keeps TSD per vCPU), so the real TSD is set while the
// guest runs in user mode with virtual TSD set, and cleared at every way back into the wedge
// from user mode before anything else runs (the wedge's own rdtsc would trap).
// Inline (with the two below): the system call's fast paths pass here, and the bit almost
// never changes.
extern bool g_real_tsd;
void write_real_tsd(bool on);
inline void set_real_tsd(bool on) {
    if (on != g_real_tsd) write_real_tsd(on);
}

// Every way into the wedge from guest user mode, first thing: the real TSD off, the user
// stack noted (guest_stacks.h).
inline void left_user_mode(uint64_t user_rsp) {
    set_real_tsd(false);
    note_user_stack(user_rsp);
}
// The way back (the real TSD follows the virtual one). The guest's TSC is the real one plus
// the vCPU's offset (its wrmsr to IA32_TSC moved it; the core adds the offset at every kernel
// rdtsc site). A ring-3 rdtsc runs on the real CPU and would read the real TSC, ahead of or
// behind the kernel's clock. So user mode also runs with the real TSD set while the offset is
// not zero: its rdtsc/rdtscp trap, and the core emulates them with the offset (or raises #GP
// when the guest's own TSD is set).
inline void returning_to_user_mode(const afterburn::wedge::vcpu &c) {
    set_real_tsd((c.cr4 & afterburn::wedge::cr4::tsd) != 0 || c.tsc_offset != 0);
}

} // namespace xw
