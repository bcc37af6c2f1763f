// What the fast paths of a process switch's sites (segment_fast_path, msr_write_fast_path,
// gs_index_fast_path, cr3_write_fast_path) share beyond kernel_fast_path.h: how they end.
#pragma once

#include <stdint.h>

#include "guest_stacks.h"
#include "kernel_fast_path.h"

namespace xw {

// finish_kernel_fast, after what resume() would do for the stack: under shadow paging the pages
// under rsp are filled before the guest kernel runs on (guest_stacks.h: Xen bounces an event's
// frame onto the current stack, and a fault there kills the domain). These sites run right
// after __switch_to_asm moved rsp to the next task's stack, which the shadow may not hold yet.
// Direct paging runs the guest's own tables: nothing to fill (ensure_stack_mapped knows).
[[noreturn]] inline void finish_switch_fast(wedge::vcpu &c, wedge::frame &fr, const wedge::site &s,
                                            uint64_t resume_at) {
    ensure_stack_mapped(fr.gpr[wedge::rsp]);
    finish_kernel_fast(c, fr, s, resume_at);
}

} // namespace xw
