// The guest's view of its page tables (guest_walk.h).
#include "guest_walk.h"

#include "guest_platform.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "wedge/vcpu.h"

namespace xw {

xs::paging_config guest_paging_config() {
    xs::paging_config cfg = direct_active() ? xs::paging_config{} : shadow().config();
    const wedge::vcpu &c = cpu();
    cfg.nxe = (c.efer & wedge::efer::nxe) != 0;
    cfg.wp = (c.cr0 & wedge::cr0::wp) != 0;
    return cfg;
}

xs::walk_result guest_walk(uint64_t va, const xs::access_type &acc) {
    if (direct_active())
        return xs::walk(direct_guest_view(), guest_paging_config(), direct().current_root_gfn() << 12, va, acc);
    return xs::translate(shadow_guest_memory(), shadow().config(), shadow().guest_cr3(), va, acc);
}

} // namespace xw
