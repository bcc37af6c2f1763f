// Linux's entry from user mode runs ~30 instructions (pushes, register clears, the test of the
// frame's CS) before its swapgs, none of them using %gs. Delivered there with the user's GS
// base active, the guest kernel would have Xen's kernel GS slot written with it
// (HYPERVISOR_set_segment_base) and, one swapgs later, written back: two hypercalls per user
// exception or interrupt. When the code from the resume point provably reaches a swapgs site
// without touching %gs, the kernel slot may keep the kernel's base: nothing reads it before
// the swapgs, whose entry into the wedge syncs the slot again (and finds it right).
#pragma once

#include <stdint.h>

namespace xw {

// Linux's asm_load_gs_index (every context switch) is `swapgs; mov %edi, %gs; swapgs`: the
// same holds from each of its sites to the next, where all three wrote the slot.
//
// True when guest kernel code at `rip` with stack `rsp` reaches a rewritten swapgs or segment
// load site
// running only instructions that use no segment override and no %gs (entry_decode.h's plain,
// push, call, jump, store to the stack), the CS test on the way falling through (its byte read
// from the stack now, not written on the way). The walk of the code is done once per rip and
// kept (Linux patches its entry code only before it first enters user mode).
bool gs_unused_until_swapgs(uint64_t rip, uint64_t rsp);

} // namespace xw
