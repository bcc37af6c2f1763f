// Preparing the guest's run and entering it (guest.h): the platform, the trap stack for
// guest user mode, the site table and rewriting, the timer; then the first resume.
#include "console.h"
#include "guest.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "guest_time.h"
#include "hypercall.h"
#include "run_stats.h"
#include "shared_info.h"

extern "C" char wedge_user_trap_stack_top[];  // window.S: Xen's kernel_sp

namespace xw {

bool guest_running() { return g_guest_run.running; }

void guest_trace_fallbacks(uint64_t n) { g_run_stats.trace_fallbacks = n; }
void guest_trace_traps(uint64_t n) { g_run_stats.trace_traps = n; }
void guest_heartbeat() { g_run_stats.heartbeat = true; }

bool guest_prepare(const loaded_guest &g, uint64_t cr3) {
    if (!platform_init(cr3)) return false;
    g_guest_run.guest = &g;
    // Traps, events and syscalls from guest user mode land on a wedge stack (never on guest
    // memory); kernel-mode traps still use the current stack.
    long rc = stack_switch(FLAT_KERNEL_SS, reinterpret_cast<unsigned long>(wedge_user_trap_stack_top));
    if (rc) {
        print("xen-wedge: guest: HYPERVISOR_stack_switch failed: %ld\n", rc);
        return false;
    }
    if (!prepare_sites(g) || !bind_timer()) return false;
    find_fast_path_facts();  // the rewritten sites and the CPUID policy are known now
    return true;
}

void guest_enter(const loaded_guest &g) {
    // Events are masked while the wedge runs and opened on every way into the guest (resume):
    // the upcall lands where the guest runs (guest_event).
    if (vcpu_info_t *v = this_vcpu()) v->evtchn_upcall_mask = 1;
    wedge::frame &fr = g_guest_run.frame;
    fr = {};
    fr.gpr[wedge::rsi] = g.boot_params;
    fr.gpr[wedge::rsp] = g.boot_params - 16;  // identity-mapped; startup_64 sets its own
    // The link address (rewritten sites are rel32 from there), or Linux's physical entry (its
    // head sites are position independent).
    fr.rip = g.entry();
    fr.rflags = wedge::flags::fixed1;
    print("xen-wedge: guest: entering at 0x%lx (boot_params 0x%lx), virtual IF 0\n", g.entry(), g.boot_params);
    g_guest_run.running = true;
    resume();
}

} // namespace xw
