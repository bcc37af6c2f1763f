// The shared_info page: per-vCPU event mask/pending flags, event-channel bitmaps, cr2 on a
// page fault, time. start_info gives only its *machine* address, so we map it ourselves.
#pragma once

#include "xen_public.h"

namespace xw {

// Maps the shared_info frame over a page reserved in our .bss (its page-table entry already
// exists, so HYPERVISOR_update_va_mapping can simply replace it). Returns false, having said
// why, if Xen refused.
bool map_shared_info(const start_info_t *si);

// Inline: every way into and out of the guest masks or opens events through it.
extern shared_info_t *g_shared_info;  // nullptr until mapped
inline shared_info_t *shared() { return g_shared_info; }
// vCPU 0 (the wedge is uniprocessor for now); nullptr until mapped
inline vcpu_info_t *this_vcpu() { return g_shared_info ? &g_shared_info->vcpu_info[0] : nullptr; }

} // namespace xw
