// The guest's annotated sites on L4: read from its Afterburn notes with the shared reader,
// each record checked (check_record, through the site table), and rewritten in guest RAM
// with the `l4` plan (wedge/rewrite_plan.h) — the bytes `afterburn rewrite --backend l4`
// writes into the file, which the digest line lets a test compare.
#pragma once

#include "guest_image.h"
#include "wedge/site_table.h"

namespace lw {

// Prints the counts by kind and the digest. False, with the record named, on a malformed
// table, a refused record, overlapping sites or a site that cannot be rewritten.
bool rewrite_guest_sites(const guest_image &g);

// Where the bytes [link, link + len) live when they belong to a changed site: its copy of the
// original span (what the core reads a displacement from), so that relocating the image
// after rewriting moves the original instruction and leaves the rewritten bytes, the ones
// `afterburn rewrite` writes too, as they are. Null when no changed span holds them;
// `straddles` set when a changed span holds only part of them.
uint8_t *site_original_bytes(uint64_t link, uint32_t len, bool &straddles);

// The rewritten site whose call (at its link address) returns to `link_ret`, or null.
const afterburn::wedge::site *site_by_return(uint64_t link_ret);

// The site whose instruction is at `link` (a trap at it), or null.
const afterburn::wedge::site *site_by_insn(uint64_t link);

// Reads of guest text at link addresses see the original bytes of changed spans.
void overlay_site_originals(uint64_t link, uint8_t *buf, uint64_t len);

} // namespace lw
