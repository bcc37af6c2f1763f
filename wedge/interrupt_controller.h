// What the vCPU asks an interrupt controller at an interrupt window: which vector would it
// hand the CPU now, and the acknowledge cycle when the CPU takes it. The local APIC and the
// 8259 PIC pair (as the ExtINT source) implement it.
#pragma once

#include <stdint.h>

namespace afterburn::wedge {

class interrupt_controller {
public:
    // The vector the controller would deliver now, or -1.
    virtual int pending_vector() = 0;
    // The CPU takes `vector` (INTA): the controller moves it from requested to in service.
    virtual void acknowledge(uint8_t vector) = 0;

protected:
    ~interrupt_controller() = default;
};

// An interrupt input line a device drives (IRQ0 from the PIT, IRQ4 from the UART).
class irq_sink {
public:
    virtual void set_irq(unsigned line, bool level) = 0;
    void pulse_irq(unsigned line)
    {
        set_irq(line, true);
        set_irq(line, false);
    }

protected:
    ~irq_sink() = default;
};

} // namespace afterburn::wedge
