#include "image.h"

#include "afterburn/annotation_reader.h"
#include "afterburn/site_kind.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <elf.h>
#include <fstream>
#include <optional>
#include <vector>

namespace afterburn::launcher {

namespace {

constexpr std::uint32_t xen_elfnote_entry = 1; // a PV kernel's entry point (Xen's dom0 builder)
constexpr std::uint32_t xen_elfnote_phys32_entry = 18;
constexpr std::uint32_t multiboot_magic = 0x1BADB002;
constexpr std::size_t multiboot_search_bytes = 8192;
constexpr std::uint64_t max_note_bytes = 1 << 20; // notes are tiny; refuse absurd sizes

class image_file {
public:
    explicit image_file(const std::filesystem::path& path) : in_(path, std::ios::binary) {}
    bool is_open() const { return in_.is_open(); }
    // Reads exactly n bytes at offset; false if the file is shorter.
    bool read(std::uint64_t offset, void* buffer, std::size_t n)
    {
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(static_cast<char*>(buffer), static_cast<std::streamsize>(n));
        return in_.gcount() == static_cast<std::streamsize>(n);
    }
    std::vector<unsigned char> read_upto(std::uint64_t offset, std::size_t n)
    {
        std::vector<unsigned char> data(n);
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(n));
        data.resize(static_cast<std::size_t>(std::max<std::streamsize>(in_.gcount(), 0)));
        return data;
    }

private:
    std::ifstream in_;
};

struct elf_notes {
    bool pvh = false;
    bool xen_pv = false;
    bool linux_owner = false;
    bool afterburn = false;
    bool page_table_sites = false;
};

// ELF notes are {namesz, descsz, type, name (4-aligned), desc (4-aligned)} in both classes.
void scan_notes(const std::vector<unsigned char>& data, elf_notes& notes)
{
    std::size_t pos = 0;
    auto align4 = [](std::size_t v) { return (v + 3) & ~std::size_t{3}; };
    while (pos + 12 <= data.size()) {
        std::uint32_t namesz, descsz, type;
        std::memcpy(&namesz, &data[pos], 4);
        std::memcpy(&descsz, &data[pos + 4], 4);
        std::memcpy(&type, &data[pos + 8], 4);
        std::size_t name_at = pos + 12;
        if (namesz > data.size() || descsz > data.size())
            return;
        std::size_t desc_at = name_at + align4(namesz);
        std::size_t next = desc_at + align4(descsz);
        if (next > data.size())
            return;
        std::string name(reinterpret_cast<const char*>(&data[name_at]), namesz);
        if (!name.empty() && name.back() == '\0')
            name.pop_back();
        if (name == "Xen" && type == xen_elfnote_phys32_entry)
            notes.pvh = true;
        if (name == "Xen" && type == xen_elfnote_entry)
            notes.xen_pv = true;
        if (name == "Linux")
            notes.linux_owner = true;
        if (name == "Afterburn") {
            notes.afterburn = true;
            // Any page_table_store/_load record: the image was built with the compiler pass.
            annotation::walk_tables(data.data() + pos, data.data() + next, [&](const annotation::table_view& v) {
                for (std::uint32_t i = 0; i < v.count; ++i) {
                    std::uint8_t kind;
                    std::memcpy(&kind, reinterpret_cast<const unsigned char*>(v.records) + i * v.record_size +
                                           offsetof(annotation::site_record, kind), 1);
                    if (site_kind_is_page_table(static_cast<site_kind>(kind)))
                        notes.page_table_sites = true;
                }
            });
        }
        pos = next;
    }
}

template <typename Ehdr, typename Phdr, typename Shdr>
std::optional<std::string> collect_notes(image_file& file, elf_notes& notes)
{
    Ehdr eh;
    if (!file.read(0, &eh, sizeof eh))
        return "truncated ELF header";
    if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386)
        return "ELF for machine " + std::to_string(eh.e_machine) + ", not x86";
    if (eh.e_type != ET_EXEC)
        return "ELF is not an executable (e_type " + std::to_string(eh.e_type) + "); link it first";
    // Program headers are what a loader uses; section headers cover images that keep notes
    // outside a PT_NOTE segment.
    if (eh.e_phentsize == sizeof(Phdr)) {
        for (unsigned i = 0; i < eh.e_phnum; ++i) {
            Phdr ph;
            if (!file.read(eh.e_phoff + std::uint64_t{i} * sizeof ph, &ph, sizeof ph))
                return "truncated ELF program headers";
            if (ph.p_type == PT_NOTE && ph.p_filesz <= max_note_bytes)
                scan_notes(file.read_upto(ph.p_offset, ph.p_filesz), notes);
        }
    }
    if (eh.e_shentsize == sizeof(Shdr)) {
        for (unsigned i = 0; i < eh.e_shnum; ++i) {
            Shdr sh;
            if (!file.read(eh.e_shoff + std::uint64_t{i} * sizeof sh, &sh, sizeof sh))
                break; // stripped or odd section table: the program headers decide
            if (sh.sh_type == SHT_NOTE && sh.sh_size <= max_note_bytes)
                scan_notes(file.read_upto(sh.sh_offset, sh.sh_size), notes);
        }
    }
    return std::nullopt;
}

bool has_multiboot_header(image_file& file)
{
    auto head = file.read_upto(0, multiboot_search_bytes);
    for (std::size_t pos = 0; pos + 12 <= head.size(); pos += 4) {
        std::uint32_t magic, flags, checksum;
        std::memcpy(&magic, &head[pos], 4);
        if (magic != multiboot_magic)
            continue;
        std::memcpy(&flags, &head[pos + 4], 4);
        std::memcpy(&checksum, &head[pos + 8], 4);
        if (static_cast<std::uint32_t>(magic + flags + checksum) == 0)
            return true;
    }
    return false;
}

} // namespace

std::variant<image_info, image_error> probe_image(const std::filesystem::path& path)
{
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status))
        return image_error{"image '" + path.string() + "' does not exist"};
    if (!std::filesystem::is_regular_file(status))
        return image_error{"image '" + path.string() + "' is not a regular file"};
    image_file file(path);
    if (!file.is_open())
        return image_error{"cannot read image '" + path.string() + "': " + std::strerror(errno)};

    unsigned char ident[EI_NIDENT] = {};
    auto head = file.read_upto(0, sizeof ident);
    std::memcpy(ident, head.data(), head.size());
    if (head.size() >= SELFMAG && std::memcmp(ident, ELFMAG, SELFMAG) == 0) {
        if (head.size() < sizeof ident)
            return image_error{"image '" + path.string() + "': truncated ELF header"};
        if (ident[EI_DATA] != ELFDATA2LSB)
            return image_error{"image '" + path.string() + "' is a big-endian ELF, not x86"};
        elf_notes notes;
        std::optional<std::string> problem;
        const char* cls = "ELF";
        if (ident[EI_CLASS] == ELFCLASS64) {
            problem = collect_notes<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr>(file, notes);
            cls = "ELF64";
        } else if (ident[EI_CLASS] == ELFCLASS32) {
            problem = collect_notes<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr>(file, notes);
            cls = "ELF32";
        } else {
            problem = "unknown ELF class";
        }
        if (problem)
            return image_error{"image '" + path.string() + "': " + *problem};
        std::string suffix = notes.linux_owner ? " (Linux)" : "";
        if (notes.xen_pv)
            suffix += ", Xen PV entry note";
        if (notes.pvh)
            return image_info{image_kind::elf_pvh, notes.linux_owner,
                              std::string(cls) + " with PVH entry note" + suffix, notes.afterburn, notes.xen_pv, notes.page_table_sites};
        if (has_multiboot_header(file))
            return image_info{image_kind::elf_multiboot, notes.linux_owner,
                              std::string(cls) + " with multiboot header" + suffix, notes.afterburn, notes.xen_pv, notes.page_table_sites};
        if (notes.xen_pv) // only Xen can start it (xen-dom0, xenolinux); the other backends refuse it
            return image_info{image_kind::elf_xen_pv, notes.linux_owner,
                              std::string(cls) + " with only a Xen PV entry note" + suffix, notes.afterburn, true, notes.page_table_sites};
        return image_error{"image '" + path.string() + "' is an ELF without a PVH entry note "
                           "(Xen note type 18) or multiboot header; QEMU cannot boot it "
                           "(for Linux, build with CONFIG_PVH=y)"};
    }

    // Linux x86 boot protocol: "HdrS" at 0x202 and the 0xAA55 boot flag at 0x1FE.
    unsigned char setup[0x210] = {};
    if (file.read(0, setup, sizeof setup) && std::memcmp(&setup[0x202], "HdrS", 4) == 0 &&
        setup[0x1FE] == 0x55 && setup[0x1FF] == 0xAA) {
        unsigned version = setup[0x206] | (setup[0x207] << 8);
        return image_info{image_kind::bzimage, true,
                          "Linux bzImage (boot protocol " + std::to_string(version >> 8) + "." +
                              std::to_string(version & 0xff) + ")"};
    }
    if (has_multiboot_header(file))
        return image_info{image_kind::elf_multiboot, false, "multiboot kernel"};
    return image_error{"image '" + path.string() + "' is neither an ELF nor a Linux bzImage"};
}

std::string not_bootable_by_qemu(const image_info& image, const std::filesystem::path& path)
{
    if (image.kind != image_kind::elf_xen_pv)
        return {};
    return "image '" + path.string() + "' has only a Xen PV entry note (no PVH entry note or multiboot "
           "header): only Xen can start it (--on xen-dom0, or --on xenolinux for a Linux)";
}

} // namespace afterburn::launcher
