// The guest's boot page tables: an identity map of low memory and the image at its link
// address, as the 64-bit boot protocol implies, written as ordinary x86 tables into guest RAM.
// See docs/xen-backend.md, "Memory".
#pragma once

#include <stdint.h>

#include "guest_loader.h"

namespace xw {

// Writes them at guest-physical 0x9000-0xefff, mapping [0, map_bytes) (at most 1 GiB, in 2 MiB
// pages) both at 0 and at the image's virt_minus_phys, with an empty PD for the top 1 GiB (a
// -mcmodel=kernel image's virt_minus_phys is not in it); `cr3` is their root.
bool write_boot_tables(const loaded_guest &g, uint64_t map_bytes, uint64_t &cr3);

} // namespace xw
