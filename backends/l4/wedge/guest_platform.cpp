#include "guest_platform.h"

#include "console.h"
#include "guest_paging.h"
#include "guest_ram.h"
#include "guest_sites.h"
#include "l4_abi.h"

inline void *operator new(size_t, void *p) noexcept { return p; }

extern "C" {
// The vCPU object; its first page is the entry window's vCPU page (entry_window.cpp), so an
// inline `cli` stores to the byte the core reads.
alignas(4096) unsigned char wedge_vcpu_page[(sizeof(afterburn::wedge::vcpu) + 4095) & ~size_t(4095)];
}

namespace lw {

namespace {

alignas(guest_platform) unsigned char g_platform_storage[sizeof(guest_platform)];
guest_platform *g_platform;
const uint8_t *g_kip;
uint64_t g_guest_thread;  // whose segment bases state_changed sets

// The guest RAM pages the guest has been given, for unmap_guest_ram.
constexpr uint64_t max_guest_pages = uint64_t(1) << 20;  // 4 GiB
uint64_t g_mapped[max_guest_pages / 64];

wedge::cpuid_regs real_cpuid(uint32_t leaf, uint32_t subleaf, void *) {
    wedge::cpuid_regs r{};
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    // An x2APIC whatever the host has: its registers are MSRs, which reach the core as sites;
    // the xAPIC's MMIO page would need the faulting access emulated.
    if (leaf == 1) r.ecx |= 1u << 21;
    return r;
}

// Copies between `buf` and guest virtual [va, va + len), page by page, after checking every
// page: all or nothing, as backend.h asks.
bool access(uint64_t va, uint8_t *buf, size_t len, bool write, wedge::access_mode mode, wedge::page_fault &fault) {
    bool user = mode == wedge::access_mode::user;
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t done = 0; done < len;) {
            uint64_t at = va + done;
            size_t chunk = 4096 - (at & 4095);
            if (chunk > len - done) chunk = len - done;
            translation t;
            uint8_t *p = nullptr;
            if (translate(at, write, user, t)) p = guest_phys(t.gpa, chunk);
            if (!p) {
                fault.error_code = t.pf_error;
                fault.address = at;
                return false;
            }
            if (pass) {
                if (write) __builtin_memcpy(p, buf + done, chunk);
                else __builtin_memcpy(buf + done, p, chunk);
            }
            done += chunk;
        }
    }
    return true;
}

} // namespace

wedge::vcpu &cpu() { return *reinterpret_cast<wedge::vcpu *>(wedge_vcpu_page); }
guest_platform &platform() { return *g_platform; }

bool l4_backend::read(uint64_t va, void *dst, size_t len, wedge::access_mode mode, wedge::page_fault &fault) {
    if (!access(va, static_cast<uint8_t *>(dst), len, false, mode, fault)) return false;
    // The image runs at its load address; the site table knows it by its link addresses.
    overlay_site_originals(va + guest_virt_minus_phys(), static_cast<uint8_t *>(dst), len);
    return true;
}

bool l4_backend::write(uint64_t va, const void *src, size_t len, wedge::access_mode mode, wedge::page_fault &fault) {
    return access(va, const_cast<uint8_t *>(static_cast<const uint8_t *>(src)), len, true, mode, fault);
}

// rdtsc is privileged here (fix 0016), so the TSC is SystemClock's microseconds at the
// processor's frequency (the KIP's processor descriptor, as the kernel's SystemClock divides
// by it), and like a TSC it never stands still between two reads.
uint64_t l4_backend::read_tsc() {
    static uint64_t last;
    const uint64_t desc = l4::kip_word(g_kip, l4::kip_proc_desc);
    uint64_t mhz = l4::kip_word(g_kip, desc + l4::proc_desc_internal_khz) / 1000;
    uint64_t t = l4::l4_system_clock(l4::kip_word(g_kip, l4::kip_system_clock)) * (mhz ? mhz : 1000);
    last = t > last ? t : last + 1;
    return last;
}

void note_guest_ram_mapped(uint64_t gpa) {
    uint64_t page = gpa >> 12;
    if (page < max_guest_pages) g_mapped[page / 64] |= uint64_t(1) << (page % 64);
}

void unmap_guest_ram() {
    // Unmap takes the guest's mappings derived from our pages and leaves ours (no flush bit),
    // eight 4 KiB flexpages a call, only the pages the guest was given (guest_ram.h).
    uint64_t *u = l4::utcb();
    unsigned n = 0;
    for (uint64_t w = 0; w < max_guest_pages / 64; ++w) {
        for (uint64_t bits = g_mapped[w]; bits; bits &= bits - 1) {
            uint64_t page = w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
            u[n++] = l4::fpage(guest_ram_window + (page << 12), 12) | l4::rights_rwx;
            if (n == 8) {
                l4::l4_unmap(n - 1, u, l4::kip_word(g_kip, l4::kip_unmap));
                n = 0;
            }
        }
        g_mapped[w] = 0;
    }
    if (n) l4::l4_unmap(n - 1, u, l4::kip_word(g_kip, l4::kip_unmap));
}

void l4_backend::load_cr3(uint64_t) {
    paging_leave_boot_identity();
    unmap_guest_ram();
}

void l4_backend::flush_tlb(bool) { unmap_guest_ram(); }

// Only the wedge knows which of its pages backs a guest address; dropping them all is
// correct, and rare enough here.
void l4_backend::invalidate_page(uint64_t) { unmap_guest_ram(); }

// The guest's FS and GS bases are made the guest thread's own (fix 0018: ExchangeRegisters
// sets them; the kernel loads them when it runs the thread). Its debug registers and syscall
// MSRs stay virtual: nothing on L4 reads them yet (docs/l4-backend.md, "Not done yet").
void l4_backend::state_changed(const wedge::vcpu &c, wedge::state_change what) {
    if (!g_guest_thread || (what != wedge::state_change::fs_base && what != wedge::state_change::gs_base)) return;
    const bool gs = what == wedge::state_change::gs_base;
    uint64_t regs[4] = {0, 0, 0, 0};
    l4::l4_exchange_registers(g_guest_thread, gs ? l4::exreg_set_gs_base : l4::exreg_set_fs_base, regs,
                              l4::kip_word(g_kip, l4::kip_exchange_registers), gs ? c.gs_base : c.fs_base);
}

void platform_set_guest_thread(uint64_t guest) { g_guest_thread = guest; }

uint64_t l4_backend::now_ns() { return l4::l4_system_clock(l4::kip_word(g_kip, l4::kip_system_clock)) * 1000; }

void l4_backend::console_write(const char *text, size_t len) {
    for (size_t i = 0; i < len; ++i)
        if (text[i] != '\r') l4::kdb_print_char(text[i]);
}

bool platform_init(const uint8_t *kip) {
    g_kip = kip;
    wedge::vcpu &c = *new (wedge_vcpu_page) wedge::vcpu();
    g_platform = new (g_platform_storage) guest_platform(c);
    guest_platform &p = *g_platform;
    c.cpuid.build(real_cpuid, nullptr);
    wedge::enter_boot_protocol_state(c);
    c.io = &p.bus;
    c.apic = &p.apic;
    c.extint = &p.pic;
    bool ok = p.bus.attach(wedge::uart_8250::com1, 8, p.uart) &&
              p.bus.attach(wedge::pic_pair::master_port, 2, p.pic) &&
              p.bus.attach(wedge::pic_pair::slave_port, 2, p.pic) && p.bus.attach(0x40, 4, p.pit) &&
              p.bus.attach(0x61, 1, p.pit) && p.bus.attach(0x70, 2, p.rtc) && p.bus.attach(0xf4, 4, p.debug_exit);
    if (!ok) print("l4-wedge: guest: cannot lay out the I/O port space\n");
    return ok;
}

void poll_devices() {
    g_platform->pit.poll();
    g_platform->apic.poll();
}

uint64_t next_deadline_ns() {
    uint64_t a = g_platform->pit.next_deadline_ns(), b = g_platform->apic.next_deadline_ns();
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

} // namespace lw
