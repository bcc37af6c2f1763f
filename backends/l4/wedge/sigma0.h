// Memory from sigma0, the root pager, through its RPC protocol (X.2 reference manual,
// "Sigma0 RPC protocol"): a call with label -6 << 4 (as a 48-bit label), MR1 the wanted
// flexpage, MR2 its attributes (0: default), and a receive window in BR0. sigma0 answers with
// a map item of the page, or a nil flexpage when it will not give it.
#pragma once

#include <stdint.h>

namespace lw {

// Once, before the first request: the KIP (sigma0's thread id and the IPC entry).
void sigma0_init(const uint8_t *kip);

// The page at physical `phys` of size 2^log2, mapped at the same address here (sigma0 maps
// its memory one to one). False when sigma0 refuses it or the IPC fails.
bool sigma0_map_phys(uint64_t phys, unsigned log2);

// Any free page of size 2^log2, mapped at `where` (aligned to its size). Its physical
// address in `phys`. False when sigma0 has no such page left.
bool sigma0_map_any(unsigned log2, uint64_t where, uint64_t &phys);

} // namespace lw
