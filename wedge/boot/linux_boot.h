// The one guest loader: an ELF64 x86-64 kernel (a Linux vmlinux, the sample guest), an
// optional initrd and a command line, placed in guest RAM for the Linux x86-64 64-bit boot
// protocol: PT_LOADs at p_paddr, the initrd at the top of low RAM, boot_params ("zero page")
// with the e820 map, ramdisk_image/size and cmd_line_ptr. Entry: e_entry (physical) with
// RSI = boot_params.
// Freestanding (no libc, no allocation, no exceptions): it writes only through the caller's
// view of guest RAM, so a host launcher and an in-guest wedge can both call it. Errors come
// back as an enum plus a message naming what and where.
// Offsets: Linux's Documentation/arch/x86/boot.rst and zero-page.rst. See docs/kvm-backend-notes.md.
#pragma once

#include <stdint.h>

#include "wedge/boot/elf64.h"

namespace afterburn::boot {

// Guest-physical RAM as host memory: up to 4 ranges (e.g. below 3 GiB and from 4 GiB).
struct ram_range {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;  // host address of gpa
};
struct guest_ram {
    static constexpr unsigned max_ranges = 4;
    ram_range ranges[max_ranges];
    unsigned count;
    // Host pointer for [gpa, gpa + len) if it lies within one range, else nullptr.
    uint8_t *at(uint64_t gpa, uint64_t len) const;
    uint64_t total() const;
};

struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;  // 1 RAM, 2 reserved
};
inline constexpr uint32_t e820_ram = 1, e820_reserved = 2;
inline constexpr uint64_t boot_params_bytes = 4096;  // the zero page

// Where the loader may put things, and what it must leave alone.
struct boot_request {
    const uint8_t *kernel;        // the ELF file
    const char *kernel_name;      // for messages (nullptr: "kernel")
    uint64_t kernel_size;
    const uint8_t *initrd;        // nullptr: none
    const char *initrd_name;      // for messages (nullptr: "initrd")
    uint64_t initrd_size;
    const char *cmdline;          // NUL-terminated (nullptr: empty)
    uint64_t boot_params_gpa;     // 4 KiB for the zero page
    uint64_t cmdline_gpa;         // room for cmdline_max bytes
    uint32_t cmdline_max;         // including the NUL
    uint64_t kernel_min_gpa;      // PT_LOADs must lie at or above (the caller's boot data is below)
    static constexpr unsigned max_reserved = 4;
    struct { uint64_t gpa, size; } reserved[max_reserved];  // e820 reserved; never given to the initrd
    unsigned reserved_count;
};

struct boot_result {
    elf64_image kernel;           // the parsed kernel (segments, notes, entries)
    uint64_t entry_phys;          // RIP for the 64-bit boot protocol
    uint64_t entry_virt;          // the same instruction at its link address
    uint64_t boot_params;         // RSI
    uint64_t initrd_gpa, initrd_size;  // 0, 0 without an initrd
    static constexpr unsigned max_e820 = 16;
    e820_entry e820[max_e820];
    unsigned e820_count;
};

// Least RAM (bytes, a MiB multiple) that holds the kernel's segments and the initrd above
// them; what "too little memory" messages ask for.
uint64_t min_ram_bytes(const elf64_image &kernel, uint64_t initrd_size);

// The PC memory map of `ram`: RAM below 640 KiB, reserved 640 KiB..1 MiB, RAM from 1 MiB
// (and each further range), minus the request's reserved ranges.
bool build_e820(const guest_ram &ram, const boot_request &req, boot_result &out, status &st);

// Fills the 4 KiB zero page `bp` for the command line at req.cmdline_gpa (checking its
// length against req.cmdline_max), out's e820 map and initrd: what load_linux puts in guest
// RAM, for a caller that copies it there itself (the Xen wedge).
bool write_boot_params(const boot_request &req, const boot_result &out, uint8_t *bp, status &st);

// Chooses the initrd's place (the top of RAM below 4 GiB, above the kernel) in out's e820 map
// and records it in out.initrd_gpa/size; the caller copies the bytes. A clear message when it
// does not fit.
bool place_initrd(const boot_request &req, const elf64_image &kernel, uint64_t ram_total, boot_result &out,
                  status &st);

// Parses the kernel, loads it, places the initrd, writes the command line and boot_params.
bool load_linux(const boot_request &req, const guest_ram &ram, boot_result &out, status &st);

// Linux's head code: [startup_64, the end of startup_64_setup_env) at link addresses, when the
// image is entered at startup_64 (e_entry, at its physical or its link address). It runs at its
// physical alias first (__startup_64 derives the load address from RIP), before any page table
// maps a wedge; each rewrite plan says what its sites become (wedge/rewrite_plan.h). False for
// an image without both symbols (not Linux, or stripped) or entered elsewhere.
bool linux_head_code(const elf64_image &img, uint64_t &lo, uint64_t &hi);

} // namespace afterburn::boot
