// The guest through the wedge core on Xen (guest_run.h, docs/xen-backend.md).
//
// The guest kernel runs in the PV kernel mode the wedge itself runs in, on the shadow page
// tables (pv_shadow.cpp), in the same address space as the wedge. Its sensitive instructions
// are rewritten into calls to the entry window; window.S saves its registers on a wedge
// stack and calls site_dispatch(), which runs the core's run_site() against the vCPU and
// leaves through wedge_resume to wherever the core says (the end of the span, a transfer
// target, an interrupt handler). Exceptions the guest takes reach the wedge's trap table
// (traps.S); guest_trap() fills the shadow or delivers them through the guest's IDT.
#include "guest_run.h"

#include "afterburn/annotation.h"
#include "afterburn/annotation_reader.h"
#include "afterburn/sensitive_decoder.h"
#include "afterburn/site_rewriter.h"
#include "afterburn/wedge_abi.h"
#include "console.h"
#include "events.h"
#include "exit.h"
#include "hypercall.h"
#include "pv_memory.h"
#include "pv_shadow.h"
#include "shared_info.h"
#include "wedge/devices/cmos_rtc.h"
#include "wedge/devices/io_bus.h"
#include "wedge/devices/local_apic.h"
#include "wedge/devices/pic_8259.h"
#include "wedge/devices/pit_8254.h"
#include "wedge/devices/uart_8250.h"
#include "wedge/dispatch.h"
#include "wedge/emulate.h"
#include "wedge/interrupts.h"
#include "wedge/vcpu.h"

// Placement new (no <new> in a -nostdinc build).
inline void *operator new(size_t, void *p) noexcept { return p; }

namespace wedge = afterburn::wedge;
namespace ann = afterburn::annotation;
namespace rw = afterburn::rewriter;
namespace xs = afterburn::xen_shadow;
using afterburn::site_kind;
using afterburn::site_kind_count;
namespace wedge_abi = afterburn::wedge_abi;

static_assert(site_kind_count == 69, "window.S KIND_COUNT must match site_kind_count");

extern "C" {
// The vCPU object; its first page (the ABI page: virtual IF, pending) is what pv_shadow.cpp
// aliases at wedge_abi::vcpu_page, so an inline `cli` stores to the byte the core reads.
alignas(4096) unsigned char wedge_vcpu_page[(sizeof(wedge::vcpu) + 4095) & ~size_t(4095)];
extern uint64_t wedge_site_guest_rsp;  // window.S: the guest's rsp at the entry stub
[[noreturn]] void wedge_resume(const wedge::frame *f);
// window.S: HYPERVISOR_iret into the guest with this cs/ss (RPL 3: Xen's user mode).
[[noreturn]] void wedge_iret(const wedge::frame *f, uint64_t cs, uint64_t ss);
extern char wedge_user_trap_stack_top[];                       // window.S: Xen's kernel_sp
[[noreturn]] void site_dispatch(struct SiteFrame *f);
}

// window.S pushes these on the wedge's site stack (low to high).
struct SiteFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t rflags;
};

namespace xw {

namespace {

constexpr uint64_t kWedgeLo = 0xffffffff80000000ull;

// ---- console: the UART's bytes, one CONSOLEIO_write per line ------------------------------
char g_line[256];
unsigned g_line_len;
uint64_t g_lines;

void console_flush() {
    if (!g_line_len) return;
    write(g_line, g_line_len);
    g_line_len = 0;
    ++g_lines;
}

uint64_t g_last_site, g_last_kind, g_entries_seen, g_last_vector = ~0ull, g_last_trap_rip;
// Run statistics, printed with the verdict.
uint64_t g_entries, g_traps_delivered, g_user_entries, g_steps;
uint64_t g_upcalls, g_upcalls_in_wedge, g_upcall_deliveries;

// Per-kind counters: entries of annotated sites (rewritten calls, ring-3 traps) and
// trap-and-emulate fallbacks (sensitive instructions that reached the wedge without a record).
uint64_t g_kind_entries[site_kind_count], g_kind_fallback[site_kind_count];
uint64_t g_fallback, g_fallback_roomy, g_fallback_user, g_xapic_accesses;
uint64_t g_trace_fallbacks;  // the wedge option fallback-trace=N: report the first N

// Appends "name count" pairs to lines of at most ~200 characters (print's line buffer is 256).
void print_kind_counts(const char *title, const uint64_t *counts) {
    char line[224];
    unsigned len = 0, n = 0;
    auto flush = [&](bool last) {
        line[len] = 0;
        if (len || last) print("xen-wedge: guest: %s:%s%s\n", title, len ? line : " none", last ? "" : " ...");
        len = 0;
    };
    for (unsigned k = 0; k < site_kind_count; ++k) {
        if (!counts[k]) continue;
        char num[24];
        unsigned nl = 0;
        for (uint64_t v = counts[k]; v || !nl; v /= 10) num[nl++] = static_cast<char>('0' + v % 10);
        const char *name = afterburn::site_kind_name(static_cast<site_kind>(k));
        unsigned need = 1;
        for (const char *q = name; *q; ++q) ++need;
        need += 1 + nl;
        if (len + need >= sizeof line - 1) flush(false);
        line[len++] = ' ';
        for (const char *q = name; *q; ++q) line[len++] = *q;
        line[len++] = ' ';
        while (nl) line[len++] = num[--nl];
        ++n;
    }
    flush(true);
}

// The end-of-run statistics: per-kind site entries and the fallback counter ("fallback N"
// is what xen.guest.progress / xen.guest.stripped check).
void print_stats() {
    print_kind_counts("site entries by kind", g_kind_entries);
    print("xen-wedge: guest: fallback %lu (trap-and-emulate of unannotated sensitive instructions: %lu in "
          "user mode, %lu long enough to rewrite in place)\n",
          g_fallback, g_fallback_user, g_fallback_roomy);
    if (g_fallback) print_kind_counts("fallback by kind", g_kind_fallback);
    if (g_xapic_accesses) print("xen-wedge: guest: %lu xAPIC MMIO accesses emulated\n", g_xapic_accesses);
}

[[noreturn]] void fail_run(const char *what) {
    console_flush();
    print("xen-wedge: guest: %s\n", what);
    print("xen-wedge: guest: after %lu site entries (last: kind %lu at 0x%lx), last exception vector %ld at 0x%lx\n",
          g_entries_seen, g_last_kind, g_last_site, static_cast<long>(g_last_vector), g_last_trap_rip);
    print_stats();
    exit_with(kFail);
}

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return static_cast<uint64_t>(hi) << 32 | lo;
}

// ---- the site table -----------------------------------------------------------------------
struct Site {
    uint64_t start, end;  // the span; an entry returns to `end` (the core sets frame.rip)
    uint64_t insn;        // the instruction (start + pad_len with pad_before)
    ann::site_record rec;
    bool rewritten;
    bool user_trap;        // ring-3 site whose first byte is now int3 (trap_user_site)
    uint8_t original[32];  // the span's bytes before rewriting (see overlay_original)
};
constexpr uint32_t kMaxSites = 4096;
Site g_sites[kMaxSites];
uint32_t g_site_count;

const Site *find_site(uint64_t ret) {
    uint32_t lo = 0, hi = g_site_count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (g_sites[mid].start < ret) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) return nullptr;
    const Site *s = &g_sites[lo - 1];
    return ret <= s->end && s->rewritten ? s : nullptr;
}

// The core reads a memory operand's displacement from the instruction bytes
// (site + disp_offset: docs/annotation-format.md), which rewriting replaced with the call.
// Its reads of a rewritten span therefore see the original bytes.
void overlay_original(uint64_t va, uint8_t *buf, size_t len) {
    uint32_t lo = 0, hi = g_site_count;
    while (lo < hi) {  // first site starting at or after va + len
        uint32_t mid = (lo + hi) / 2;
        if (g_sites[mid].start < va + len) lo = mid + 1; else hi = mid;
    }
    for (uint32_t i = lo; i-- > 0;) {
        const Site &s = g_sites[i];
        if (s.end <= va) break;
        if (!s.rewritten && !s.user_trap) continue;
        for (uint64_t a = s.start > va ? s.start : va; a < s.end && a < va + len; ++a)
            buf[a - va] = s.original[a - s.start];
    }
}

// ---- the core's view of this machine ------------------------------------------------------
wedge::vcpu &cpu() { return *reinterpret_cast<wedge::vcpu *>(wedge_vcpu_page); }

xs::paging_config paging_of(const wedge::vcpu &c) {
    xs::paging_config cfg = shadow().config();
    cfg.nxe = (c.efer & wedge::efer::nxe) != 0;
    cfg.wp = (c.cr0 & wedge::cr0::wp) != 0;
    return cfg;
}

// ---- the guest's stacks must be in the shadow before Xen needs them -----------------------
// Xen delivers an exception to a PV kernel by writing a bounce frame on the *current* stack.
// The guest runs in kernel mode on its own stack, so a fault whose bounce frame lands on a
// page the shadow has not filled yet kills the domain (Xen cannot fault while delivering).
// Hence: the image's writable pages (where the sample guest's stacks live, .bss) are filled
// after every CR3 load / flush / invlpg (the shadow forgets them there, as a TLB does), and
// the pages under the current rsp before every return into the guest.
uint64_t g_generation = 1, g_filled_generation, g_filled_stack = ~0ull;
const LoadedGuest *g_guest;

void prefill(uint64_t va) { shadow().handle_fault(va, xs::access_type{true, false, false}); }

// The guest kernel switches to a *user* stack without a site too: Linux and the sample
// guest load the user rsp and then run the sysretq/iretq site, whose call pushes there in
// kernel mode. So the pages under the user rsp seen at each user↔kernel switch are kept
// filled in the kernel root as well (the last few distinct ones).
uint64_t g_user_stack_pages[4] = {~0ull, ~0ull, ~0ull, ~0ull};
unsigned g_user_stack_next;

void note_user_stack(uint64_t rsp) {
    uint64_t page = (rsp - 8) & ~0xfffull;
    for (uint64_t p : g_user_stack_pages)
        if (p == page) return;
    g_user_stack_pages[g_user_stack_next++ % 4] = page;
    prefill(page);
}

void ensure_stack_mapped(uint64_t rsp) {
    if (g_filled_generation != g_generation) {
        for (unsigned i = 0; i < g_guest->load_count; ++i) {
            const auto &l = g_guest->loads[i];
            if (!(l.flags & 2)) continue;
            for (uint64_t va = l.vaddr & ~0xfffull; va < l.vaddr + l.memsz; va += 0x1000) prefill(va);
        }
        for (uint64_t p : g_user_stack_pages)
            if (p != ~0ull) prefill(p);
        g_filled_generation = g_generation;
        g_filled_stack = ~0ull;
    }
    uint64_t lo = (rsp - 1024) & ~0xfffull, hi = (rsp - 8) & ~0xfffull;
    if (lo == g_filled_stack) return;
    prefill(lo);
    if (hi != lo) prefill(hi);
    g_filled_stack = lo;
}

// ---- guest user mode (virtual CPL 3) runs in Xen's user mode -----------------------------
// Xen keeps one GS base per mode (SEGBASE_GS_KERNEL / SEGBASE_GS_USER) and swaps them when
// it toggles modes; the guest has one active GS base (vcpu.gs_base, the other is its
// KERNEL_GS_BASE, virtual). So the active base goes to the slot of the mode the guest runs
// in, written only when it differs from what Xen holds there.
uint64_t g_xen_gs[2] = {~0ull, ~0ull};  // [0] kernel, [1] user: what Xen holds

void sync_gs(const wedge::vcpu &c) {
    unsigned user = c.cpl == 3;
    if (g_xen_gs[user] == c.gs_base) return;
    set_segment_base(user ? SEGBASE_GS_USER : SEGBASE_GS_KERNEL, c.gs_base);
    g_xen_gs[user] = c.gs_base;
}

// CR4.TSD is virtual in the vCPU; the guest kernel's rdtsc are sites. Only the guest's
// ring-3 rdtsc (unrewritten .user code) needs the real bit: a PV kernel may set TSD in its
// CR4 (Xen emulates mov to/from %cr4 for it and keeps TSD per vCPU), so the real TSD is set
// while the guest runs in user mode with virtual TSD set, and cleared at every way back into
// the wedge from user mode before anything else runs (the wedge's own rdtsc would trap).
bool g_real_tsd;

void set_real_tsd(bool on) {
    if (on == g_real_tsd) return;
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    v = on ? v | wedge::cr4::tsd : v & ~wedge::cr4::tsd;
    asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
    g_real_tsd = on;
}

// The guest's TSC is the real one plus the vCPU's offset (its wrmsr to IA32_TSC moved it;
// the core adds the offset at every kernel rdtsc site). A ring-3 rdtsc runs on the real CPU
// and would read the real TSC, ahead of or behind the kernel's clock. So user mode also runs
// with the real TSD set while the offset is not zero: its rdtsc/rdtscp trap, and the core
// emulates them with the offset (or raises #GP when the guest's own TSD is set).
bool user_rdtsc_traps(const wedge::vcpu &c) { return (c.cr4 & wedge::cr4::tsd) || c.tsc_offset != 0; }

class XenBackend final : public wedge::backend {
public:
    // Guest virtual memory through the guest's own tables (translate: x86 permission checks
    // and A/D bits), then guest-physical memory through the temporary slot: no fault in the
    // wedge, and exactly the guest's view even where the shadow is stale.
    bool read(uint64_t va, void *dst, size_t len, wedge::access_mode mode, wedge::page_fault &fault) override {
        if (!access(va, static_cast<uint8_t *>(dst), len, mode, false, fault)) return false;
        overlay_original(va, static_cast<uint8_t *>(dst), len);
        return true;
    }
    bool write(uint64_t va, const void *src, size_t len, wedge::access_mode mode, wedge::page_fault &fault) override {
        return access(va, const_cast<uint8_t *>(static_cast<const uint8_t *>(src)), len, mode, true, fault);
    }
    uint64_t read_tsc() override { return rdtsc(); }
    void load_cr3(uint64_t cr3) override {
        sync_paging();
        shadow().load_cr3(cr3);
        ++g_generation;
    }
    void flush_tlb(bool) override {
        if (!sync_paging()) shadow().flush();
        ++g_generation;
    }
    void invalidate_page(uint64_t linear) override {
        shadow().invalidate_page(linear);
        ++g_generation;
    }
    void state_changed(const wedge::vcpu &c, wedge::state_change what) override {
        switch (what) {
        case wedge::state_change::fs_base: set_segment_base(SEGBASE_FS, c.fs_base); break;
        // The active GS base goes to the slot of the mode the guest runs in (sync_gs); a
        // change of CPL is applied on the way back into the guest (resume).
        case wedge::state_change::gs_base: sync_gs(c); break;
        case wedge::state_change::cr0_ts: fpu_taskswitch((c.cr0 & wedge::cr0::ts) ? 1 : 0); break;
        default: break;
        }
    }
    void console_write(const char *text, size_t len) override {
        for (size_t i = 0; i < len; ++i) {
            if (text[i] == '\r') continue;
            g_line[g_line_len++] = text[i];
            if (text[i] == '\n' || g_line_len == sizeof g_line) console_flush();
        }
    }
    // Xen's system time (vcpu_time_info): TSC scaled, in ns since boot.
    uint64_t now_ns() override {
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

    // CR0.WP / EFER.NXE are walk rules: the shadow applies new ones with a full flush.
    bool sync_paging() {
        xs::paging_config want = paging_of(cpu()), have = shadow().config();
        if (want.nxe == have.nxe && want.wp == have.wp) return false;
        shadow().set_config(want);
        ++g_generation;
        return true;
    }

private:
    bool access(uint64_t va, uint8_t *buf, size_t len, wedge::access_mode mode, bool is_write,
                wedge::page_fault &fault) {
        bool user = mode == wedge::access_mode::user;
        xs::access_type acc{is_write, false, user};
        // All or nothing: translate every page first.
        uint64_t gpas[2];
        size_t n = 0;
        for (uint64_t a = va; a < va + len && n < 2; a = (a & ~0xfffull) + 0x1000) {
            auto r = xs::translate(shadow_guest_memory(), shadow().config(), shadow().guest_cr3(), a, acc);
            if (r.status != xs::walk_status::ok) {
                fault.error_code = r.status == xs::walk_status::page_fault ? r.error_code
                                                                            : (is_write ? 2u : 0u) | (user ? 4u : 0u);
                fault.address = a;
                return false;
            }
            gpas[n++] = r.t.gpa;
        }
        for (size_t done = 0, i = 0; done < len; ++i) {
            uint64_t a = va + done;
            size_t chunk = 0x1000 - (a & 0xfff);
            if (chunk > len - done) chunk = len - done;
            bool ok = i < 2 && (is_write ? guest_phys_write(gpas[i], buf + done, chunk)
                                         : guest_phys_read(gpas[i], buf + done, chunk));
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
};

// Port 0xf4: the guest's verdict (QEMU's isa-debug-exit natively). The wedge reports it and
// leaves with the same verdict through its own exit path.
class DebugExit final : public wedge::io_device {
public:
    uint32_t io_read(uint16_t, unsigned) override { return 0xffffffffu; }
    void io_write(uint16_t, unsigned, uint32_t value) override {
        console_flush();
        print("xen-wedge: guest: %lu site entries, %lu exceptions delivered, %lu returns to user mode, "
              "%lu timer upcalls (%lu in the wedge, %lu delivered an interrupt), %lu shadow single steps\n",
              g_entries, g_traps_delivered, g_user_entries, g_upcalls, g_upcalls_in_wedge, g_upcall_deliveries,
              g_steps);
        print_stats();
        print("xen-wedge: guest: verdict %u written to port 0xf4 after %lu console lines\n", value, g_lines);
        exit_with(value == 0 ? kPass : kFail);
    }
};

// Everything the core is wired to, constructed at run time (xen-wedge.ld forbids global
// constructors).
struct Platform {
    XenBackend be;
    DebugExit debug_exit;
    wedge::pic_pair pic{&cpu()};
    wedge::uart_8250 uart{be, &pic};
    wedge::pit_8254 pit{be, &pic, 0};
    wedge::cmos_rtc rtc{be, 0};
    wedge::io_bus bus;
    wedge::local_apic apic{cpu(), be};
};
alignas(Platform) unsigned char g_platform_storage[sizeof(Platform)];
Platform *g_p;
bool g_running;
wedge::frame g_frame;  // the guest's registers between an entry and wedge_resume
xs::fault_result g_pf;

wedge::cpuid_regs real_cpuid(uint32_t leaf, uint32_t subleaf, void *) {
    wedge::cpuid_regs r{};
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    // The wedge emulates an x2APIC whatever the host has (QEMU TCG has none, and the
    // xAPIC's MMIO page is not routed to the core yet: docs/wedge-core.md, "Not done yet").
    if (leaf == 1) r.ecx |= 1u << 21;
    return r;
}

void poll_devices() {
    g_p->pit.poll();
    g_p->apic.poll();
}

// ---- time: Xen's one-shot timer follows the emulated timers' next deadline ----------------
// The guest spins in loops without sites while it waits for a tick, so the wedge must get
// control on its own: VIRQ_TIMER is bound to an event channel, set_timer_op is armed at the
// earliest deadline of the PIT and the local APIC timer, and events are unmasked whenever
// the guest runs (its IF is virtual: an upcall that finds the virtual IF closed just
// returns). See docs/xen-backend.md, "Time and interrupts".
uint32_t g_timer_port = ~0u;
uint64_t g_armed_ns;  // what set_timer_op was last given (0: none)
bool g_blocking;      // in wait_halted's SCHEDOP_block

uint64_t next_deadline() {
    uint64_t a = g_p->pit.next_deadline_ns(), b = g_p->apic.next_deadline_ns();
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

void arm_timer() {
    uint64_t d = next_deadline();
    if (d == g_armed_ns) return;
    set_timer_op(d);
    g_armed_ns = d;
}

void arm_timer_at(uint64_t ns) {
    set_timer_op(ns);
    g_armed_ns = ns;
}

void mask_events() { this_vcpu()->evtchn_upcall_mask = 1; }

// Into the guest with events open: an event that became pending while they were masked
// would wait for Xen's next entry, so a hypercall makes Xen deliver it now (the upcall then
// strikes the wedge here, and guest_event retries a moment later).
void unmask_events() {
    vcpu_info_t *v = this_vcpu();
    __atomic_store_n(&v->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_SEQ_CST)) xen_version(XENVER_version, nullptr);
}

bool bind_timer() {
    evtchn_bind_virq bind{};
    bind.virq = VIRQ_TIMER;
    bind.vcpu = 0;
    long rc = event_channel_op(EVTCHNOP_bind_virq, &bind);
    if (rc) {
        print("xen-wedge: guest: EVTCHNOP_bind_virq(VIRQ_TIMER) failed: %ld\n", rc);
        return false;
    }
    evtchn_unmask unmask{};
    unmask.port = bind.port;
    rc = event_channel_op(EVTCHNOP_unmask, &unmask);
    if (rc) {
        print("xen-wedge: guest: EVTCHNOP_unmask(%u) failed: %ld\n", bind.port, rc);
        return false;
    }
    g_timer_port = bind.port;
    return true;
}

// ---- the site table from the notes, and rewriting ------------------------------------------
struct Range {
    uint64_t lo, hi;
};
Range g_user[4];
unsigned g_user_count;

// The ring-3 snippets (.user* sections): left unchanged, as kvm-wedge does.
void find_user_sections(const BootModule &m) {
    struct Shdr {
        uint32_t name, type;
        uint64_t flags, addr, offset, size;
        uint32_t link, info;
        uint64_t align, entsize;
    };
    static_assert(sizeof(Shdr) == 64);
    const uint8_t *d = m.data;
    uint64_t shoff, shnum = 0, shstrndx = 0, shentsize = 0;
    __builtin_memcpy(&shoff, d + 0x28, 8);
    shentsize = d[0x3a] | d[0x3b] << 8;
    shnum = d[0x3c] | d[0x3d] << 8;
    shstrndx = d[0x3e] | d[0x3f] << 8;
    if (!shoff || shentsize != sizeof(Shdr) || shoff + shnum * sizeof(Shdr) > m.len || shstrndx >= shnum) return;
    Shdr strtab;
    __builtin_memcpy(&strtab, d + shoff + shstrndx * sizeof(Shdr), sizeof strtab);
    for (uint64_t i = 0; i < shnum; ++i) {
        Shdr s;
        __builtin_memcpy(&s, d + shoff + i * sizeof(Shdr), sizeof s);
        if (strtab.offset + s.name + 5 >= m.len) continue;
        const char *name = reinterpret_cast<const char *>(d + strtab.offset + s.name);
        if (name[0] == '.' && name[1] == 'u' && name[2] == 's' && name[3] == 'e' && name[4] == 'r' &&
            (name[5] == 0 || name[5] == '.') && s.addr && g_user_count < 4)
            g_user[g_user_count++] = {s.addr, s.addr + s.size};
    }
}

bool in_user(uint64_t lo, uint64_t hi) {
    for (unsigned i = 0; i < g_user_count; ++i)
        if (lo < g_user[i].hi && hi > g_user[i].lo) return true;
    return false;
}

bool collect_sites(const LoadedGuest &g) {
    for (unsigned n = 0; n < g.note_count; ++n) {
        const GuestNotes &gn = g.notes[n];
        bool full = false;
        ann::walk_tables(gn.bytes, gn.bytes + gn.size, [&](const ann::table_view &t) {
            for (uint32_t i = 0; i < t.count; ++i) {
                const ann::site_record &r = ann::table_record(t, i);
                if (!afterburn::site_kind_is_instruction(static_cast<site_kind>(r.kind))) continue;
                if (g_site_count == kMaxSites) { full = true; return; }
                // The record is read from the module's copy of the note: the site is relative
                // to where the note's `site` field sits in *guest* memory.
                uint64_t field = gn.vaddr + static_cast<uint64_t>(reinterpret_cast<const uint8_t *>(&r.site) - gn.bytes);
                uint64_t addr = field + static_cast<int64_t>(r.site);
                rw::site_span sp = rw::span_of(r, addr);
                Site &s = g_sites[g_site_count++];
                s.start = sp.start;
                s.end = sp.start + sp.size;
                s.insn = sp.insn;
                s.rec = r;
                s.rewritten = false;
                s.user_trap = false;
            }
        });
        if (full) {
            print("xen-wedge: guest: more than %u sites\n", kMaxSites);
            return false;
        }
    }
    for (uint32_t i = 1; i < g_site_count; ++i) {
        Site s = g_sites[i];
        uint32_t j = i;
        for (; j && g_sites[j - 1].start > s.start; --j) g_sites[j] = g_sites[j - 1];
        g_sites[j] = s;
    }
    for (uint32_t i = 1; i < g_site_count; ++i)
        if (g_sites[i].start < g_sites[i - 1].end) {
            print("xen-wedge: guest: sites overlap: [0x%lx, 0x%lx) and [0x%lx, 0x%lx)\n", g_sites[i - 1].start,
                  g_sites[i - 1].end, g_sites[i].start, g_sites[i].end);
            return false;
        }
    return true;
}

// Ring-3 (.user) sites are not rewritten into calls: user mode cannot reach the entry window
// (it is not in the shadow's user root). Most of them fault by themselves in Xen's user mode
// as they do natively (cli, out, hlt, wbinvd: #GP; rdtsc with the real TSD; int $n: #GP(IDT),
// syscall: Xen's syscall callback). The ones that would *succeed* with the wrong answer,
// because they read state Xen owns (the segment selectors are Xen's flat ones, the
// descriptor tables Xen's), get an int3 on their first byte; the #BP (DPL 3 in the trap
// table) is resolved to the record and emulated at virtual CPL 3 (trap_user_site).
bool user_site_must_trap(site_kind k) {
    switch (k) {
    case site_kind::mov_from_seg: case site_kind::push_seg: case site_kind::sgdt: case site_kind::sidt:
    case site_kind::sldt: case site_kind::str: case site_kind::smsw: case site_kind::lar:
    case site_kind::lsl: case site_kind::verr: case site_kind::verw:
        return true;
    default:
        return false;
    }
}

bool rewrite_sites(const LoadedGuest &g) {
    rw::plan plan;
    for (unsigned k = 0; k < site_kind_count; ++k) {
        plan.kinds[k].how = rw::strategy::call;
        plan.kinds[k].target = wedge_abi::entry(static_cast<site_kind>(k));
        plan.kinds[k].slot = wedge_abi::slot(static_cast<site_kind>(k));
    }
    // cli: the core reads IF from the vCPU page (docs/wedge-core.md, "State").
    auto &cli = plan.kinds[static_cast<unsigned>(site_kind::cli)];
    cli.how = rw::strategy::inline_store;
    cli.target = wedge_abi::vcpu_virtual_if;
    cli.value = 0;
    uint32_t rewritten = 0, user = 0, failed = 0, outside = 0, inlined = 0, trapping = 0, user_traps = 0;
    for (uint32_t i = 0; i < g_site_count; ++i) {
        Site &s = g_sites[i];
        if (in_user(s.start, s.end)) {
            ++user;
            if (user_site_must_trap(static_cast<site_kind>(s.rec.kind)) && s.end - s.start <= sizeof s.original) {
                for (uint64_t b = 0; b < s.end - s.start; ++b)
                    s.original[b] = reinterpret_cast<const volatile uint8_t *>(s.start)[b];
                *reinterpret_cast<volatile uint8_t *>(s.insn) = 0xcc;
                s.user_trap = true;
                ++user_traps;
            }
            continue;
        }
        // int $n is left as it is: under Xen PV it traps as #GP(IDT) (the wedge's trap table
        // has no DPL-3 gate for it) and guest_trap delivers it with the return address right
        // after the 2-byte instruction, as the CPU pushes it. A rewritten call could only
        // push the end of the padded span (the core's rule), which the guest can see.
        if (s.rec.kind == static_cast<uint8_t>(site_kind::int_n)) { ++trapping; continue; }
        if (s.start < g.virt_lo || s.end > g.virt_hi) { ++outside; continue; }
        rw::site_span sp{s.start, s.insn, static_cast<uint32_t>(s.end - s.start)};
        if (sp.size > sizeof s.original) {
            ++failed;
            print("xen-wedge: guest: site 0x%lx: span of %u bytes is too long to keep\n", s.start, sp.size);
            continue;
        }
        for (uint32_t b = 0; b < sp.size; ++b) s.original[b] = reinterpret_cast<const volatile uint8_t *>(s.start)[b];
        // Through the guest's own mapping of its text (the boot tables map the link
        // address; the shadow fills on the wedge's faults).
        auto o = rw::rewrite_site(reinterpret_cast<uint8_t *>(s.start), sp, s.rec, plan);
        if (o == rw::outcome::rewritten) {
            s.rewritten = true;
            ++rewritten;
            inlined += s.rec.kind == static_cast<uint8_t>(site_kind::cli);
        } else {
            ++failed;
            print("xen-wedge: guest: site 0x%lx (%s) not rewritten: %s\n", s.start,
                  afterburn::site_kind_name(static_cast<site_kind>(s.rec.kind)), rw::outcome_text(o));
        }
    }
    print("xen-wedge: guest: %u sites: rewrote %u (%u cli as inline stores), %u int n left to trap, "
          "%u left in ring-3 code (%u of them trap with int3), %u outside the image, %u could not be rewritten\n",
          g_site_count, rewritten, inlined, trapping, user, user_traps, outside, failed);
    if (!g_site_count)
        print("xen-wedge: guest: no annotation records: every sensitive instruction that traps goes through "
              "the fallback\n");
    return rewritten > 0 || g_site_count == 0;
}


// The interrupt shadow (sti, mov/pop ss) holds a deliverable interrupt back for exactly one
// instruction. The guest's next instructions may contain no site (a spin loop), so nothing
// would bring the wedge back: the wedge returns with the real TF set and takes the
// single-step #DB after that one instruction (wherever it lands: guest code, or the entry
// window if the instruction was a rewritten site), then delivers.
bool g_stepping;

bool want_step(wedge::vcpu &c) {
    return c.interrupt_shadow && c.shadow_rip == g_frame.rip && c.virtual_if() && wedge::refresh_pending_hint(c);
}

// Back into the guest: virtual CPL 0 → a plain jump in Xen's kernel mode (wedge_resume);
// virtual CPL 3 → HYPERVISOR_iret into Xen's user mode on the shadow's user root.
[[noreturn]] void resume() {
    wedge::vcpu &c = cpu();
    sync_gs(c);
    if (c.cpl == 3) {
        ++g_user_entries;
        note_user_stack(g_frame.gpr[wedge::rsp]);
        arm_timer();
        set_real_tsd(user_rdtsc_traps(c));
        // IF in the iret frame is the event mask Xen restores: events open in user mode.
        static wedge::frame out;
        out = g_frame;
        out.rflags |= wedge::flags::if_;
        wedge_iret(&out, 0xe033, 0xe02b);  // FLAT_USER_CS, FLAT_USER_SS: Xen's user mode
    }
    set_real_tsd(false);
    ensure_stack_mapped(g_frame.gpr[wedge::rsp]);
    arm_timer();
    bool guest_tf = (g_frame.rflags & wedge::flags::tf) != 0;  // the guest single-steps itself
    if (guest_tf || (!g_stepping && want_step(c))) {
        // popfq in wedge_resume would trap on the wedge's own next instruction: return
        // through HYPERVISOR_iret, which sets TF with the jump into the guest. The guest's
        // own TF: its #DB then arrives at guest code and is reflected (guest_trap).
        if (!guest_tf) {
            g_stepping = true;
            ++g_steps;
        }
        g_frame.rflags |= wedge::flags::tf;
        static wedge::frame out;
        out = g_frame;
        out.rflags |= wedge::flags::if_;  // events open (Xen restores the mask from IF)
        wedge_iret(&out, 0xe030, 0xe02b);  // FLAT_KERNEL_CS with RPL 0 (kernel mode), FLAT_KERNEL_SS
    }
    unmask_events();
    wedge_resume(&g_frame);
}

// After the core ran: the shadow follows CR0.WP/EFER.NXE.
void after_core() { g_p->be.sync_paging(); }

void frame_from_trap(const TrapFrame *f) {
    uint64_t regs[16] = {f->rax, f->rcx, f->rdx, f->rbx, f->rsp, f->rbp, f->rsi, f->rdi,
                         f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
    for (unsigned i = 0; i < 16; ++i) g_frame.gpr[i] = regs[i];
    g_frame.rip = f->rip;
    g_frame.rflags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
}

// The ring-3 site whose instruction is at link address `insn` (with `int3_only`: only one
// that carries an int3), or null.
const Site *find_user_site(uint64_t insn, bool int3_only) {
    uint32_t lo = 0, hi = g_site_count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (g_sites[mid].start <= insn) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) return nullptr;
    const Site *s = &g_sites[lo - 1];
    if (s->insn != insn || s->rewritten || (int3_only && !s->user_trap)) return nullptr;
    return in_user(s->start, s->end) ? s : nullptr;
}

// user-mode address → the image's link address of the same byte (the guest maps its .user
// pages a second time for ring 3), through the guest's tables.
bool user_to_link(uint64_t va, uint64_t &link) {
    auto r = xs::translate(shadow_guest_memory(), shadow().config(), shadow().guest_cr3(), va,
                           xs::access_type{false, true, true});
    if (r.status != xs::walk_status::ok) return false;
    if (r.t.gpa < g_guest->image_lo || r.t.gpa >= g_guest->image_hi) return false;
    link = r.t.gpa + g_guest->virt_minus_phys;
    return true;
}

[[noreturn]] void run_site_and_resume(const Site &s, uint64_t site_addr, bool fallback = false);

// Trap-and-emulate fallback (docs/xen-backend.md, "Unannotated instructions"): a #GP/#UD in
// guest code at an instruction that has no record. Under Xen PV the guest kernel runs in
// ring 3, so a privileged instruction Xen does not emulate for us faults here; the wedge
// decodes it with the rewriter's sensitive_decoder (the fields of a record), builds the
// record and runs it through the core exactly like an annotated site: the guest continues
// right after the instruction (there is no padding). Returns if it is not a sensitive
// instruction (then the exception is the guest's own and is delivered).
// The xAPIC page (a guest that sees no x2APIC in CPUID, e.g. one whose `cpuid` is not
// annotated: it runs natively and reports the host's, TCG's has none). The shadow cannot map
// it (no machine frame); the plain 32-bit moves a guest uses on APIC registers are decoded
// here (mov r32 to/from memory, mov imm32 to memory) and routed to the core's local APIC.
// Anything else is left to the caller's report. Moves f->rip past the instruction.
bool xapic_mmio(TrapFrame *f, uint64_t cr2, uint64_t gpa) {
    wedge::vcpu &c = cpu();
    if ((gpa & ~0xfffull) != (c.apic_base & ~0xfffull) || (f->cs & 3) == 3 || c.cpl != 0) return false;
    uint8_t b[16];
    wedge::page_fault pf;
    if (!g_p->be.read(f->rip, b, sizeof b, wedge::access_mode::supervisor, pf)) return false;
    unsigned i = 0, rex = 0;
    if ((b[i] & 0xf0) == 0x40) rex = b[i++];
    if (rex & 8) return false;  // 64-bit access to a 32-bit register
    uint8_t op = b[i++];
    if (op != 0x89 && op != 0x8b && op != 0xc7) return false;
    uint8_t modrm = b[i++];
    unsigned mod = modrm >> 6, reg = ((modrm >> 3) & 7) | ((rex & 4) << 1), rm = modrm & 7;
    if (mod == 3 || (op == 0xc7 && (reg & 7) != 0)) return false;
    if (rm == 4) {
        uint8_t sib = b[i++];
        if (mod == 0 && (sib & 7) == 5) i += 4;
    } else if (mod == 0 && rm == 5) {
        i += 4;
    }
    i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    uint32_t offset = static_cast<uint32_t>(cr2 & 0xfff);
    if (offset & 3) return false;
    uint64_t *gpr[16] = {&f->rax, &f->rcx, &f->rdx, &f->rbx, &f->rsp, &f->rbp, &f->rsi, &f->rdi,
                         &f->r8,  &f->r9,  &f->r10, &f->r11, &f->r12, &f->r13, &f->r14, &f->r15};
    if (op == 0x8b) {
        *gpr[reg] = g_p->apic.read(offset);  // a 32-bit load zero-extends
    } else {
        uint32_t v;
        if (op == 0xc7) { __builtin_memcpy(&v, b + i, 4); i += 4; } else { v = static_cast<uint32_t>(*gpr[reg]); }
        g_p->apic.write(offset, v);
    }
    f->rip += i;
    ++g_xapic_accesses;
    return true;
}

const struct Site *g_fallback_site;
alignas(16) uint8_t g_fallback_stack[16384];
[[noreturn]] void fallback_on_wedge_stack() { run_site_and_resume(*g_fallback_site, g_fallback_site->insn, true); }

void try_fallback(const TrapFrame *f, bool from_user) {
    wedge::vcpu &c = cpu();
    if (from_user != (c.cpl == 3)) return;
    auto mode = from_user ? wedge::access_mode::user : wedge::access_mode::supervisor;
    uint8_t bytes[15];
    size_t avail = sizeof bytes;
    wedge::page_fault pf;
    if (!g_p->be.read(f->rip, bytes, avail, mode, pf)) {
        // The instruction may end just before an unmapped page: try up to the page's end.
        avail = 0x1000 - (f->rip & 0xfff);
        if (avail >= sizeof bytes || !g_p->be.read(f->rip, bytes, avail, mode, pf)) return;
    }
    afterburn::decoder::decoded d;
    if (!afterburn::decoder::decode_sensitive(bytes, avail, d)) return;
    if (d.kind == site_kind::int_n || static_cast<unsigned>(d.kind) >= site_kind_count) return;
    static Site fb;
    fb = Site{};
    fb.start = fb.insn = f->rip;
    fb.end = f->rip + d.insn_len;
    ann::site_record &r = fb.rec;
    r.site = 0;  // unused: run_site gets the address
    r.kind = static_cast<uint8_t>(d.kind);
    r.insn_len = d.insn_len;
    r.pad_len = 0;
    r.flags = d.flags;
    r.reg = d.reg;
    r.special = d.special;
    r.mem_base = d.mem_base;
    r.mem_index = d.mem_index;
    r.mem_scale = d.mem_scale;
    r.mem_seg = d.mem_seg;
    r.disp_offset = d.disp_offset;
    r.disp_size = d.disp_size;
    r.imm = d.imm;
    unsigned k = static_cast<unsigned>(d.kind);
    ++g_fallback;
    ++g_kind_fallback[k];
    if (from_user) ++g_fallback_user;
    // Rewriting would need 5 bytes (call rel32) inside the instruction itself: the code is
    // not padded, and the bytes after it belong to other instructions. Only counted.
    if (d.insn_len >= 5) ++g_fallback_roomy;
    g_last_site = f->rip;
    g_last_kind = k;
    if (g_fallback <= g_trace_fallbacks) {
        console_flush();
        print("xen-wedge: guest: fallback #%lu: %s (%u bytes) at 0x%lx, vector %lu error 0x%lx, %s mode\n", g_fallback,
              afterburn::site_kind_name(d.kind), d.insn_len, f->rip, f->vector, f->error, from_user ? "user" : "kernel");
    }
    g_fallback_site = &fb;
    // A kernel-mode trap runs on the guest's stack (Xen's bounce frame), and the emulated
    // instruction may flush the shadow (mov to %cr3/%cr0/%cr4, invlpg, wrmsr EFER): the
    // wedge would lose its own stack. Everything is in globals now (g_frame, fb): switch to
    // a wedge stack and never come back.
    asm volatile("mov %0, %%rsp\n\tcall *%1\n\tud2"
                 : : "r"(g_fallback_stack + sizeof g_fallback_stack), "r"(&fallback_on_wedge_stack)
                 : "memory");
    __builtin_unreachable();
}

[[noreturn]] void deliver_and_resume(const wedge::event &ev) {
    wedge::vcpu &c = cpu();
    if (wedge::deliver(c, g_frame, ev, g_p->be) == wedge::delivery::shutdown)
        fail_run("triple fault while delivering an exception");
    poll_devices();
    wedge::deliver_pending(c, g_frame, g_p->be);
    after_core();
    resume();
}

// hlt with nothing deliverable: block in Xen until the next emulated-timer deadline (or any
// other event), poll, deliver; bounded to 5 s without an interrupt.
void wait_halted() {
    uint64_t start = g_p->be.now_ns();
    g_blocking = true;
    while (cpu().halted) {
        poll_devices();
        if (wedge::deliver_pending(cpu(), g_frame, g_p->be)) break;
        uint64_t now = g_p->be.now_ns();
        if (now - start > 5000000000ull) fail_run("hlt: no interrupt within 5 s");
        uint64_t d = next_deadline();
        if (!d || d > start + 5000000000ull) d = start + 5000000001ull;
        arm_timer_at(d);
        sched_op(SCHEDOP_block, nullptr);  // unmasks events; their upcall strikes the wedge
        mask_events();
    }
    g_blocking = false;
    cpu().halted = false;
}

} // namespace

bool guest_running() { return g_running; }

void guest_trace_fallbacks(uint64_t n) { g_trace_fallbacks = n; }

bool guest_single_step(TrapFrame *f) {
    if (!g_stepping || f->vector != 1) return false;
    g_stepping = false;
    f->rflags &= ~wedge::flags::tf;
    // Inside the wedge (the step landed in the entry window): the site's own exit delivers.
    if (is_wedge_address(f->rip)) return true;
    frame_from_trap(f);
    wedge::vcpu &c = cpu();
    poll_devices();
    wedge::deliver_pending(c, g_frame, g_p->be);
    after_core();
    resume();
}

bool guest_prepare(const LoadedGuest &g, uint64_t cr3) {
    wedge::vcpu &c = *new (wedge_vcpu_page) wedge::vcpu();
    g_p = new (g_platform_storage) Platform();
    c.cpuid.build(real_cpuid, nullptr);
    c.cr3 = cr3;
    // The 64-bit boot protocol's state: __BOOT_CS / __BOOT_DS, IF 0.
    c.selector[1] = 0x10;
    c.selector[0] = c.selector[2] = c.selector[3] = 0x18;
    c.set_virtual_if(false);
    c.io = &g_p->bus;
    c.apic = &g_p->apic;
    c.extint = &g_p->pic;
    bool ok = g_p->bus.attach(wedge::uart_8250::com1, 8, g_p->uart) &&
              g_p->bus.attach(wedge::pic_pair::master_port, 2, g_p->pic) &&
              g_p->bus.attach(wedge::pic_pair::slave_port, 2, g_p->pic) && g_p->bus.attach(0x40, 4, g_p->pit) &&
              g_p->bus.attach(0x61, 1, g_p->pit) && g_p->bus.attach(0x70, 2, g_p->rtc) &&
              g_p->bus.attach(0xf4, 4, g_p->debug_exit);
    if (!ok) {
        print("xen-wedge: guest: cannot lay out the I/O port space\n");
        return false;
    }
    g_guest = &g;
    // Traps, events and syscalls from guest user mode land on a wedge stack (never on guest
    // memory); kernel-mode traps still use the current stack.
    long rc = stack_switch(FLAT_KERNEL_SS, reinterpret_cast<unsigned long>(wedge_user_trap_stack_top));
    if (rc) {
        print("xen-wedge: guest: HYPERVISOR_stack_switch failed: %ld\n", rc);
        return false;
    }
    find_user_sections(g.module);
    if (!collect_sites(g) || !rewrite_sites(g)) return false;
    if (!bind_timer()) return false;
    return true;
}

void guest_enter(const LoadedGuest &g) {
    // Events are masked while the wedge runs and opened on every way into the guest
    // (resume): the upcall lands where the guest runs (guest_event).
    if (vcpu_info_t *v = this_vcpu()) v->evtchn_upcall_mask = 1;
    g_frame = {};
    g_frame.gpr[wedge::rsi] = g.boot_params;
    g_frame.gpr[wedge::rsp] = g.boot_params - 16;  // identity-mapped; startup_64 sets its own
    g_frame.rip = g.entry_virt;  // the link address: rewritten sites are rel32 from there
    g_frame.rflags = wedge::flags::fixed1;
    print("xen-wedge: guest: entering at 0x%lx (boot_params 0x%lx), virtual IF 0\n", g.entry_virt, g.boot_params);
    g_running = true;
    resume();
}

void guest_trap(TrapFrame *f) {
    wedge::vcpu &c = cpu();
    bool from_user = (f->cs & 3) == 3;  // Xen's bounce frame: RPL 3 = guest user mode
    if (from_user) {
        set_real_tsd(false);
        note_user_stack(f->rsp);
    }
    if (f->vector == 14) {
        uint64_t cr2 = this_vcpu()->arch.cr2;
        xs::access_type acc{(f->error & 2) != 0, (f->error & 16) != 0, c.cpl == 3};
        auto r = shadow().handle_fault(cr2, acc);
        if (r.outcome == xs::fault_outcome::fixed && (f->error & 1) && !(f->error & 16)) {
            // A protection fault on a page the guest may access: under Xen the CPU checks a
            // privileged instruction's own accesses (lretq's pops to an RPL-0 CS, seen under
            // QEMU TCG with Xen's SMAP) against the real ring 3, and retrying would fault
            // forever. An unannotated sensitive instruction there is emulated (fallback).
            frame_from_trap(f);
            try_fallback(f, from_user);
        }
        if (r.outcome == xs::fault_outcome::fixed) {  // retry through HYPERVISOR_iret
            if (from_user) set_real_tsd(user_rdtsc_traps(c));
            return;
        }
        g_pf = r;  // inject_pf: the error code the guest's own tables give
        if (r.outcome == xs::fault_outcome::no_machine_frame && xapic_mmio(f, cr2, r.gpa)) {
            frame_from_trap(f);
            g_frame.rip = f->rip;  // xapic_mmio moved it past the access
            resume();
        }
        if (r.outcome != xs::fault_outcome::inject_pf) {
            console_flush();
            print("xen-wedge: guest: #PF at 0x%lx (rip 0x%lx, error 0x%lx): shadow outcome %u, gpa 0x%lx\n", cr2,
                  f->rip, f->error, static_cast<unsigned>(r.outcome), r.gpa);
            exit_with(kFail);
        }
    }
    // Reflect into the guest's IDT. The trap frame lies on the guest's stack right where the
    // guest's own interrupt frame goes: copy it out first, then deliver and leave through
    // wedge_resume (not back through the trap frame).
    frame_from_trap(f);
    if (f->vector == 3 && from_user && c.cpl == 3) {
        uint64_t link;
        if (user_to_link(f->rip - 1, link))
            if (const Site *s = find_user_site(link, true)) {
                g_frame.rip = f->rip - 1;
                run_site_and_resume(*s, f->rip - 1);
            }
    }
    wedge::event ev;
    uint8_t insn[2] = {};
    wedge::page_fault pf;
    if (f->vector == 13 && from_user && c.cpl == 3 && (f->error & 3) != 2) {
        // A ring-3 site that faulted in Xen's user mode (cli, sti, in/out, hlt, rdtsc with
        // TSD, rdpmc, wbinvd...): Xen's verdict is made with the real IOPL 0 and Xen's CR4,
        // the guest's may differ (user.gp's break: IOPL 3 allows cli and out). The core
        // emulates the record at virtual CPL 3 and raises #GP itself where the CPU would.
        uint64_t link;
        if (user_to_link(f->rip, link))
            if (const Site *s = find_user_site(link, false)) run_site_and_resume(*s, f->rip);
    }
    if (f->vector == 6 || (f->vector == 13 && (f->error & 3) != 2)) try_fallback(f, from_user);
    if (f->vector == 3) {
        // int3 (or `int $3`) through the trap table's DPL-3 gate: Xen reports it as a trap
        // (rip after it). Deliver it as the software interrupt it is, from the instruction,
        // so that a fault while delivering (a not-present gate) is reported there, as the CPU
        // does, and the guest gate's DPL is checked against the virtual CPL.
        auto mode = from_user ? wedge::access_mode::user : wedge::access_mode::supervisor;
        uint64_t len = 1;
        if (g_p->be.read(f->rip - 2, insn, 2, mode, pf) && insn[0] == 0xcd && insn[1] == 3) len = 2;
        g_frame.rip = f->rip - len;
        ev = wedge::event::software_interrupt(3, f->rip);
    } else if (f->vector == 14) {
        ev = wedge::event::page_fault(g_pf.error_code, g_pf.address);
    } else if (f->vector == 13 && (f->error & 3) == 2 &&
               g_p->be.read(f->rip, insn, 2, from_user ? wedge::access_mode::user : wedge::access_mode::supervisor, pf) &&
               insn[0] == 0xcd) {
        // `int $n` (guest kernel or user mode: both run in ring 3 under Xen PV): Xen's trap
        // table has no DPL-3 gate for n, so it reported #GP(IDT). The guest's IDT decides,
        // as the CPU would: the core checks the gate's DPL against the virtual CPL (a DPL-0
        // gate from user mode gives #GP(n*8+2) in the guest). The vector comes from the
        // instruction, not the error code: QEMU TCG reports n*16+2, which Xen reads as
        // vector 2n (mod 256).
        ev = wedge::event::software_interrupt(insn[1], f->rip + 2);
    } else if (wedge::pushes_error_code(static_cast<uint8_t>(f->vector))) {
        ev = wedge::event::fault(static_cast<uint8_t>(f->vector), static_cast<uint32_t>(f->error));
    } else {
        ev = wedge::event::fault(static_cast<uint8_t>(f->vector));
    }
    ++g_traps_delivered;
    g_last_vector = f->vector;
    g_last_trap_rip = f->rip;
    deliver_and_resume(ev);
}

void guest_event(TrapFrame *f) {
    ++g_upcalls;
    handle_events(f->rip);  // acknowledge every pending port (only VIRQ_TIMER is bound)
    if (is_wedge_address(f->rip)) {
        // The wedge was running (a site, a resume, SCHEDOP_block): it polls the timers on
        // its own way out, except in the short stretch after that; look again shortly.
        ++g_upcalls_in_wedge;
        if (!g_blocking) arm_timer_at(g_p->be.now_ns() + 50000);
        return;
    }
    wedge::vcpu &c = cpu();
    bool from_user = (f->cs & 3) == 3;
    if (from_user) {
        set_real_tsd(false);
        note_user_stack(f->rsp);
    }
    poll_devices();
    if (c.virtual_if() && wedge::refresh_pending_hint(c)) {
        frame_from_trap(f);
        if (wedge::deliver_pending(c, g_frame, g_p->be)) {
            ++g_upcall_deliveries;
            after_core();
            resume();
        }
    }
    arm_timer();
    if (from_user) set_real_tsd(user_rdtsc_traps(c));
    // Back through the frame: HYPERVISOR_iret restores the interrupted event mask (open).
}

// `syscall` in guest user mode reached Xen's syscall callback (on the wedge's kernel_sp):
// do what the CPU does with the guest's (virtual) MSRs: RCX = the return rip, R11 = RFLAGS,
// CS/SS from STAR[47:32], RFLAGS &= ~FMASK (IF and IOPL are virtual), rip = LSTAR, CPL 0.
// No swapgs and no stack switch, as on the CPU. EFER.SCE clear: #UD at the instruction.
void guest_syscall(TrapFrame *f) {
    mask_events();
    wedge::vcpu &c = cpu();
    set_real_tsd(false);
    note_user_stack(f->rsp);
    frame_from_trap(f);
    g_last_vector = kSyscallVector;
    g_last_trap_rip = f->rip;
    if (c.cpl != 3) fail_run("syscall callback while the guest is not in user mode");
    if (!(c.efer & wedge::efer::sce)) {
        g_frame.rip = f->rip - 2;
        deliver_and_resume(wedge::event::fault(wedge::vec::ud));
    }
    g_frame.gpr[wedge::rcx] = f->rip;
    g_frame.gpr[wedge::r11] = wedge::visible_rflags(c, g_frame) & ~wedge::flags::rf;
    uint16_t cs = static_cast<uint16_t>(c.star >> 32) & 0xfffc;
    c.selector[1] = cs;
    c.selector[2] = static_cast<uint16_t>(cs + 8);
    c.cpl = 0;
    g_frame.rflags &= ~(c.fmask & wedge::flags::real);
    g_frame.rflags |= wedge::flags::fixed1;
    if (c.fmask & wedge::flags::if_) c.set_virtual_if(false);
    if (c.fmask & wedge::flags::iopl) c.iopl = static_cast<uint8_t>(c.iopl & ~((c.fmask & wedge::flags::iopl) >> wedge::flags::iopl_shift));
    g_frame.rip = c.lstar;
    g_p->be.state_changed(c, wedge::state_change::privilege);
    poll_devices();
    wedge::deliver_pending(c, g_frame, g_p->be);
    after_core();
    resume();
}

} // namespace xw

extern "C" void site_dispatch(SiteFrame *f) {
    xw::mask_events();  // events were open in the guest (resume)
    using namespace xw;
    auto *stack = reinterpret_cast<const uint64_t *>(wedge_site_guest_rsp);
    uint64_t kind = stack[0], ret = stack[1];
    const Site *s = find_site(ret);
    if (!s || s->rec.kind != kind) {
        console_flush();
        print("xen-wedge: guest: entry(%lu) called from 0x%lx, which is not a rewritten site of that kind\n", kind,
              ret);
        exit_with(kFail);
    }
    ++g_entries;
    g_entries_seen = g_entries;
    g_last_site = s->insn;
    g_last_kind = kind;
    uint64_t regs[16] = {f->rax, f->rcx, f->rdx, f->rbx, wedge_site_guest_rsp + 16, f->rbp, f->rsi, f->rdi,
                         f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
    for (unsigned i = 0; i < 16; ++i) g_frame.gpr[i] = regs[i];
    g_frame.rip = s->insn;
    g_frame.rflags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
    run_site_and_resume(*s, s->insn);
}

// Runs the site's instruction at `site_addr` (its link address, or for a ring-3 site its
// user-mode address: the core's end-of-span rip follows it) and continues the guest.
namespace xw {
namespace {
[[noreturn]] void run_site_and_resume(const Site &site, uint64_t site_addr, bool fallback) {
    wedge::vcpu &c = cpu();
    const Site *s = &site;
    if (!fallback && s->rec.kind < site_kind_count) ++g_kind_entries[s->rec.kind];
    poll_devices();
    const wedge::frame before = g_frame;
    switch (wedge::run_site(c, g_frame, s->rec, site_addr, g_p->be)) {
    case wedge::site_exit::resume: break;
    case wedge::site_exit::halted: wait_halted(); break;
    case wedge::site_exit::shutdown: {
        // Say which event could not be delivered: emulate the site again on a copy (a raise
        // leaves the vCPU as it was).
        wedge::frame again = before;
        auto r = wedge::emulate(c, again, s->rec, site_addr, g_p->be);
        console_flush();
        print("xen-wedge: guest: the %s site at 0x%lx: action %u, vector %u error 0x%x (IDTR base 0x%lx limit 0x%x)\n",
              afterburn::site_kind_name(static_cast<site_kind>(s->rec.kind)), s->insn, static_cast<unsigned>(r.what),
              r.ev.vector, r.ev.error_code, c.idtr.base, c.idtr.limit);
        fail_run("triple fault (shutdown)");
    }
    case wedge::site_exit::bad_record: {
        console_flush();
        print("xen-wedge: guest: the core cannot emulate the %s site at 0x%lx\n",
              afterburn::site_kind_name(static_cast<site_kind>(s->rec.kind)), s->insn);
        exit_with(kFail);
    }
    }
    after_core();
    resume();
}
} // namespace
} // namespace xw
