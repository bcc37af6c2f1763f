#include "guest_platform.h"

#include "afterburn/wedge_abi.h"
#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "run_stats.h"

// Placement new (no <new> in a -nostdinc build).
inline void *operator new(size_t, void *p) noexcept { return p; }

extern "C" {
// The vCPU object; its first page (the ABI page: virtual IF, pending) is what pv_shadow.cpp
// aliases at wedge_abi::vcpu_page, so an inline `cli` stores to the byte the core reads.
alignas(4096) unsigned char wedge_vcpu_page[(sizeof(afterburn::wedge::vcpu) + 4095) & ~size_t(4095)];
}

namespace xw {

constinit guest_run g_guest_run{};

namespace {

alignas(guest_platform) unsigned char g_platform_storage[sizeof(guest_platform)];
guest_platform *g_platform;

wedge::cpuid_regs real_cpuid(uint32_t leaf, uint32_t subleaf, void *) {
    wedge::cpuid_regs r{};
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    // The wedge emulates an x2APIC whatever the host has (QEMU TCG has none, and the
    // xAPIC's MMIO page reaches the core only through the fallback: xapic_mmio.cpp).
    if (leaf == 1) r.ecx |= 1u << 21;
    return r;
}

} // namespace

guest_platform &platform() { return *g_platform; }

namespace {

void print_run_counters() {
    fold_fast_path_counts();
    const run_stats &s = g_run_stats;
    console_flush();
    print("xen-wedge: guest: %lu site entries, %lu exceptions delivered, %lu returns to user mode, "
          "%lu timer upcalls (%lu in the wedge, %lu delivered an interrupt), %lu shadow single steps\n",
          s.entries, s.traps_delivered, s.user_entries, s.upcalls, s.upcalls_in_wedge, s.upcall_deliveries,
          s.steps);
    print_stats();
}

} // namespace

void debug_exit_device::io_write(uint16_t, unsigned, uint32_t value) {
    print_run_counters();
    print("xen-wedge: guest: verdict %u written to port 0xf4 after %lu console lines\n", value, console_lines());
    exit_with(value == 0 ? verdict_pass : verdict_fail);
}

void reset_ports::io_write(uint16_t port, unsigned, uint32_t value) {
    bool reset = (port == 0x64 && (value & 0xff) == 0xfe) || (port == 0xcf9 && (value & 4));
    if (!reset) return;
    print_run_counters();
    print("xen-wedge: guest: asked for a reset (port 0x%x value 0x%x) after %lu console lines: the run ends\n", port,
          value & 0xff, console_lines());
    exit_with(verdict_pass);
}

bool platform_init(uint64_t cr3) {
    wedge::vcpu &c = *new (wedge_vcpu_page) wedge::vcpu();
    g_platform = new (g_platform_storage) guest_platform(c);
    guest_platform &p = *g_platform;
    c.cpuid.build(real_cpuid, nullptr);
    c.cr3 = cr3;
    wedge::enter_boot_protocol_state(c);
    c.io = &p.bus;
    c.apic = &p.apic;
    c.extint = &p.pic;
    // Linux would calibrate the TSC and the APIC timer by polling the PIT, one site entry per
    // read: too slow to pass its checks (docs/xen-backend.md, "Time and interrupts"). It reads
    // them instead.
    p.frequencies = {p.be.tsc_hz(), static_cast<uint32_t>(wedge::local_apic::bus_hz)};
    if (p.frequencies.tsc_hz) {
        c.backdoor = &p.frequencies;
        c.cpuid.announce_hypervisor(wedge::vmware_backdoor::signature);
        print("xen-wedge: guest: TSC %lu Hz, APIC bus %u Hz (told through cpuid 0x40000000 \"%s\", port 0x%x)\n",
              p.frequencies.tsc_hz, p.frequencies.apic_bus_hz, wedge::vmware_backdoor::signature,
              wedge::vmware_backdoor::port);
    }
    bool ok = p.bus.attach(wedge::uart_8250::com1, 8, p.uart) &&
              p.bus.attach(wedge::pic_pair::master_port, 2, p.pic) &&
              p.bus.attach(wedge::pic_pair::slave_port, 2, p.pic) && p.bus.attach(0x40, 4, p.pit) &&
              p.bus.attach(0x61, 1, p.pit) && p.bus.attach(0x70, 2, p.rtc) &&
              p.bus.attach(debug_exit_device::port, 4, p.debug_exit) && p.bus.attach(0x64, 1, p.reset) &&
              p.bus.attach(0xcf9, 1, p.reset);
    if (!ok) print("xen-wedge: guest: cannot lay out the I/O port space\n");
    return ok;
}

void poll_devices() {
    g_platform->pit.poll();
    g_platform->apic.poll();
}

} // namespace xw
