// What a backend's entry stub calls for a rewritten site (or a trapped one it resolved to
// its record): emulate the instruction, deliver the exception it raised, and then open the
// interrupt window — strict virtualization delivers a pending interrupt on the way out of
// every emulation path, so sti/popf/iret never leave one waiting.
#pragma once

#include <stdint.h>

#include "afterburn/annotation.h"
#include "wedge/backend.h"
#include "wedge/emulate.h"
#include "wedge/frame.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

enum class site_exit : uint8_t {
    resume,      // return to the guest with the frame as it is now
    halted,      // hlt/mwait with nothing deliverable: block until an event, then call
                 // deliver_pending() and resume
    shutdown,    // triple fault
    bad_record,  // the record is not emulatable: a loader bug, the backend reports it
};

// `resume_at`: as for emulate() (0: the span's end).
site_exit run_site(vcpu &cpu, frame &f, const annotation::site_record &rec, uint64_t site_addr, backend &be,
                   uint64_t resume_at = 0);

// The second half of run_site, for an emulation made elsewhere (a page-table site,
// page_table_access.h): deliver what it raised, then what is pending.
site_exit finish_site(vcpu &cpu, frame &f, const emulation &r, backend &be);

} // namespace afterburn::wedge
