// The guest's stacks must be in the shadow before Xen needs them. Xen delivers an exception
// to a PV kernel by writing a bounce frame on the *current* stack. The guest runs in kernel
// mode on its own stack, so a fault whose bounce frame lands on a page the shadow has not
// filled yet kills the domain (Xen cannot fault while delivering). Hence the image's writable
// pages (where the sample guest's stacks live, .bss) are filled after every CR3 load, flush
// and invlpg (the shadow forgets them there, as a TLB does), and the pages under the current
// rsp before every return into the guest.
#pragma once

#include <stdint.h>

namespace xw {

// The shadow forgot mappings (CR3 load, flush, new walk rules).
void stacks_forgotten();
// Only the user half was forgotten (a CR3 load that kept the global kernel half).
void user_stacks_forgotten();
// The shadow forgot the page at `va` (invlpg; the whole large page if va lies in one): the
// stacks are refilled only if that can touch the image's writable pages or a kept user
// stack (Linux invalidates fixmap and ioremap pages by the thousand at boot). `forgets_before`:
// the shadow's forget count before that invlpg.
void stack_page_forgotten(uint64_t va, uint64_t forgets_before);

// What ensure_stack_mapped and refill_forgotten_stacks find to do without a call: every site
// of a process switch (the CR3 write, the segment and base writes of __switch_to) returns
// through them, each on the next task's kernel stack.
// - refill_due: the shadow forgot kept stacks (refill_kept_stacks has work).
// - pages: pairs of kernel-half pages (the two under `rsp - 1024` and `rsp - 8`, as
//   fill_stack_under fills them) found present and writable in the kernel root while the
//   shadow's forget count was `forgets`. The shadow says an entry the backend saw present stays
//   so while that count is unchanged (shadow_stats::forgets). Two things that move it are known
//   to leave the pairs alone, and the backend carries them over those: a kept CR3 load (it drops
//   user-half leaves only: kernel_half_kept) and an invlpg at least 1 GiB away from every pair
//   (stack_page_forgotten). Anything else (a pool reclaim, a #PF that dropped a leaf, a flush)
//   leaves the count moved: the pairs are then found again.
// Under direct paging (for the whole run once on) nothing is filled: the first call of
// fill_stack_mapping sets nothing_to_fill, and every check after it passes at once.
struct kernel_stacks_filled {
    static constexpr unsigned size = 8;
    uint64_t lo[size], hi[size];
    uint64_t forgets;
    const uint64_t *current_forgets;
    unsigned next, last;  // the slot the next pair takes; the pair found last
    bool refill_due;
    bool nothing_to_fill;
};
extern kernel_stacks_filled g_kernel_stacks;

// The pair found last is looked at first: a switch's sites all run on the next task's stack.
inline bool kernel_stack_filled(uint64_t rsp) {
    kernel_stacks_filled &k = g_kernel_stacks;
    if (k.nothing_to_fill) return true;
    if (k.refill_due || *k.current_forgets != k.forgets) return false;
    const uint64_t lo = (rsp - 1024) & ~0xfffull, hi = (rsp - 8) & ~0xfffull;
    if (k.lo[k.last] == lo && k.hi[k.last] == hi) return true;
    for (unsigned i = 0; i < kernel_stacks_filled::size; ++i)
        if (k.lo[i] == lo && k.hi[i] == hi) {
            k.last = i;
            return true;
        }
    return false;
}

// Before a return into guest kernel mode with this rsp.
void fill_stack_mapping(uint64_t rsp);
inline void ensure_stack_mapped(uint64_t rsp) {
    if (!kernel_stack_filled(rsp)) fill_stack_mapping(rsp);
}
// Its first part: the stacks kept across flushes, filled again if the shadow forgot them.
void refill_kept_stacks_now();
inline void refill_forgotten_stacks() {
    if (g_kernel_stacks.refill_due) refill_kept_stacks_now();
}
// A CR3 load kept the kernel half (shadow_mmu::load_cr3's `kept`); `forgets_before`: the forget
// count right before it. The pairs found filled before stay valid (see above).
void kernel_half_kept(uint64_t forgets_before);

// The guest kernel switches to a *user* stack without a site too: Linux and the sample guest
// load the user rsp and then run the sysretq/iretq site, whose call pushes there in kernel
// mode. So the pages under the user rsp seen on each way in from user mode are kept filled in
// the kernel root as well (the last few distinct ones).
// Inline, the unchanged case (every system call of a process that loops): the page under rsp
// is the one last found filled and the shadow's forget count is what it was then. Under
// direct paging the mask is 0 and the count a constant: every page matches (nothing to fill).
struct user_stack_seen {
    uint64_t page_mask, page, forgets;
    const uint64_t *current_forgets;
};
extern user_stack_seen g_user_stack_seen;
void note_new_user_stack(uint64_t rsp);
// Around a kept CR3 load from guest root `from` to `to` (the root frames): the page noted for
// `from` is remembered when it is still filled as `from` is left, and given back when `to`'s
// user half comes back intact (shadow_mmu::user_half_intact: exactly as its root left it), so
// that a process switched back to does not fill its stack page again.
void user_stack_leaving(uint64_t from);
void user_stack_back(uint64_t to, bool intact);
inline void note_user_stack(uint64_t rsp) {
    const user_stack_seen &s = g_user_stack_seen;
    if (((rsp - 8) & s.page_mask) == s.page && *s.current_forgets == s.forgets) return;
    note_new_user_stack(rsp);
}

} // namespace xw
