// Direct paging against the fake Xen: the guest's tables become Xen's, the guest keeps seeing
// its own values, and Xen's type rules hold at every step (a refused update fails the test).
#include <catch2/catch.hpp>

#include "direct_mmu.h"
#include "fake_xen.h"
#include "present_scan.h"

using namespace afterburn::xen_direct;
using afterburn::xen_direct::test::fake_xen;

namespace {

constexpr uint64_t P = pte::present, RW = pte::write, U = pte::user, A = pte::accessed, D = pte::dirty,
                   PS = pte::page_size, G = pte::global, NX = pte::nx;
constexpr uint64_t direct_map = 0xffff888000000000ull, kernel_map = 0xffffffff80000000ull;
constexpr uint64_t window = 0xffffffffffe00000ull;

// Guest frames of the layout below.
constexpr uint64_t root = 16, user_l3 = 17, user_l2 = 18, user_l1 = 19, dm_l3 = 20, dm_l2 = 21,
                   dm_l1a = 22, dm_l1b = 23, km_l3 = 24, km_l2 = 25, fix_l2 = 26;
constexpr uint64_t ram_frames = 1024;  // 4 MiB

unsigned idx(uint64_t va, int level) { return (va >> (12 + 9 * (level - 1))) & 511; }
uint64_t gpa_of(uint64_t gfn, unsigned index) { return gfn << 12 | index * 8; }
uint64_t link(uint64_t gfn, uint64_t extra = 0) { return gfn << 12 | P | RW | A | extra; }

// A Linux-like guest in guest-physical form: user page at 0x400000, a 4 KiB direct map of
// all 4 MiB, the kernel map of the first 4 MiB in 2 MiB pages, an empty fixmap L2.
struct rig {
    fake_xen xen;
    direct_mmu mmu{xen, xen};
    uint64_t wedge_l1 = 0;

    rig()
    {
        xen.add_ram(0, ram_frames);
        auto w = [&](uint64_t gfn, unsigned i, uint64_t v) { xen.gwrite(gpa_of(gfn, i), v); };
        w(root, idx(0x400000, 4), link(user_l3, U));
        w(user_l3, idx(0x400000, 3), link(user_l2, U));
        w(user_l2, idx(0x400000, 2), link(user_l1, U));
        w(user_l1, idx(0x400000, 1), 200ull << 12 | P | RW | U | A | D);
        w(root, idx(direct_map, 4), link(dm_l3));
        w(dm_l3, idx(direct_map, 3), link(dm_l2));
        w(dm_l2, 0, link(dm_l1a));
        w(dm_l2, 1, link(dm_l1b));
        for (unsigned i = 0; i < 1024; ++i)
            w(i < 512 ? dm_l1a : dm_l1b, i % 512, uint64_t(i) << 12 | P | RW | A | D | G | NX);
        w(root, 511, link(km_l3));
        w(km_l3, idx(kernel_map, 3), link(km_l2));
        w(km_l3, 511, link(fix_l2));
        w(km_l2, 0, 0ull << 12 | P | RW | A | D | PS | G);
        w(km_l2, 1, 0x200000ull | P | RW | A | D | PS | G);

        wedge_l1 = xen.pool_frame(1);
        static uint64_t l1s[8], l4s[4];
        for (auto &f : l1s) f = xen.pool_frame(1);
        for (auto &f : l4s) f = xen.pool_frame(4);
        static wedge_range ranges[1];
        ranges[0] = {window, wedge_l1 << 12 | P | RW | A};
        static const uint64_t aliases[] = {direct_map, kernel_map};
        direct_setup s;
        s.l1_pool = l1s;
        s.l1_pool_count = 8;
        s.l4_pool = l4s;
        s.l4_pool_count = 4;
        s.ranges = ranges;
        s.range_count = 1;
        s.alias_bases = aliases;
        s.alias_count = 2;
        REQUIRE(mmu.init(s) == status::ok);
    }
    uint64_t m(uint64_t gfn) const { return xen.mfn_of(gfn); }
    uint64_t load(uint64_t gfn, unsigned i)
    {
        uint64_t v = 0;
        REQUIRE(mmu.load(gpa_of(gfn, i), v) == status::ok);
        return v;
    }
    uint64_t kwalk(uint64_t va) { return xen.walk(xen.kernel_root, va); }
    // What the integration does before the guest runs on its tables: the queue to Xen.
    void sent() { REQUIRE(mmu.flush() == status::ok); }
};

} // namespace

TEST_CASE("a root's tables become Xen's and the guest still reads its own entries")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    CHECK(r.xen.errors.empty());
    CHECK(r.xen.kernel_root == r.m(root));
    CHECK(r.xen.is_pinned(r.m(root)));
    CHECK(r.xen.level_of(r.m(dm_l1a)) == 1);
    CHECK(r.xen.level_of(r.m(km_l2)) == 2);

    // The machine tables map what the guest's map.
    CHECK(entry_frame(r.kwalk(direct_map + 0x5000)) == r.m(5));
    CHECK((r.kwalk(direct_map + 0x5000) & RW));
    CHECK(entry_frame(r.kwalk(kernel_map + 0x3000)) == r.m(3));  // a 2 MiB page, split
    CHECK(entry_frame(r.kwalk(kernel_map + 0x3ff000)) == r.m(0x3ff));
    CHECK(r.mmu.statistics().large_pages_split == 2);

    // Table frames are mapped read-only everywhere, and Xen holds no writable reference.
    for (uint64_t t : {root, dm_l1a, dm_l2, km_l2, user_l1}) {
        CHECK_FALSE((r.kwalk(direct_map + (t << 12)) & RW));
        CHECK_FALSE((r.kwalk(kernel_map + (t << 12)) & RW));
        CHECK(r.xen.writable_refs(r.m(t)) == 0);
    }

    // The guest reads back exactly what it wrote, table frames' mappings writable included.
    CHECK(r.load(dm_l1a, 5) == (5ull << 12 | P | RW | A | D | G | NX));
    CHECK(r.load(dm_l1a, dm_l1a) == (dm_l1a << 12 | P | RW | A | D | G | NX));
    CHECK(r.load(root, idx(direct_map, 4)) == link(dm_l3));
    CHECK(r.load(root, idx(0x400000, 4)) == link(user_l3, U));
    CHECK(r.load(user_l1, idx(0x400000, 1)) == (200ull << 12 | P | RW | U | A | D));
    CHECK(r.load(km_l2, 1) == (0x200000ull | P | RW | A | D | PS | G));
    // Xen's own L4 slots read as absent, and clearing them is allowed.
    CHECK(r.load(root, 260) == 0);
    CHECK(r.mmu.store(gpa_of(root, 260), 0) == status::ok);
    // The raw frame holds machine frames, which the guest never sees.
    CHECK(entry_frame(r.xen.raw(gpa_of(dm_l1a, 5))) == r.m(5));
}

TEST_CASE("the wedge's range is in the root and the guest's value at its slot is kept aside")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t slot = r.xen.frame(r.m(fix_l2))[idx(window, 2)];
    CHECK(entry_frame(slot) == r.wedge_l1);
    CHECK(r.load(fix_l2, idx(window, 2)) == 0);
    REQUIRE(r.mmu.store(gpa_of(fix_l2, idx(window, 2)), 0x1234000ull | P) == status::ok);
    CHECK(r.load(fix_l2, idx(window, 2)) == (0x1234000ull | P));
    CHECK(entry_frame(r.xen.frame(r.m(fix_l2))[idx(window, 2)]) == r.wedge_l1);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("guest user mode runs on a root with only the user half")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    REQUIRE(r.xen.user_root != 0);
    CHECK(entry_frame(r.xen.walk(r.xen.user_root, 0x400000)) == r.m(200));
    CHECK(r.xen.walk(r.xen.user_root, direct_map) == 0);
    CHECK(r.xen.walk(r.xen.user_root, kernel_map + 0x1000) == 0);

    // A new user-half root entry reaches the user root too.
    const uint64_t l3 = 300, l2 = 301, l1 = 302;
    r.xen.gwrite(gpa_of(l3, 0), link(l2, U));
    r.xen.gwrite(gpa_of(l2, 0), link(l1, U));
    r.xen.gwrite(gpa_of(l1, 7), 400ull << 12 | P | U | A);
    REQUIRE(r.mmu.store(gpa_of(root, 1), link(l3, U)) == status::ok);
    r.sent();
    CHECK(entry_frame(r.xen.walk(r.xen.user_root, 0x8000000000ull + 0x7000)) == r.m(400));
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a table filled as data and then linked is converted, and unlinking gives it back")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t fresh = 30;
    for (unsigned i = 0; i < 512; ++i)  // filled before it is linked, as Linux's direct map is
        r.xen.gwrite(gpa_of(fresh, i), (100ull + i % 50) << 12 | P | RW | U | A);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), link(fresh, U)) == status::ok);
    r.sent();
    CHECK(r.xen.errors.empty());
    CHECK(r.xen.level_of(r.m(fresh)) == 1);
    CHECK(entry_frame(r.kwalk(3ull << 21 | 0x1000)) == r.m(101));
    CHECK_FALSE((r.kwalk(direct_map + (fresh << 12)) & RW));
    CHECK(r.load(fresh, 1) == (101ull << 12 | P | RW | U | A));

    // A store through the site into the live table.
    REQUIRE(r.mmu.store(gpa_of(fresh, 2), 150ull << 12 | P | U | A) == status::ok);
    r.sent();
    CHECK(entry_frame(r.kwalk(3ull << 21 | 0x2000)) == r.m(150));

    // An unannotated write to the live table is not absorbed.
    CHECK(r.mmu.on_write_fault(direct_map + (fresh << 12) + 8) == direct_mmu::write_fault::live_table);

    // Unlinked: Xen drops its type; the guest's next write as data gets the page back.
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), 0) == status::ok);
    CHECK(r.xen.level_of(r.m(fresh)) == 0);
    CHECK(r.mmu.on_write_fault(direct_map + (fresh << 12) + 8) == direct_mmu::write_fault::retry);
    CHECK((r.kwalk(direct_map + (fresh << 12)) & RW));
    CHECK_FALSE(r.mmu.is_table(fresh));
    CHECK(r.mmu.statistics().tables_released == 1);
    // A fault the core did not cause is the guest's.
    CHECK(r.mmu.on_write_fault(0x400000) == direct_mmu::write_fault::not_ours);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a leaf naming a frame outside guest RAM is absent to Xen and kept for the guest")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t outside = 0x80000ull << 12 | P | RW | U | A;
    REQUIRE(r.mmu.store(gpa_of(user_l1, 5), outside) == status::ok);
    CHECK(r.load(user_l1, 5) == outside);
    CHECK(r.kwalk(0x405000) == 0);
    uint64_t e = 0;
    CHECK(r.mmu.unreachable_at(0x405000, e));
    CHECK(e == outside);
    CHECK(r.mmu.statistics().unreachable_entries == 1);

    // A 2 MiB page outside guest RAM takes no pool table.
    const uint64_t large_outside = 0x40000000ull | P | RW | A | D | PS;
    REQUIRE(r.mmu.store(gpa_of(km_l2, 5), large_outside) == status::ok);
    CHECK(r.load(km_l2, 5) == large_outside);
    CHECK(r.mmu.statistics().large_pages_split == 2);
    CHECK(r.mmu.statistics().unreachable_entries == 2);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a second root shares the kernel half, and a freed root is unpinned on its first data write")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint32_t kernel_l3_refs = r.xen.type_count(r.m(dm_l3));
    const uint64_t second = 40;
    for (unsigned i = 256; i < 512; ++i)  // Linux copies the kernel half through its sites
        r.xen.gwrite(gpa_of(second, i), r.load(root, i));
    REQUIRE(r.mmu.load_root(second << 12) == status::ok);
    CHECK(r.xen.kernel_root == r.m(second));
    CHECK(r.xen.type_count(r.m(dm_l3)) == kernel_l3_refs + 1);
    CHECK(entry_frame(r.kwalk(direct_map + 0x9000)) == r.m(9));
    CHECK(entry_frame(r.kwalk(window)) == 0);  // the shared fixmap L2 already has the range

    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    CHECK(r.mmu.on_write_fault(direct_map + (second << 12)) == direct_mmu::write_fault::retry);
    CHECK_FALSE(r.xen.is_pinned(r.m(second)));
    CHECK(r.xen.type_count(r.m(dm_l3)) == kernel_l3_refs);
    CHECK(r.xen.errors.empty());
    // The current root is not given back.
    CHECK(r.mmu.on_write_fault(direct_map + (root << 12)) == direct_mmu::write_fault::live_table);
}

TEST_CASE("bad entry accesses and roots are refused with a reason")
{
    rig r;
    CHECK(r.mmu.store(gpa_of(root, 0) + 4, 0) == status::misaligned);
    CHECK(r.mmu.store(ram_frames << 12, 0) == status::not_guest_ram);
    CHECK(r.mmu.load_root(ram_frames << 12) == status::not_guest_ram);
    r.xen.gwrite(gpa_of(root, 260), link(50));
    CHECK(r.mmu.load_root(root << 12) == status::xen_range_used);

    rig s;
    s.xen.gwrite(gpa_of(km_l3, 511), 0);  // no fixmap L2: nowhere to put the wedge's window
    CHECK(s.mmu.load_root(root << 12) == status::no_path_to_range);
    CHECK(s.mmu.detail() == window);
}

TEST_CASE("a subtree linked and unlinked types and untypes every table in it")
{
    // Each table's entries are read through one view, taken again after a call that may map
    // another frame (the fake's view then shows that frame, as the wedge's slot would).
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t l3 = 30, l2a = 31, l1a = 32, l2b = 33, l1b = 34;
    r.xen.gwrite(gpa_of(l3, 0), link(l2a, U));
    r.xen.gwrite(gpa_of(l3, 1), link(l2b, U));
    r.xen.gwrite(gpa_of(l2a, 0), link(l1a, U));
    r.xen.gwrite(gpa_of(l2b, 0), link(l1b, U));
    r.xen.gwrite(gpa_of(l1a, 0), 300ull << 12 | P | RW | U | A);
    r.xen.gwrite(gpa_of(l1b, 0), 301ull << 12 | P | RW | U | A);
    REQUIRE(r.mmu.store(gpa_of(root, 2), link(l3, U)) == status::ok);
    r.sent();
    for (uint64_t t : {l3, l2a, l1a, l2b, l1b}) CHECK(r.xen.level_of(r.m(t)) != 0);
    CHECK(entry_frame(r.kwalk(2ull << 39 | 1ull << 30)) == r.m(301));
    CHECK(entry_frame(r.xen.walk(r.xen.user_root, 2ull << 39 | 1ull << 30)) == r.m(301));
    REQUIRE(r.mmu.store(gpa_of(root, 2), 0) == status::ok);
    for (uint64_t t : {l3, l2a, l1a, l2b, l1b}) CHECK(r.xen.level_of(r.m(t)) == 0);
    // The core agrees: each is data again on its first write.
    for (uint64_t t : {l3, l2a, l1a, l2b, l1b})
        CHECK(r.mmu.on_write_fault(direct_map + (t << 12)) == direct_mmu::write_fault::retry);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("the walk translate() keeps is forgotten when an entry of it or the root changes")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    uint64_t gpa = 0;
    bool writable = false;
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    CHECK(gpa == (200ull << 12 | 0x123));
    CHECK(writable);
    REQUIRE(r.mmu.translate(0x400456, gpa, writable));  // the kept walk
    CHECK(gpa == (200ull << 12 | 0x456));

    // The leaf changes through the site.
    REQUIRE(r.mmu.store(gpa_of(user_l1, idx(0x400000, 1)), 201ull << 12 | P | U | A) == status::ok);
    r.sent();
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    CHECK(gpa == (201ull << 12 | 0x123));
    CHECK_FALSE(writable);

    // An upper level of the walk changes: a new L1 under the same L2 slot.
    const uint64_t other_l1 = 35;
    r.xen.gwrite(gpa_of(other_l1, idx(0x400000, 1)), 202ull << 12 | P | RW | U | A);
    REQUIRE(r.mmu.store(gpa_of(user_l2, idx(0x400000, 2)), link(other_l1, U)) == status::ok);
    r.sent();
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    CHECK(gpa == (202ull << 12 | 0x123));
    CHECK(writable);

    // A table page's alias, kept, then written by the guest as data once unlinked: the same.
    REQUIRE(r.mmu.translate(direct_map + (other_l1 << 12), gpa, writable));
    CHECK(gpa == other_l1 << 12);
    CHECK(writable);  // the guest's view: its map allows the write

    // Another root, without the user half.
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    const uint64_t second = 40;
    for (unsigned i = 256; i < 512; ++i) r.xen.gwrite(gpa_of(second, i), r.load(root, i));
    REQUIRE(r.mmu.load_root(second << 12) == status::ok);
    CHECK_FALSE(r.mmu.translate(0x400123, gpa, writable));
    // Loaded again (pinned already: nothing adopted) after the first root's walk was kept.
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    REQUIRE(r.mmu.load_root(second << 12) == status::ok);
    CHECK_FALSE(r.mmu.translate(0x400123, gpa, writable));
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a table given back as data takes its notes along, absent entries' too")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t fresh = 30, outside = 0x80000ull << 12 | P | RW | U | A;
    r.xen.gwrite(gpa_of(fresh, 1), 101ull << 12 | P | RW | U | A);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), link(fresh, U)) == status::ok);
    REQUIRE(r.mmu.store(gpa_of(fresh, 5), outside) == status::ok);  // absent to Xen, kept
    CHECK(r.load(fresh, 5) == outside);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), 0) == status::ok);
    REQUIRE(r.mmu.on_write_fault(direct_map + (fresh << 12) + 8) == direct_mmu::write_fault::retry);
    // The guest uses the page as data, then as a table again: it reads what it wrote last.
    r.xen.gwrite(gpa_of(fresh, 5), 0);
    r.xen.gwrite(gpa_of(fresh, 6), 102ull << 12 | P | U | A);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), link(fresh, U)) == status::ok);
    CHECK(r.load(fresh, 5) == 0);
    CHECK(r.load(fresh, 6) == (102ull << 12 | P | U | A));
    r.sent();
    CHECK(entry_frame(r.kwalk(3ull << 21 | 0x6000)) == r.m(102));
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a new table mapped by a split 2 MiB page outside the alias maps loses R/W there")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    // A user 2 MiB page over guest frames 0-511 at 1 GiB: split into a pool L1.
    const uint64_t big_l2 = 36, fresh = 30;
    REQUIRE(r.mmu.store(gpa_of(user_l3, 1), link(big_l2, U)) == status::ok);
    REQUIRE(r.mmu.store(gpa_of(big_l2, 0), 0ull | P | RW | U | A | D | PS) == status::ok);
    r.sent();
    CHECK((r.xen.walk(r.xen.user_root, (1ull << 30) + (fresh << 12)) & RW));
    // Linked as a table: the split's leaf for it loses R/W (Xen refuses the link otherwise).
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), link(fresh, U)) == status::ok);
    r.sent();
    CHECK_FALSE((r.xen.walk(r.xen.user_root, (1ull << 30) + (fresh << 12)) & RW));
    CHECK(r.xen.errors.empty());
}

// ---- batched updates (docs/xen-direct-paging.md, "Batched updates") ---------------------------

TEST_CASE("stores to a live table are queued, read back from the queue and sent in one mmu_update")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const unsigned before = r.xen.hypercalls;
    for (unsigned i = 0; i < 100; ++i)
        REQUIRE(r.mmu.store(gpa_of(user_l1, i), (300ull + i) << 12 | P | RW | U | A) == status::ok);
    REQUIRE(r.mmu.store(gpa_of(user_l1, 7), 250ull << 12 | P | U | A) == status::ok);  // twice: the newest
    CHECK(r.xen.hypercalls == before);
    CHECK(r.mmu.has_queued());
    CHECK(r.kwalk(0x407000) == 0);  // Xen runs the old entries until the queue is sent
    CHECK(r.load(user_l1, 5) == (305ull << 12 | P | RW | U | A));
    CHECK(r.load(user_l1, 7) == (250ull << 12 | P | U | A));
    uint64_t gpa = 0;
    bool writable = true;
    CHECK_FALSE(r.mmu.translate(0x407123, gpa, writable));  // what Xen runs, as the CPU sees it

    r.sent();
    REQUIRE(r.mmu.translate(0x407123, gpa, writable));
    CHECK(gpa == (250ull << 12 | 0x123));
    CHECK_FALSE(writable);
    CHECK(r.xen.hypercalls == before + 1);
    CHECK_FALSE(r.mmu.has_queued());
    CHECK(entry_frame(r.kwalk(0x405000)) == r.m(305));
    CHECK(entry_frame(r.kwalk(0x407000)) == r.m(250));
    CHECK_FALSE((r.kwalk(0x407000) & RW));
    CHECK(r.load(user_l1, 7) == (250ull << 12 | P | U | A));
    CHECK(r.mmu.statistics().updates_queued >= 101);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("translate keeps several walks, and a store to any entry of one forgets it")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    uint64_t gpa = 0;
    bool writable = false;
    // Four pages kept (a fault's walk: the user page and three tables' aliases), then the
    // user page's leaf changes while the other walks stay kept.
    const uint64_t vas[] = {direct_map + (user_l1 << 12), 0x400000, direct_map + (user_l2 << 12),
                            direct_map + (user_l3 << 12)};
    for (uint64_t va : vas) REQUIRE(r.mmu.translate(va, gpa, writable));
    REQUIRE(r.mmu.store(gpa_of(user_l1, idx(0x400000, 1)), 203ull << 12 | P | U | A) == status::ok);
    r.sent();
    for (uint64_t va : vas) REQUIRE(r.mmu.translate(va, gpa, writable));  // kept again, in another order
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    CHECK(gpa == (203ull << 12 | 0x123));
    CHECK_FALSE(writable);
    REQUIRE(r.mmu.translate(direct_map + (user_l2 << 12) + 8, gpa, writable));
    CHECK(gpa == (user_l2 << 12 | 8));
    CHECK(writable);  // the guest's view of a table's alias
    // A store to the leaf again, with the walk kept in a slot other than the newest.
    REQUIRE(r.mmu.translate(direct_map + 0x5000, gpa, writable));
    REQUIRE(r.mmu.store(gpa_of(user_l1, idx(0x400000, 1)), 204ull << 12 | P | RW | U | A) == status::ok);
    r.sent();
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    CHECK(gpa == (204ull << 12 | 0x123));
    CHECK(writable);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("translate's kept walk is forgotten when the queue is sent")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    uint64_t gpa = 0;
    bool writable = false;
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));
    REQUIRE(r.mmu.store(gpa_of(user_l1, idx(0x400000, 1)), 0) == status::ok);  // queued
    REQUIRE(r.mmu.translate(0x400456, gpa, writable));  // Xen still runs the old entry
    r.sent();
    CHECK_FALSE(r.mmu.translate(0x400789, gpa, writable));
    CHECK(r.xen.errors.empty());
}

TEST_CASE("sending the queue forgets only the kept walks through a frame it updates")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    uint64_t gpa = 0;
    bool writable = false;
    REQUIRE(r.mmu.translate(0x400123, gpa, writable));              // root, user_l3, user_l2, user_l1
    REQUIRE(r.mmu.translate(direct_map + 0x5123, gpa, writable));   // root, dm_l3, dm_l2, dm_l1a
    REQUIRE(gpa == 0x5123);
    REQUIRE(r.mmu.store(gpa_of(user_l1, idx(0x400000, 1)), 0) == status::ok);  // queued: user_l1 only
    r.sent();
    CHECK_FALSE(r.mmu.translate(0x400789, gpa, writable));  // walked again: the leaf is gone
    // The direct map's walk was kept: its leaf changed behind the core's back (Xen never
    // changes a walk; this stands in for a re-walk detector) still reads as it was kept.
    const uint64_t leaf = gpa_of(dm_l1a, idx(direct_map + 0x5000, 1)), before = r.xen.raw(leaf);
    r.xen.gwrite(leaf, (before & ~pte::addr_mask) | r.m(300) << 12);
    CHECK(r.mmu.translate(direct_map + 0x5456, gpa, writable));
    CHECK(gpa == 0x5456);
    r.xen.gwrite(leaf, before);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a full queue, or one touching too many frames, is sent on its own")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const unsigned before = r.xen.hypercalls;
    for (unsigned i = 0; i < direct_mmu::max_queued + 1; ++i)
        REQUIRE(r.mmu.store(gpa_of(dm_l1a + i % 2, i / 2), uint64_t(i / 2) << 12 | P | A | G | NX) == status::ok);
    CHECK(r.xen.hypercalls == before + 1);
    CHECK(entry_frame(r.kwalk(direct_map + 0x1000)) == r.m(1));
    CHECK_FALSE((r.kwalk(direct_map + 0x1000) & RW));
    r.sent();
    CHECK(r.xen.hypercalls == before + 2);

    // Nine frames: the ninth sends the eight before it.
    uint64_t l1s[direct_mmu::max_queued_frames + 1];
    for (unsigned f = 0; f < direct_mmu::max_queued_frames + 1; ++f) {
        l1s[f] = 60 + f;
        REQUIRE(r.mmu.store(gpa_of(user_l2, 10 + f), link(l1s[f], U)) == status::ok);
    }
    r.sent();
    const unsigned start = r.xen.hypercalls;
    for (unsigned f = 0; f < direct_mmu::max_queued_frames; ++f)
        REQUIRE(r.mmu.store(gpa_of(l1s[f], 1), 400ull << 12 | P | U | A) == status::ok);
    CHECK(r.xen.hypercalls == start);
    REQUIRE(r.mmu.store(gpa_of(l1s[direct_mmu::max_queued_frames], 1), 400ull << 12 | P | U | A) == status::ok);
    CHECK(r.xen.hypercalls == start + 1);
    CHECK(entry_frame(r.kwalk((10ull << 21) + 0x1000)) == r.m(400));
    CHECK(r.xen.errors.empty());
}

TEST_CASE("every flush point sends the queue before Xen or the CPU could see the old entries")
{
    // A new mapping, queued: the guest would run on it after each of these.
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t va = 0x409000, leaf = 310ull << 12 | P | RW | U | A;
    REQUIRE(r.mmu.store(gpa_of(user_l1, idx(va, 1)), leaf) == status::ok);
    REQUIRE(r.kwalk(va) == 0);
    SECTION("a root load") { REQUIRE(r.mmu.load_root(root << 12) == status::ok); }
    SECTION("invlpg")
    {
        REQUIRE(r.mmu.invalidate_page(va) == status::ok);
        CHECK(entry_frame(r.xen.walked_at_invalidation) == r.m(310));  // sent before the invlpg
    }
    SECTION("a TLB flush")
    {
        REQUIRE(r.mmu.flush_tlb() == status::ok);
        CHECK(r.xen.full_flushes == 1);
    }
    SECTION("a write fault (any: the queue may be why)")
    {
        CHECK(r.mmu.on_write_fault(0x400000) == direct_mmu::write_fault::not_ours);
    }
    SECTION("another root's load")
    {
        const uint64_t second = 40;
        for (unsigned i = 0; i < 512; ++i) r.xen.gwrite(gpa_of(second, i), r.load(root, i));
        REQUIRE(r.mmu.load_root(second << 12) == status::ok);
    }
    CHECK(entry_frame(r.kwalk(va)) == r.m(310));
    CHECK_FALSE(r.mmu.has_queued());
    CHECK(r.xen.errors.empty());
}

TEST_CASE("a table that becomes data again is Xen's data before the core writes it plainly")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t fresh = 30;
    r.xen.gwrite(gpa_of(fresh, 1), 101ull << 12 | P | RW | U | A);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), link(fresh, U)) == status::ok);
    r.sent();
    REQUIRE(r.xen.level_of(r.m(fresh)) == 1);
    // Queued: a store into it, then its unlink; the unlink drops the last reference.
    REQUIRE(r.mmu.store(gpa_of(fresh, 2), 102ull << 12 | P | U | A) == status::ok);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), 0) == status::ok);
    CHECK(r.xen.level_of(r.m(fresh)) == 0);  // sent with the unlink
    CHECK(entry_frame(r.xen.raw(gpa_of(fresh, 2))) == r.m(102));
    // The core writes it plainly now (a write view Xen refuses for a table).
    REQUIRE(r.mmu.store(gpa_of(fresh, 3), 103ull << 12 | P | U | A) == status::ok);
    CHECK(entry_frame(r.xen.raw(gpa_of(fresh, 3))) == r.m(103));  // still in machine form
    CHECK(r.load(fresh, 3) == (103ull << 12 | P | U | A));
    CHECK(r.mmu.on_write_fault(direct_map + (fresh << 12)) == direct_mmu::write_fault::retry);
    CHECK(r.xen.errors.empty());
}

TEST_CASE("fork's write protection of a parent's entries is a few mmu_updates, not one per entry")
{
    rig r;
    REQUIRE(r.mmu.load_root(root << 12) == status::ok);
    const uint64_t parent = 30;
    for (unsigned i = 0; i < 256; ++i) r.xen.gwrite(gpa_of(parent, i), (500ull + i) << 12 | P | RW | U | A | D);
    REQUIRE(r.mmu.store(gpa_of(user_l2, 3), link(parent, U)) == status::ok);
    r.sent();
    const unsigned before = r.xen.hypercalls;
    // A read-modify-write site per entry: load, R/W off, store; the next load sees the store.
    for (unsigned i = 0; i < 256; ++i) {
        const uint64_t e = r.load(parent, i);
        REQUIRE(r.mmu.store(gpa_of(parent, i), e & ~RW) == status::ok);
        CHECK(r.load(parent, i) == ((500ull + i) << 12 | P | U | A | D));
    }
    r.sent();
    CHECK(r.xen.hypercalls - before <= 256 / direct_mmu::max_queued + 1);
    for (unsigned i = 0; i < 256; ++i) {
        const uint64_t m = r.kwalk(3ull << 21 | uint64_t(i) << 12);
        CHECK(entry_frame(m) == r.m(500 + i));
        CHECK_FALSE((m & RW));
    }
    CHECK(r.xen.errors.empty());
}

TEST_CASE("next_present finds every present entry at any position and start, and nothing else")
{
    // Scanned in groups: an entry with P alone at each index, found from every start at or
    // before it (and not from after it); bits other than P never count.
    static uint64_t table[512];  // read through a volatile view, as the core's are
    const volatile uint64_t *view = table;
    for (unsigned k = 0; k < 512; ++k) table[k] = 0x1000ull * k | RW | A | D;  // absent, not zero
    CHECK(next_present(view, 0, 512) == 512);
    CHECK(next_present(view, 0, 256) == 256);
    for (unsigned at = 0; at < 512; ++at) {
        table[at] |= P;
        for (unsigned from : {0u, at > 0 ? at - 1 : 0u, at & ~7u, at})
            CHECK(next_present(view, from, 512) == at);
        CHECK(next_present(view, at + 1, 512) == 512);
        CHECK(next_present(view, 0, 256) == (at < 256 ? at : 256));
        table[at] &= ~P;
    }
    table[3] |= P;
    table[9] |= P;
    table[511] |= P;
    CHECK(next_present(view, 0, 512) == 3);
    CHECK(next_present(view, 4, 512) == 9);
    CHECK(next_present(view, 10, 512) == 511);
}
