// Where the core's root and adoption work goes (docs/xen-direct-paging.md, "The new root"):
// the integration may give the core a clock and a sink for the ticks of each part; without
// them nothing is measured. Freestanding: two function pointers, no state of its own.
#pragma once

#include <stdint.h>

namespace afterburn::xen_direct {

enum class cost_part : unsigned {
    adopt_mark,       // adopt's first pass: finding the tree's frames in guest form
    adopt_convert,    // its second: their entries to machine form
    adopt_aliases,    // its third: R/W off their mappings in the linear maps...
    adopt_splits,     // ...and in the pool's splits (part of adopt_aliases)
    root_typed,       // a new root's become_typed (adoption and its children's references)
    root_pin,         // a new root's MMUEXT_PIN_L4_TABLE (Xen's validation)
    root_ranges,      // put_ranges
    root_user,        // make_user_root
    root_release,     // release_root (unpin, the user root's references)
    untyped,          // become_untyped (the children's references dropped)
    convert_views,    // convert's writable view of the frame (part of adopt_convert)
    typed_children,   // an outermost become_typed's references to its children (recursion in it)
    convert_splits,   // convert's 2 MiB entries made splits (part of adopt_convert)
    count
};

struct cost_probe {
    uint64_t (*now)() = nullptr;
    void (*add)(cost_part part, uint64_t ticks) = nullptr;
};

inline constexpr cost_probe no_probe{};

// Adds the ticks from construction to destruction to one part.
class cost_timer {
public:
    cost_timer(const cost_probe &p, cost_part part) : p_(p), part_(part), t0_(p.now ? p.now() : 0) {}
    ~cost_timer()
    {
        if (p_.now && p_.add) p_.add(part_, p_.now() - t0_);
    }
    cost_timer(const cost_timer &) = delete;
    cost_timer &operator=(const cost_timer &) = delete;

private:
    const cost_probe &p_;
    cost_part part_;
    uint64_t t0_;
};

} // namespace afterburn::xen_direct
