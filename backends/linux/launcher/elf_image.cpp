#include "elf_image.h"

#include <elf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "exit_codes.h"

namespace afterburn::kvm {

namespace {
std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}
}  // namespace

ElfImage ElfImage::load_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
        throw Error(kBadImage, path + ": not a regular file");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(kBadImage, path + ": cannot open: " + std::strerror(errno));
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) throw Error(kBadImage, path + ": read error");
    return parse(std::move(bytes), path);
}

ElfImage ElfImage::parse(std::vector<uint8_t> bytes, const std::string& name) {
    auto bad = [&](const std::string& why) { return Error(kBadImage, name + ": " + why); };
    if (bytes.size() < sizeof(Elf64_Ehdr))
        throw bad("not an ELF file (" + std::to_string(bytes.size()) + " bytes, shorter than an ELF header)");
    Elf64_Ehdr eh;
    std::memcpy(&eh, bytes.data(), sizeof eh);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) throw bad("not an ELF file (bad magic)");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64) throw bad("not a 64-bit ELF (ELFCLASS " + std::to_string(eh.e_ident[EI_CLASS]) + ")");
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB) throw bad("not little-endian");
    if (eh.e_machine != EM_X86_64) throw bad("not an x86-64 ELF (e_machine " + std::to_string(eh.e_machine) + ")");
    if (eh.e_type != ET_EXEC) throw bad("not an executable ELF (e_type " + std::to_string(eh.e_type) + ", want ET_EXEC)");
    if (eh.e_phnum == 0) throw bad("no program headers");
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) throw bad("e_phentsize " + std::to_string(eh.e_phentsize) + " is not 56");
    if (eh.e_phoff > bytes.size() || uint64_t(eh.e_phnum) * sizeof(Elf64_Phdr) > bytes.size() - eh.e_phoff)
        throw bad("program headers lie beyond the end of the file (truncated?)");

    ElfImage img;
    img.name_ = name;
    img.entry_ = eh.e_entry;
    bool entry_ok = false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        std::memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_NOTE && ph.p_filesz) img.notes_.push_back({ph.p_vaddr, ph.p_filesz});
        if (ph.p_type != PT_LOAD) continue;
        std::string seg = "PT_LOAD " + std::to_string(i);
        if (ph.p_filesz > ph.p_memsz) throw bad(seg + ": p_filesz > p_memsz");
        if (ph.p_offset > bytes.size() || ph.p_filesz > bytes.size() - ph.p_offset)
            throw bad(seg + ": file data [" + hex(ph.p_offset) + ", +" + hex(ph.p_filesz) +
                      ") lies beyond the end of the file (" + std::to_string(bytes.size()) + " bytes; truncated?)");
        if (ph.p_paddr + ph.p_memsz < ph.p_paddr) throw bad(seg + ": physical range wraps around");
        if (ph.p_memsz == 0) continue;
        img.segments_.push_back({ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_offset, ph.p_vaddr});
        if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_filesz) entry_ok = true;
    }
    if (img.segments_.empty()) throw bad("no PT_LOAD segment");
    if (!entry_ok)
        throw bad("entry point " + hex(eh.e_entry) +
                  " is not inside a loaded segment's physical range (the 64-bit boot protocol "
                  "enters e_entry as a physical address)");
    img.bytes_ = std::move(bytes);
    return img;
}

uint64_t ElfImage::entry_vaddr() const {
    for (const LoadSegment& s : segments_)
        if (entry_ >= s.paddr && entry_ - s.paddr < s.filesz) return entry_ - s.paddr + s.vaddr;
    return entry_;
}

std::vector<VirtRange> ElfImage::sections_named(const std::string& want) const {
    std::vector<VirtRange> out;
    Elf64_Ehdr eh;
    std::memcpy(&eh, bytes_.data(), sizeof eh);
    if (eh.e_shoff == 0 || eh.e_shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr)) return out;
    if (eh.e_shoff > bytes_.size() || uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr) > bytes_.size() - eh.e_shoff)
        return out;
    auto shdr = [&](unsigned i) {
        Elf64_Shdr sh;
        std::memcpy(&sh, bytes_.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
        return sh;
    };
    if (eh.e_shstrndx >= eh.e_shnum) return out;
    Elf64_Shdr strtab = shdr(eh.e_shstrndx);
    if (strtab.sh_offset > bytes_.size() || strtab.sh_size > bytes_.size() - strtab.sh_offset) return out;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh = shdr(i);
        if (!(sh.sh_flags & SHF_ALLOC) || sh.sh_size == 0 || sh.sh_name >= strtab.sh_size) continue;
        const char* name = reinterpret_cast<const char*>(bytes_.data() + strtab.sh_offset + sh.sh_name);
        size_t max = strtab.sh_size - sh.sh_name;
        if (strnlen(name, max) == max) continue;
        if (want == name) out.push_back({sh.sh_addr, sh.sh_size});
    }
    return out;
}

uint64_t ElfImage::min_memory_mib() const {
    uint64_t end = 0;
    for (const LoadSegment& s : segments_) end = std::max(end, s.paddr + s.memsz);
    if (end > GuestMemory::kHoleStart)  // RAM above 3 GiB is placed from 4 GiB on
        end -= std::min(end - GuestMemory::kHoleStart, GuestMemory::kHighStart - GuestMemory::kHoleStart);
    return (end + (1u << 20) - 1) >> 20;
}

void ElfImage::load_into(GuestMemory& mem, uint64_t reserved_end) const {
    for (size_t i = 0; i < segments_.size(); i++) {
        const LoadSegment& s = segments_[i];
        std::string range = "[" + hex(s.paddr) + ", " + hex(s.paddr + s.memsz) + ")";
        if (s.paddr < reserved_end)
            throw Error(kBadImage, name_ + ": segment " + range + " overlaps the launcher's boot data "
                                   "below " + hex(reserved_end) + " (load kernels at 1 MiB or above)");
        uint8_t* dst = mem.at(s.paddr, s.memsz);
        if (!dst) {
            std::string have = std::to_string(mem.size() >> 20) + " MiB";
            if (min_memory_mib() > (mem.size() >> 20))
                throw Error(kBadImage, name_ + ": segment " + range + " lies outside guest RAM (" + have +
                                       "); the guest needs at least --memory " + std::to_string(min_memory_mib()));
            throw Error(kBadImage, name_ + ": segment " + range + " is not in RAM (" + have +
                                   "; RAM is [0, 3 GiB) and 4 GiB up, the 3..4 GiB hole is MMIO)");
        }
        std::memcpy(dst, bytes_.data() + s.offset, s.filesz);
        std::memset(dst + s.filesz, 0, s.memsz - s.filesz);
    }
}

void ElfImage::load_relocated(GuestMemory& mem, uint64_t vbase, uint64_t pbase, uint64_t size) const {
    for (const LoadSegment& s : segments_) {
        if (s.vaddr < vbase || s.vaddr - vbase > size || s.memsz > size - (s.vaddr - vbase))
            throw Error(kBadImage, name_ + ": segment at " + hex(s.vaddr) + " (+" + hex(s.memsz) +
                                   ") lies outside [" + hex(vbase) + ", +" + hex(size) + ")");
        uint8_t* dst = mem.at(pbase + (s.vaddr - vbase), s.memsz);
        if (!dst) throw Error(kBadImage, name_ + ": no guest RAM at " + hex(pbase + (s.vaddr - vbase)));
        std::memcpy(dst, bytes_.data() + s.offset, s.filesz);
        std::memset(dst + s.filesz, 0, s.memsz - s.filesz);
    }
}

}  // namespace afterburn::kvm
