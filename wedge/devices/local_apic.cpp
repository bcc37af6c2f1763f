#include "wedge/devices/local_apic.h"

namespace afterburn::wedge {

local_apic::local_apic(vcpu &cpu, backend &be) : cpu_(cpu), be_(be) {}

uint32_t local_apic::in_service_highest() const
{
    int v = isr_.highest();
    return v < 0 ? 0 : static_cast<uint32_t>(v);
}

uint8_t local_apic::processor_priority() const
{
    uint8_t isrv = static_cast<uint8_t>(in_service_highest());
    return (cpu_.tpr & 0xf0) >= (isrv & 0xf0) ? cpu_.tpr : static_cast<uint8_t>(isrv & 0xf0);
}

int local_apic::pending_vector()
{
    if (!(cpu_.apic_base & apic_base_msr::enable)) return -1;  // hardware-disabled: no delivery
    int v = cpu_.pending.highest();
    if (v < 0) return -1;
    if ((static_cast<unsigned>(v) & 0xf0) <= (processor_priority() & 0xf0u)) return -1;
    return v;
}

void local_apic::acknowledge(uint8_t vector)
{
    cpu_.pending.clear(vector);
    isr_.set(vector);
}

uint32_t local_apic::divisor() const
{
    unsigned code = (divide_ & 3) | ((divide_ >> 1) & 4);
    return code == 7 ? 1 : 2u << code;
}

void local_apic::arm_timer()
{
    timer_start_ = be_.now_ns();
    periods_fired_ = 0;
    timer_armed_ = initial_count_ != 0;
}

uint32_t local_apic::current_count() const
{
    if (!timer_armed_ || !initial_count_) return 0;
    uint64_t ticks = (be_.now_ns() - timer_start_) / divisor();
    if (lvt_[0] & timer_periodic) return static_cast<uint32_t>(initial_count_ - ticks % initial_count_);
    return ticks >= initial_count_ ? 0 : static_cast<uint32_t>(initial_count_ - ticks);
}

void local_apic::poll()
{
    if (!timer_armed_) return;
    uint64_t ticks = (be_.now_ns() - timer_start_) / divisor();
    uint64_t periods = ticks / initial_count_;
    if (periods <= periods_fired_) return;
    periods_fired_ = periods;
    if (!(lvt_[0] & timer_periodic)) timer_armed_ = false;  // one-shot: count stays at zero
    if (!(lvt_[0] & lvt_masked) && software_enabled()) cpu_.raise(static_cast<uint8_t>(lvt_[0] & 0xff));
}

uint64_t local_apic::next_deadline_ns() const
{
    if (!timer_armed_) return 0;
    return timer_start_ + (periods_fired_ + 1) * static_cast<uint64_t>(initial_count_) * divisor();
}

void local_apic::send_ipi(uint32_t low, uint32_t destination)
{
    unsigned mode = (low >> 8) & 7, shorthand = (low >> 18) & 3;
    bool to_self = shorthand == 1 || shorthand == 2 || (shorthand == 0 && destination == cpu_.id);
    if (mode == 0 && to_self) cpu_.raise(static_cast<uint8_t>(low & 0xff));
}

bool local_apic::readable(uint32_t offset) const
{
    switch (offset) {
    case reg_id: case reg_version: case reg_tpr: case reg_ppr: case reg_ldr: case reg_svr: case reg_esr:
    case reg_icr_low: case reg_icr_high: case reg_lvt_timer: case reg_lvt_thermal: case reg_lvt_perf:
    case reg_lvt_lint0: case reg_lvt_lint1: case reg_lvt_error: case reg_initial_count:
    case reg_current_count: case reg_divide:
        return true;
    case reg_apr: case reg_dfr: return !x2apic_mode();
    default: return offset >= reg_isr && offset < reg_esr && (offset & 0xf) == 0;
    }
}

uint32_t local_apic::register_value(uint32_t offset)
{
    if (offset >= reg_isr && offset < reg_esr) {
        unsigned word = (offset & 0x7f) >> 4;  // 8 registers of 32 vectors each
        const vector_set &set = offset < reg_tmr ? isr_ : offset < reg_irr ? tmr_ : cpu_.pending;
        return static_cast<uint32_t>(set.words[word / 2] >> (32 * (word & 1)));
    }
    switch (offset) {
    case reg_id: return x2apic_mode() ? cpu_.id : cpu_.id << 24;
    case reg_version: return version;
    case reg_tpr: return cpu_.tpr;
    case reg_apr: return 0;
    case reg_ppr: return processor_priority();
    case reg_ldr: return x2apic_mode() ? ((cpu_.id >> 4) << 16) | (1u << (cpu_.id & 15)) : ldr_;
    case reg_dfr: return dfr_;
    case reg_svr: return svr_;
    case reg_esr: return esr_;
    case reg_icr_low: return icr_low_ & ~(1u << 12);  // delivery status: always idle
    case reg_icr_high: return icr_high_;
    case reg_lvt_timer: case reg_lvt_thermal: case reg_lvt_perf: case reg_lvt_lint0: case reg_lvt_lint1:
    case reg_lvt_error:
        return lvt(offset);
    case reg_initial_count: return initial_count_;
    case reg_current_count: return current_count();
    case reg_divide: return divide_;
    default: return 0;
    }
}

void local_apic::write_register(uint32_t offset, uint32_t value)
{
    switch (offset) {
    case reg_tpr: cpu_.tpr = static_cast<uint8_t>(value); break;
    case reg_eoi: {
        int v = isr_.highest();
        if (v >= 0) isr_.clear(static_cast<uint8_t>(v));
        break;
    }
    case reg_ldr: ldr_ = value & 0xff000000u; break;
    case reg_dfr: dfr_ = value | 0x0fffffffu; break;
    case reg_svr:
        svr_ = value & 0x13ff;
        if (!software_enabled())  // software disable masks every LVT entry
            for (auto &l : lvt_) l |= lvt_masked;
        break;
    case reg_esr: esr_ = 0; break;
    case reg_icr_high: icr_high_ = value & 0xff000000u; break;
    case reg_icr_low:
        icr_low_ = value;
        send_ipi(value, icr_high_ >> 24);
        break;
    case reg_lvt_timer: case reg_lvt_thermal: case reg_lvt_perf: case reg_lvt_lint0: case reg_lvt_lint1:
    case reg_lvt_error: {
        // Writable: vector and mask everywhere; the timer's one-shot/periodic mode; delivery
        // mode (and for LINT0/1 polarity and trigger) elsewhere. TSC-deadline is not offered.
        uint32_t keep = offset == reg_lvt_timer                               ? 0x300ffu
                        : offset == reg_lvt_lint0 || offset == reg_lvt_lint1 ? 0x1a7ffu
                                                                              : 0x107ffu;
        uint32_t v = value & keep;
        if (!software_enabled()) v |= lvt_masked;
        lvt(offset) = v;
        break;
    }
    case reg_initial_count:
        initial_count_ = value;
        arm_timer();
        break;
    case reg_divide: divide_ = value & 0xb; break;
    case reg_self_ipi: cpu_.raise(static_cast<uint8_t>(value)); break;
    default: break;
    }
}

uint32_t local_apic::read(uint32_t offset)
{
    if (x2apic_mode() || !(cpu_.apic_base & apic_base_msr::enable)) return 0;
    offset &= 0xff0;
    return readable(offset) ? register_value(offset) : 0;
}

void local_apic::write(uint32_t offset, uint32_t value)
{
    if (x2apic_mode() || !(cpu_.apic_base & apic_base_msr::enable)) return;
    offset &= 0xff0;
    if (offset == reg_self_ipi) return;  // x2APIC only
    write_register(offset, value);
}

bool local_apic::read_msr(uint32_t msr, uint64_t &value)
{
    if (!x2apic_mode() || msr < x2apic_msr_first || msr > x2apic_msr_last) return false;
    uint32_t offset = (msr - x2apic_msr_first) << 4;
    if (offset == reg_icr_low) {
        value = (static_cast<uint64_t>(icr_high_) << 32) | (icr_low_ & ~(1u << 12));
        return true;
    }
    if (!readable(offset) || offset == reg_icr_high) return false;
    value = register_value(offset);
    return true;
}

bool local_apic::write_msr(uint32_t msr, uint64_t value)
{
    if (!x2apic_mode() || msr < x2apic_msr_first || msr > x2apic_msr_last) return false;
    uint32_t offset = (msr - x2apic_msr_first) << 4;
    uint32_t low = static_cast<uint32_t>(value);
    switch (offset) {
    case reg_tpr:
        if (value >> 8) return false;
        break;
    case reg_eoi:
    case reg_esr:
        if (value) return false;
        break;
    case reg_svr: case reg_lvt_timer: case reg_lvt_thermal: case reg_lvt_perf: case reg_lvt_lint0:
    case reg_lvt_lint1: case reg_lvt_error: case reg_initial_count: case reg_divide:
        if (value >> 32) return false;
        break;
    case reg_self_ipi:
        if (value >> 8) return false;
        break;
    case reg_icr_low:
        icr_high_ = static_cast<uint32_t>(value >> 32);
        icr_low_ = low;
        send_ipi(low, icr_high_);
        return true;
    default: return false;  // read-only or reserved
    }
    write_register(offset, low);
    return true;
}

} // namespace afterburn::wedge
