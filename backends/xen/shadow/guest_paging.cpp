// The guest page-table walker: x86-64 4-level paging as the CPU does it (Intel SDM vol. 3
// ch. 4.5, 4.6, 4.7), restricted to the features the wedge's CPUID policy shows.
#include "guest_paging.h"

namespace afterburn::xen_shadow {

uint64_t reserved_bits(const paging_config &cfg, unsigned level, bool large)
{
    // Address bits from MAXPHYADDR up to bit 51.
    uint64_t r = pte::addr_mask & ~((1ull << cfg.maxphyaddr) - 1);
    if (!cfg.nxe)
        r |= pte::nx;
    switch (level) {
    case 4:
        r |= pte::page_size;  // PS is reserved in a PML4E
        break;
    case 3:
        if (large)
            r |= cfg.gb_pages ? 0x3fffe000ull /* bits 13..29 */ : pte::page_size;
        break;
    case 2:
        if (large)
            r |= 0x1fe000ull;  // bits 13..20
        break;
    default:
        break;
    }
    return r;
}

walk_result walk(guest_physical &mem, const paging_config &cfg, uint64_t cr3, uint64_t va, const access_type &acc)
{
    // Every exit returns `res` itself, so the result is built in the caller's object (NRVO):
    // a returned copy was ~45 of a walk's ~700 instructions (every #PF, prefill and invlpg).
    walk_result res;
    // I/D is reported only when NX is in use (SMEP is hidden).
    const uint32_t base_error = (acc.write ? pf_error::write : 0u) | (acc.user ? pf_error::user : 0u) |
                                (acc.fetch && cfg.nxe ? pf_error::fetch : 0u);
    auto fault = [&](uint32_t bits) {
        res.status = walk_status::page_fault;
        res.error_code = base_error | bits;
    };

    // reserved_bits' parts, taken from cfg once per walk instead of once per level.
    const bool nxe = cfg.nxe;
    const uint64_t phys_mask = (1ull << cfg.maxphyaddr) - 1;
    const uint64_t reserved_any = (pte::addr_mask & ~phys_mask) | (nxe ? 0 : pte::nx);
    const uint64_t reserved_1g = cfg.gb_pages ? 0x3fffe000ull /* bits 13..29 */ : pte::page_size;
    uint64_t table = cr3 & pte::addr_mask & phys_mask;
    bool writable = true, user = true, nx = false;
    translation &t = res.t;
    // Unrolled: each level's shift, index and reserved mask become constants.
#pragma GCC unroll 4
    for (unsigned level = 4; level >= 1; --level) {
        const unsigned shift = 12 + 9 * (level - 1);
        const uint64_t gpa = table + ((va >> shift) & 511) * 8;
        uint64_t e = 0;
        if (!mem.read_u64(gpa, e)) {
            res.status = walk_status::table_unreadable;
            res.bad_gpa = gpa;
            return res;
        }
        const unsigned i = 4 - level;
        t.entry_gpa[i] = gpa;
        t.entry[i] = e;
        t.levels = i + 1;
        if (!(e & pte::present)) {
            fault(0);
            return res;
        }
        const bool large = (level == 3 || level == 2) && (e & pte::page_size);
        // reserved_bits(cfg, level, large), the same masks.
        const uint64_t reserved = reserved_any | (level == 4 ? pte::page_size
                                                 : !large    ? 0
                                                 : level == 3 ? reserved_1g
                                                              : 0x1fe000ull /* bits 13..20 */);
        if (e & reserved) {
            fault(pf_error::present | pf_error::reserved);
            return res;
        }
        writable = writable && (e & pte::write);
        user = user && (e & pte::user);
        nx = nx || (nxe && (e & pte::nx));
        if (level == 1 || large) {
            const uint64_t size = 1ull << shift;
            t.page_size = size;
            t.leaf = e;
            t.gpa = ((e & pte::addr_mask) & ~(size - 1)) | (va & (size - 1));
            break;
        }
        table = e & pte::addr_mask;
    }
    t.writable = writable;
    t.user = user;
    t.nx = nx;

    if ((acc.user && !user) || (acc.write && !writable && (acc.user || cfg.wp)) || (acc.fetch && nx))
        fault(pf_error::present);
    return res;
}

bool set_accessed_dirty(guest_physical &mem, const translation &t, bool write)
{
    for (unsigned i = 0; i < t.levels; ++i) {
        const bool leaf = i + 1 == t.levels;
        const uint64_t want = pte::accessed | (leaf && write ? pte::dirty : 0);
        if ((t.entry[i] & want) == want)
            continue;
        uint64_t expected = t.entry[i];
        if (!mem.cmpxchg_u64(t.entry_gpa[i], expected, t.entry[i] | want))
            return false;  // changed underneath: walk again
    }
    return true;
}

walk_result translate(guest_physical &mem, const paging_config &cfg, uint64_t cr3, uint64_t va, const access_type &acc)
{
    // Another vCPU may change an entry between the walk and the update; the CPU's own
    // locked update would then see the new entry. Re-walk until the update lands on the
    // entries the walk used (bounded: a guest rewriting its tables in a tight loop on
    // another vCPU must not hang us; the last walk is then used without A/D, which only
    // the racing writer could observe).
    // The first walk is built in `r` itself (no copy): most calls walk once.
    walk_result r = walk(mem, cfg, cr3, va, acc);
    for (int attempt = 1; r.status == walk_status::ok && !set_accessed_dirty(mem, r.t, acc.write) && attempt < 64;
         ++attempt)
        r = walk(mem, cfg, cr3, va, acc);
    if (r.status == walk_status::ok) {
        for (unsigned i = 0; i < r.t.levels; ++i)
            r.t.entry[i] |= pte::accessed;
        if (acc.write)
            r.t.entry[r.t.levels - 1] |= pte::dirty;
        r.t.leaf = r.t.entry[r.t.levels - 1];
    }
    return r;
}

} // namespace afterburn::xen_shadow
