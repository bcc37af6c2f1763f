// kvm-wedge: the in-place VMM for the KVM backend (docs/kvm-backend-notes.md, "The KVM wedge").
// Under KVM the guest kernel runs in ring 0: its privileged instructions are safe and run
// natively. What the wedge buys is fewer exits: it rewrites the guest's port I/O sites into
// calls to itself and emulates the console UART in place, sending the launcher one hypercall
// per line instead of one exit per byte. It also rewrites `mov to %cr3` so that every page
// table the guest loads keeps the wedge's window mapped.
//
// Freestanding C++20: no libc, no exceptions, no RTTI, no FPU/SSE (-mgeneral-regs-only).
#include <stddef.h>
#include <stdint.h>

#include "afterburn/annotation.h"
#include "afterburn/annotation_reader.h"
#include "afterburn/wedge_abi.h"
#include "kvm_wedge_abi.h"
#include "wedge/devices/apic_timer_count.h"
#include "wedge/devices/io_bus.h"
#include "wedge/devices/uart_8250.h"
#include "wedge/emulate.h"
#include "wedge/rewrite_plan.h"
#include "wedge/site_rewrite.h"
#include "wedge/site_table.h"
#include "wedge/vcpu.h"

using namespace afterburn;
namespace abi = afterburn::kvm_wedge;
namespace ann = afterburn::annotation;

static_assert(site_kind_count == 71, "entry.S KIND_COUNT must match site_kind_count");

extern "C" {
// Freestanding: the compiler may still emit calls to these for struct copies and loops.
void *memcpy(void *d, const void *s, size_t n)
{
    auto *dp = static_cast<uint8_t *>(d);
    auto *sp = static_cast<const uint8_t *>(s);
    for (size_t i = 0; i < n; ++i) dp[i] = sp[i];
    return d;
}
void *memset(void *d, int c, size_t n)
{
    auto *dp = static_cast<uint8_t *>(d);
    for (size_t i = 0; i < n; ++i) dp[i] = static_cast<uint8_t>(c);
    return d;
}
int memcmp(const void *a, const void *b, size_t n)
{
    auto *x = static_cast<const uint8_t *>(a);
    auto *y = static_cast<const uint8_t *>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

// Shared with entry.S.
uint64_t wedge_guest_entry, wedge_guest_boot_params, wedge_guest_rsp;
extern uint8_t wedge_entries[], wedge_slots[], wedge_end[];
}

namespace {

// ---- ports and control registers ---------------------------------------------------------
inline void outb(uint16_t p, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
inline void outw(uint16_t p, uint16_t v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(p)); }
inline void outl(uint16_t p, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }
inline uint8_t inb(uint16_t p) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
inline uint16_t inw(uint16_t p) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
inline uint32_t inl(uint16_t p) { uint32_t v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline uint64_t read_cr4() { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline void invlpg(uint64_t va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
inline uint64_t rdtsc() { uint32_t lo, hi; asm volatile("rdtsc" : "=a"(lo), "=d"(hi)); return uint64_t{hi} << 32 | lo; }
inline uint64_t rdmsr(uint32_t m) { uint32_t lo, hi; asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(m)); return uint64_t{hi} << 32 | lo; }
inline void wrmsr(uint32_t m, uint64_t v) { asm volatile("wrmsr" ::"c"(m), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory"); }
[[noreturn]] inline void halt_forever() { for (;;) asm volatile("cli; hlt"); }

// ---- state --------------------------------------------------------------------------------
abi::handoff g_handoff;
constexpr uint64_t window = wedge_abi::window_base;
constexpr uint64_t temp_va = window + wedge_abi::window_size - 4096;  // temporary mapping slot
constexpr uint64_t pte_p = 1, pte_rw = 2, pte_ps = 0x80;
constexpr uint64_t pte_addr = 0x000ffffffffff000ull;

// The wedge's own page tables (4 KiB pages for the window): g_pt_l1[0..510] map the wedge's
// 2 MiB, g_pt_l1[511] is the temporary mapping slot. g_pt_l2/g_pt_l3 are spliced into guest tables
// that lack the upper levels.
alignas(4096) uint64_t g_pt_l1[512];
alignas(4096) uint64_t g_pt_l2[512];
alignas(4096) uint64_t g_pt_l3[512];

alignas(4096) abi::console_buffer g_console;
abi::request g_request;
char g_msg[256];

uint64_t pa_of(const void *p) { return g_handoff.wedge_pa + (reinterpret_cast<uint64_t>(p) - window); }

// ---- hypercalls ---------------------------------------------------------------------------
// Returns the launcher's `result` (kvm_wedge_abi.h).
uint64_t hypercall(abi::op op, uint64_t gpa, uint32_t len)
{
    g_request.op = static_cast<uint32_t>(op);
    g_request.len = len;
    g_request.gpa = gpa;
    asm volatile("" ::: "memory");
    outl(g_handoff.hypercall_port, static_cast<uint32_t>(pa_of(&g_request)));
    asm volatile("" ::: "memory");
    return g_request.result;
}

// A tiny formatter: %s, %u, %x (64-bit arguments only).
struct fmt_out {
    char *p;
    char *end;
    void put(char c) { if (p < end) *p++ = c; }
    void str(const char *s) { while (*s) put(*s++); }
    void num(uint64_t v, unsigned base)
    {
        char b[24];
        int n = 0;
        do { b[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
        while (n) put(b[--n]);
    }
};

inline uint64_t fmt_arg(const char *s) { return reinterpret_cast<uint64_t>(s); }
template <class T> uint64_t fmt_arg(T v) { return static_cast<uint64_t>(v); }

template <class... A> uint32_t format(const char *f, A... args)
{
    uint64_t vals[] = {fmt_arg(args)..., 0};
    fmt_out o{g_msg, g_msg + sizeof g_msg};
    unsigned i = 0;
    for (; *f; ++f) {
        if (*f != '%') { o.put(*f); continue; }
        ++f;
        if (*f == 'u') o.num(vals[i++], 10);
        else if (*f == 'x') o.num(vals[i++], 16);
        else if (*f == 's') o.str(reinterpret_cast<const char *>(vals[i++]));
        else o.put(*f);
    }
    return static_cast<uint32_t>(o.p - g_msg);
}

template <class... A> void log(const char *f, A... args)
{
    uint32_t n = format(f, args...);
    hypercall(abi::op::log, pa_of(g_msg), n);
}

void console_flush();

template <class... A> [[noreturn]] void fatal(const char *f, A... args)
{
    console_flush();
    uint32_t n = format(f, args...);
    hypercall(abi::op::fatal, pa_of(g_msg), n);
    halt_forever();  // the launcher ends the run on `fatal`; never resume the guest
}

// ---- the wedge core's view of this machine ---------------------------------------------------
// The guest runs in ring 0 here; only the sites the wedge rewrites (port I/O, CR3/CR8, MSRs, xsetbv) reach
// the core, which emulates them against the vCPU and the devices it hosts in place. This
// backend makes the result real: console bytes go to the launcher one line per exit, other
// ports and CR3 loads go to the (KVM-virtualized) hardware.
uint64_t g_console_flushes;

// The site table (wedge/site_table.h), rewritten with the KVM plan (wedge/rewrite_plan.h).
// Storage apart from the table, so that it stays in .bss (zero) and out of the image file.
constinit wedge::site g_site_storage[8192];
constinit wedge::site_table g_sites(g_site_storage, 8192);

void ensure_window(uint64_t cr3);

void console_flush()
{
    if (!g_console.len) return;
    hypercall(abi::op::console_write, pa_of(g_console.data), g_console.len);
    g_console.len = 0;
    ++g_console_flushes;
}

class kvm_backend final : public wedge::backend {
public:
    // Same address space, ring 0: guest memory is simply memory.
    bool read(uint64_t va, void *dst, size_t len, wedge::access_mode, wedge::page_fault &) override
    {
        memcpy(dst, reinterpret_cast<const void *>(va), len);
        g_sites.overlay_original(va, static_cast<uint8_t *>(dst), len);
        return true;
    }
    bool write(uint64_t va, const void *src, size_t len, wedge::access_mode, wedge::page_fault &) override
    {
        memcpy(reinterpret_cast<void *>(va), src, len);
        return true;
    }
    uint64_t read_tsc() override
    {
        uint32_t lo, hi;
        asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return static_cast<uint64_t>(hi) << 32 | lo;
    }
    void load_cr3(uint64_t cr3) override
    {
        ensure_window(cr3);  // the new tables must map the wedge before the switch
        write_cr3(cr3);
    }
    void flush_tlb(bool) override { write_cr3(read_cr3()); }
    void invalidate_page(uint64_t linear) override { invlpg(linear); }
    // Only port I/O and CR3 loads reach the core here (CR8 and MSRs are handled above); all other state is the real CPU's.
    void state_changed(const wedge::vcpu &, wedge::state_change) override {}
    void console_write(const char *text, size_t len) override
    {
        for (size_t i = 0; i < len; ++i) {
            g_console.data[g_console.len++] = static_cast<uint8_t>(text[i]);
            if (text[i] == '\n' || g_console.len == abi::console_capacity) console_flush();
        }
    }
    uint64_t now_ns() override { return read_tsc(); }  // no timer device is hosted here
};

// Ports the wedge does not emulate: the real instruction, executed here in ring 0 (KVM's
// in-kernel PIC/PIT, port 0x80, the launcher's debug-exit port). That exit is the one the
// fallback path takes too.
class hardware_ports final : public wedge::io_device {
public:
    uint32_t io_read(uint16_t port, unsigned size) override
    {
        switch (size) {
        case 1: return inb(port);
        case 2: return inw(port);
        default: return inl(port);
        }
    }
    void io_write(uint16_t port, unsigned size, uint32_t v) override
    {
        if (port < 0xf8 && port + size > 0xf4) console_flush();  // the verdict ends the run
        switch (size) {
        case 1: outb(port, static_cast<uint8_t>(v)); break;
        case 2: outw(port, static_cast<uint16_t>(v)); break;
        default: outl(port, v); break;
        }
    }
};

// ---- page tables: keep the window mapped in every address space the guest loads -----------
// Guest tables hold guest-physical addresses; the wedge reaches any of them through its
// temporary mapping slot (g_pt_l1[511], the last page of the window).
volatile uint64_t *map_table(uint64_t pa)
{
    g_pt_l1[511] = (pa & pte_addr) | pte_p | pte_rw;
    invlpg(temp_va);
    return reinterpret_cast<volatile uint64_t *>(temp_va);
}

uint64_t g_splices;

// Makes the tables rooted at `cr3` map the window at L4[511] -> L3[511] -> L2[511] -> g_pt_l1.
// Fills in only empty entries; a conflicting one is fatal (never a silent corruption).
void ensure_window(uint64_t cr3)
{
    uint64_t pml4 = cr3 & pte_addr;
    uint64_t want_l3 = pa_of(g_pt_l3), want_l2 = pa_of(g_pt_l2), want_l1 = pa_of(g_pt_l1);
    volatile uint64_t *t = map_table(pml4);
    uint64_t e4 = t[511];
    if (!(e4 & pte_p)) {
        t[511] = want_l3 | pte_p | pte_rw;
        ++g_splices;
        log("CR3 %x: PML4[511] was empty: installed the wedge's PDPT", cr3);
        return;
    }
    if ((e4 & pte_addr) == want_l3) return;
    t = map_table(e4 & pte_addr);
    uint64_t e3 = t[511];
    if (!(e3 & pte_p)) {
        t[511] = want_l2 | pte_p | pte_rw;
        if (!g_splices++)
            log("CR3 %x: PDPT[511] (table %x) was empty: installed the wedge's page directory (later splices "
                "are not logged)", cr3, e4 & pte_addr);
        return;
    }
    if (e3 & pte_ps)
        fatal("CR3 %x: the guest maps a 1 GiB page at PML4[511]/PDPT[511] (entry %x): that covers the wedge "
              "window 0xffffffffffe00000; refusing to load these tables", cr3, e3);
    if ((e3 & pte_addr) == want_l2) return;
    uint64_t l2 = e3 & pte_addr;
    t = map_table(l2);
    uint64_t e2 = t[511];
    if (!(e2 & pte_p)) {
        t[511] = want_l1 | pte_p | pte_rw;
        ++g_splices;
        log("CR3 %x: PDPT[511] is the guest's (page directory %x): installed the wedge in its PD[511]", cr3, l2);
        return;
    }
    if (!(e2 & pte_ps) && (e2 & pte_addr) == want_l1) return;
    fatal("CR3 %x: the guest's PD[511] at %x maps %x over the wedge window 0xffffffffffe00000; "
          "refusing to load these tables", cr3, l2, e2);
}

// ---- entries ------------------------------------------------------------------------------
struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t kind, rflags, ret;
};

// The emulated UART's THRE interrupt (Linux's tty output waits for it): the line level goes to
// the launcher, which drives the VM's in-kernel PIC. One hypercall per level change.
class launcher_irq final : public wedge::irq_sink {
public:
    void set_irq(unsigned line, bool level) override { hypercall(abi::op::set_irq, level ? 1 : 0, line); }
};

kvm_backend g_backend;
hardware_ports g_hardware;
launcher_irq g_irq;
wedge::uart_8250 g_uart(g_backend, &g_irq);
wedge::io_bus g_bus;
wedge::vcpu g_cpu;
uint64_t g_entries[site_kind_count];

void attach_devices()
{
    bool ok = g_bus.attach(wedge::uart_8250::com1, 8, g_uart) && g_bus.attach(0, wedge::uart_8250::com1, g_hardware) &&
              g_bus.attach(wedge::uart_8250::com1 + 8, 0x10000 - (wedge::uart_8250::com1 + 8), g_hardware);
    if (!ok) fatal("cannot lay out the I/O port space");
    g_cpu.io = &g_bus;
}

// ---- the local APIC timer's current count (wedge/devices/apic_timer_count.h) ----------------
// KVM's in-kernel LAPIC reads the current count as 0 whenever its host timer is overdue; in
// an L1 under QEMU TCG one exit takes longer than a short timer period, so a periodic timer
// reads 0 nearly always. The wedge mirrors the guest's x2APIC timer writes and answers the
// current-count reads from the APIC bus clock, derived from the TSC with a ratio measured
// against KVM's own count at start (a one-shot count far from expiry reads correctly).
wedge::apic_timer_count g_apic_timer;
uint64_t g_bus_per_tsc_q32;  // APIC bus ticks per TSC tick, 32.32 fixed point; 0: not measured

uint64_t apic_bus_now() { return static_cast<uint64_t>((static_cast<unsigned __int128>(rdtsc()) * g_bus_per_tsc_q32) >> 32); }

// Measured through the xAPIC page (the launcher's identity map covers it; the guest has not
// run yet, so the LAPIC is in its reset state and is put back there).
void measure_apic_bus()
{
    auto reg = [](uint32_t off) -> volatile uint32_t & { return *reinterpret_cast<volatile uint32_t *>(0xfee00000ull + off); };
    constexpr uint64_t window_ticks = 20000000;  // 20 ms of a 1 GHz bus
    uint32_t svr = reg(0xf0), lvt = reg(0x320), div = reg(0x3e0);
    reg(0xf0) = svr | 0x100;
    reg(0x320) = 1u << 16;  // masked one-shot: never fires during the measurement
    reg(0x3e0) = 0xb;       // divide by 1
    reg(0x380) = 0xffffffffu;
    auto sample = [&](uint64_t &tsc, uint32_t &count) {  // the TSC bracketing the read
        uint64_t a = rdtsc();
        count = reg(0x390);
        tsc = a + (rdtsc() - a) / 2;
    };
    uint64_t t0, t1 = 0;
    uint32_t c0, c1 = 0;
    sample(t0, c0);
    for (uint32_t i = 0; i < 10000000; ++i) {
        sample(t1, c1);
        if (c1 == 0 || c0 - c1 >= window_ticks) break;
    }
    reg(0x380) = 0;
    reg(0x3e0) = div;
    reg(0x320) = lvt;
    reg(0xf0) = svr;
    if (c1 == 0 || c1 >= c0 || t1 <= t0 || c0 - c1 < window_ticks) {
        log("APIC timer: could not measure the bus clock (count %x -> %x): current-count reads go to KVM", c0, c1);
        return;
    }
    g_bus_per_tsc_q32 = (static_cast<uint64_t>(c0 - c1) << 32) / (t1 - t0);
    log("APIC timer: bus clock %u ticks per 1000 TSC ticks: the wedge answers current-count reads",
        (g_bus_per_tsc_q32 * 1000) >> 32);
}

// A rewritten rdmsr/wrmsr site gets its original bytes back (restore_site): the guest then
// runs the instruction natively at its own address, so a fault on an MSR the CPU refuses is
// reported where the guest's exception fixups expect it. CR0.WP is lifted for the write: the
// guest may map its text read-only.
void restore_site(wedge::site &s)
{
    uint64_t cr0;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    asm volatile("mov %0, %%cr0" ::"r"(cr0 & ~(1ull << 16)) : "memory");
    for (uint32_t i = 0; i < s.size(); ++i) reinterpret_cast<volatile uint8_t *>(s.start)[i] = s.original[i];
    asm volatile("mov %0, %%cr0" ::"r"(cr0) : "memory");
    s.rewritten = false;
}

// rdmsr/wrmsr: x2APIC registers (0x800-0x8ff) are accessed here for real, the timer's writes
// mirrored and its current count (0x839) answered from apic_bus_now(); any other MSR, or any
// MSR when the bus clock could not be measured, sends the site back to native execution. The real access comes first, so it faults exactly when the
// CPU would (then, at the wedge's address: only for a guest using x2APIC MSRs out of x2APIC mode).
void msr_site(frame *f, wedge::site &s)
{
    uint32_t msr = static_cast<uint32_t>(f->rcx);
    if (msr < 0x800 || msr > 0x8ff || !g_bus_per_tsc_q32) {
        restore_site(s);
        f->ret = s.start;
        return;
    }
    if (s.rec.kind == static_cast<uint8_t>(site_kind::rdmsr)) {
        uint64_t v = rdmsr(msr);
        if (msr == 0x839) v = g_apic_timer.read(apic_bus_now());
        f->rax = static_cast<uint32_t>(v);
        f->rdx = v >> 32;
    } else {
        uint64_t v = (f->rdx << 32) | static_cast<uint32_t>(f->rax);
        uint64_t now = apic_bus_now();
        wrmsr(msr, v);
        if (msr == 0x832) g_apic_timer.write_lvt(static_cast<uint32_t>(v));
        if (msr == 0x83e) g_apic_timer.write_divide(static_cast<uint32_t>(v));
        if (msr == 0x838) g_apic_timer.write_initial(static_cast<uint32_t>(v), now);
    }
    f->ret = s.resume_after_call(f->ret);
}

// ---- xsetbv ------------------------------------------------------------------------------
// QEMU before 8.2 as the L0 lets a nested guest's xsetbv through without the exit the L1's
// KVM asked for: the emulated CPU's XCR0 changes, KVM's copy does not, and KVM loads its stale
// copy at the next entry after any exit (docs/kvm-backend-notes.md, "xsetbv"). So the wedge
// hands XCR0 writes to the launcher, which sets the vCPU's with KVM_SET_XCRS; KVM loads it
// on the way back in. What the CPU would refuse (CR4.OSXSAVE clear: #UD; an XCR other than
// 0 or a value KVM refuses: #GP) goes back to native execution at the guest's own address,
// where it faults as it should.
void xsetbv_site(frame *f, wedge::site &s)
{
    constexpr uint64_t cr4_osxsave = 1ull << 18;
    uint64_t value = (f->rdx << 32) | static_cast<uint32_t>(f->rax);
    uint32_t index = static_cast<uint32_t>(f->rcx);
    if (!(read_cr4() & cr4_osxsave) || index != 0 || hypercall(abi::op::set_xcr, value, index) != 0) {
        log("xsetbv %x of XCR%u at %x would fault: the site runs natively from now on", value, static_cast<uint64_t>(index),
            s.start);
        restore_site(s);
        f->ret = s.start;
        return;
    }
    f->ret = s.resume_after_call(f->ret);
}

// ---- mov to %cr8 --------------------------------------------------------------------------
// QEMU 7.2's TCG (the L0 of a nested run) aborts when a nested guest writes CR8 while the L1
// has a virtual interrupt requested (helper_write_crN raises CPU_INTERRUPT_VIRQ without the
// iothread lock: "tcg_handle_interrupt: assertion failed: (qemu_mutex_iothread_locked())").
// KVM requests one whenever an interrupt waits for the guest's IF, so a kernel that writes
// CR8 with interrupts pending (the sample guest between checks) killed about one run in two.
// CR8 is TPR[7:4]: the wedge writes the TPR instead, through x2APIC MSR 0x808 or the xAPIC
// page (mapped through the temporary slot), which KVM handles as the same priority change.
uint64_t wedge_rsp_of(const frame *f) { return reinterpret_cast<uint64_t>(&f->ret) + 8; }

void write_tpr(uint32_t tpr)
{
    constexpr uint64_t x2apic_enabled = 1ull << 10;
    uint64_t base = rdmsr(0x1b);
    if (base & x2apic_enabled) {
        wrmsr(0x808, tpr);
        return;
    }
    volatile uint64_t *page = map_table(base & pte_addr);
    reinterpret_cast<volatile uint32_t *>(const_cast<uint64_t *>(page))[0x80 / 4] = tpr;
}

} // namespace

// The guest's registers as entry.S saved them, in the core's frame and back.
extern "C" void wedge_dispatch(frame *f)
{
    const wedge::site *s = g_sites.find_by_return(f->ret);
    if (!s) fatal("entry(%u) called from %x, which is not a rewritten site", f->kind, f->ret);
    if (s->rec.kind != f->kind)
        fatal("entry(%u) called from the site at %x of kind %u", f->kind, s->start, static_cast<uint64_t>(s->rec.kind));
    ++g_entries[s->rec.kind];
    if (s->rec.kind == static_cast<uint8_t>(site_kind::rdmsr) || s->rec.kind == static_cast<uint8_t>(site_kind::wrmsr))
        return msr_site(f, *const_cast<wedge::site *>(s));
    if (s->rec.kind == static_cast<uint8_t>(site_kind::xsetbv)) return xsetbv_site(f, *const_cast<wedge::site *>(s));
    uint64_t *regs[16] = {&f->rax, &f->rcx, &f->rdx, &f->rbx, nullptr, &f->rbp, &f->rsi, &f->rdi,
                          &f->r8,  &f->r9,  &f->r10, &f->r11, &f->r12, &f->r13, &f->r14, &f->r15};
    if (s->rec.kind == static_cast<uint8_t>(site_kind::mov_to_cr) && s->rec.special == 8) {
        write_tpr(static_cast<uint32_t>((regs[s->rec.reg & 15] ? *regs[s->rec.reg & 15] : wedge_rsp_of(f)) & 0xf) << 4);
        f->ret = s->resume_after_call(f->ret);
        return;
    }
    wedge::frame wf{};
    for (unsigned i = 0; i < 16; ++i) wf.gpr[i] = regs[i] ? *regs[i] : 0;
    wf.gpr[wedge::rsp] = reinterpret_cast<uint64_t>(&f->ret) + 8;  // the guest's RSP at the site
    wf.rflags = f->rflags;
    uint64_t insn = s->insn;
    wf.rip = insn;
    auto result = wedge::emulate(g_cpu, wf, s->rec, insn, g_backend, s->resume_after_call(f->ret));
    if (result.what != wedge::action::resume)
        fatal("the wedge core did not resume the %u site at %x (action %u, vector %u)",
              static_cast<uint64_t>(s->rec.kind), insn, static_cast<uint64_t>(result.what),
              static_cast<uint64_t>(result.ev.vector));
    for (unsigned i = 0; i < 16; ++i)
        if (regs[i]) *regs[i] = wf.gpr[i];
    f->rflags = (f->rflags & ~wedge::flags::real) | (wf.rflags & wedge::flags::real);
    f->ret = wf.rip;
}

namespace {

void collect_sites(uint32_t &tables, uint32_t &records)
{
    for (uint32_t n = 0; n < g_handoff.note_count && n < abi::max_note_ranges; ++n) {
        const uint64_t va = g_handoff.notes[n].va;
        wedge::note_refusal no;
        auto res = g_sites.add_notes(reinterpret_cast<const uint8_t *>(va), g_handoff.notes[n].size, va, no);
        if (no.refused)
            fatal("PT_NOTE %u at %x: record %u (kind %u, site %x): %s", n, va, no.record,
                  static_cast<uint64_t>(no.kind), no.site_addr, no.why);
        if (res.error != ann::table_error::ok)
            fatal("PT_NOTE %u at %x: malformed notes at offset %x: %s", n, va, res.error_offset,
                  ann::table_error_text(res.error));
        tables += res.tables;
        records += res.records;
    }
    wedge::site_conflict c;
    if (!g_sites.seal(c))
        fatal("annotated sites overlap: [%x, %x) and [%x, %x)", c.first->start, c.first->end, c.second->start,
              c.second->end);
    for (uint32_t i = 0; i < g_handoff.user_count && i < abi::max_user_ranges; ++i)
        g_sites.mark_user_code(g_handoff.user_code[i].va, g_handoff.user_code[i].va + g_handoff.user_code[i].size);
}

// The guest's text, in this address space at its link address.
class guest_text final : public wedge::site_bytes {
public:
    uint8_t *span(uint64_t start, uint32_t) override { return reinterpret_cast<uint8_t *>(start); }
    void cannot_rewrite(const wedge::site &s, rewriter::outcome why) override
    {
        log("site %x (%s): not rewritten: %s; it traps to the launcher instead", s.start,
            site_kind_name(static_cast<site_kind>(s.rec.kind)), rewriter::outcome_text(why));
    }
};

void rewrite_sites()
{
    guest_text text;
    wedge::rewrite_counts c = wedge::apply_plan(g_sites, wedge::plan_for(wedge::backend_id::kvm), text);
    const uint32_t *k = c.by_kind;
    log("%u sites: rewrote %u (in %u, out %u, ins %u, outs %u, mov to cr3/cr8 %u, rdmsr %u, wrmsr %u, xsetbv %u), %u run natively "
        "in ring 0, %u left in ring-3 code, %u left in .altinstr_replacement, %u could not be rewritten",
        g_sites.count(), c.rewritten, k[static_cast<unsigned>(site_kind::in)], k[static_cast<unsigned>(site_kind::out)],
        k[static_cast<unsigned>(site_kind::ins)], k[static_cast<unsigned>(site_kind::outs)],
        k[static_cast<unsigned>(site_kind::mov_to_cr)], k[static_cast<unsigned>(site_kind::rdmsr)],
        k[static_cast<unsigned>(site_kind::wrmsr)], k[static_cast<unsigned>(site_kind::xsetbv)], c.by_plan, c.user,
        c.replacement, c.failed);
    log("sites digest %x (fnv1a64 over %u sites)", wedge::sites_digest(g_sites, text), g_sites.count());
}

// The layout entry.S and the linker script promise (docs/wedge-abi.md), checked in the image.
void check_window_layout()
{
    for (unsigned k = 0; k < site_kind_count; ++k) {
        const uint8_t *e = wedge_entries + wedge_abi::entry_stride * k;
        uint64_t slot;
        memcpy(&slot, wedge_slots + 8 * k, 8);
        if (reinterpret_cast<uint64_t>(e) != wedge_abi::entry(static_cast<site_kind>(k)) ||
            slot != wedge_abi::entry(static_cast<site_kind>(k)) ||
            e[0] != 0x9c || e[1] != 0xfa || e[2] != 0x6a || e[3] != k)
            fatal("entry window layout is wrong at kind %u", k);
    }
    if (reinterpret_cast<uint64_t>(wedge_slots) != wedge_abi::slot_table) fatal("slot table misplaced");
}

// Switch the window from the launcher's one 2 MiB page to g_pt_l1 (4 KiB pages plus the
// temporary slot). At this point the launcher's tables identity-map low memory.
void take_over_window()
{
    for (unsigned i = 0; i < 511; ++i) g_pt_l1[i] = (g_handoff.wedge_pa + 4096ull * i) | pte_p | pte_rw;
    g_pt_l1[511] = 0;
    g_pt_l2[511] = pa_of(g_pt_l1) | pte_p | pte_rw;
    g_pt_l3[511] = pa_of(g_pt_l2) | pte_p | pte_rw;
    uint64_t cr3 = read_cr3();
    auto *l4 = reinterpret_cast<uint64_t *>(cr3 & pte_addr);
    uint64_t e4 = l4[511];
    if (!(e4 & pte_p) || (e4 & pte_ps)) halt_forever();
    auto *l3 = reinterpret_cast<uint64_t *>(e4 & pte_addr);
    uint64_t e3 = l3[511];
    if (!(e3 & pte_p) || (e3 & pte_ps)) halt_forever();
    auto *l2 = reinterpret_cast<uint64_t *>(e3 & pte_addr);
    l2[511] = pa_of(g_pt_l1) | pte_p | pte_rw;  // was: wedge_pa | PS
    write_cr3(cr3);
}

} // namespace

// Static constructors (the wedge core's devices are objects wired to the backend).
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

extern "C" void wedge_main(const abi::handoff *h)
{
    for (auto *ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
    if (h->magic != abi::handoff_magic || h->version != abi::handoff_version) halt_forever();
    g_handoff = *h;
    take_over_window();
    hypercall(abi::op::register_console, pa_of(&g_console), sizeof g_console);
    check_window_layout();
    attach_devices();
    uint32_t tables = 0, records = 0;
    collect_sites(tables, records);
    log("%u Afterburn tables, %u records in %u PT_NOTE segments", tables, records, g_handoff.note_count);
    measure_apic_bus();
    rewrite_sites();
    if (g_handoff.splice_pd) {  // Linux: its static kernel tables get the window in advance
        volatile uint64_t *pd = map_table(g_handoff.splice_pd);
        if (pd[511] & pte_p)
            fatal("the guest's page directory %x already maps %x at entry 511 (the wedge window)", g_handoff.splice_pd,
                  pd[511]);
        pd[511] = pa_of(g_pt_l1) | pte_p | pte_rw;
        log("installed the wedge window in the guest's page directory %x (entry 511)", g_handoff.splice_pd);
    }
    wedge_guest_entry = g_handoff.guest_entry;
    wedge_guest_boot_params = g_handoff.boot_params;
    wedge_guest_rsp = g_handoff.guest_rsp;
    log("entering the guest at %x (boot_params %x)", wedge_guest_entry, wedge_guest_boot_params);
}
