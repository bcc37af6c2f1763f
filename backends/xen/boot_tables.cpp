// The guest's boot page tables (boot_tables.h).
#include "boot_tables.h"

#include "pv_memory.h"

namespace xw {

bool write_boot_tables(const loaded_guest &g, uint64_t map_bytes, uint64_t &cr3) {
    // Below the e820 hole (docs/xen-backend.md): PML4, the identity PDPT + PD, the high PDPT +
    // PD (like Linux's early high map) and an empty PD for the top 1 GiB, where the wedge's
    // temporary slots and entry window go under direct paging (as Linux's fixmap PD).
    constexpr uint64_t pml4 = 0x9000, pdpt_lo = 0xa000, pd_lo = 0xb000, pdpt_hi = 0xc000, pd_hi = 0xd000,
                       pd_top = 0xe000;
    const uint64_t hi = g.virt_minus_phys;                   // 0xffffffff80000000 for -mcmodel=kernel
    const uint64_t large_pages = map_bytes >> 21 < 512 ? map_bytes >> 21 : 512;
    auto table = [](uint64_t gpa, auto entry) {
        uint64_t t[512];
        for (uint64_t i = 0; i < 512; ++i) t[i] = entry(i);
        return guest_phys_write(gpa, t, sizeof t);
    };
    bool ok = table(pml4, [&](uint64_t i) -> uint64_t {
        return i == 0 ? (pdpt_lo | pte_p | pte_rw) : i == ((hi >> 39) & 511) ? (pdpt_hi | pte_p | pte_rw) : 0;
    });
    ok = ok && table(pdpt_lo, [&](uint64_t i) -> uint64_t { return i == 0 ? (pd_lo | pte_p | pte_rw) : 0; });
    ok = ok && table(pdpt_hi, [&](uint64_t i) -> uint64_t {
        return i == ((hi >> 30) & 511) ? (pd_hi | pte_p | pte_rw) : i == 511 ? (pd_top | pte_p | pte_rw) : 0;
    });
    ok = ok && table(pd_top, [](uint64_t) -> uint64_t { return 0; });
    auto large = [&](uint64_t i) -> uint64_t { return i < large_pages ? (i << 21 | 0x80 | pte_p | pte_rw) : 0; };
    ok = ok && table(pd_lo, large) && table(pd_hi, large);
    cr3 = pml4;
    return ok;
}

} // namespace xw
