// The trap table and the C++ side of exception delivery: a fault we did not ask for is
// reported with the full register state and ends the run with verdict_unexpected_trap, instead of
// Xen killing the domain without a word (what happens to a PV guest with no handler).
#include "traps.h"

#include "console.h"
#include "events.h"
#include "exit.h"
#include "guest_probe.h"
#include "guest.h"
#include "hypercall.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "shared_info.h"
#include "wedge/event.h"

extern "C" {
// Entry stubs, traps.S.
void trap_de();
void trap_db();
void trap_bp();
void trap_of();
void trap_br();
void trap_ud();
void trap_nm();
void trap_ts();
void trap_np();
void trap_ss();
void trap_gp();
void trap_pf();
void trap_mf();
void trap_ac();
void trap_mc();
void trap_xm();
void event_upcall();
void syscall_entry();
void failsafe_callback();

void trap_dispatch(xw::trap_frame *frame);
[[noreturn]] void syscall_dispatch(xw::trap_frame *frame);
[[noreturn]] void failsafe_report(const uint64_t *frame);
}

namespace xw {

namespace {

// trap_info.flags: bits 0-1 = the DPL an `int n` needs (0: nobody, 1-2: kernel, 3: also
// user), bit 2 = mask events on entry, like an interrupt gate clears IF. All our handlers
// run with events masked; HYPERVISOR_iret restores the interrupted mask.
constexpr uint8_t mask_events_flag = 4;

trap_info entry(uint8_t vector, void (*handler)(), uint8_t dpl = 0) {
    return trap_info{vector, static_cast<uint8_t>(dpl | mask_events_flag), FLAT_KERNEL_CS,
                     reinterpret_cast<unsigned long>(handler)};
}

// Built at run time: a function address is not a C++ constant expression, and a dynamic
// initializer would need constructor support we do not have (xen-wedge.ld forbids it).
// Vector 2 (NMI) would come through CALLBACKTYPE_nmi and #DF is Xen's own; int3 and into
// gets DPL 3 so that `int3` from our (ring 3) kernel reaches it. `into` (invalid in 64-bit
// mode) keeps DPL 0: QEMU TCG reports a refused `int $0x82` as #GP(0x822), which Xen reads
// as vector 4 and would otherwise deliver there as if the int had been allowed. Ends with a zero entry.
trap_info g_trap_table[17];

void build_trap_table() {
    const trap_info entries[] = {
        entry(0, trap_de),  entry(1, trap_db),  entry(3, trap_bp, 3), entry(4, trap_of),
        entry(5, trap_br),  entry(6, trap_ud),  entry(7, trap_nm),    entry(10, trap_ts),
        entry(11, trap_np), entry(12, trap_ss), entry(13, trap_gp),   entry(14, trap_pf),
        entry(16, trap_mf), entry(17, trap_ac), entry(18, trap_mc),   entry(19, trap_xm),
    };
    static_assert(sizeof entries / sizeof entries[0] + 1 == sizeof g_trap_table / sizeof g_trap_table[0]);
    for (unsigned i = 0; i < sizeof entries / sizeof entries[0]; ++i) g_trap_table[i] = entries[i];
    g_trap_table[sizeof entries / sizeof entries[0]] = trap_info{0, 0, 0, 0};
}

const char *vector_name(uint64_t v) {
    static const char *const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                        "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
                                        "#MF", "#AC", "#MC", "#XM"};
    return v < sizeof names / sizeof names[0] ? names[v] : "?";
}

unsigned g_breakpoints;
unsigned g_depth; // >1: we faulted while handling a fault

[[noreturn]] void report_and_exit(const trap_frame &f) {
    print("xen-wedge: TRAP %s (vector %lu) error 0x%lx at rip=0x%016lx\n", vector_name(f.vector),
          f.vector, f.error, f.rip);
    if (f.vector == afterburn::wedge::vec::pf) {
        // A PV guest cannot read %cr2; Xen stores the faulting address in vcpu_info.
        if (const vcpu_info *v = this_vcpu())
            print("xen-wedge:   cr2=0x%016lx\n", v->arch.cr2);
        else
            print("xen-wedge:   cr2 unknown (shared_info not mapped)\n");
    }
    print("xen-wedge:   cs=0x%lx rflags=0x%lx rsp=0x%016lx ss=0x%lx\n", f.cs, f.rflags, f.rsp, f.ss);
    print("xen-wedge:   rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", f.rax, f.rbx, f.rcx, f.rdx);
    print("xen-wedge:   rsi=%016lx rdi=%016lx rbp=%016lx r8 =%016lx\n", f.rsi, f.rdi, f.rbp, f.r8);
    print("xen-wedge:   r9 =%016lx r10=%016lx r11=%016lx r12=%016lx\n", f.r9, f.r10, f.r11, f.r12);
    print("xen-wedge:   r13=%016lx r14=%016lx r15=%016lx\n", f.r13, f.r14, f.r15);
    exit_with(verdict_unexpected_trap);
}

} // namespace

bool install_traps() {
    build_trap_table();
    long rc = set_trap_table(g_trap_table);
    if (rc) {
        print("xen-wedge: HYPERVISOR_set_trap_table failed: %ld\n", rc);
        return false;
    }
    // The syscall entry is Xen's way in for a `syscall` in guest user mode (guest_syscall).
    rc = set_callbacks(event_upcall, failsafe_callback, syscall_entry);
    if (rc) {
        print("xen-wedge: HYPERVISOR_set_callbacks failed: %ld\n", rc);
        return false;
    }
    // set_callbacks registers the syscall callback without CALLBACKF_mask_events: Xen then
    // enters it with events as they were in user mode (open), and an upcall could strike
    // syscall_entry/trap_dispatch before the wedge masks them ("nested trap: vector 256").
    // Like every g_trap_table entry (mask_events_flag), the callback must start with events masked.
    rc = register_callback(CALLBACKTYPE_syscall, syscall_entry, CALLBACKF_mask_events);
    if (rc) {
        print("xen-wedge: CALLBACKOP_register(syscall, mask_events) failed: %ld\n", rc);
        return false;
    }
    return true;
}

unsigned breakpoints_taken() { return g_breakpoints; }

} // namespace xw

extern "C" void trap_dispatch(xw::trap_frame *frame) {
    using namespace xw;
    if (++g_depth > 1) {
        // Printing may be what faulted; keep it to one plain write and leave.
        static const char msg[] = "xen-wedge: nested trap\n";
        write(msg, sizeof msg - 1);
        print("xen-wedge: nested: vector %lu at rip 0x%lx\n", frame->vector, frame->rip);
        exit_with(verdict_unexpected_trap);
    }
    if (frame->vector == afterburn::wedge::vec::db && guest_running()) {
        // The wedge's own single step over an interrupt shadow: cleared and resumed, or
        // the pending interrupt delivered (then guest_single_step does not return).
        --g_depth;
        if (guest_single_step(frame)) return;
        ++g_depth;
    }
    if (frame->vector != event_vector && guest_running() && !is_wedge_address(frame->rip)) {
        // The guest's exception (guest_traps.cpp): filled in the shadow and
        // retried, or delivered through the guest's IDT (then guest_trap does not return).
        --g_depth;
        guest_trap(frame);
        return;
    }
    if (frame->vector == event_vector && guest_running()) {
        --g_depth;
        guest_event(frame);  // returns, or delivers into the guest and does not
        return;
    }
    if (frame->vector == event_vector) {
        handle_events(frame->rip);
    } else if (frame->vector == afterburn::wedge::vec::pf && this_vcpu() &&
               (direct_active() ? direct_fix_wedge_fault(this_vcpu()->arch.cr2, frame->error)
                                : shadow_fix_wedge_fault(this_vcpu()->arch.cr2, frame->error))) {
        // The wedge touched guest memory through the shadow (kernel root): filled, retry; or,
        // under direct paging, wrote a page that was a table and is data again.
    } else if (guest_probe_fixup(frame)) {
        // A guest_probe_read of a page the guest's tables do not back: the probe says so.
    } else if (frame->vector == afterburn::wedge::vec::bp) {
        ++g_breakpoints; // int3 is a trap: rip already points past it, so just resume
    } else {
        report_and_exit(*frame);
    }
    --g_depth;
}

extern "C" void syscall_dispatch(xw::trap_frame *frame) {
    using namespace xw;
    // Only guest user mode makes a system call (the wedge never runs in user mode).
    guest_syscall(frame);
}

extern "C" void failsafe_report(const uint64_t *f) {
    using namespace xw;
    print("xen-wedge: FAILSAFE callback: ds=0x%lx es=0x%lx fs=0x%lx gs=0x%lx rip=0x%016lx cs=0x%lx\n",
          f[2], f[3], f[4], f[5], f[6], f[7]);
    exit_with(verdict_failsafe);
}
