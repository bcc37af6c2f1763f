// The guest's site table on Xen: built from the loaded guest's Afterburn notes and its .user
// sections, rewritten with the Xen plan (wedge/rewrite_plan.h), looked up by the entry
// window and the trap paths.
#pragma once

#include <stdint.h>

#include "guest_loader.h"
#include "wedge/alternative_copies.h"
#include "wedge/site_table.h"

namespace xw {

const afterburn::wedge::site_table &guest_sites();

// Where Linux's alternatives may copy the rewritten .altinstr_replacement sites.
const afterburn::wedge::alternative_copies &guest_alternative_copies();

// Collects, checks and rewrites the sites; prints the counts and the digest of the sites'
// bytes (the one `afterburn rewrite --backend xen --digest` prints). False (with why) on a
// bad record, overlapping sites, or a failed rewrite.
bool prepare_sites(const loaded_guest &g);

// The ring-3 site whose instruction is at link address `insn`, not rewritten (with
// `int3_only`: only one that carries an int3), or null.
// The kernel-code site whose instruction at link address `link_insn` starts with an int3 the
// wedge put there (a position-independent site without room for its call, or a pad_before
// site's instruction), or null.
const afterburn::wedge::site *find_kernel_int3_site(uint64_t link_insn);

const afterburn::wedge::site *find_user_site(uint64_t insn, bool int3_only);

// False when a rewritten pushf/popf site has a 16-bit operand: the entry window's fast paths
// (flags_fast_path.S) handle the 64-bit forms only.
bool flag_sites_all_64_bit();

} // namespace xw
