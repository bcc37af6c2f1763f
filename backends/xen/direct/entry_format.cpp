#include "entry_format.h"

namespace afterburn::xen_direct {

uint64_t xen_adjusted(uint64_t e, int level)
{
    if (!(e & pte::present)) return e;
    if (level > 1) return e | pte::user;
    return (e & pte::user) ? e | pte::global : e | pte::user | xen_guest_kernel;
}

uint64_t without_xen_additions(uint64_t e, int level, half h)
{
    if (!(e & pte::present)) return e;
    if (level > 1) return h == half::kernel ? e & ~pte::user : e;
    if (e & xen_guest_kernel) return e & ~(pte::user | xen_guest_kernel);
    return e & ~pte::global;
}

} // namespace afterburn::xen_direct
