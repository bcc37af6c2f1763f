// libFuzzer: page-table sites performed by the wedge (wedge/page_table_access.h). Input: a
// 20-byte record, 15 instruction bytes (the record's insn_len of them are the instruction,
// read nowhere else: ASan catches a read past them), then register values. Memory is one
// 256-byte window; any other address faults. Invariants: describe never reads past the
// instruction; a described site never comes back as a bad record; a fault leaves rip at the
// site, a finished access at the resume address (or, for a tail call, the popped one); no
// store lands outside the window.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "afterburn/site_kind.h"
#include "wedge/page_table_access.h"
#include "wedge/page_table_memory.h"

using namespace afterburn;
using namespace afterburn::wedge;

namespace {

constexpr uint64_t window = 0xffff888000005000ull;

class window_memory final : public page_table_memory {
public:
    uint8_t bytes[256] = {};
    bool inside(uint64_t a, unsigned w) const { return a >= window && a + w <= window + sizeof bytes && a + w > a; }
    bool load(uint64_t a, unsigned w, uint64_t &v, event &f) override
    {
        if (w != 1 && w != 2 && w != 4 && w != 8) std::abort();
        if (!inside(a, w)) return fault(a, f, 0);
        v = 0;
        std::memcpy(&v, bytes + (a - window), w);
        return true;
    }
    bool store(uint64_t a, unsigned w, uint64_t v, event &f) override
    {
        if (w != 1 && w != 2 && w != 4 && w != 8) std::abort();
        if (!inside(a, w)) return fault(a, f, pf_error::write);
        std::memcpy(bytes + (a - window), &v, w);
        return true;
    }

private:
    static bool fault(uint64_t a, event &f, uint32_t error)
    {
        f = event::page_fault(error, a);
        return false;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    constexpr size_t head = sizeof(annotation::site_record) + 15;
    if (size < head) return 0;
    annotation::site_record rec;
    std::memcpy(&rec, data, sizeof rec);
    if (!site_kind_is_page_table(static_cast<site_kind>(rec.kind)) || rec.insn_len == 0 || rec.insn_len > 15)
        return 0;
    // Exactly insn_len bytes on the heap: a read past them is an ASan report.
    std::vector<uint8_t> insn(data + sizeof rec, data + sizeof rec + rec.insn_len);
    const uint64_t site = 0xffffffff81000000ull;
    block_functions fns{site + 0x100, site + 0x200, site + 0x300};
    page_table_access a;
    if (describe_page_table_site(rec, insn.data(), site, fns, a) != nullptr) return 0;

    frame f{};
    size_t n = (size - head) / 8;
    for (size_t i = 0; i < 16 && i < n; ++i) std::memcpy(&f.gpr[i], data + head + 8 * i, 8);
    if (n > 16) std::memcpy(&f.rflags, data + head + 128, 8);
    vcpu cpu{};
    window_memory mem;
    const uint64_t resume_at = site + 8;
    emulation r = emulate_page_table(a, rec, insn.data(), site, resume_at, cpu, f, mem);
    switch (r.what) {
    case action::bad_record: std::abort();  // described, so it must be performed
    case action::raise:
        if (f.rip != site || r.ev.vector != vec::pf) std::abort();
        break;
    case action::resume:
        if (f.rip != resume_at) std::abort();
        break;
    case action::transfer:
        if (!a.tail) std::abort();
        break;
    default: std::abort();
    }
    return 0;
}
