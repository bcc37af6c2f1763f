// A system call from guest user mode without the generic paths (docs/xen-backend.md, "The
// system-call path"). Xen's syscall callback already switched to kernel mode, to the wedge's
// kernel stack and to Xen's kernel GS slot, and left the user's registers in the trap frame;
// Linux's first instruction at LSTAR is its swapgs, whose fast path (swapgs_fast_path.h) the
// wedge runs there. Both are finished here on the trap frame itself, which is then loaded
// straight into the guest: no copy into the core's frame, no site dispatch.
#pragma once

#include "traps.h"
#include "wedge/vcpu.h"
#include "wedge/site_table.h"

namespace xw {

// The CPU's `syscall` from guest user mode, on its state alone, in two halves: what the kernel
// runs with (the real RFLAGS bits FMASK leaves of `user_rflags`, and the virtual IF), for a
// caller that checks before it commits, then the commit: CS/SS from STAR[47:32], CPL 0, IF and
// IOPL cleared as FMASK says (they are virtual), state_changed(privilege). It returns R11, the
// RFLAGS the syscall saves (guest_syscall says why it has RF for Linux). RCX and rip are the
// caller's (frames differ).
inline uint64_t syscall_kernel_rflags(const afterburn::wedge::vcpu &c, uint64_t user_rflags) {
    return (user_rflags & afterburn::wedge::flags::real & ~c.fmask) | afterburn::wedge::flags::fixed1;
}
inline bool syscall_kernel_if(const afterburn::wedge::vcpu &c) {
    return c.virtual_if() && !(c.fmask & afterburn::wedge::flags::if_);
}
uint64_t enter_kernel_by_syscall(afterburn::wedge::vcpu &c, uint64_t user_rflags);

// The rewritten site that starts at LSTAR, or null (looked up once per LSTAR value: the site
// table does not change after loading).
const afterburn::wedge::site *lstar_site(uint64_t lstar);

// Finishes the `syscall` Xen's callback reported in `f` and the swapgs site at LSTAR, and
// continues the guest after that site, when that is exactly what guest_syscall would do:
// virtual CPL 3, EFER.SCE set, a rewritten swapgs at LSTAR, and then the swapgs fast path's
// conditions (no TF left by FMASK, nothing to deliver at its exit). Returns otherwise, having
// changed nothing; the caller then takes the general path.
void try_syscall_fast(trap_frame *f);

} // namespace xw
