#include "unrewritten_insn.h"

#include "afterburn/site_kind.h"
#include "guest_paging.h"

namespace lw {

namespace {

constexpr unsigned max_insn_len = 15;

bool legacy_prefix(uint8_t b) {
    return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || b == 0x66 || b == 0x67 ||
           b == 0xf2 || b == 0xf3;
}

bool found(afterburn::annotation::site_record &rec, afterburn::site_kind kind, unsigned len, int32_t imm = 0) {
    rec = afterburn::annotation::site_record{};
    rec.kind = static_cast<uint8_t>(kind);
    rec.insn_len = static_cast<uint8_t>(len);
    rec.imm = imm;
    return true;
}

} // namespace

bool decode_unrewritten(uint64_t rip, afterburn::annotation::site_record &rec) {
    uint8_t b[max_insn_len];
    unsigned at = 0;
    // Byte by byte: an instruction at a page's end fetches no further than it reaches.
    auto fetch = [&](unsigned k) { return k < max_insn_len && fetch_guest_code(rip + k, &b[k], 1); };
    while (fetch(at) && legacy_prefix(b[at])) ++at;
    if (at >= max_insn_len || !fetch(at) || !fetch(at + 1)) return false;
    if (b[at] == 0xcd) return found(rec, afterburn::site_kind::int_n, at + 2, b[at + 1]);
    if (b[at] != 0x0f) return false;
    if (b[at + 1] == 0x31) return found(rec, afterburn::site_kind::rdtsc, at + 2);
    if (b[at + 1] == 0x01 && fetch(at + 2) && b[at + 2] == 0xf9) return found(rec, afterburn::site_kind::rdtscp, at + 3);
    return false;
}

bool syscall_at(uint64_t rip) {
    uint8_t b[2];
    return fetch_guest_code(rip, b, 2) && b[0] == 0x0f && b[1] == 0x05;
}

} // namespace lw
