#include "wedge/dispatch.h"

#include "wedge/emulate.h"
#include "wedge/interrupts.h"

namespace afterburn::wedge {

site_exit run_site(vcpu &cpu, frame &f, const annotation::site_record &rec, uint64_t site_addr, backend &be,
                   uint64_t resume_at)
{
    return finish_site(cpu, f, emulate(cpu, f, rec, site_addr, be, resume_at), be);
}

site_exit finish_site(vcpu &cpu, frame &f, const emulation &r, backend &be)
{
    switch (r.what) {
    case action::bad_record: return site_exit::bad_record;
    case action::raise:
        if (deliver(cpu, f, r.ev, be) == delivery::shutdown) return site_exit::shutdown;
        break;
    case action::halt: cpu.halted = true; break;
    case action::resume:
    case action::transfer: break;
    }
    bool dead = false;
    deliver_pending(cpu, f, be, &dead);  // clears `halted` when it delivers
    if (dead) return site_exit::shutdown;
    return cpu.halted ? site_exit::halted : site_exit::resume;
}

} // namespace afterburn::wedge
