// What kind of kernel image a file is, checked before QEMU sees it so errors are ours and clear.
#pragma once

#include <filesystem>
#include <string>
#include <variant>

namespace afterburn::launcher {

enum class image_kind { elf_pvh, elf_multiboot, elf_xen_pv, bzimage }; // elf_xen_pv: Xen PV only

struct image_info {
    image_kind kind;
    bool is_linux = false;     // Linux images get console=ttyS0 unless --append says otherwise
    std::string description;   // for messages, e.g. "ELF64 with PVH entry note (Linux)"
    bool annotated = false;    // holds an "Afterburn" annotation note (docs/annotation-format.md)
    bool xen_pv = false;       // has a Xen PV entry note (XEN_ELFNOTE_ENTRY): can be Xen's dom0
    bool page_table_sites = false; // annotated page-table accesses (the compiler pass): direct paging can run it
};

struct image_error {
    std::string message;
};

// Accepts what QEMU's -kernel loader accepts on x86: a Linux boot-protocol image (bzImage),
// an ELF with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), or a multiboot (v1) kernel; and
// an ELF with only a Xen PV entry note (XEN_ELFNOTE_ENTRY), which only Xen can start as dom0.
std::variant<image_info, image_error> probe_image(const std::filesystem::path& path);

// "" when QEMU's -kernel loader can start IMAGE itself, else why not (a Xen PV-only kernel).
std::string not_bootable_by_qemu(const image_info& image, const std::filesystem::path& path);

} // namespace afterburn::launcher
