// Page-table sites under direct paging (page_table_direct.h).
#include "page_table_direct.h"

#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "guest_walk.h"
#include "pv_direct.h"
#include "wedge/event.h"

namespace xw {

namespace {

// The guest-physical address of a table entry the access lies in, or false when the access
// is not inside one entry of a frame Xen runs as a table (then it is plain memory).
bool table_entry(uint64_t address, unsigned width, uint64_t &gpa, bool &writable) {
    if ((address & 7) + width > 8 || !direct().translate(address, gpa, writable)) return false;
    return direct().is_table(gpa >> 12);
}

uint64_t width_mask(unsigned width) { return width == 8 ? ~0ull : (1ull << (8 * width)) - 1; }

[[noreturn]] void refused(const char *what, uint64_t address, xd::status s) {
    console_flush();
    print("xen-wedge: guest: direct paging: the page-table %s at 0x%lx failed: %s (0x%lx)\n", what, address,
          direct_status_text(s), direct().detail());
    exit_with(verdict_fail);
}

} // namespace

bool direct_page_table_memory::load(uint64_t address, unsigned width, uint64_t &value, wedge::event &fault) {
    uint64_t gpa;
    bool writable;
    if (!table_entry(address, width, gpa, writable)) return plain_.load(address, width, value, fault);
    uint64_t entry = 0;
    if (const xd::status s = direct().load(gpa & ~7ull, entry); s != xd::status::ok) refused("load", address, s);
    value = (entry >> (8 * (gpa & 7))) & width_mask(width);
    return true;
}

bool direct_page_table_memory::store(uint64_t address, unsigned width, uint64_t value, wedge::event &fault) {
    uint64_t gpa;
    bool writable;
    if (!table_entry(address, width, gpa, writable)) return plain_.store(address, width, value, fault);
    // The machine mapping of a table is read-only; the guest's own may allow the write or not
    // (then its walk gives the fault the CPU would).
    if (!writable) {
        const xs::walk_result w = guest_walk(address, xs::access_type::write_at(false));
        if (w.status == xs::walk_status::page_fault) {
            fault = wedge::event::page_fault(w.error_code, address);
            return false;
        }
    }
    uint64_t entry = value;
    if (width != 8) {
        const unsigned shift = 8 * (gpa & 7);
        if (const xd::status s = direct().load(gpa & ~7ull, entry); s != xd::status::ok) refused("load", address, s);
        entry = (entry & ~(width_mask(width) << shift)) | (value & width_mask(width)) << shift;
    }
    if (const xd::status s = direct().store(gpa & ~7ull, entry); s != xd::status::ok) refused("store", address, s);
    return true;
}

} // namespace xw
