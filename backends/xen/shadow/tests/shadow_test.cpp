// The shadow MMU driven through the fake machine: every access is first tried on the
// machine tables the fake walks, exactly as the hardware would under Xen.
#include <catch2/catch.hpp>

#include "rig.h"

using namespace afterburn::xen_shadow;
using namespace afterburn::xen_shadow::test;

namespace {
constexpr uint64_t high = 0xffffffff81000000ull;  // Linux's kernel text
constexpr uint64_t low = 0x400000;
constexpr uint64_t user_va = 0x0000000000800000ull;

// The #PF error code the guest received, or ~0 if the access did not end in a #PF.
uint32_t pf_of(const cpu_outcome &o) { return o.outcome == fault_outcome::inject_pf ? o.error_code : ~0u; }
} // namespace

TEST_CASE("shadow: identity and high mapping reach the p2m's machine frames", "[shadow]")
{
    rig r;
    REQUIRE(r.status == init_status::ok);
    // Identity-map gpa 0x10000-0x13fff and map the same frames high.
    for (uint64_t off = 0; off < 0x4000; off += 0x1000) {
        r.gt.map(r.cr3, 0x10000 + off, 0x10000 + off, P | W);
        r.gt.map(r.cr3, high + off, 0x10000 + off, P | W);
    }
    for (uint64_t off = 0; off < 0x4000; off += 0x1000) {
        const cpu_outcome a = r.read(0x10000 + off + 0x18);
        const cpu_outcome b = r.read(high + off + 0x18);
        REQUIRE(a.ok);
        REQUIRE(b.ok);
        CHECK(a.maddr == r.maddr_of(0x10000 + off + 0x18));
        CHECK(b.maddr == a.maddr);
    }
    // The p2m is descending: consecutive guest frames are not consecutive machine frames.
    CHECK(r.maddr_of(0x11000) != r.maddr_of(0x10000) + 0x1000);
    // A store through one mapping is seen through the other.
    const cpu_outcome w = r.write(high + 0x2008);
    REQUIRE(w.ok);
    r.machine_word(w.maddr) = 0x1234;
    CHECK(r.machine_word(r.read(0x12008).maddr) == 0x1234);
    CHECK(r.m.refused == 0);
    CHECK(r.sh->stats().faults_fixed >= 8);
}

TEST_CASE("shadow: #PF error codes and CR2 the guest receives", "[shadow]")
{
    rig r;
    r.gt.map(r.cr3, low, 0x5000, P);                     // supervisor read-only
    r.gt.map(r.cr3, user_va, 0x6000, P | W | U | NX);    // user data, no execute

    cpu_outcome o = r.read(low + 0x1000 + 0x10);         // not present
    CHECK(o.outcome == fault_outcome::inject_pf);
    CHECK(pf_of(o) == 0);
    CHECK(o.cr2 == low + 0x1010);
    o = r.write(low + 0x1000, true);
    CHECK(pf_of(o) == (pf_error::write | pf_error::user));

    REQUIRE(r.read(low).ok);
    o = r.write(low + 8);                                 // write to read-only
    CHECK(o.outcome == fault_outcome::inject_pf);
    CHECK(pf_of(o) == 3);
    CHECK(o.cr2 == low + 8);

    o = r.read(low, true);                                // user to supervisor
    CHECK(o.outcome == fault_outcome::inject_pf);
    CHECK(pf_of(o) == 5);

    REQUIRE(r.write(user_va, true).ok);
    // The shadow entry the fake CPU walks carries NX itself.
    CHECK((r.sh->shadow_leaf(true, user_va) & pte::nx) != 0);
    o = r.fetch(user_va + 0x40, true);                    // NX
    CHECK(o.outcome == fault_outcome::inject_pf);
    CHECK(pf_of(o) == 0x15);
    CHECK(o.cr2 == user_va + 0x40);
    o = r.fetch(user_va, false);
    CHECK(pf_of(o) == 0x11);
    // A #PF drops what the TLB held for the address.
    CHECK(r.sh->shadow_leaf(true, user_va) == 0);
    CHECK(r.sh->stats().faults_injected == 6);
}

TEST_CASE("shadow: A and D are set in the guest PTE exactly when the CPU would", "[shadow]")
{
    rig r;
    r.gt.map(r.cr3, low, 0x5000, P | W);
    auto pte1 = [&] { return r.gt.entry(r.cr3, low, 1); };
    CHECK((pte1() & (A | D)) == 0);

    // A read sets A only, and the shadow entry stays read-only.
    cpu_outcome o = r.read(low);
    REQUIRE(o.ok);
    CHECK(o.faults == 1);
    CHECK((pte1() & (A | D)) == A);
    for (int level = 4; level >= 2; --level)
        CHECK((r.gt.entry(r.cr3, low, level) & A) == A);
    CHECK((r.sh->shadow_leaf(false, low) & pte::write) == 0);
    // More reads: no fault, no change.
    o = r.read(low + 0x100);
    CHECK(o.faults == 0);
    CHECK((pte1() & (A | D)) == A);

    // The first write faults again (shadow read-only until D), and sets D.
    o = r.write(low + 0x100);
    REQUIRE(o.ok);
    CHECK(o.faults == 1);
    CHECK((pte1() & (A | D)) == (A | D));
    CHECK((r.sh->shadow_leaf(false, low) & pte::write) != 0);
    o = r.write(low + 0x200);
    CHECK(o.faults == 0);

    // A first access that writes sets A and D with one fault.
    r.gt.map(r.cr3, low + 0x1000, 0x6000, P | W);
    o = r.write(low + 0x1000);
    CHECK(o.faults == 1);
    CHECK((r.gt.entry(r.cr3, low + 0x1000, 1) & (A | D)) == (A | D));

    // The guest clears D (and A) and invalidates: the next read sets A, the next write D.
    r.gt.set_entry(r.cr3, low, 1, pte1() & ~(A | D));
    r.sh->invalidate_page(low);
    REQUIRE(r.read(low).ok);
    CHECK((pte1() & (A | D)) == A);
    o = r.write(low);
    CHECK(o.faults == 1);
    CHECK((pte1() & (A | D)) == (A | D));

    // Cleared without invlpg: the cached writable translation is used, D is not set again
    // (a TLB entry caches the dirty state too).
    r.gt.set_entry(r.cr3, low, 1, pte1() & ~D);
    o = r.write(low);
    CHECK(o.faults == 0);
    CHECK((pte1() & D) == 0);

    // A write to a read-only page sets neither.
    r.gt.map(r.cr3, low + 0x2000, 0x7000, P);
    CHECK(r.write(low + 0x2000).outcome == fault_outcome::inject_pf);
    CHECK((r.gt.entry(r.cr3, low + 0x2000, 1) & (A | D)) == 0);
}

TEST_CASE("shadow: invlpg makes a changed mapping visible and without it the stale one stays", "[shadow]")
{
    rig r;
    r.gt.map(r.cr3, low, 0x5000, P | W);
    r.gt.map(r.cr3, low + 0x1000, 0x8000, P | W);
    REQUIRE(r.read(low).maddr == r.maddr_of(0x5000));
    REQUIRE(r.read(low + 0x1000).maddr == r.maddr_of(0x8000));

    // Retarget both PTEs without invlpg: the stale translations persist (TLB semantics).
    r.gt.set_entry(r.cr3, low, 1, 0x6000 | P | W);
    r.gt.set_entry(r.cr3, low + 0x1000, 1, 0x9000 | P | W);
    CHECK(r.read(low).maddr == r.maddr_of(0x5000));
    CHECK(r.read(low + 0x1000).maddr == r.maddr_of(0x8000));

    // invlpg of one page: that page shows the new frame, the other is still stale.
    const size_t inv = r.m.invalidated.size();
    r.sh->invalidate_page(low + 0x123);
    CHECK(r.m.invalidated.size() == inv + 1);  // the real TLB was told
    CHECK(r.read(low).maddr == r.maddr_of(0x6000));
    CHECK(r.read(low + 0x1000).maddr == r.maddr_of(0x8000));

    // A CR3 load (even of the same value) forgets everything.
    r.sh->load_cr3(r.cr3);
    CHECK(r.read(low + 0x1000).maddr == r.maddr_of(0x9000));

    // Unmapped without invlpg: still readable; after invlpg: #PF.
    REQUIRE(r.read(low).maddr == r.maddr_of(0x6000));
    r.gt.set_entry(r.cr3, low, 1, 0);
    CHECK(r.read(low).ok);
    r.sh->invalidate_page(low);
    CHECK(pf_of(r.read(low)) == 0);

    // A full flush has the same effect as the CR3 load.
    r.gt.set_entry(r.cr3, low + 0x1000, 1, 0x5000 | P | W);
    CHECK(r.read(low + 0x1000).maddr == r.maddr_of(0x9000));
    r.sh->flush();
    CHECK(r.read(low + 0x1000).maddr == r.maddr_of(0x5000));

    // A write through a clean cached entry faults (the shadow is read-only until D) and
    // re-walks, as the CPU does to set D: then the retargeted PTE is seen.
    r.gt.set_entry(r.cr3, low + 0x1000, 1, 0x5000 | P | W | U);
    r.sh->invalidate_page(low + 0x1000);
    REQUIRE(r.read(low + 0x1000, true).ok);
    r.gt.set_entry(r.cr3, low + 0x1000, 1, 0x7000 | P | W | U);
    CHECK(r.read(low + 0x1000, true).maddr == r.maddr_of(0x5000));  // stale, as in a TLB
    CHECK(r.write(low + 0x1000, true).maddr == r.maddr_of(0x7000));  // the write faulted (D) and re-walked
}

TEST_CASE("shadow: invlpg clears a page in both roots and invalidates it in one request", "[shadow][batch]")
{
    rig r;
    r.gt.map(r.cr3, user_va, 0x5000, P | W | U);
    REQUIRE(r.read(user_va, true).maddr == r.maddr_of(0x5000));  // the user root's leaf
    REQUIRE(r.read(user_va).maddr == r.maddr_of(0x5000));        // and the kernel root's
    REQUIRE(r.sh->shadow_leaf(true, user_va) != 0);
    REQUIRE(r.sh->shadow_leaf(false, user_va) != 0);
    const uint64_t batches = r.m.batches, combined = r.m.combined, writes = r.m.writes, flushes = r.m.flushes;
    const size_t inv = r.m.invalidated.size();
    r.gt.set_entry(r.cr3, user_va, 1, 0x6000 | P | W | U);
    r.sh->invalidate_page(user_va + 0x10);
    CHECK(r.m.batches - batches == 1);    // both leaves in one request
    CHECK(r.m.combined - combined == 1);  // with the invalidation
    CHECK(r.m.writes - writes == 2);
    CHECK(r.m.flushes == flushes);        // one page, not everything
    REQUIRE(r.m.invalidated.size() == inv + 1);
    CHECK(r.m.invalidated.back() == user_va);
    CHECK(r.sh->shadow_leaf(true, user_va) == 0);
    CHECK(r.sh->shadow_leaf(false, user_va) == 0);
    CHECK(r.read(user_va, true).maddr == r.maddr_of(0x6000));
    CHECK(r.read(user_va).maddr == r.maddr_of(0x6000));

    // A page the shadow does not map: nothing to clear, so the hypervisor is not entered.
    r.gt.map(r.cr3, user_va + 0x1000, 0x7000, P | W | U);
    const uint64_t batches2 = r.m.batches;
    const size_t inv2 = r.m.invalidated.size();
    r.sh->invalidate_page(user_va + 0x1000);
    CHECK(r.m.batches == batches2);
    CHECK(r.m.invalidated.size() == inv2);
    CHECK(r.read(user_va + 0x1000, true).maddr == r.maddr_of(0x7000));
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: invlpg walks the guest's tables only where the shadow holds leaves", "[shadow][batch]")
{
    rig r;
    constexpr uint64_t far_va = user_va + 0x200000;  // the next 2 MiB: its own L1
    r.gt.map(r.cr3, user_va, 0x5000, P | W | U);
    r.gt.map(r.cr3, far_va, 0x6000, P | W | U);
    REQUIRE(r.read(user_va, true).ok);
    // Nothing shadowed in far_va's 2 MiB: no walk, no request.
    uint64_t reads = r.m.reads, batches = r.m.batches;
    r.sh->invalidate_page(far_va);
    CHECK(r.m.reads == reads);
    CHECK(r.m.batches == batches);
    // A leaf elsewhere in the same 2 MiB: the guest is walked (it may map a 2 MiB page here
    // now, which would have to go as a whole), and the leaf there stays.
    r.sh->invalidate_page(user_va + 0x1000);
    CHECK(r.m.reads > reads);
    CHECK(r.m.batches == batches);
    CHECK(r.sh->shadow_leaf(true, user_va) != 0);
    // Once far_va is filled, its invlpg clears it.
    REQUIRE(r.read(far_va, true).ok);
    r.gt.set_entry(r.cr3, far_va, 1, 0x7000 | P | W | U);
    r.sh->invalidate_page(far_va);
    CHECK(r.m.batches == batches + 1);
    CHECK(r.read(far_va, true).maddr == r.maddr_of(0x7000));
    // After a CR3 load cleared every leaf (and unlisted the L1s), an invlpg there walks nothing.
    r.sh->load_cr3(r.cr3);
    reads = r.m.reads;
    r.sh->invalidate_page(user_va);
    CHECK(r.m.reads == reads);
    // The 4K -> 2 MiB replacement is still seen: a 2 MiB page over the filled L1 drops all of it.
    REQUIRE(r.read(user_va, true).maddr == r.maddr_of(0x5000));
    r.gt.map(r.cr3, user_va + 0x3000, 0x9000, P | W | U);
    REQUIRE(r.read(user_va + 0x3000, true).maddr == r.maddr_of(0x9000));
    r.m.add_ram(0x600, 0x200);  // the 2 MiB page's frames
    r.gt.set_entry(r.cr3, user_va, 2, 0x600000 | P | W | U | pte::page_size);
    r.sh->invalidate_page(user_va + 0x5000);  // neither filled page
    CHECK(r.sh->shadow_leaf(true, user_va) == 0);
    CHECK(r.sh->shadow_leaf(true, user_va + 0x3000) == 0);
    CHECK(r.read(user_va + 0x3000, true).maddr == r.maddr_of(0x603000));
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: the forget count grows at every point that drops an entry, and only there", "[shadow]")
{
    rig r;
    constexpr uint64_t kva = 0xffff888000001000ull;
    r.gt.map(r.cr3, low, 0x5000, P | W);
    r.gt.map(r.cr3, user_va, 0x6000, P | W | U);
    r.gt.map(r.cr3, kva, 0x7000, P | W);
    r.sh->load_cr3(r.cr3);
    uint64_t n = r.sh->stats().forgets;
    // Fills (reads and writes, through either root) drop nothing.
    REQUIRE(r.read(low).ok);
    REQUIRE(r.access_va(low, access_type::write_at(false)).ok);
    REQUIRE(r.read(user_va, true).ok);
    REQUIRE(r.read(kva).ok);
    CHECK(r.sh->stats().forgets == n);
    // Each sync point does: invlpg, a full and a kept CR3 load, a flush, a #PF reflected.
    r.sh->invalidate_page(low);
    CHECK(r.sh->stats().forgets > n);
    n = r.sh->stats().forgets;
    r.sh->load_cr3(r.cr3);
    CHECK(r.sh->stats().forgets > n);
    bool kept = false;
    r.sh->load_cr3(r.cr3, true, kept);  // remembers the kernel half
    n = r.sh->stats().forgets;
    r.sh->load_cr3(r.cr3, true, kept);
    REQUIRE(kept);
    CHECK(r.sh->stats().forgets > n);
    n = r.sh->stats().forgets;
    r.sh->flush();
    CHECK(r.sh->stats().forgets > n);
    // A #PF the guest gets drops the shadow's leaf for the page, if it held one.
    n = r.sh->stats().forgets;
    CHECK(pf_of(r.read(low + 0x5000)) == 0);  // not mapped, never shadowed: nothing dropped
    CHECK(r.sh->stats().forgets == n);
    r.gt.map(r.cr3, low + 0x6000, 0x8000, P);  // read-only
    REQUIRE(r.read(low + 0x6000).ok);
    n = r.sh->stats().forgets;
    CHECK(pf_of(r.write(low + 0x6000)) == (pf_error::present | pf_error::write));
    CHECK(r.sh->stats().forgets > n);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: two guest address spaces switched by CR3", "[shadow]")
{
    rig r;
    const uint64_t cr3_a = r.cr3, cr3_b = r.gt.new_table();
    constexpr uint64_t shared_va = 0xffffca0000000000ull;  // the sample guest's CR3 check page
    r.gt.map(cr3_a, shared_va, 0x5000, P | W);
    r.gt.map(cr3_b, shared_va, 0x6000, P | W);
    r.gt.map(cr3_a, high, 0x7000, P | W);  // only in A

    REQUIRE(r.read(shared_va).maddr == r.maddr_of(0x5000));
    REQUIRE(r.read(high).ok);
    r.sh->load_cr3(cr3_b);
    CHECK(r.sh->guest_cr3() == cr3_b);
    CHECK(r.read(shared_va).maddr == r.maddr_of(0x6000));
    CHECK(pf_of(r.read(high)) == 0);  // not mapped in B: #PF, not A's translation
    r.sh->load_cr3(cr3_a);
    CHECK(r.read(shared_va).maddr == r.maddr_of(0x5000));
    CHECK(r.read(high).ok);
    for (int i = 0; i < 20; ++i) {
        r.sh->load_cr3(i % 2 ? cr3_a : cr3_b);
        REQUIRE(r.write(shared_va + 8).maddr == r.maddr_of(i % 2 ? 0x5008 : 0x6008));
    }
    // Switching keeps the tables (empty of leaves) for the next fills; a flush frees them:
    // only the wedge paths stay in the pool.
    const uint32_t in_use = r.sh->stats().tables_in_use;
    r.sh->load_cr3(cr3_b);
    CHECK(r.sh->stats().tables_in_use == in_use);
    r.sh->flush();
    CHECK(r.sh->stats().tables_in_use < in_use);
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: a CR3 load keeps the global kernel half only while it is the same", "[shadow]")
{
    rig r;
    const uint64_t cr3_a = r.cr3, cr3_b = r.gt.new_table(), cr3_c = r.gt.new_table();
    constexpr uint64_t kva = 0xffff888000001000ull;  // Linux's direct map (no PTI: global)
    r.gt.map(cr3_a, kva, 0x5000, P | W);
    r.gt.map(cr3_a, user_va, 0x6000, P | W | U);
    r.gt.map(cr3_b, user_va, 0x7000, P | W | U);
    const uint64_t kernel_l4 = r.gt.entry(cr3_a, kva, 4);
    r.gt.set_entry(cr3_b, kva, 4, kernel_l4);  // B shares A's kernel half, as Linux's pgds do
    r.gt.map(cr3_c, kva, 0x8000, P | W);       // C has a kernel half of its own

    bool kept = true;
    r.sh->load_cr3(cr3_a, true, kept);
    CHECK(!kept);  // nothing to compare with yet
    REQUIRE(r.read(kva).maddr == r.maddr_of(0x5000));
    REQUIRE(r.read(user_va, true).maddr == r.maddr_of(0x6000));
    r.sh->load_cr3(cr3_b, true, kept);
    CHECK(kept);
    CHECK(r.sh->shadow_leaf(false, kva) != 0);       // the kernel half stayed
    CHECK(r.sh->shadow_leaf(true, user_va) == 0);    // the user half went
    CHECK(r.read(user_va, true).maddr == r.maddr_of(0x7000));
    r.sh->load_cr3(cr3_c, true, kept);
    CHECK(!kept);
    CHECK(r.read(kva).maddr == r.maddr_of(0x8000));  // not A's translation
    r.sh->load_cr3(cr3_a, true, kept);
    CHECK(!kept);
    CHECK(r.read(kva).maddr == r.maddr_of(0x5000));
    // A kernel-half change in the incoming root is a full load, even with every root changed.
    r.gt.map(cr3_b, 0xffffc90000000000ull, 0x9000, P | W);
    r.sh->load_cr3(cr3_b, true, kept);
    CHECK(!kept);
    // Not asked to keep: a full load, and the next keep-load has nothing to compare with.
    r.sh->load_cr3(cr3_b, false, kept);
    CHECK(!kept);
    r.sh->load_cr3(cr3_b);
    r.sh->load_cr3(cr3_b, true, kept);
    CHECK(!kept);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: CR3 loads, invlpg and #PF clear leaves (one request per table) and keep the tables", "[shadow]")
{
    rig r;
    const uint64_t other = r.gt.new_table();
    constexpr uint64_t va = 0x0000000000400000ull;  // user half: dropped by every CR3 load
    for (uint64_t i = 16; i-- > 0;) {  // downwards: the L1's filled span grows at its low end
        r.gt.map(r.cr3, va + i * 0x1000, 0x5000, P | W | U);
        REQUIRE(r.read(va + i * 0x1000).ok);
    }
    r.gt.map(other, va + 0x3000, 0x6000, P | W | U);
    const uint32_t in_use = r.sh->stats().tables_in_use;
    uint64_t writes = r.m.writes, batches = r.m.batches;
    r.sh->load_cr3(other);
    CHECK(r.sh->stats().tables_in_use == in_use);
    CHECK(r.m.batches - batches == 1);  // the one L1's 16 leaves
    CHECK(r.m.writes - writes == 16);   // and nothing else: the links stay
    for (uint64_t i = 0; i < 16; ++i)
        CHECK(r.sh->shadow_leaf(false, va + i * 0x1000) == 0);
    // The kept tables serve the new space's fills; what it does not map faults.
    CHECK(r.read(va + 0x3000).maddr == r.maddr_of(0x6000));
    CHECK(pf_of(r.read(va)) == 0);
    CHECK(r.sh->stats().tables_in_use == in_use);
    // invlpg keeps them too, and the next access sees the changed entry.
    r.gt.set_entry(other, va + 0x3000, 1, 0x7000 | P | W | U);
    r.sh->invalidate_page(va + 0x3000);
    CHECK(r.sh->shadow_leaf(false, va + 0x3000) == 0);
    CHECK(r.sh->stats().tables_in_use == in_use);
    CHECK(r.read(va + 0x3000).maddr == r.maddr_of(0x7000));
    // A flush frees the tables, each cleared in one request.
    writes = r.m.writes;
    batches = r.m.batches;
    r.sh->flush();
    const uint32_t freed = in_use - r.sh->stats().tables_in_use;
    REQUIRE(freed >= 3);                    // the user L3, L2 and L1 at least
    CHECK(r.m.batches - batches == freed);  // one request per freed table
    CHECK(r.m.writes - writes >= freed);    // the leaf and the links, each cleared
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: a kept CR3 load clears the user leaves of every table in one request", "[shadow]")
{
    rig r;
    const uint64_t cr3_a = r.cr3, cr3_b = r.gt.new_table();
    constexpr uint64_t kva = 0xffff888000001000ull;
    r.gt.map(cr3_a, kva, 0x9000, P | W);
    r.gt.set_entry(cr3_b, kva, 4, r.gt.entry(cr3_a, kva, 4));  // the shared kernel half
    // Four user pages in four 2 MiB (four L1s), read by user mode (user root) and by the
    // kernel (kernel root): eight L1s hold leaves.
    constexpr uint64_t spread[4] = {0x400000, 0x600000, 0x7ffffffde000ull, 0x40000000};
    for (int k = 0; k < 4; ++k) {
        r.gt.map(cr3_a, spread[k], 0x10000 + 0x1000 * k, P | W | U);
        r.gt.map(cr3_b, spread[k], 0x20000 + 0x1000 * k, P | W | U);
    }
    bool kept = false;
    r.sh->load_cr3(cr3_a, true, kept);
    REQUIRE(r.read(kva).ok);
    for (int k = 0; k < 4; ++k) {
        REQUIRE(r.read(spread[k], true).maddr == r.maddr_of(0x10000 + 0x1000 * k));
        REQUIRE(r.write(spread[k]).maddr == r.maddr_of(0x10000 + 0x1000 * k));
    }
    const uint64_t batches = r.m.batches, writes = r.m.writes, combined = r.m.combined, views = r.m.frame_views;
    r.sh->load_cr3(cr3_b, true, kept);
    REQUIRE(kept);
    // The new root once (the kernel half), and the path to each 2 MiB once for both roots'
    // L1s there: cr3_b's entries are not Accessed yet, so each path ends at its L4 entry.
    CHECK(r.m.frame_views - views == 1 + 4);
    CHECK(r.m.batches - batches == 1);  // eight tables, one request
    CHECK(r.m.combined - combined == 1);  // and the TLB flush with it
    CHECK(r.m.writes - writes == 8);    // each leaf once, and no link
    for (int k = 0; k < 4; ++k) {
        CHECK(r.sh->shadow_leaf(true, spread[k]) == 0);
        CHECK(r.sh->shadow_leaf(false, spread[k]) == 0);
        CHECK(r.read(spread[k], true).maddr == r.maddr_of(0x20000 + 0x1000 * k));
        CHECK(r.write(spread[k]).maddr == r.maddr_of(0x20000 + 0x1000 * k));
    }
    CHECK(r.sh->shadow_leaf(false, kva) != 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: CR3 loads read the guest's tables through frame views and still see every entry", "[shadow][keep]")
{
    rig r;
    const uint64_t cr3_a = r.cr3, cr3_b = r.gt.new_table();
    constexpr uint64_t kva = 0xffff888000001000ull;
    r.gt.map(cr3_a, kva, 0x9000, P | W);
    // Guest mappings of the wedge image (2 pages) and of Xen's hole (2): four collisions the
    // scan of every CR3 load reports, found through views of the tables on the way.
    r.gt.map(cr3_a, wedge_image, 0x5000, P | W);
    r.gt.map(cr3_a, wedge_image + 0x3000, 0x5000, P | W);
    r.gt.map(cr3_a, xen_hole + 0x1000, 0x5000, P | W);
    r.gt.map(cr3_a, xen_hole + (1ull << 39), 0x5000, P | W);  // the next L4 slot: read after a descent
    for (unsigned i = 256; i < 512; ++i)  // B shares A's whole kernel half
        r.m.gwrite(cr3_b + 8 * i, r.m.gread(cr3_a + 8 * i));
    bool kept = false;
    const uint64_t views = r.m.frame_views;
    collision_report rep = r.sh->load_cr3(cr3_a, true, kept);
    CHECK(rep.count == 4);
    CHECK(rep.first_va == wedge_image);  // the wedge's ranges are scanned first
    CHECK(r.m.frame_views > views);
    REQUIRE(r.read(kva).ok);
    rep = r.sh->load_cr3(cr3_b, true, kept);
    CHECK(kept);  // the 256 kernel-half entries, read through one view, all equal
    CHECK(rep.count == 0);  // a kept load scans only the user half: the kernel half is the same
    CHECK(r.sh->load_cr3(cr3_b).count == 4);
    r.sh->load_cr3(cr3_b, true, kept);  // the copy to compare with again
    // The last kernel-half slot differs: no keep.
    r.gt.set_entry(cr3_b, 0xffffff8000000000ull, 4, 0);
    rep = r.sh->load_cr3(cr3_b, true, kept);
    CHECK(!kept);
    CHECK(rep.count == 2);  // the image's mappings were under slot 511; Xen's hole's stay
    CHECK(rep.first_va == xen_hole + 0x1000);
    CHECK(r.m.refused == 0);
}

namespace {
// Two address spaces with a shared kernel half, as Linux's: A (the rig's root) and B.
struct two_spaces {
    rig r;
    uint64_t a = r.cr3, b = r.gt.new_table();
    static constexpr uint64_t kva = 0xffff888000001000ull;
    two_spaces()
    {
        r.gt.map(a, kva, 0x9000, P | W);
        r.gt.set_entry(a, kva, 4, r.gt.entry(a, kva, 4) | A);  // Linux's _KERNPG_TABLE has A
        r.gt.set_entry(b, kva, 4, r.gt.entry(a, kva, 4));
        load(a);  // the kernel half to compare with
    }
    // `va` -> `gpa` in `cr3` with the leaf `flags`, every upper entry present, writable, user
    // and Accessed (Linux's _PAGE_TABLE).
    void map(uint64_t cr3, uint64_t va, uint64_t gpa, uint64_t flags)
    {
        r.gt.map(cr3, va, gpa, flags);
        for (int level = 4; level > 1; --level)
            r.gt.set_entry(cr3, va, level, r.gt.entry(cr3, va, level) | A);
    }
    bool load(uint64_t cr3)
    {
        bool kept = false;
        r.sh->load_cr3(cr3, true, kept);
        return kept;
    }
};
} // namespace

TEST_CASE("shadow: a kept CR3 load keeps the user leaves the new tables give as they are", "[shadow][keep]")
{
    two_spaces s;
    rig &r = s.r;
    constexpr uint64_t text = 0x401000, data = 0x402000;  // one L1
    s.map(s.a, text, 0x5000, P | U | A);                  // shared text: the same frame, read-only
    s.map(s.b, text, 0x5000, P | U | A);
    s.map(s.a, data, 0x6000, P | W | U | A | D);          // written data: a frame each
    s.map(s.b, data, 0x7000, P | W | U | A | D);
    REQUIRE(r.read(s.kva).ok);
    REQUIRE(r.fetch(text, true).maddr == r.maddr_of(0x5000));
    REQUIRE(r.read(text).maddr == r.maddr_of(0x5000));  // the kernel root's leaf (copy_from_user)
    REQUIRE(r.write(data, true).maddr == r.maddr_of(0x6000));
    const uint64_t text_user = r.sh->shadow_leaf(true, text), text_kernel = r.sh->shadow_leaf(false, text);

    uint64_t writes = r.m.writes;
    REQUIRE(s.load(s.b));
    CHECK(r.sh->shadow_leaf(true, text) == text_user);      // kept in both roots
    CHECK(r.sh->shadow_leaf(false, text) == text_kernel);
    CHECK(r.sh->shadow_leaf(true, data) == 0);              // another frame: dropped
    CHECK(r.m.writes - writes == 1);
    CHECK(r.fetch(text, true).faults == 0);
    CHECK(r.write(data, true).maddr == r.maddr_of(0x7000));
    // Back to A: text kept again, data A's again. The L1 stayed listed, so its leaves are
    // checked on every load (a stale one would survive otherwise).
    REQUIRE(s.load(s.a));
    CHECK(r.fetch(text, true).faults == 0);
    CHECK(r.read(data, true).maddr == r.maddr_of(0x6000));
    // A third space maps another frame at the text address: nothing of A's may survive.
    const uint64_t c = r.gt.new_table();
    r.gt.set_entry(c, s.kva, 4, r.gt.entry(s.a, s.kva, 4));
    s.map(c, text, 0x8000, P | U | A);
    REQUIRE(s.load(c));
    CHECK(r.sh->shadow_leaf(true, text) == 0);
    CHECK(r.sh->shadow_leaf(false, text) == 0);
    CHECK(r.fetch(text, true).maddr == r.maddr_of(0x8000));
    CHECK(pf_of(r.read(data, true)) == pf_error::user);
    // Everything the new tables give as it is: no request, no TLB flush.
    REQUIRE(s.load(c));
    writes = r.m.writes;
    const uint64_t flushes = r.m.flushes, batches = r.m.batches;
    REQUIRE(s.load(c));
    CHECK(r.m.writes == writes);
    CHECK(r.m.batches == batches);
    CHECK(r.m.flushes == flushes);
    CHECK(r.fetch(text, true).faults == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: a kept CR3 load drops a leaf a walk of the new tables would not give as it is", "[shadow][keep]")
{
    constexpr uint64_t va = 0x401000;
    constexpr uint64_t shared = P | W | U | A | D;
    // Each case: B maps the page as A does, then one change; after the load the leaf must be
    // gone in both roots and the next access must behave as a fresh walk of B.
    SECTION("Accessed clear in the leaf: the next access sets it again")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x5000, shared & ~A);
        REQUIRE(s.r.read(va, true).ok);
        REQUIRE(s.r.read(va).ok);
        REQUIRE(s.load(s.b));
        CHECK(s.r.sh->shadow_leaf(true, va) == 0);
        CHECK(s.r.sh->shadow_leaf(false, va) == 0);
        CHECK(s.r.read(va, true).faults == 1);
        CHECK((s.r.gt.entry(s.b, va, 1) & A) != 0);
    }
    SECTION("Accessed clear in an upper entry: the next access sets it again")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x5000, shared);
        s.r.gt.set_entry(s.b, va, 2, s.r.gt.entry(s.b, va, 2) & ~A);
        REQUIRE(s.r.read(va, true).ok);
        REQUIRE(s.load(s.b));
        CHECK(s.r.sh->shadow_leaf(true, va) == 0);
        CHECK(s.r.read(va, true).faults == 1);
        CHECK((s.r.gt.entry(s.b, va, 2) & A) != 0);
    }
    SECTION("Dirty clear under a writable leaf: the next write sets it")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x5000, shared & ~D);
        REQUIRE(s.r.write(va, true).ok);
        REQUIRE(s.r.write(va).ok);
        REQUIRE(s.load(s.b));
        CHECK((s.r.sh->shadow_leaf(true, va) & W) == 0);
        CHECK((s.r.sh->shadow_leaf(false, va) & W) == 0);
        CHECK(s.r.write(va, true).ok);
        CHECK((s.r.gt.entry(s.b, va, 1) & D) != 0);
    }
    SECTION("read-only in the new tables: a user write faults")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x5000, shared & ~W);
        s.r.gt.set_entry(s.b, va, 3, s.r.gt.entry(s.b, va, 3) & ~W);  // and read-only above
        REQUIRE(s.r.write(va, true).ok);
        REQUIRE(s.load(s.b));
        CHECK(pf_of(s.r.write(va, true)) == (pf_error::present | pf_error::write | pf_error::user));
    }
    SECTION("supervisor-only in an upper entry: a user access faults, the kernel's does not")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x5000, shared);
        s.r.gt.set_entry(s.b, va, 3, s.r.gt.entry(s.b, va, 3) & ~U);
        REQUIRE(s.r.read(va, true).ok);
        REQUIRE(s.r.read(va).ok);
        REQUIRE(s.load(s.b));
        CHECK(s.r.sh->shadow_leaf(true, va) == 0);
        CHECK(s.r.sh->shadow_leaf(false, va) != 0);  // the kernel root's leaf is still what B gives
        CHECK(pf_of(s.r.read(va, true)) == (pf_error::present | pf_error::user));
    }
    SECTION("NX in the new tables: a fetch faults")
    {
        paging_config cfg;
        cfg.nxe = true;
        rig r(256, cfg);
        const uint64_t b = r.gt.new_table();
        r.gt.map(r.cr3, two_spaces::kva, 0x9000, P | W);
        r.gt.set_entry(b, two_spaces::kva, 4, r.gt.entry(r.cr3, two_spaces::kva, 4));
        r.gt.map(r.cr3, va, 0x5000, shared);
        r.gt.map(b, va, 0x5000, shared);
        r.gt.set_entry(b, va, 2, r.gt.entry(b, va, 2) | NX | A);
        r.gt.set_entry(b, va, 3, r.gt.entry(b, va, 3) | A);
        r.gt.set_entry(b, va, 4, r.gt.entry(b, va, 4) | A);
        bool kept = false;
        r.sh->load_cr3(r.cr3, true, kept);
        r.sh->load_cr3(r.cr3, true, kept);
        REQUIRE(r.fetch(va, true).ok);
        r.sh->load_cr3(b, true, kept);
        REQUIRE(kept);
        CHECK(pf_of(r.fetch(va, true)) == (pf_error::present | pf_error::user | pf_error::fetch));
        CHECK(r.read(va, true).ok);
    }
    SECTION("a reserved bit in the new leaf (NX without EFER.NXE): #PF with RSVD")
    {
        paging_config cfg;
        cfg.nxe = false;
        rig r(256, cfg);
        const uint64_t b = r.gt.new_table();
        for (uint64_t cr3 : {r.cr3, b}) {
            r.gt.map(cr3, va, 0x5000, cr3 == b ? shared | NX : shared);
            for (int level = 4; level > 1; --level)
                r.gt.set_entry(cr3, va, level, r.gt.entry(cr3, va, level) | A);
        }
        bool kept = false;
        r.sh->load_cr3(r.cr3, true, kept);
        r.sh->load_cr3(r.cr3, true, kept);
        REQUIRE(r.read(va, true).ok);
        r.sh->load_cr3(b, true, kept);
        REQUIRE(kept);
        CHECK(pf_of(r.read(va, true)) == (pf_error::present | pf_error::reserved | pf_error::user));
    }
    SECTION("not present in the new tables")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x5000, shared & ~P);
        REQUIRE(s.r.read(va, true).ok);
        REQUIRE(s.load(s.b));
        CHECK(pf_of(s.r.read(va, true)) == pf_error::user);
    }
    SECTION("a 2 MiB page in the new tables")
    {
        two_spaces s;
        s.r.m.add_ram(0x600, 0x200);
        s.map(s.a, va, 0x5000, shared);
        s.r.gt.map(s.b, 0x400000, 0x600000, shared, page_2m);
        s.r.gt.set_entry(s.b, va, 3, s.r.gt.entry(s.b, va, 3) | A);
        s.r.gt.set_entry(s.b, va, 4, s.r.gt.entry(s.b, va, 4) | A);
        // The large page's data looks like an L1 that gives A's leaf: only a walk that stops
        // at PS reads it right.
        s.r.m.gwrite(0x600000 + 8 * 1, 0x5000 | shared);
        REQUIRE(s.r.read(va, true).maddr == s.r.maddr_of(0x5000));
        REQUIRE(s.load(s.b));
        CHECK(s.r.sh->shadow_leaf(true, va) == 0);
        CHECK(s.r.read(va, true).maddr == s.r.maddr_of(0x601000));
    }
    SECTION("the same page one level up the tree elsewhere: another L1 at the address")
    {
        two_spaces s;
        s.map(s.a, va, 0x5000, shared);
        s.map(s.b, va, 0x6000, shared);
        REQUIRE(s.r.read(va, true).ok);
        REQUIRE(s.load(s.b));
        CHECK(s.r.read(va, true).maddr == s.r.maddr_of(0x6000));
    }
}

TEST_CASE("shadow: tables kept across CR3 loads fill the pool and are reclaimed", "[shadow]")
{
    rig r(20);  // 2 roots + 3 wedge path tables + 15 for the guest
    // Eight spaces, each with one page in a 512 GiB slot of its own: every space needs its
    // own L3, L2 and L1, which stay linked after a switch, so the pool runs out. They share a
    // global kernel half, which a reclaim keeps (the stacks Xen delivers events onto).
    constexpr uint64_t kva = 0xffff888000001000ull;
    uint64_t cr3[8];
    for (uint64_t k = 0; k < 8; ++k) {
        cr3[k] = k ? r.gt.new_table() : r.cr3;
        r.gt.map(cr3[k], (k + 1) << 39, 0x1000 * (k + 1), P | W | U);
        if (k == 0) {
            r.gt.map(cr3[0], kva, 0x9000, P | W | A);
            r.gt.set_entry(cr3[0], kva, 4, r.gt.entry(cr3[0], kva, 4) | A);  // as the first walk leaves it
        } else
            r.gt.set_entry(cr3[k], kva, 4, r.gt.entry(cr3[0], kva, 4));
    }
    bool kept = false;
    r.sh->load_cr3(cr3[0], true, kept);
    REQUIRE(r.read(kva).maddr == r.maddr_of(0x9000));
    const uint64_t flushes = r.sh->stats().flushes;
    unsigned kept_loads = 0;
    for (int round = 0; round < 3; ++round)
        for (uint64_t k = 0; k < 8; ++k) {
            r.sh->load_cr3(cr3[k], true, kept);
            kept_loads += kept;
            REQUIRE(r.read((k + 1) << 39, true).maddr == r.maddr_of(0x1000 * (k + 1)));
            for (uint64_t j = 0; j < 8; ++j)
                if (j != k)
                    REQUIRE(pf_of(r.read((j + 1) << 39, true)) == pf_error::user);
        }
    CHECK(kept_loads == 24);
    CHECK(r.sh->stats().pool_reclaims > 0);
    CHECK(r.sh->stats().flushes - flushes == 24);     // one per CR3 load: no reclaim flushed all
    CHECK(r.sh->shadow_leaf(false, kva) != 0);        // the kernel half survived the reclaims
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: pool frames whose mfns collide in the lookup hash", "[shadow][pool]")
{
    // 64 pool frames that all start their probe at the same slot, and 64 at the next: every
    // lookup but the first of each run probes on, past frames of the other run too.
    std::vector<uint64_t> mfns;
    const size_t slot = shadow_mmu::hash_of(pool_base_mfn);
    for (uint64_t mfn = pool_base_mfn; mfns.size() < 128; ++mfn) {
        const size_t h = shadow_mmu::hash_of(mfn);
        if (h == slot || h == ((slot + 1) & 8191))
            mfns.push_back(mfn);
    }
    rig r(0, {}, false, mfns);
    REQUIRE(r.status == init_status::ok);
    const uint64_t cr3_b = r.gt.new_table();
    // 24 pages in 24 L1s under 6 L2s: tables from all over the pool.
    for (uint64_t k = 0; k < 24; ++k) {
        const uint64_t va = (k % 6) << 30 | (k / 6) << 21;
        r.gt.map(r.cr3, va, 0x1000 * (k + 1), P | W | U);
        r.gt.map(cr3_b, va, 0x1000 * (k + 30), P | W | U);
    }
    for (int round = 0; round < 3; ++round)
        for (uint64_t cr3 : {r.cr3, cr3_b}) {
            r.sh->load_cr3(cr3);
            for (uint64_t k = 0; k < 24; ++k) {
                const uint64_t va = (k % 6) << 30 | (k / 6) << 21;
                REQUIRE(r.write(va, true).maddr == r.maddr_of(0x1000 * (k + (cr3 == cr3_b ? 30 : 1))));
                REQUIRE((r.sh->shadow_leaf(true, va) & ~pte::global) != 0);
            }
        }
    // The backend's own L1s (the window's, the image's) are no pool frames: shadow_leaf does
    // not read them (or any pool table in their place: the kernel root's entry 0 is present).
    REQUIRE(r.read(0).ok);
    CHECK(r.sh->shadow_leaf(false, window) == 0);
    CHECK(r.sh->shadow_leaf(false, wedge_image) == 0);
    r.sh->flush();
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: 2M guest pages are splintered into 4K shadow entries", "[shadow][large]")
{
    rig r;
    r.m.add_ram(0x400, 0x400);  // gpa 0x400000-0x7fffff: two 2 MiB frames
    constexpr uint64_t big = 0xffff888000000000ull;  // Linux's direct map
    r.gt.map(r.cr3, big, 0x400000, P | W, page_2m);
    for (uint64_t off : {0x0ull, 0x1000ull, 0x1ff000ull, 0x123456ull}) {
        const cpu_outcome o = r.read(big + off);
        REQUIRE(o.ok);
        CHECK(o.maddr == r.maddr_of(0x400000 + off));  // each 4K its own machine frame
    }
    // Only 4K leaves in the machine tables (the fake refuses PS; its walk would fail).
    for (auto &[va, e] : r.m.leaves(r.m.kernel_root()))
        if (va >= big && va < big + page_2m)
            CHECK((e & pte::page_size) == 0);
    // D lives in the PDE: the first write anywhere sets it, and then every piece is
    // writable on its next fault.
    CHECK((r.gt.entry(r.cr3, big, 2) & (A | D)) == A);
    CHECK(r.write(big + 0x1000).faults == 1);
    CHECK((r.gt.entry(r.cr3, big, 2) & (A | D)) == (A | D));
    CHECK(r.write(big + 0x3000).ok);

    // The guest moves the 2M page and invalidates ONE address in it: the whole large page
    // goes, as invlpg drops the TLB entry of the page containing the address.
    r.gt.set_entry(r.cr3, big, 2, 0x600000 | P | W | pte::page_size);
    CHECK(r.read(big + 0x1ff000).maddr == r.maddr_of(0x5ff000));  // stale before invlpg
    r.sh->invalidate_page(big + 0x1000);
    CHECK(r.read(big + 0x1ff000).maddr == r.maddr_of(0x7ff000));
    CHECK(r.read(big).maddr == r.maddr_of(0x600000));

    // The guest replaces 4K mappings by a 2M page: invlpg of one address drops every
    // shadow entry inside the new large page.
    constexpr uint64_t v2 = 0xffff888000400000ull;
    r.gt.map(r.cr3, v2, 0x400000, P | W);
    r.gt.map(r.cr3, v2 + 0x5000, 0x405000, P | W);
    REQUIRE(r.read(v2 + 0x5000).maddr == r.maddr_of(0x405000));
    r.gt.set_entry(r.cr3, v2, 2, 0x600000 | P | W | pte::page_size);
    r.sh->invalidate_page(v2);
    CHECK(r.read(v2 + 0x5000).maddr == r.maddr_of(0x605000));

    // PAT of a large leaf (bit 12) becomes the 4K PAT bit (7); PCD/PWT are kept.
    constexpr uint64_t v3 = 0xffff888000800000ull;
    r.gt.map(r.cr3, v3, 0x400000 | pte::pat_large, P | W | pte::pcd, page_2m);
    REQUIRE(r.read(v3).ok);
    const uint64_t leaf = r.sh->shadow_leaf(false, v3);
    CHECK((leaf & pte::pat_4k) != 0);
    CHECK((leaf & pte::pcd) != 0);
    CHECK((leaf & pte::addr_mask) == r.maddr_of(0x400000));
}

TEST_CASE("shadow: 1G guest pages, with and without 1 GiB pages in CPUID", "[shadow][large]")
{
    paging_config cfg;
    cfg.gb_pages = true;
    rig r(256, cfg);
    constexpr uint64_t gpa = 0x80000000;  // 2 GiB: only a few frames are RAM
    r.m.add_ram(gpa >> 12, 4);
    r.m.add_ram((gpa + 0x3ff00000) >> 12, 1);
    constexpr uint64_t big = 0xffff888040000000ull;
    r.gt.map(r.cr3, big, gpa, P | W | U, page_1g);
    CHECK(r.read(big + 0x2010, true).maddr == r.maddr_of(gpa + 0x2010));
    CHECK(r.read(big + 0x3ff00008).maddr == r.maddr_of(gpa + 0x3ff00008));
    // A piece of the 1G page that is not RAM is reported, not mapped.
    const fault_result nf = r.sh->handle_fault(big + 0x10000000, access_type::read_at(false));
    CHECK(nf.outcome == fault_outcome::no_machine_frame);
    CHECK(nf.gpa == gpa + 0x10000000);
    // invlpg anywhere in it drops all of it.
    r.gt.set_entry(r.cr3, big, 3, 0 /* unmapped */);
    CHECK(r.read(big + 0x3ff00008).ok);
    r.sh->invalidate_page(big + 0x2000);
    CHECK(pf_of(r.read(big + 0x3ff00008)) == 0);
    CHECK(pf_of(r.read(big + 0x2010, true)) == pf_error::user);

    // The same tables with 1 GiB pages hidden: PS in the PDPTE is reserved.
    r.gt.map(r.cr3, big, gpa, P | W | U, page_1g);
    paging_config no_gb;
    r.sh->set_config(no_gb);
    const cpu_outcome o = r.read(big + 0x2010, true);
    CHECK(o.outcome == fault_outcome::inject_pf);
    CHECK(pf_of(o) == (pf_error::present | pf_error::reserved | pf_error::user));
}

TEST_CASE("shadow: the user root holds only the guest's user mappings", "[shadow][user]")
{
    rig r;
    r.gt.map(r.cr3, user_va, 0x5000, P | W | U);
    r.gt.map(r.cr3, user_va + 0x1000, 0x6000, P | W);   // supervisor page in user range
    r.gt.map(r.cr3, high, 0x7000, P | W);               // kernel
    r.gt.map(r.cr3, high + 0x1000, 0x8000, P | W | U);  // "user" leaf under...
    r.gt.set_entry(r.cr3, high, 2, r.gt.entry(r.cr3, high, 2) & ~U);  // ...a supervisor PDE

    // The kernel touches everything (it may read user pages: SMAP is hidden).
    for (uint64_t va : {user_va, user_va + 0x1000, high, high + 0x1000})
        REQUIRE(r.write(va).ok);
    // The kernel root has all four plus the wedge's pages.
    auto kernel_guest_leaves = [&] {
        size_t n = 0;
        for (auto &[va, e] : r.m.leaves(r.m.kernel_root()))
            n += va < window && !(va >= wedge_image && va < wedge_image + page_2m);
        return n;
    };
    CHECK(kernel_guest_leaves() == 4);
    CHECK(r.m.leaves(r.m.user_root()).empty());
    // User mode: its own page works; supervisor pages #PF(U|P) although the kernel root
    // maps them.
    CHECK(r.write(user_va, true).maddr == r.maddr_of(0x5000));
    for (uint64_t va : {user_va + 0x1000, high, high + 0x1000}) {
        const cpu_outcome o = r.read(va, true);
        CHECK(o.outcome == fault_outcome::inject_pf);
        CHECK(pf_of(o) == (pf_error::present | pf_error::user));
    }
    // The user root's leaves: exactly the user page, nothing of the wedge either.
    const auto user_leaves = r.m.leaves(r.m.user_root());
    REQUIRE(user_leaves.size() == 1);
    CHECK(user_leaves[0].first == user_va);
    CHECK((user_leaves[0].second & pte::addr_mask) == r.maddr_of(0x5000));
    CHECK(r.m.translate(vcpu_page_va, access_type::read_at(true)).ok == false);
    // Each #PF dropped its address from both roots (one TLB serves both modes).
    CHECK(kernel_guest_leaves() == 1);
    // After CR3 loads and flushes the user root stays user-only.
    r.sh->load_cr3(r.cr3);
    CHECK(r.m.leaves(r.m.user_root()).empty());
}

TEST_CASE("shadow: CR0.WP=0 lets the kernel write read-only pages, never user mode", "[shadow][user]")
{
    rig r;
    r.gt.map(r.cr3, user_va, 0x5000, P | U);
    CHECK(pf_of(r.write(user_va)) == 3);
    paging_config cfg;
    cfg.wp = false;
    r.sh->set_config(cfg);
    CHECK(r.write(user_va).maddr == r.maddr_of(0x5000));
    CHECK((r.gt.entry(r.cr3, user_va, 1) & D) != 0);  // the CPU sets D on that write
    // The user root maps the same dirty page read-only.
    REQUIRE(r.read(user_va, true).ok);
    CHECK((r.sh->shadow_leaf(true, user_va) & (pte::present | pte::write)) == pte::present);
    CHECK((r.sh->shadow_leaf(false, user_va) & pte::write) != 0);
    CHECK(pf_of(r.write(user_va, true)) == 7);
    // WP back on: the writable kernel shadow must not survive.
    r.sh->set_config(paging_config{});
    CHECK(pf_of(r.write(user_va)) == 3);
}

TEST_CASE("shadow: the wedge's mappings are in every root and never overwritten", "[shadow][wedge]")
{
    rig r;
    auto wedge_ok = [&] {
        const machine_result v = r.m.translate(vcpu_page_va + 8, access_type::write_at(false));
        const machine_result s = r.m.translate(window, access_type::read_at(false));
        const machine_result i = r.m.translate(wedge_image, access_type::read_at(false));
        return v.ok && v.maddr == (((wedge_data_mfn + 1) << 12) | 8) && s.ok && s.maddr == (wedge_data_mfn << 12) &&
               i.ok && i.maddr == ((wedge_data_mfn + 2) << 12);
    };
    REQUIRE(wedge_ok());
    // The wedge's entry stubs are read-only to everyone, the guest included.
    CHECK_FALSE(r.m.translate(window, access_type::write_at(false)).ok);

    // A guest that maps the window and its image's range (Linux's early high map does map
    // 0xffffffff80000000): reported at CR3 load, never shadowed.
    const uint64_t cr3_b = r.gt.new_table();
    r.gt.map(cr3_b, vcpu_page_va, 0x5000, P | W);
    r.gt.map(cr3_b, wedge_image, 0, P | W, page_2m);
    r.gt.map(cr3_b, low, 0x6000, P | W);
    const collision_report rep = r.sh->load_cr3(cr3_b);
    CHECK(rep.count == 2);
    CHECK(rep.first_va == vcpu_page_va);
    CHECK(wedge_ok());
    CHECK(r.read(low).ok);

    // A fault the guest takes in the wedge range (a write to the read-only stubs) where
    // the guest maps nothing: the guest's own view, #PF not-present.
    CHECK(pf_of(r.write(window + 0x40)) == pf_error::write);
    // Where the guest maps it: a collision, the wedge's page stays.
    r.gt.map(cr3_b, window, 0x7000, P | W);
    const fault_result f = r.sh->handle_fault(window, access_type::write_at(false));
    CHECK(f.outcome == fault_outcome::collision);
    CHECK(f.gpa == 0x7000);
    CHECK((r.gt.entry(cr3_b, window, 1) & (A | D)) == 0);  // no A/D for an unhonoured mapping
    CHECK(wedge_ok());
    // invlpg of a wedge address: checked, reported, nothing dropped.
    CHECK(r.sh->invalidate_page(window).count == 1);
    CHECK(r.sh->invalidate_page(vcpu_page_va).count == 1);
    CHECK(wedge_ok());
    // Flushes keep the wedge too, and free everything else: 2 roots + 3 wedge path tables.
    r.sh->flush();
    CHECK(wedge_ok());
    CHECK(r.sh->stats().tables_in_use == 5);
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    r.sh->load_cr3(r.cr3);
    CHECK(wedge_ok());
    CHECK(r.sh->scan_collisions().count == 0);
    CHECK(r.m.refused == 0);
}

TEST_CASE("shadow: the wedge ranges can be put in the user root too", "[shadow][wedge]")
{
    rig r(256, paging_config{}, true);
    CHECK(r.m.translate(vcpu_page_va, access_type::read_at(true)).ok);
    r.sh->flush();
    CHECK(r.m.translate(vcpu_page_va, access_type::read_at(true)).ok);
}

TEST_CASE("shadow: Xen's reserved slots are never written and guest mappings there collide", "[shadow][wedge]")
{
    rig r;
    constexpr uint64_t in_hole = xen_hole + 0x1000;
    r.gt.map(r.cr3, in_hole, 0x5000, P | W);
    CHECK(r.sh->scan_collisions().count == 1);
    CHECK(r.sh->handle_fault(in_hole, access_type::read_at(false)).outcome == fault_outcome::collision);
    CHECK(r.m.refused == 0);  // the fake refuses any write to L4 slots 256-271
    // Right above the hole is the guest's (Linux's direct map).
    r.gt.map(r.cr3, xen_hole_end, 0x6000, P | W);
    CHECK(r.read(xen_hole_end).maddr == r.maddr_of(0x6000));
}

TEST_CASE("shadow: a small pool is reclaimed by flushing and stays correct", "[shadow][pool]")
{
    rig r(12);  // 2 roots + 3 wedge path tables + 7 for the guest
    REQUIRE(r.status == init_status::ok);
    // 16 pages in 16 different 1 GiB regions: each needs its own L3..L1 chain.
    for (uint64_t i = 0; i < 16; ++i)
        r.gt.map(r.cr3, (i + 1) << 30, (0x10 + i) << 12, P | W);
    for (int round = 0; round < 3; ++round)
        for (uint64_t i = 0; i < 16; ++i) {
            const cpu_outcome o = r.read(((i + 1) << 30) + 8 * i);
            REQUIRE(o.ok);
            CHECK(o.maddr == r.maddr_of(((0x10 + i) << 12) + 8 * i));
        }
    CHECK(r.sh->stats().pool_reclaims > 0);
    CHECK(r.m.nonzero_unreferenced_pool_frames() == 0);
    CHECK(r.m.refused == 0);
    // The wedge survives reclaims.
    CHECK(r.m.translate(vcpu_page_va, access_type::read_at(false)).ok);

    // A pool too small for the wedge's own paths is refused at init.
    rig tiny(4);
    CHECK(tiny.status == init_status::pool_too_small);
}

TEST_CASE("shadow: guest memory that is not RAM", "[shadow]")
{
    rig r;
    r.gt.map(r.cr3, low, 0xfee00000, P | W | pte::pcd);  // the xAPIC page
    const fault_result f = r.sh->handle_fault(low + 0x300, access_type::write_at(false));
    CHECK(f.outcome == fault_outcome::no_machine_frame);
    CHECK(f.gpa == 0xfee00300);
    r.gt.set_entry(r.cr3, low, 2, 0x7ff00000 | P | W);
    const fault_result t = r.sh->handle_fault(low, access_type::read_at(false));
    CHECK(t.outcome == fault_outcome::table_unreadable);
}

TEST_CASE("shadow: init validates the pool and the ranges", "[shadow]")
{
    fake_machine m;
    std::vector<pool_frame> pool;
    for (uint64_t i = 0; i < 8; ++i) {
        m.add_pool_frame(pool_base_mfn + i);
        pool.push_back(pool_frame{m.frame(pool_base_mfn + i).data(), pool_base_mfn + i});
    }
    auto sh = std::make_unique<shadow_mmu>(m, m);
    shadow_setup s;
    s.frames = pool.data();
    s.frame_count = pool.size();
    CHECK(sh->init(s, paging_config{}) == init_status::ok);
    CHECK(sh->activate());

    auto dup = pool;
    dup[3].mfn = dup[5].mfn;
    s.frames = dup.data();
    CHECK(sh->init(s, paging_config{}) == init_status::bad_pool);

    s.frames = pool.data();
    m.frame(pool_base_mfn + 7)[3] = 1;  // not zero
    auto sh2 = std::make_unique<shadow_mmu>(m, m);
    CHECK(sh2->init(s, paging_config{}) == init_status::bad_pool);
    m.frame(pool_base_mfn + 7)[3] = 0;

    uint64_t l1[1] = {0};
    wedge_range bad{window + 0x1000, 0, l1, false};
    s.wedge = &bad;
    s.wedge_count = 1;
    auto sh3 = std::make_unique<shadow_mmu>(m, m);
    CHECK(sh3->init(s, paging_config{}) == init_status::bad_range);
}

TEST_CASE("shadow: a prefill shadows what a walk setting nothing gives, and only that", "[shadow][prefill]")
{
    rig r;
    auto accessed_path = [&](uint64_t va) {
        for (int level = 4; level >= 2; --level)
            r.gt.set_entry(r.cr3, va, level, r.gt.entry(r.cr3, va, level) | A);
    };

    // Not present: nothing is shadowed, the access faults as before.
    CHECK_FALSE(r.sh->prefill(user_va, true));
    CHECK(r.sh->shadow_leaf(true, user_va) == 0);

    // Present, writable, A and D in the leaf but not on the path: the CPU would set A there.
    r.gt.map(r.cr3, user_va, 0x5000, P | W | U | A | D);
    CHECK_FALSE(r.sh->prefill(user_va, true));
    CHECK(r.sh->shadow_leaf(true, user_va) == 0);
    CHECK((r.gt.entry(r.cr3, user_va, 2) & A) == 0);

    // A everywhere: the user root gets the writable leaf, and the user's write takes no fault.
    accessed_path(user_va);
    REQUIRE(r.sh->prefill(user_va, true));
    CHECK((r.sh->shadow_leaf(true, user_va) & pte::write) != 0);
    CHECK(r.sh->shadow_leaf(false, user_va) == 0);  // the other root is left alone
    cpu_outcome o = r.write(user_va + 8, true);
    REQUIRE(o.ok);
    CHECK(o.faults == 0);
    CHECK(o.maddr == r.maddr_of(0x5008));
    CHECK(r.sh->stats().prefills == 1);

    // Without D the leaf is read-only: the first write still faults and sets D.
    r.gt.map(r.cr3, user_va + 0x1000, 0x6000, P | W | U | A);
    REQUIRE(r.sh->prefill(user_va + 0x1000, true));
    CHECK((r.sh->shadow_leaf(true, user_va + 0x1000) & pte::write) == 0);
    CHECK((r.gt.entry(r.cr3, user_va + 0x1000, 1) & D) == 0);
    CHECK(r.read(user_va + 0x1000, true).faults == 0);
    o = r.write(user_va + 0x1000, true);
    CHECK(o.faults == 1);
    CHECK((r.gt.entry(r.cr3, user_va + 0x1000, 1) & D) == D);

    // Leaf A clear: refused, and A stays clear until an access.
    r.gt.map(r.cr3, user_va + 0x2000, 0x7000, P | W | U);
    CHECK_FALSE(r.sh->prefill(user_va + 0x2000, true));
    CHECK((r.gt.entry(r.cr3, user_va + 0x2000, 1) & A) == 0);

    // Supervisor-only: never in the user root, but the kernel root may take it.
    r.gt.map(r.cr3, user_va + 0x3000, 0x8000, P | W | A | D);
    CHECK_FALSE(r.sh->prefill(user_va + 0x3000, true));
    CHECK(r.sh->shadow_leaf(true, user_va + 0x3000) == 0);
    CHECK(r.sh->prefill(user_va + 0x3000, false));
    CHECK(r.read(user_va + 0x3000).faults == 0);
    CHECK(pf_of(r.read(user_va + 0x3000, true)) == (pf_error::present | pf_error::user));

    // NX (with EFER.NXE) goes into the prefilled leaf.
    r.gt.map(r.cr3, user_va + 0x4000, 0x9000, P | U | A | NX);
    REQUIRE(r.sh->prefill(user_va + 0x4000, true));
    CHECK((r.sh->shadow_leaf(true, user_va + 0x4000) & pte::nx) != 0);
    CHECK(pf_of(r.fetch(user_va + 0x4000, true)) == (pf_error::present | pf_error::user | pf_error::fetch));

    // The wedge's and Xen's addresses are never prefilled from the guest's tables.
    r.gt.map(r.cr3, window, 0xa000, P | W | U | A | D);
    CHECK_FALSE(r.sh->prefill(window, false));
    CHECK_FALSE(r.sh->prefill(xen_hole, false));

    // A prefilled leaf is a TLB entry like any: gone at invlpg, the new mapping is seen.
    r.gt.set_entry(r.cr3, user_va, 1, 0xb000 | P | U | A);
    CHECK(r.read(user_va, true).maddr == r.maddr_of(0x5000));
    r.sh->invalidate_page(user_va);
    CHECK(r.read(user_va, true).maddr == r.maddr_of(0xb000));
}

TEST_CASE("shadow: the prefill after a reflected #PF reads only the L1 entry, until a sync point", "[shadow][prefill]")
{
    // The guest's handler fills the absent L1 entry; the prefill on its way back to user mode
    // takes the path above from the trap's walk, as a paging-structure cache may.
    rig r;
    auto user_path = [&](uint64_t va) {
        r.gt.map(r.cr3, va, 0x5000, P | W | U | A | D);
        for (int level = 4; level >= 2; --level)
            r.gt.set_entry(r.cr3, va, level, r.gt.entry(r.cr3, va, level) | A);
    };
    constexpr uint64_t va = user_va + 0x3000;
    user_path(user_va);  // the path to user_va's L1, which va shares
    REQUIRE(r.read(user_va, true).ok);

    // Reflected, then mapped by the guest: one read of guest memory.
    CHECK(pf_of(r.read(va, true)) == pf_error::user);
    r.gt.set_entry(r.cr3, va, 1, 0x6000 | P | W | U | A | D);
    uint64_t reads = r.m.reads;
    REQUIRE(r.sh->prefill(va, true));
    CHECK(r.m.reads - reads == 1);
    CHECK(r.read(va, true).maddr == r.maddr_of(0x6000));
    // Once: a second prefill walks.
    r.sh->invalidate_page(va);
    reads = r.m.reads;
    REQUIRE(r.sh->prefill(va, true));
    CHECK(r.m.reads - reads == 4);

    // Still absent when the prefill comes: nothing.
    constexpr uint64_t va2 = user_va + 0x4000;
    CHECK(pf_of(r.read(va2, true)) == pf_error::user);
    CHECK_FALSE(r.sh->prefill(va2, true));
    CHECK(r.sh->shadow_leaf(true, va2) == 0);

    // A sync point between the fault and the prefill forgets the note: the prefill walks, and
    // sees an upper entry the guest changed (here unmapped at L2).
    constexpr uint64_t va3 = user_va + 0x5000;
    CHECK(pf_of(r.read(va3, true)) == pf_error::user);
    r.gt.set_entry(r.cr3, va3, 1, 0x7000 | P | W | U | A | D);
    const uint64_t l2 = r.gt.entry(r.cr3, va3, 2);
    r.gt.set_entry(r.cr3, va3, 2, 0);
    r.sh->invalidate_page(va3);
    CHECK_FALSE(r.sh->prefill(va3, true));
    r.gt.set_entry(r.cr3, va3, 2, l2);
    // A supervisor-only L1 entry: a user read would fault, so no leaf for the user root.
    CHECK(pf_of(r.read(va3 + 0x1000, true)) == pf_error::user);
    r.gt.set_entry(r.cr3, va3 + 0x1000, 1, 0x8000 | P | W | A | D);
    CHECK_FALSE(r.sh->prefill(va3 + 0x1000, true));
    CHECK(r.m.refused == 0);
}
