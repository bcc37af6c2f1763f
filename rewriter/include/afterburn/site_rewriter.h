// The load-time rewriter core: turns one annotated site into a call to, or an inline
// sequence for, the wedge. Freestanding: no allocation, no exceptions, no libc; the caller
// maps the bytes and supplies the plan. See docs/wedge-abi.md.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "annotation.h"

namespace afterburn::rewriter {

enum class strategy : uint8_t {
    leave,         // keep the original instruction (it traps, or is harmless, on this backend)
    call,          // call rel32 to an entry; position-independent sites use call *slot
    inline_store,  // movb $value, abs32 — e.g. cli as a store to the vCPU's virtual IF
};

struct kind_plan {
    strategy how = strategy::leave;
    uint64_t target = 0;  // call: the entry; inline_store: the byte's address
    uint64_t slot = 0;    // call from a replacement site: address of a pointer to the entry
    uint8_t value = 0;    // inline_store: the byte stored
};

// The call a rewritten site starts with (at its span's start): `call *abs32` through the
// kind's slot where the code also runs at another address, else `call rel32`. A wedge finds
// the site by where that call returns.
constexpr uint32_t call_slot_len = 7, call_rel32_len = 5;

// What a backend does with each kind.
struct plan {
    kind_plan kinds[site_kind_count];
};

enum class outcome : uint8_t {
    rewritten,
    left_alone,    // the plan keeps this kind (or it is not an instruction site)
    too_small,     // the replacement does not fit in instruction + padding
    out_of_reach,  // the target is not within +-2 GiB (call) or not a sign-extended abs32
    bad_record,    // the record does not describe a well-formed site
};

const char *outcome_text(outcome o);

// A site's bytes: [start, start + size); the original instruction begins at `insn`.
struct site_span {
    uint64_t start = 0;
    uint64_t insn = 0;
    uint32_t size = 0;
};

site_span span_of(const annotation::site_record &rec, uint64_t site_addr);

// Rewrites the site whose span begins at `bytes` (writable) and runs at span.start.
// On anything but `rewritten` the bytes are unchanged. `position_independent`: the code also
// runs at another address (Linux's head code runs at its physical alias first), so a call
// takes the `call *slot` form, as for .altinstr_replacement sites.
outcome rewrite_site(uint8_t *bytes, const site_span &span, const annotation::site_record &rec, const plan &p,
                     bool position_independent = false);

} // namespace afterburn::rewriter
