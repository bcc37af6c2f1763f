// entry_decode.h on Linux 6.1's own entry bytes (asm_exc_page_fault, error_entry) and on
// shapes it must refuse.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "entry_decode.h"

using namespace xw;

namespace {

entry_step decode(std::vector<uint8_t> bytes) {
    bytes.resize(16, 0xcc);
    return decode_entry_step(bytes.data());
}

// error_entry up to its swapgs, as the 6.1 build links it: push %rsi; mov 0x8(%rsp),%rsi;
// mov %rdi,0x8(%rsp); 13 pushes; 14 register clears; testb $3,0x90(%rsp); je.
const std::vector<uint8_t> error_entry = {
    0x56, 0x48, 0x8b, 0x74, 0x24, 0x08, 0x48, 0x89, 0x7c, 0x24, 0x08, 0x52, 0x51, 0x50, 0x41, 0x50,
    0x41, 0x51, 0x41, 0x52, 0x41, 0x53, 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57,
    0x56, 0x31, 0xf6, 0x31, 0xd2, 0x31, 0xc9, 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9, 0x45, 0x31, 0xd2,
    0x45, 0x31, 0xdb, 0x31, 0xdb, 0x31, 0xed, 0x45, 0x31, 0xe4, 0x45, 0x31, 0xed, 0x45, 0x31, 0xf6,
    0x45, 0x31, 0xff, 0xf6, 0x84, 0x24, 0x90, 0x00, 0x00, 0x00, 0x03, 0x74, 0x16,
    // swapgs' site (not decoded: the walk stops at the site table's entry)
    0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x0f, 0x01, 0xf8};

} // namespace

TEST_CASE("entry decode: error_entry reaches its CS test, which reads the frame's CS", "[entry]") {
    std::vector<uint8_t> code = error_entry;
    code.resize(code.size() + 16, 0xcc);
    int64_t depth = 8;  // asm_exc_page_fault's call error_entry
    size_t at = 0;
    int64_t store_offset = 0;
    for (;;) {
        entry_step s = decode_entry_step(code.data() + at);
        REQUIRE(s.kind != entry_step_kind::unknown);
        REQUIRE(s.length > 0);
        at += s.length;
        if (s.kind == entry_step_kind::push) depth += 8;
        if (s.kind == entry_step_kind::store_rsp) store_offset = s.disp - depth;
        if (s.kind == entry_step_kind::test_rpl_je) {
            // #PF pushes an error code: rip at +8, CS at +16 from the rsp the handler starts on.
            CHECK(s.disp - depth == 16);
            break;
        }
    }
    CHECK(at == error_entry.size() - 8);
    CHECK(store_offset == -8);  // the call's return slot, not the frame
}

TEST_CASE("entry decode: the shapes the walk follows", "[entry]") {
    CHECK(decode({0x90}).kind == entry_step_kind::plain);
    CHECK(decode({0xfc}).kind == entry_step_kind::plain);
    CHECK(decode({0x0f, 0xae, 0xf0}).kind == entry_step_kind::plain);  // mfence
    CHECK(decode({0x0f, 0xae, 0xf0}).length == 3);
    CHECK(decode({0x0f, 0xae, 0x38}).kind == entry_step_kind::unknown);  // clflush (%rax)
    CHECK(decode({0x6a, 0xff}).kind == entry_step_kind::push);
    CHECK(decode({0x6a, 0xff}).length == 2);
    entry_step call = decode({0xe8, 0x92, 0x03, 0x00, 0x00});
    CHECK(call.kind == entry_step_kind::call);
    CHECK(call.target == 0x392);
    entry_step jmp = decode({0xeb, 0xfe});
    CHECK(jmp.kind == entry_step_kind::jump);
    CHECK(jmp.target == -2);
    entry_step test8 = decode({0xf6, 0x44, 0x24, 0x10, 0x03, 0x0f, 0x84, 0, 0, 0, 0});
    CHECK(test8.kind == entry_step_kind::test_rpl_je);
    CHECK(test8.disp == 0x10);
    CHECK(test8.length == 11);
}

TEST_CASE("entry decode: refuses what could use %gs, move %rsp or branch the other way", "[entry]") {
    CHECK(decode({0x65, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0}).kind == entry_step_kind::unknown);  // mov %gs:0,%rax
    CHECK(decode({0x0f, 0x01, 0xf8}).kind == entry_step_kind::unknown);                         // swapgs itself
    CHECK(decode({0x48, 0x8b, 0x64, 0x24, 0x08}).kind == entry_step_kind::unknown);             // mov 8(%rsp),%rsp
    CHECK(decode({0x4c, 0x8b, 0x64, 0x24, 0x08}).kind == entry_step_kind::plain);               // mov 8(%rsp),%r12
    CHECK(decode({0x31, 0xe4}).kind == entry_step_kind::unknown);                               // xor %esp,%esp
    CHECK(decode({0x45, 0x31, 0xe4}).kind == entry_step_kind::plain);                           // xor %r12d,%r12d
    CHECK(decode({0xf6, 0x44, 0x24, 0x10, 0x03, 0x75, 0x02}).kind == entry_step_kind::unknown); // jne
    CHECK(decode({0xf6, 0x44, 0x24, 0x10, 0x04, 0x74, 0x02}).kind == entry_step_kind::unknown); // testb $4
    CHECK(decode({0xc3}).kind == entry_step_kind::unknown);                                     // ret
}
