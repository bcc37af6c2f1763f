// The guest page-table walker alone: translations and the exact #PF error codes.
#include <catch2/catch.hpp>

#include "rig.h"

using namespace afterburn::xen_shadow;
using namespace afterburn::xen_shadow::test;

namespace {
constexpr uint64_t va = 0x00007f0000401000ull;

uint32_t fault_of(rig &r, const paging_config &cfg, uint64_t addr, const access_type &a)
{
    const walk_result w = walk(r.m, cfg, r.cr3, addr, a);
    REQUIRE(w.status == walk_status::page_fault);
    return w.error_code;
}
} // namespace

TEST_CASE("walker: 4K translation and not-present error codes", "[walker]")
{
    rig r;
    const paging_config cfg;
    r.gt.map(r.cr3, va, 0x5000, P | W | U);
    walk_result w = walk(r.m, cfg, r.cr3, va + 0x123, access_type::read_at(false));
    REQUIRE(w.status == walk_status::ok);
    CHECK(w.t.gpa == 0x5123);
    CHECK(w.t.page_size == page_4k);
    CHECK(w.t.levels == 4);
    CHECK(w.t.writable);
    CHECK(w.t.user);
    CHECK_FALSE(w.t.nx);

    // Not present: at the leaf and at an upper level, every access type.
    const uint64_t hole = va + 0x1000;
    CHECK(fault_of(r, cfg, hole, access_type::read_at(false)) == 0);
    CHECK(fault_of(r, cfg, hole, access_type::write_at(false)) == pf_error::write);
    CHECK(fault_of(r, cfg, hole, access_type::read_at(true)) == pf_error::user);
    CHECK(fault_of(r, cfg, hole, access_type::write_at(true)) == (pf_error::write | pf_error::user));
    CHECK(fault_of(r, cfg, hole, access_type::fetch_at(false)) == pf_error::fetch);
    CHECK(fault_of(r, cfg, 0x0000100000000000ull, access_type::read_at(false)) == 0);  // no PML4E
    // I/D is reported only with NXE.
    paging_config no_nx;
    no_nx.nxe = false;
    CHECK(fault_of(r, no_nx, hole, access_type::fetch_at(true)) == pf_error::user);
}

TEST_CASE("walker: protection error codes (R/W, U/S, NX, CR0.WP)", "[walker]")
{
    rig r;
    paging_config cfg;
    r.gt.map(r.cr3, va, 0x5000, P);              // supervisor, read-only
    r.gt.map(r.cr3, va + 0x1000, 0x6000, P | U); // user, read-only
    r.gt.map(r.cr3, va + 0x2000, 0x7000, P | W | U | NX);

    CHECK(walk(r.m, cfg, r.cr3, va, access_type::read_at(false)).status == walk_status::ok);
    CHECK(fault_of(r, cfg, va, access_type::write_at(false)) == 3);
    CHECK(fault_of(r, cfg, va, access_type::read_at(true)) == 5);
    CHECK(fault_of(r, cfg, va, access_type::write_at(true)) == 7);
    CHECK(fault_of(r, cfg, va + 0x1000, access_type::write_at(true)) == 7);
    CHECK(walk(r.m, cfg, r.cr3, va + 0x1000, access_type::read_at(true)).status == walk_status::ok);
    // NX: fetch faults with I/D, reads and writes do not.
    CHECK(fault_of(r, cfg, va + 0x2000, access_type::fetch_at(false)) == 0x11);
    CHECK(fault_of(r, cfg, va + 0x2000, access_type::fetch_at(true)) == 0x15);
    CHECK(walk(r.m, cfg, r.cr3, va + 0x2000, access_type::write_at(true)).status == walk_status::ok);
    // Supervisor fetch from a user page is allowed (SMEP is hidden from the guest).
    CHECK(walk(r.m, cfg, r.cr3, va + 0x1000, access_type::fetch_at(false)).status == walk_status::ok);

    // CR0.WP = 0: supervisor writes ignore R/W, user writes do not.
    cfg.wp = false;
    CHECK(walk(r.m, cfg, r.cr3, va, access_type::write_at(false)).status == walk_status::ok);
    CHECK(fault_of(r, cfg, va + 0x1000, access_type::write_at(true)) == 7);

    // Restrictions in an upper level apply to the whole subtree.
    cfg.wp = true;
    const uint64_t pde = r.gt.entry(r.cr3, va, 2);
    r.gt.set_entry(r.cr3, va, 2, pde & ~W);
    CHECK(fault_of(r, cfg, va + 0x2000, access_type::write_at(true)) == 7);
    r.gt.set_entry(r.cr3, va, 2, pde & ~U);
    CHECK(fault_of(r, cfg, va + 0x1000, access_type::read_at(true)) == 5);
    r.gt.set_entry(r.cr3, va, 3, r.gt.entry(r.cr3, va, 3) | NX);
    r.gt.set_entry(r.cr3, va, 2, pde);
    CHECK(fault_of(r, cfg, va + 0x1000, access_type::fetch_at(true)) == 0x15);
}

TEST_CASE("walker: reserved bits give RSVD", "[walker]")
{
    rig r;
    paging_config cfg;
    r.gt.map(r.cr3, va, 0x5000, P | W | U | NX);
    // NX without EFER.NXE is reserved.
    paging_config no_nx = cfg;
    no_nx.nxe = false;
    CHECK(fault_of(r, no_nx, va, access_type::read_at(false)) == (pf_error::present | pf_error::reserved));
    CHECK(fault_of(r, no_nx, va, access_type::write_at(true)) == 0xf);
    // An address bit at or above MAXPHYADDR.
    r.gt.set_entry(r.cr3, va, 1, (1ull << cfg.maxphyaddr) | 0x5000 | P | W | U);
    CHECK(fault_of(r, cfg, va, access_type::read_at(false)) == 9);
    // PS in a PML4E.
    r.gt.set_entry(r.cr3, va, 1, 0x5000 | P | W | U);
    const uint64_t pml4e = r.gt.entry(r.cr3, va, 4);
    r.gt.set_entry(r.cr3, va, 4, pml4e | pte::page_size);
    CHECK(fault_of(r, cfg, va, access_type::read_at(false)) == 9);
    r.gt.set_entry(r.cr3, va, 4, pml4e);
    // A 2M page with bits 13..20 set.
    r.gt.map(r.cr3, 0x40000000, 0x200000 | (1ull << 13), P | W, page_2m);
    CHECK(fault_of(r, cfg, 0x40000000, access_type::read_at(false)) == 9);
    // A reserved bit is found before a not-present lower level.
    r.gt.map(r.cr3, 0x80000000, 0x200000, P | W);
    r.gt.set_entry(r.cr3, 0x80000000, 1, 0);
    r.gt.set_entry(r.cr3, 0x80000000, 2, r.gt.entry(r.cr3, 0x80000000, 2) | (1ull << 50));
    CHECK(fault_of(r, cfg, 0x80000000, access_type::read_at(false)) == 9);
    CHECK(reserved_bits(cfg, 1, false) == (pte::addr_mask & ~((1ull << 46) - 1)));
}

TEST_CASE("walker: 2M and 1G pages", "[walker]")
{
    rig r;
    paging_config cfg;
    r.gt.map(r.cr3, 0x40000000, 0x200000, P | W, page_2m);
    walk_result w = walk(r.m, cfg, r.cr3, 0x40012345, access_type::read_at(false));
    REQUIRE(w.status == walk_status::ok);
    CHECK(w.t.gpa == 0x212345);
    CHECK(w.t.page_size == page_2m);
    CHECK(w.t.levels == 3);

    r.gt.map(r.cr3, 0x8000000000ull, 0x40000000, P | W | U, page_1g);
    // Without 1 GiB pages in CPUID (the wedge's policy hides them) PS in a PDPTE is reserved.
    CHECK(fault_of(r, cfg, 0x8000123456ull, access_type::read_at(true)) == 0xd);
    cfg.gb_pages = true;
    w = walk(r.m, cfg, r.cr3, 0x8000123456ull, access_type::read_at(true));
    REQUIRE(w.status == walk_status::ok);
    CHECK(w.t.gpa == 0x40123456);
    CHECK(w.t.page_size == page_1g);
    CHECK(w.t.levels == 2);
    // Bits 13..29 of a 1G leaf are reserved.
    r.gt.set_entry(r.cr3, 0x8000000000ull, 3, 0x40000000 | (1ull << 21) | P | W | U | pte::page_size);
    CHECK(fault_of(r, cfg, 0x8000000000ull, access_type::read_at(false)) == 9);
}

TEST_CASE("walker: translate sets A on every level, D on the leaf for writes", "[walker]")
{
    rig r;
    const paging_config cfg;
    r.gt.map(r.cr3, va, 0x5000, P | W | U);
    walk_result w = translate(r.m, cfg, r.cr3, va, access_type::read_at(true));
    REQUIRE(w.status == walk_status::ok);
    for (int level = 4; level >= 1; --level)
        CHECK((r.gt.entry(r.cr3, va, level) & A) != 0);
    CHECK((r.gt.entry(r.cr3, va, 1) & D) == 0);
    for (int level = 4; level >= 2; --level)
        CHECK((r.gt.entry(r.cr3, va, level) & D) == 0);  // D only ever in leaves
    translate(r.m, cfg, r.cr3, va, access_type::write_at(true));
    CHECK((r.gt.entry(r.cr3, va, 1) & D) != 0);

    // A faulting access sets nothing.
    r.gt.map(r.cr3, va + 0x1000, 0x6000, P | U);
    CHECK(translate(r.m, cfg, r.cr3, va + 0x1000, access_type::write_at(true)).status == walk_status::page_fault);
    CHECK((r.gt.entry(r.cr3, va + 0x1000, 1) & (A | D)) == 0);

    // 2M leaf: D lands in the PDE.
    r.gt.map(r.cr3, 0x40000000, 0x200000, P | W, page_2m);
    translate(r.m, cfg, r.cr3, 0x40001000, access_type::write_at(false));
    CHECK((r.gt.entry(r.cr3, 0x40000000, 2) & (A | D)) == (A | D));
}

TEST_CASE("walker: an entry changed underneath the A/D update is walked again", "[walker]")
{
    rig r;
    const paging_config cfg;
    r.gt.map(r.cr3, va, 0x5000, P | W | U);
    // Another vCPU retargets the PTE between our walk and our locked update.
    r.m.before_cmpxchg = [&] { r.gt.set_entry(r.cr3, va, 1, 0x6000 | P | W | U); };
    walk_result w = translate(r.m, cfg, r.cr3, va, access_type::write_at(false));
    REQUIRE(w.status == walk_status::ok);
    CHECK(w.t.gpa == 0x6000);
    CHECK(r.gt.entry(r.cr3, va, 1) == (0x6000 | P | W | U | A | D));

    // ... or makes it not present: the access faults.
    r.gt.map(r.cr3, va + 0x1000, 0x7000, P | W | U);
    r.m.before_cmpxchg = [&] { r.gt.set_entry(r.cr3, va + 0x1000, 1, 0); };
    w = translate(r.m, cfg, r.cr3, va + 0x1000, access_type::read_at(false));
    REQUIRE(w.status == walk_status::page_fault);
    CHECK(w.error_code == 0);
}

TEST_CASE("walker: a table outside guest RAM is reported", "[walker]")
{
    rig r;
    r.gt.map(r.cr3, va, 0x5000, P | W | U);
    r.gt.set_entry(r.cr3, va, 2, 0x7ff00000 | P | W | U);  // not RAM
    const walk_result w = walk(r.m, paging_config{}, r.cr3, va, access_type::read_at(false));
    CHECK(w.status == walk_status::table_unreadable);
    CHECK(w.bad_gpa == 0x7ff00000 + 8 * 1);
}
