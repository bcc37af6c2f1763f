// Trap-and-emulate fallback (docs/xen-backend.md, "Unannotated instructions"): a #GP/#UD in
// guest code at an instruction that has no record. Under Xen PV the guest kernel runs in ring
// 3, so a privileged instruction Xen does not emulate for us faults here; the wedge decodes
// it with the rewriter's sensitive_decoder (the fields of a record), builds the record and
// runs it through the core exactly like an annotated site: the guest continues right after
// the instruction (there is no padding).
#pragma once

#include <stdint.h>

#include "traps.h"

namespace xw {

// Does not return if the instruction at f->rip is sensitive; returns if it is not (then the
// exception is the guest's own and is delivered).
void try_fallback(const trap_frame *f, bool from_user);

} // namespace xw
