// Address spaces (docs/xen-shadow-paging.md, "Address spaces"): the user half of each of a few
// guest roots stays shadowed while other roots run, and is checked against the guest's
// tables when its root is loaded again.
#include <catch2/catch.hpp>

#include "rig.h"

using namespace afterburn::xen_shadow;
using namespace afterburn::xen_shadow::test;

namespace {

uint32_t pf_of(const cpu_outcome &o) { return o.outcome == fault_outcome::inject_pf ? o.error_code : ~0u; }

constexpr uint64_t kva = 0xffff888000001000ull;  // a kernel-half page every root maps
constexpr uint64_t user_page = 0x401000;         // the same user address in every root

// Guest roots that share the kernel half (Linux without PTI): the shadow's kept loads apply.
struct roots {
    rig r;
    std::vector<uint64_t> cr3;
    roots(unsigned spaces, unsigned count, size_t pool = 256) : r(pool, {}, false, {}, spaces)
    {
        cr3.push_back(r.cr3);
        r.gt.map(r.cr3, kva, 0x9000, P | W | A | D);
        r.gt.set_entry(r.cr3, kva, 4, r.gt.entry(r.cr3, kva, 4) | A);
        for (unsigned k = 1; k < count; ++k) {
            cr3.push_back(r.gt.new_table());
            r.gt.set_entry(cr3[k], kva, 4, r.gt.entry(r.cr3, kva, 4));
        }
        load(0);  // the kernel half to compare with
    }
    // `va` -> `gpa` in root k, every upper entry Accessed (Linux's _PAGE_TABLE).
    void map(unsigned k, uint64_t va, uint64_t gpa, uint64_t flags)
    {
        r.gt.map(cr3[k], va, gpa, flags);
        for (int level = 4; level > 1; --level)
            r.gt.set_entry(cr3[k], va, level, r.gt.entry(cr3[k], va, level) | A);
    }
    bool load(unsigned k)
    {
        bool kept = false;
        r.sh->load_cr3(cr3[k], true, kept);
        return kept;
    }
};

} // namespace

TEST_CASE("spaces: each root's user half stays shadowed while another root runs", "[shadow][spaces]")
{
    roots s(2, 2);
    rig &r = s.r;
    s.map(0, user_page, 0x5000, P | W | U | A | D);
    s.map(1, user_page, 0x6000, P | W | U | A | D);
    const uint64_t first_roots = r.m.kernel_root();

    REQUIRE(r.write(user_page, true).maddr == r.maddr_of(0x5000));
    REQUIRE(r.read(user_page).maddr == r.maddr_of(0x5000));  // the kernel root's leaf (copy_from_user)
    REQUIRE(s.load(1));
    CHECK_FALSE(r.sh->user_half_intact());    // a space given to this root: not as it left it
    CHECK(r.m.kernel_root() != first_roots);  // the other space's roots are running
    const cpu_outcome b = r.write(user_page, true);
    CHECK(b.maddr == r.maddr_of(0x6000));
    CHECK(b.faults == 1);

    // Back and forth: nothing refaults, nothing is written, one root switch per load.
    for (int round = 0; round < 3; ++round) {
        const uint64_t writes = r.m.writes, batches = r.m.batches, loads = r.m.root_loads;
        REQUIRE(s.load(0));
        CHECK(r.sh->user_half_intact());
        CHECK(r.m.kernel_root() == first_roots);
        const cpu_outcome a = r.write(user_page, true);
        CHECK(a.maddr == r.maddr_of(0x5000));
        CHECK(a.faults == 0);
        CHECK(r.read(user_page).faults == 0);
        REQUIRE(s.load(1));
        CHECK(r.write(user_page, true).faults == 0);
        CHECK(r.m.writes == writes);
        CHECK(r.m.batches == batches);
        CHECK(r.m.root_loads - loads == 2);
    }
    CHECK(r.sh->stats().space_hits == 6);
    CHECK(r.sh->stats().space_reuses == 1);
    CHECK(r.m.refused == 0);
}

TEST_CASE("spaces: a root's tables changed while it did not run are seen when it is loaded again",
          "[shadow][spaces]")
{
    // x86 lets a CR3 load forget everything non-global, and Linux relies on it: it changes a
    // process's tables while another runs and flushes nothing. So each kept leaf must match
    // the tables at the load, in both roots.
    SECTION("another frame")
    {
        roots s(2, 2);
        s.map(0, user_page, 0x5000, P | W | U | A | D);
        REQUIRE(s.r.read(user_page, true).ok);
        REQUIRE(s.r.read(user_page).ok);
        REQUIRE(s.load(1));
        s.r.gt.set_entry(s.cr3[0], user_page, 1, 0x7000 | P | W | U | A | D);
        REQUIRE(s.load(0));
        CHECK_FALSE(s.r.sh->user_half_intact());
        CHECK(s.r.read(user_page, true).maddr == s.r.maddr_of(0x7000));
        CHECK(s.r.read(user_page).maddr == s.r.maddr_of(0x7000));
    }
    SECTION("made read-only (a fork's copy-on-write)")
    {
        roots s(2, 2);
        s.map(0, user_page, 0x5000, P | W | U | A | D);
        REQUIRE(s.r.write(user_page, true).ok);
        REQUIRE(s.load(1));
        s.r.gt.set_entry(s.cr3[0], user_page, 1, 0x5000 | P | U | A | D);
        REQUIRE(s.load(0));
        CHECK(s.r.read(user_page, true).faults == 1);  // the writable leaf went; a read fills it again
        CHECK(pf_of(s.r.write(user_page, true)) == (pf_error::present | pf_error::write | pf_error::user));
    }
    SECTION("unmapped at an upper level")
    {
        roots s(2, 2);
        s.map(0, user_page, 0x5000, P | W | U | A | D);
        REQUIRE(s.r.read(user_page, true).ok);
        REQUIRE(s.load(1));
        s.r.gt.set_entry(s.cr3[0], user_page, 2, 0);
        REQUIRE(s.load(0));
        CHECK(pf_of(s.r.read(user_page, true)) == pf_error::user);
        CHECK(s.r.sh->shadow_leaf(true, user_page) == 0);
        CHECK(s.r.sh->shadow_leaf(false, user_page) == 0);
    }
    SECTION("its root frame reused for another address space")
    {
        // Linux frees an exited process's root and may hand the frame to the next one: the
        // same CR3, other tables. Every leaf is checked, so nothing of the old one survives.
        roots s(2, 2);
        s.map(0, user_page, 0x5000, P | U | A);
        REQUIRE(s.r.read(user_page, true).ok);
        REQUIRE(s.load(1));
        s.r.gt.set_entry(s.cr3[0], user_page, 4, 0);
        s.map(0, user_page + 0x1000, 0x8000, P | U | A);
        REQUIRE(s.load(0));
        CHECK(pf_of(s.r.read(user_page, true)) == pf_error::user);
        CHECK(s.r.read(user_page + 0x1000, true).maddr == s.r.maddr_of(0x8000));
    }
}

TEST_CASE("spaces: the kernel half is one for every space", "[shadow][spaces]")
{
    roots s(2, 2);
    rig &r = s.r;
    REQUIRE(r.read(kva).maddr == r.maddr_of(0x9000));
    REQUIRE(s.load(1));
    CHECK(r.read(kva).faults == 0);  // filled in the other space's roots
    // A kernel user_page first touched in this space is there in the first one too.
    constexpr uint64_t kva2 = kva + 0x1000;
    r.gt.map(s.cr3[0], kva2, 0xa000, P | W | A | D);  // the same kernel tables under both roots
    CHECK(r.read(kva2).faults == 1);
    REQUIRE(s.load(0));
    CHECK(r.read(kva2).faults == 0);
    // invlpg of a kernel user_page in one space drops it for all.
    r.gt.set_entry(s.cr3[0], kva2, 1, 0xb000 | P | W | A | D);
    REQUIRE(s.load(1));
    r.sh->invalidate_page(kva2);
    REQUIRE(s.load(0));
    CHECK(r.read(kva2).maddr == r.maddr_of(0xb000));
    CHECK(r.m.refused == 0);
}

TEST_CASE("spaces: a root no space holds takes the least recently loaded one", "[shadow][spaces]")
{
    roots s(2, 3);
    rig &r = s.r;
    for (unsigned k = 0; k < 3; ++k)
        s.map(k, user_page, 0x5000 + 0x1000 * k, P | U | A);
    REQUIRE(r.read(user_page, true).ok);  // root 0, space 0
    REQUIRE(s.load(1));               // space 1
    REQUIRE(r.read(user_page, true).ok);
    REQUIRE(s.load(0));               // space 0 again: space 1 is now the least recent
    REQUIRE(s.load(2));               // takes space 1: root 1's leaf is checked against root 2
    CHECK(r.sh->stats().space_reuses == 2);
    CHECK(r.read(user_page, true).maddr == r.maddr_of(0x7000));
    REQUIRE(s.load(0));
    CHECK(r.read(user_page, true).faults == 0);  // space 0 kept
    REQUIRE(s.load(1));                     // takes space 1 from root 2 (space 0 more recent)
    const cpu_outcome o = r.read(user_page, true);
    CHECK(o.maddr == r.maddr_of(0x6000));
    CHECK(o.faults == 1);
    CHECK(r.m.refused == 0);
}

TEST_CASE("spaces: a full pool frees the other spaces' user halves first", "[shadow][spaces][pool]")
{
    // Eight roots, four spaces, each root with one user_page in a 512 GiB slot of its own (its own
    // L3, L2, L1 in both roots): the pool cannot keep them all.
    roots s(4, 8, 8 + 3 + 1 + 14);  // the roots, the wedge's paths, the kernel user_page's L3..L1 (3 - 2 shared), 14
    rig &r = s.r;
    REQUIRE(r.status == init_status::ok);
    for (unsigned k = 0; k < 8; ++k)
        s.map(k, (k + 1ull) << 39, 0x1000 * (k + 1), P | W | U | A | D);
    REQUIRE(r.read(kva).ok);
    for (int round = 0; round < 3; ++round)
        for (unsigned k = 0; k < 8; ++k) {
            REQUIRE(s.load(k));
            REQUIRE(r.write((k + 1ull) << 39, true).maddr == r.maddr_of(0x1000 * (k + 1)));
            REQUIRE(r.read((k + 1ull) << 39).ok);
            for (unsigned j = 0; j < 8; ++j)
                if (j != k)
                    REQUIRE(pf_of(r.read((j + 1ull) << 39, true)) == pf_error::user);
        }
    CHECK(r.sh->stats().pool_reclaims > 0);
    CHECK(r.read(kva).faults == 0);  // the kernel half survived the reclaims
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("spaces: a user half a full pool freed is not intact when its root comes back", "[shadow][spaces][pool]")
{
    // The backend refills its stacks after a load unless the user half is as its root left it:
    // one a reclaim freed is not, though its check finds nothing to clear.
    roots s(2, 2, 40);
    rig &r = s.r;
    s.map(0, user_page, 0x5000, P | W | U | A | D);
    REQUIRE(r.write(user_page, true).ok);
    REQUIRE(s.load(1));
    for (uint64_t k = 1; r.sh->stats().pool_reclaims == 0; ++k) {
        REQUIRE(k < 64);
        s.map(1, k << 39, 0x1000 * k, P | W | U | A | D);
        REQUIRE(r.write(k << 39, true).ok);
    }
    REQUIRE(s.load(0));
    CHECK(r.sh->stats().space_hits == 1);
    CHECK_FALSE(r.sh->user_half_intact());
    CHECK(r.write(user_page, true).faults == 1);
    REQUIRE(s.load(1));
    REQUIRE(s.load(0));
    CHECK(r.sh->user_half_intact());
    CHECK(r.m.refused == 0);
}

TEST_CASE("spaces: roots the hypervisor refuses to load leave the running space to the new root", "[shadow][spaces]")
{
    roots s(2, 2);
    rig &r = s.r;
    s.map(0, user_page, 0x5000, P | U | A);
    s.map(1, user_page, 0x6000, P | U | A);
    REQUIRE(r.read(user_page, true).maddr == r.maddr_of(0x5000));
    const uint64_t running = r.m.kernel_root();
    r.m.refuse_root_loads = true;
    REQUIRE(s.load(1));
    CHECK(r.m.kernel_root() == running);
    CHECK_FALSE(r.sh->user_half_intact());
    CHECK(r.read(user_page, true).maddr == r.maddr_of(0x6000));  // root 1's, in the running space
    CHECK(r.sh->stats().space_reuses == 0);
    r.m.refuse_root_loads = false;
    REQUIRE(s.load(0));  // the other space now, given to root 0
    CHECK(r.m.kernel_root() != running);
    CHECK(r.read(user_page, true).maddr == r.maddr_of(0x5000));
    REQUIRE(s.load(1));  // back to the first space, which shadows root 1
    CHECK(r.sh->user_half_intact());
    CHECK(r.read(user_page, true).faults == 0);
}

TEST_CASE("spaces: init takes 1 to 8 spaces and a pool that holds their roots", "[shadow][spaces]")
{
    CHECK(rig(256, {}, false, {}, 0).status == init_status::bad_spaces);
    CHECK(rig(256, {}, false, {}, shadow_mmu::max_spaces + 1).status == init_status::bad_spaces);
    CHECK(rig(256, {}, false, {}, shadow_mmu::max_spaces).status == init_status::ok);
    CHECK(rig(7, {}, false, {}, 4).status == init_status::pool_too_small);
}

// Switching back without a check (docs/xen-shadow-paging.md): with every guest table store
// reported (table_stored), a space no store has come after since its last check is loaded as
// it is. A change made without the report is then not seen: that is what the tests below use
// to tell a checked load from an unchecked one.
TEST_CASE("spaces: with the stores reported, a switch back with none since needs no check",
          "[shadow][spaces][unchecked]")
{
    roots s(2, 2);
    rig &r = s.r;
    r.sh->report_table_stores(false);
    s.map(0, user_page, 0x5000, P | W | U | A | D);
    s.map(1, user_page, 0x6000, P | W | U | A | D);
    REQUIRE(r.write(user_page, true).ok);
    REQUIRE(s.load(1));
    REQUIRE(r.write(user_page, true).ok);
    REQUIRE(s.load(0));  // space 0 was checked when root 1 took the other space; no store since
    CHECK(r.sh->stats().unchecked_loads == 1);
    CHECK(r.sh->user_half_intact());

    SECTION("unchecked: a change nobody reported is not seen (the kept leaf is the old frame)")
    {
        REQUIRE(s.load(1));
        r.gt.set_entry(s.cr3[0], user_page, 1, 0x7000 | P | W | U | A | D);
        REQUIRE(s.load(0));
        CHECK(r.sh->stats().unchecked_loads == 3);
        CHECK(r.write(user_page, true).maddr == r.maddr_of(0x5000));
    }
    SECTION("a reported store: the next load of every space checks it")
    {
        REQUIRE(s.load(1));
        r.gt.set_entry(s.cr3[0], user_page, 1, 0x7000 | P | W | U | A | D);
        r.sh->table_stored();
        REQUIRE(s.load(0));
        CHECK(r.sh->stats().unchecked_loads == 2);
        CHECK(r.write(user_page, true).maddr == r.maddr_of(0x7000));
        REQUIRE(s.load(1));  // checked too: the store came after its last check
        CHECK(r.sh->stats().unchecked_loads == 2);
        REQUIRE(s.load(0));  // nothing stored since both were checked
        CHECK(r.sh->stats().unchecked_loads == 3);
    }
    SECTION("a reload of the running root with nothing stored keeps everything, loads nothing")
    {
        const uint64_t writes = r.m.writes, loads = r.m.root_loads;
        REQUIRE(s.load(0));
        CHECK(r.sh->stats().unchecked_loads == 2);
        CHECK(r.m.writes == writes);
        CHECK(r.m.root_loads == loads);
        CHECK(r.write(user_page, true).faults == 0);
    }
    SECTION("verify: checked all the same, and what the check finds is counted")
    {
        r.sh->report_table_stores(true);
        REQUIRE(s.load(1));
        CHECK(r.sh->stats().unchecked_stale == 0);
        r.gt.set_entry(s.cr3[0], user_page, 1, 0x7000 | P | W | U | A | D);
        REQUIRE(s.load(0));
        CHECK(r.sh->stats().unchecked_stale == 1);
        CHECK(r.write(user_page, true).maddr == r.maddr_of(0x7000));
    }
    SECTION("new paging rules (a flush) make every space checked again")
    {
        REQUIRE(s.load(1));
        r.gt.set_entry(s.cr3[0], user_page, 1, 0x7000 | P | W | U | A | D);
        paging_config cfg = r.sh->config();
        cfg.nxe = !cfg.nxe;
        r.sh->set_config(cfg);
        REQUIRE(s.load(0));
        CHECK(r.sh->stats().unchecked_loads == 2);  // the load of root 1 above only
        CHECK(r.write(user_page, true).maddr == r.maddr_of(0x7000));
    }
    SECTION("a root whose kernel half differs (a full load) makes every other space checked again")
    {
        const uint64_t other = r.gt.new_table();  // no kernel half: the full load path
        r.gt.map(other, user_page, 0x8000, P | U | A);
        bool kept = true;
        r.sh->load_cr3(other, true, kept);
        CHECK_FALSE(kept);
        r.gt.set_entry(s.cr3[1], user_page, 1, 0x7000 | P | W | U | A | D);
        CHECK_FALSE(s.load(0));  // the kernel half is root 0's again: a full load too
        REQUIRE(s.load(1));
        CHECK(r.sh->stats().unchecked_loads == 1);
        CHECK(r.write(user_page, true).maddr == r.maddr_of(0x7000));
    }
    CHECK(r.m.refused == 0);
}

TEST_CASE("spaces: without the stores reported every switch back is checked", "[shadow][spaces][unchecked]")
{
    roots s(2, 2);
    rig &r = s.r;
    s.map(0, user_page, 0x5000, P | W | U | A | D);
    REQUIRE(r.write(user_page, true).ok);
    REQUIRE(s.load(1));
    r.gt.set_entry(s.cr3[0], user_page, 1, 0x7000 | P | W | U | A | D);
    REQUIRE(s.load(0));
    CHECK(r.sh->stats().unchecked_loads == 0);
    CHECK(r.write(user_page, true).maddr == r.maddr_of(0x7000));
}
