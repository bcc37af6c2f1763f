// Which annotated sites each backend rewrites, and into what: one plan per backend, used by
// that backend's wedge at load time and by `afterburn rewrite --backend` on the host, so the
// two produce the same bytes. Freestanding.
#pragma once

#include <stdint.h>

#include "afterburn/annotation.h"
#include "afterburn/site_rewriter.h"
#include "wedge/site_table.h"

namespace afterburn::wedge {

enum class backend_id : uint8_t { xen, kvm, l4 };

// Page-table sites (page_table_store/_load): left native (KVM; shadow paging may), only the
// stores rewritten into calls of the wedge (shadow paging's default: the wedge sees every
// change to the guest's tables and can keep the shadow of a process switched back to without
// checking it; docs/xen-shadow-paging.md), or both (the wedge performs every access,
// page_table_access.h: the base of direct paging). Only the Xen plan has the last two.
enum class page_table_sites : uint8_t { native, stores, wedge };
const char *page_table_sites_name(page_table_sites p);
// "native", "stores", "wedge"; false for any other name.
bool page_table_sites_by_name(const char *name, page_table_sites &out);
// Whether backend b's wedge performs page-table sites (--pt-sites stores|wedge).
bool performs_page_table_sites(backend_id b);

const char *backend_name(backend_id b);
// "xen", "kvm", "l4"; false for any other name.
bool backend_by_name(const char *name, backend_id &out);

struct rewrite_plan {
    // Kernel code, per kind: leave it, call the kind's entry, or an inline store (cli).
    rewriter::plan kinds;
    // Per record, after its kind's row says rewrite: false leaves this one (KVM rewrites
    // mov_to_cr only where it loads CR3). Null: every record of a rewritten kind.
    bool (*takes)(const annotation::site_record &rec) = nullptr;
    // .altinstr_replacement sites (Linux copies them over other sites when it applies
    // alternatives; the plan's `call *slot` keeps them position independent).
    bool replacements = true;
    // Code that also runs at another address before the window is mapped there (Linux's head
    // code at its physical alias, boot::linux_head_code): true, its sites take the position-
    // independent `call *slot` (a de-privileged kernel must not run them natively); false, they
    // are left as they are, like ring-3 code (a ring-0 guest runs them natively).
    bool head_code_rewritten = true;
    // Every site takes the position-independent `call *slot` form: the image runs away from
    // its link address (L4: at its load address, below the kernel half).
    bool every_site_position_independent = false;
    // Ring-3 code cannot reach the entry window, so its sites stay as they are, except the
    // kinds marked here: their first byte becomes int3, for the wedge to resolve the trap.
    bool user_int3[site_kind_count] = {};
    // Some page-table kinds are calls: the table must keep their records
    // (site_table::keep_page_table_sites, per kind: calls(k)) and each must be described before
    // rewriting (page_table_sites.h), or refused.
    bool page_table_calls = false;
    bool calls(site_kind k) const
    {
        return kinds.kinds[static_cast<unsigned>(k)].how != rewriter::strategy::leave;
    }
};

// `pt` wedge on a backend whose wedge does not perform them is native.
rewrite_plan plan_for(backend_id b, page_table_sites pt = page_table_sites::native);

// What the plan does with one site of the table.
enum class site_action : uint8_t {
    rewrite,          // the kind's strategy
    user_int3,        // int3 on the instruction's first byte (ring-3 code)
    leave_user,       // ring-3 code
    leave_replacement,
    leave_by_plan,    // the kind's row (or the per-record rule) keeps the instruction
};

site_action action_for(const rewrite_plan &p, const site &s);

// Marks the sites of head code [lo, hi) the way the plan says (head_code_rewritten).
void mark_head_code(site_table &t, const rewrite_plan &p, uint64_t lo, uint64_t hi);

// Before the first add(): the page-table kinds the plan makes calls take a slot in `t`.
void keep_planned_page_table_sites(site_table &t, const rewrite_plan &p);

} // namespace afterburn::wedge
