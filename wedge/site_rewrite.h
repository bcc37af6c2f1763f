// Applies a backend's rewrite plan to a sealed site table: the same code in the wedges (on
// the loaded guest) and in `afterburn rewrite` (on the image file), so their bytes agree.
// Also the digest both print of the result, which a test compares. Freestanding.
#pragma once

#include <stdint.h>

#include "wedge/rewrite_plan.h"
#include "wedge/site_table.h"

namespace afterburn::wedge {

// Where the sites' bytes are: guest memory in a wedge, the file on the host.
class site_bytes {
public:
    // The writable bytes [start, start + size), or null if the span is not in the image.
    virtual uint8_t *span(uint64_t start, uint32_t size) = 0;
    // A site the plan wants rewritten that cannot be (the bytes are unchanged).
    virtual void cannot_rewrite(const site &s, rewriter::outcome why) = 0;

protected:
    ~site_bytes() = default;
};

struct rewrite_counts {
    uint32_t rewritten = 0, inline_stores = 0;
    uint32_t by_plan = 0;       // left: the plan keeps the kind (or the record)
    uint32_t user = 0;          // left in ring-3 code ...
    uint32_t user_int3 = 0;     // ... of which start with an int3 now
    uint32_t replacement = 0;   // left in .altinstr_replacement
    uint32_t outside = 0;       // not in the image's bytes
    uint32_t pic_int3 = 0;      // position independent, too small for `call *slot`: int3 (the trap path)
    uint32_t failed = 0;        // the plan's replacement does not fit (cannot_rewrite was told)
    uint32_t by_kind[site_kind_count] = {};  // rewritten, per kind
};

// Rewrites (or marks with int3) every site the plan wants, keeping each changed span's
// original bytes in the table.
rewrite_counts apply_plan(site_table &t, const rewrite_plan &p, site_bytes &mem);

// FNV-1a 64 over every site in address order: its start address (8 bytes, little endian),
// its size (1 byte) and its current bytes (none for a span outside the image).
uint64_t sites_digest(const site_table &t, site_bytes &mem);

} // namespace afterburn::wedge
