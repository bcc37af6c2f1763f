// A system call from guest user mode without the generic paths (docs/xen-backend.md, "The
// system-call path"). Xen's syscall callback already switched to kernel mode, to the wedge's
// kernel stack and to Xen's kernel GS slot, and left the user's registers in the trap frame;
// Linux's first instruction at LSTAR is its swapgs, whose fast path (swapgs_fast_path.h) the
// wedge runs there. Both are finished here on the trap frame itself, which is then loaded
// straight into the guest: no copy into the core's frame, no site dispatch.
#pragma once

#include "traps.h"
#include "wedge/site_table.h"

namespace xw {

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
