#include "return_chain.h"

#include "afterburn/site_kind.h"
#include "entry_decode.h"
#include "guest_code.h"
#include "guest_platform.h"
#include "guest_sites.h"

namespace xw {

constinit kept_chain g_kept_chains[kept_chains]{};

namespace {

constexpr unsigned max_steps = 16;

return_chain follow(uint64_t at) {
    return_chain out;
    const wedge::site_table &sites = guest_sites();
    for (unsigned step = 0; step < max_steps; ++step) {
        if (const wedge::site *t = sites.find_by_insn(at)) {
            // The CPU runs the site's call: the chain ends at an iretq site written as a call
            // (a 64-bit one: the fused return handles no other, user_return_fast_path.cpp).
            if (t->start == at && t->rewritten && !t->position_independent &&
                t->rec.kind == static_cast<uint8_t>(afterburn::site_kind::iret) &&
                afterburn::annotation::operand_bits(t->rec.flags) == 64)
                out.iret = t;
            return out;
        }
        uint8_t b[16];
        if (!read_guest_code(at, b, sizeof b)) return out;
        if (b[0] == 0xeb) {  // jmp rel8
            at = at + 2 + static_cast<int8_t>(b[1]);
            continue;
        }
        if (b[0] == 0xe9) {  // jmp rel32
            at = at + 5 + static_cast<int32_t>(b[1] | b[2] << 8 | b[3] << 16 | static_cast<uint32_t>(b[4]) << 24);
            continue;
        }
        // Linux's ESPFIX check: testb $4, 0x20(%rsp) (the frame's SS, TI bit); jnz to the LDT
        // exit. Not taken while SS names the GDT, which the caller checks in the frame.
        if (b[0] == 0xf6 && b[1] == 0x44 && b[2] == 0x24 && b[3] == 0x20 && b[4] == 0x04 && !out.ss_test) {
            if (b[5] == 0x75) {
                out.ss_test = true;
                at += 7;
                continue;
            }
            if (b[5] == 0x0f && b[6] == 0x85) {
                out.ss_test = true;
                at += 11;
                continue;
            }
            return out;
        }
        if (unsigned n = nop_length(b)) {
            at += n;
            continue;
        }
        return out;
    }
    return out;
}

} // namespace

return_chain return_chain_of(const wedge::site &s, uint64_t ret) {
    kept_chain &e = kept_chain_slot(ret);
    if (e.ret != ret || e.swapgs != &s) e = {ret, &s, follow(ret)};
    return e.chain;
}

} // namespace xw
