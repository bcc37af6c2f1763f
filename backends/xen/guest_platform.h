// What the wedge core is wired to on Xen, and the one run of the guest: the vCPU (in the
// vCPU page that the entry window aliases), the Xen backend, the devices on the core's I/O
// bus, and the guest's registers between a way into the wedge and the way back.
#pragma once

#include <stdint.h>

#include "guest_loader.h"
#include "wedge/devices/cmos_rtc.h"
#include "wedge/devices/io_bus.h"
#include "wedge/devices/local_apic.h"
#include "wedge/devices/pic_8259.h"
#include "wedge/devices/pit_8254.h"
#include "wedge/devices/uart_8250.h"
#include "wedge/devices/vmware_backdoor.h"
#include "wedge/frame.h"
#include "wedge/vcpu.h"
#include "xen_backend.h"

namespace xw {

namespace wedge = afterburn::wedge;

// Port 0xf4: the guest's verdict (QEMU's isa-debug-exit natively). The wedge reports it with
// the run's statistics and leaves with the same verdict through its own exit path.
class debug_exit_device final : public wedge::io_device {
public:
    static constexpr uint16_t port = 0xf4;
    uint32_t io_read(uint16_t, unsigned) override { return 0xffffffffu; }
    void io_write(uint16_t, unsigned, uint32_t value) override;
};

// The PC's reset requests: the keyboard controller's pulse (0xfe to port 0x64) and the reset
// control register (port 0xcf9, bit 2). Linux's `reboot -f` and panic=-1 end that way: the
// wedge prints the run's counters and ends the run (verdict 0: the console says how the
// guest did). Port 0x64 reads 0x01 (output buffer full, input buffer empty), as in the KVM
// VMM: Linux's reboot sees the controller ready for its reset command at once (with all ones
// kb_wait spun 65,536 `in` site entries and ~130 ms before writing), and its i8042 probe still
// reads 0xff data up to its buffer limit and finds no controller. 0xcf9 reads all ones.
class reset_ports final : public wedge::io_device {
public:
    uint32_t io_read(uint16_t port, unsigned) override { return port == 0x64 ? 0x01u : 0xffffffffu; }
    void io_write(uint16_t port, unsigned, uint32_t value) override;
};

// Everything the core is wired to, constructed at run time (xen-wedge.ld forbids global
// constructors).
struct guest_platform {
    xen_backend be;
    debug_exit_device debug_exit;
    reset_ports reset;
    wedge::pic_pair pic;
    wedge::uart_8250 uart{be, &pic};
    wedge::pit_8254 pit{be, &pic, 0};
    wedge::cmos_rtc rtc{be, 0};
    wedge::io_bus bus;
    wedge::local_apic apic;
    wedge::vmware_backdoor frequencies;
    explicit guest_platform(wedge::vcpu &c) : pic(&c), apic(c, be) {}
};

// The guest's run: what it is, and its registers between an entry (site, trap, upcall,
// syscall) and the return into it (resume).
struct guest_run {
    const loaded_guest *guest;
    wedge::frame frame;
    bool running;
};
extern guest_run g_guest_run;

// The vCPU object (guest_platform.cpp), placed in the page the entry window aliases.
extern "C" unsigned char wedge_vcpu_page[];
inline wedge::vcpu &cpu() { return *reinterpret_cast<wedge::vcpu *>(wedge_vcpu_page); }
guest_platform &platform();

// Constructs the vCPU (boot-protocol state, CR3 = `cr3`) and the platform, and lays out the
// I/O ports. False (with why) on failure.
bool platform_init(uint64_t cr3);

// The emulated timers catch up with the clock (they raise their interrupt lines).
void poll_devices();

} // namespace xw
