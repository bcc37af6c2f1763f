// What the wedge core is wired to on L4: the vCPU (whose first page the entry window shows
// the guest), the L4 backend (guest memory through guest_paging, the clock, mapping flushes)
// and the devices on the core's I/O bus.
#pragma once

#include <stdint.h>

#include "guest_image.h"
#include "wedge/backend.h"
#include "wedge/devices/cmos_rtc.h"
#include "wedge/devices/io_bus.h"
#include "wedge/devices/local_apic.h"
#include "wedge/devices/pic_8259.h"
#include "wedge/devices/pit_8254.h"
#include "wedge/devices/uart_8250.h"
#include "wedge/vcpu.h"

namespace lw {

namespace wedge = afterburn::wedge;

class l4_backend final : public wedge::backend {
public:
    bool read(uint64_t va, void *dst, size_t len, wedge::access_mode mode, wedge::page_fault &fault) override;
    bool write(uint64_t va, const void *src, size_t len, wedge::access_mode mode, wedge::page_fault &fault) override;
    uint64_t read_tsc() override;
    void load_cr3(uint64_t cr3) override;
    void flush_tlb(bool global) override;
    void invalidate_page(uint64_t linear) override;
    void state_changed(const wedge::vcpu &cpu, wedge::state_change what) override;
    uint64_t now_ns() override;
    void console_write(const char *text, size_t len) override;
};

// Port 0xf4: the guest's verdict (QEMU's isa-debug-exit natively): the wedge reports it and
// the run ends there.
class debug_exit_device final : public wedge::io_device {
public:
    uint32_t io_read(uint16_t, unsigned) override { return 0xffffffffu; }
    void io_write(uint16_t, unsigned, uint32_t value) override;
};

struct guest_platform {
    l4_backend be;
    debug_exit_device debug_exit;
    wedge::pic_pair pic;
    wedge::uart_8250 uart{be, &pic};
    wedge::pit_8254 pit{be, &pic, 0};
    wedge::cmos_rtc rtc{be, 0};
    wedge::io_bus bus;
    wedge::local_apic apic;
    explicit guest_platform(wedge::vcpu &c) : pic(&c), apic(c, be) {}
};

wedge::vcpu &cpu();
guest_platform &platform();

// Constructs the vCPU in the 64-bit boot protocol's state and the platform. False (with why)
// when the I/O ports cannot be laid out.
bool platform_init(const uint8_t *kip);

// The emulated timers catch up with the clock; the nearest deadline (0: none).
// The guest thread, once it exists (state_changed makes its segment bases real).
void platform_set_guest_thread(uint64_t guest);

void poll_devices();
uint64_t next_deadline_ns();

// Drops every mapping the wedge gave the guest of its RAM (CR3 loads, flushes); the pager
// notes each page it maps.
void unmap_guest_ram();
void note_guest_ram_mapped(uint64_t gpa);

} // namespace lw
