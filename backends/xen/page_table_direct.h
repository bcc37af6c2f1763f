// Page-table sites under direct paging (docs/xen-direct-paging.md): an entry in a frame Xen
// runs as a table is read and written through the direct-paging core, which translates frame
// numbers and keeps Xen's rules; any other memory is touched as the guest instruction would.
#pragma once

#include "wedge/guest_memory.h"
#include "wedge/page_table_memory.h"

namespace xw {

namespace wedge = afterburn::wedge;

class direct_page_table_memory final : public wedge::page_table_memory {
public:
    explicit direct_page_table_memory(wedge::guest_memory &mem) : plain_(mem) {}
    bool load(uint64_t address, unsigned width, uint64_t &value, wedge::event &fault) override;
    bool store(uint64_t address, unsigned width, uint64_t value, wedge::event &fault) override;

private:
    wedge::identity_page_table_memory plain_;
};

// The page-table fast path's accesses (page_table_fast_path.h): `width` bytes inside one entry
// (xchg: one aligned 8-byte entry) at `address`, for kernel mode, with the same outcome as the class above for the cases they do;
// false (nothing done, nothing changed) for anything else, which the full path then performs
// (its guest walk, its fault).
bool direct_fast_load(uint64_t address, unsigned width, uint64_t &value);
bool direct_fast_store(uint64_t address, unsigned width, uint64_t value);
bool direct_fast_exchange(uint64_t address, uint64_t value, uint64_t &old);

} // namespace xw
