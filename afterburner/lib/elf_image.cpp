#include "elf_image.h"

#include <algorithm>
#include <cstdio>

#include <llvm/Object/ELF.h>
#include <llvm/Object/ELFTypes.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>

namespace afterburn {

namespace {

using elf64le = llvm::object::ELF64LE;

std::string message(llvm::Error e)
{
    return llvm::toString(std::move(e));
}

std::string hex(uint64_t v)
{
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

// Program headers: scan does not use them, but an image whose segments do not add up is
// refused here with the same words the loaders use, not analysed as if it were sound.
std::string check_program_headers(const llvm::object::ELFFile<elf64le> &elf, uint64_t file_size)
{
    auto phdrs = elf.program_headers();
    if (!phdrs) return "malformed program headers: " + message(phdrs.takeError());
    unsigned i = 0;
    for (const auto &ph : *phdrs) {
        std::string which = "program header " + std::to_string(i++) + " (type " + hex(ph.p_type) + ")";
        if (ph.p_type != llvm::ELF::PT_LOAD && ph.p_type != llvm::ELF::PT_NOTE) continue;
        if (ph.p_type == llvm::ELF::PT_LOAD && ph.p_filesz > ph.p_memsz)
            return which + ": p_filesz " + hex(ph.p_filesz) + " > p_memsz " + hex(ph.p_memsz);
        if (ph.p_offset + ph.p_filesz < ph.p_offset || ph.p_offset + ph.p_filesz > file_size)
            return which + ": file offset " + hex(ph.p_offset) + " + " + hex(ph.p_filesz) +
                   " bytes lies outside the file (" + std::to_string(file_size) + " bytes)";
        if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
            return which + ": p_vaddr " + hex(ph.p_vaddr) + " + p_memsz " + hex(ph.p_memsz) + " wraps around 2^64";
    }
    return {};
}

// Applies one RELA entry to a note section's bytes. Only the forms annotation tables and
// other notes use are supported; anything else is reported, never silently ignored.
bool apply_rela(elf_section &target, uint64_t offset, uint32_t type, uint64_t symbol_value, int64_t addend,
                std::string &error)
{
    auto put = [&](uint64_t v, unsigned n) {
        if (offset > target.data.size() || n > target.data.size() - offset) {
            error = "relocation at offset " + std::to_string(offset) + " runs past section " + target.name;
            return false;
        }
        for (unsigned i = 0; i < n; ++i) target.data[offset + i] = static_cast<uint8_t>(v >> (8 * i));
        return true;
    };
    uint64_t s_a = symbol_value + static_cast<uint64_t>(addend);
    switch (type) {
    case 1: return put(s_a, 8);                                   // R_X86_64_64
    case 2: case 4: return put(s_a - (target.addr + offset), 4);  // R_X86_64_PC32, PLT32
    case 10: case 11: return put(s_a, 4);                         // R_X86_64_32, 32S
    case 24: return put(s_a - (target.addr + offset), 8);         // R_X86_64_PC64
    default:
        error = "unsupported relocation type " + std::to_string(type) + " in " + target.name;
        return false;
    }
}

} // namespace

std::optional<elf_image> elf_image::load(const std::string &path, std::string &error)
{
    auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
    if (!buffer) {
        error = path + ": " + buffer.getError().message();
        return std::nullopt;
    }
    llvm::StringRef contents = (*buffer)->getBuffer();
    return parse(std::string_view(contents.data(), contents.size()), path, error);
}

std::optional<elf_image> elf_image::parse(std::string_view view, const std::string &path, std::string &error)
{
    llvm::StringRef bytes(view.data(), view.size());
    if (bytes.size() < 4 || bytes.substr(0, 4) != "\x7f" "ELF") {
        error = path + ": not an ELF file";
        return std::nullopt;
    }
    if (bytes.size() < 6 || bytes[4] != 2 || bytes[5] != 1) {
        error = path + ": not a 64-bit little-endian ELF file (x86-64 images only)";
        return std::nullopt;
    }
    auto file = llvm::object::ELFFile<elf64le>::create(bytes);
    if (!file) {
        error = path + ": malformed ELF: " + message(file.takeError());
        return std::nullopt;
    }
    const auto &elf = *file;
    if (elf.getHeader().e_machine != llvm::ELF::EM_X86_64) {
        error = path + ": ELF machine is not x86-64";
        return std::nullopt;
    }
    if (std::string bad = check_program_headers(elf, bytes.size()); !bad.empty()) {
        error = path + ": " + bad;
        return std::nullopt;
    }
    auto shdrs = elf.sections();
    if (!shdrs) {
        error = path + ": malformed ELF section headers: " + message(shdrs.takeError());
        return std::nullopt;
    }

    elf_image img;
    img.path_ = path;
    img.relocatable_ = elf.getHeader().e_type == llvm::ELF::ET_REL;
    uint64_t next_addr = 0x1000;  // synthetic layout for relocatable objects
    for (const auto &sh : *shdrs) {
        elf_section s;
        s.index = static_cast<unsigned>(&sh - &(*shdrs)[0]);
        auto name = elf.getSectionName(sh);
        if (!name) {
            error = path + ": malformed section name: " + message(name.takeError());
            return std::nullopt;
        }
        s.name = name->str();
        s.type = sh.sh_type;
        s.flags = sh.sh_flags;
        s.size = sh.sh_size;
        s.file_offset = sh.sh_offset;
        s.addr = sh.sh_addr;
        // Every later walk (scan's sweep, section_at) computes addr + size and offset + size:
        // a section whose end wraps around 2^64 would make those loops run forever.
        if (sh.sh_type != llvm::ELF::SHT_NOBITS && sh.sh_offset + sh.sh_size < sh.sh_offset) {
            error = path + ": section " + s.name + ": file offset + size wraps around 2^64";
            return std::nullopt;
        }
        // The same for every section that keeps its own address and is mapped or swept as code:
        // in an object, a section that is code but not allocated keeps sh_addr (found by
        // tests/fuzz: scan's sweep of such a .shstrtab read past its contents).
        const bool keeps_own_address = !img.relocatable_ || !(s.flags & llvm::ELF::SHF_ALLOC);
        const bool mapped_or_swept = s.flags & (llvm::ELF::SHF_ALLOC | llvm::ELF::SHF_EXECINSTR);
        if (keeps_own_address && mapped_or_swept && sh.sh_addr + sh.sh_size < sh.sh_addr) {
            error = path + ": section " + s.name + ": address + size wraps around 2^64 (sh_addr " +
                    hex(sh.sh_addr) + ", sh_size " + hex(sh.sh_size) + ")";
            return std::nullopt;
        }
        if (img.relocatable_ && (s.flags & llvm::ELF::SHF_ALLOC)) {
            uint64_t align = sh.sh_addralign;
            if (align == 0) align = 1;
            // A synthetic layout that would leave the address space is a corrupt object
            // (found by tests/fuzz: an alignment of 2^48 once ended in a division by zero).
            if (align > (uint64_t(1) << 40) || (align & (align - 1)) || s.size > (uint64_t(1) << 48)) {
                error = path + ": section " + s.name + ": alignment or size too large for an object (" +
                        hex(align) + ", " + hex(s.size) + ")";
                return std::nullopt;
            }
            next_addr = (next_addr + align - 1) & ~(align - 1);
            s.addr = next_addr;
            next_addr += std::max<uint64_t>(s.size, 1);
        }
        if (sh.sh_type != llvm::ELF::SHT_NOBITS && sh.sh_type != llvm::ELF::SHT_NULL) {
            auto contents = elf.getSectionContents(sh);
            if (!contents) {
                error = path + ": section " + s.name + ": " + message(contents.takeError());
                return std::nullopt;
            }
            s.data.assign(contents->begin(), contents->end());
        }
        img.sections_.push_back(std::move(s));
    }

    // Symbols (for resynchronising the disassembly and naming addresses).
    for (const auto &sh : *shdrs) {
        if (sh.sh_type != llvm::ELF::SHT_SYMTAB) continue;
        auto syms = elf.symbols(&sh);
        auto strtab = elf.getStringTableForSymtab(sh);
        if (!syms || !strtab) {
            error = path + ": malformed symbol table";
            if (!syms) llvm::consumeError(syms.takeError());
            if (!strtab) llvm::consumeError(strtab.takeError());
            return std::nullopt;
        }
        for (const auto &sym : *syms) {
            elf_symbol es;
            auto n = sym.getName(*strtab);
            if (n) es.name = n->str();
            else llvm::consumeError(n.takeError());
            es.type = sym.getType();
            es.section = sym.st_shndx < llvm::ELF::SHN_LORESERVE ? sym.st_shndx : 0;
            if (es.section >= img.sections_.size()) {
                error = path + ": symbol " + es.name + " names section " + std::to_string(es.section) +
                        " which does not exist";
                return std::nullopt;
            }
            es.addr = sym.st_value;
            if (img.relocatable_ && es.section) es.addr += img.sections_[es.section].addr;
            if (sym.st_shndx == llvm::ELF::SHN_UNDEF || es.type == llvm::ELF::STT_FILE) continue;
            img.symbols_.push_back(std::move(es));
        }
    }
    std::sort(img.symbols_.begin(), img.symbols_.end(),
              [](const elf_symbol &a, const elf_symbol &b) { return a.addr < b.addr; });

    // Apply relocations to note sections so records read as they would after linking.
    if (img.relocatable_) {
        for (const auto &sh : *shdrs) {
            if (sh.sh_type != llvm::ELF::SHT_RELA) continue;
            if (sh.sh_info >= img.sections_.size()) {
                error = path + ": relocation section targets a section that does not exist";
                return std::nullopt;
            }
            elf_section &target = img.sections_[sh.sh_info];
            if (target.type != llvm::ELF::SHT_NOTE) continue;
            auto relas = elf.relas(sh);
            auto symtab = elf.getSection(sh.sh_link);
            if (!relas || !symtab) {
                error = path + ": malformed relocations for " + target.name;
                if (!relas) llvm::consumeError(relas.takeError());
                if (!symtab) llvm::consumeError(symtab.takeError());
                return std::nullopt;
            }
            for (const auto &r : *relas) {
                auto sym = elf.getRelocationSymbol(r, *symtab);
                if (!sym || !*sym) {
                    error = path + ": relocation in " + target.name + " without a symbol";
                    if (!sym) llvm::consumeError(sym.takeError());
                    return std::nullopt;
                }
                const auto &s = **sym;
                if (s.st_shndx == llvm::ELF::SHN_UNDEF || s.st_shndx >= img.sections_.size()) {
                    error = path + ": relocation in " + target.name + " against an undefined symbol";
                    return std::nullopt;
                }
                uint64_t value = s.st_value + img.sections_[s.st_shndx].addr;
                if (!apply_rela(target, r.r_offset, r.getType(false), value, r.r_addend, error)) {
                    error = path + ": " + error;
                    return std::nullopt;
                }
            }
        }
    }
    return img;
}

const elf_section *elf_image::section_at(uint64_t addr) const
{
    for (const auto &s : sections_)
        if (s.allocated() && s.type != 8 /* SHT_NOBITS */ && s.contains(addr)) return &s;
    return nullptr;
}

std::string elf_image::describe(uint64_t addr) const
{
    char buf[64];
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                               [](uint64_t a, const elf_symbol &s) { return a < s.addr; });
    const elf_section *sec = section_at(addr);
    // Prefer a named symbol in the same section.
    while (it != symbols_.begin()) {
        --it;
        if (!it->name.empty() && (!sec || it->section == sec->index)) {
            std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(addr - it->addr));
            return it->name + buf;
        }
    }
    if (sec) {
        std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(addr - sec->addr));
        return sec->name + buf;
    }
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(addr));
    return buf;
}

} // namespace afterburn
