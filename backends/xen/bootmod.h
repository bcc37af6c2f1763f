// The boot module: the second multiboot module, which Xen hands dom0 as its "initrd". Later
// it is the annotated guest ELF the wedge loads; today we describe what we were given.
#pragma once

#include "start_info.h"

namespace xw {

// Prints the module's length and first bytes (hex and text) and, if it is an ELF64 image,
// its header. Reads only within [data, data + len).
void describe_boot_module(const module_bytes &m);

} // namespace xw
