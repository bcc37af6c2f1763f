// The guest as the launcher loads it: the kernel ELF (and the wedge ELF) read from files,
// placed in guest RAM by the shared loader in wedge/boot (boot_params, e820, initrd).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "guest_memory.h"
#include "wedge/boot/linux_boot.h"

namespace afterburn::kvm {

namespace boot = afterburn::boot;

// The whole file; throws fatal_error(exit_bad_image) naming `what` and the reason.
std::vector<uint8_t> read_file(const std::string& path, const char* what);

// The loader's view of `mem` (one range per KVM slot).
boot::guest_ram ram_view(const guest_memory& mem);

// Parses an ELF64 file without loading it; throws fatal_error(exit_bad_image) with `path` in
// the message.
boot::elf64_image parse_image(const std::vector<uint8_t>& bytes, const std::string& path, bool entry_is_physical);

// Least --memory (MiB) that holds the kernel's segments and the initrd above them, below 3 GiB.
uint64_t min_memory_mib(const boot::elf64_image& kernel, uint64_t initrd_size);

}  // namespace afterburn::kvm
