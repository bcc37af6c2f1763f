// Page-table sites under direct paging (page_table_direct.h).
#include "page_table_direct.h"

#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "guest_loader.h"
#include "guest_platform.h"
#include "guest_walk.h"
#include "pv_direct.h"
#include "shadow_costs.h"
#include "wedge/event.h"

namespace xw {

namespace {

enum class target { table, plain, unknown };

// Where an access inside one 8-byte entry lands: in a frame Xen runs as a table (`gpa` is the
// entry's), in other memory the machine tables map (`plain`), or not known without the guest's
// walk (crossing an entry, not canonical, not mapped: left to the plain path and its walk).
target classify(uint64_t address, unsigned width, uint64_t &gpa, bool &writable) {
    if ((address & 7) + width > 8 || static_cast<uint64_t>(static_cast<int64_t>(address << 16) >> 16) != address ||
        !direct().translate(address, gpa, writable))
        return target::unknown;
    return direct().is_table(gpa >> 12) ? target::table : target::plain;
}

// Memory that is no table, mapped for this kernel-mode access: touched at its own address, as
// the guest instruction would touch it (the wedge runs on the guest's tables; the CPU sets A/D;
// a write to a former table's read-only alias faults into on_write_fault through the wedge's
// #PF path, as xen_backend::access relies on). Saves the plain path's guest walk, four loads
// through the core. A store needs the guest's tables to allow it (else its walk decides). The
// guest's image stays on the plain path: its reads show the original bytes of rewritten sites.
// (SMAP, which a supervisor access would check, is hidden by the CPUID policy.)
bool native(target t, uint64_t gpa, bool write, bool writable) {
    if (t != target::plain || cpu().cpl != 0 || (write && !writable)) return false;
    const loaded_guest *g = g_guest_run.guest;
    return !g || gpa < g->image_lo || gpa >= g->image_hi;
}

uint64_t width_mask(unsigned width) { return width == 8 ? ~0ull : (1ull << (8 * width)) - 1; }

[[noreturn]] void refused(const char *what, uint64_t address, xd::status s) {
    console_flush();
    print("xen-wedge: guest: direct paging: the page-table %s at 0x%lx failed: %s (0x%lx)\n", what, address,
          direct_status_text(s), direct().detail());
    exit_with(verdict_fail);
}

// The access the site's instruction makes, at its own address (the caller checked that the
// guest's tables map it as the instruction needs and that it is no table).
uint64_t native_load(uint64_t address, unsigned width) {
    switch (width) {
    case 1: return *reinterpret_cast<const volatile uint8_t *>(address);
    case 2: return *reinterpret_cast<const volatile uint16_t *>(address);
    case 4: return *reinterpret_cast<const volatile uint32_t *>(address);
    default: return *reinterpret_cast<const volatile uint64_t *>(address);
    }
}

void native_store(uint64_t address, unsigned width, uint64_t value) {
    switch (width) {
    case 1: *reinterpret_cast<volatile uint8_t *>(address) = static_cast<uint8_t>(value); break;
    case 2: *reinterpret_cast<volatile uint16_t *>(address) = static_cast<uint16_t>(value); break;
    case 4: *reinterpret_cast<volatile uint32_t *>(address) = static_cast<uint32_t>(value); break;
    default: *reinterpret_cast<volatile uint64_t *>(address) = value; break;
    }
}

// A load of `width` bytes at `gpa` inside one entry of a table Xen runs: the core's guest view
// of the whole entry, the bytes asked for taken out. A refusal stops the run with the address.
// Inlined: as a call it cost fork+exit 1.1 % (one per table-entry load, ~1.4 M per run).
[[gnu::always_inline]] inline uint64_t load_from_table(uint64_t address, uint64_t gpa, unsigned width) {
    uint64_t entry = 0;
    if (const xd::status s = direct().load(gpa & ~7ull, entry); s != xd::status::ok) refused("load", address, s);
    return (entry >> (8 * (gpa & 7))) & width_mask(width);
}

// A store of `width` bytes at `gpa` inside one entry of a table Xen runs: the core stores the
// whole entry (a narrower store reads it and merges). A refusal stops the run with the address.
void store_in_table(uint64_t address, uint64_t gpa, unsigned width, uint64_t value) {
    uint64_t entry = value;
    if (width != 8) {
        const unsigned shift = 8 * (gpa & 7);
        if (const xd::status s = direct().load(gpa & ~7ull, entry); s != xd::status::ok) refused("load", address, s);
        entry = (entry & ~(width_mask(width) << shift)) | (value & width_mask(width)) << shift;
    }
    if (const xd::status s = direct().store(gpa & ~7ull, entry); s != xd::status::ok) refused("store", address, s);
}

// A load the full path and the fast entry perform alike: natively, or from a table through the
// core. False, nothing done: not known without the guest's walk, or plain memory not to be
// touched natively (the guest's image, user mode): the plain path's.
[[gnu::always_inline]] inline bool load_native_or_table(uint64_t address, unsigned width, uint64_t &value) {
    uint64_t gpa;
    bool writable;
    const target t = classify(address, width, gpa, writable);
    if (native(t, gpa, false, writable)) {
        value = native_load(address, width);
        return true;
    }
    if (t != target::table) return false;
    value = load_from_table(address, gpa, width);
    return true;
}

} // namespace

bool direct_page_table_memory::load(uint64_t address, unsigned width, uint64_t &value, wedge::event &fault) {
    cost_scope cost(shadow_phase::direct_load);
    return load_native_or_table(address, width, value) || plain_.load(address, width, value, fault);
}

bool direct_page_table_memory::store(uint64_t address, unsigned width, uint64_t value, wedge::event &fault) {
    cost_scope cost(shadow_phase::direct_store);
    uint64_t gpa;
    bool writable;
    const target t = classify(address, width, gpa, writable);
    if (native(t, gpa, true, writable)) {
        native_store(address, width, value);
        return true;
    }
    if (t != target::table) return plain_.store(address, width, value, fault);
    // The machine mapping of a table is read-only; the guest's own may allow the write or not
    // (then its walk gives the fault the CPU would).
    if (!writable) {
        const xs::walk_result w = guest_walk(address, xs::access_type::write_at(false));
        if (w.status == xs::walk_status::page_fault) {
            fault = wedge::event::page_fault(w.error_code, address);
            return false;
        }
    }
    store_in_table(address, gpa, width, value);
    return true;
}

// The fast path's entry accesses: what load() and store() above do in kernel mode (the caller
// checked CPL 0), except the cases those leave to the plain path's walk or to it for a fault
// (crossing an entry, unmapped, a store the guest's tables do not allow): those return false
// before anything changed, and the full path performs the site.
bool direct_fast_load(uint64_t address, unsigned width, uint64_t &value) {
    return load_native_or_table(address, width, value);
}

bool direct_fast_store(uint64_t address, unsigned width, uint64_t value) {
    uint64_t gpa;
    bool writable;
    const target t = classify(address, width, gpa, writable);
    if (native(t, gpa, true, writable)) {
        native_store(address, width, value);
        return true;
    }
    if (t != target::table || !writable) return false;
    store_in_table(address, gpa, width, value);
    return true;
}

// xchg: the CPU's own (atomic, one access) on plain memory; on a table the core's load and
// store, as the full path's emulation makes them (the vCPU runs nothing else meanwhile).
bool direct_fast_exchange(uint64_t address, uint64_t value, uint64_t &old) {
    uint64_t gpa;
    bool writable;
    const target t = classify(address, 8, gpa, writable);
    if (native(t, gpa, true, writable)) {
        asm volatile("xchgq %0, %1" : "+r"(value), "+m"(*reinterpret_cast<volatile uint64_t *>(address)) : : "memory");
        old = value;
        return true;
    }
    if (t != target::table || !writable) return false;
    if (const xd::status s = direct().load(gpa, old); s != xd::status::ok) refused("load", address, s);
    if (const xd::status s = direct().store(gpa, value); s != xd::status::ok) refused("store", address, s);
    return true;
}

} // namespace xw
