// libFuzzer: the site rewriter. Input: a 20-byte record, a plan selector and the site's bytes.
// Invariants: rewrite_site writes only inside the site's span (guard bytes around it stay
// intact), leaves the bytes unchanged unless it reports `rewritten`, and rewrites only
// instruction records with an instruction in them.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "afterburn/record_check.h"
#include "afterburn/site_rewriter.h"

using namespace afterburn;

namespace {

constexpr size_t guard = 32;
constexpr uint8_t guard_byte = 0xa5;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < sizeof(annotation::site_record) + 1) return 0;
    annotation::site_record rec;
    std::memcpy(&rec, data, sizeof rec);
    uint8_t selector = data[sizeof rec];
    const uint8_t *site_bytes = data + sizeof rec + 1;
    size_t site_avail = size - sizeof rec - 1;

    // A plan like a backend's: entries near the site, or far away; calls or inline stores.
    uint64_t site_addr = 0xffffffff81000000ull + (selector & 0x0f) * 0x1000;
    rewriter::plan p;
    for (unsigned k = 0; k < site_kind_count; ++k) {
        auto how = static_cast<rewriter::strategy>((selector >> 4) % 3);
        if (k % 3 == 1 && (selector & 0x40)) how = rewriter::strategy::leave;
        uint64_t target = (selector & 0x80) ? 0x0000100000000000ull : 0xffffffffff600000ull + k * 16;
        p.kinds[k] = {how, target, 0xffffffffff700000ull + k * 8, static_cast<uint8_t>(k)};
    }

    rewriter::site_span span = rewriter::span_of(rec, site_addr);
    std::vector<uint8_t> buf(guard + span.size + guard, guard_byte);
    for (size_t i = 0; i < span.size; ++i) buf[guard + i] = i < site_avail ? site_bytes[i] : 0x90;
    std::vector<uint8_t> before = buf;
    rewriter::outcome o = rewriter::rewrite_site(buf.data() + guard, span, rec, p);
    for (size_t i = 0; i < guard; ++i)
        if (buf[i] != guard_byte || buf[guard + span.size + i] != guard_byte) std::abort();  // wrote outside
    if (o != rewriter::outcome::rewritten && buf != before) std::abort();  // changed but did not say so
    if (o == rewriter::outcome::rewritten) {
        if (!site_kind_is_instruction(static_cast<site_kind>(rec.kind))) std::abort();
        if (rec.insn_len == 0) std::abort();
    }
    if (!rewriter::outcome_text(o)) std::abort();
    (void)annotation::check_record(rec);
    return 0;
}
