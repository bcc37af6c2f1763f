#include "guest_stacks.h"

#include "guest_platform.h"
#include "pv_shadow.h"

namespace xw {

namespace {

struct StackFill {
    uint64_t generation = 1;         // bumped whenever the shadow forgets
    uint64_t filled_generation = 0;  // the generation the writable image pages were filled in
    uint64_t filled_stack = ~0ull;   // the lowest page filled under the kernel rsp
    uint64_t user_pages[4] = {~0ull, ~0ull, ~0ull, ~0ull};
    unsigned user_next = 0;
};
constinit StackFill g_fill{};

constexpr uint32_t kPfWritable = 2;  // ELF PF_W

void prefill(uint64_t va) { shadow().handle_fault(va, xs::access_type{true, false, false}); }

} // namespace

void stacks_forgotten() { ++g_fill.generation; }

void stack_page_forgotten(uint64_t va) {
    constexpr uint64_t k1G = 1ull << 30;  // the largest page an invlpg may drop
    const LoadedGuest &g = *guest_run.guest;
    uint64_t lo = va & ~(k1G - 1), hi = lo + k1G;
    for (unsigned i = 0; i < g.load_count; ++i) {
        const auto &l = g.loads[i];
        if ((l.flags & kPfWritable) && l.vaddr < hi && l.vaddr + l.memsz > lo) {
            stacks_forgotten();
            return;
        }
    }
    for (uint64_t p : g_fill.user_pages)
        if (p != ~0ull && p >= lo && p < hi) {
            stacks_forgotten();
            return;
        }
    if (g_fill.filled_stack != ~0ull && g_fill.filled_stack >= lo && g_fill.filled_stack < hi)
        g_fill.filled_stack = ~0ull;  // refill under rsp on the way back
}

void note_user_stack(uint64_t rsp) {
    uint64_t page = (rsp - 8) & ~0xfffull;
    for (uint64_t p : g_fill.user_pages)
        if (p == page) return;
    g_fill.user_pages[g_fill.user_next++ % 4] = page;
    prefill(page);
}

void ensure_stack_mapped(uint64_t rsp) {
    if (g_fill.filled_generation != g_fill.generation) {
        const LoadedGuest &g = *guest_run.guest;
        for (unsigned i = 0; i < g.load_count; ++i) {
            const auto &l = g.loads[i];
            if (!(l.flags & kPfWritable)) continue;
            for (uint64_t va = l.vaddr & ~0xfffull; va < l.vaddr + l.memsz; va += 0x1000) {
                prefill(va);
                // Linux's head code runs on init_task's stack at its physical alias (the first
                // fill only: once the guest loads its own tables it has left the alias).
                if (g.head_hi && g_fill.filled_generation == 0) prefill(va - g.virt_minus_phys);
            }
        }
        for (uint64_t p : g_fill.user_pages)
            if (p != ~0ull) prefill(p);
        g_fill.filled_generation = g_fill.generation;
        g_fill.filled_stack = ~0ull;
    }
    uint64_t lo = (rsp - 1024) & ~0xfffull, hi = (rsp - 8) & ~0xfffull;
    if (lo == g_fill.filled_stack) return;
    prefill(lo);
    if (hi != lo) prefill(hi);
    g_fill.filled_stack = lo;
}

} // namespace xw
