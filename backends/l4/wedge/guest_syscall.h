// A ring-3 `syscall` of the guest, which fix 0019 sends to the wedge as #UD at the instruction
// (docs/l4-backend.md, "Ring-3 code"): the CPU's syscall entry made on the vCPU.
#pragma once

#include "wedge/backend.h"
#include "wedge/frame.h"
#include "wedge/vcpu.h"

namespace lw {

// f is the guest's frame at the instruction: on return, at LSTAR in ring 0 (RCX the next
// instruction, R11 the flags, CS/SS from STAR, FMASK's flags cleared), or at the #UD the CPU
// raises when EFER.SCE is clear. False only when that #UD cannot be delivered.
bool enter_guest_syscall(afterburn::wedge::vcpu &c, afterburn::wedge::frame &f, afterburn::wedge::backend &be);

} // namespace lw
