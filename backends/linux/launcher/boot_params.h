// The boot_params ("zero page") of the Linux x86 boot protocol, as the 64-bit entry
// reads it: setup header identification, the e820 map and the command line.
// Offsets follow Linux's Documentation/arch/x86/zero-page.rst and boot.rst.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "guest_memory.h"

namespace afterburn::kvm {

struct E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;   // 1 = RAM, 2 = reserved
};

// The PC memory map for `mem`: RAM [0, 640 KiB), reserved 640 KiB..1 MiB (VGA/BIOS
// area, as on a PC), RAM from 1 MiB, and the RAM above 4 GiB.
std::vector<E820Entry> build_e820(const GuestMemory& mem);
// Marks [addr, addr + size) reserved (type 2), splitting the RAM entries it overlaps.
void reserve_e820(std::vector<E820Entry>& map, uint64_t addr, uint64_t size);

// Writes boot_params at layout::kBootParams and the command line at layout::kCmdline.
// Throws Error(kUsage) if the command line is too long.
void write_boot_params(GuestMemory& mem, const std::vector<E820Entry>& e820, const std::string& cmdline);

}  // namespace afterburn::kvm
