#include "afterburn/sensitive_decoder.h"

namespace afterburn::decoder {

namespace {

using annotation::no_register;

constexpr uint8_t size8 = 0, size16 = 1, size32 = 2, size64 = 3;

struct prefixes {
    bool opsize = false;  // 66
    bool rep = false;     // F3
    bool repne = false;   // F2
    uint8_t last_f2f3 = 0;  // of F2 and F3, the one that selects a form is the last
    uint8_t seg = no_register;
    uint8_t rex = 0;
    bool w() const { return rex & 8; }
    uint8_t r() const { return (rex & 4) ? 8 : 0; }
    uint8_t x() const { return (rex & 2) ? 8 : 0; }
    uint8_t b() const { return (rex & 1) ? 8 : 0; }
};

struct cursor {
    const uint8_t *p;
    size_t avail;
    size_t at = 0;
    bool ok = true;
    uint8_t next()
    {
        if (at >= avail) {
            ok = false;
            return 0;
        }
        return p[at++];
    }
};

struct modrm {
    uint8_t mod, reg, rm;
};

// Reads ModRM (and SIB and displacement) and fills the memory fields for mod != 3.
bool read_modrm(cursor &c, const prefixes &px, modrm &m, decoded &d)
{
    uint8_t b = c.next();
    m.mod = b >> 6;
    m.reg = (b >> 3) & 7;
    m.rm = b & 7;
    if (m.mod == 3) return c.ok;
    d.flags |= annotation::flag_memory;
    d.mem_scale = 1;
    unsigned disp = m.mod == 1 ? 1 : m.mod == 2 ? 4 : 0;
    if (m.rm == 4) {
        uint8_t sib = c.next();
        uint8_t base = sib & 7, index = (sib >> 3) & 7;
        d.mem_scale = static_cast<uint8_t>(1u << (sib >> 6));
        if (index != 4 || px.x()) d.mem_index = static_cast<uint8_t>(index | px.x());
        if (base == 5 && m.mod == 0) disp = 4;  // no base, disp32
        else d.mem_base = static_cast<uint8_t>(base | px.b());
    } else if (m.rm == 5 && m.mod == 0) {
        d.mem_base = annotation::rip_base;
        disp = 4;
    } else {
        d.mem_base = static_cast<uint8_t>(m.rm | px.b());
    }
    if (disp) {
        d.disp_offset = static_cast<uint8_t>(c.at);
        d.disp_size = static_cast<uint8_t>(disp);
        for (unsigned i = 0; i < disp; ++i) c.next();
    }
    if (px.seg != no_register) d.mem_seg = px.seg;
    return c.ok;
}

void set_reg(decoded &d, uint8_t reg)
{
    d.reg = reg;
    d.flags |= annotation::flag_register;
}

// 16/32/64 from 66 and REX.W, for forms whose default is 32-bit.
uint8_t size_default32(const prefixes &px) { return px.w() ? size64 : px.opsize ? size16 : size32; }
// For forms whose default is 64-bit (push/pop of flags and segments).
uint8_t size_default64(const prefixes &px) { return px.opsize ? size16 : size64; }

// 0F 00 /r: sldt str lldt ltr verr verw.
bool group6(cursor &c, const prefixes &px, decoded &d)
{
    modrm m;
    if (!read_modrm(c, px, m, d)) return false;
    static constexpr site_kind kinds[8] = {site_kind::sldt, site_kind::str, site_kind::lldt, site_kind::ltr,
                                           site_kind::verr, site_kind::verw, site_kind::none, site_kind::none};
    d.kind = kinds[m.reg];
    if (d.kind == site_kind::none) return false;
    bool stores = d.kind == site_kind::sldt || d.kind == site_kind::str;
    if (m.mod == 3) {
        set_reg(d, static_cast<uint8_t>(m.rm | px.b()));
        d.flags |= stores ? size_default32(px) : size16;
    } else {
        d.flags |= size16;
    }
    return true;
}

// 0F 01: the descriptor-table group and its register-form extensions.
bool group7(cursor &c, const prefixes &px, decoded &d)
{
    if (c.at >= c.avail) return false;
    uint8_t b = c.p[c.at];
    if ((b >> 6) == 3) {
        c.next();
        d.flags |= size64;
        switch (b) {
        case 0xc8: d.kind = site_kind::monitor; return true;
        case 0xc9: d.kind = site_kind::mwait; return true;
        case 0xca: d.kind = site_kind::clac; return true;
        case 0xcb: d.kind = site_kind::stac; return true;
        case 0xd0: d.kind = site_kind::xgetbv; return true;
        case 0xd1: d.kind = site_kind::xsetbv; return true;
        case 0xee: d.kind = site_kind::rdpkru; return !px.rep;  // F3: clui (gated)
        case 0xef: d.kind = site_kind::wrpkru; return !px.rep;  // F3: stui (gated)
        case 0xf8: d.kind = site_kind::swapgs; return true;
        case 0xf9: d.kind = site_kind::rdtscp; return true;
        default: break;
        }
        d.flags &= static_cast<uint8_t>(~annotation::flag_opsize_mask);
        uint8_t reg = (b >> 3) & 7, rm = static_cast<uint8_t>((b & 7) | px.b());
        if (reg == 4) {  // smsw r
            d.kind = site_kind::smsw;
            set_reg(d, rm);
            d.flags |= size_default32(px);
            return true;
        }
        if (reg == 6) {  // lmsw r
            d.kind = site_kind::lmsw;
            set_reg(d, rm);
            d.flags |= size16;
            return true;
        }
        return false;
    }
    modrm m;
    if (!read_modrm(c, px, m, d)) return false;
    static constexpr site_kind kinds[8] = {site_kind::sgdt, site_kind::sidt, site_kind::lgdt, site_kind::lidt,
                                           site_kind::smsw, site_kind::none, site_kind::lmsw, site_kind::invlpg};
    d.kind = kinds[m.reg];
    if (d.kind == site_kind::none) return false;
    d.flags |= (d.kind == site_kind::smsw || d.kind == site_kind::lmsw) ? size16 : size64;
    return true;
}

bool two_byte(cursor &c, const prefixes &px, decoded &d)
{
    uint8_t op = c.next();
    if (!c.ok) return false;
    modrm m;
    switch (op) {
    case 0x00: return group6(c, px, d);
    case 0x01: return group7(c, px, d);
    case 0x02:
    case 0x03:
        d.kind = op == 0x02 ? site_kind::lar : site_kind::lsl;
        if (!read_modrm(c, px, m, d)) return false;
        set_reg(d, static_cast<uint8_t>(m.reg | px.r()));
        if (m.mod == 3) d.special = static_cast<uint8_t>(m.rm | px.b());
        d.flags |= size_default32(px);
        return true;
    case 0x06: d.kind = site_kind::clts; d.flags |= size64; return true;
    case 0x07: d.kind = site_kind::sysret; d.flags |= px.w() ? size64 : size32; return true;
    case 0x08: d.kind = site_kind::invd; d.flags |= size64; return true;
    case 0x09: d.kind = site_kind::wbinvd; d.flags |= size64; return !px.rep;  // F3: wbnoinvd (gated)
    case 0x20: case 0x21: case 0x22: case 0x23: {
        static constexpr site_kind kinds[4] = {site_kind::mov_from_cr, site_kind::mov_from_dr, site_kind::mov_to_cr,
                                               site_kind::mov_to_dr};
        d.kind = kinds[op - 0x20];
        uint8_t b = c.next();  // always a register form, whatever mod says
        set_reg(d, static_cast<uint8_t>((b & 7) | px.b()));
        d.special = static_cast<uint8_t>(((b >> 3) & 7) | px.r());
        d.flags |= size64;
        return c.ok;
    }
    case 0x30: d.kind = site_kind::wrmsr; d.flags |= size64; return true;
    case 0x31: d.kind = site_kind::rdtsc; d.flags |= size64; return true;
    case 0x32: d.kind = site_kind::rdmsr; d.flags |= size64; return true;
    case 0x33: d.kind = site_kind::rdpmc; d.flags |= size64; return true;
    case 0x34: d.kind = site_kind::sysenter; d.flags |= size64; return true;
    case 0x35: d.kind = site_kind::sysexit; d.flags |= px.w() ? size64 : size32; return true;
    case 0xa0: case 0xa8: case 0xa1: case 0xa9:
        d.kind = (op & 1) ? site_kind::pop_seg : site_kind::push_seg;
        d.special = op >= 0xa8 ? annotation::seg_gs : annotation::seg_fs;
        d.flags |= size_default64(px);
        return true;
    case 0xa2: d.kind = site_kind::cpuid; d.flags |= size64; return true;
    case 0xae:
        if (!px.rep) return false;
        if (!read_modrm(c, px, m, d) || m.mod != 3 || m.reg > 3) return false;
        {
            static constexpr site_kind kinds[4] = {site_kind::rdfsbase, site_kind::rdgsbase, site_kind::wrfsbase,
                                                   site_kind::wrgsbase};
            d.kind = kinds[m.reg];
        }
        set_reg(d, static_cast<uint8_t>(m.rm | px.b()));
        d.flags |= px.w() ? size64 : size32;
        return true;
    case 0xc7:
        if (!read_modrm(c, px, m, d)) return false;
        if (m.mod == 3) {
            if (m.reg != 7 || !px.rep) return false;  // rdpid (F3 0F C7 /7)
            d.kind = site_kind::rdpid;
            set_reg(d, static_cast<uint8_t>(m.rm | px.b()));
            d.flags |= size64;
            return true;
        }
        if (m.reg == 5) d.kind = site_kind::xsaves;
        else if (m.reg == 3) d.kind = site_kind::xrstors;
        else return false;
        d.flags |= px.w() ? size64 : size32;
        return true;
    case 0x38:
        if (c.next() != 0x82 || !px.opsize) return false;  // 66 0F 38 82: invpcid
        d.kind = site_kind::invpcid;
        if (!read_modrm(c, px, m, d) || m.mod == 3) return false;
        set_reg(d, static_cast<uint8_t>(m.reg | px.r()));
        d.flags |= size64;
        return true;
    default: return false;
    }
}

// Legacy prefixes, then an optional REX immediately before the opcode.
bool read_prefixes(cursor &c, prefixes &px)
{
    for (;;) {
        if (c.at >= c.avail) return false;
        uint8_t b = c.p[c.at];
        if (b == 0x66) px.opsize = true;
        else if (b == 0xf3) px.rep = true, px.last_f2f3 = b;
        else if (b == 0xf2) px.repne = true, px.last_f2f3 = b;
        else if (b == 0xf0 || b == 0x67) {
        } else if (b == 0x26) px.seg = annotation::seg_es;
        else if (b == 0x2e) px.seg = annotation::seg_cs;
        else if (b == 0x36) px.seg = annotation::seg_ss;
        else if (b == 0x3e) px.seg = annotation::seg_ds;
        else if (b == 0x64) px.seg = annotation::seg_fs;
        else if (b == 0x65) px.seg = annotation::seg_gs;
        else break;
        c.at++;
    }
    if ((c.p[c.at] & 0xf0) == 0x40) px.rex = c.next();
    return c.ok;
}

// Which mandatory prefix selects the form: none, 66, F3 or F2.
enum class mandatory : uint8_t { none, p66, pf3, pf2 };

mandatory mandatory_of(const prefixes &px)
{
    if (px.last_f2f3) return px.last_f2f3 == 0xf3 ? mandatory::pf3 : mandatory::pf2;
    return px.opsize ? mandatory::p66 : mandatory::none;
}

// 0F 01 with a register-form byte (C0..FF): the gated classes there, by byte and prefix.
gated_class gated_group7(uint8_t b, mandatory mp)
{
    using g = gated_class;
    constexpr g n = g::count;  // not gated
    switch (mp) {
    case mandatory::none:
        switch (b) {
        case 0xc0: return g::sgx;       // enclv
        case 0xc1: case 0xc2: case 0xc3: case 0xc4: case 0xd4: return g::vmx;  // vmcall.. vmfunc
        case 0xc5: return g::pconfig;
        case 0xcf: case 0xd7: return g::sgx;  // encls, enclu
        case 0xd8: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: return g::svm;
        case 0xd9: return g::vmmcall;
        case 0xfa: return g::monitorx;
        case 0xfb: return g::mwaitx;
        case 0xfd: return g::rdpru;
        case 0xfe: return g::invlpgb;
        case 0xff: return g::tlbsync;
        default: return n;
        }
    case mandatory::p66:
        switch (b) {
        case 0xcc: case 0xcd: case 0xce: case 0xcf: return g::tdx;  // tdcall seamret seamops seamcall
        default: return n;
        }
    case mandatory::pf3:
        switch (b) {
        case 0xe8: case 0xea: return g::cet_ss;  // setssbsy, saveprevssp
        case 0xec: case 0xed: case 0xee: case 0xef: return g::uintr;  // uiret testui clui stui
        case 0xfe: case 0xff: return g::sev_snp;  // rmpadjust, psmash
        default: return n;
        }
    case mandatory::pf2:
        switch (b) {
        case 0xe8: case 0xe9: return g::tsxldtrk;  // xsusldtrk, xresldtrk
        case 0xfe: case 0xff: return g::sev_snp;   // rmpupdate, pvalidate
        default: return n;
        }
    }
    return n;
}

// The 0F-map gated forms (the cursor is past 0F).
gated_class gated_two_byte(cursor &c, const prefixes &px)
{
    using g = gated_class;
    constexpr g n = g::count;
    mandatory mp = mandatory_of(px);
    decoded scratch;  // memory-operand fields are not needed, only the length
    modrm m;
    uint8_t op = c.next();
    if (!c.ok) return n;
    switch (op) {
    case 0x01: {
        if (c.at >= c.avail) return n;
        uint8_t b = c.p[c.at];
        if ((b >> 6) == 3) {
            c.next();
            // vmcall is a VMX instruction but the hypercall of every VMX hypervisor: its own class.
            if (mp == mandatory::none && b == 0xc1) return g::vmcall;
            // F3/F2 0F 01 D9 is vmgexit (SEV-ES), a vmmcall with a prefix.
            if (mp != mandatory::p66 && b == 0xd9) return g::vmmcall;
            return gated_group7(b, mp);
        }
        if (!read_modrm(c, px, m, scratch)) return n;
        return mp == mandatory::pf3 && m.reg == 5 ? g::cet_ss : n;  // rstorssp m64
    }
    case 0x09: return mp == mandatory::pf3 ? g::wbnoinvd : n;
    case 0x1e:
        if (!read_modrm(c, px, m, scratch)) return n;
        return mp == mandatory::pf3 && m.mod == 3 && m.reg == 1 ? g::cet_ss : n;  // rdssp
    case 0x38: {
        uint8_t op3 = c.next();
        if (!read_modrm(c, px, m, scratch)) return n;
        if (op3 == 0x80 || op3 == 0x81) return mp == mandatory::p66 && m.mod != 3 ? g::vmx : n;  // invept invvpid
        if (op3 == 0xf5) return mp == mandatory::p66 && m.mod != 3 ? g::cet_ss : n;             // wruss
        if (op3 == 0xf6) return mp == mandatory::none && m.mod != 3 ? g::cet_ss : n;            // wrss
        if (op3 == 0xf8) return (mp == mandatory::pf2 || mp == mandatory::pf3) && m.mod != 3 ? g::enqcmd : n;
        if (op3 == 0xdc) return mp == mandatory::pf3 && m.mod == 3 ? g::loadiwkey : n;
        return n;
    }
    case 0x3a: {
        uint8_t op3 = c.next();
        if (!read_modrm(c, px, m, scratch)) return n;
        c.next();  // imm8
        return op3 == 0xf0 && mp == mandatory::pf3 && m.mod == 3 ? g::hreset : n;
    }
    case 0x78: case 0x79:  // vmread, vmwrite (66/F2 forms are SSE4a extrq/insertq)
        if (!read_modrm(c, px, m, scratch)) return n;
        return mp == mandatory::none ? g::vmx : n;
    case 0xae:
        if (!read_modrm(c, px, m, scratch)) return n;
        if (m.reg == 4) return mp == mandatory::pf3 ? g::ptwrite : n;
        if (m.reg == 5) return mp == mandatory::pf3 && m.mod == 3 ? g::cet_ss : n;  // incssp
        if (m.reg != 6) return n;
        if (m.mod != 3) return mp == mandatory::pf3 ? g::cet_ss : n;  // clrssbsy
        return mp == mandatory::pf3 ? g::umonitor : mp == mandatory::pf2 ? g::umwait : mp == mandatory::p66 ? g::tpause : n;
    case 0xc7:
        if (!read_modrm(c, px, m, scratch)) return n;
        if (m.mod != 3) {
            if (m.reg == 6 && mp != mandatory::pf2) return g::vmx;  // vmptrld, vmclear (66), vmxon (F3)
            if (m.reg == 7 && mp == mandatory::none) return g::vmx;  // vmptrst
            return n;
        }
        if (m.reg == 6 && mp == mandatory::pf3) return g::uintr;  // senduipi
        if (mp == mandatory::none || mp == mandatory::p66) return m.reg == 6 ? g::rdrand : m.reg == 7 ? g::rdseed : n;
        return n;
    default: return n;
    }
}

} // namespace

bool decode_gated(const uint8_t *bytes, size_t avail, gated_class &cls, uint8_t &insn_len)
{
    prefixes px;
    cursor c{bytes, avail > 15 ? 15 : avail};
    if (!read_prefixes(c, px) || c.next() != 0x0f || !c.ok) return false;
    gated_class g = gated_two_byte(c, px);
    if (!c.ok || g == gated_class::count) return false;
    cls = g;
    insn_len = static_cast<uint8_t>(c.at);
    return true;
}

bool decode_sensitive(const uint8_t *bytes, size_t avail, decoded &out)
{
    decoded d;
    prefixes px;
    cursor c{bytes, avail > 15 ? 15 : avail};
    if (!read_prefixes(c, px)) return false;
    uint8_t op = c.next();
    if (!c.ok) return false;

    modrm m;
    bool ok = true;
    switch (op) {
    case 0x0f: ok = two_byte(c, px, d); break;
    case 0xfa: d.kind = site_kind::cli; d.flags |= size64; break;
    case 0xfb: d.kind = site_kind::sti; d.flags |= size64; break;
    case 0x9c: d.kind = site_kind::pushf; d.flags |= size_default64(px); break;
    case 0x9d: d.kind = site_kind::popf; d.flags |= size_default64(px); break;
    case 0xf4: d.kind = site_kind::hlt; d.flags |= size64; break;
    case 0xcf: d.kind = site_kind::iret; d.flags |= size_default32(px); break;
    case 0xcb: d.kind = site_kind::lret; d.flags |= size_default32(px); break;
    case 0xca:
        d.kind = site_kind::lret;
        d.flags |= size_default32(px);
        d.imm = c.next();
        d.imm |= c.next() << 8;
        break;
    case 0xcd:
        d.kind = site_kind::int_n;
        d.flags |= size64;
        d.imm = c.next();
        break;
    case 0xe4: case 0xe5: case 0xe6: case 0xe7:
        d.kind = op < 0xe6 ? site_kind::in : site_kind::out;
        d.flags |= (op & 1) ? (px.opsize ? size16 : size32) : size8;
        d.imm = c.next();
        break;
    case 0xec: case 0xed: case 0xee: case 0xef:
        d.kind = op < 0xee ? site_kind::in : site_kind::out;
        d.flags |= static_cast<uint8_t>(((op & 1) ? (px.opsize ? size16 : size32) : size8) | annotation::flag_port_dx);
        break;
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
        d.kind = op < 0x6e ? site_kind::ins : site_kind::outs;
        d.flags |= (op & 1) ? (px.opsize ? size16 : size32) : size8;
        if (px.rep) d.flags |= annotation::flag_rep;
        if (d.kind == site_kind::outs) d.mem_seg = px.seg;
        break;
    case 0x8c: case 0x8e:
        d.kind = op == 0x8e ? site_kind::mov_to_seg : site_kind::mov_from_seg;
        ok = read_modrm(c, px, m, d) && m.reg < 6;
        d.special = m.reg;
        if (m.mod == 3) {
            set_reg(d, static_cast<uint8_t>(m.rm | px.b()));
            d.flags |= size_default32(px);
        } else {
            d.flags |= size16;
        }
        break;
    case 0xff:
        ok = read_modrm(c, px, m, d) && m.mod != 3 && (m.reg == 3 || m.reg == 5);
        d.kind = m.reg == 5 ? site_kind::ljmp : site_kind::lcall;
        d.flags |= size_default32(px);
        break;
    default: return false;
    }
    if (!ok || !c.ok || d.kind == site_kind::none) return false;
    if (d.kind == site_kind::sti ||
        ((d.kind == site_kind::mov_to_seg || d.kind == site_kind::pop_seg) && d.special == annotation::seg_ss))
        d.flags |= annotation::flag_pad_before;
    d.insn_len = static_cast<uint8_t>(c.at);
    out = d;
    return true;
}

void store_decoded(const decoded &d, annotation::site_record &r)
{
    r.kind = static_cast<uint8_t>(d.kind);
    r.insn_len = d.insn_len;
    r.flags = d.flags;
    r.reg = d.reg;
    r.special = d.special;
    r.mem_base = d.mem_base;
    r.mem_index = d.mem_index;
    r.mem_scale = d.mem_scale;
    r.mem_seg = d.mem_seg;
    r.disp_offset = d.disp_offset;
    r.disp_size = d.disp_size;
    r.imm = d.imm;
}

} // namespace afterburn::decoder
