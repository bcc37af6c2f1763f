// Every sensitive class, in every way a kernel spells it (plain, inside a .macro, inside
// .rept, passed to a macro as an argument, hand-encoded with .byte, behind prefixes, each
// operand form), goes through afterburn-as; the records are then checked field by field
// against what the instruction means, and the scanner must find the object clean.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "afterburn/record_check.h"
#include "annotation_tables.h"
#include "assemble.h"
#include "elf_image.h"
#include "scanner.h"

using namespace afterburn;
using namespace afterburn::annotation;

namespace {

constexpr uint8_t N = no_register;
constexpr uint8_t RIP = rip_base;
constexpr uint8_t ND = no_displacement;
enum : uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };
constexpr uint8_t o8 = 0, o16 = 1, o32 = 2, o64 = 3;
constexpr uint8_t MEM = flag_memory, REG = flag_register, DX = flag_port_dx, REP = flag_rep;
constexpr uint8_t SHADOW = flag_pad_before;

struct expect {
    const char *text;  // one statement
    site_kind kind;
    uint8_t flags;
    uint8_t reg = N, special = N;
    uint8_t base = N, index = N, scale = 0, seg = N, disp_offset = ND, disp_size = 0;
    int32_t imm = 0;
    bool no_macro_argument = false;  // cannot be passed as a quoted macro argument
};

const std::vector<expect> cases = {
    {"cli", site_kind::cli, o64},
    {"sti", site_kind::sti, o64 | SHADOW},
    {"pushfq", site_kind::pushf, o64},
    {"pushfw", site_kind::pushf, o16},
    {"popfq", site_kind::popf, o64},
    {"popfw", site_kind::popf, o16},
    {"mov %cr0, %rax", site_kind::mov_from_cr, o64 | REG, rax, 0},
    {"mov %cr4, %r15", site_kind::mov_from_cr, o64 | REG, r15, 4},
    {"mov %rax, %cr3", site_kind::mov_to_cr, o64 | REG, rax, 3},
    {"mov %r9, %cr8", site_kind::mov_to_cr, o64 | REG, r9, 8},
    {"mov %db7, %rax", site_kind::mov_from_dr, o64 | REG, rax, 7},
    {"mov %rbx, %db0", site_kind::mov_to_dr, o64 | REG, rbx, 0},
    {"lgdt (%rax)", site_kind::lgdt, o64 | MEM, N, N, rax, N, 1},
    {"lgdt 8(%rsp,%rcx,4)", site_kind::lgdt, o64 | MEM, N, N, rsp, rcx, 4, N, 4, 1},
    {"lgdt gdt_descr(%rip)", site_kind::lgdt, o64 | MEM, N, N, RIP, N, 1, N, 3, 4},
    {"lgdt %fs:0x1000(%r12)", site_kind::lgdt, o64 | MEM, N, N, r12, N, 1, 4, 6, 4},
    {"lidt (%rdi)", site_kind::lidt, o64 | MEM, N, N, rdi, N, 1},
    {"sgdt -16(%rbp)", site_kind::sgdt, o64 | MEM, N, N, rbp, N, 1, N, 3, 1},
    {"sidt (%rax,%r13,8)", site_kind::sidt, o64 | MEM, N, N, rax, r13, 8},
    {"lldt %ax", site_kind::lldt, o16 | REG, rax},
    {"lldt (%rbx)", site_kind::lldt, o16 | MEM, N, N, rbx, N, 1},
    {"ltr %r11w", site_kind::ltr, o16 | REG, r11},
    {"ltr 2(%rbx)", site_kind::ltr, o16 | MEM, N, N, rbx, N, 1, N, 3, 1},
    {"sldt %ax", site_kind::sldt, o16 | REG, rax},
    {"sldt %rax", site_kind::sldt, o32 | REG, rax},  // gas encodes it without REX.W
    {"sldt (%rax)", site_kind::sldt, o16 | MEM, N, N, rax, N, 1},
    {"str %ax", site_kind::str, o16 | REG, rax},
    {"str %rsi", site_kind::str, o32 | REG, rsi},    // likewise
    {"str (%rdi)", site_kind::str, o16 | MEM, N, N, rdi, N, 1},
    {"inb $0x71, %al", site_kind::in, o8, N, N, N, N, 0, N, ND, 0, 0x71},
    {"inw $0x71, %ax", site_kind::in, o16, N, N, N, N, 0, N, ND, 0, 0x71},
    {"inl $0xcf, %eax", site_kind::in, o32, N, N, N, N, 0, N, ND, 0, 0xcf},
    {"inb %dx, %al", site_kind::in, o8 | DX},
    {"inl %dx, %eax", site_kind::in, o32 | DX},
    {"outb %al, $0x80", site_kind::out, o8, N, N, N, N, 0, N, ND, 0, 0x80},
    {"outl %eax, $0xf4", site_kind::out, o32, N, N, N, N, 0, N, ND, 0, 0xf4},
    {"outw %ax, %dx", site_kind::out, o16 | DX},
    {"insb", site_kind::ins, o8},
    {"rep insw", site_kind::ins, o16 | REP},
    {"outsb", site_kind::outs, o8},
    {"rep outsl", site_kind::outs, o32 | REP},
    {"rep; outsb", site_kind::outs, o8 | REP, N, N, N, N, 0, N, ND, 0, 0, true},
    {"fs outsb", site_kind::outs, o8, N, N, N, N, 0, 4},
    {"hlt", site_kind::hlt, o64},
    {"invlpg (%rax)", site_kind::invlpg, o64 | MEM, N, N, rax, N, 1},
    {"invlpg 0x40(%rdx,%rsi,2)", site_kind::invlpg, o64 | MEM, N, N, rdx, rsi, 2, N, 4, 1},
    {"invpcid (%rax), %rcx", site_kind::invpcid, o64 | MEM | REG, rcx, N, rax, N, 1},
    {"wbinvd", site_kind::wbinvd, o64},
    {"rdmsr", site_kind::rdmsr, o64},
    {"wrmsr", site_kind::wrmsr, o64},
    {"rdtsc", site_kind::rdtsc, o64},
    {"rdtscp", site_kind::rdtscp, o64},
    {"rdpmc", site_kind::rdpmc, o64},
    {"cpuid", site_kind::cpuid, o64},
    {"swapgs", site_kind::swapgs, o64},
    {"sysretq", site_kind::sysret, o64},
    {"sysretl", site_kind::sysret, o32},
    {"iretq", site_kind::iret, o64},
    {"iretl", site_kind::iret, o32},
    {"xsetbv", site_kind::xsetbv, o64},
    {"xgetbv", site_kind::xgetbv, o64},
    {"wrpkru", site_kind::wrpkru, o64},
    {"rdpkru", site_kind::rdpkru, o64},
    {"monitor", site_kind::monitor, o64},
    {"mwait", site_kind::mwait, o64},
    {"lar %ax, %cx", site_kind::lar, o16 | REG, rcx, rax},
    {"lar (%rax), %eax", site_kind::lar, o32 | MEM | REG, rax, N, rax, N, 1},
    {"lsl %rax, %rbx", site_kind::lsl, o64 | REG, rbx, rax},
    {"lsl (%rbx), %ecx", site_kind::lsl, o32 | MEM | REG, rcx, N, rbx, N, 1},
    {"verr %ax", site_kind::verr, o16 | REG, rax},
    {"verw %cx", site_kind::verw, o16 | REG, rcx},
    {"verw 8(%rsp)", site_kind::verw, o16 | MEM, N, N, rsp, N, 1, N, 4, 1},
    {"mov %eax, %ds", site_kind::mov_to_seg, o32 | REG, rax, seg_ds},
    {"mov %rax, %ss", site_kind::mov_to_seg, o32 | REG | SHADOW, rax, seg_ss},  // likewise
    {"mov (%rax), %fs", site_kind::mov_to_seg, o16 | MEM, N, seg_fs, rax, N, 1},
    {"mov %ds, %ax", site_kind::mov_from_seg, o16 | REG, rax, seg_ds},
    {"mov %es, %eax", site_kind::mov_from_seg, o32 | REG, rax, seg_es},
    {"mov %fs, %r8", site_kind::mov_from_seg, o32 | REG, r8, seg_fs},  // REX.B only
    {"mov %gs, (%rax)", site_kind::mov_from_seg, o16 | MEM, N, seg_gs, rax, N, 1},
    {"mov %cs, %eax", site_kind::mov_from_seg, o32 | REG, rax, seg_cs},
    {"push %fs", site_kind::push_seg, o64, N, seg_fs},
    {"pushw %gs", site_kind::push_seg, o16, N, seg_gs},
    {"pop %gs", site_kind::pop_seg, o64, N, seg_gs},
    {"wrfsbase %rax", site_kind::wrfsbase, o64 | REG, rax},
    {"wrfsbase %eax", site_kind::wrfsbase, o32 | REG, rax},
    {"wrgsbase %rdi", site_kind::wrgsbase, o64 | REG, rdi},
    {"rdfsbase %r10", site_kind::rdfsbase, o64 | REG, r10},
    {"rdgsbase %rcx", site_kind::rdgsbase, o64 | REG, rcx},
    {"clac", site_kind::clac, o64},
    {"stac", site_kind::stac, o64},
    {".byte 0x0f, 0x01, 0xca", site_kind::clac, o64},
    {".byte 0x0f,0x01,0xee", site_kind::rdpkru, o64},
    {".byte 0x0f,0x01,0xf8", site_kind::swapgs, o64},
    {"smsw %ax", site_kind::smsw, o16 | REG, rax},
    {"smsw %rax", site_kind::smsw, o64 | REG, rax},
    {"smsw (%rax)", site_kind::smsw, o16 | MEM, N, N, rax, N, 1},
    {"lmsw %ax", site_kind::lmsw, o16 | REG, rax},
    {"lmsw (%rax)", site_kind::lmsw, o16 | MEM, N, N, rax, N, 1},
    {"clts", site_kind::clts, o64},
    {"invd", site_kind::invd, o64},
    {"sysexitl", site_kind::sysexit, o32},
    {"sysexitq", site_kind::sysexit, o64},
    {"sysenter", site_kind::sysenter, o64},
    {"int $0x80", site_kind::int_n, o64, N, N, N, N, 0, N, ND, 0, 0x80},
    {"lretq", site_kind::lret, o64},
    {"lret", site_kind::lret, o32},
    {"lret $8", site_kind::lret, o32, N, N, N, N, 0, N, ND, 0, 8},
    {"rex64 ljmp *(%rax)", site_kind::ljmp, o64 | MEM, N, N, rax, N, 1},
    {"ljmp *8(%rdi)", site_kind::ljmp, o32 | MEM, N, N, rdi, N, 1, N, 2, 1},
    {"lcall *(%rax)", site_kind::lcall, o32 | MEM, N, N, rax, N, 1},
    {"xsaves (%rdi)", site_kind::xsaves, o32 | MEM, N, N, rdi, N, 1},
    {"xsaves64 (%rdi)", site_kind::xsaves, o64 | MEM, N, N, rdi, N, 1},
    {"xrstors64 64(%rsp)", site_kind::xrstors, o64 | MEM, N, N, rsp, N, 1, N, 5, 1},
    {"rdpid %rax", site_kind::rdpid, o64 | REG, rax},
};

struct variant {
    const char *name;
    std::string (*wrap)(const std::string &);
    unsigned copies;
    bool macro_argument;
};

const variant variants[] = {
    {"plain", [](const std::string &s) { return "\t" + s + "\n"; }, 1, false},
    {"macro", [](const std::string &s) { return ".macro SENSITIVE\n\tnop\n\t" + s + "\n\tnop\n.endm\n\tSENSITIVE\n"; }, 1,
     false},
    {"rept", [](const std::string &s) { return "\t.rept 2\n\t" + s + "\n\t.endr\n"; }, 2, false},
    {"macro-argument",
     [](const std::string &s) {
         return ".macro ALT old, new\n140:\n\t\\old\n141:\n\t.pushsection .text.repl,\"ax\"\n\t\\new\n"
                "\t.popsection\n.endm\n\tALT \"nop\", \"" + s + "\"\n\tALT \"\", \"lfence\"\n";
     },
     1, true},
};

std::string source_for(const expect &e, const variant &v)
{
    return "\t.text\n\t.globl f\nf:\n" + v.wrap(e.text) + "\tret\n\t.data\ngdt_descr: .quad 0, 0\n";
}

} // namespace

TEST_CASE("every sensitive class is annotated with exact operands", "[afterburn-as][records]")
{
    unsigned n = 0;
    for (const auto &e : cases) {
        for (const auto &v : variants) {
            if (v.macro_argument && e.no_macro_argument) continue;
            std::string what = std::string(v.name) + ": " + e.text;
            INFO(what);
            auto obj = test::assemble("case" + std::to_string(n++), source_for(e, v));
            INFO(obj.log);
            REQUIRE(obj.status == 0);
            std::string error;
            auto img = elf_image::load(obj.object, error);
            REQUIRE(img);
            auto tables = read_annotation_tables(*img);
            REQUIRE(tables.errors.empty());
            REQUIRE(tables.tables == 1);
            REQUIRE(tables.records.size() == v.copies);
            for (const auto &lr : tables.records) {
                const auto &r = lr.record;
                const elf_section *sec = img->section_at(lr.site);
                REQUIRE(sec);
                const uint8_t *insn = sec->data.data() + (lr.site - sec->addr);
                // Padded with CS prefixes unless the kind keeps NOPs or the instruction has an
                // override of its own; then the record describes the prefixed instruction.
                bool prefixed = site_kind_takes_prefix_padding(e.kind) && e.seg == N;
                uint8_t p = padding_prefix_count(r, insn);
                CHECK(check_padding_prefixes(r, insn) == padding_error::ok);
                if (prefixed) {
                    CHECK(r.pad_len == 0);
                    CHECK(r.insn_len >= site_kind_min_size(e.kind));
                    CHECK((p == 0 || r.insn_len == site_kind_min_size(e.kind)));
                    for (unsigned i = 0; i < p; ++i) CHECK(insn[i] == padding_prefix);
                } else {
                    CHECK(p == 0);
                }
                uint8_t flags = p ? static_cast<uint8_t>(e.flags & ~SHADOW) : e.flags;
                uint8_t seg = p && (e.flags & MEM) ? uint8_t(seg_cs) : e.seg;
                uint8_t disp_offset = e.disp_offset == ND ? ND : static_cast<uint8_t>(e.disp_offset + p);
                CHECK(static_cast<site_kind>(r.kind) == e.kind);
                CHECK(r.insn_len + r.pad_len >= site_kind_min_size(e.kind));
                CHECK(int(r.flags & ~flag_replacement) == int(flags));
                CHECK(int(r.reg) == int(e.reg));
                CHECK(int(r.special) == int(e.special));
                CHECK(int(r.mem_base) == int(e.base));
                CHECK(int(r.mem_index) == int(e.index));
                CHECK(int(r.mem_scale) == int(e.scale));
                CHECK(int(r.mem_seg) == int(seg));
                CHECK(int(r.disp_offset) == int(disp_offset));
                CHECK(int(r.disp_size) == int(e.disp_size));
                CHECK(r.imm == e.imm);
            }
            scan_report rep = scan_image(*img);
            CHECK(rep.clean());
            CHECK(rep.all.annotated == v.copies);
            CHECK(rep.classes[static_cast<unsigned>(e.kind)].annotated == v.copies);
        }
    }
}

TEST_CASE("sti keeps its interrupt shadow: prefixes make it one instruction", "[afterburn-as]")
{
    auto obj = test::assemble("shadow", "\t.text\n1:\tsti; hlt\n\tmovl %eax, %ss\n\tnop\n\tjmp 1b\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    const elf_section *text = nullptr;
    for (const auto &s : img->sections())
        if (s.name == ".text") text = &s;
    REQUIRE(text);
    auto tables = read_annotation_tables(*img);
    REQUIRE(tables.records.size() == 3);
    uint64_t hlt_site = 0;
    for (const auto &lr : tables.records)
        if (lr.record.kind == static_cast<uint8_t>(site_kind::hlt)) hlt_site = lr.site;
    for (const auto &lr : tables.records) {
        uint64_t off = lr.site - text->addr;
        if (lr.record.kind == static_cast<uint8_t>(site_kind::sti)) {
            CHECK_FALSE((lr.record.flags & flag_pad_before));  // nothing in front
            CHECK(off == 0);                                    // the label `1:` is the site
            CHECK(lr.record.insn_len == 8);
            CHECK(lr.record.pad_len == 0);
            for (unsigned i = 0; i < 7; ++i) CHECK(text->data[off + i] == padding_prefix);
            CHECK(text->data[off + 7] == 0xfb);
            CHECK(lr.site + 8 == hlt_site);  // the (prefixed) hlt is the next instruction, in the shadow
            CHECK(text->data[off + 8 + 7] == 0xf4);
        }
        if (lr.record.kind == static_cast<uint8_t>(site_kind::mov_to_seg)) {
            CHECK_FALSE((lr.record.flags & flag_pad_before));
            CHECK(text->data[off] == padding_prefix);
            CHECK(text->data[off + lr.record.insn_len] == 0x90);  // the nop follows directly
        }
    }
    CHECK(scan_image(*img).clean());
}

TEST_CASE("labels on a prefixed statement name the first prefix, as exception tables need", "[afterburn-as]")
{
    // Linux's `1: rdmsr` with _ASM_EXTABLE(1b, 2b): the fault is reported at the first prefix.
    auto obj = test::assemble("labels", "\t.text\n\tnop\nread_msr: rdmsr\n\tnop\n1: 2:\tiretq\n"
                                        "\t.pushsection .rodata\n\t.long 1b - read_msr, 2b - read_msr\n\t.popsection\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    const elf_section *text = nullptr, *rodata = nullptr;
    for (const auto &s : img->sections()) {
        if (s.name == ".text") text = &s;
        if (s.name == ".rodata") rodata = &s;
    }
    REQUIRE(text);
    REQUIRE(rodata);
    auto tables = read_annotation_tables(*img);
    REQUIRE(tables.records.size() == 2);
    CHECK(tables.records[0].site - text->addr == 1);      // read_msr: the first prefix
    CHECK(text->data[1] == padding_prefix);
    CHECK(tables.records[1].site - text->addr == 1 + 8 + 1);  // 1: 2: iretq
    for (unsigned i = 0; i < 2; ++i) {
        int32_t v;
        std::memcpy(&v, rodata->data.data() + 4 * i, 4);
        CHECK(v == 9);  // both labels at the prefixed iretq's first byte
    }
    bool found = false;
    for (const auto &sym : img->symbols()) {
        if (sym.name != "read_msr") continue;
        found = true;
        CHECK(sym.addr == tables.records[0].site);
    }
    CHECK(found);
    CHECK(scan_image(*img).clean());
}

TEST_CASE("an interrupt-shadow instruction with its own override keeps NOPs in front", "[afterburn-as]")
{
    auto obj = test::assemble("shadow_fs", "\t.text\n\tmov %fs:(%rax), %ss\n\tnop\n\tfs; sti\n\thlt\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    const elf_section *text = nullptr;
    for (const auto &s : img->sections())
        if (s.name == ".text") text = &s;
    REQUIRE(text);
    auto tables = read_annotation_tables(*img);
    REQUIRE(tables.records.size() == 3);
    for (const auto &lr : tables.records) {
        uint64_t off = lr.site - text->addr;
        INFO(site_kind_name(static_cast<site_kind>(lr.record.kind)));
        if (lr.record.kind == static_cast<uint8_t>(site_kind::hlt)) continue;
        CHECK((lr.record.flags & flag_pad_before));
        REQUIRE(lr.record.pad_len > 0);
        CHECK(off >= lr.record.pad_len);
        CHECK(text->data[off] == 0x64);                                       // fs, the instruction's own
        CHECK(text->data[off - 1] != padding_prefix);                         // NOPs in front, no prefixes
        CHECK((text->data[off + lr.record.insn_len] == 0x90 ||                // the nop, or
               text->data[off + lr.record.insn_len] == padding_prefix));      // the prefixed hlt: directly
    }
    CHECK(scan_image(*img).clean());
}

TEST_CASE("a statement that is sensitive only in some expansions pads only those", "[afterburn-as]")
{
    auto obj = test::assemble("irp", "\t.text\n\t.irp insn, nop, cli, lfence, hlt\n\t\\insn\n\t.endr\n\tret\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    auto rep = scan_image(*img);
    CHECK(rep.clean());
    CHECK(rep.classes[static_cast<unsigned>(site_kind::cli)].annotated == 1);
    CHECK(rep.classes[static_cast<unsigned>(site_kind::hlt)].annotated == 1);
}

TEST_CASE("a statement that is sti in one expansion and cli in another is refused clearly", "[afterburn-as][errors]")
{
    auto obj = test::assemble("mixed", "\t.text\n\t.irp insn, cli, sti\n\t\\insn\n\t.endr\n");
    CHECK(obj.status == 1);
    CHECK(obj.log.find("mixed.s:3: this statement assembles to an interrupt-shadow") != std::string::npos);
}

TEST_CASE("16- and 32-bit regions are left unannotated and explained", "[afterburn-as][regions]")
{
    auto obj = test::assemble("regions", "\t.text\n\tcli\n\t.code32\nstart32:\n\tcli\n\tmov %eax, %cr0\n"
                                         "\tljmp $8, $0\n\t.code16\n\tsti\n\t.code64\n\thlt\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    auto rep = scan_image(*img);
    CHECK(rep.clean());
    CHECK(rep.regions == 2);
    CHECK(rep.all.annotated == 2);  // the 64-bit cli and hlt
    CHECK(rep.all.explained >= 3);
}

TEST_CASE("regions follow section switches", "[afterburn-as][regions]")
{
    // .code32 set while in a data section takes effect when code follows in .text.
    auto obj = test::assemble("regions2", "\t.code32\n\t.text\n\tcli\n\t.section .head.text,\"ax\"\n\tnop\n"
                                          "\t.code32\n\tcli\n\t.code64\n\tcli\n\t.section .rodata,\"a\"\n"
                                          "\t.code32\n\t.text\n\tsti\n\t.data\n\t.long 0\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    CHECK(obj.log.find("warning") == std::string::npos);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    auto rep = scan_image(*img);
    CHECK(rep.clean());
    CHECK(rep.all.annotated == 1);  // the 64-bit cli in .head.text
    CHECK(rep.all.explained == 3);
}

TEST_CASE("a sensitive instruction in an .include'd file is refused clearly", "[afterburn-as][errors]")
{
    auto dir = test::scratch_dir();
    std::ofstream(dir / "inc_part.s") << "\tcli\n";
    auto obj = test::assemble("inc_main", "\t.text\n\tnop\n\t.include \"" + (dir / "inc_part.s").string() + "\"\n\tret\n");
    CHECK(obj.status == 1);
    CHECK(obj.log.find("inc_main.s:3: sensitive instruction (CLI) comes from an .include'd file") != std::string::npos);
    // A plain .include without sensitive instructions is fine.
    std::ofstream(dir / "inc_plain.s") << "\tnop\n";
    auto ok = test::assemble("inc_ok", "\t.text\n\tcli\n\t.include \"" + (dir / "inc_plain.s").string() + "\"\n");
    INFO(ok.log);
    CHECK(ok.status == 0);
}

TEST_CASE("malformed assembly reports GNU as's own error with file and line", "[afterburn-as][errors]")
{
    auto obj = test::assemble("broken", "\t.text\n\tcli\n\tmovq %rax, %cr99\n");
    CHECK(obj.status != 0);
    CHECK(obj.log.find("broken.s:3") != std::string::npos);
    CHECK(obj.log.find("Error") != std::string::npos);
}
