// The guest image moved from its link addresses to its load address, in guest RAM. The
// sample guest and Linux are linked in the top 2 GiB, which is Pistachio's kernel half of
// every address space: no user thread can run there. The guest runs at its physical load
// address instead (user half), its absolute references to itself adjusted with the
// relocations its link kept (--emit-relocs; the file is the one every backend boots).
#pragma once

#include "guest_image.h"

namespace lw {

// Adjusts every absolute reference into the image (R_X86_64_64, R_X86_64_32S) by the image's
// virtual - physical offset; relative ones within the image stay. False, with why printed,
// when the image has no relocations or one the wedge cannot move.
bool relocate_guest(const guest_image &g);

// True when `va` lies in the loaded image at its load address (where it runs on L4).
bool in_relocated_image(const guest_image &g, uint64_t va);

} // namespace lw
