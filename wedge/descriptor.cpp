#include "wedge/descriptor.h"

namespace afterburn::wedge {

namespace {

bool table_of(const vcpu &cpu, uint16_t selector, unsigned size, uint64_t &address)
{
    uint64_t base;
    uint32_t limit;
    if (selector & 4) {
        if (!cpu.ldtr.usable) return false;
        base = cpu.ldtr.base, limit = cpu.ldtr.limit;
    } else {
        base = cpu.gdtr.base, limit = cpu.gdtr.limit;
    }
    uint32_t index = selector & 0xfff8u;
    if (index + size - 1 > limit) return false;
    address = base + index;
    return true;
}

} // namespace

descriptor_lookup read_descriptor(const vcpu &cpu, guest_memory &mem, uint16_t selector, bool wide,
                                  segment_descriptor &out, event &fault)
{
    uint64_t address;
    if (!table_of(cpu, selector, wide ? 16 : 8, address)) return descriptor_lookup::outside_table;
    uint64_t raw[2] = {0, 0};
    if (!mem.read_system(address, raw, wide ? 16 : 8, fault)) return descriptor_lookup::fault;
    out.low = raw[0];
    out.high = raw[1];
    return descriptor_lookup::ok;
}

bool write_descriptor(const vcpu &cpu, guest_memory &mem, uint16_t selector, const segment_descriptor &d,
                      event &fault)
{
    uint64_t address;
    if (!table_of(cpu, selector, 8, address)) {
        fault = event::fault(vec::gp, selector_error(selector));
        return false;
    }
    return mem.write_system(address, &d.low, 8, fault);
}

} // namespace afterburn::wedge
