// The MMUEXT operations of both paging modes (mmuext.h).
#include "mmuext.h"

#include "console.h"
#include "hypercall.h"

namespace xw {

bool mmuext_set_roots(uint64_t kernel_mfn, uint64_t user_mfn, const char *who) {
    mmuext_op_t ops[2]{};
    ops[0].cmd = MMUEXT_NEW_BASEPTR;
    ops[0].arg1.mfn = kernel_mfn;
    ops[1].cmd = MMUEXT_NEW_USER_BASEPTR;
    ops[1].arg1.mfn = user_mfn;
    unsigned done = 0;
    long rc = mmuext_op(ops, 2, &done);
    if (rc || done != 2) print("xen-wedge: %s: new_baseptr/new_user_baseptr refused: %ld\n", who, rc);
    return rc == 0 && done == 2;
}

bool mmuext_on_frame(unsigned cmd, uint64_t mfn, const char *what, const char *who) {
    mmuext_op_t o{};
    o.cmd = cmd;
    o.arg1.mfn = mfn;
    unsigned done = 0;
    long rc = mmuext_op(&o, 1, &done);
    if (rc) print("xen-wedge: %s: %s of mfn 0x%lx refused: %ld\n", who, what, mfn, rc);
    return rc == 0;
}

void mmuext_invalidate_page(uint64_t va) {
    mmuext_op_t o{};
    o.cmd = MMUEXT_INVLPG_LOCAL;
    o.arg1.linear_addr = va;
    unsigned done = 0;
    mmuext_op(&o, 1, &done);
}

void mmuext_flush_tlb() {
    mmuext_op_t o{};
    o.cmd = MMUEXT_TLB_FLUSH_LOCAL;
    unsigned done = 0;
    mmuext_op(&o, 1, &done);
}

} // namespace xw
