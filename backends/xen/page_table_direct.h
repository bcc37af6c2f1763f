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

} // namespace xw
