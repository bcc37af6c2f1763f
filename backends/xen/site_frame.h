// The guest's registers as the entry window's stubs save them on the wedge's site stack
// (site_stack.S.h, for window.S and page_table_fast_path.S), and where the guest's rsp was: what a rewritten site's entry
// starts from (site_entry.cpp, and the swapgs entry's fused return, user_return_fast_path.h).
#pragma once

#include <stdint.h>

namespace xw {

// Low to high: what site_stack.S.h pushes after the pushfq, the registers a C++ call may clobber
// first (SITE_ENTER_STACK), then the callee-saved ones, whose slots the swapgs entry fills
// only when its fused return declines (swapgs_fused_return).
struct site_frame {
    uint64_t rbx, rbp, r12, r13, r14, r15;
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t rflags;
};
static_assert(sizeof(site_frame) == 16 * 8, "site_stack.S.h: 6 + 9 registers above rflags");

// A saved register by its hardware number (0 rax .. 15 r15), by name, so that no reader
// depends on the order above. rsp is not in the frame (the guest's is wedge_site_guest_rsp):
// callers never ask for it, and doing so stops the wedge at once.
inline uint64_t &site_frame_gpr(site_frame &f, unsigned n) {
    switch (n) {
    case 0: return f.rax;
    case 1: return f.rcx;
    case 2: return f.rdx;
    case 3: return f.rbx;
    case 5: return f.rbp;
    case 6: return f.rsi;
    case 7: return f.rdi;
    case 8: return f.r8;
    case 9: return f.r9;
    case 10: return f.r10;
    case 11: return f.r11;
    case 12: return f.r12;
    case 13: return f.r13;
    case 14: return f.r14;
    case 15: return f.r15;
    default: __builtin_trap();
    }
}

} // namespace xw

extern "C" {
extern uint64_t wedge_site_guest_rsp;  // window.S: the guest's rsp at the entry stub (kind, return address)
[[noreturn]] void site_dispatch(xw::site_frame *f);
}
