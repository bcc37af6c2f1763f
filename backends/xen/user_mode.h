// Guest user mode (virtual CPL 3) runs in Xen's user mode. What differs from the guest's
// kernel mode: the GS base slot Xen swaps in, the real CR4.TSD, and `syscall`, which reaches
// the wedge through Xen's syscall callback (guest_syscall in guest.h).
#pragma once

#include <stdint.h>

#include "wedge/vcpu.h"

namespace xw {

// Xen keeps one GS base per mode (SEGBASE_GS_KERNEL / SEGBASE_GS_USER) and swaps them when it
// toggles modes; the guest has one active GS base (vcpu.gs_base; the other is its
// KERNEL_GS_BASE, virtual). So the active base goes to the slot of the mode the guest runs
// in, written only when it differs from what Xen holds there.
void sync_gs(const afterburn::wedge::vcpu &c);

// sync_gs on the way back into the guest at `rip` on stack `rsp`, except for the kernel slot
// while the guest kernel provably does not use %gs before its swapgs (gs_free_entry.h): an
// exception or interrupt delivered from user mode leaves the slot with the kernel's base.
void sync_gs_for_resume(const afterburn::wedge::vcpu &c, uint64_t rip, uint64_t rsp);

// CR4.TSD is virtual in the vCPU; the guest kernel's rdtsc are sites. Only the guest's ring-3
// rdtsc (unrewritten .user code) needs the real bit: a PV kernel may set TSD in its CR4 (Xen
// emulates mov to/from %cr4 for it and keeps TSD per vCPU), so the real TSD is set while the
// guest runs in user mode with virtual TSD set, and cleared at every way back into the wedge
// from user mode before anything else runs (the wedge's own rdtsc would trap).
void set_real_tsd(bool on);

// Every way into the wedge from guest user mode, first thing: the real TSD off, the user
// stack noted (guest_stacks.h).
void left_user_mode(uint64_t user_rsp);
// The way back (the real TSD follows the virtual one).
void returning_to_user_mode(const afterburn::wedge::vcpu &c);

} // namespace xw
