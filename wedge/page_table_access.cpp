#include "wedge/page_table_access.h"

#include "afterburn/site_kind.h"
#include "wedge/page_table_memory.h"

namespace afterburn::wedge {

namespace ann = annotation;

namespace {

// ---- describe: the operation, from the opcode ----------------------------------------------

struct prefixes {
    bool opsize16 = false, addr32 = false, rep = false, repne = false, rex = false, rex_w = false;
    unsigned opcode_at = 0;  // index of the opcode byte (after the REX prefix)
};

prefixes read_prefixes(const uint8_t *b, unsigned n)
{
    prefixes p;
    unsigned i = 0;
    for (; i < n; ++i) {
        uint8_t c = b[i];
        if (c == 0x66) p.opsize16 = true;
        else if (c == 0x67) p.addr32 = true;
        else if (c == 0xf3) p.rep = true;
        else if (c == 0xf2) p.repne = true;
        // Segment overrides (the record's mem_seg says which counts) and lock (the wedge's
        // read-modify-write runs with the vCPU stopped: atomic for the guest).
        else if (c != 0x26 && c != 0x2e && c != 0x36 && c != 0x3e && c != 0x64 && c != 0x65 && c != 0xf0) break;
    }
    if (i < n && (b[i] & 0xf0) == 0x40) {
        p.rex = true;
        p.rex_w = b[i] & 8;
        ++i;
    }
    p.opcode_at = i;
    return p;
}

// The width of a non-byte operand under these prefixes.
unsigned word_bits(const prefixes &p) { return p.rex_w ? 64 : p.opsize16 ? 16 : 32; }

// Arithmetic group numbers (the opcode's bits 3-5, or ModRM.reg of 80/81/83).
const pt_op alu_ops[8] = {pt_op::add, pt_op::or_, pt_op::none /* adc */, pt_op::none /* sbb */,
                          pt_op::and_, pt_op::sub, pt_op::xor_, pt_op::cmp};

const char *describe_memory_operand(const ann::site_record &rec, const uint8_t *b, const prefixes &p,
                                    page_table_access &out)
{
    const unsigned n = rec.insn_len;
    unsigned i = p.opcode_at;
    uint8_t op = b[i++];
    bool two = op == 0x0f;
    if (two) {
        if (i >= n) return "no opcode after 0x0f";
        op = b[i++];
    }
    if (i >= n) return "page-table site: no ModRM byte after the opcode";
    const uint8_t modrm_reg = (b[i] >> 3) & 7;  // the byte after the opcode
    unsigned bits = 0;           // the memory operand's width as encoded
    bool byte_register = false;  // the register operand is an 8-bit one
    if (!two) {
        const bool byte_op = !(op & 1);
        bits = byte_op ? 8 : word_bits(p);
        if (op < 0x40 && (op & 7) < 4) {
            out.op = alu_ops[op >> 3];
            out.to_register = op & 2;
            byte_register = byte_op;
        } else if (op == 0x80 || op == 0x81 || op == 0x83) {
            out.op = alu_ops[modrm_reg];
            out.immediate = true;
            bits = op == 0x80 ? 8 : word_bits(p);
        } else if (op == 0x84 || op == 0x85) {
            out.op = pt_op::test;
            byte_register = byte_op;
        } else if ((op == 0xf6 || op == 0xf7) && (modrm_reg == 0 || modrm_reg == 1)) {
            out.op = pt_op::test;
            out.immediate = true;
        } else if (op == 0x86 || op == 0x87) {
            out.op = pt_op::xchg;
            byte_register = byte_op;
        } else if (op == 0x88 || op == 0x89) {
            out.op = pt_op::mov_store;
            byte_register = byte_op;
        } else if (op == 0x8a || op == 0x8b) {
            out.op = pt_op::mov_load;
            byte_register = byte_op;
        } else if ((op == 0xc6 || op == 0xc7) && modrm_reg == 0) {
            out.op = pt_op::mov_store;
            out.immediate = true;
        } else if (op == 0x63) {
            // movsxd; without REX.W a plain 32-bit load
            out.op = p.rex_w ? pt_op::movsx : pt_op::mov_load;
            bits = 32;
            out.reg_bits = p.rex_w ? 64 : 32;
        }
    } else {
        switch (op) {
        case 0xb0: case 0xb1:
            out.op = pt_op::cmpxchg;
            bits = op == 0xb0 ? 8 : word_bits(p);
            byte_register = op == 0xb0;
            break;
        case 0xb6: case 0xb7: case 0xbe: case 0xbf:
            out.op = op < 0xbe ? pt_op::movzx : pt_op::movsx;
            bits = (op & 1) ? 16 : 8;
            out.reg_bits = static_cast<uint8_t>(word_bits(p));
            break;
        case 0xa3: out.op = pt_op::bt, bits = word_bits(p); break;
        case 0xab: out.op = pt_op::bts, bits = word_bits(p); break;
        case 0xb3: out.op = pt_op::btr, bits = word_bits(p); break;
        case 0xbb: out.op = pt_op::btc, bits = word_bits(p); break;
        case 0xba:
            if (modrm_reg >= 4 && modrm_reg <= 7) {
                static constexpr pt_op bit_ops[4] = {pt_op::bt, pt_op::bts, pt_op::btr, pt_op::btc};
                out.op = bit_ops[modrm_reg - 4];
                out.immediate = true;
                bits = word_bits(p);
            }
            break;
        default: break;
        }
    }
    if (out.op == pt_op::none)
        return "page-table site: an instruction the wedge does not perform (only mov, movzx, movsx, add, or, and, "
               "sub, xor, cmp, test, xchg, cmpxchg, bt, bts, btr, btc with a memory operand)";
    if (p.rep || p.repne) return "page-table site: a rep prefix on a memory-operand instruction";
    if (bits != ann::operand_bits(rec.flags)) return "page-table site: the record's operand size is not the instruction's";
    if (!out.reg_bits) out.reg_bits = static_cast<uint8_t>(bits);
    const bool has_reg = rec.flags & ann::flag_register;
    if (!out.immediate && !has_reg) return "page-table site: the record names no register operand for a register form";
    // ah, ch, dh, bh: 8-bit registers 4-7 without a REX prefix, which the record's number
    // cannot tell from spl..dil.
    if (byte_register && !p.rex && has_reg && rec.reg >= 4 && rec.reg <= 7)
        return "page-table site: a high-byte register (ah, ch, dh, bh) operand";
    return nullptr;
}

const char *describe_string(const ann::site_record &rec, const uint8_t *b, const prefixes &p,
                            page_table_access &out)
{
    uint8_t op = b[p.opcode_at];
    if (op == 0xa4 || op == 0xa5) out.op = pt_op::movs;
    else if (op == 0xaa || op == 0xab) out.op = pt_op::stos;
    else return "page-table site: a string form that is neither movs nor stos";
    if (p.repne) return "page-table site: repne on a string instruction";
    if (p.rep != static_cast<bool>(rec.flags & ann::flag_rep))
        return "page-table site: the record's rep flag is not the instruction's prefix";
    unsigned bits = (op & 1) ? word_bits(p) : 8;
    if (bits != ann::operand_bits(rec.flags)) return "page-table site: the record's operand size is not the instruction's";
    for (unsigned i = 0; i < p.opcode_at; ++i)
        if (b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e || b[i] == 0x64 || b[i] == 0x65)
            return "page-table site: a segment override on a string instruction";
    out.reg_bits = static_cast<uint8_t>(bits);
    return nullptr;
}

const char *describe_block_call(const ann::site_record &rec, const uint8_t *b, uint64_t site_addr,
                                const prefixes &p, const block_functions &fns, page_table_access &out)
{
    const unsigned i = p.opcode_at;
    const uint8_t op = b[i];
    int64_t rel;
    if ((op == 0xe8 || op == 0xe9) && i + 5 == rec.insn_len)
        rel = static_cast<int32_t>(static_cast<uint32_t>(b[i + 1]) | static_cast<uint32_t>(b[i + 2]) << 8 |
                                   static_cast<uint32_t>(b[i + 3]) << 16 | static_cast<uint32_t>(b[i + 4]) << 24);
    else if (op == 0xeb && i + 2 == rec.insn_len)
        rel = static_cast<int8_t>(b[i + 1]);
    else
        return "page-table site: a block form that is not a direct call or jmp";
    if (i) return "page-table site: a prefix on a block call";
    const uint64_t target = site_addr + rec.insn_len + static_cast<uint64_t>(rel);
    if (target && target == fns.memcpy) out.op = pt_op::memcpy;
    else if (target && target == fns.memmove) out.op = pt_op::memmove;
    else if (target && target == fns.memset) out.op = pt_op::memset;
    else return "page-table site: a block call to something not known as memcpy, memmove or memset";
    out.tail = op != 0xe8;
    out.reg_bits = 64;
    return nullptr;
}

// ---- emulate -------------------------------------------------------------------------------

constexpr uint64_t arith_flags = flags::cf | flags::pf | flags::af | flags::zf | flags::sf | flags::of;

uint64_t sign_bit(unsigned bits) { return 1ull << (bits - 1); }

int64_t sign_extend(uint64_t v, unsigned bits)
{
    return bits >= 64 ? static_cast<int64_t>(v) : static_cast<int64_t>(v << (64 - bits)) >> (64 - bits);
}

// ZF, SF, PF of a result (PF: even parity of the low byte).
uint64_t result_flags(uint64_t r, unsigned bits)
{
    r = truncate(r, bits);
    uint8_t low = static_cast<uint8_t>(r);
    low ^= low >> 4;
    low ^= low >> 2;
    low ^= low >> 1;
    return (r ? 0 : flags::zf) | ((r & sign_bit(bits)) ? flags::sf : 0) | ((low & 1) ? 0 : flags::pf);
}

uint64_t add_flags(uint64_t a, uint64_t b, uint64_t r, unsigned bits)
{
    a = truncate(a, bits), b = truncate(b, bits), r = truncate(r, bits);
    return result_flags(r, bits) | (r < a ? flags::cf : 0) | ((a ^ b ^ r) & 0x10 ? flags::af : 0) |
           (((a ^ r) & (b ^ r) & sign_bit(bits)) ? flags::of : 0);
}

uint64_t sub_flags(uint64_t a, uint64_t b, uint64_t r, unsigned bits)
{
    a = truncate(a, bits), b = truncate(b, bits), r = truncate(r, bits);
    return result_flags(r, bits) | (a < b ? flags::cf : 0) | ((a ^ b ^ r) & 0x10 ? flags::af : 0) |
           (((a ^ b) & (a ^ r) & sign_bit(bits)) ? flags::of : 0);
}

// and/or/xor/test: CF and OF clear; AF is undefined on the CPU, clear here (as QEMU's).
uint64_t logic_flags(uint64_t r, unsigned bits) { return result_flags(r, bits); }

void set_flags(frame &f, uint64_t mask, uint64_t value) { f.rflags = (f.rflags & ~mask) | (value & mask); }

// The displacement at the record's offset (describe checked it lies inside the instruction).
int64_t displacement(const ann::site_record &rec, const uint8_t *insn)
{
    if (rec.disp_size == 1) return static_cast<int8_t>(insn[rec.disp_offset]);
    if (rec.disp_size != 4) return 0;
    const uint8_t *d = insn + rec.disp_offset;
    return static_cast<int32_t>(static_cast<uint32_t>(d[0]) | static_cast<uint32_t>(d[1]) << 8 |
                                static_cast<uint32_t>(d[2]) << 16 | static_cast<uint32_t>(d[3]) << 24);
}

struct run {
    const page_table_access &a;
    const ann::site_record &rec;
    int64_t disp;
    uint64_t site, resume_at;
    vcpu &cpu;
    frame &f;
    page_table_memory &mem;
    event fault{};

    emulation raise()
    {
        f.rip = site;
        return {action::raise, fault};
    }
    emulation next()
    {
        f.rip = resume_at;
        return {action::resume, {}};
    }

    uint64_t address() const
    {
        uint64_t ea = static_cast<uint64_t>(disp);
        if (rec.mem_base == ann::rip_base) ea += site + rec.insn_len;
        else if (rec.mem_base < 16) ea += f.gpr[rec.mem_base];
        if (rec.mem_index < 16) ea += f.gpr[rec.mem_index] * (rec.mem_scale ? rec.mem_scale : 1);
        if (rec.mem_seg == ann::seg_fs) ea += cpu.fs_base;
        else if (rec.mem_seg == ann::seg_gs) ea += cpu.gs_base;
        return ea;
    }

    // The source operand of a memory-destination form: the immediate (sign-extended, as
    // encoded) or the register at the operand width.
    uint64_t source(unsigned bits) const
    {
        uint64_t v = a.immediate ? static_cast<uint64_t>(static_cast<int64_t>(rec.imm)) : f.gpr[rec.reg & 15];
        return truncate(v, bits);
    }

    emulation memory_operand();
    emulation bit_op(uint64_t ea, unsigned bits);
    emulation string();
    emulation block();
    bool copy(uint64_t dst, uint64_t src, uint64_t n, bool backwards);
};

emulation run::memory_operand()
{
    const unsigned bits = ann::operand_bits(rec.flags), width = bits / 8;
    uint64_t ea = address();
    uint64_t old = 0;
    switch (a.op) {
    case pt_op::mov_store:
        if (!mem.store(ea, width, source(bits), fault)) return raise();
        return next();
    case pt_op::mov_load:
    case pt_op::movzx:  // the register width (reg_bits) is wider than the load
        if (!mem.load(ea, width, old, fault)) return raise();
        write_gpr(f, rec.reg, old, a.reg_bits);
        return next();
    case pt_op::movsx:
        if (!mem.load(ea, width, old, fault)) return raise();
        write_gpr(f, rec.reg, static_cast<uint64_t>(sign_extend(old, bits)), a.reg_bits);
        return next();
    case pt_op::bt: case pt_op::bts: case pt_op::btr: case pt_op::btc: return bit_op(ea, bits);
    default: break;
    }
    if (!mem.load(ea, width, old, fault)) return raise();
    const uint64_t other = source(bits);
    uint64_t r = 0, fl = 0;
    bool store = !a.to_register;
    switch (a.op) {
    case pt_op::add: r = old + other, fl = add_flags(old, other, r, bits); break;
    case pt_op::or_: r = old | other, fl = logic_flags(r, bits); break;
    case pt_op::and_: r = old & other, fl = logic_flags(r, bits); break;
    case pt_op::xor_: r = old ^ other, fl = logic_flags(r, bits); break;
    case pt_op::sub:
    case pt_op::cmp:
        // The register is the minuend when it is the destination (`sub (mem), reg`).
        if (a.to_register) r = other - old, fl = sub_flags(other, old, r, bits);
        else r = old - other, fl = sub_flags(old, other, r, bits);
        store = store && a.op == pt_op::sub;
        break;
    case pt_op::test: r = old & other, fl = logic_flags(r, bits), store = false; break;
    case pt_op::xchg:
        if (!mem.store(ea, width, other, fault)) return raise();
        write_gpr(f, rec.reg, old, bits);
        return next();
    case pt_op::cmpxchg: {
        const uint64_t acc = truncate(f.gpr[rax], bits);
        fl = sub_flags(acc, old, acc - old, bits);
        // The CPU writes the destination either way (its old value back on a mismatch).
        if (!mem.store(ea, width, acc == old ? other : old, fault)) return raise();
        if (acc != old) write_gpr(f, rax, old, bits);
        set_flags(f, arith_flags, fl);
        return next();
    }
    default: return {action::bad_record, {}};
    }
    if (store) {
        if (!mem.store(ea, width, r, fault)) return raise();
    } else if (a.to_register && a.op != pt_op::cmp) {
        write_gpr(f, rec.reg, r, bits);
    }
    set_flags(f, arith_flags, fl);
    return next();
}

emulation run::bit_op(uint64_t ea, unsigned bits)
{
    const unsigned width = bits / 8;
    uint64_t bit;
    if (a.immediate) {
        bit = static_cast<uint64_t>(rec.imm) & (bits - 1);
    } else {
        // A register offset reaches beyond the operand: the operand-sized unit it falls in.
        const int64_t offset = sign_extend(f.gpr[rec.reg & 15], bits);
        const int64_t unit = offset >> (bits == 64 ? 6 : bits == 32 ? 5 : 4);
        ea += static_cast<uint64_t>(unit * static_cast<int64_t>(width));
        bit = static_cast<uint64_t>(offset) & (bits - 1);
    }
    uint64_t old = 0;
    if (!mem.load(ea, width, old, fault)) return raise();
    const uint64_t m = 1ull << bit;
    uint64_t r = old;
    if (a.op == pt_op::bts) r |= m;
    else if (a.op == pt_op::btr) r &= ~m;
    else if (a.op == pt_op::btc) r ^= m;
    if (a.op != pt_op::bt && !mem.store(ea, width, r, fault)) return raise();
    // CF is the bit; the other arithmetic flags are undefined on the CPU and kept here.
    set_flags(f, flags::cf, (old & m) ? flags::cf : 0);
    return next();
}

emulation run::string()
{
    const unsigned width = ann::operand_bits(rec.flags) / 8;
    const bool rep = rec.flags & ann::flag_rep;
    const uint64_t step = (f.rflags & flags::df) ? static_cast<uint64_t>(-static_cast<int64_t>(width)) : width;
    for (uint64_t left = rep ? f.gpr[rcx] : 1; left; --left) {
        // One iteration at a time, registers updated after each: a fault leaves them as the CPU
        // does (the completed iterations counted), and the site runs again from there.
        uint64_t v = f.gpr[rax];
        if (a.op == pt_op::movs && !mem.load(f.gpr[rsi], width, v, fault)) return raise();
        if (!mem.store(f.gpr[rdi], width, truncate(v, width * 8), fault)) return raise();
        f.gpr[rdi] += step;
        if (a.op == pt_op::movs) f.gpr[rsi] += step;
        if (rep) --f.gpr[rcx];
    }
    return next();
}

bool run::copy(uint64_t dst, uint64_t src, uint64_t n, bool backwards)
{
    // 8-byte units (whole entries) where the length allows, bytes for the rest; backwards
    // from the end for an overlapping memmove to a higher address.
    const uint64_t whole = n & ~7ull;
    auto one = [&](uint64_t off, unsigned w) {
        uint64_t v = 0;
        return mem.load(src + off, w, v, fault) && mem.store(dst + off, w, v, fault);
    };
    if (!backwards) {
        for (uint64_t off = 0; off < whole; off += 8)
            if (!one(off, 8)) return false;
        for (uint64_t off = whole; off < n; ++off)
            if (!one(off, 1)) return false;
    } else {
        for (uint64_t off = n; off > whole; --off)
            if (!one(off - 1, 1)) return false;
        for (uint64_t off = whole; off; off -= 8)
            if (!one(off - 8, 8)) return false;
    }
    return true;
}

emulation run::block()
{
    const uint64_t dst = f.gpr[rdi], src = f.gpr[rsi], n = f.gpr[rdx];
    bool ok = true;
    if (a.op == pt_op::memset) {
        const uint64_t pattern = 0x0101010101010101ull * (src & 0xff), whole = n & ~7ull;
        for (uint64_t off = 0; ok && off < whole; off += 8) ok = mem.store(dst + off, 8, pattern, fault);
        for (uint64_t off = whole; ok && off < n; ++off) ok = mem.store(dst + off, 1, pattern & 0xff, fault);
    } else {
        ok = copy(dst, src, n, a.op == pt_op::memmove && dst > src && dst - src < n);
    }
    // A fault inside the function: reported at the call, which runs again in full after the
    // handler (the part done is redone; the kernel treats such a fault as a bug anyway).
    if (!ok) return raise();
    f.gpr[rax] = dst;  // all three return their destination
    if (!a.tail) return next();
    // `jmp memcpy` in tail position: memcpy's `ret` returns to the caller's caller.
    uint64_t ret = 0;
    if (!mem.load(f.gpr[rsp], 8, ret, fault)) return raise();
    f.gpr[rsp] += 8;
    f.rip = ret;
    return {action::transfer, {}};
}

} // namespace

const char *describe_page_table_site(const ann::site_record &rec, const uint8_t *insn, uint64_t site_addr,
                                     const block_functions &fns, page_table_access &out)
{
    out = {};
    if (!site_kind_is_page_table(static_cast<site_kind>(rec.kind))) return "not a page-table site";
    if (!rec.insn_len) return "page-table site: no instruction";
    const prefixes p = read_prefixes(insn, rec.insn_len);
    if (p.opcode_at >= rec.insn_len) return "page-table site: no opcode after the prefixes";
    if (p.addr32) return "page-table site: a 32-bit address-size prefix (0x67)";
    // emulate reads the displacement at the record's offset: it must lie inside the bytes
    // (check_record says so too; this function does not rely on it).
    if (rec.disp_size != 0 && rec.disp_size != 1 && rec.disp_size != 4)
        return "page-table site: a displacement of neither 0, 1 nor 4 bytes";
    if (rec.disp_size && (rec.disp_offset == ann::no_displacement || rec.disp_offset + rec.disp_size > rec.insn_len))
        return "page-table site: displacement outside the instruction";
    const char *why = nullptr;
    switch (static_cast<page_table_form>(rec.special)) {
    case page_table_form::memory_operand: why = describe_memory_operand(rec, insn, p, out); break;
    case page_table_form::string: why = describe_string(rec, insn, p, out); break;
    case page_table_form::block_call: why = describe_block_call(rec, insn, site_addr, p, fns, out); break;
    default: why = "page-table site: unknown access form";
    }
    if (why) out = {};
    return why;
}

emulation emulate_page_table(const page_table_access &a, const ann::site_record &rec, const uint8_t *insn,
                             uint64_t site_addr, uint64_t resume_at, vcpu &cpu, frame &f, page_table_memory &mem)
{
    // As emulate(): this instruction ends an interrupt shadow.
    cpu.interrupt_shadow = false;
    run r{a, rec, displacement(rec, insn), site_addr, resume_at ? resume_at : site_end(rec, site_addr), cpu, f, mem};
    switch (a.op) {
    case pt_op::none: return {action::bad_record, {}};
    case pt_op::movs: case pt_op::stos: return r.string();
    case pt_op::memcpy: case pt_op::memmove: case pt_op::memset: return r.block();
    default: return r.memory_operand();
    }
}

} // namespace afterburn::wedge
