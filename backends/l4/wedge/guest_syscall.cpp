#include "guest_syscall.h"

#include "wedge/event.h"
#include "wedge/interrupts.h"

namespace lw {

namespace wedge = afterburn::wedge;

bool enter_guest_syscall(wedge::vcpu &c, wedge::frame &f, wedge::backend &be) {
    if (!(c.efer & wedge::efer::sce)) return wedge::deliver(c, f, wedge::event::fault(wedge::vec::ud), be) == wedge::delivery::delivered;
    constexpr uint64_t syscall_len = 2;  // 0f 05
    f.gpr[wedge::rcx] = f.rip + syscall_len;
    f.gpr[wedge::r11] = wedge::visible_rflags(c, f) & ~wedge::flags::rf;
    const uint16_t cs = static_cast<uint16_t>(c.star >> 32) & 0xfffc;
    c.selector[1] = cs;
    c.selector[2] = static_cast<uint16_t>(cs + 8);
    c.cpl = 0;
    f.rflags = (f.rflags & ~(c.fmask & wedge::flags::real)) | wedge::flags::fixed1;
    if (c.fmask & wedge::flags::if_) c.set_virtual_if(false);
    if (c.fmask & wedge::flags::iopl)
        c.iopl = static_cast<uint8_t>(c.iopl & ~((c.fmask & wedge::flags::iopl) >> wedge::flags::iopl_shift));
    f.rip = c.lstar;
    be.state_changed(c, wedge::state_change::privilege);
    return true;
}

} // namespace lw
