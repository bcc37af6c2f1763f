// Guest-physical RAM: one anonymous host mapping, exposed to KVM as one or two slots.
// Below 4 GiB, RAM stops at 3 GiB (the 3..4 GiB hole is for the LAPIC/IOAPIC); the
// rest is placed from 4 GiB up, as on a PC.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace afterburn::kvm {

struct ram_range {
    uint64_t gpa;     // guest-physical start
    uint64_t size;    // bytes
    size_t offset;    // offset into the host mapping
};

class guest_memory {
public:
    static constexpr uint64_t hole_start = 0xc0000000ull;   // 3 GiB
    static constexpr uint64_t high_start = 0x100000000ull;  // 4 GiB

    explicit guest_memory(uint64_t bytes);
    ~guest_memory();
    guest_memory(const guest_memory&) = delete;
    guest_memory& operator=(const guest_memory&) = delete;

    uint64_t size() const { return size_; }
    const std::vector<ram_range>& ranges() const { return ranges_; }
    uint8_t* host_base() const { return base_; }
    // Host pointer for [gpa, gpa + len) if that lies entirely in one RAM range, else nullptr.
    uint8_t* at(uint64_t gpa, uint64_t len) const;

private:
    uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    std::vector<ram_range> ranges_;
};

}  // namespace afterburn::kvm
