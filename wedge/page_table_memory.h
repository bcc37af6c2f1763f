// The one way a page-table site emulated by the wedge touches memory (page_table_access.h):
// every load and store of an entry, of a copy's source and of a tail call's return address
// goes through here, so that direct paging can translate frame numbers in one place. The
// identity implementation reads and writes guest memory as the guest instruction would
// (its CPL, canonical check, the backend's translation and #PF). Freestanding.
#pragma once

#include <stdint.h>

#include "wedge/event.h"
#include "wedge/guest_memory.h"

namespace afterburn::wedge {

class page_table_memory {
public:
    // `width` is 1, 2, 4 or 8 bytes, little endian. False with the fault the CPU would raise
    // for this access (nothing was written then).
    virtual bool load(uint64_t address, unsigned width, uint64_t &value, event &fault) = 0;
    virtual bool store(uint64_t address, unsigned width, uint64_t value, event &fault) = 0;

protected:
    ~page_table_memory() = default;
};

// Guest memory as it is: the entry the guest names is the entry it gets (shadow paging).
class identity_page_table_memory final : public page_table_memory {
public:
    explicit identity_page_table_memory(guest_memory &mem) : mem_(mem) {}
    bool load(uint64_t address, unsigned width, uint64_t &value, event &fault) override
    {
        value = 0;
        return mem_.read(linear_address{address, false}, &value, width, fault);
    }
    bool store(uint64_t address, unsigned width, uint64_t value, event &fault) override
    {
        return mem_.write(linear_address{address, false}, &value, width, fault);
    }

private:
    guest_memory &mem_;
};

} // namespace afterburn::wedge
