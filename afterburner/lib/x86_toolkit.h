// The LLVM MC objects afterburn needs to parse, encode and decode x86 code, built once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <llvm/MC/MCAsmInfo.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstPrinter.h>
#include <llvm/MC/MCInstrInfo.h>
#include <llvm/MC/MCObjectFileInfo.h>
#include <llvm/MC/MCRegisterInfo.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/MCTargetOptions.h>
#include <llvm/MC/TargetRegistry.h>

namespace afterburn {

enum class code_mode { bits16, bits32, bits64 };

class x86_toolkit {
public:
    // The process-wide instance; aborts with a message if LLVM lacks the X86 target.
    static const x86_toolkit &get();

    const llvm::Target &target() const { return *target_; }
    const std::string &triple() const { return triple_; }
    const llvm::MCRegisterInfo &registers() const { return *mri_; }
    const llvm::MCAsmInfo &asm_info() const { return *mai_; }
    const llvm::MCInstrInfo &instructions() const { return *mii_; }
    const llvm::MCSubtargetInfo &subtarget(code_mode m) const;
    const llvm::MCTargetOptions &options() const { return options_; }

    // Decodes one instruction at the start of bytes; returns its length, 0 if undecodable.
    unsigned decode(std::span<const uint8_t> bytes, code_mode mode, llvm::MCInst &out) const;

    std::string_view opcode_name(const llvm::MCInst &inst) const;
    std::string_view register_name(unsigned reg) const;
    // AT&T text of an instruction, for reports.
    std::string print(const llvm::MCInst &inst, code_mode mode) const;

private:
    x86_toolkit();
    std::string triple_;
    const llvm::Target *target_ = nullptr;
    llvm::MCTargetOptions options_;
    std::unique_ptr<llvm::MCRegisterInfo> mri_;
    std::unique_ptr<llvm::MCAsmInfo> mai_;
    std::unique_ptr<llvm::MCInstrInfo> mii_;
    std::unique_ptr<llvm::MCSubtargetInfo> sti_[3];
    std::unique_ptr<llvm::MCContext> ctx_;
    std::unique_ptr<llvm::MCObjectFileInfo> mofi_;
    std::unique_ptr<llvm::MCDisassembler> dis_[3];
    std::unique_ptr<llvm::MCInstPrinter> printer_;
};

} // namespace afterburn
