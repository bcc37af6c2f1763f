#include "guest_probe.h"

#include "guest_platform.h"
#include "guest_sites.h"
#include "pv_shadow.h"
#include "wedge/guest_memory.h"

extern "C" {
extern const char guest_probe_load[], guest_probe_load_tail[], guest_probe_store_load[], guest_probe_store_tail[],
    guest_probe_same16_low[], guest_probe_same16_high[], guest_probe_failed[];
uint64_t guest_probe_store(uint64_t dst, const void *src, size_t len);
}

namespace xw {

namespace {

// Whether [va, va + len) overlaps a site's span. The spans are sorted and disjoint, so only the
// last one starting before the range's end can reach into it. Not the whole range the spans
// cover: Linux's data between its text and init text (swapper_pg_dir, which every new page
// directory copies its kernel half from) lies inside it, and a probe refused there took the
// core's walk for each of fork's 478 `rep movsl` iterations (~1,000 instructions each).
bool touches_sites(uint64_t va, size_t len) {
    const wedge::site_table &t = guest_sites();
    const uint64_t a = g_guest_run.guest->link_address(va);
    const uint32_t next = t.first_at_or_after(a + len);
    return next > 0 && t[next - 1].end > a;
}

bool address_allowed(uint64_t va, size_t len) {
    if (!len || !wedge::is_canonical(va) || !wedge::is_canonical(va + len - 1) || va + len < va) return false;
    return !is_wedge_address(va) && !is_wedge_address(va + len - 1) && !touches_sites(va, len);
}

} // namespace

// Pages address_allowed passed whole, direct-mapped: its answer for a range in such a page is
// yes (the wedge's ranges and the site table are fixed while the guest runs), and the return
// to user mode reads the same two pages (the kernel's entry stack, the GDT) every time. Only a
// whole page's answer may be kept: the site table's span may start or end inside a page (a
// read of Linux's head code before its first site passed, and the next read in that page, of
// a site's displacement, got the rewritten bytes).
constinit uint64_t g_probe_allowed[probe_allowed_pages] = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
                                                             ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};

bool guest_probe_read_checked(uint64_t va, void *dst, size_t len) {
    if (!address_allowed(va, len)) return false;
    const uint64_t page = va >> 12;
    if (((va + len - 1) >> 12) == page && address_allowed(page << 12, 0x1000))
        g_probe_allowed[page & (probe_allowed_pages - 1)] = page;
    return guest_probe_copy(dst, va, len) != 0;
}

bool guest_probe_write(uint64_t va, const void *src, size_t len) {
    const uint64_t page = va >> 12;
    if (!len || ((va + len - 1) >> 12) != page) return false;
    if (g_probe_allowed[page & (probe_allowed_pages - 1)] != page) {
        if (!address_allowed(va, len)) return false;
        if (address_allowed(page << 12, 0x1000)) g_probe_allowed[page & (probe_allowed_pages - 1)] = page;
    }
    // One page: a fault can only come at the first byte's store (the page is then not written).
    return guest_probe_store(va, src, len) != 0;
}

bool guest_probe_fixup(trap_frame *f) {
    if (f->rip != reinterpret_cast<uint64_t>(guest_probe_load) && f->rip != reinterpret_cast<uint64_t>(guest_probe_load_tail) &&
        f->rip != reinterpret_cast<uint64_t>(guest_probe_store_load) &&
        f->rip != reinterpret_cast<uint64_t>(guest_probe_store_tail) &&
        f->rip != reinterpret_cast<uint64_t>(guest_probe_same16_low) &&
        f->rip != reinterpret_cast<uint64_t>(guest_probe_same16_high))
        return false;
    f->rip = reinterpret_cast<uint64_t>(guest_probe_failed);
    return true;
}

} // namespace xw
