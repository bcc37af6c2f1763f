// The local APIC of one vCPU as a register file, reachable by xAPIC offset (for the MMIO
// page, once the wedge maps it) and as x2APIC MSRs 0x800-0x8ff. Its IRR is the vCPU's
// pending set and its TPR the vCPU's tpr (CR8), so devices raise vectors with vcpu.raise()
// and the APIC only decides which one may be delivered: the highest requested vector whose
// priority class is above the processor priority (TPR and the highest in service).
// Timer: one-shot and periodic from a 1 GHz bus clock (the backend's nanoseconds) divided by
// the divide configuration; no TSC-deadline mode (hidden in cpuid). ICR: fixed-mode IPIs to
// self (shorthand self, all-including-self, or our own APIC ID); other CPUs, INIT and SIPI
// are not delivered yet.
#pragma once

#include <stdint.h>

#include "wedge/backend.h"
#include "wedge/interrupt_controller.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

class local_apic final : public interrupt_controller {
public:
    static constexpr uint32_t version = 0x00050014;  // integrated APIC, 6 LVT entries
    static constexpr uint64_t bus_hz = 1000000000;

    // xAPIC register offsets.
    static constexpr uint32_t reg_id = 0x20, reg_version = 0x30, reg_tpr = 0x80, reg_apr = 0x90, reg_ppr = 0xa0,
                              reg_eoi = 0xb0, reg_ldr = 0xd0, reg_dfr = 0xe0, reg_svr = 0xf0, reg_isr = 0x100,
                              reg_tmr = 0x180, reg_irr = 0x200, reg_esr = 0x280, reg_icr_low = 0x300,
                              reg_icr_high = 0x310, reg_lvt_timer = 0x320, reg_lvt_thermal = 0x330,
                              reg_lvt_perf = 0x340, reg_lvt_lint0 = 0x350, reg_lvt_lint1 = 0x360,
                              reg_lvt_error = 0x370, reg_initial_count = 0x380, reg_current_count = 0x390,
                              reg_divide = 0x3e0, reg_self_ipi = 0x3f0;
    static constexpr uint32_t lvt_masked = 1u << 16, svr_enabled = 1u << 8;
    static constexpr uint32_t timer_periodic = 1u << 17;
    static constexpr uint32_t x2apic_msr_first = 0x800, x2apic_msr_last = 0x8ff;

    local_apic(vcpu &cpu, backend &be);

    // xAPIC (MMIO) access: 32-bit registers at 16-byte offsets in the 4 KiB page.
    uint32_t read(uint32_t offset);
    void write(uint32_t offset, uint32_t value);

    // x2APIC MSR access; false means #GP (not in x2APIC mode, reserved register, read of a
    // write-only or write of a read-only register, reserved bits set).
    bool read_msr(uint32_t msr, uint64_t &value);
    bool write_msr(uint32_t msr, uint64_t value);

    int pending_vector() override;
    void acknowledge(uint8_t vector) override;

    // Fires the timer if it expired since the last call (periods coalesce).
    void poll();
    // When the timer next fires, in backend nanoseconds; 0 when it will not.
    uint64_t next_deadline_ns() const;

    bool software_enabled() const { return svr_ & svr_enabled; }
    bool x2apic_mode() const { return cpu_.apic_base & apic_base_msr::extd; }
    uint32_t in_service_highest() const;
    uint8_t processor_priority() const;

private:
    bool readable(uint32_t offset) const;
    uint32_t register_value(uint32_t offset);
    void write_register(uint32_t offset, uint32_t value);
    void send_ipi(uint32_t low, uint32_t destination);
    void arm_timer();
    uint32_t divisor() const;
    uint32_t current_count() const;
    uint32_t &lvt(uint32_t offset) { return lvt_[(offset - reg_lvt_timer) >> 4]; }

    vcpu &cpu_;
    backend &be_;
    vector_set isr_, tmr_;
    uint32_t svr_ = 0xff;
    uint32_t ldr_ = 0, dfr_ = 0xffffffffu, esr_ = 0;
    uint32_t icr_low_ = 0, icr_high_ = 0;
    uint32_t lvt_[6] = {lvt_masked, lvt_masked, lvt_masked, lvt_masked, lvt_masked, lvt_masked};
    uint32_t initial_count_ = 0, divide_ = 0;
    uint64_t timer_start_ = 0;
    uint64_t periods_fired_ = 0;
    bool timer_armed_ = false;
};

} // namespace afterburn::wedge
