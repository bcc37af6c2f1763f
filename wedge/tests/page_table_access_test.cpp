// Page-table sites performed by the wedge (wedge/page_table_access.h): the operation read from
// the bytes at rewrite time, the access from the record's operands at run time. The ALU forms
// are checked against this host CPU running the same instruction (flags included).
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "machine.h"
#include "wedge/page_table_access.h"
#include "wedge/page_table_memory.h"
#include "wedge/page_table_sites.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

constexpr uint64_t entries = machine::data;            // a mapped kernel data page
constexpr uint64_t unmapped = machine::data + 0x1000;  // the page after it is not mapped
constexpr uint64_t memcpy_at = machine::code + 0x800, memmove_at = machine::code + 0x900,
                   memset_at = machine::code + 0xa00;
constexpr uint64_t status_flags = flags::cf | flags::pf | flags::af | flags::zf | flags::sf | flags::of;

// Counts the touches, for the tests that check everything goes through the interface.
class counting_memory final : public page_table_memory {
public:
    explicit counting_memory(page_table_memory &inner) : inner_(inner) {}
    bool load(uint64_t a, unsigned w, uint64_t &v, event &f) override
    {
        loads.push_back({a, w});
        return inner_.load(a, w, v, f);
    }
    bool store(uint64_t a, unsigned w, uint64_t v, event &f) override
    {
        stores.push_back({a, w});
        return inner_.store(a, w, v, f);
    }
    struct touch {
        uint64_t address;
        unsigned width;
    };
    std::vector<touch> loads, stores;

private:
    page_table_memory &inner_;
};

// A machine whose code page holds one page-table site.
struct pt_machine : machine {
    site_record rec{};
    page_table_access access{};
    block_functions fns{memcpy_at, memmove_at, memset_at};

    // Writes `bytes` at the code address and builds the record afterburn-as would: kind, form,
    // operand size, the fields given. Returns describe's refusal, or null.
    const char *site(std::vector<uint8_t> bytes, site_kind kind, page_table_form form, unsigned bits,
                     uint8_t reg = annotation::no_register)
    {
        be.poke(code, bytes.data(), bytes.size());
        rec = record(kind, bits, static_cast<uint8_t>(bytes.size()),
                     static_cast<uint8_t>(bytes.size() >= 8 ? 0 : 8 - bytes.size()));
        rec.special = static_cast<uint8_t>(form);
        if (reg != annotation::no_register) rec = with_reg(rec, reg);
        return describe();
    }
    // ... with a memory operand [base + index*scale + disp] (disp_size bytes at disp_offset).
    const char *mem_site(std::vector<uint8_t> bytes, site_kind kind, unsigned bits, uint8_t reg, uint8_t base,
                         uint8_t disp_offset = annotation::no_displacement, uint8_t disp_size = 0,
                         uint8_t index = annotation::no_register, uint8_t scale = 1)
    {
        site(bytes, kind, page_table_form::memory_operand, bits, reg);
        rec.flags |= annotation::flag_memory;
        rec.mem_base = base;
        rec.mem_index = index;
        rec.mem_scale = scale;
        rec.disp_offset = disp_offset;
        rec.disp_size = disp_size;
        return describe();
    }
    const char *describe()
    {
        std::vector<uint8_t> insn(rec.insn_len);
        for (unsigned i = 0; i < rec.insn_len; ++i) insn[i] = be.peek<uint8_t>(code + i);
        return describe_page_table_site(rec, insn.data(), code, fns, access);
    }
    emulation go(page_table_memory *through = nullptr)
    {
        guest_memory gm(cpu, be);
        identity_page_table_memory identity(gm);
        std::vector<uint8_t> insn(rec.insn_len);
        for (unsigned i = 0; i < rec.insn_len; ++i) insn[i] = be.peek<uint8_t>(code + i);
        return emulate_page_table(access, rec, insn.data(), code, 0, cpu, f, through ? *through : identity);
    }
};

void require_next(const emulation &r, pt_machine &m)
{
    REQUIRE(r.what == action::resume);
    CHECK(m.f.rip == m.end(m.rec));
}

void require_pf(const emulation &r, pt_machine &m, uint64_t cr2, uint32_t error)
{
    REQUIRE(r.what == action::raise);
    CHECK(r.ev.vector == vec::pf);
    CHECK(r.ev.cr2 == cr2);
    CHECK(r.ev.error_code == error);
    CHECK(m.f.rip == machine::code);
}

// Five CS padding prefixes in front of a 3-byte instruction, as afterburn-as pads it.
std::vector<uint8_t> padded(std::vector<uint8_t> insn)
{
    std::vector<uint8_t> b;
    while (b.size() + insn.size() < 8) b.push_back(0x2e);
    b.insert(b.end(), insn.begin(), insn.end());
    return b;
}

// The operand-size prefixes and opcode of `op r/m, reg`-style instructions at a width:
// byte forms are the even opcode, the others the odd one (0x66 for 16 bits, REX.W for 64).
std::vector<uint8_t> sized(unsigned bits, uint8_t byte_opcode, std::vector<uint8_t> rest)
{
    std::vector<uint8_t> b;
    if (bits == 16) b.push_back(0x66);
    if (bits == 64) b.push_back(0x48);
    b.push_back(bits == 8 ? byte_opcode : static_cast<uint8_t>(byte_opcode | 1));
    b.insert(b.end(), rest.begin(), rest.end());
    return b;
}

// ---- the host CPU as the reference -----------------------------------------------------------

struct host_result {
    uint64_t mem, reg, flags;
};

// `mnemonic %reg, (mem)` on this CPU at T's width, flags after.
#define HOST_MEM_DEST(fn, mnemonic)                                                                 \
    template <class T> host_result fn(T mem, T reg)                                               \
    {                                                                                             \
        uint64_t fl;                                                                              \
        asm volatile(mnemonic " %2, %0\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %1\n\tlea 128(%%rsp), %%rsp" : "+m"(mem), "=r"(fl), "+r"(reg)::"cc"); \
        return {mem, reg, fl};                                                                    \
    }
// `mnemonic (mem), %reg`.
#define HOST_REG_DEST(fn, mnemonic)                                                                 \
    template <class T> host_result fn(T mem, T reg)                                               \
    {                                                                                             \
        uint64_t fl;                                                                              \
        asm volatile(mnemonic " %0, %2\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %1\n\tlea 128(%%rsp), %%rsp" : "+m"(mem), "=r"(fl), "+r"(reg)::"cc"); \
        return {mem, reg, fl};                                                                    \
    }
HOST_MEM_DEST(host_add, "add")
HOST_MEM_DEST(host_or, "or")
HOST_MEM_DEST(host_and, "and")
HOST_MEM_DEST(host_sub, "sub")
HOST_MEM_DEST(host_xor, "xor")
HOST_MEM_DEST(host_cmp, "cmp")
HOST_MEM_DEST(host_test, "test")
HOST_MEM_DEST(host_xchg, "xchg")
HOST_REG_DEST(host_add_r, "add")
HOST_REG_DEST(host_and_r, "and")
HOST_REG_DEST(host_sub_r, "sub")
HOST_REG_DEST(host_cmp_r, "cmp")

template <class T> host_result host_cmpxchg(T mem, T acc, T src)
{
    uint64_t fl;
    asm volatile("lock cmpxchg %3, %0\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %1\n\tlea 128(%%rsp), %%rsp" : "+m"(mem), "=r"(fl), "+a"(acc) : "r"(src) : "cc");
    return {mem, static_cast<uint64_t>(acc), fl};
}

const uint64_t samples[] = {0,           1,          0x7f,       0x80,       0xff,       0x7fff, 0x8000,
                            0xffff,      0x7fffffff, 0x80000000, 0xffffffff, 0x8000000000000000ull,
                            ~0ull,       0x0123456789abcdefull, 0xfedcba9876543210ull, 0x8000000000000063ull};

template <class T> void check_alu(unsigned bits)
{
    struct op {
        const char *name;
        uint8_t opcode;  // byte form
        host_result (*host)(T, T);
        bool flags_only, logic;
    };
    const op ops[] = {
        {"add", 0x00, host_add<T>, false, false}, {"or", 0x08, host_or<T>, false, true},
        {"and", 0x20, host_and<T>, false, true},  {"sub", 0x28, host_sub<T>, false, false},
        {"xor", 0x30, host_xor<T>, false, true},  {"cmp", 0x38, host_cmp<T>, true, false},
        {"test", 0x84, host_test<T>, true, true}, {"xchg", 0x86, host_xchg<T>, false, false},
        {"add r", 0x02, host_add_r<T>, false, false}, {"and r", 0x22, host_and_r<T>, false, true},
        {"sub r", 0x2a, host_sub_r<T>, false, false}, {"cmp r", 0x3a, host_cmp_r<T>, true, false},
    };
    for (const op &o : ops)
        for (uint64_t a : samples)
            for (uint64_t b : samples) {
                pt_machine m;
                // op %ecx-sized register (reg 1), (%rdi): ModRM 0x0f.
                bool store = !o.flags_only && (o.opcode & 2) == 0;
                REQUIRE(m.mem_site(padded(sized(bits, o.opcode, {0x0f})),
                                   store ? site_kind::page_table_store : site_kind::page_table_load, bits, rcx,
                                   rdi) == nullptr);
                m.be.poke<uint64_t>(entries, 0x1111111111111111ull);
                m.be.poke(entries, &a, bits / 8);
                m.f.gpr[rdi] = entries;
                m.f.gpr[rcx] = 0x2222222222222222ull;
                std::memcpy(&m.f.gpr[rcx], &b, bits / 8);
                m.f.rflags = flags::fixed1 | flags::if_;
                host_result h = o.host(static_cast<T>(a), static_cast<T>(b));
                require_next(m.go(), m);
                INFO(o.name << " " << bits << " bits, mem 0x" << std::hex << a << " reg 0x" << b);
                uint64_t mem_after = 0x1111111111111111ull;
                std::memcpy(&mem_after, &h.mem, bits / 8);
                CHECK(m.be.peek<uint64_t>(entries) == mem_after);
                uint64_t reg_after = 0x2222222222222222ull;
                std::memcpy(&reg_after, &h.reg, bits / 8);
                if (bits == 32) reg_after = h.reg & 0xffffffffu;  // a 32-bit register write zero-extends
                if (bits == 32 && (o.opcode == 0x22 || o.opcode == 0x02 || o.opcode == 0x2a || o.opcode == 0x86))
                    CHECK(m.f.gpr[rcx] == reg_after);
                else if (bits != 32)
                    CHECK(m.f.gpr[rcx] == reg_after);
                if (o.opcode != 0x86) {
                    // AF is undefined after a logic op (the wedge clears it).
                    uint64_t mask = o.logic ? status_flags & ~flags::af : status_flags;
                    CHECK((m.f.rflags & mask) == (h.flags & mask));
                } else {
                    CHECK((m.f.rflags & status_flags) == 0);  // xchg leaves the flags
                }
            }
}

template <class T> void check_cmpxchg(unsigned bits)
{
    for (uint64_t a : samples)
        for (uint64_t acc : {a, a ^ 1, uint64_t{0}, ~uint64_t{0}}) {
            pt_machine m;
            std::vector<uint8_t> insn = {0xf0};
            if (bits == 16) insn.push_back(0x66);
            if (bits == 64) insn.push_back(0x48);
            insn.push_back(0x0f);
            insn.push_back(bits == 8 ? 0xb0 : 0xb1);
            insn.push_back(0x0f);  // %cl.. %rcx, (%rdi)
            REQUIRE(m.mem_site(padded(insn), site_kind::page_table_store, bits, rcx, rdi) == nullptr);
            CHECK(m.access.op == pt_op::cmpxchg);
            const uint64_t src = 0x5a5a5a5a5a5a5a5aull;
            m.be.poke<uint64_t>(entries, 0x3333333333333333ull);
            m.be.poke(entries, &a, bits / 8);
            m.f.gpr[rdi] = entries;
            m.f.gpr[rcx] = src;
            m.f.gpr[rax] = 0x4444444444444444ull;
            std::memcpy(&m.f.gpr[rax], &acc, bits / 8);
            const uint64_t rax_before = m.f.gpr[rax];
            host_result h = host_cmpxchg<T>(static_cast<T>(a), static_cast<T>(acc), static_cast<T>(src));
            require_next(m.go(), m);
            INFO(bits << " bits, mem 0x" << std::hex << a << " acc 0x" << acc);
            uint64_t mem_after = 0x3333333333333333ull;
            std::memcpy(&mem_after, &h.mem, bits / 8);
            CHECK(m.be.peek<uint64_t>(entries) == mem_after);
            CHECK((m.f.rflags & status_flags) == (h.flags & status_flags));
            const bool equal = static_cast<T>(a) == static_cast<T>(acc);
            CHECK(((m.f.rflags & flags::zf) != 0) == equal);
            if (equal) {
                CHECK(m.f.gpr[rax] == rax_before);  // success: the accumulator is untouched
            } else if (bits == 32) {
                CHECK(m.f.gpr[rax] == (h.reg & 0xffffffffu));  // failure: loaded, zero-extended
            } else {
                uint64_t expect = rax_before;
                std::memcpy(&expect, &h.reg, bits / 8);
                CHECK(m.f.gpr[rax] == expect);
            }
        }
}

} // namespace

TEST_CASE("page-table ALU forms match this CPU: result, register and flags at every width", "[page_table]")
{
    check_alu<uint8_t>(8);
    check_alu<uint16_t>(16);
    check_alu<uint32_t>(32);
    check_alu<uint64_t>(64);
}

TEST_CASE("page-table cmpxchg: success stores, failure loads the accumulator, ZF says which", "[page_table]")
{
    check_cmpxchg<uint8_t>(8);
    check_cmpxchg<uint16_t>(16);
    check_cmpxchg<uint32_t>(32);
    check_cmpxchg<uint64_t>(64);
}

TEST_CASE("page-table mov: stores and loads at every width, register writes as the CPU's", "[page_table]")
{
    pt_machine m;
    m.f.gpr[rdi] = entries;
    m.be.poke<uint64_t>(entries + 0x10, 0x8877665544332211ull);
    // mov %rax,(%rdi)
    REQUIRE(m.mem_site(padded({0x48, 0x89, 0x07}), site_kind::page_table_store, 64, rax, rdi) == nullptr);
    CHECK(m.access.op == pt_op::mov_store);
    m.f.gpr[rax] = 0x8000000012345067ull;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0x8000000012345067ull);
    // mov 0x10(%rdi),%ecx: 32-bit loads zero-extend
    REQUIRE(m.mem_site(padded({0x8b, 0x4f, 0x10}), site_kind::page_table_load, 32, rcx, rdi, 7, 1) == nullptr);
    m.f.gpr[rcx] = ~0ull;
    require_next(m.go(), m);
    CHECK(m.f.gpr[rcx] == 0x44332211ull);
    // mov 0x10(%rdi),%cx and %cl: the rest of the register kept
    REQUIRE(m.mem_site(padded({0x66, 0x8b, 0x4f, 0x10}), site_kind::page_table_load, 16, rcx, rdi, 7, 1) == nullptr);
    m.f.gpr[rcx] = ~0ull;
    require_next(m.go(), m);
    CHECK(m.f.gpr[rcx] == 0xffffffffffff2211ull);
    REQUIRE(m.mem_site(padded({0x8a, 0x4f, 0x10}), site_kind::page_table_load, 8, rcx, rdi, 7, 1) == nullptr);
    m.f.gpr[rcx] = ~0ull;
    require_next(m.go(), m);
    CHECK(m.f.gpr[rcx] == 0xffffffffffffff11ull);
    // movq $-1,(%rdi): the imm32 sign-extended; movl $imm32 and movb $imm8 write their width only
    REQUIRE(m.mem_site({0x2e, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff}, site_kind::page_table_store, 64,
                       annotation::no_register, rdi) == nullptr);
    m.rec.imm = -1;
    m.describe();
    CHECK(m.access.immediate);
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == ~0ull);
    REQUIRE(m.mem_site({0x2e, 0x2e, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12}, site_kind::page_table_store, 32,
                       annotation::no_register, rdi) == nullptr);
    m.rec.imm = 0x12345678;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0xffffffff12345678ull);
    REQUIRE(m.mem_site(padded({0xc6, 0x07, 0x00}), site_kind::page_table_store, 8, annotation::no_register, rdi) ==
            nullptr);
    m.rec.imm = 0;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0xffffffff12345600ull);
    // mov %sil,(%rdi) with REX: register 6 is sil, not dh
    REQUIRE(m.mem_site(padded({0x40, 0x88, 0x37}), site_kind::page_table_store, 8, rsi, rdi) == nullptr);
    m.f.gpr[rsi] = 0xab;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint8_t>(entries) == 0xab);
    CHECK((m.f.rflags & status_flags) == 0);  // mov changes no flag
}

TEST_CASE("page-table movzx/movsx/movsxd: widths and extension", "[page_table]")
{
    pt_machine m;
    m.f.gpr[rdi] = entries;
    m.be.poke<uint64_t>(entries, 0x00000000f0e0c080ull);
    struct {
        std::vector<uint8_t> insn;
        unsigned bits;
        uint64_t before, after;
    } cases[] = {
        {{0x0f, 0xb6, 0x07}, 8, ~0ull, 0x80},                       // movzbl (%rdi),%eax
        {{0x0f, 0xb7, 0x07}, 16, ~0ull, 0xc080},                    // movzwl
        {{0x66, 0x0f, 0xb6, 0x07}, 8, ~0ull, 0xffffffffffff0080},   // movzbw: a 16-bit destination
        {{0x48, 0x0f, 0xbe, 0x07}, 8, 0, 0xffffffffffffff80},       // movsbq
        {{0x0f, 0xbf, 0x07}, 16, ~0ull, 0x00000000ffffc080},        // movswl: zero-extended beyond 32
        {{0x48, 0x63, 0x07}, 32, 0, 0xfffffffff0e0c080},            // movslq
    };
    for (auto &c : cases) {
        REQUIRE(m.mem_site(padded(c.insn), site_kind::page_table_load, c.bits, rax, rdi) == nullptr);
        m.f.gpr[rax] = c.before;
        require_next(m.go(), m);
        CHECK(m.f.gpr[rax] == c.after);
    }
}

TEST_CASE("page-table immediates, tests and bit operations", "[page_table]")
{
    pt_machine m;
    m.f.gpr[rdi] = entries;
    // andb $0xdf,(%rdi) (clear_bit with a constant): the record's imm as LLVM gives it
    REQUIRE(m.mem_site(padded({0x80, 0x27, 0xdf}), site_kind::page_table_store, 8, annotation::no_register, rdi) ==
            nullptr);
    m.rec.imm = -33;
    m.be.poke<uint64_t>(entries, 0x1ff);
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0x1df);
    // andq $-0x1001,(%rdi) through 0x83's sign-extended imm8 form is the same path; orq $0x40 (0x83 /1)
    REQUIRE(m.mem_site(padded({0x48, 0x83, 0x0f, 0x40}), site_kind::page_table_store, 64, annotation::no_register,
                       rdi) == nullptr);
    CHECK(m.access.op == pt_op::or_);
    m.rec.imm = 0x40;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0x1df);
    // testq $0x80,(%rdi) (f7 /0 imm32): flags only
    REQUIRE(m.mem_site({0x2e, 0x48, 0xf7, 0x07, 0x80, 0x00, 0x00, 0x00}, site_kind::page_table_load, 64,
                       annotation::no_register, rdi) == nullptr);
    m.rec.imm = 0x80;
    m.f.rflags = flags::fixed1 | flags::cf | flags::of;
    require_next(m.go(), m);
    CHECK((m.f.rflags & status_flags) == 0);  // 0x1df & 0x80 is nonzero, positive, odd parity
    m.rec.imm = 0x20;
    require_next(m.go(), m);
    CHECK((m.f.rflags & status_flags) == (flags::zf | flags::pf));
    // btrq $0,(%rdi) and btsq $63: CF is the old bit
    REQUIRE(m.mem_site(padded({0x48, 0x0f, 0xba, 0x37, 0x00}), site_kind::page_table_store, 64,
                       annotation::no_register, rdi) == nullptr);
    CHECK(m.access.op == pt_op::btr);
    m.rec.imm = 0;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0x1de);
    CHECK(m.f.rflags & flags::cf);
    require_next(m.go(), m);
    CHECK_FALSE(m.f.rflags & flags::cf);
    REQUIRE(m.mem_site(padded({0x48, 0x0f, 0xba, 0x2f, 0x3f}), site_kind::page_table_store, 64,
                       annotation::no_register, rdi) == nullptr);
    CHECK(m.access.op == pt_op::bts);
    m.rec.imm = 63 + 64;  // the offset is taken modulo the width
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0x80000000000001deull);
    // btr %rsi,(%rdi) with an offset beyond the operand: the quadword it falls in
    REQUIRE(m.mem_site(padded({0x48, 0x0f, 0xb3, 0x37}), site_kind::page_table_store, 64, rsi, rdi) == nullptr);
    m.be.poke<uint64_t>(entries + 16, 0xff);
    m.f.gpr[rsi] = 128 + 3;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries + 16) == 0xf7);
    CHECK(m.f.rflags & flags::cf);
    m.f.gpr[rdi] = entries + 16;
    m.f.gpr[rsi] = static_cast<uint64_t>(-128 + 1);  // negative offsets go below
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries) == 0x80000000000001dcull);
    // bt %rsi,(%rdi): a load, nothing written
    REQUIRE(m.mem_site(padded({0x48, 0x0f, 0xa3, 0x37}), site_kind::page_table_load, 64, rsi, rdi) == nullptr);
    m.f.gpr[rdi] = entries;
    m.f.gpr[rsi] = 2;
    require_next(m.go(), m);
    CHECK(m.f.rflags & flags::cf);
    CHECK(m.be.peek<uint64_t>(entries) == 0x80000000000001dcull);
}

TEST_CASE("page-table operand addresses: index, scale, RIP-relative, GS base", "[page_table]")
{
    pt_machine m;
    // mov %rax,(%rdi,%rsi,8)
    REQUIRE(m.mem_site(padded({0x48, 0x89, 0x04, 0xf7}), site_kind::page_table_store, 64, rax, rdi,
                       annotation::no_displacement, 0, rsi, 8) == nullptr);
    m.f.gpr[rdi] = entries;
    m.f.gpr[rsi] = 5;
    m.f.gpr[rax] = 42;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries + 40) == 42);
    // mov disp32(%rip),%rax: relative to the instruction's end (an entry in the code page here)
    m.be.poke<uint64_t>(machine::code + 0x400, 42);
    const int32_t rel = 0x400 - 8;
    std::vector<uint8_t> b = {0x2e, 0x48, 0x8b, 0x05};
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(rel) >> (8 * i)));
    REQUIRE(m.mem_site(b, site_kind::page_table_load, 64, rax, annotation::rip_base, 4, 4) == nullptr);
    m.f.gpr[rax] = 0;
    require_next(m.go(), m);
    CHECK(m.f.gpr[rax] == 42);
    // mov %gs:8(%rdi),%rcx
    REQUIRE(m.mem_site(padded({0x65, 0x48, 0x8b, 0x4f, 0x08}), site_kind::page_table_load, 64, rcx, rdi, 7, 1) ==
            nullptr);
    m.rec.mem_seg = annotation::seg_gs;
    m.cpu.gs_base = 32;
    m.f.gpr[rdi] = entries;
    require_next(m.go(), m);
    CHECK(m.f.gpr[rcx] == 42);
}

TEST_CASE("page-table faults: the #PF the CPU would raise, at the site, nothing changed", "[page_table]")
{
    pt_machine m;
    REQUIRE(m.mem_site(padded({0x48, 0x89, 0x07}), site_kind::page_table_store, 64, rax, rdi) == nullptr);
    m.f.gpr[rdi] = unmapped + 8;
    require_pf(m.go(), m, unmapped + 8, pf_error::write);
    // a read-only page: present | write
    m.be.map(unmapped, 0x1000, false, false);
    require_pf(m.go(), m, unmapped + 8, pf_error::present | pf_error::write);
    // a failing cmpxchg still writes (the CPU writes the old value back): the same fault
    REQUIRE(m.mem_site(padded({0xf0, 0x48, 0x0f, 0xb1, 0x0f}), site_kind::page_table_store, 64, rcx, rdi) ==
            nullptr);
    m.f.gpr[rax] = 1;
    const frame before = m.f;
    require_pf(m.go(), m, unmapped + 8, pf_error::present | pf_error::write);
    CHECK(m.f.gpr[rax] == before.gpr[rax]);
    // a load from an unmapped page, at CPL 3 with the user bit
    REQUIRE(m.mem_site(padded({0x48, 0x8b, 0x07}), site_kind::page_table_load, 64, rax, rdi) == nullptr);
    m.f.gpr[rdi] = unmapped + 0x1000;
    require_pf(m.go(), m, unmapped + 0x1000, 0);
}

TEST_CASE("page-table strings: rep stos/movs with rcx, rdi, rsi and the direction flag", "[page_table]")
{
    pt_machine m;
    // rep stos %rax,%es:(%rdi)
    REQUIRE(m.site({0xf3, 0x48, 0xab}, site_kind::page_table_store, page_table_form::string, 64) != nullptr);
    m.rec.flags |= annotation::flag_rep;
    REQUIRE(m.describe() == nullptr);
    CHECK(m.access.op == pt_op::stos);
    m.f.gpr[rdi] = entries;
    m.f.gpr[rcx] = 4;
    m.f.gpr[rax] = 0x1234;
    require_next(m.go(), m);
    for (int i = 0; i < 4; ++i) CHECK(m.be.peek<uint64_t>(entries + 8 * i) == 0x1234);
    CHECK(m.be.peek<uint64_t>(entries + 32) == 0);
    CHECK(m.f.gpr[rcx] == 0);
    CHECK(m.f.gpr[rdi] == entries + 32);
    // rcx 0: nothing
    require_next(m.go(), m);
    CHECK(m.f.gpr[rdi] == entries + 32);
    // rep movsl, backwards (DF): from [rsi] down to [rdi]
    REQUIRE(m.site({0xf3, 0xa5}, site_kind::page_table_store, page_table_form::string, 32) != nullptr);
    m.rec.flags |= annotation::flag_rep;
    REQUIRE(m.describe() == nullptr);
    CHECK(m.access.op == pt_op::movs);
    for (uint32_t i = 0; i < 4; ++i) m.be.poke<uint32_t>(entries + 0x100 + 4 * i, 0xa0 + i);
    m.f.rflags |= flags::df;
    m.f.gpr[rsi] = entries + 0x10c;
    m.f.gpr[rdi] = entries + 0x20c;
    m.f.gpr[rcx] = 3;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint32_t>(entries + 0x20c) == 0xa3);
    CHECK(m.be.peek<uint32_t>(entries + 0x204) == 0xa1);
    CHECK(m.be.peek<uint32_t>(entries + 0x200) == 0);
    CHECK(m.f.gpr[rsi] == entries + 0x100);
    CHECK(m.f.gpr[rdi] == entries + 0x200);
    CHECK(m.f.gpr[rcx] == 0);
    // movsq without rep: one element, rcx untouched
    m.f.rflags &= ~flags::df;
    REQUIRE(m.site({0x48, 0xa5}, site_kind::page_table_store, page_table_form::string, 64) == nullptr);
    m.f.gpr[rcx] = 77;
    m.f.gpr[rsi] = entries + 0x100;
    m.f.gpr[rdi] = entries + 0x300;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries + 0x300) == 0x000000a1000000a0ull);
    CHECK(m.f.gpr[rcx] == 77);
    CHECK(m.f.gpr[rsi] == entries + 0x108);
    CHECK(m.f.gpr[rdi] == entries + 0x308);
    // stosb: the element width is the record's
    REQUIRE(m.site({0xaa}, site_kind::page_table_store, page_table_form::string, 8) == nullptr);
    m.f.gpr[rax] = 0x1ff;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint16_t>(entries + 0x308) == 0xff);
    CHECK(m.f.gpr[rdi] == entries + 0x309);
}

TEST_CASE("page-table rep stos faulting half way: registers as the CPU leaves them, then it finishes",
          "[page_table]")
{
    pt_machine m;
    REQUIRE(m.site({0xf3, 0x48, 0xab}, site_kind::page_table_store, page_table_form::string, 64) != nullptr);
    m.rec.flags |= annotation::flag_rep;
    REQUIRE(m.describe() == nullptr);
    m.f.gpr[rdi] = unmapped - 16;  // two entries fit, the third faults
    m.f.gpr[rcx] = 5;
    m.f.gpr[rax] = 7;
    require_pf(m.go(), m, unmapped, pf_error::write);
    CHECK(m.f.gpr[rcx] == 3);
    CHECK(m.f.gpr[rdi] == unmapped);
    CHECK(m.be.peek<uint64_t>(unmapped - 8) == 7);
    // The handler maps the page; the site runs again from where it stopped.
    m.be.map(unmapped, 0x1000);
    require_next(m.go(), m);
    CHECK(m.f.gpr[rcx] == 0);
    CHECK(m.f.gpr[rdi] == unmapped + 24);
    CHECK(m.be.peek<uint64_t>(unmapped + 16) == 7);
    CHECK(m.be.peek<uint64_t>(unmapped + 24) == 0);
}

TEST_CASE("page-table block calls: memcpy, memmove, memset, by call and by tail jmp", "[page_table]")
{
    pt_machine m;
    auto call = [&](uint8_t opcode, uint64_t target) {
        std::vector<uint8_t> b = {opcode};
        const uint32_t rel = static_cast<uint32_t>(target - (machine::code + 5));
        for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(rel >> (8 * i)));
        return m.site(b, site_kind::page_table_store, page_table_form::block_call, 64);
    };
    for (uint32_t i = 0; i < 32; ++i) m.be.poke<uint8_t>(entries + i, static_cast<uint8_t>(i + 1));
    // call memcpy: 20 bytes (two entries and four bytes), rax = dst, on after the call
    REQUIRE(call(0xe8, memcpy_at) == nullptr);
    CHECK(m.access.op == pt_op::memcpy);
    CHECK_FALSE(m.access.tail);
    m.f.gpr[rdi] = entries + 0x100;
    m.f.gpr[rsi] = entries;
    m.f.gpr[rdx] = 20;
    guest_memory gm(m.cpu, m.be);
    identity_page_table_memory identity(gm);
    counting_memory counted(identity);
    require_next(m.go(&counted), m);
    CHECK(m.f.gpr[rax] == entries + 0x100);
    CHECK(m.be.peek<uint8_t>(entries + 0x100 + 19) == 20);
    CHECK(m.be.peek<uint8_t>(entries + 0x100 + 20) == 0);
    REQUIRE(counted.stores.size() == 6);  // everything through the interface: 8, 8, 1, 1, 1, 1
    CHECK(counted.stores[0].width == 8);
    CHECK(counted.stores[2].width == 1);
    CHECK(counted.loads.size() == 6);
    // memmove to an overlapping higher address: copied from the end
    REQUIRE(call(0xe8, memmove_at) == nullptr);
    CHECK(m.access.op == pt_op::memmove);
    m.f.gpr[rdi] = entries + 3;
    m.f.gpr[rsi] = entries;
    m.f.gpr[rdx] = 17;
    require_next(m.go(), m);
    for (uint32_t i = 0; i < 17; ++i) CHECK(m.be.peek<uint8_t>(entries + 3 + i) == i + 1);
    // memset(dst, 0x1ab, 10): the byte value, rax = dst
    REQUIRE(call(0xe8, memset_at) == nullptr);
    m.f.gpr[rdi] = entries + 0x200;
    m.f.gpr[rsi] = 0x1ab;
    m.f.gpr[rdx] = 10;
    require_next(m.go(), m);
    CHECK(m.be.peek<uint64_t>(entries + 0x200) == 0xababababababababull);
    CHECK(m.be.peek<uint32_t>(entries + 0x208) == 0xabab);
    CHECK(m.f.gpr[rax] == entries + 0x200);
    // jmp memset (a tail call): returns to the caller's caller, the return address popped
    REQUIRE(call(0xe9, memset_at) == nullptr);
    CHECK(m.access.tail);
    const uint64_t sp = machine::kstack_top - 64;
    m.be.poke<uint64_t>(sp, 0xffffffff81234567ull);
    m.f.gpr[rsp] = sp;
    m.f.gpr[rdi] = entries + 0x300;
    m.f.gpr[rdx] = 8;
    m.f.gpr[rsi] = 0;
    emulation r = m.go();
    REQUIRE(r.what == action::transfer);
    CHECK(m.f.rip == 0xffffffff81234567ull);
    CHECK(m.f.gpr[rsp] == sp + 8);
    CHECK(m.f.gpr[rax] == entries + 0x300);
    CHECK(m.be.peek<uint64_t>(entries + 0x300) == 0);
    // jmp rel8 to memcpy
    REQUIRE(m.site({0xeb, static_cast<uint8_t>(memcpy_at - (machine::code + 2))}, site_kind::page_table_store,
                   page_table_form::block_call, 64) != nullptr);  // out of rel8 reach: not memcpy
    // a fault inside: reported at the call, rsp and rip as before
    REQUIRE(call(0xe8, memcpy_at) == nullptr);
    m.f.gpr[rdi] = unmapped - 8;
    m.f.gpr[rsi] = entries;
    m.f.gpr[rdx] = 16;
    m.f.gpr[rsp] = sp;
    require_pf(m.go(), m, unmapped, pf_error::write);
    CHECK(m.f.gpr[rsp] == sp);
}

TEST_CASE("page-table sites the wedge cannot perform exactly are refused with a reason", "[page_table]")
{
    pt_machine m;
    CHECK(m.mem_site(padded({0x48, 0x11, 0x07}), site_kind::page_table_store, 64, rax, rdi) != nullptr);  // adc
    CHECK(m.mem_site(padded({0x48, 0xff, 0x07}), site_kind::page_table_store, 64, annotation::no_register, rdi) !=
          nullptr);  // inc
    CHECK(m.mem_site(padded({0x48, 0xf7, 0x17}), site_kind::page_table_store, 64, annotation::no_register, rdi) !=
          nullptr);  // not
    CHECK(m.mem_site(padded({0x67, 0x48, 0x89, 0x07}), site_kind::page_table_store, 64, rax, rdi) !=
          nullptr);  // 32-bit addressing
    CHECK(m.mem_site(padded({0x88, 0x27}), site_kind::page_table_store, 8, 4, rdi) != nullptr);  // mov %ah,(%rdi)
    CHECK(m.mem_site(padded({0x48, 0x89, 0x07}), site_kind::page_table_store, 32, rax, rdi) !=
          nullptr);  // the record's width is not the instruction's
    CHECK(m.mem_site(padded({0x48, 0x89, 0x07}), site_kind::page_table_store, 64, annotation::no_register, rdi) !=
          nullptr);  // no register in the record
    CHECK(m.site({0xf2, 0x48, 0xab}, site_kind::page_table_store, page_table_form::string, 64) != nullptr);  // repne
    CHECK(m.site({0xf3, 0x48, 0xab}, site_kind::page_table_store, page_table_form::string, 64) !=
          nullptr);  // rep without the record's flag
    CHECK(m.site({0xe8, 0, 0, 0, 0}, site_kind::page_table_store, page_table_form::block_call, 64) !=
          nullptr);  // a call to something else
    m.fns = {};
    CHECK(m.site({0xe8, 0, 0, 0, 0}, site_kind::page_table_store, page_table_form::block_call, 64) !=
          nullptr);  // no symbols: nothing is memcpy
    CHECK(m.site({0xff, 0xd0}, site_kind::page_table_store, page_table_form::block_call, 64) !=
          nullptr);  // an indirect call
    // and the refusal stops the table: describe_page_table_sites names the site
}
