// The guest's annotated sites on L4: read from its Afterburn notes with the shared reader,
// each record checked (check_record, through the site table), and rewritten in guest RAM
// with the `l4` plan (wedge/rewrite_plan.h) — the bytes `afterburn rewrite --backend l4`
// writes into the file, which the digest line lets a test compare.
#pragma once

#include "guest_image.h"

namespace lw {

// Prints the counts by kind and the digest. False, with the record named, on a malformed
// table, a refused record, overlapping sites or a site that cannot be rewritten.
bool rewrite_guest_sites(const guest_image &g);

} // namespace lw
