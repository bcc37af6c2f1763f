// Linux's asm_load_gs_index, `swapgs; mov %edi, %gs; swapgs` (with a 3-byte alternative, a NOP
// or mfence, before the second swapgs), in one wedge entry instead of three. A switch between
// two 64-bit processes runs it twice on a CPU with AMD's null-selector behaviour
// (load_seg_legacy: GS loaded with __USER_DS, then with 0, to clear its base).
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// At the first swapgs's own entry (its call at its link address) with the guest to resume at
// `resume_at`: if its span is followed by such a GS load and swapgs and the core would do no
// more than the three instructions, does them and resumes the guest after the second swapgs's
// call (no return). Otherwise returns and the swapgs goes on alone.
void try_gs_index_fast(const afterburn::wedge::site &first, uint64_t resume_at);

} // namespace xw
