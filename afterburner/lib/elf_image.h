// A read-only view of an x86-64 ELF file (executable or relocatable object): sections,
// symbols, and note sections with their relocations applied, so annotation records can
// be resolved the same way in a vmlinux and in a .o.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace afterburn {

struct elf_section {
    unsigned index = 0;
    std::string name;
    uint32_t type = 0;
    uint64_t flags = 0;
    uint64_t addr = 0;         // run-time address; synthetic (laid out like ld -r would) in a .o
    uint64_t size = 0;
    uint64_t file_offset = 0;  // where the contents sit in the file (SHT_NOBITS: none)
    std::vector<uint8_t> data; // contents; for note sections with relocations applied

    bool executable() const { return flags & 0x4; } // SHF_EXECINSTR
    bool allocated() const { return flags & 0x2; }  // SHF_ALLOC
    bool contains(uint64_t a) const { return a >= addr && a - addr < size; }
};

struct elf_symbol {
    std::string name;
    uint64_t addr = 0;
    unsigned section = 0;  // section index, 0 if undefined/absolute
    uint8_t type = 0;      // STT_*
};

class elf_image {
public:
    // Loads and checks the file; on failure returns nullopt with a message naming the problem.
    static std::optional<elf_image> load(const std::string &path, std::string &error);
    // The same from bytes in memory (the fuzzers); `path` only names the image in messages.
    static std::optional<elf_image> parse(std::string_view bytes, const std::string &path, std::string &error);

    const std::string &path() const { return path_; }
    bool relocatable() const { return relocatable_; }
    const std::vector<elf_section> &sections() const { return sections_; }
    const std::vector<elf_symbol> &symbols() const { return symbols_; }

    // The allocated section holding addr, or nullptr.
    const elf_section *section_at(uint64_t addr) const;
    // "symbol+0xoff" for an address, for reports.
    std::string describe(uint64_t addr) const;

private:
    std::string path_;
    bool relocatable_ = false;
    std::vector<elf_section> sections_;
    std::vector<elf_symbol> symbols_;  // sorted by address
};

} // namespace afterburn
