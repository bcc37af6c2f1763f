#include "wedge/devices/io_bus.h"

namespace afterburn::wedge {

bool io_bus::attach(uint16_t first, uint16_t count, io_device &device)
{
    if (used_ == max_ranges || count == 0) return false;
    uint32_t end = static_cast<uint32_t>(first) + count;
    for (unsigned i = 0; i < used_; ++i) {
        uint32_t other_end = static_cast<uint32_t>(ranges_[i].first) + ranges_[i].count;
        if (first < other_end && ranges_[i].first < end) return false;
    }
    ranges_[used_++] = range{first, count, &device};
    return true;
}

io_device *io_bus::find(uint16_t port) const
{
    for (unsigned i = 0; i < used_; ++i)
        if (port >= ranges_[i].first && port - ranges_[i].first < ranges_[i].count) return ranges_[i].device;
    return nullptr;
}

uint32_t io_bus::read(uint16_t port, unsigned size)
{
    io_device *d = find(port);
    uint32_t all_ones = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return d ? d->io_read(port, size) & all_ones : all_ones;
}

void io_bus::write(uint16_t port, unsigned size, uint32_t value)
{
    if (io_device *d = find(port)) d->io_write(port, size, value);
}

} // namespace afterburn::wedge
