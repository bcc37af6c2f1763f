#include "wedge/devices/cmos_rtc.h"

namespace afterburn::wedge {

namespace {

constexpr bool leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(unsigned y, unsigned m)
{
    constexpr unsigned char days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

} // namespace

civil_time civil_from_epoch(uint64_t seconds)
{
    civil_time t{};
    uint64_t days = seconds / 86400, rest = seconds % 86400;
    t.hour = static_cast<unsigned>(rest / 3600);
    t.minute = static_cast<unsigned>(rest / 60 % 60);
    t.second = static_cast<unsigned>(rest % 60);
    t.weekday = static_cast<unsigned>((days + 4) % 7) + 1;  // 1970-01-01 was a Thursday
    unsigned y = 1970;
    while (days >= (leap(y) ? 366u : 365u)) days -= leap(y) ? 366 : 365, ++y;
    unsigned m = 1;
    while (days >= days_in_month(y, m)) days -= days_in_month(y, m), ++m;
    t.year = y, t.month = m, t.day = static_cast<unsigned>(days) + 1;
    return t;
}

uint64_t epoch_from_civil(const civil_time &t)
{
    uint64_t days = 0;
    for (unsigned y = 1970; y < t.year; ++y) days += leap(y) ? 366 : 365;
    for (unsigned m = 1; m < t.month && m <= 12; ++m) days += days_in_month(t.year, m);
    days += t.day ? t.day - 1 : 0;
    return days * 86400 + t.hour * 3600ull + t.minute * 60ull + t.second;
}

cmos_rtc::cmos_rtc(backend &be, uint64_t boot_epoch_seconds) : be_(be), offset_(static_cast<int64_t>(boot_epoch_seconds))
{
    ram_[reg_a] = 0x26;           // 32.768 kHz time base, 1024 Hz rate; UIP never set
    ram_[reg_b] = b_24h;          // BCD, 24-hour, no interrupts
    ram_[reg_d] = 0x80;           // valid RAM and time
}

uint64_t cmos_rtc::now_epoch() const
{
    return static_cast<uint64_t>(offset_ + static_cast<int64_t>(be_.now_ns() / 1000000000ull));
}

uint8_t cmos_rtc::encode(unsigned v) const
{
    return (ram_[reg_b] & b_binary) ? static_cast<uint8_t>(v) : static_cast<uint8_t>((v / 10) << 4 | v % 10);
}

unsigned cmos_rtc::decode(uint8_t v) const { return (ram_[reg_b] & b_binary) ? v : (v >> 4) * 10 + (v & 15); }

uint8_t cmos_rtc::time_register(const civil_time &t, uint8_t index) const
{
    switch (index) {
    case reg_seconds: return encode(t.second);
    case reg_minutes: return encode(t.minute);
    case reg_hours:
        if (ram_[reg_b] & b_24h) return encode(t.hour);
        // 12-hour: 12, 1..11 with bit 7 for PM.
        return static_cast<uint8_t>(encode(t.hour % 12 ? t.hour % 12 : 12) | (t.hour >= 12 ? 0x80 : 0));
    case reg_weekday: return encode(t.weekday);
    case reg_day: return encode(t.day);
    case reg_month: return encode(t.month);
    case reg_year: return encode(t.year % 100);
    default: return encode(t.year / 100);  // reg_century
    }
}

void cmos_rtc::set_time_register(civil_time &t, uint8_t index, uint8_t v) const
{
    switch (index) {
    case reg_seconds: t.second = decode(v); break;
    case reg_minutes: t.minute = decode(v); break;
    case reg_hours:
        if (ram_[reg_b] & b_24h) {
            t.hour = decode(v);
        } else {
            unsigned h = decode(v & 0x7f) % 12;
            t.hour = h + ((v & 0x80) ? 12 : 0);
        }
        break;
    case reg_weekday: t.weekday = decode(v); break;
    case reg_day: t.day = decode(v); break;
    case reg_month: t.month = decode(v); break;
    case reg_year: t.year = t.year / 100 * 100 + decode(v); break;
    default: t.year = decode(v) * 100 + t.year % 100; break;  // reg_century
    }
}

static bool is_time_register(uint8_t i)
{
    return i == cmos_rtc::reg_seconds || i == cmos_rtc::reg_minutes || i == cmos_rtc::reg_hours ||
           (i >= cmos_rtc::reg_weekday && i <= cmos_rtc::reg_year) || i == cmos_rtc::reg_century;
}

uint32_t cmos_rtc::io_read(uint16_t port, unsigned)
{
    if (port == index_port) return 0xff;  // the index register is write-only
    if (is_time_register(index_))
        return time_register((ram_[reg_b] & b_set) ? staged_ : civil_from_epoch(now_epoch()), index_);
    if (index_ == reg_c) return 0;  // no interrupt flags ever set
    return ram_[index_];
}

void cmos_rtc::io_write(uint16_t port, unsigned, uint32_t value)
{
    uint8_t v = static_cast<uint8_t>(value);
    if (port == index_port) {
        index_ = v & 0x7f;
        nmi_disabled_ = v & 0x80;
        return;
    }
    if (is_time_register(index_)) {
        if (ram_[reg_b] & b_set) set_time_register(staged_, index_, v);
        return;  // while the clock runs, writes to the time fields are ignored
    }
    switch (index_) {
    case reg_b: {
        bool was_set = ram_[reg_b] & b_set;
        bool now_set = v & b_set;
        if (!was_set && now_set) staged_ = civil_from_epoch(now_epoch());
        ram_[reg_b] = v;
        if (was_set && !now_set)
            offset_ = static_cast<int64_t>(epoch_from_civil(staged_)) -
                      static_cast<int64_t>(be_.now_ns() / 1000000000ull);
        break;
    }
    case reg_a: ram_[reg_a] = v & 0x7f; break;  // UIP (bit 7) is read-only
    case reg_c:
    case reg_d: break;                            // read-only
    default: ram_[index_] = v; break;
    }
}

} // namespace afterburn::wedge
