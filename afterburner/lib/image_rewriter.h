// `afterburn rewrite`: applies a backend's load-time rewrite plan (wedge/rewrite_plan.h) to
// an image file on the host, with the wedge's own site table and rewriting pass, so the result
// is byte for byte what that backend's wedge runs, and can be inspected (disassembled,
// scanned) before any wedge runs it.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "elf_image.h"
#include "wedge/rewrite_plan.h"
#include "wedge/site_rewrite.h"

namespace afterburn {

struct rewrite_report {
    wedge::rewrite_counts counts;
    unsigned sites = 0;
    uint64_t digest = 0;                // wedge::sites_digest of the result, as the wedges print it
    std::vector<std::string> failures;  // "where: why", one per record or site that stops the image
};

// Rewrites every annotated site of img (whose file bytes are `file`) in place in `file`, as
// the plan says.
rewrite_report rewrite_image(const elf_image &img, std::vector<uint8_t> &file, const wedge::rewrite_plan &p);

} // namespace afterburn
