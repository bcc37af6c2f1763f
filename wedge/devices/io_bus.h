// The I/O-port space the guest's in/out/ins/outs reach: a fixed table of port ranges,
// each served by a device emulated inside the wedge. Ports nobody claims read as all ones
// and ignore writes, as on a PC with nothing decoding them.
#pragma once

#include <stdint.h>

namespace afterburn::wedge {

class io_device {
public:
    // `port` is absolute; `size` is 1, 2 or 4 bytes.
    virtual uint32_t io_read(uint16_t port, unsigned size) = 0;
    virtual void io_write(uint16_t port, unsigned size, uint32_t value) = 0;

protected:
    ~io_device() = default;
};

class io_bus {
public:
    static constexpr unsigned max_ranges = 16;

    // Claims [first, first + count). Returns false when the table is full or the range
    // overlaps one already claimed.
    bool attach(uint16_t first, uint16_t count, io_device &device);

    uint32_t read(uint16_t port, unsigned size);
    void write(uint16_t port, unsigned size, uint32_t value);

private:
    struct range {
        uint16_t first;
        uint16_t count;
        io_device *device;
    };
    io_device *find(uint16_t port) const;
    range ranges_[max_ranges]{};
    unsigned used_ = 0;
};

} // namespace afterburn::wedge
