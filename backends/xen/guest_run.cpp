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
#include "afterburn/site_rewriter.h"
#include "afterburn/wedge_abi.h"
#include "console.h"
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

[[noreturn]] void fail_run(const char *what) {
    console_flush();
    print("xen-wedge: guest: %s\n", what);
    print("xen-wedge: guest: after %lu site entries (last: kind %lu at 0x%lx), last exception vector %ld at 0x%lx\n",
          g_entries_seen, g_last_kind, g_last_site, static_cast<long>(g_last_vector), g_last_trap_rip);
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
        if (!s.rewritten) continue;
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

void ensure_stack_mapped(uint64_t rsp) {
    if (g_filled_generation != g_generation) {
        for (unsigned i = 0; i < g_guest->load_count; ++i) {
            const auto &l = g_guest->loads[i];
            if (!(l.flags & 2)) continue;
            for (uint64_t va = l.vaddr & ~0xfffull; va < l.vaddr + l.memsz; va += 0x1000) prefill(va);
        }
        g_filled_generation = g_generation;
        g_filled_stack = ~0ull;
    }
    uint64_t lo = (rsp - 1024) & ~0xfffull, hi = (rsp - 8) & ~0xfffull;
    if (lo == g_filled_stack) return;
    prefill(lo);
    if (hi != lo) prefill(hi);
    g_filled_stack = lo;
}

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
        // The guest kernel runs in Xen's kernel mode: its active GS base is Xen's kernel one.
        // (KERNEL_GS_BASE becomes real only when the guest goes to user mode: milestone 4+.)
        case wedge::state_change::gs_base: set_segment_base(SEGBASE_GS_KERNEL, c.gs_base); break;
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
                fault.error_code = 1 | (is_write ? 2u : 0u) | (user ? 4u : 0u);
                fault.address = a;
                return false;
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
uint64_t g_entries, g_traps_delivered;
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
    uint32_t rewritten = 0, user = 0, failed = 0, outside = 0, inlined = 0;
    for (uint32_t i = 0; i < g_site_count; ++i) {
        Site &s = g_sites[i];
        if (in_user(s.start, s.end)) { ++user; continue; }
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
    print("xen-wedge: guest: %u sites: rewrote %u (%u cli as inline stores), %u left in ring-3 code, "
          "%u outside the image, %u could not be rewritten\n",
          g_site_count, rewritten, inlined, user, outside, failed);
    return rewritten > 0;
}

[[noreturn]] void resume() {
    ensure_stack_mapped(g_frame.gpr[wedge::rsp]);
    wedge_resume(&g_frame);
}

// After the core ran: the shadow follows CR0.WP/EFER.NXE; a change of privilege to ring 3
// needs Xen's user mode (not yet).
void after_core() {
    g_p->be.sync_paging();
    if (cpu().cpl != 0) fail_run("the guest entered ring 3: user mode is not implemented yet (milestone 4+)");
}

// hlt with nothing deliverable: no Xen timer yet (milestone 5), so poll the emulated timers
// until one fires, bounded.
void wait_halted() {
    uint64_t start = g_p->be.now_ns();
    while (cpu().halted) {
        poll_devices();
        if (wedge::deliver_pending(cpu(), g_frame, g_p->be)) break;
        if (g_p->be.now_ns() - start > 5000000000ull)
            fail_run("hlt: no interrupt within 5 s (Xen timer events are milestone 5)");
        asm volatile("pause");
    }
    cpu().halted = false;
}

} // namespace

bool guest_running() { return g_running; }

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
    find_user_sections(g.module);
    if (!collect_sites(g) || !rewrite_sites(g)) return false;
    return true;
}

void guest_enter(const LoadedGuest &g) {
    // Events stay masked while the guest runs: the upcall would land on the guest's stack
    // and nothing routes Xen events to the vCPU yet (milestone 5).
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
    if (f->vector == 14) {
        uint64_t cr2 = this_vcpu()->arch.cr2;
        xs::access_type acc{(f->error & 2) != 0, (f->error & 16) != 0, c.cpl == 3};
        auto r = shadow().handle_fault(cr2, acc);
        if (r.outcome == xs::fault_outcome::fixed) return;  // retry through HYPERVISOR_iret
        g_pf = r;  // inject_pf: the error code the guest's own tables give
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
    uint64_t regs[16] = {f->rax, f->rcx, f->rdx, f->rbx, f->rsp, f->rbp, f->rsi, f->rdi,
                         f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
    for (unsigned i = 0; i < 16; ++i) g_frame.gpr[i] = regs[i];
    g_frame.rip = f->rip;
    g_frame.rflags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
    wedge::event ev;
    if (f->vector == 14) {
        ev = wedge::event::page_fault(g_pf.error_code, g_pf.address);
    } else if (wedge::pushes_error_code(static_cast<uint8_t>(f->vector))) {
        ev = wedge::event::fault(static_cast<uint8_t>(f->vector), static_cast<uint32_t>(f->error));
    } else {
        ev = wedge::event::fault(static_cast<uint8_t>(f->vector));
    }
    ++g_traps_delivered;
    g_last_vector = f->vector;
    g_last_trap_rip = f->rip;
    if (wedge::deliver(c, g_frame, ev, g_p->be) == wedge::delivery::shutdown)
        fail_run("triple fault while delivering an exception");
    poll_devices();
    wedge::deliver_pending(c, g_frame, g_p->be);
    after_core();
    resume();
}

} // namespace xw

extern "C" void site_dispatch(SiteFrame *f) {
    using namespace xw;
    wedge::vcpu &c = cpu();
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
    poll_devices();
    const wedge::frame before = g_frame;
    switch (wedge::run_site(c, g_frame, s->rec, s->insn, g_p->be)) {
    case wedge::site_exit::resume: break;
    case wedge::site_exit::halted: wait_halted(); break;
    case wedge::site_exit::shutdown: {
        // Say which event could not be delivered: emulate the site again on a copy (a raise
        // leaves the vCPU as it was).
        wedge::frame again = before;
        auto r = wedge::emulate(c, again, s->rec, s->insn, g_p->be);
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
