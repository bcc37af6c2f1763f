#include "guest_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "exit_codes.h"

namespace afterburn::kvm {

GuestMemory::GuestMemory(uint64_t bytes) : size_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        throw Error(kKvmUnavailable, "cannot map " + std::to_string(bytes >> 20) +
                                         " MiB of guest memory: " + std::strerror(errno));
    base_ = static_cast<uint8_t*>(p);
    uint64_t low = bytes < kHoleStart ? bytes : kHoleStart;
    ranges_.push_back({0, low, 0});
    if (bytes > low) ranges_.push_back({kHighStart, bytes - low, static_cast<size_t>(low)});
}

GuestMemory::~GuestMemory() {
    if (base_) munmap(base_, size_);
}

uint8_t* GuestMemory::at(uint64_t gpa, uint64_t len) const {
    for (const RamRange& r : ranges_) {
        if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa))
            return base_ + r.offset + (gpa - r.gpa);
    }
    return nullptr;
}

}  // namespace afterburn::kvm
