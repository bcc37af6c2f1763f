// The retry of a user-mode #PF the guest kernel handled, filled before it happens: the
// guest's handler has just made the page present (Linux: an anonymous page, a copy-on-write
// copy), so on its way back to user mode the wedge shadows the faulting address, as a TLB
// may fill speculatively, and the user's retry runs without a second trip through Xen.
// docs/xen-backend.md, "Prefilling the retried page".
#pragma once

#include <stdint.h>

namespace xw {

// A user-mode #PF at `va` went to the guest kernel.
void note_user_fault_delivered(uint64_t va);

// The guest enters user mode (virtual CPL 3): shadow the noted address in the user root if
// the guest's tables give it without any A/D update; forget the note either way.
void prefill_user_fault();

} // namespace xw
