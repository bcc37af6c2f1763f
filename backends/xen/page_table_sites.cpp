#include "page_table_sites.h"

#include "console.h"
#include "console_line.h"
#include "guest_platform.h"
#include "page_table_direct.h"
#include "page_table_fast_path.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "guest_probe.h"
#include "guest_resume.h"
#include "run_stats.h"
#include "wedge/boot/elf64.h"
#include "wedge/guest_memory.h"
#include "wedge/page_table_access.h"
#include "wedge/page_table_memory.h"
#include "wedge/page_table_sites.h"

namespace xw {

namespace wedge = afterburn::wedge;
using afterburn::site_kind;

namespace {
wedge::page_table_sites g_mode = wedge::page_table_sites::native;
wedge::page_table_site_counts g_described;
uint64_t g_faults;  // page faults the wedge raised for the guest at these sites
uint64_t g_fast_entries;  // sites try_page_table_fast finished
} // namespace

bool set_page_table_sites(const char *value, unsigned len) {
    char name[8] = {};
    if (len >= sizeof name) return false;
    for (unsigned i = 0; i < len; ++i) name[i] = value[i];
    return wedge::page_table_sites_by_name(name, g_mode);
}

wedge::page_table_sites page_table_sites_mode() { return g_mode; }

bool describe_guest_page_table_sites(const loaded_guest &g, wedge::site_table &t, wedge::site_bytes &text) {
    wedge::block_functions fns;
    if (g.elf) {
        // Linux's C code calls these by name; the SYM_FUNC_ALIAS names share the address.
        afterburn::boot::symbol_value(*g.elf, "memcpy", fns.memcpy);
        afterburn::boot::symbol_value(*g.elf, "memmove", fns.memmove);
        afterburn::boot::symbol_value(*g.elf, "memset", fns.memset);
    }
    wedge::page_table_refusal no;
    const wedge::page_table_site_counts c = g_described = wedge::describe_page_table_sites(t, text, fns, no);
    if (no.where) {
        char sym[96];
        print("xen-wedge: guest: the page-table site at 0x%lx%s (%s, form %u) cannot be performed by the wedge: %s\n",
              no.where->insn, guest_symbol(no.where->insn, sym, sizeof sym),
              afterburn::site_kind_name(static_cast<site_kind>(no.where->rec.kind)), no.where->rec.special, no.why);
        return false;
    }
    print("xen-wedge: guest: page-table sites through the wedge (pt-sites=%s): %u stores, %u loads (%u memory "
          "operand, %u string, %u block call)\n",
          wedge::page_table_sites_name(g_mode), c.stores, c.loads, c.by_form[0], c.by_form[1], c.by_form[2]);
    return true;
}

bool check_page_table_rewrites(const wedge::rewrite_counts &c) {
    const uint32_t stores = c.by_kind[static_cast<unsigned>(site_kind::page_table_store)],
                   loads = c.by_kind[static_cast<unsigned>(site_kind::page_table_load)];
    print("xen-wedge: guest: page-table sites rewritten: %u stores, %u loads\n", stores, loads);
    if (stores == g_described.stores && loads == g_described.loads) {
        // Every store to the guest's tables the compiler pass found now reaches the wedge.
        if (stores && shadow_active()) shadow_trust_table_stores();
        return true;
    }
    print("xen-wedge: guest: %u page-table sites were described but not rewritten (named above): they would "
          "bypass the wedge\n",
          g_described.stores + g_described.loads - stores - loads);
    return false;
}

namespace {

// Guest memory as it is (identity), as the core reads and writes it; a kernel-mode load tries
// a plain load through the shadow first (guest_probe_read, what the backend's supervisor read
// does without its walk), and leaves what that cannot do (a fault, site bytes) to the core,
// which raises the guest's #PF.
class xen_page_table_memory final : public wedge::page_table_memory {
public:
    xen_page_table_memory(wedge::vcpu &c, wedge::guest_memory &gm) : cpu_(c), identity_(gm) {}
    bool load(uint64_t address, unsigned width, uint64_t &value, wedge::event &fault) override {
        value = 0;
        if (cpu_.cpl == 0 && guest_probe_read(address, &value, width)) return true;
        return identity_.load(address, width, value, fault);
    }
    bool store(uint64_t address, unsigned width, uint64_t value, wedge::event &fault) override {
        return identity_.store(address, width, value, fault);
    }

private:
    const wedge::vcpu &cpu_;
    wedge::identity_page_table_memory identity_;
};

wedge::emulation perform(const wedge::site &s, uint64_t site_addr, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::guest_memory gm(c, platform().be);
    // Shadow paging: the guest's entries are plain memory. Direct paging: Xen's tables,
    // translated by the direct-paging core.
    xen_page_table_memory plain(c, gm);
    direct_page_table_memory translated(gm);
    wedge::page_table_memory &mem = direct_active() ? static_cast<wedge::page_table_memory &>(translated)
                                                    : static_cast<wedge::page_table_memory &>(plain);
    // The instruction's original bytes (for its displacement): the site kept them when rewritten.
    const uint8_t *insn = s.original + (s.insn - s.start);
    if (s.rec.kind == static_cast<uint8_t>(site_kind::page_table_store) && shadow_active()) shadow().table_stored();
    wedge::emulation r =
        wedge::emulate_page_table(s.pt, s.rec, insn, site_addr, resume_at, c, g_guest_run.frame, mem);
    if (r.what == wedge::action::raise) ++g_faults;
    return r;
}

} // namespace

wedge::site_exit run_page_table_site(const wedge::site &s, uint64_t site_addr, uint64_t resume_at) {
    return wedge::finish_site(cpu(), g_guest_run.frame, perform(s, site_addr, resume_at), platform().be);
}

void try_page_table_fast(const wedge::site &s, uint64_t site_addr, uint64_t resume_at) {
    const wedge::vcpu &c = cpu();
    if (c.cpl != 0) return;                                       // resume_kernel_fast is for kernel mode
    if (g_guest_run.frame.rflags & wedge::flags::tf) return;      // the guest's single step: resume() sets it
    // As try_swapgs_fast: the core would deliver what is pending and deliverable at the exit
    // (`pending` is exact); an expired emulated timer arrives by Xen's timer upcall instead.
    if (c.virtual_if() && c.page.pending) return;
    ++g_run_stats.kind_entries[s.rec.kind];
    ++g_fast_entries;
    // At its link address (not an alias or an alternative's copy): the entry window's fast
    // path may run it from now on (page_table_fast_path.h).
    if (site_addr == s.insn) note_page_table_fast_site(s, resume_at);
    const wedge::emulation r = perform(s, site_addr, resume_at);
    if (r.what == wedge::action::raise) deliver_and_resume(r.ev);
    // Done (rip past the site, or the caller's caller after a tail jmp): nothing else changed
    // that resume() would act on (CPL, IOPL, IF, TSD, devices, the shadow's CR0/EFER bits).
    if (r.what == wedge::action::resume || r.what == wedge::action::transfer) resume_kernel_fast();
    console_flush();
    print("xen-wedge: guest: the page-table site at 0x%lx has no description\n", s.insn);
    fail_run("page-table site without a description");
}

void print_page_table_site_stats(const uint64_t *kind_entries) {
    if (g_mode == wedge::page_table_sites::native) return;
    print("xen-wedge: guest: page-table sites ran: %lu stores, %lu loads (%lu page faults raised, %lu without the "
          "device poll and resume(): try_page_table_fast)\n",
          kind_entries[static_cast<unsigned>(site_kind::page_table_store)],
          kind_entries[static_cast<unsigned>(site_kind::page_table_load)], g_faults, g_fast_entries);
    print("xen-wedge: guest: %lu page-table sites finished in the entry window's fast path (page_table_fast_path.cpp)\n",
          page_table_fast_completions());
}

} // namespace xw
