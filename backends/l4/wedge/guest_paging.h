// Guest virtual -> guest physical on L4, what the pager and the core's memory accesses both
// use (docs/l4-backend.md, "How the guest runs"):
//   1. the image at its load address (where the relocated guest runs) is itself: its own
//      page tables map it at the link address only, which the guest no longer uses;
//   2. until the guest's first CR3 load, the boot protocol's identity map of guest RAM;
//   3. then the guest's 4-level page tables at the vCPU's CR3, with the CPU's permission
//      checks, accessed and dirty bits set as the CPU would.
// A physical address the guest computed from a relocated image address (`p - KERNEL_MAP`)
// is off by the relocation (+2 GiB, modulo 2^64) and is folded back onto the image.
#pragma once

#include <stdint.h>

#include "guest_image.h"

namespace lw {

void paging_init(const guest_image &g);

struct translation {
    uint64_t gpa = 0;
    bool writable = false;  // the guest may write it (and its dirty bit is set): map it writable
    bool executable = true; // no NX on the way (EFER.NXE): map it with execute rights
    uint32_t pf_error = 0;  // on failure: the #PF error code the CPU would report
};

// False when the guest's page tables do not allow the access (pf_error says why); a fetch
// also needs no NX on the way.
bool translate(uint64_t va, bool write, bool user, translation &t, bool fetch = false);

// Copies n bytes of code at va as the guest's current privilege fetches them (its tables, its
// CPL); false where it could not fetch them (the instruction the CPU ran was there, so that
// means the guest changed its tables meanwhile).
bool fetch_guest_code(uint64_t va, uint8_t *out, unsigned n);

// The guest's first CR3 load ends the boot identity map.
void paging_leave_boot_identity();

uint64_t fold_gpa(uint64_t gpa);

// The image's link address minus its load address.
uint64_t guest_virt_minus_phys();

} // namespace lw
