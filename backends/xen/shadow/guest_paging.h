// The guest's view of its own page tables: a 4-level x86-64 walker over guest-physical
// memory that produces either a translation or the exact #PF error code the CPU would give.
// Freestanding (only <stdint.h>/<stddef.h>); no state of its own.
//
// Guest page tables hold guest-physical frame numbers (gfns). Reading them needs only
// `guest_physical` (shadow_interfaces.h); the walker never looks at machine frames.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "shadow_interfaces.h"

namespace afterburn::xen_shadow {

// Page-table entry bits (identical at every level unless noted).
namespace pte {
inline constexpr uint64_t present = 1ull << 0;
inline constexpr uint64_t write = 1ull << 1;
inline constexpr uint64_t user = 1ull << 2;
inline constexpr uint64_t pwt = 1ull << 3;
inline constexpr uint64_t pcd = 1ull << 4;
inline constexpr uint64_t accessed = 1ull << 5;
inline constexpr uint64_t dirty = 1ull << 6;        // leaf only
inline constexpr uint64_t page_size = 1ull << 7;    // PS in L3/L2; PAT in L1
inline constexpr uint64_t pat_4k = 1ull << 7;
inline constexpr uint64_t global = 1ull << 8;       // leaf only
inline constexpr uint64_t pat_large = 1ull << 12;   // PAT in a 2M/1G leaf
inline constexpr uint64_t nx = 1ull << 63;
inline constexpr uint64_t addr_mask = 0x000ffffffffff000ull;  // bits 12..51
}

// The #PF error code bits (same values as wedge/event.h pf_error).
namespace pf_error {
inline constexpr uint32_t present = 1, write = 2, user = 4, reserved = 8, fetch = 16;
}

inline constexpr uint64_t page_4k = 1ull << 12, page_2m = 1ull << 21, page_1g = 1ull << 30;

// The paging controls the walker honours. They mirror the guest's virtual CR0/CR4/EFER and
// the CPUID policy the guest sees (1 GiB pages are hidden by wedge/cpuid_policy.cpp, so
// PS in a PDPTE is then a reserved bit, as on a CPU without them). SMEP/SMAP/PKU/LA57/PCID
// are hidden by the same policy and therefore not modelled.
struct paging_config {
    bool nxe = true;          // EFER.NXE: bit 63 is NX; otherwise it is reserved
    bool wp = true;           // CR0.WP: supervisor writes honour R/W
    bool gb_pages = false;    // CPUID 0x80000001 EDX.26 as shown to the guest
    unsigned maxphyaddr = 46; // CPUID 0x80000008 EAX[7:0] as shown to the guest
};

// One access: what the instruction does and at which privilege. `user` is CPL 3; the
// CPU's own accesses (descriptor tables, interrupt frames) are supervisor.
struct access_type {
    bool write = false;
    bool fetch = false;
    bool user = false;

    static constexpr access_type read_at(bool user) { return access_type{false, false, user}; }
    static constexpr access_type write_at(bool user) { return access_type{true, false, user}; }
    static constexpr access_type fetch_at(bool user) { return access_type{false, true, user}; }
};

enum class walk_status : uint8_t {
    ok,              // `translation` is filled
    page_fault,      // `error_code` is what the CPU would push
    table_unreadable // a guest page-table entry lies outside guest RAM (guest bug: the CPU
                     // would read garbage or abort; the wedge should stop the guest)
};

struct translation {
    uint64_t gpa = 0;          // guest-physical address of the accessed byte
    uint64_t page_size = 0;    // 4K, 2M or 1G: the guest's page size
    uint64_t leaf = 0;         // the leaf entry (walk: as read; translate: with the A/D it set)
    bool writable = false;     // R/W at every level
    bool user = false;         // U/S at every level
    bool nx = false;           // NX at some level (only with nxe)
    unsigned levels = 0;       // entries used: 4 (4K), 3 (2M), 2 (1G)
    uint64_t entry_gpa[4] = {}; // guest-physical address of each entry used, L4 first
    uint64_t entry[4] = {};     // and its value as the walk read it
};

struct walk_result {
    walk_status status = walk_status::ok;
    uint32_t error_code = 0;   // page_fault
    uint64_t bad_gpa = 0;      // table_unreadable: the entry's address
    translation t;
};

// The reserved-bit mask of a present entry at `level` (4 = PML4E .. 1 = PTE), given its
// PS bit where that matters.
uint64_t reserved_bits(const paging_config &cfg, unsigned level, bool large);

// Walk without side effects: translation or the #PF error code for `acc` at `va`
// (`va` must be canonical; the caller raises #GP for others). `cr3` bits 12..51 are the
// root's gpa; PCD/PWT in CR3 are ignored.
walk_result walk(guest_physical &mem, const paging_config &cfg, uint64_t cr3, uint64_t va, const access_type &acc);

// Set the Accessed bit in every entry `t` used and, for a write, the leaf's Dirty bit,
// with compare-and-exchange as the CPU does (atomic against other vCPUs). Returns false
// if an entry no longer matches what the walk read in a way that matters (it changed
// underneath, e.g. another vCPU cleared P): the caller walks again.
bool set_accessed_dirty(guest_physical &mem, const translation &t, bool write);

// walk() then set_accessed_dirty(), retried while entries change underneath (bounded).
// This is the guest's view a backend's backend::read/write can use for emulated accesses.
walk_result translate(guest_physical &mem, const paging_config &cfg, uint64_t cr3, uint64_t va, const access_type &acc);

} // namespace afterburn::xen_shadow
