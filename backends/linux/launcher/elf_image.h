// A 64-bit x86 ELF kernel image: validated program headers and the loader that copies
// PT_LOAD segments to their physical addresses (p_paddr) in guest memory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "guest_memory.h"

namespace afterburn::kvm {

struct LoadSegment {
    uint64_t paddr;    // guest-physical load address (p_paddr)
    uint64_t filesz;   // bytes copied from the file
    uint64_t memsz;    // bytes occupied (the rest is zeroed)
    uint64_t offset;   // file offset
    uint64_t vaddr;    // virtual address (p_vaddr)
};

// A guest-virtual range: a PT_NOTE segment, or a section.
struct VirtRange {
    uint64_t vaddr;
    uint64_t size;
};

class ElfImage {
public:
    // Reads and validates the file; throws Error(kBadImage) with the reason.
    static ElfImage load_file(const std::string& path);
    // Validates an in-memory image (`name` is used in messages).
    static ElfImage parse(std::vector<uint8_t> bytes, const std::string& name);

    uint64_t entry() const { return entry_; }           // e_entry (physical, 64-bit entry)
    const std::vector<LoadSegment>& segments() const { return segments_; }
    // PT_NOTE segments (p_vaddr, p_filesz), in program-header order; empty ones are left out.
    const std::vector<VirtRange>& notes() const { return notes_; }
    // e_entry (physical) translated to the virtual address of the PT_LOAD that holds it.
    uint64_t entry_vaddr() const;
    // Allocated sections named `name` (section headers; empty if there are none).
    std::vector<VirtRange> sections_named(const std::string& name) const;
    // End of the highest segment, rounded up to a MiB: the least RAM that can hold it.
    uint64_t min_memory_mib() const;
    // Copies each segment to p_paddr and zeroes p_memsz - p_filesz. Throws
    // Error(kBadImage) if a segment is not wholly inside RAM or touches [0, reserved_end).
    void load_into(GuestMemory& mem, uint64_t reserved_end) const;
    // Loads an image linked at virtual [vbase, vbase + size) (the wedge): each segment goes to
    // pbase + (p_vaddr - vbase). Throws Error(kBadImage) if a segment lies outside that range.
    void load_relocated(GuestMemory& mem, uint64_t vbase, uint64_t pbase, uint64_t size) const;

private:
    std::string name_;
    std::vector<uint8_t> bytes_;
    uint64_t entry_ = 0;
    std::vector<LoadSegment> segments_;
    std::vector<VirtRange> notes_;
};

}  // namespace afterburn::kvm
