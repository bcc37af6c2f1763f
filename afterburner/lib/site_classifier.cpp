#include "site_classifier.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <array>
#include <utility>

#include <llvm/MC/MCInstrDesc.h>

#include "afterburn/sensitive_decoder.h"

namespace afterburn {

namespace {

using annotation::no_register;

struct opcode_kind {
    std::string_view name;
    site_kind kind;
};

// LLVM 14 X86 opcode names of every sensitive instruction form we know, sorted by name.
constexpr auto opcode_table = std::to_array<opcode_kind>({
    {"CLAC", site_kind::clac}, {"CLI", site_kind::cli}, {"CLTS", site_kind::clts},
    {"CPUID", site_kind::cpuid}, {"FARCALL16i", site_kind::lcall}, {"FARCALL16m", site_kind::lcall},
    {"FARCALL32i", site_kind::lcall}, {"FARCALL32m", site_kind::lcall},
    {"FARCALL64m", site_kind::lcall}, {"FARJMP16i", site_kind::ljmp}, {"FARJMP16m", site_kind::ljmp},
    {"FARJMP32i", site_kind::ljmp}, {"FARJMP32m", site_kind::ljmp}, {"FARJMP64m", site_kind::ljmp},
    {"HLT", site_kind::hlt}, {"IN16ri", site_kind::in}, {"IN16rr", site_kind::in},
    {"IN32ri", site_kind::in}, {"IN32rr", site_kind::in}, {"IN8ri", site_kind::in},
    {"IN8rr", site_kind::in}, {"INSB", site_kind::ins}, {"INSL", site_kind::ins},
    {"INSW", site_kind::ins}, {"INT", site_kind::int_n},
    {"INVD", site_kind::invd},
    {"INVLPG", site_kind::invlpg}, {"INVPCID32", site_kind::invpcid},
    {"INVPCID64", site_kind::invpcid}, {"IRET16", site_kind::iret}, {"IRET32", site_kind::iret},
    {"IRET64", site_kind::iret}, {"LAR16rm", site_kind::lar}, {"LAR16rr", site_kind::lar},
    {"LAR32rm", site_kind::lar}, {"LAR32rr", site_kind::lar}, {"LAR64rm", site_kind::lar},
    {"LAR64rr", site_kind::lar}, {"LGDT16m", site_kind::lgdt}, {"LGDT32m", site_kind::lgdt},
    {"LGDT64m", site_kind::lgdt}, {"LIDT16m", site_kind::lidt}, {"LIDT32m", site_kind::lidt},
    {"LIDT64m", site_kind::lidt}, {"LLDT16m", site_kind::lldt}, {"LLDT16r", site_kind::lldt},
    {"LMSW16m", site_kind::lmsw}, {"LMSW16r", site_kind::lmsw}, {"LRET16", site_kind::lret},
    {"LRET32", site_kind::lret}, {"LRET64", site_kind::lret}, {"LRETI16", site_kind::lret},
    {"LRETI32", site_kind::lret}, {"LRETI64", site_kind::lret}, {"LSL16rm", site_kind::lsl},
    {"LSL16rr", site_kind::lsl}, {"LSL32rm", site_kind::lsl}, {"LSL32rr", site_kind::lsl},
    {"LSL64rm", site_kind::lsl}, {"LSL64rr", site_kind::lsl}, {"LTRm", site_kind::ltr},
    {"LTRr", site_kind::ltr}, {"MONITOR32rrr", site_kind::monitor},
    {"MONITOR64rrr", site_kind::monitor}, {"MOV16ms", site_kind::mov_from_seg},
    {"MOV16rs", site_kind::mov_from_seg}, {"MOV16sm", site_kind::mov_to_seg},
    {"MOV16sr", site_kind::mov_to_seg}, {"MOV32cr", site_kind::mov_to_cr},
    {"MOV32dr", site_kind::mov_to_dr}, {"MOV32rc", site_kind::mov_from_cr},
    {"MOV32rd", site_kind::mov_from_dr}, {"MOV32rs", site_kind::mov_from_seg},
    {"MOV32sr", site_kind::mov_to_seg}, {"MOV64cr", site_kind::mov_to_cr},
    {"MOV64dr", site_kind::mov_to_dr}, {"MOV64rc", site_kind::mov_from_cr},
    {"MOV64rd", site_kind::mov_from_dr}, {"MOV64rs", site_kind::mov_from_seg},
    {"MOV64sr", site_kind::mov_to_seg}, {"MWAITrr", site_kind::mwait}, {"OUT16ir", site_kind::out},
    {"OUT16rr", site_kind::out}, {"OUT32ir", site_kind::out}, {"OUT32rr", site_kind::out},
    {"OUT8ir", site_kind::out}, {"OUT8rr", site_kind::out}, {"OUTSB", site_kind::outs},
    {"OUTSL", site_kind::outs}, {"OUTSW", site_kind::outs}, {"POPDS16", site_kind::pop_seg},
    {"POPDS32", site_kind::pop_seg}, {"POPES16", site_kind::pop_seg}, {"POPES32", site_kind::pop_seg},
    {"POPF16", site_kind::popf}, {"POPF32", site_kind::popf}, {"POPF64", site_kind::popf},
    {"POPFS16", site_kind::pop_seg}, {"POPFS32", site_kind::pop_seg}, {"POPFS64", site_kind::pop_seg},
    {"POPGS16", site_kind::pop_seg}, {"POPGS32", site_kind::pop_seg}, {"POPGS64", site_kind::pop_seg},
    {"POPSS16", site_kind::pop_seg}, {"POPSS32", site_kind::pop_seg},
    {"PUSHCS16", site_kind::push_seg}, {"PUSHCS32", site_kind::push_seg},
    {"PUSHDS16", site_kind::push_seg}, {"PUSHDS32", site_kind::push_seg},
    {"PUSHES16", site_kind::push_seg}, {"PUSHES32", site_kind::push_seg},
    {"PUSHF16", site_kind::pushf}, {"PUSHF32", site_kind::pushf}, {"PUSHF64", site_kind::pushf},
    {"PUSHFS16", site_kind::push_seg}, {"PUSHFS32", site_kind::push_seg},
    {"PUSHFS64", site_kind::push_seg}, {"PUSHGS16", site_kind::push_seg},
    {"PUSHGS32", site_kind::push_seg}, {"PUSHGS64", site_kind::push_seg},
    {"PUSHSS16", site_kind::push_seg}, {"PUSHSS32", site_kind::push_seg},
    {"RDFSBASE", site_kind::rdfsbase}, {"RDFSBASE64", site_kind::rdfsbase},
    {"RDGSBASE", site_kind::rdgsbase}, {"RDGSBASE64", site_kind::rdgsbase},
    {"RDMSR", site_kind::rdmsr}, {"RDPID32", site_kind::rdpid}, {"RDPID64", site_kind::rdpid},
    {"RDPKRUr", site_kind::rdpkru}, {"RDPMC", site_kind::rdpmc}, {"RDTSC", site_kind::rdtsc},
    {"RDTSCP", site_kind::rdtscp}, {"SGDT16m", site_kind::sgdt}, {"SGDT32m", site_kind::sgdt},
    {"SGDT64m", site_kind::sgdt}, {"SIDT16m", site_kind::sidt}, {"SIDT32m", site_kind::sidt},
    {"SIDT64m", site_kind::sidt}, {"SLDT16m", site_kind::sldt}, {"SLDT16r", site_kind::sldt},
    {"SLDT32r", site_kind::sldt}, {"SLDT64r", site_kind::sldt}, {"SMSW16m", site_kind::smsw},
    {"SMSW16r", site_kind::smsw}, {"SMSW32r", site_kind::smsw}, {"SMSW64r", site_kind::smsw},
    {"STAC", site_kind::stac}, {"STI", site_kind::sti}, {"STR16r", site_kind::str},
    {"STR32r", site_kind::str}, {"STR64r", site_kind::str}, {"STRm", site_kind::str},
    {"SWAPGS", site_kind::swapgs}, {"SYSENTER", site_kind::sysenter}, {"SYSEXIT", site_kind::sysexit},
    {"SYSEXIT64", site_kind::sysexit}, {"SYSRET", site_kind::sysret}, {"SYSRET64", site_kind::sysret},
    {"VERRm", site_kind::verr}, {"VERRr", site_kind::verr}, {"VERWm", site_kind::verw},
    {"VERWr", site_kind::verw}, {"WBINVD", site_kind::wbinvd}, {"WRFSBASE", site_kind::wrfsbase},
    {"WRFSBASE64", site_kind::wrfsbase}, {"WRGSBASE", site_kind::wrgsbase},
    {"WRGSBASE64", site_kind::wrgsbase}, {"WRMSR", site_kind::wrmsr}, {"WRPKRUr", site_kind::wrpkru},
    {"XGETBV", site_kind::xgetbv}, {"XRSTORS", site_kind::xrstors}, {"XRSTORS64", site_kind::xrstors},
    {"XSAVES", site_kind::xsaves}, {"XSAVES64", site_kind::xsaves}, {"XSETBV", site_kind::xsetbv},
});

template <typename Table>
constexpr bool sorted_by_name(const Table &t)
{
    for (size_t i = 1; i < t.size(); ++i)
        if (!(t[i - 1].name < t[i].name)) return false;
    return true;
}
static_assert(sorted_by_name(opcode_table), "opcode_table must stay sorted for binary search");

struct opcode_gated {
    std::string_view name;
    gated_class cls;
};

// LLVM 14 opcode names of the never-annotated, CPUID-gated classes (gated_class.h), sorted.
// rdpru is missing: LLVM 14 does not decode it (the scanner asks the wedge's decoder).
constexpr auto gated_table = std::to_array<opcode_gated>({
    {"CLGI", gated_class::svm}, {"CLRSSBSY", gated_class::cet_ss}, {"CLUI", gated_class::uintr},
    {"ENCLS", gated_class::sgx}, {"ENCLU", gated_class::sgx}, {"ENCLV", gated_class::sgx},
    {"ENQCMD16", gated_class::enqcmd}, {"ENQCMD32", gated_class::enqcmd}, {"ENQCMD64", gated_class::enqcmd},
    {"ENQCMDS16", gated_class::enqcmd}, {"ENQCMDS32", gated_class::enqcmd},
    {"ENQCMDS64", gated_class::enqcmd}, {"HRESET", gated_class::hreset}, {"INCSSPD", gated_class::cet_ss},
    {"INCSSPQ", gated_class::cet_ss}, {"INVEPT32", gated_class::vmx}, {"INVEPT64", gated_class::vmx},
    {"INVLPGA32", gated_class::svm}, {"INVLPGA64", gated_class::svm}, {"INVLPGB32", gated_class::invlpgb},
    {"INVLPGB64", gated_class::invlpgb}, {"INVVPID32", gated_class::vmx}, {"INVVPID64", gated_class::vmx},
    {"LOADIWKEY", gated_class::loadiwkey}, {"MONITORX32rrr", gated_class::monitorx},
    {"MONITORX64rrr", gated_class::monitorx}, {"MWAITXrrr", gated_class::mwaitx},
    {"PCONFIG", gated_class::pconfig}, {"PSMASH", gated_class::sev_snp},
    {"PTWRITE64m", gated_class::ptwrite}, {"PTWRITE64r", gated_class::ptwrite},
    {"PTWRITEm", gated_class::ptwrite}, {"PTWRITEr", gated_class::ptwrite},
    {"PVALIDATE32", gated_class::sev_snp}, {"PVALIDATE64", gated_class::sev_snp},
    {"RDRAND16r", gated_class::rdrand}, {"RDRAND32r", gated_class::rdrand},
    {"RDRAND64r", gated_class::rdrand}, {"RDSEED16r", gated_class::rdseed},
    {"RDSEED32r", gated_class::rdseed}, {"RDSEED64r", gated_class::rdseed}, {"RDSSPD", gated_class::cet_ss},
    {"RDSSPQ", gated_class::cet_ss}, {"RMPADJUST", gated_class::sev_snp},
    {"RMPUPDATE", gated_class::sev_snp}, {"RSTORSSP", gated_class::cet_ss},
    {"SAVEPREVSSP", gated_class::cet_ss}, {"SEAMCALL", gated_class::tdx}, {"SEAMOPS", gated_class::tdx},
    {"SEAMRET", gated_class::tdx}, {"SENDUIPI", gated_class::uintr}, {"SETSSBSY", gated_class::cet_ss},
    {"SKINIT", gated_class::svm}, {"STGI", gated_class::svm}, {"STUI", gated_class::uintr},
    {"TDCALL", gated_class::tdx}, {"TESTUI", gated_class::uintr}, {"TLBSYNC", gated_class::tlbsync},
    {"TPAUSE", gated_class::tpause}, {"UIRET", gated_class::uintr}, {"UMONITOR16", gated_class::umonitor},
    {"UMONITOR32", gated_class::umonitor}, {"UMONITOR64", gated_class::umonitor},
    {"UMWAIT", gated_class::umwait}, {"VMCALL", gated_class::vmcall}, {"VMCLEARm", gated_class::vmx},
    {"VMFUNC", gated_class::vmx}, {"VMLAUNCH", gated_class::vmx}, {"VMLOAD32", gated_class::svm},
    {"VMLOAD64", gated_class::svm}, {"VMMCALL", gated_class::vmmcall}, {"VMPTRLDm", gated_class::vmx},
    {"VMPTRSTm", gated_class::vmx}, {"VMREAD32mr", gated_class::vmx}, {"VMREAD32rr", gated_class::vmx},
    {"VMREAD64mr", gated_class::vmx}, {"VMREAD64rr", gated_class::vmx}, {"VMRESUME", gated_class::vmx},
    {"VMRUN32", gated_class::svm}, {"VMRUN64", gated_class::svm}, {"VMSAVE32", gated_class::svm},
    {"VMSAVE64", gated_class::svm}, {"VMWRITE32rm", gated_class::vmx}, {"VMWRITE32rr", gated_class::vmx},
    {"VMWRITE64rm", gated_class::vmx}, {"VMWRITE64rr", gated_class::vmx}, {"VMXOFF", gated_class::vmx},
    {"VMXON", gated_class::vmx}, {"WBNOINVD", gated_class::wbnoinvd}, {"WRSSD", gated_class::cet_ss},
    {"WRSSQ", gated_class::cet_ss}, {"WRUSSD", gated_class::cet_ss}, {"WRUSSQ", gated_class::cet_ss},
    {"XRESLDTRK", gated_class::tsxldtrk}, {"XSUSLDTRK", gated_class::tsxldtrk},
});
static_assert(sorted_by_name(gated_table), "gated_table must stay sorted for binary search");

// What an LLVM register is, as the record numbers it.
enum class reg_class { none, gpr, control, debug, segment, rip, other };

struct reg_info {
    reg_class cls = reg_class::none;
    uint8_t number = no_register;
};

reg_info classify_register(std::string_view n)
{
    if (n.empty()) return {};
    if (n == "RIP" || n == "EIP") return {reg_class::rip, annotation::rip_base};
    static constexpr std::string_view segs[] = {"ES", "CS", "SS", "DS", "FS", "GS"};
    for (uint8_t i = 0; i < 6; ++i)
        if (n == segs[i]) return {reg_class::segment, i};
    auto numbered = [&](std::string_view prefix) -> int {
        if (n.size() <= prefix.size() || n.substr(0, prefix.size()) != prefix) return -1;
        int v = 0;
        for (char c : n.substr(prefix.size())) {
            if (c < '0' || c > '9') return -1;
            v = v * 10 + (c - '0');
        }
        return v;
    };
    if (int v = numbered("CR"); v >= 0) return {reg_class::control, static_cast<uint8_t>(v)};
    if (int v = numbered("DR"); v >= 0) return {reg_class::debug, static_cast<uint8_t>(v)};
    // Legacy GPR names in all widths, in hardware encoding order.
    static constexpr std::string_view legacy[8][4] = {
        {"RAX", "EAX", "AX", "AL"}, {"RCX", "ECX", "CX", "CL"}, {"RDX", "EDX", "DX", "DL"},
        {"RBX", "EBX", "BX", "BL"}, {"RSP", "ESP", "SP", "SPL"}, {"RBP", "EBP", "BP", "BPL"},
        {"RSI", "ESI", "SI", "SIL"}, {"RDI", "EDI", "DI", "DIL"}};
    for (uint8_t i = 0; i < 8; ++i)
        for (auto w : legacy[i])
            if (n == w) return {reg_class::gpr, i};
    if (n.size() >= 2 && n[0] == 'R' && n[1] >= '0' && n[1] <= '9') {
        size_t k = 1;
        int v = 0;
        while (k < n.size() && n[k] >= '0' && n[k] <= '9') v = v * 10 + (n[k++] - '0');
        std::string_view suffix = n.substr(k);
        if (v >= 8 && v <= 15 && (suffix.empty() || suffix == "D" || suffix == "W" || suffix == "B"))
            return {reg_class::gpr, static_cast<uint8_t>(v)};
    }
    return {reg_class::other, no_register};
}

// Operand size from the opcode name's width digits or string-instruction suffix.
uint8_t opsize_code(std::string_view name, site_kind kind)
{
    auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
    if (kind == site_kind::ins || kind == site_kind::outs) {
        char c = name.back();
        return c == 'B' ? 0 : c == 'W' ? 1 : 2;
    }
    if (has("64")) return 3;
    if (has("32")) return 2;
    if (has("16")) return 1;
    if (kind == site_kind::in || kind == site_kind::out) return has("8") ? 0 : 2;
    // Forms without a width in the name: pick the natural 64-bit-mode size.
    switch (kind) {
    case site_kind::sysret: case site_kind::sysexit: return 2;  // no REX.W: back to 32-bit code
    case site_kind::wrfsbase: case site_kind::wrgsbase:
    case site_kind::rdfsbase: case site_kind::rdgsbase: return 2;
    case site_kind::xsaves: case site_kind::xrstors: return 2;
    case site_kind::str: case site_kind::ltr: case site_kind::lldt:
    case site_kind::verr: case site_kind::verw: return 1;
    default: return 3;
    }
}

// Finds the ModRM byte of a legacy-map instruction and sizes its displacement.
struct modrm_layout {
    bool found = false;
    unsigned disp_offset = 0;
    unsigned disp_size = 0;
};

modrm_layout locate_displacement(std::span<const uint8_t> b)
{
    size_t i = 0;
    auto is_legacy_prefix = [](uint8_t c) {
        return c == 0xf0 || c == 0xf2 || c == 0xf3 || c == 0x2e || c == 0x36 || c == 0x3e || c == 0x26 ||
               c == 0x64 || c == 0x65 || c == 0x66 || c == 0x67;
    };
    while (i < b.size() && is_legacy_prefix(b[i])) ++i;
    if (i < b.size() && (b[i] & 0xf0) == 0x40) ++i;  // REX
    if (i >= b.size()) return {};
    if (b[i] == 0x0f) {
        ++i;
        if (i < b.size() && (b[i] == 0x38 || b[i] == 0x3a)) ++i;
    }
    ++i;  // the opcode byte itself
    if (i >= b.size()) return {};
    uint8_t modrm = b[i];
    unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3) return {};
    size_t after = i + 1;
    unsigned size = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {
        if (after >= b.size()) return {};
        uint8_t sib = b[after++];
        if (mod == 0 && (sib & 7) == 5) size = 4;
    } else if (mod == 0 && rm == 5) {
        size = 4;  // RIP-relative in 64-bit mode
    }
    return {true, static_cast<unsigned>(after), size};
}

// The index of an X86 memory reference's first operand (base, scale, index, displacement,
// segment follow), or the operand count when the instruction has none.
unsigned memory_operand(const llvm::MCInst &inst, const x86_toolkit &tk)
{
    const llvm::MCInstrDesc &desc = tk.instructions().get(inst.getOpcode());
    unsigned n = inst.getNumOperands();
    for (unsigned i = 0; i < desc.getNumOperands() && i < n; ++i)
        if (desc.OpInfo[i].OperandType == llvm::MCOI::OPERAND_MEMORY) return i;
    return n;
}

// A record's memory-operand fields from the reference at `mem_first` and the encoded bytes.
void describe_memory_operand(const llvm::MCInst &inst, unsigned mem_first, std::span<const uint8_t> bytes,
                             const x86_toolkit &tk, site_description &d)
{
    const auto &base = inst.getOperand(mem_first);
    const auto &scale = inst.getOperand(mem_first + 1);
    const auto &index = inst.getOperand(mem_first + 2);
    const auto &seg = inst.getOperand(mem_first + 4);
    if (base.isReg() && base.getReg()) d.mem_base = classify_register(tk.register_name(base.getReg())).number;
    if (index.isReg() && index.getReg()) d.mem_index = classify_register(tk.register_name(index.getReg())).number;
    d.mem_scale = scale.isImm() ? static_cast<uint8_t>(scale.getImm()) : 1;
    if (seg.isReg() && seg.getReg()) d.mem_seg = classify_register(tk.register_name(seg.getReg())).number;
    if (auto m = locate_displacement(bytes); m.found && m.disp_size) {
        d.disp_offset = static_cast<uint8_t>(m.disp_offset);
        d.disp_size = static_cast<uint8_t>(m.disp_size);
    }
}

} // namespace

site_kind kind_of_opcode(std::string_view name)
{
    auto it = std::lower_bound(opcode_table.begin(), opcode_table.end(), name,
                               [](const opcode_kind &e, std::string_view n) { return e.name < n; });
    return it != opcode_table.end() && it->name == name ? it->kind : site_kind::none;
}

gated_class gated_of_opcode(std::string_view name)
{
    auto it = std::lower_bound(gated_table.begin(), gated_table.end(), name,
                               [](const opcode_gated &e, std::string_view n) { return e.name < n; });
    return it != gated_table.end() && it->name == name ? it->cls : gated_class::count;
}

bool is_prefix_opcode(std::string_view n)
{
    return n == "REP_PREFIX" || n == "REPNE_PREFIX" || n == "LOCK_PREFIX" || n == "DATA16_PREFIX" ||
           n == "DATA32_PREFIX" || n == "REX64_PREFIX" || n == "CS_PREFIX" || n == "DS_PREFIX" ||
           n == "ES_PREFIX" || n == "FS_PREFIX" || n == "GS_PREFIX" || n == "SS_PREFIX" ||
           n == "ADDR16_PREFIX" || n == "ADDR32_PREFIX";
}

bool has_interrupt_shadow(site_kind kind, uint8_t special)
{
    return kind == site_kind::sti ||
           ((kind == site_kind::mov_to_seg || kind == site_kind::pop_seg) && special == annotation::seg_ss);
}

bool has_segment_override(const llvm::MCInst &inst, const x86_toolkit &tk)
{
    // An X86 memory reference ends with its segment register (0: none).
    unsigned m = memory_operand(inst, tk);
    if (m + 4 >= inst.getNumOperands()) return false;
    const auto &seg = inst.getOperand(m + 4);
    return seg.isReg() && seg.getReg();
}

bool is_nop_opcode(std::string_view n)
{
    return n.substr(0, 4) == "NOOP";
}

site_description describe_instruction(const llvm::MCInst &inst, std::span<const uint8_t> bytes,
                                      const x86_toolkit &tk)
{
    site_description d;
    std::string_view name = tk.opcode_name(inst);
    d.kind = kind_of_opcode(name);
    d.insn_len = static_cast<uint8_t>(bytes.size());
    if (d.kind == site_kind::none) return d;

    d.flags = opsize_code(name, d.kind);
    // Prefixes from the bytes: they are what executes, whatever the source spelled.
    // F3 is REP only on string instructions; elsewhere (wrfsbase, ...) it is part of the opcode.
    bool string_op = d.kind == site_kind::ins || d.kind == site_kind::outs;
    for (uint8_t c : bytes) {
        if (c == 0xf3) d.flags |= string_op ? annotation::flag_rep : 0;
        else if (c == 0x26) d.mem_seg = annotation::seg_es;
        else if (c == 0x2e) d.mem_seg = annotation::seg_cs;
        else if (c == 0x36) d.mem_seg = annotation::seg_ss;
        else if (c == 0x3e) d.mem_seg = annotation::seg_ds;
        else if (c == 0x64) d.mem_seg = annotation::seg_fs;
        else if (c == 0x65) d.mem_seg = annotation::seg_gs;
        else if (c == 0xf2 || c == 0x66 || c == 0x67 || (c & 0xf0) == 0x40) continue;
        else break;
    }
    if (d.kind != site_kind::outs) {
        // A segment prefix only matters to a memory operand (or outs' source).
        const llvm::MCInstrDesc &desc = tk.instructions().get(inst.getOpcode());
        bool has_memory = false;
        for (unsigned i = 0; i < desc.getNumOperands(); ++i)
            has_memory = has_memory || desc.OpInfo[i].OperandType == llvm::MCOI::OPERAND_MEMORY;
        if (!has_memory) d.mem_seg = no_register;
    }

    unsigned n = inst.getNumOperands();
    unsigned mem_first = memory_operand(inst, tk);

    if (mem_first + 4 < n && d.kind != site_kind::ins && d.kind != site_kind::outs) {
        // X86 memory operand: base, scale, index, displacement, segment.
        d.flags |= annotation::flag_memory;
        describe_memory_operand(inst, mem_first, bytes, tk, d);
    }

    // Register and immediate operands outside the memory operand.
    int gprs_seen = 0;
    for (unsigned i = 0; i < n; ++i) {
        if (i >= mem_first && i < mem_first + 5) continue;
        const auto &op = inst.getOperand(i);
        if (op.isImm()) {
            d.imm = static_cast<int32_t>(op.getImm());
            continue;
        }
        if (!op.isReg() || !op.getReg()) continue;
        reg_info r = classify_register(tk.register_name(op.getReg()));
        switch (r.cls) {
        case reg_class::gpr:
            // in/out/ins/outs: the accumulator and %dx are implied by the kind and flags.
            if (d.kind == site_kind::in || d.kind == site_kind::out || d.kind == site_kind::ins ||
                d.kind == site_kind::outs) {
                if (tk.register_name(op.getReg()) == "DX") d.flags |= annotation::flag_port_dx;
                break;
            }
            if (d.kind == site_kind::monitor) break;  // implicit rax/ecx/edx
            if (gprs_seen++ == 0) {
                d.reg = r.number;
                d.flags |= annotation::flag_register;
            } else if (d.kind == site_kind::lar || d.kind == site_kind::lsl) {
                // lar/lsl: reg is the destination, special the source selector register.
                if (d.special == no_register) d.special = r.number;
            }
            break;
        case reg_class::control:
        case reg_class::debug:
        case reg_class::segment: d.special = r.number; break;
        default: break;
        }
    }
    // "in %dx" forms list DX as an implicit use, not an operand: tell by the opcode.
    if ((d.kind == site_kind::in || d.kind == site_kind::out) && name.substr(name.size() - 2) == "rr")
        d.flags |= annotation::flag_port_dx;
    if ((d.kind == site_kind::in || d.kind == site_kind::out) && (d.flags & annotation::flag_port_dx)) d.imm = 0;
    if (d.kind == site_kind::in || d.kind == site_kind::out) d.imm &= 0xff;
    if (d.kind == site_kind::int_n) d.imm &= 0xff;
    // Segment pushes/pops name their register through the opcode.
    if (d.kind == site_kind::push_seg || d.kind == site_kind::pop_seg) {
        std::string_view s = name.substr(name.find_first_of("CDEFGS", 3), 2);
        static constexpr std::string_view segs[] = {"ES", "CS", "SS", "DS", "FS", "GS"};
        for (uint8_t i = 0; i < 6; ++i)
            if (s == segs[i]) d.special = i;
    }
    if (has_interrupt_shadow(d.kind, d.special)) d.flags |= annotation::flag_pad_before;
    return d;
}

namespace {

// The width of the memory an LLVM opcode accesses, as a record's opsize code: the width in the
// name ("MOV64mr", "LCMPXCHG64"), except that "rm8"/"rm16" of movzx/movsx name the memory
// and "mi8" an 8-bit immediate; string instructions end in B/W/L/Q.
uint8_t memory_opsize(std::string_view name)
{
    auto code = [](unsigned bits) -> uint8_t { return bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : 3; };
    if (size_t rm = name.find("rm"); rm != std::string_view::npos && rm + 2 < name.size() &&
                                      name[rm + 2] >= '0' && name[rm + 2] <= '9')
        return code(static_cast<unsigned>(std::atoi(std::string(name.substr(rm + 2)).c_str())));
    size_t digit = name.find_first_of("0123456789");
    if (digit == std::string_view::npos) {
        char c = name.back();
        return c == 'B' ? 0 : c == 'W' ? 1 : c == 'L' ? 2 : 3;
    }
    return code(static_cast<unsigned>(std::atoi(std::string(name.substr(digit)).c_str())));
}

bool is_string_store_or_copy(std::string_view n)
{
    return n == "MOVSB" || n == "MOVSW" || n == "MOVSL" || n == "MOVSQ" || n == "STOSB" || n == "STOSW" ||
           n == "STOSL" || n == "STOSQ";
}

bool is_direct_transfer(std::string_view n)
{
    return n == "CALL64pcrel32" || n == "JMP_1" || n == "JMP_4" || n == "TAILJMPd64";
}

} // namespace

unsigned decode_page_table_site(std::span<const uint8_t> bytes, const x86_toolkit &tk, llvm::MCInst &inst)
{
    unsigned used = 0;
    while (used < bytes.size()) {
        unsigned n = tk.decode(bytes.subspan(used), code_mode::bits64, inst);
        if (!n) return 0;
        used += n;
        if (!is_prefix_opcode(tk.opcode_name(inst))) return used;
    }
    return 0;
}

bool describe_page_table_access(const llvm::MCInst &inst, std::span<const uint8_t> bytes, const x86_toolkit &tk,
                                site_kind kind, site_description &d, const char *&why)
{
    d = site_description{};
    d.kind = kind;
    d.insn_len = static_cast<uint8_t>(bytes.size());
    std::string_view name = tk.opcode_name(inst);
    if (is_string_store_or_copy(name)) {
        d.special = static_cast<uint8_t>(page_table_form::string);
        d.flags = memory_opsize(name);
        for (uint8_t c : bytes) {
            if (c == 0xf3) d.flags |= annotation::flag_rep;
            else if (c != 0xf2 && c != 0x66 && c != 0x67 && (c & 0xf0) != 0x40) break;
        }
        return true;
    }
    if (is_direct_transfer(name)) {
        d.special = static_cast<uint8_t>(page_table_form::block_call);
        d.flags = 3;
        return true;
    }
    unsigned n = inst.getNumOperands();
    unsigned mem_first = memory_operand(inst, tk);
    if (mem_first + 4 >= n) {
        why = "the instruction has no memory operand, is no string instruction and no direct call";
        return false;
    }
    d.special = static_cast<uint8_t>(page_table_form::memory_operand);
    d.flags = memory_opsize(name) | annotation::flag_memory;
    describe_memory_operand(inst, mem_first, bytes, tk, d);
    if (d.mem_base == no_register && d.mem_index == no_register && !d.disp_size) {
        why = "the memory operand has neither base, index nor displacement";
        return false;
    }
    // The value operand: the first general-purpose register or immediate outside the memory operand.
    for (unsigned i = 0; i < n; ++i) {
        if (i >= mem_first && i < mem_first + 5) continue;
        const auto &op = inst.getOperand(i);
        if (op.isImm()) {
            d.imm = static_cast<int32_t>(op.getImm());
        } else if (op.isReg() && op.getReg() && d.reg == no_register) {
            reg_info r = classify_register(tk.register_name(op.getReg()));
            if (r.cls == reg_class::gpr) {
                d.reg = r.number;
                d.flags |= annotation::flag_register;
            }
        }
    }
    return true;
}

void store_description(const site_description &d, annotation::site_record &r) { decoder::store_decoded(d, r); }

namespace {

// The first field two descriptions differ in, or nullptr.
const char *first_field_difference(const site_description &a, const site_description &b)
{
    if (a.kind != b.kind) return "kind";
    if (a.insn_len != b.insn_len) return "insn_len";
    if (a.flags != b.flags) return "flags";
    if (a.reg != b.reg) return "reg";
    if (a.special != b.special) return "special";
    if (a.mem_base != b.mem_base) return "mem_base";
    if (a.mem_index != b.mem_index) return "mem_index";
    if (a.mem_scale != b.mem_scale) return "mem_scale";
    if (a.mem_seg != b.mem_seg) return "mem_seg";
    if (a.disp_offset != b.disp_offset) return "disp_offset";
    if (a.disp_size != b.disp_size) return "disp_size";
    if (a.imm != b.imm) return "imm";
    return nullptr;
}

} // namespace

const char *decoder_disagreement(const site_description &d, std::span<const uint8_t> bytes)
{
    decoder::decoded w;
    if (!decoder::decode_sensitive(bytes.data(), bytes.size(), w)) return "kind (not recognised)";
    return first_field_difference(w, d);
}

const char *first_difference(const site_description &d, const annotation::site_record &r)
{
    site_description recorded;
    recorded.kind = static_cast<site_kind>(r.kind);
    recorded.insn_len = r.insn_len;
    // The replacement flag depends on the section, not the bytes; pad_before on how the site
    // is padded (check_record holds it to the kind, `special` and pad_len).
    recorded.flags = static_cast<uint8_t>(r.flags & ~(annotation::flag_replacement | annotation::flag_pad_before));
    recorded.flags |= d.flags & annotation::flag_pad_before;
    recorded.reg = r.reg;
    recorded.special = r.special;
    recorded.mem_base = r.mem_base;
    recorded.mem_index = r.mem_index;
    recorded.mem_scale = r.mem_scale;
    recorded.mem_seg = r.mem_seg;
    recorded.disp_offset = r.disp_offset;
    recorded.disp_size = r.disp_size;
    recorded.imm = r.imm;
    return first_field_difference(recorded, d);
}

} // namespace afterburn
