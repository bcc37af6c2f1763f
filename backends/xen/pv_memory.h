// Dom0's memory as the wedge divides it: scratch pages for the wedge (inside Xen's initial
// mapping) and guest-physical RAM (dom0 pseudo-physical frames above it), reached through a
// one-page temporary mapping. See docs/xen-backend.md, "Memory".
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "xen_public.h"

namespace xw {

constexpr uint64_t page_size = 4096;
// x86 PTE bits.
constexpr uint64_t pte_p = 0x1, pte_rw = 0x2, pte_u = 0x4, pte_a = 0x20, pte_d = 0x40;
constexpr uint64_t pte_addr = 0x000ffffffffff000ull;

// Splits dom0's pages: [0, init_end) is Xen's initial mapping at VIRT_BASE (wedge image, boot
// module, p2m list, start_info, page tables, bootstrap stack, padding); the free tail of it
// (above Xen's bootstrap stack) is the wedge's scratch pool; [init_end, nr_pages) rounded
// down to 2 MiB is the guest's RAM, guest-physical 0 = dom0 pfn init_end.
// `guest_mb` caps guest RAM (afterburn boot's --memory, wedge option memory=MB); 0: every
// page left.
bool pv_memory_init(const start_info_t *si, unsigned long xen_rsp, uint64_t guest_mb);

// The end of Xen's initial mapping (virtual): the wedge image, the boot module, the p2m list and
// the scratch pages all lie in [VIRT_BASE, initial_mapping_end()), a multiple of 4 MiB.
uint64_t initial_mapping_end();

// Machine frame of a dom0 pseudo-physical frame (the p2m list); ~0 if out of range.
uint64_t mfn_of_pfn(uint64_t pfn);

// A zeroed, page-aligned scratch page mapped writable in the wedge (nullptr when exhausted),
// its dom0 pfn and machine frame.
struct scratch_page {
    void *va;
    uint64_t pfn;
    uint64_t mfn;
};
bool scratch_alloc(scratch_page &out);
unsigned long scratch_free_pages();
// Makes the wedge's own mapping of a scratch page read-only (Xen refuses a page-table frame
// that is mapped writable anywhere).
bool scratch_make_readonly(const scratch_page &p);

// Guest-physical RAM.
uint64_t guest_ram_bytes();
uint64_t guest_base_pfn();
bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn);
// The p2m of guest RAM as an array: mfn of gfn g = [g] for g < frames (Xen's list from start_info, offset).
const uint64_t *guest_p2m(uint64_t &frames);
// Copies to/from guest-physical memory; false if any byte lies outside guest RAM.
bool guest_phys_write(uint64_t gpa, const void *src, size_t len);
bool guest_phys_read(uint64_t gpa, void *dst, size_t len);
bool guest_phys_zero(uint64_t gpa, size_t len);
// The 8-byte-aligned u64 at gpa, mapped (valid until the next guest_phys_* call).
volatile uint64_t *guest_phys_u64(uint64_t gpa);
// Guest frame `gfn` as 512 u64, mapped (valid until the next guest_phys_* call); nullptr
// outside guest RAM.
volatile uint64_t *guest_phys_frame(uint64_t gfn);

// Moves the temporary slots to `va`, 2 MiB the caller mapped with an L1 table of its own
// (the shadow's roots link it): guest_map_area_slots slots from then on.
inline constexpr unsigned guest_map_area_slots = 512;
void guest_map_area(uint64_t va);
// Direct paging (docs/xen-direct-paging.md): from now on the slots map frames read-only
// (guest_phys_u64 and guest_phys_frame give read-only pointers), writes go through one slot
// unmapped after each use, and machine frames can be viewed.
void pv_memory_direct();
const volatile uint64_t *machine_frame_view(uint64_t mfn);
volatile uint64_t *guest_frame_for_write(uint64_t gfn);  // until guest_frame_write_done()
void guest_frame_write_done();
// A zeroed dom0 frame above guest RAM (dom0 gets more memory than the guest: afterburn boot's
// dom0_mem), mapped nowhere: for tables of the wedge's own (direct paging's pools). Only after
// pv_memory_direct (it uses the write slot).
bool spare_frame(uint64_t &mfn);
unsigned long spare_frames_left();
// The guest frame a machine frame backs (Xen's M2P, checked against the p2m).
bool mfn_to_gfn(uint64_t mfn, uint64_t &gfn);

// How often a guest frame had to be mapped into a temporary slot (one hypercall each).
uint64_t guest_phys_remaps();

} // namespace xw
