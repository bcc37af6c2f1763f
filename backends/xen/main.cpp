// The wedge's bring-up sequence on Xen: report what Xen gave us, install exception and event
// handling, prove both paths, look at the boot module, and leave with a verdict.
#include "afterburn/site_kind.h"
#include "bootmod.h"
#include "cmdline.h"
#include "console.h"
#include "events.h"
#include "exit.h"
#include "guest_loader.h"
#include "guest.h"
#include "hypercall.h"
#include "page_table_sites.h"
#include "pv_memory.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "shared_info.h"
#include "start_info.h"
#include "traps.h"

// guest_platform.cpp, sti_fast_path.S, flags_fast_path.S, tsc_fast_path.S
extern "C" char wedge_vcpu_page[], wedge_sti_fast[], wedge_pushf_fast[], wedge_popf_fast[], wedge_rdtsc_fast[],
    wedge_rdtscp_fast[];

namespace xw {

namespace {
// Where entry(k) jumps instead of `pushq $k` (sti_fast_path.S, flags_fast_path.S,
// tsc_fast_path.S), or 0.
uint64_t fast_path_of(unsigned k) {
    using afterburn::site_kind;
    if (k == static_cast<unsigned>(site_kind::sti)) return reinterpret_cast<uint64_t>(wedge_sti_fast);
    if (k == static_cast<unsigned>(site_kind::pushf)) return reinterpret_cast<uint64_t>(wedge_pushf_fast);
    if (k == static_cast<unsigned>(site_kind::popf)) return reinterpret_cast<uint64_t>(wedge_popf_fast);
    if (k == static_cast<unsigned>(site_kind::rdtsc)) return reinterpret_cast<uint64_t>(wedge_rdtsc_fast);
    if (k == static_cast<unsigned>(site_kind::rdtscp)) return reinterpret_cast<uint64_t>(wedge_rdtscp_fast);
    return 0;
}

void print_xen_version() {
    long v = xen_version(XENVER_version, nullptr);
    xen_extraversion_t extra{};
    xen_version(XENVER_extraversion, &extra);
    extra[sizeof extra - 1] = 0;
    print("xen-wedge: running on Xen %ld.%ld%s\n", v >> 16, v & 0xffff, extra);
}

// fault=KIND makes the wedge fault on purpose, to prove that an unexpected exception is
// reported (trap table) and turned into a failing verdict rather than a silent death.
[[noreturn]] void fault_on_purpose(const slice &kind) {
    print("xen-wedge: faulting on purpose (fault=%.*s)\n", static_cast<int>(kind.len), kind.p);
    // The loads are asm so the compiler cannot reason about (or drop) the bad access.
    unsigned long scratch;
    if (kind.equals("pf")) {
        // Nothing is mapped at the bottom of the address space: the initial mapping starts
        // at VIRT_BASE in the top 2 GiB.
        asm volatile("movq (%1), %0" : "=r"(scratch) : "r"(0x10ul) : "memory");
    } else if (kind.equals("gp")) {
        // A non-canonical address.
        asm volatile("movq (%1), %0" : "=r"(scratch) : "r"(0x8000000000000000ul) : "memory");
    } else {
        asm volatile("ud2");
    }
    print("xen-wedge: fault=%.*s did not fault\n", static_cast<int>(kind.len), kind.p);
    exit_with(verdict_fail);
}

// Milestone check for the shadow: read the guest through its own virtual addresses (the
// boot tables, filled into the shadow on #PF) and compare with what the loader wrote.
bool check_guest_view(const loaded_guest &g) {
    const bool direct = direct_active();  // then nothing is filled: the guest's tables run as they are
    const uint64_t before = direct ? 0 : shadow().stats().faults_fixed;
    // The image at its link address, 256 bytes from the entry, against the module's bytes.
    const module_bytes m = g.module;
    uint64_t off = g.entry_phys - g.loads[0].paddr;
    auto *link = reinterpret_cast<const volatile uint8_t *>(g.entry_virt);
    const uint8_t *file = m.data + g.loads[0].file_offset + off;
    unsigned mismatches = 0;
    for (unsigned i = 0; i < 256 && off + i < g.loads[0].filesz; ++i) mismatches += link[i] != file[i];
    // boot_params through the identity map: "HdrS" at 0x202.
    auto *hdr = reinterpret_cast<const volatile uint32_t *>(g.boot_params + 0x202);
    uint32_t magic = *hdr;
    // A write through the identity map, read back at the link address of the same page.
    auto *scratch_low = reinterpret_cast<volatile uint64_t *>(g.loads[1].paddr + 0x1000);
    auto *scratch_high = reinterpret_cast<volatile uint64_t *>(g.loads[1].vaddr + 0x1000);
    uint64_t saved = *scratch_high;
    *scratch_low = 0x5a5a1234abcd0001ull;
    uint64_t seen = *scratch_high;
    *scratch_low = saved;
    uint64_t fixed = direct ? 0 : shadow().stats().faults_fixed - before;
    print("xen-wedge: %s: guest view: entry bytes %s at 0x%lx, boot_params magic 0x%x at 0x%lx, "
          "identity write seen at link address: %s, %lu faults filled\n",
          direct ? "direct" : "shadow", mismatches ? "DIFFER" : "match", g.entry_virt, magic, g.boot_params + 0x202,
          seen == 0x5a5a1234abcd0001ull ? "yes" : "no", fixed);
    return !mismatches && magic == 0x53726448 && seen == 0x5a5a1234abcd0001ull && (direct || fixed > 0);
}

// The entry window as a rewritten site sees it: slot(k) = entry(k), entry(k) starts with
// `pushq $k` (6a k), except sti, pushf, popf, rdtsc and rdtscp, whose entries jump to their
// fast paths (e9 rel32, sti_fast_path.S, flags_fast_path.S, tsc_fast_path.S); and the vCPU page at window + 0x20000 is the wedge's vCPU page.
bool check_window() {
    constexpr uint64_t window = 0xffffffffffe00000ull;
    constexpr unsigned kinds = afterburn::site_kind_count;
    unsigned bad = 0;
    for (unsigned k = 0; k < kinds; ++k) {
        uint64_t at = window + 64 * k;
        auto *e = reinterpret_cast<const volatile uint8_t *>(at);
        auto *slot = reinterpret_cast<const volatile uint64_t *>(window + 0x10000 + 8 * k);
        uint64_t fast = fast_path_of(k);
        int32_t rel = static_cast<int32_t>(e[1] | e[2] << 8 | e[3] << 16 | static_cast<uint32_t>(e[4]) << 24);
        bool entry_ok = fast ? e[0] == 0xe9 && at + 5 + static_cast<int64_t>(rel) == fast : e[0] == 0x6a && e[1] == k;
        bad += *slot != at || !entry_ok;
    }
    auto *mine = reinterpret_cast<volatile uint8_t *>(wedge_vcpu_page);
    auto *alias = reinterpret_cast<volatile uint8_t *>(window + 0x20000);
    alias[0] = 0xa5;
    bool same = mine[0] == 0xa5;
    alias[0] = 0;
    print("xen-wedge: shadow: entry window: %u entries and slots %s, vCPU page alias %s\n", kinds,
          bad ? "WRONG" : "ok", same ? "ok" : "WRONG");
    return !bad && same;
}

} // namespace

} // namespace xw

extern "C" [[noreturn]] void wedge_main(const start_info_t *si, unsigned long xen_rsp) {
    using namespace xw;
    print("xen-wedge: hello from the afterburn wedge, a Xen PV x86-64 kernel\n");
    if (!start_info_valid(si)) {
        print("xen-wedge: start_info magic is not xen-3.0-x86_64\n");
        exit_with(verdict_fail);
    }
    print_xen_version();
    print_start_info(si, xen_rsp);

    const char *cmdline = reinterpret_cast<const char *>(si->cmd_line);
    print("xen-wedge: guest command line \"%s\"\n", guest_cmdline(cmdline));

    if (!map_shared_info(si) || !install_traps()) exit_with(verdict_fail);
    print("xen-wedge: trap table and callbacks registered\n");

    // The trap path, end to end: int3 goes through the trap table to trap_dispatch and back
    // through HYPERVISOR_iret to the next instruction.
    asm volatile("int3" ::: "memory");
    if (breakpoints_taken() != 1) {
        print("xen-wedge: int3 self-test: %u traps taken, expected 1\n", breakpoints_taken());
        exit_with(verdict_fail);
    }
    print("xen-wedge: trap self-test: int3 handled and resumed\n");

    if (!event_self_test()) exit_with(verdict_fail);

    describe_boot_module(boot_module(si));

    slice fault = cmdline_option(cmdline, "fault");
    if (fault.found()) fault_on_purpose(fault);

    // guest: the boot module is the annotated guest ELF; load it and boot it through the
    // wedge (docs/xen-backend.md).
    if (cmdline_option(cmdline, "guest").found()) {
        static loaded_guest g;
        module_bytes kernel, initrd;
        uint64_t guest_mb = 0;  // memory=MB: guest RAM (afterburn boot --memory); unset: all left
        slice memory = cmdline_option(cmdline, "memory");
        for (unsigned i = 0; memory.found() && i < memory.len && memory.p[i] >= '0' && memory.p[i] <= '9'; ++i)
            guest_mb = guest_mb * 10 + (memory.p[i] - '0');
        if (!unpack_boot_module(boot_module(si), kernel, initrd) || !pv_memory_init(si, xen_rsp, guest_mb) ||
            !load_guest(kernel, initrd, guest_cmdline(cmdline), g))
            exit_with(verdict_fail);
        print("xen-wedge: guest loaded\n");
        uint64_t cr3 = 0;
        // paging=direct (afterburn boot --paging direct): the guest's own tables run on Xen
        // (docs/xen-direct-paging.md); otherwise shadow paging.
        const bool direct_paging = cmdline_option(cmdline, "paging").equals("direct");
        if (!direct_paging) print("xen-wedge: paging: shadow\n");
        if (direct_paging ? !direct_start(si, g) || !direct_boot_tables(g, cr3)
                          : !shadow_start(si, g) || !shadow_boot_tables(g, cr3))
            exit_with(verdict_fail);
        if (!check_guest_view(g) || !check_window()) exit_with(verdict_fail);
        auto count_option = [&](const char *key, void (*set)(uint64_t)) {
            slice trace = cmdline_option(cmdline, key);
            if (!trace.found()) return;
            uint64_t n = 0;
            for (unsigned i = 0; i < trace.len && trace.p[i] >= '0' && trace.p[i] <= '9'; ++i) n = n * 10 + (trace.p[i] - '0');
            set(trace.len ? n : ~0ull);
        };
        count_option("fallback-trace", guest_trace_fallbacks);
        count_option("trap-trace", guest_trace_traps);
        if (cmdline_option(cmdline, "heartbeat").found()) guest_heartbeat();
        // pt-sites=native|stores|wedge: page-table sites left native, the stores or all performed
        // by the wedge.
        if (slice pt = cmdline_option(cmdline, "pt-sites"); pt.found() && !set_page_table_sites(pt.p, pt.len)) {
            print("xen-wedge: pt-sites=%.*s: expected native, stores or wedge\n", static_cast<int>(pt.len), pt.p);
            exit_with(verdict_fail);
        }
        // shadow-verify (afterburn boot --verify-shadow): check every kept shadow anyway.
        if (cmdline_option(cmdline, "shadow-verify").found()) shadow_verify_unchecked_loads();
        if (direct_paging && page_table_sites_mode() != afterburn::wedge::page_table_sites::wedge) {
            print("xen-wedge: paging=direct needs pt-sites=wedge: the wedge translates the guest's entries there\n");
            exit_with(verdict_fail);
        }
        if (!guest_prepare(g, cr3)) exit_with(verdict_fail);
        guest_enter(g);
    }

    print("xen-wedge: bring-up complete\n");
    exit_with(verdict_pass);
}

extern "C" [[noreturn]] void wedge_main_returned() { xw::exit_with(xw::verdict_main_returned); }
