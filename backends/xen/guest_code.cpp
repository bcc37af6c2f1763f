#include "guest_code.h"

#include "guest_platform.h"

namespace xw {

// The backend's read only to have the page checked and filled in the shadow (it shows a
// changed site's original bytes), then the guest's own bytes: a rewritten site's call.
bool read_guest_code(uint64_t va, uint8_t *buf, unsigned len) {
    wedge::page_fault pf;
    if (!platform().be.read(va, buf, len, wedge::access_mode::supervisor, pf)) return false;
    __builtin_memcpy(buf, reinterpret_cast<const void *>(va), len);
    return true;
}

} // namespace xw
