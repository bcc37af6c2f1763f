// start_info: what Xen tells a PV kernel at boot (struct start_info, xen/xen.h). %rsi holds
// its virtual address at entry.
#pragma once

#include "xen_public.h"

namespace xw {

// True if the magic says this is a 64-bit x86 PV start_info ("xen-3.0-x86_64").
bool start_info_valid(const start_info_t *si);

// Prints every field the wedge will use, plus where things sit in the initial mapping
// relative to our image (for docs/xen-pv-notes.md).
void print_start_info(const start_info_t *si, unsigned long xen_rsp);

// The boot module, if any: virtual address and length. If Xen passed a PFN instead
// (SIF_MOD_START_PFN, only when the kernel asks with XEN_ELFNOTE_MOD_START_PFN, which we do
// not) we report no module rather than guess.
struct module_bytes {
    const unsigned char *data;
    unsigned long len;
};
module_bytes boot_module(const start_info_t *si);

} // namespace xw
