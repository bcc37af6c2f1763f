// libFuzzer: the wedge's sensitive-instruction decoder. Invariants: it never reads past
// `avail`; what it decodes has a length in 1..15 within the input, decodes again identically
// from exactly those bytes, and padded with NOPs to its kind's minimum size is a record check_record
// accepts (the decoder and the record check must agree on what a valid site is). The
// CPUID-gated decoder likewise: a length in 1..15 within the input, the same class again from
// exactly those bytes, and never an instruction decode_sensitive also claims.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "afterburn/record_check.h"
#include "afterburn/sensitive_decoder.h"

using namespace afterburn;

namespace {

bool same(const decoder::decoded &a, const decoder::decoded &b)
{
    return a.kind == b.kind && a.insn_len == b.insn_len && a.flags == b.flags && a.reg == b.reg &&
           a.special == b.special && a.mem_base == b.mem_base && a.mem_index == b.mem_index &&
           a.mem_scale == b.mem_scale && a.mem_seg == b.mem_seg && a.disp_offset == b.disp_offset &&
           a.disp_size == b.disp_size && a.imm == b.imm;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::vector<uint8_t> bytes(data, data + size);  // exact size: ASan catches a read past the end
    decoder::decoded d;
    gated_class g;
    uint8_t glen = 0;
    if (decoder::decode_gated(bytes.data(), bytes.size(), g, glen)) {
        if (glen < 1 || glen > 15 || glen > size || !gated_class_name(g)) std::abort();
        gated_class again;
        uint8_t again_len = 0;
        if (!decoder::decode_gated(bytes.data(), glen, again, again_len) || again != g || again_len != glen)
            std::abort();
        if (decoder::decode_sensitive(bytes.data(), bytes.size(), d)) std::abort();
        return 0;
    }
    if (!decoder::decode_sensitive(bytes.data(), bytes.size(), d)) return 0;
    if (d.insn_len < 1 || d.insn_len > 15 || d.insn_len > size) std::abort();
    if (!site_kind_is_instruction(d.kind)) std::abort();
    std::vector<uint8_t> exact(bytes.begin(), bytes.begin() + d.insn_len);
    decoder::decoded again;
    if (!decoder::decode_sensitive(exact.data(), exact.size(), again) || !same(d, again)) std::abort();

    annotation::site_record r{};
    decoder::store_decoded(d, r);
    unsigned min = site_kind_min_size(d.kind);
    r.pad_len = static_cast<uint8_t>(d.insn_len < min ? min - d.insn_len : 0);
    // The decoder names an interrupt shadow with pad_before; a record sets it only when NOPs
    // precede the instruction, so not on one that needs no padding (a prefixed sti is 8 bytes).
    if (!r.pad_len) r.flags &= static_cast<uint8_t>(~annotation::flag_pad_before);
    if (annotation::check_record(r) != annotation::record_error::ok) std::abort();
    return 0;
}
