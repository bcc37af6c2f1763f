// The local APIC timer's current-count register as the architecture defines it: a function of
// the bus clock since the initial count was written, the divide configuration and the timer
// mode. A periodic timer reloads, so its count never rests at 0; a one-shot one stops there.
//
// For a backend whose APIC is someone else's (KVM's in-kernel LAPIC) and who only needs the
// count right: KVM derives the count from when its host timer is due, and reads 0 whenever
// that host timer is late, which under a slow (nested, TCG) host is most of the time. The
// backend mirrors the timer registers' writes here and answers current-count reads from it.
// Header-only and freestanding.
#pragma once

#include <stdint.h>

namespace afterburn::wedge {

class apic_timer_count {
public:
    static constexpr uint32_t lvt_mode_mask = 3u << 17, lvt_periodic = 1u << 17;

    // LVT timer register: only the mode matters here (one-shot, periodic, TSC-deadline).
    void write_lvt(uint32_t value) { lvt_ = value; }
    // Divide configuration register (bits 0, 1, 3).
    void write_divide(uint32_t value) { divide_ = value & 0xb; }
    // Initial count register: (re)starts the count at `now`, in bus ticks.
    void write_initial(uint32_t count, uint64_t now)
    {
        initial_ = count;
        start_ = now;
    }

    uint32_t read(uint64_t now) const
    {
        if (!initial_ || (lvt_ & lvt_mode_mask) > lvt_periodic) return 0;  // stopped, or TSC-deadline
        uint64_t ticks = (now - start_) / divisor();
        if ((lvt_ & lvt_mode_mask) == lvt_periodic) return static_cast<uint32_t>(initial_ - ticks % initial_);
        return ticks >= initial_ ? 0 : static_cast<uint32_t>(initial_ - ticks);
    }

    uint32_t divisor() const
    {
        unsigned code = (divide_ & 3) | ((divide_ >> 1) & 4);
        return code == 7 ? 1 : 2u << code;
    }

private:
    uint32_t lvt_ = 1u << 16, divide_ = 0, initial_ = 0;
    uint64_t start_ = 0;
};

} // namespace afterburn::wedge
