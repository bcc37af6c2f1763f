// Where a swapgs leads: Linux's way back to user mode is `swapgs`, then a `jmp` or two (and,
// with ESPFIX, `testb $4, 0x20(%rsp); jnz`), then its `iretq` site. Those instructions between
// change nothing the iretq does not reload (flags), so the wedge may run the swapgs and the
// iretq in one entry (user_return_fast_path.h). The chain is read from the guest's code at the
// swapgs' first use and kept: Linux patches its entry code (alternatives) only before it first
// returns to user mode.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

struct return_chain {
    const afterburn::wedge::site *iret = nullptr;  // the iretq site the code reaches, or null
    // `testb $4, 0x20(%rsp); jnz`: the chain holds while the frame's SS has TI clear, as every
    // frame the fused return accepts has (it leaves an LDT selector to the core).
    bool ss_test = false;
};

// The chain from the swapgs site `s`, whose call returned to `ret` (the bytes from there are
// the rewriter's NOP fill, then the guest's code). Null iret: anything else on the way (another
// site, an unknown instruction, a taken branch we cannot judge, more than a few steps).
// Kept per return address: the caller has checked that `ret` is the return of `s`'s own call
// at its link address.
return_chain return_chain_of(const afterburn::wedge::site &s, uint64_t ret);

// A chain return_chain_of found and kept for `ret` (swapgs: its site): the fused return's way
// to skip the site lookup (user_return_fast_path.h). Direct-mapped by the return address
// (Linux 6.1 has 17 swapgs sites; a collision only costs the walk again).
struct kept_chain {
    uint64_t ret;
    const afterburn::wedge::site *swapgs;
    return_chain chain;
};
constexpr unsigned kept_chains = 64;  // a power of two
extern kept_chain g_kept_chains[kept_chains];
inline kept_chain &kept_chain_slot(uint64_t ret) { return g_kept_chains[(ret ^ (ret >> 8)) & (kept_chains - 1)]; }

// The chain kept for `ret` when it reaches an iretq site, or null. Inline: every system call
// returns through it. A slot with an iret was filled by return_chain_of (ret and its swapgs
// site with it); an empty one has ret 0, which no call returns to.
inline const kept_chain *iret_chain_of(uint64_t ret) {
    const kept_chain &e = kept_chain_slot(ret);
    return e.ret == ret && e.chain.iret ? &e : nullptr;
}

} // namespace xw
