// `afterburn rewrite`: applies the load-time rewriter to an image file on the host, so the
// result can be inspected (disassembled, scanned) before any wedge runs it.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "afterburn/site_rewriter.h"
#include "elf_image.h"

namespace afterburn {

// The plan every backend starts from (wedge/include/afterburn/wedge_abi.h): cli becomes a
// store to the vCPU's virtual IF, every other kind a call into the wedge's entry window.
rewriter::plan default_plan();
bool plan_for_backend(const std::string &backend, rewriter::plan &out);

struct rewrite_report {
    unsigned rewritten = 0, left_alone = 0;
    std::array<unsigned, site_kind_count> by_kind{};
    std::vector<std::string> failures;  // "where: why", one per site that could not be rewritten
};

// Rewrites every annotated site of img (whose file bytes are `file`) in place in `file`.
rewrite_report rewrite_image(const elf_image &img, std::vector<uint8_t> &file, const rewriter::plan &p);

} // namespace afterburn
