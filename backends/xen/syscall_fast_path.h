// A system call from guest user mode without the generic paths (docs/xen-backend.md, "The
// system-call path"). Xen's syscall callback already switched to kernel mode, to the wedge's
// kernel stack and to Xen's kernel GS slot, and left the user's registers in its frame;
// Linux's first instruction at LSTAR is its swapgs, whose fast path (swapgs_fast_path.h) the
// wedge runs there. Both are finished here on the callback's own frame, from which the stub
// (traps.S: syscall_entry) continues the guest: no trap frame, no copy into the core's frame,
// no site dispatch.
#pragma once

#include "traps.h"
#include "wedge/vcpu.h"
#include "wedge/site_table.h"

namespace xw {

// What syscall_entry saves before it tries the fast path: the registers a C++ call may
// clobber (the callee-saved ones stay in the CPU), lowest address first, then Xen's iret
// frame. rcx and r11 hold what the `syscall` left in them (the return rip, the user RFLAGS).
struct syscall_entry_frame {
    uint64_t r10, r9, r8, rdi, rsi, rdx, rax;
    uint64_t rcx, r11;  // Xen's callback frame as Xen wrote it: the stub pushes below them
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(__builtin_offsetof(syscall_entry_frame, rflags) == 11 * 8, "traps.S: pushq 16(%rsp) after the pops");

// The CPU's `syscall` from guest user mode, on its state alone: what the kernel runs with (the
// real RFLAGS bits FMASK leaves of `user_rflags`, and the virtual IF), for a caller that checks
// before it commits, then the commit: CS/SS from STAR[47:32], CPL 0, IF and IOPL cleared as
// FMASK says (they are virtual). It returns R11, the RFLAGS the syscall saves (RF for Linux:
// syscall_fast_path.cpp says why); RCX and rip are the caller's (frames differ), and so is
// state_changed(privilege).
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

} // namespace xw

// Finishes the `syscall` Xen's callback reported in `f` and the swapgs site at LSTAR when that
// is exactly what guest_syscall would do: virtual CPL 3, EFER.SCE set, a rewritten swapgs at
// LSTAR, and then the swapgs fast path's conditions (no TF left by FMASK, nothing to deliver
// at its exit). True: `f` holds the guest's rcx/r11 and real RFLAGS, and wedge_resume_rsp/rip
// where it continues. False: nothing changed; the stub takes the general path.
extern "C" bool syscall_fast(xw::syscall_entry_frame *f);
