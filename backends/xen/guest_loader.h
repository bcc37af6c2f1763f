// Loading the annotated guest (the boot module, an ELF64 x86-64 kernel such as the sample
// guest or a Linux vmlinux) into guest-physical RAM, for the Linux 64-bit boot protocol:
// PT_LOADs at their p_paddr, a boot_params ("zero page") with an e820 map of guest RAM and
// the command line. See docs/xen-backend.md, "Loading the guest".
#pragma once

#include <stdint.h>

#include "start_info.h"
#include "wedge/boot/elf64.h"

namespace xw {

struct guest_notes {
    uint64_t vaddr;           // guest-virtual address of the PT_NOTE contents
    const uint8_t *bytes;     // the same bytes in the boot module
    uint64_t size;
};

struct loaded_guest {
    static constexpr unsigned max_notes = afterburn::boot::elf64_image::max_notes;
    static constexpr unsigned max_loads = afterburn::boot::elf64_image::max_loads;
    uint64_t entry_phys;      // e_entry (physical, as in vmlinux)
    uint64_t entry_virt;      // the same instruction at its link address
    uint64_t entry() const { return head_hi ? entry_phys : entry_virt; }  // where the guest starts
    // A guest address in the physical alias of the image → its link address (else unchanged).
    uint64_t link_address(uint64_t va) const {
        return head_hi && va >= image_lo && va < image_hi ? va + virt_minus_phys : va;
    }
    uint64_t boot_params;     // guest-physical
    uint64_t image_lo, image_hi;           // guest-physical extent of all PT_LOADs
    uint64_t virt_lo, virt_hi;             // guest-virtual extent of all PT_LOADs
    uint64_t virt_minus_phys;              // p_vaddr - p_paddr (the same for every PT_LOAD)
    // Linux's head code [startup_64, end of startup_64_setup_env), link addresses: it runs at
    // its physical alias first (__startup_64 derives the load address from RIP and loops
    // forever when that is not physical), so the guest is entered at entry_phys and these
    // sites are rewritten position independent. Both 0 for other guests (entered at
    // entry_virt).
    uint64_t head_lo, head_hi;
    unsigned note_count;
    guest_notes notes[max_notes];
    unsigned load_count;
    struct { uint64_t vaddr, paddr, filesz, memsz, file_offset; uint32_t flags; } loads[max_loads];
    module_bytes module;
    const afterburn::boot::elf64_image *elf;  // the module as read (symbols for reports)
    uint32_t tables, records;
};

// Loads the module; prints what it did; false (with a reason printed) if the module is not a
// loadable guest or does not fit. The ELF is read by the shared loader's reader
// (wedge/boot/elf64.h); what is checked here is what only the Xen wedge needs.
// `initrd` (len 0: none) is placed by the shared loader's rule and named in boot_params.
bool load_guest(const module_bytes &m, const module_bytes &initrd, const char *cmdline, loaded_guest &g);

// The boot module as the launcher packed it (module_pack.h): the kernel and the initrd, or
// the module itself as the kernel and no initrd when it is not a pack. False, with why
// printed, for a pack whose parts run past the module's end (truncated).
bool unpack_boot_module(const module_bytes &m, module_bytes &kernel, module_bytes &initrd);

} // namespace xw
