// The guest kernel's return to user mode without the core's site dispatch: its `iretq` site
// popping a user (RPL 3) frame, and the `swapgs` that leads to it (return_chain.h). Through
// the core each was a full site run (poll, emulate, delivery, resume); here the iretq frame and
// its two descriptors are read and checked as the core does, the vCPU takes CPL 3, and the
// wedge goes straight to HYPERVISOR_iret. Fused with the swapgs, the GS base the swapgs leaves
// active goes only to Xen's user slot (the kernel slot keeps the kernel's base, which the next
// entry's swapgs brings back): two HYPERVISOR_set_segment_base fewer per system call.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// Runs the iretq site `s` (g_guest_run.frame holds the guest's registers) and continues the
// guest in user mode, when that gives exactly what the core would: CPL 0, a 64-bit iretq, NT
// and TF clear, a readable frame whose CS is a present 64-bit DPL-3 code segment and SS a
// present writable DPL-3 data segment, both in the GDT (an LDT selector is left to the core),
// a canonical user-half rip, IF set and TF/NT clear in the popped RFLAGS, and no virtual
// interrupt pending (the core would deliver it at the site's exit). Returns otherwise, having
// changed nothing; the caller then runs the site through the core, which also raises every
// fault.
void try_user_return_fast(const afterburn::wedge::site &s);

// The swapgs site `s` whose call returned to `ret`, when its code reaches an iretq site that
// try_user_return_fast would finish: both in one entry. Returns otherwise, having changed
// nothing (the caller goes on with the swapgs alone).
void try_swapgs_user_return_fast(const afterburn::wedge::site &s, uint64_t ret);

} // namespace xw
