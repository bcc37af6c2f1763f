// One Xen boot module that carries the guest kernel and its initrd. Xen hands dom0 exactly
// one module (its "initrd"), so `afterburn boot --on xen IMAGE --initrd FILE` packs both into
// one file: this header page, then the kernel, then the initrd, each at a page-aligned
// offset. The launcher writes it (backends/xen/glue/boot_xen.cpp), the wedge reads it
// (backends/xen/main.cpp). A module without the magic is the kernel alone.
#pragma once

#include <stdint.h>

namespace afterburn::xen_module {

inline constexpr char magic[8] = {'A', 'F', 'B', 'P', 'A', 'C', 'K', '1'};
inline constexpr uint64_t header_bytes = 4096;

struct header {
    char magic[8];
    uint64_t kernel_offset, kernel_size;
    uint64_t initrd_offset, initrd_size;
};

} // namespace afterburn::xen_module
