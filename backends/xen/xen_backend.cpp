#include "xen_backend.h"

#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "fault_prefill.h"
#include "guest_platform.h"
#include "guest_probe.h"
#include "guest_sites.h"
#include "guest_stacks.h"
#include "hypercall.h"
#include "guest_walk.h"
#include "pv_direct.h"
#include "pv_memory.h"
#include "pv_shadow.h"
#include "run_stats.h"
#include "shadow_costs.h"
#include "shared_info.h"
#include "user_mode.h"
#include "wedge/event.h"
#include "wedge/vcpu.h"

namespace xw {

namespace wedge = afterburn::wedge;

namespace {

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return static_cast<uint64_t>(hi) << 32 | lo;
}

xs::paging_config paging_of(const wedge::vcpu &c) {
    xs::paging_config cfg = shadow().config();
    cfg.nxe = (c.efer & wedge::efer::nxe) != 0;
    cfg.wp = (c.cr0 & wedge::cr0::wp) != 0;
    return cfg;
}

// A supervisor read as the CPU does it: through its TLB, here the kernel root's shadow, which is
// what the wedge runs on. A page missing there is filled first (a TLB fill: the walk of the
// guest's tables the shadow does for a fault, accessed bit included); the entry is then what
// the guest's tables gave, kept until the guest flushes it, as a TLB keeps a translation. The
// walk through the temporary slots on every read cost ~2,000 instructions (an iretq reads its
// frame and two descriptors). False: a page the guest's tables do not map readable (the
// caller's walk then reports the fault) or the shadow does not hold (a collision, MMIO).
bool read_through_shadow(uint64_t va, uint8_t *buf, size_t len) {
    if (!shadow_active() || !len || va + len < va) return false;
    for (uint64_t page = va & ~0xfffull; page < va + len; page += 0x1000) {
        if (shadow().shadow_leaf(false, page) & 1) continue;  // P
        if (shadow().handle_fault(page, xs::access_type::read_at(false)).outcome != xs::fault_outcome::fixed ||
            !(shadow().shadow_leaf(false, page) & 1))
            return false;
    }
    __builtin_memcpy(buf, reinterpret_cast<const void *>(va), len);
    return true;
}

// A supervisor write the same way (the exception frame the core's delivery pushes, ~1,400
// instructions through the walk and a temporary slot): a writable kernel-root leaf is a TLB
// entry that is writable and dirty, which the CPU writes through without a walk; any other
// page gets the fill a faulting write makes (A and D set in the guest's entries). Only
// guest-derived leaves count: shadow_leaf reads nothing through the wedge's own L1s or Xen's
// slots. False as for reads: the caller's walk then reports the fault.
bool write_through_shadow(uint64_t va, const uint8_t *buf, size_t len) {
    if (!shadow_active() || !len || va + len < va) return false;
    constexpr uint64_t present_writable = 3;  // P | R/W
    for (uint64_t page = va & ~0xfffull; page < va + len; page += 0x1000) {
        if ((shadow().shadow_leaf(false, page) & present_writable) == present_writable) continue;
        const uint64_t flushes = shadow().stats().flushes;
        const bool fixed = shadow().handle_fault(page, xs::access_type::write_at(false)).outcome == xs::fault_outcome::fixed;
        if (shadow().stats().flushes != flushes) stacks_forgotten();  // a full pool forgot the stacks too
        if (!fixed || (shadow().shadow_leaf(false, page) & present_writable) != present_writable) return false;
    }
    __builtin_memcpy(reinterpret_cast<void *>(va), buf, len);
    return true;
}

} // namespace

bool xen_backend::read(uint64_t va, void *dst, size_t len, wedge::access_mode mode, wedge::page_fault &fault) {
    // A supervisor read is first a plain load through the shadow or, under direct paging, the
    // guest's own tables, which the wedge runs on (guest_probe.h): the CPU's own translation
    // of a supervisor read (it needs only P, and sets A on the way, as the walk below does; a
    // page the shadow lacks is filled from the guest's tables first, as read_through_shadow
    // fills it). The probe refuses the wedge's addresses and the site table's spans (no
    // original bytes to overlay then), and fails where the guest's tables do not map the page,
    // outside guest RAM included: the walk below then reports it as before. It replaces a walk
    // of the guest's tables per read under direct paging and a walk of the shadow per page
    // under shadow paging (an iretq site and an exception's delivery make three reads each).
    // Under direct paging the page-table stores the core queued go to Xen first, so that the
    // CPU's translation is the guest's (as before the wedge's own faults: direct_fix_wedge_fault).
    if (mode == wedge::access_mode::supervisor && g_guest_run.running) {
        if (direct_active()) direct_send_updates();
        if (guest_probe_read(va, dst, len)) return true;
    }
    if (!access(va, static_cast<uint8_t *>(dst), len, mode, false, fault)) return false;
    // Reads through the image's physical alias (Linux's head code) see the original bytes too.
    const loaded_guest *g = g_guest_run.guest;
    guest_sites().overlay_original(g ? g->link_address(va) : va, static_cast<uint8_t *>(dst), len);
    return true;
}

bool xen_backend::write(uint64_t va, const void *src, size_t len, wedge::access_mode mode, wedge::page_fault &fault) {
    // Under direct paging a supervisor write within one page is first the CPU's own store on
    // the guest's tables (guest_probe.h), as access() below makes it after its walk: the CPU
    // checks at least what the walk does (R/W is enforced for the real ring 3 whatever the
    // guest's CR0.WP; a refusal there goes to the walk, which decides) and sets A and D. It
    // replaces that walk (an exception's delivery pushes its frame with one write); under
    // shadow paging, write_through_shadow's walk of the shadow.
    if (mode == wedge::access_mode::supervisor && g_guest_run.running) {
        if (direct_active()) {
            direct_send_updates();
            if (guest_probe_write(va, src, len)) return true;
        } else if (shadow_active() && (cpu().cr0 & wedge::cr0::wp) && shadow().config().wp) {
            // Shadow paging, with the guest's CR0.WP set: a store the shadow maps read-only
            // faults into shadow_fix_wedge_fault, which makes the fill a faulting write makes
            // (write_through_shadow's, A and D set) or refuses as the guest's tables refuse a
            // supervisor write (then the walk below reports it). With WP clear the guest may
            // write a read-only page, which the shadow does not map writable: that stays
            // write_through_shadow's (else the store would fault forever), and so does a WP
            // the shadow's walks do not follow yet (synced after the core's run: after_core).
            const uint64_t flushes = shadow().stats().flushes;
            const bool done = guest_probe_write(va, src, len);
            if (shadow().stats().flushes != flushes) stacks_forgotten();  // a full pool forgot the stacks too
            if (done) return true;
        }
    }
    return access(va, const_cast<uint8_t *>(static_cast<const uint8_t *>(src)), len, mode, true, fault);
}

uint64_t xen_backend::read_tsc() { return rdtsc(); }

void xen_backend::load_cr3(uint64_t cr3) {
    if (direct_active()) {
        // The guest's tables are Xen's: the root is loaded (adopted and validated the first
        // time) and Xen flushes the TLB, as mov cr3 does.
        xd::status s;
        {
            cost_scope t(shadow_phase::direct_root);
            s = direct().load_root(cr3);
        }
        if (s != xd::status::ok) {
            console_flush();
            print("xen-wedge: guest: direct paging: loading CR3 0x%lx failed: %s (0x%lx)\n", cr3,
                  direct_status_text(s), direct().detail());
            exit_with(verdict_fail);
        }
        ++g_run_stats.cr3_loads;
        return;
    }
    sync_paging();
    // Linux (the head code marks it) maps its kernel half globally (no PTI) and shares it in
    // every address space: with CR4.PGE a CR3 load keeps it, as the TLB does; only the user
    // half is forgotten. This also keeps every kernel stack the guest filled.
    const loaded_guest *g = g_guest_run.guest;
    bool keep = g && g->head_hi && (cpu().cr4 & wedge::cr4::pge), kept = false;
    const uint64_t forgets_before = shadow().stats().forgets;
    const uint64_t stale_before = shadow().stats().unchecked_stale;
    constexpr uint64_t root_mask = 0x000ffffffffff000ull;
    user_stack_leaving(shadow().guest_cr3() & root_mask);
    {
        cost_scope t(shadow_phase::cr3_load, shadow_phase::cr3_load_hv);
        shadow().load_cr3(cr3, keep, kept);
    }
    if (shadow().stats().unchecked_stale != stale_before) shadow_verify_failed(cr3);
    ++g_run_stats.cr3_loads;
    g_run_stats.cr3_kept += kept;
    // A user half the load kept whole still holds what was filled there for this root (its
    // user stack): nothing to refill. The kernel half a kept load keeps whole (its stacks).
    if (!kept) {
        stacks_forgotten();
        return;
    }
    kernel_half_kept(forgets_before);
    const bool intact = shadow().user_half_intact();
    if (!intact) user_stacks_forgotten();
    user_stack_back(cr3 & root_mask, intact);
}

void xen_backend::flush_tlb(bool) {
    if (direct_active()) return direct_flush_tlb();
    if (!sync_paging()) shadow().flush();
    stacks_forgotten();
}

void xen_backend::invalidate_page(uint64_t linear) {
    if (direct_active()) return direct_invalidate_page(linear);
    cost_scope t(shadow_phase::invlpg, shadow_phase::invlpg_hv);
    const uint64_t forgets_before = shadow().stats().forgets;
    shadow().invalidate_page(linear);
    stack_page_forgotten(linear, forgets_before);
}

void xen_backend::state_changed(const wedge::vcpu &c, wedge::state_change what) {
    switch (what) {
    case wedge::state_change::fs_base: set_segment_base(SEGBASE_FS, c.fs_base); break;
    // The active GS base goes to the slot of the mode the guest runs in on the way back into
    // the guest (resume: sync_gs_for_resume), with a change of CPL: the wedge itself does not
    // use %gs, and the code ahead may not either before the base changes again.
    case wedge::state_change::gs_base: break;
    // Every way into user mode (the core's iret and sysret, the fast user return) says so here.
    case wedge::state_change::privilege: if (c.cpl == 3) prefill_user_fault(); break;
    case wedge::state_change::cr0_ts: fpu_taskswitch((c.cr0 & wedge::cr0::ts) ? 1 : 0); break;
    default: break;
    }
}

void xen_backend::console_write(const char *text, size_t len) {
    for (size_t i = 0; i < len; ++i) console_put(text[i]);
}

uint64_t xen_backend::now_ns() {
    const vcpu_time_info &t = this_vcpu()->time;
    uint32_t ver;
    uint64_t ns;
    do {
        ver = t.version;
        asm volatile("" ::: "memory");
        uint64_t delta = rdtsc() - t.tsc_timestamp;
        if (t.tsc_shift < 0) delta >>= -t.tsc_shift; else delta <<= t.tsc_shift;
        ns = t.system_time + static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * t.tsc_to_system_mul) >> 32);
        asm volatile("" ::: "memory");
    } while ((ver & 1) || ver != t.version);
    return ns;
}

uint64_t xen_backend::tsc_hz() {
    // ns = (tsc << shift) * mul / 2^32, so tsc_hz = 10^9 * 2^32 / mul, shifted back (the
    // numerator, 4.3e18, fits 64 bits).
    const vcpu_time_info &t = this_vcpu()->time;
    if (!t.tsc_to_system_mul) return 0;
    uint64_t hz = (1000000000ull << 32) / t.tsc_to_system_mul;
    return t.tsc_shift < 0 ? hz << -t.tsc_shift : hz >> t.tsc_shift;
}

bool xen_backend::sync_paging() {
    if (direct_active()) return false;  // the guest's CR0.WP/EFER.NXE are what its walks use
    xs::paging_config want = paging_of(cpu()), have = shadow().config();
    if (want.nxe == have.nxe && want.wp == have.wp) return false;
    shadow().set_config(want);
    stacks_forgotten();
    return true;
}

bool xen_backend::access(uint64_t va, uint8_t *buf, size_t len, wedge::access_mode mode, bool is_write,
                        wedge::page_fault &fault) {
    bool user = mode == wedge::access_mode::user;
    if (!user && !direct_active() && (is_write ? write_through_shadow(va, buf, len) : read_through_shadow(va, buf, len)))
        return true;
    xs::access_type acc{is_write, false, user};
    uint32_t denied = (is_write ? wedge::pf_error::write : 0u) | (user ? wedge::pf_error::user : 0u);
    // All or nothing: translate every page first.
    uint64_t gpas[2];
    size_t n = 0;
    for (uint64_t a = va; a < va + len && n < 2; a = (a & ~0xfffull) + 0x1000) {
        auto r = guest_walk(a, acc);
        if (r.status != xs::walk_status::ok) {
            fault.error_code = r.status == xs::walk_status::page_fault ? r.error_code : denied;
            fault.address = a;
            return false;
        }
        gpas[n++] = r.t.gpa;
    }
    for (size_t done = 0, i = 0; done < len; ++i) {
        uint64_t a = va + done;
        size_t chunk = 0x1000 - (a & 0xfff);
        if (chunk > len - done) chunk = len - done;
        bool ok = i < 2 && gpas[i] < guest_ram_bytes();
        if (ok && direct_active()) {
            // The wedge runs on the guest's own tables: the access is made where the guest
            // would make it (Xen and the CPU set A/D; a table's read-only alias faults into
            // direct().on_write_fault through the wedge's #PF path).
            if (is_write) __builtin_memcpy(reinterpret_cast<void *>(a), buf + done, chunk);
            else __builtin_memcpy(buf + done, reinterpret_cast<const void *>(a), chunk);
        } else if (ok) {
            ok = is_write ? guest_phys_write(gpas[i], buf + done, chunk) : guest_phys_read(gpas[i], buf + done, chunk);
        }
        if (!ok) {
            // The guest's tables lead outside its RAM. The CPU would reach MMIO or nothing
            // there; behind an emulated operand (a descriptor table, a memory operand) the
            // wedge has neither. Refuse, and say where (docs/wedge-core.md, "Isolation").
            print("xen-wedge: guest: refused: a %s of guest-virtual 0x%lx through the wedge reaches "
                  "guest-physical 0x%lx, outside the guest's RAM (0x%lx bytes)\n",
                  is_write ? "write" : "read", a, i < 2 ? gpas[i] : 0, guest_ram_bytes());
            fail_run("an address outside guest RAM was refused");
        }
        done += chunk;
    }
    return true;
}

} // namespace xw
