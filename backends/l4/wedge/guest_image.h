// The guest kernel (an annotated ELF64 x86-64 image, the boot module) loaded into guest RAM:
// its PT_LOADs at their physical addresses, read by the shared loader (wedge/boot/elf64).
#pragma once

#include <stdint.h>

#include "wedge/boot/elf64.h"

namespace lw {

struct guest_image {
    afterburn::boot::elf64_image elf;
    uint64_t virt_minus_phys;   // p_vaddr - p_paddr, the same for every PT_LOAD
    uint64_t virt_lo, virt_hi;  // link-address extent of the PT_LOADs
    uint64_t entry_gpa;         // e_entry as a guest-physical address
};

// False, with why printed, for a module that is not a loadable guest or does not fit.
bool load_guest(const uint8_t *bytes, uint64_t size, guest_image &g);

} // namespace lw
