// Emulates one annotated sensitive instruction against the vCPU, from the annotation
// record's decoded operands only: the wedge never decodes x86 for an annotated site. The
// one read of instruction bytes is the displacement of a memory operand, at the offset the
// record names.
#pragma once

#include <stdint.h>

#include "afterburn/annotation.h"
#include "wedge/backend.h"
#include "wedge/event.h"
#include "wedge/frame.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

enum class action : uint8_t {
    resume,      // done: frame.rip is the end of the site span
    raise,       // deliver `ev`: an exception (frame.rip = the site, where the CPU reports it)
                 // or int n (frame.rip = the site, ev.return_rip = the end of the span)
    transfer,    // control transfer (iret, sysret, lret, ljmp, lcall, sysenter, sysexit): rip,
                 // CS, SS, RSP and possibly CPL are the new ones
    halt,        // hlt/mwait: frame.rip is past the site; run again at the next interrupt
    bad_record,  // the record does not describe an instruction the wedge can emulate
};

struct emulation {
    action what = action::resume;
    event ev{};
};

// Where execution continues after the site: its instruction plus padding after it, or just
// past the instruction when the padding is in front (interrupt-shadow kinds).
constexpr uint64_t site_end(const annotation::site_record &rec, uint64_t site_addr)
{
    return site_addr + rec.insn_len + ((rec.flags & annotation::flag_pad_before) ? 0 : rec.pad_len);
}

// `site_addr` is the address of the instruction itself (the record's `site`). `resume_at`
// (0: site_end) is where the guest goes on after it: a wedge whose call returned before the
// span's end passes that return address. The bytes between are the rewrite's NOP padding,
// and Linux's alternatives merge runs of one-byte NOPs into longer ones (optimize_nops), so the
// span's end need not be an instruction boundary any more.
emulation emulate(vcpu &cpu, frame &f, const annotation::site_record &rec, uint64_t site_addr, backend &be,
                  uint64_t resume_at = 0);

} // namespace afterburn::wedge
