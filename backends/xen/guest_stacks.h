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
// stack (Linux invalidates fixmap and ioremap pages by the thousand at boot).
void stack_page_forgotten(uint64_t va);

// Before a return into guest kernel mode with this rsp.
void ensure_stack_mapped(uint64_t rsp);
// Its first part: the stacks kept across flushes, filled again if the shadow forgot them.
void refill_forgotten_stacks();

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
inline void note_user_stack(uint64_t rsp) {
    const user_stack_seen &s = g_user_stack_seen;
    if (((rsp - 8) & s.page_mask) == s.page && *s.current_forgets == s.forgets) return;
    note_new_user_stack(rsp);
}

} // namespace xw
