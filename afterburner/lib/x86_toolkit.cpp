#include "x86_toolkit.h"

#include <cstdio>
#include <cstdlib>

#include <llvm/ADT/Triple.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

namespace afterburn {

namespace {
[[noreturn]] void die(const std::string &what)
{
    std::fprintf(stderr, "afterburn: LLVM setup failed: %s\n", what.c_str());
    std::exit(70);
}
constexpr const char *mode_triples[3] = {"i386-unknown-linux-gnu-code16", "i386-unknown-linux-gnu",
                                         "x86_64-unknown-linux-gnu"};
} // namespace

const x86_toolkit &x86_toolkit::get()
{
    static const x86_toolkit instance;
    return instance;
}

x86_toolkit::x86_toolkit() : triple_("x86_64-unknown-linux-gnu")
{
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmParser();
    LLVMInitializeX86Disassembler();

    std::string err;
    target_ = llvm::TargetRegistry::lookupTarget(triple_, err);
    if (!target_) die(err);
    mri_.reset(target_->createMCRegInfo(triple_));
    if (!mri_) die("no register info");
    mai_.reset(target_->createMCAsmInfo(*mri_, triple_, options_));
    if (!mai_) die("no asm info");
    mii_.reset(target_->createMCInstrInfo());
    if (!mii_) die("no instruction info");
    // 16- and 32-bit code is decoded only to account for it, never annotated.
    sti_[0].reset(target_->createMCSubtargetInfo(mode_triples[0], "", ""));
    sti_[1].reset(target_->createMCSubtargetInfo(mode_triples[1], "", ""));
    sti_[2].reset(target_->createMCSubtargetInfo(triple_, "", ""));
    for (auto &s : sti_)
        if (!s) die("no subtarget info");
    ctx_ = std::make_unique<llvm::MCContext>(llvm::Triple(triple_), mai_.get(), mri_.get(), sti_[2].get());
    mofi_.reset(target_->createMCObjectFileInfo(*ctx_, false));
    ctx_->setObjectFileInfo(mofi_.get());
    for (int i = 0; i < 3; ++i) {
        dis_[i].reset(target_->createMCDisassembler(*sti_[i], *ctx_));
        if (!dis_[i]) die("no disassembler");
    }
    printer_.reset(target_->createMCInstPrinter(llvm::Triple(triple_), 0, *mai_, *mii_, *mri_));
    if (!printer_) die("no instruction printer");
}

const llvm::MCSubtargetInfo &x86_toolkit::subtarget(code_mode m) const
{
    return *sti_[static_cast<int>(m)];
}

unsigned x86_toolkit::decode(std::span<const uint8_t> bytes, code_mode mode, llvm::MCInst &out) const
{
    uint64_t size = 0;
    out.clear();
    auto status = dis_[static_cast<int>(mode)]->getInstruction(
        out, size, llvm::ArrayRef<uint8_t>(bytes.data(), bytes.size()), 0, llvm::nulls());
    return status == llvm::MCDisassembler::Success ? static_cast<unsigned>(size) : 0;
}

std::string_view x86_toolkit::opcode_name(const llvm::MCInst &inst) const
{
    llvm::StringRef n = mii_->getName(inst.getOpcode());
    return {n.data(), n.size()};
}

std::string_view x86_toolkit::register_name(unsigned reg) const
{
    const char *n = mri_->getName(reg);
    return n ? std::string_view(n) : std::string_view();
}

std::string x86_toolkit::print(const llvm::MCInst &inst, code_mode mode) const
{
    std::string s;
    llvm::raw_string_ostream os(s);
    printer_->printInst(&inst, 0, "", *sti_[static_cast<int>(mode)], os);
    os.flush();
    // The printer indents with a tab; reports want a single space-separated line.
    size_t b = s.find_first_not_of(" \t");
    s = b == std::string::npos ? std::string() : s.substr(b);
    for (char &c : s)
        if (c == '\t') c = ' ';
    return s;
}

} // namespace afterburn
