// The guest's RAM: pages from sigma0, mapped into the wedge's address space as one window,
// guest-physical address 0 at `guest_ram_window`. The guest's own link addresses (the top
// 2 GiB) are the kernel's half of an L4 address space, so the wedge reaches guest memory
// through this window only.
#pragma once

#include <stdint.h>

namespace lw {

inline constexpr uint64_t guest_ram_window = 0x100000000;  // 4 GiB, above any physical RAM here
// sigma0's pages: 4 KiB, the size the wedge maps on to the guest. Unmapping a 4 KiB part of
// a larger page of ours from the guest had no effect on this Pistachio (stale guest mappings
// after CR3 loads), and unmapping the larger page itself ran the kernel into an unmapped
// kmem chunk; with 4 KiB pages both ways are plain.
inline constexpr unsigned guest_ram_chunk_log2 = 12;

// Maps `mib` MiB (a multiple of 4) of sigma0's memory at the window; prints what it got.
// False, with why printed, when sigma0 has less.
bool map_guest_ram(uint64_t mib);

uint64_t guest_ram_bytes();

// The wedge's address of guest-physical [gpa, gpa + len), or null outside guest RAM.
uint8_t *guest_phys(uint64_t gpa, uint64_t len);

} // namespace lw
