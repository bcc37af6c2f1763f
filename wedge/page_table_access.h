// A page-table site (page_table_store/_load, docs/annotation-format.md "Page-table sites")
// performed by the wedge instead of the CPU: the base of direct paging, where every entry the
// guest writes or reads must pass through the wedge (docs/xen-backend.md, "Page-table sites").
//
// The record gives the operands (memory operand, value register, immediate, width, access form,
// rep), not the operation: `mov` and `and` have the same fields. So at rewrite time, while the
// original bytes are at hand, describe() reads the opcode once (after the prefixes; the ModRM
// reg field for the group opcodes; a block call's target) and keeps the operation and the
// displacement in the site; what it cannot emulate exactly is refused with a reason, never
// left native. At run time emulate_page_table() needs only that description, the saved
// registers and a page_table_memory. Freestanding.
#pragma once

#include <stdint.h>

#include "afterburn/annotation.h"
#include "wedge/emulate.h"
#include "wedge/frame.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

class page_table_memory;

enum class pt_op : uint8_t {
    none,
    // form 0, one memory operand
    mov_load,   // mov (mem), reg
    mov_store,  // mov reg/imm, (mem)
    movzx,      // movzx/movzbl/movzwl (mem), reg
    movsx,      // movsx/movsxd (mem), reg
    add, or_, and_, sub, xor_,  // reg/imm op (mem) -> (mem), or (mem) op reg -> reg (to_register)
    cmp, test,  // flags only
    xchg, cmpxchg,
    bt, bts, btr, btc,
    // form 1, string
    movs, stos,
    // form 2, block call (the SysV arguments rdi, rsi, rdx)
    memcpy, memmove, memset,
};

// What describe() found; kept per site (wedge/site_table.h) in 3 bytes. The displacement
// stays in the instruction's bytes (the site keeps the original ones).
struct page_table_access {
    pt_op op = pt_op::none;
    uint8_t reg_bits = 0;           // width of the register written by mov_load/movzx/movsx/...
    bool to_register : 1 = false;   // ALU/cmp: the register is the destination operand
    bool immediate : 1 = false;     // the source is the record's imm (else its register)
    bool tail : 1 = false;          // block call reached by `jmp`: return to the caller's caller
};
static_assert(sizeof(page_table_access) == 3);

// Where the guest's block functions are (0: unknown, a call there is refused).
struct block_functions {
    uint64_t memcpy = 0, memmove = 0, memset = 0;
};

// Reads the operation of the page-table site whose original instruction bytes are `insn`
// (rec.insn_len of them) at `site_addr`. Returns null and fills `out`, or the reason the wedge
// cannot perform this instruction exactly.
const char *describe_page_table_site(const annotation::site_record &rec, const uint8_t *insn, uint64_t site_addr,
                                     const block_functions &fns, page_table_access &out);

// Performs the access against the registers in `f` (rip is ignored) through `mem`, with the
// displacement read from the original instruction bytes `insn` (at the record's offset); the
// guest goes on at `resume_at` (the span's end or the call's return), or at the caller of a
// tail call (action::transfer). A fault leaves registers and memory as the CPU would at that
// point (rep: the iterations done so far) and f.rip at the site.
emulation emulate_page_table(const page_table_access &a, const annotation::site_record &rec, const uint8_t *insn,
                             uint64_t site_addr, uint64_t resume_at, vcpu &cpu, frame &f, page_table_memory &mem);

} // namespace afterburn::wedge
