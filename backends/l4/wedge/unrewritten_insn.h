// The sensitive instructions of code no plan rewrote (ring 3's) that reach the wedge as #GP,
// recognized from their bytes (docs/l4-backend.md, "Ring-3 code"): `int $n` (Pistachio's IDT
// has no user gate for n) and rdtsc/rdtscp (privileged by fix 0016). Legacy prefixes are
// skipped: the toolchain pads the sites it leaves in ring-3 code with them (2e).
#pragma once

#include <stdint.h>

#include "afterburn/annotation.h"

namespace lw {

// A record of the instruction at rip (kind, insn_len, imm for int $n) for the core to run;
// false when it is none of these or its bytes cannot be fetched.
bool decode_unrewritten(uint64_t rip, afterburn::annotation::site_record &rec);

// A `syscall` (0f 05) at rip, which fix 0019 turns into #UD there when it is not Pistachio's.
bool syscall_at(uint64_t rip);

} // namespace lw
