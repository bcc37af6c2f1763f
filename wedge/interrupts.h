// Interrupt and exception delivery through the guest's IDT, as a 64-bit CPU does it, and
// strict virtual interrupts: deliver_pending() runs at every point the guest may have
// opened an interrupt window (after sti's shadow, popf, iretq, and on leaving every
// emulation path), so a pending interrupt is never held back longer than on hardware.
#pragma once

#include <stdint.h>

#include "wedge/backend.h"
#include "wedge/descriptor.h"
#include "wedge/event.h"
#include "wedge/frame.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

enum class delivery : uint8_t {
    delivered,  // the frame now runs the handler (possibly of a #DF or a nested fault)
    shutdown,   // triple fault: the guest is dead; the backend stops or resets it
};

// Delivers one event. For exceptions frame.rip is the faulting instruction (what is pushed);
// for software interrupts `ev.return_rip` is pushed; for external interrupts frame.rip.
// A fault while delivering (bad gate, #PF on the stack) is delivered instead, combined into
// #DF by the architectural rules; a fault while delivering #DF is a shutdown.
delivery deliver(vcpu &cpu, frame &f, const event &ev, backend &be);

// The steps of deliver() that a backend's fast delivery (the Xen wedge's user-mode exception,
// backends/xen/user_exception_fast_path.h) shares with it, so that both decide alike.

// An IDT gate's fields (the 16 bytes at IDTR.base + vector * 16).
struct idt_gate {
    uint64_t target;
    uint16_t cs;
    uint8_t type, dpl, ist;
    bool present;
};
idt_gate decode_idt_gate(const uint64_t raw[2]);

// The checks delivery makes of the handler's code segment descriptor at CPL `cpl`: ok, or the
// vector it raises (with selector_error(cs) | EXT).
enum class handler_code : uint8_t { ok, gp, np };
handler_code check_handler_code(const segment_descriptor &code, uint8_t cpl);

// The interrupt frame delivery pushes for `ev` interrupting `f` (error code, RIP, CS, RFLAGS,
// RSP, SS, lowest address first); returns how many words.
unsigned interrupt_frame_image(const vcpu &cpu, const frame &f, const event &ev, uint64_t image[6]);

// The vCPU and frame once the frame is written at `new_rsp`: the handler at `target` with CS
// `cs` at `new_cpl`, TF/NT/RF cleared, IF cleared through an interrupt gate, SS null on a
// privilege change. Returns whether the privilege changed (the caller's state_changed).
bool enter_handler(vcpu &cpu, frame &f, uint64_t target, uint16_t cs, uint8_t new_cpl, unsigned gate_type,
                   uint64_t new_rsp);

// Delivers pending interrupts while the virtual IF allows it and no interrupt shadow
// covers frame.rip (a trap gate leaves IF set, so a second one may nest at once). Returns
// how many were delivered; on a shutdown, `*dead` is set.
unsigned deliver_pending(vcpu &cpu, frame &f, backend &be, bool *dead = nullptr);

// The RFLAGS the guest sees (pushf, interrupt frames): its real arithmetic flags with the
// virtual IF and IOPL; RF and VM are never shown.
uint64_t visible_rflags(const vcpu &cpu, const frame &f);
// The same from the real RFLAGS value `real_rflags` (e.g. a hypervisor's trap frame). Inline:
// the Xen wedge's system-call fast path computes it on every call.
inline uint64_t visible_rflags(const vcpu &cpu, uint64_t real_rflags)
{
    uint64_t r = (real_rflags & flags::real) | flags::fixed1;
    if (cpu.virtual_if()) r |= flags::if_;
    r |= static_cast<uint64_t>(cpu.iopl & 3) << flags::iopl_shift;
    return r;
}

// An asynchronous event (a backend's upcall) found the guest at `rip`. If an sti the entry
// window finished by itself ended there (abi_page::inline_sti_end), the instruction at rip has
// not run yet and is in that sti's interrupt shadow: the shadow is set, so deliver_pending
// holds interrupts until rip moves on, as after an sti the core emulated. (The rip may also
// have been reached again later by a jump; waiting one instruction then costs only that.)
void note_inline_sti_shadow(vcpu &cpu, uint64_t rip);

// Whether any interrupt is requested at all (ignoring IF); refreshes the ABI page's
// `pending` byte with the answer.
bool refresh_pending_hint(vcpu &cpu);

} // namespace afterburn::wedge
