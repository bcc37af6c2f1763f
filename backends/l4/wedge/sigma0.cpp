#include "sigma0.h"

#include "l4_abi.h"

namespace lw {

namespace {

uint64_t g_sigma0, g_ipc_entry;

// One request: `want` in MR1, the answer's flexpage lands in `window`. Returns the mapped
// flexpage (MR2 of the answer) or nil.
uint64_t request(uint64_t want, uint64_t window) {
    uint64_t *u = l4::utcb();
    constexpr uint64_t sigma0_label = (static_cast<uint64_t>(-6) << 4) & 0xffffffffffff;
    u[0] = l4::tag(sigma0_label, 0, 2);
    u[1] = want;
    u[2] = 0;
    l4::br(0) = window & ~uint64_t(0xf);  // accept map items into the window, no strings
    uint64_t tag = l4::l4_ipc(g_sigma0, g_sigma0, 0, u, nullptr, g_ipc_entry);
    if (l4::tag_failed(tag) || l4::tag_typed(tag) < 2) return l4::nil_fpage;
    return u[2];
}

} // namespace

void sigma0_init(const uint8_t *kip) {
    uint64_t user_base = (l4::kip_word(kip, l4::kip_thread_info) >> 20) & 0xfff;
    g_sigma0 = l4::global_id(user_base, 1);
    g_ipc_entry = l4::kip_word(kip, l4::kip_ipc);
}

bool sigma0_map_phys(uint64_t phys, unsigned log2) {
    return request(l4::fpage(phys, log2), l4::complete_address_space) != l4::nil_fpage;
}

bool sigma0_map_any(unsigned log2, uint64_t where, uint64_t &phys) {
    // "Any page": an all-ones base, as sigma0 expects it.
    uint64_t got = request(~uint64_t(0x3ff) | log2 << 4, l4::fpage(where, log2));
    if (got == l4::nil_fpage) return false;
    phys = l4::fpage_base(got);
    return true;
}

} // namespace lw
