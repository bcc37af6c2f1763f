// The guest's RAM: pages from sigma0, mapped into the wedge's address space as one window,
// guest-physical address 0 at `guest_ram_window`. The guest's own link addresses (the top
// 2 GiB) are the kernel's half of an L4 address space, so the wedge reaches guest memory
// through this window only.
#pragma once

#include <stdint.h>

namespace lw {

inline constexpr uint64_t guest_ram_window = 0x100000000;  // 4 GiB, above any physical RAM here
// sigma0's pages: 2 MiB, the amd64 superpage (the kernel would split larger ones).
inline constexpr unsigned guest_ram_chunk_log2 = 21;

// Maps `mib` MiB (a multiple of 4) of sigma0's memory at the window; prints what it got.
// False, with why printed, when sigma0 has less.
bool map_guest_ram(uint64_t mib);

uint64_t guest_ram_bytes();

// The wedge's address of guest-physical [gpa, gpa + len), or null outside guest RAM.
uint8_t *guest_phys(uint64_t gpa, uint64_t len);

} // namespace lw
