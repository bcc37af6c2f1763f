// A rewritten site's call into the entry window: window.S saves the guest's registers on a
// wedge stack (site_frame) and calls site_dispatch(), which finds the site by the call's return
// address, runs it through the core and leaves through wedge_resume to wherever the core says
// (the end of the span, a transfer target, an interrupt handler).
#include "afterburn/site_kind.h"
#include "afterburn/wedge_abi.h"
#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "guest_platform.h"
#include "cr_read_fast_path.h"
#include "cr3_write_fast_path.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "gs_index_fast_path.h"
#include "guest_time.h"
#include "msr_write_fast_path.h"
#include "page_table_sites.h"
#include "run_stats.h"
#include "segment_fast_path.h"
#include "site_cache.h"
#include "site_frame.h"
#include "swapgs_fast_path.h"
#include "user_return_fast_path.h"
#include "wedge/frame.h"

static_assert(afterburn::site_kind_count == 71, "window.S KIND_COUNT must match site_kind_count");
static_assert(static_cast<unsigned>(afterburn::site_kind::sti) == 2 &&
                  static_cast<unsigned>(afterburn::site_kind::pushf) == 3 &&
                  static_cast<unsigned>(afterburn::site_kind::popf) == 4,
              "window.S, sti_fast_path.S and flags_fast_path.S name sti, pushf and popf by number");
static_assert(static_cast<unsigned>(afterburn::site_kind::page_table_store) == 69 &&
                  static_cast<unsigned>(afterburn::site_kind::page_table_load) == 70,
              "window.S names the page-table kinds by number (page_table_fast_path.S)");
static_assert(afterburn::wedge::flags::real == 0x244dd5 && afterburn::wedge_abi::vcpu_page == 0xffffffffffe20000ull,
              "flags_fast_path.S spells out flags::real and the vCPU page");
static_assert(static_cast<unsigned>(afterburn::site_kind::rdtsc) == 27 &&
                  static_cast<unsigned>(afterburn::site_kind::rdtscp) == 28,
              "window.S and tsc_fast_path.S name rdtsc and rdtscp by number");
static_assert(afterburn::wedge_abi::vcpu_inline_tsc == afterburn::wedge_abi::vcpu_page + 4 &&
                  afterburn::wedge_abi::vcpu_tsc_offset == afterburn::wedge_abi::vcpu_page + 16 &&
                  afterburn::wedge_abi::vcpu_tsc_aux == afterburn::wedge_abi::vcpu_page + 24 &&
                  afterburn::wedge_abi::inline_tsc_rdtsc == 1 && afterburn::wedge_abi::inline_tsc_rdtscp == 2,
              "tsc_fast_path.S spells out the vCPU page's inline_tsc, tsc_offset and tsc_aux");
static_assert(afterburn::wedge_abi::vcpu_inline_sti == afterburn::wedge_abi::vcpu_page + 3 &&
                  afterburn::wedge_abi::vcpu_inline_sti_end == afterburn::wedge_abi::vcpu_page + 8,
              "sti_fast_path.S spells out the vCPU page's inline_sti and inline_sti_end");

extern "C" void site_dispatch(xw::site_frame *f) {
    using namespace xw;
    mask_events();  // events were open in the guest (resume)
    // The entry stub pushed the kind above the call's return address.
    auto *stack = reinterpret_cast<const uint64_t *>(wedge_site_guest_rsp);
    uint64_t kind = stack[0], ret = stack[1];
    // A position-independent site may run at the image's physical alias (Linux's head code):
    // look it up by its link address and run it where it is.
    const loaded_guest &g = *g_guest_run.guest;
    uint64_t alias = g.link_address(ret) - ret;
    const wedge::site *s = site_by_return(ret + alias);
    bool own_site = true;  // the call of the site itself, at its link address
    if (!s || s->rec.kind != kind || s->call_return() != ret + alias || (alias && !s->position_independent)) {
        // A copy Linux's alternatives made of a rewritten .altinstr_replacement site: run the
        // replacement's record at the copy.
        bool ambiguous = false;
        const wedge::site_copy *c =
            alias ? nullptr : guest_alternative_copies().find_by_return(ret, static_cast<uint8_t>(kind), ambiguous);
        if (!c || ambiguous) {
            console_flush();
            char sym[96];
            auto named = static_cast<afterburn::site_kind>(kind < afterburn::site_kind_count ? kind : 0);
            print("xen-wedge: guest: entry(%lu, %s) called from 0x%lx%s, which is not a rewritten site of that "
                  "kind%s\n",
                  kind, afterburn::site_kind_name(named), ret, guest_symbol(ret, sym, sizeof sym),
                  ambiguous ? " (it is where two different alternatives of that kind may be copied)" : "");
            exit_with(verdict_fail);
        }
        s = c->of;
        alias = c->alias();
        own_site = false;
        ++g_run_stats.alternative_copy_entries;
    }
    run_stats &st = g_run_stats;
    ++st.entries;
    if (st.trace_traps) {
        --st.trace_traps;
        char sym[96];
        print("xen-wedge: trace: %s site at 0x%lx%s\n", afterburn::site_kind_name(static_cast<afterburn::site_kind>(kind)),
              s->insn - alias, guest_symbol(s->insn, sym, sizeof sym));
    }
    st.last_site = s->insn;
    st.last_kind = kind;
    uint64_t regs[16] = {f->rax, f->rcx, f->rdx, f->rbx, wedge_site_guest_rsp + 16, f->rbp, f->rsi, f->rdi,
                         f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
    wedge::frame &fr = g_guest_run.frame;
    for (unsigned i = 0; i < 16; ++i) fr.gpr[i] = regs[i];
    fr.rip = s->insn - alias;
    fr.rflags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
    uint64_t resume_at = s->resume_after_call(ret, alias);
    if (own_site && !alias) {
        if (kind == static_cast<uint64_t>(afterburn::site_kind::iret)) try_user_return_fast(*s);
        if (kind == static_cast<uint64_t>(afterburn::site_kind::swapgs)) try_swapgs_user_return_fast(*s, ret);
        if (kind == static_cast<uint64_t>(afterburn::site_kind::swapgs)) try_gs_index_fast(*s, resume_at);
    }
    if (kind == static_cast<uint64_t>(afterburn::site_kind::swapgs)) try_swapgs_fast(*s, resume_at);
    if (kind == static_cast<uint64_t>(afterburn::site_kind::mov_from_cr)) try_cr_read_fast(*s, resume_at);
    if (kind == static_cast<uint64_t>(afterburn::site_kind::mov_from_seg) ||
        kind == static_cast<uint64_t>(afterburn::site_kind::mov_to_seg))
        try_segment_fast(*s, resume_at);
    if (kind == static_cast<uint64_t>(afterburn::site_kind::wrmsr)) try_msr_write_fast(*s, resume_at);
    if (kind == static_cast<uint64_t>(afterburn::site_kind::mov_to_cr)) try_cr3_write_fast(*s, resume_at);
    if (afterburn::site_kind_is_page_table(static_cast<afterburn::site_kind>(kind)))
        try_page_table_fast(*s, s->insn - alias, resume_at);
    run_site_and_resume(*s, s->insn - alias, false, resume_at);
}
