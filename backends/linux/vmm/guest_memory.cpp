#include "guest_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "exit_codes.h"

namespace afterburn::kvm {

guest_memory::guest_memory(uint64_t bytes) : size_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        throw fatal_error(exit_kvm_unavailable, "cannot map " + std::to_string(bytes >> 20) +
                                                    " MiB of guest memory: " + std::strerror(errno));
    base_ = static_cast<uint8_t*>(p);
    uint64_t low = bytes < hole_start ? bytes : hole_start;
    ranges_.push_back({0, low, 0});
    if (bytes > low) ranges_.push_back({high_start, bytes - low, static_cast<size_t>(low)});
}

guest_memory::~guest_memory() {
    if (base_) munmap(base_, size_);
}

uint8_t* guest_memory::at(uint64_t gpa, uint64_t len) const {
    for (const ram_range& r : ranges_) {
        if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa))
            return base_ + r.offset + (gpa - r.gpa);
    }
    return nullptr;
}

}  // namespace afterburn::kvm
