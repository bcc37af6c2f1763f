#include "wedge/rewrite_plan.h"

#include "afterburn/wedge_abi.h"

namespace afterburn::wedge {

namespace ann = annotation;

namespace {

bool same(const char *a, const char *b)
{
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

// Every sensitive instruction kind calls its entry in the window; cli stores 0 to the vCPU's
// virtual IF (the core reads it from the vCPU page: docs/wedge-abi.md). Page-table accesses
// (page_table_store/_load) stay native here: under shadow paging and on KVM the guest's own
// page tables are what it reads and writes, so the original instruction is correct; the Xen
// plan with page_table_sites::stores calls the wedge for the stores, with ::wedge for both
// (direct paging needs that).
rewriter::plan all_kinds(uint64_t window = wedge_abi::window_base)
{
    rewriter::plan p;
    for (unsigned k = 0; k < site_kind_count; ++k) {
        auto kind = static_cast<site_kind>(k);
        if (!site_kind_is_instruction(kind) || site_kind_is_page_table(kind)) continue;
        p.kinds[k] = {rewriter::strategy::call, wedge_abi::relocated(wedge_abi::entry(kind), window),
                      wedge_abi::relocated(wedge_abi::slot(kind), window), 0};
    }
    p.kinds[static_cast<unsigned>(site_kind::cli)] = {
        rewriter::strategy::inline_store, wedge_abi::relocated(wedge_abi::vcpu_virtual_if, window), 0, 0};
    return p;
}

// The guest kernel runs de-privileged (Xen PV: ring 3; L4: user mode): every kind is the
// wedge's, except int $n, which traps by itself and is delivered with the return address
// the CPU would push (a call from a padded span could only return past the padding).
rewrite_plan deprivileged_plan(uint64_t window = wedge_abi::window_base)
{
    rewrite_plan p;
    p.kinds = all_kinds(window);
    p.kinds.kinds[static_cast<unsigned>(site_kind::int_n)] = {};
    return p;
}

// Ring-3 sites that would succeed with the wrong answer (they read selectors and descriptor
// tables the hypervisor owns) instead of faulting as the others do.
void mark_user_int3(rewrite_plan &p)
{
    static constexpr site_kind wrong_answer[] = {site_kind::mov_from_seg, site_kind::push_seg, site_kind::sgdt,
                                                 site_kind::sidt, site_kind::sldt, site_kind::str, site_kind::smsw,
                                                 site_kind::lar, site_kind::lsl, site_kind::verr, site_kind::verw};
    for (site_kind k : wrong_answer)
        p.user_int3[static_cast<unsigned>(k)] = true;
}

// KVM: the guest kernel runs in ring 0, its privileged instructions run natively. The wedge
// takes port I/O (one exit per console line instead of per byte), CR3 loads (every page
// table the guest loads must keep the wedge's window mapped), CR8 writes (QEMU's nested TCG
// aborts on them; the wedge writes the TPR), rdmsr/wrmsr (the x2APIC timer's count; any
// other MSR puts the site back to native on its first run) and xsetbv (QEMU < 8.2 as the L0
// lets it through without an exit: the launcher sets XCR0 with KVM_SET_XCRS).
bool kvm_takes(const ann::site_record &r)
{
    if (r.kind != static_cast<uint8_t>(site_kind::mov_to_cr)) return true;
    return (r.special == 3 || r.special == 8) && (r.flags & ann::flag_register);
}

rewrite_plan kvm_plan()
{
    rewrite_plan p;
    rewriter::plan all = all_kinds();
    static constexpr site_kind taken[] = {site_kind::in, site_kind::out, site_kind::ins, site_kind::outs,
                                          site_kind::mov_to_cr, site_kind::rdmsr, site_kind::wrmsr, site_kind::xsetbv};
    for (site_kind k : taken)
        p.kinds.kinds[static_cast<unsigned>(k)] = all.kinds[static_cast<unsigned>(k)];
    p.takes = kvm_takes;
    p.replacements = false;       // in ring 0 they run natively
    p.head_code_rewritten = false;  // likewise
    return p;
}

} // namespace

const char *backend_name(backend_id b)
{
    switch (b) {
    case backend_id::xen: return "xen";
    case backend_id::kvm: return "kvm";
    case backend_id::l4: return "l4";
    }
    return "?";
}

bool backend_by_name(const char *name, backend_id &out)
{
    static constexpr backend_id all[] = {backend_id::xen, backend_id::kvm, backend_id::l4};
    for (backend_id b : all)
        if (same(name, backend_name(b))) {
            out = b;
            return true;
        }
    return false;
}

const char *page_table_sites_name(page_table_sites p)
{
    switch (p) {
    case page_table_sites::native: return "native";
    case page_table_sites::stores: return "stores";
    case page_table_sites::wedge: return "wedge";
    }
    return "?";
}

bool page_table_sites_by_name(const char *name, page_table_sites &out)
{
    static constexpr page_table_sites all[] = {page_table_sites::native, page_table_sites::stores,
                                               page_table_sites::wedge};
    for (page_table_sites p : all)
        if (same(name, page_table_sites_name(p))) {
            out = p;
            return true;
        }
    return false;
}

bool performs_page_table_sites(backend_id b) { return b == backend_id::xen; }

rewrite_plan plan_for(backend_id b, page_table_sites pt)
{
    switch (b) {
    case backend_id::xen: {
        rewrite_plan p = deprivileged_plan();
        mark_user_int3(p);  // Xen PV user mode sees Xen's flat selectors and tables
        if (pt != page_table_sites::native) {
            // Like every other kind: a call of the kind's entry (`call *slot` where position
            // independent); the entry performs the access (page_table_access.h).
            static constexpr site_kind pt_kinds[] = {site_kind::page_table_store, site_kind::page_table_load};
            for (site_kind k : pt_kinds)
                if (k == site_kind::page_table_store || pt == page_table_sites::wedge)
                    p.kinds.kinds[static_cast<unsigned>(k)] = {rewriter::strategy::call, wedge_abi::entry(k),
                                                               wedge_abi::slot(k), 0};
            p.page_table_calls = true;
        }
        return p;
    }
    case backend_id::kvm: return kvm_plan();
    case backend_id::l4: {
        // The guest runs at its load address, the window below 2 GiB (wedge_abi.h).
        rewrite_plan p = deprivileged_plan(wedge_abi::l4_window_base);
        p.every_site_position_independent = true;
        return p;
    }
    }
    return {};
}

void mark_head_code(site_table &t, const rewrite_plan &p, uint64_t lo, uint64_t hi)
{
    if (p.head_code_rewritten) t.mark_position_independent(lo, hi);
    else t.mark_user_code(lo, hi);
}

void keep_planned_page_table_sites(site_table &t, const rewrite_plan &p)
{
    t.keep_page_table_sites(p.calls(site_kind::page_table_store), p.calls(site_kind::page_table_load));
}

site_action action_for(const rewrite_plan &p, const site &s)
{
    if (s.user_code) return p.user_int3[s.rec.kind] ? site_action::user_int3 : site_action::leave_user;
    if ((s.rec.flags & ann::flag_replacement) && !p.replacements) return site_action::leave_replacement;
    if (p.kinds.kinds[s.rec.kind].how == rewriter::strategy::leave || (p.takes && !p.takes(s.rec)))
        return site_action::leave_by_plan;
    return site_action::rewrite;
}

} // namespace afterburn::wedge
