// The wedge core's view of this machine (wedge::backend for Xen PV): guest memory through
// the guest's own page tables and the temporary slot, CR3 loads and flushes on the shadow,
// segment bases and CR0.TS through hypercalls, Xen's system time.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "wedge/backend.h"

namespace xw {

class xen_backend final : public afterburn::wedge::backend {
public:
    // Guest virtual memory through the guest's own tables (translate: x86 permission checks
    // and A/D bits), then guest-physical memory through the temporary slot: no fault in the
    // wedge, and exactly the guest's view even where the shadow is stale. Reads of rewritten
    // spans see the original bytes (the site table's overlay).
    bool read(uint64_t va, void *dst, size_t len, afterburn::wedge::access_mode mode,
              afterburn::wedge::page_fault &fault) override;
    bool write(uint64_t va, const void *src, size_t len, afterburn::wedge::access_mode mode,
               afterburn::wedge::page_fault &fault) override;
    uint64_t read_tsc() override;
    void load_cr3(uint64_t cr3) override;
    void flush_tlb(bool global) override;
    void invalidate_page(uint64_t linear) override;
    void state_changed(const afterburn::wedge::vcpu &c, afterburn::wedge::state_change what) override;
    void console_write(const char *text, size_t len) override;
    // Xen's system time (vcpu_time_info): TSC scaled, in ns since boot.
    uint64_t now_ns() override;
    // The TSC's frequency, from the scale Xen gives for it (vcpu_time_info).
    uint64_t tsc_hz();

    // CR0.WP / EFER.NXE are walk rules: the shadow applies new ones with a full flush. True
    // if it did.
    bool sync_paging();

private:
    bool access(uint64_t va, uint8_t *buf, size_t len, afterburn::wedge::access_mode mode, bool is_write,
                afterburn::wedge::page_fault &fault);
};

} // namespace xw
