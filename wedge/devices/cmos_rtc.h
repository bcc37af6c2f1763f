// The MC146818 CMOS/RTC at 0x70 (index, bit 7 = NMI disable) / 0x71 (data): the time of
// day in BCD or binary, 24- or 12-hour, from the backend's clock plus the wall-clock time it
// had at boot; registers A-D; the rest is 128 bytes of NVRAM. Setting the time (SET bit in
// register B, write the fields, clear SET) moves the guest's clock, not the host's. No
// alarm, periodic or update interrupts (register C reads zero).
#pragma once

#include <stdint.h>

#include "wedge/backend.h"
#include "wedge/devices/io_bus.h"

namespace afterburn::wedge {

struct civil_time {
    unsigned year, month, day, hour, minute, second, weekday;  // weekday 1 = Sunday
};

// Seconds since 1970-01-01 00:00:00 UTC <-> calendar (proleptic Gregorian, years >= 1970).
civil_time civil_from_epoch(uint64_t seconds);
uint64_t epoch_from_civil(const civil_time &t);

class cmos_rtc final : public io_device {
public:
    static constexpr uint16_t index_port = 0x70, data_port = 0x71;
    static constexpr uint8_t reg_seconds = 0, reg_minutes = 2, reg_hours = 4, reg_weekday = 6, reg_day = 7,
                             reg_month = 8, reg_year = 9, reg_a = 0x0a, reg_b = 0x0b, reg_c = 0x0c,
                             reg_d = 0x0d, reg_century = 0x32;
    static constexpr uint8_t b_set = 0x80, b_binary = 0x04, b_24h = 0x02;

    // `boot_epoch_seconds`: the wall-clock time when the backend's clock read zero.
    cmos_rtc(backend &be, uint64_t boot_epoch_seconds);

    uint32_t io_read(uint16_t port, unsigned size) override;
    void io_write(uint16_t port, unsigned size, uint32_t value) override;

    uint64_t now_epoch() const;
    bool nmi_disabled() const { return nmi_disabled_; }

private:
    uint8_t encode(unsigned v) const;
    unsigned decode(uint8_t v) const;
    uint8_t time_register(const civil_time &t, uint8_t index) const;
    void set_time_register(civil_time &t, uint8_t index, uint8_t v) const;

    backend &be_;
    int64_t offset_;        // guest wall clock minus (boot time + backend clock)
    uint8_t index_ = 0;
    bool nmi_disabled_ = false;
    uint8_t ram_[128]{};
    civil_time staged_{};   // the time being set while SET is on
};

} // namespace afterburn::wedge
