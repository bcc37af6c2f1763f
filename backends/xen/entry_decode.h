// The few instruction shapes the wedge reads in Linux's entry and exit code, decoded from raw
// bytes (no Xen, no guest memory: the host tests run it). What a shape does to the stack
// matters, not its operands: the walks in return_chain.cpp and gs_free_entry.cpp follow
// straight-line code and give up at anything else.
#pragma once

#include <stdint.h>

namespace xw {

// The length of a NOP the rewriter or Linux's NOP optimizer writes (90, 66 90, 0f 1f /0 with
// 66/2e prefixes), or 0.
unsigned nop_length(const uint8_t *b);

enum class entry_step_kind : uint8_t {
    unknown,      // anything else: the walk gives up
    plain,        // touches neither memory through a segment override nor %rsp (nop, cld, a fence, xor r,r, load from (%rsp))
    push,         // push of a register or an immediate: 8 bytes below %rsp
    call,         // call rel32: pushes 8 bytes and goes on at `target`
    jump,         // jmp rel8/rel32: goes on at `target`
    store_rsp,    // mov r64, disp8(%rsp): writes 8 bytes at %rsp + disp
    test_rpl_je,  // testb $3, disp(%rsp) and the je right after it: falls through when the byte's low bits are not 0
};

struct entry_step {
    entry_step_kind kind = entry_step_kind::unknown;
    uint8_t length = 0;   // bytes, the je included for test_rpl_je
    int32_t disp = 0;     // store_rsp, test_rpl_je: the displacement from %rsp
    int64_t target = 0;   // call, jump: relative to the instruction's end
};

// One instruction at `b` (16 readable bytes).
entry_step decode_entry_step(const uint8_t *b);

} // namespace xw
