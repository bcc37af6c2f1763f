// The guest's registers as the entry window's stubs save them on the wedge's site stack
// (window.S: wedge_site_entry), and where the guest's rsp was: what a rewritten site's entry
// starts from (site_entry.cpp, and the swapgs entry's fused return, user_return_fast_path.h).
#pragma once

#include <stdint.h>

namespace xw {

// Low to high: WEDGE_PUSH_GPRS's order above the pushfq.
struct site_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t rflags;
};

} // namespace xw

extern "C" {
extern uint64_t wedge_site_guest_rsp;  // window.S: the guest's rsp at the entry stub (kind, return address)
[[noreturn]] void site_dispatch(xw::site_frame *f);
}
