// mov from and to the data segment registers in guest kernel mode without the core: a context
// switch reads five selectors (__switch_to's savesegment of FS, GS, ES, DS and SS) and, on a
// CPU with AMD's null-selector behaviour, loads GS twice (load_seg_legacy: __USER_DS, then 0,
// each through asm_load_gs_index). See docs/xen-direct-paging.md, "The process switch".
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"
#include "wedge/vcpu.h"

namespace xw {

// If the core would do nothing more than the instruction, does it and resumes the guest at
// `resume_at` (no return); otherwise returns and the site goes through the core.
void try_segment_fast(const afterburn::wedge::site &s, uint64_t resume_at);

// The core's load_segment (wedge/emulate_segments.cpp) of DS, ES, FS or GS with `sel` in
// two halves, for the fast paths: whether it succeeds without writing the descriptor (else
// the core raises or sets the accessed bit), with the base it gives FS or GS; then its changes.
bool data_segment_loads(const afterburn::wedge::vcpu &c, unsigned seg, uint16_t sel, uint64_t &base);
void load_data_segment(afterburn::wedge::vcpu &c, unsigned seg, uint16_t sel, uint64_t base);

} // namespace xw
