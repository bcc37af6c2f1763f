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
            for (uint64_t va = l.vaddr & ~0xfffull; va < l.vaddr + l.memsz; va += 0x1000) prefill(va);
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
