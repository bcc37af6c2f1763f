#include "guest_stacks.h"

#include "guest_platform.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "shadow_costs.h"

namespace xw {

namespace {

struct stack_fill {
    uint64_t generation = 1;         // bumped whenever the shadow forgets
    uint64_t filled_generation = 0;  // the generation the writable image pages were filled in
    uint64_t user_pages[4] = {~0ull, ~0ull, ~0ull, ~0ull};
    unsigned user_next = 0;
    bool user_refill = false;  // the user half was forgotten: refill user_pages
    // The kernel stacks the guest ran on lately (16 KiB blocks, the usual x86-64 kernel stack
    // size and alignment): a guest switches stacks without a site (Linux's __switch_to_asm
    // loads the next task's rsp and pops), so those stacks are kept in the shadow across
    // flushes too.
    static constexpr unsigned kernel_stacks = 32;
    uint64_t kernel_blocks[kernel_stacks] = {};
    unsigned kernel_next = 0;
};
constinit stack_fill g_fill{};
constexpr uint64_t no_forgets = 0;  // direct paging's forget count
constexpr uint64_t user_half_end = 0x0000800000000000ull;
constexpr uint64_t cr3_root_mask = 0x000ffffffffff000ull;  // the root frame's address in CR3

constexpr uint32_t pf_writable = 2;  // ELF PF_W
constexpr uint64_t stack_block = 16 * 1024;

bool prefill(uint64_t va);

void prefill_block(uint64_t block) {
    for (uint64_t p = block; p < block + stack_block; p += 0x1000) prefill(p);
}

// The stacks the guest's TSS names (RSP0-2, IST1-7): Linux returns to user mode through its
// entry stack (TSS.RSP0, in the cpu_entry_area), switching to it without a site.
void prefill_tss_stacks() {
    const wedge::vcpu &c = cpu();
    if (!c.tr.usable || c.tr.limit < 0x67) return;
    uint8_t tss[0x68];
    wedge::page_fault pf;
    if (!platform().be.read(c.tr.base, tss, sizeof tss, wedge::access_mode::supervisor, pf)) return;
    auto top = [&](unsigned off) {
        uint64_t v;
        __builtin_memcpy(&v, tss + off, 8);
        if (v) {
            prefill((v - 8) & ~0xfffull);
            prefill((v - 8 - 0x1000) & ~0xfffull);
        }
    };
    for (unsigned off = 4; off <= 20; off += 8) top(off);
    for (unsigned i = 0; i < 7; ++i) top(0x24 + 8 * i);
}

void note_kernel_stack(uint64_t rsp) {
    uint64_t block = (rsp - 8) & ~(stack_block - 1);
    for (uint64_t b : g_fill.kernel_blocks)
        if (b == block) return;
    g_fill.kernel_blocks[g_fill.kernel_next++ % stack_fill::kernel_stacks] = block;
    prefill_block(block);
}

// A page the kernel root already maps present and writable needs no fill: that entry is what
// the guest's tables gave, kept until the guest flushes it (as a TLB keeps a translation), and
// a fill walks the guest's tables again through the temporary slots (~2,500 instructions; the
// user stack is noted on every way in from user mode). True: the kernel root now maps the page
// present and writable (a fill for a write installs a writable leaf or none).
bool prefill(uint64_t va) {
    if (direct_active()) return false;  // Xen runs the guest's own tables: nothing to fill
    constexpr uint64_t present_writable = 3;  // P, R/W
    if ((shadow().shadow_leaf(false, va) & present_writable) == present_writable) return true;
    return shadow().handle_fault(va, xs::access_type{true, false, false}).outcome == xs::fault_outcome::fixed;
}

} // namespace

// Initially no page (the mask keeps the low bits, which a page address never has set).
constinit user_stack_seen g_user_stack_seen{~0xfffull, ~0ull, 0, &no_forgets};
// Initially no pair (~0 is no page address).
constinit kernel_stacks_filled g_kernel_stacks{{~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull},
                                               {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull},
                                               0, &no_forgets, 0, 0, true, false};

namespace {

// The guest root g_user_stack_seen.page was filled under, and the pages found filled under
// roots as they were left (user_stack_leaving), each good only for the next load of its root.
constexpr uint64_t no_root = ~0ull;
struct left_stack {
    uint64_t root = no_root, page = ~0ull;
};
constexpr unsigned left_stacks = 4;
constinit uint64_t g_seen_root = no_root;
constinit left_stack g_left[left_stacks]{};
constinit unsigned g_left_next = 0;

void forget_left_stacks() {
    for (left_stack &l : g_left) l = {};
}

void forget_kernel_stack_pairs() {
    kernel_stacks_filled &k = g_kernel_stacks;
    for (unsigned i = 0; i < kernel_stacks_filled::size; ++i) k.lo[i] = k.hi[i] = ~0ull;
}

void note_refill_due() {
    g_kernel_stacks.refill_due = g_fill.filled_generation != g_fill.generation || g_fill.user_refill;
}

} // namespace

void stacks_forgotten() {
    ++g_fill.generation;
    forget_left_stacks();
    forget_kernel_stack_pairs();
    note_refill_due();
}

void user_stacks_forgotten() {
    for (uint64_t p : g_fill.user_pages)
        if (p != ~0ull) g_fill.user_refill = true;
    note_refill_due();
}

void kernel_half_kept(uint64_t forgets_before) {
    kernel_stacks_filled &k = g_kernel_stacks;
    if (k.forgets == forgets_before) k.forgets = *k.current_forgets;
}

void stack_page_forgotten(uint64_t va, uint64_t forgets_before) {
    constexpr uint64_t one_gib = 1ull << 30;  // the largest page an invlpg may drop
    const loaded_guest &g = *g_guest_run.guest;
    uint64_t lo = va & ~(one_gib - 1), hi = lo + one_gib;
    // The kernel stack pairs: an invlpg drops the page containing va, at most the 1 GiB around
    // it; one that dropped nothing of theirs leaves them filled.
    kernel_stacks_filled &k = g_kernel_stacks;
    bool near = false;
    for (unsigned i = 0; i < kernel_stacks_filled::size; ++i)
        near |= k.lo[i] - lo < one_gib || k.hi[i] - lo < one_gib;  // (no overflow at the top)
    if (!near && k.forgets == forgets_before) k.forgets = *k.current_forgets;
    for (unsigned i = 0; i < g.load_count; ++i) {
        const auto &l = g.loads[i];
        if ((l.flags & pf_writable) && l.vaddr < hi && l.vaddr + l.memsz > lo) {
            stacks_forgotten();
            return;
        }
    }
    // A kept user stack page: refill the user pages only. The whole refill (every writable
    // image page, the kernel stacks) cost ~355,000 instructions, and Linux invalidates user
    // pages near the stack on every fork (copy-on-write).
    for (uint64_t p : g_fill.user_pages)
        if (p != ~0ull && p >= lo && p < hi) g_fill.user_refill = true;
    note_refill_due();
}

void note_new_user_stack(uint64_t rsp) {
    user_stack_seen &seen = g_user_stack_seen;
    if (direct_active()) {  // Xen runs the guest's own tables: nothing to fill or keep, ever
        seen = {0, 0, 0, &no_forgets};
        return;
    }
    // A page other than the one last found filled, or the shadow dropped something since
    // (note_user_stack returned inline otherwise: that page is still filled, and among
    // user_pages, where the last call put it).
    uint64_t page = (rsp - 8) & ~0xfffull;
    const xs::shadow_mmu &sh = shadow();
    bool known = false;
    for (uint64_t p : g_fill.user_pages) known |= p == page;
    if (!known) g_fill.user_pages[g_fill.user_next++ % 4] = page;
    // Always: the page may have been absent when it was first seen (a stack that grew since,
    // a fresh exec), and the kernel's first site after the switch pushes onto it.
    bool filled = prefill(page);
    // The shadow (and so its count) stays where it is for the run.
    seen = {~0xfffull, filled ? page : ~0ull, sh.stats().forgets, &sh.stats().forgets};
    g_seen_root = sh.guest_cr3() & cr3_root_mask;
}

void user_stack_leaving(uint64_t from) {
    const user_stack_seen &seen = g_user_stack_seen;
    // Filled under `from` and nothing forgotten since: still filled in its space's kernel root.
    if (seen.page == ~0ull || g_seen_root != from || *seen.current_forgets != seen.forgets) return;
    for (left_stack &l : g_left)
        if (l.root == from) l = {};
    g_left[g_left_next++ % left_stacks] = {from, seen.page};
}

void user_stack_back(uint64_t to, bool intact) {
    for (left_stack &l : g_left) {
        if (l.root != to) continue;
        const uint64_t page = l.page;
        l = {};  // good for this load only: the user half may change after it
        if (!intact) return;
        // The user half is as `to` left it, when the page was still filled: it still is.
        const xs::shadow_mmu &sh = shadow();
        g_user_stack_seen = {~0xfffull, page, sh.stats().forgets, &sh.stats().forgets};
        g_seen_root = to;
        return;
    }
}

namespace {

// The stacks kept across flushes (the image's writable pages, the last user and kernel stacks,
// the TSS stacks), filled again if the shadow forgot them.
void refill_kept_stacks() {
    if (g_fill.filled_generation != g_fill.generation) {
        const loaded_guest &g = *g_guest_run.guest;
        for (unsigned i = 0; i < g.load_count; ++i) {
            const auto &l = g.loads[i];
            if (!(l.flags & pf_writable)) continue;
            for (uint64_t va = l.vaddr & ~0xfffull; va < l.vaddr + l.memsz; va += 0x1000) {
                prefill(va);
                // Linux's head code runs on init_task's stack at its physical alias (the first
                // fill only: once the guest loads its own tables it has left the alias).
                if (g.head_hi && g_fill.filled_generation == 0) prefill(va - g.virt_minus_phys);
            }
        }
        for (uint64_t p : g_fill.user_pages)
            if (p != ~0ull) prefill(p);
        for (uint64_t b : g_fill.kernel_blocks)
            if (b) prefill_block(b);
        prefill_tss_stacks();
        g_fill.filled_generation = g_fill.generation;
    }
    if (g_fill.user_refill) {
        g_fill.user_refill = false;
        for (uint64_t p : g_fill.user_pages)
            if (p != ~0ull) prefill(p);
    }
    note_refill_due();
}

// The pages under a kernel rsp the guest is about to run on. A kernel-half pair found filled
// with no forget in between is noted (kernel_stacks_filled); a user-half rsp (the guest
// kernel's first instructions of a system call) is filled every time.
void fill_stack_under(uint64_t rsp) {
    const uint64_t lo = (rsp - 1024) & ~0xfffull, hi = (rsp - 8) & ~0xfffull;
    kernel_stacks_filled &k = g_kernel_stacks;
    const uint64_t forgets = shadow().stats().forgets;
    note_kernel_stack(rsp);
    bool filled = prefill(lo);
    if (hi != lo) filled &= prefill(hi);
    if (!filled || lo < user_half_end || shadow().stats().forgets != forgets) return;
    k.current_forgets = &shadow().stats().forgets;  // the shadow stays where it is for the run
    if (k.forgets != forgets) {
        forget_kernel_stack_pairs();
        k.forgets = forgets;
    }
    const unsigned i = k.next++ % kernel_stacks_filled::size;
    k.lo[i] = lo;
    k.hi[i] = hi;
    k.last = i;
}

// A fill that found the pool full may have flushed everything filled before it: again.
template <typename Fill> void fill_until_stable(Fill fill) {
    if (direct_active()) return;
    for (int pass = 0; pass < 3; ++pass) {
        const uint64_t flushes = shadow().stats().flushes;
        fill();
        if (shadow().stats().flushes == flushes) return;
        stacks_forgotten();
    }
}

} // namespace

void refill_kept_stacks_now() {
    if (direct_active()) {  // Xen runs the guest's own tables: nothing to refill, ever
        g_fill.filled_generation = g_fill.generation;
        g_fill.user_refill = false;
        note_refill_due();
        return;
    }
    cost_scope t(shadow_phase::stack_refill);
    fill_until_stable([] { refill_kept_stacks(); });
}

void fill_stack_mapping(uint64_t rsp) {
    if (direct_active()) {  // Xen runs the guest's own tables: nothing to fill, ever
        g_kernel_stacks.nothing_to_fill = true;
        return;
    }
    cost_scope t(shadow_phase::stack_refill);
    fill_until_stable([rsp] {
        refill_kept_stacks();
        fill_stack_under(rsp);
    });
}

} // namespace xw
