// A fixed-capacity open-addressing hash map from a non-zero 64-bit key to a small value:
// the wedge has no heap. Linear probing with backward-shift deletion (no tombstones, so a
// long run of links and unlinks does not fill the table).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace afterburn::xen_direct {

template <typename Value, size_t Capacity>
class fixed_hash {
    static_assert((Capacity & (Capacity - 1)) == 0, "capacity must be a power of two");

public:
    // nullptr if absent.
    Value *find(uint64_t key)
    {
        for (size_t i = home(key), n = 0; n < Capacity; i = (i + 1) & mask, ++n) {
            if (keys_[i] == key) return &values_[i];
            if (keys_[i] == 0) return nullptr;
        }
        return nullptr;
    }
    // The value for `key`, inserted value-initialised if absent; nullptr when full.
    Value *insert(uint64_t key)
    {
        for (size_t i = home(key), n = 0; n < Capacity; i = (i + 1) & mask, ++n) {
            if (keys_[i] == key) return &values_[i];
            if (keys_[i] == 0) {
                if (size_ + 1 > Capacity * 7 / 8) return nullptr;  // keep probes short
                keys_[i] = key;
                values_[i] = Value{};
                ++size_;
                return &values_[i];
            }
        }
        return nullptr;
    }
    void erase(uint64_t key)
    {
        size_t i = home(key);
        while (keys_[i] != key) {
            if (keys_[i] == 0) return;
            i = (i + 1) & mask;
        }
        // Shift later members of the run back into the hole when their home allows it.
        for (size_t j = (i + 1) & mask; keys_[j] != 0; j = (j + 1) & mask) {
            const size_t h = home(keys_[j]);
            const bool movable = i <= j ? (h <= i || h > j) : (h <= i && h > j);
            if (movable) {
                keys_[i] = keys_[j];
                values_[i] = values_[j];
                i = j;
            }
        }
        keys_[i] = 0;
        --size_;
    }
    size_t size() const { return size_; }
    // Calls f(key, value&) for every member; f must not insert or erase.
    template <typename F>
    void for_each(F f)
    {
        for (size_t i = 0; i < Capacity; ++i)
            if (keys_[i] != 0) f(keys_[i], values_[i]);
    }

private:
    static constexpr size_t mask = Capacity - 1;
    static size_t home(uint64_t key) { return (key * 0x9e3779b97f4a7c15ull) >> 32 & mask; }

    uint64_t keys_[Capacity] = {};
    Value values_[Capacity] = {};
    size_t size_ = 0;
};

} // namespace afterburn::xen_direct
