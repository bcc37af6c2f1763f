// The guest's registers as the entry window's stubs save them on the wedge's site stack
// (window.S: wedge_site_entry), and where the guest's rsp was: what a rewritten site's entry
// starts from (site_entry.cpp, and the swapgs entry's fused return, user_return_fast_path.h).
#pragma once

#include <stdint.h>

namespace xw {

// Low to high: what window.S pushes after the pushfq, the registers a C++ call may clobber
// first (SITE_PUSH_CALLER), then the callee-saved ones, whose slots the swapgs entry fills
// only when its fused return declines (swapgs_fused_return).
struct site_frame {
    uint64_t rbx, rbp, r12, r13, r14, r15;
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t rflags;
};
static_assert(sizeof(site_frame) == 16 * 8, "window.S: 6 + 9 registers above rflags");

} // namespace xw

extern "C" {
extern uint64_t wedge_site_guest_rsp;  // window.S: the guest's rsp at the entry stub (kind, return address)
[[noreturn]] void site_dispatch(xw::site_frame *f);
}
