// The MMUEXT operations both paging modes make (shadow and direct: the hypervisor_mmu and
// xen_mmu implementations), one mmuext_op call each. `who` names the mode in a refusal's line.
#pragma once

#include <stdint.h>

namespace xw {

// MMUEXT_NEW_BASEPTR and MMUEXT_NEW_USER_BASEPTR in one call.
bool mmuext_set_roots(uint64_t kernel_mfn, uint64_t user_mfn, const char *who);
// An operation on one frame (pin, unpin); `what` names it in a refusal's line.
bool mmuext_on_frame(unsigned cmd, uint64_t mfn, const char *what, const char *who);
void mmuext_invalidate_page(uint64_t va);  // MMUEXT_INVLPG_LOCAL
void mmuext_flush_tlb();                   // MMUEXT_TLB_FLUSH_LOCAL

} // namespace xw
