#include "site_cache.h"

#include "guest_sites.h"

namespace xw {

namespace {

struct cached_site {
    uint64_t ret;
    const afterburn::wedge::site *site;
};
constexpr unsigned cache_size = 256;  // a power of two
constinit cached_site g_cache[cache_size]{};

} // namespace

const afterburn::wedge::site *site_by_return(uint64_t ret) {
    cached_site &e = g_cache[(ret ^ (ret >> 8)) & (cache_size - 1)];
    if (e.ret == ret && e.site) return e.site;
    const afterburn::wedge::site *s = guest_sites().find_by_return(ret);
    if (s) e = {ret, s};  // misses are not kept: a call from no site ends the run anyway
    return s;
}

} // namespace xw
