// What kickstart hands the root task: the KIP's BootInfo field holds the physical address of
// its generic boot info, a list of records. The modules after the kernel, sigma0 and the
// root task (the guest) are Module records (start, size, command line); sigma0 and the root
// task are SimpleExec records, the root task's with our own command line.
#pragma once

#include <stdint.h>

namespace lw {

struct boot_module {
    const uint8_t *data;     // mapped one to one: data == physical start
    uint64_t size;
    const char *cmdline;     // as QEMU passed it: the file's path, then any arguments
};

struct boot_modules {
    boot_module guest;       // the first Module record (size 0: none)
    boot_module initrd;      // the second (size 0: none); not mapped
    const char *wedge_cmdline;  // the root task's (the second SimpleExec record), or ""
};

// Maps the boot info and the guest module; prints what it found. False, with why printed,
// when the boot info is missing or malformed or sigma0 will not map it.
bool find_boot_modules(const uint8_t *kip, boot_modules &out);

} // namespace lw
