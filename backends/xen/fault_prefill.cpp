#include "fault_prefill.h"

#include "pv_direct.h"
#include "pv_shadow.h"
#include "shadow_costs.h"

namespace xw {

namespace {
// One vCPU; a second fault delivered before the return replaces the first (the user retries
// the latest).
bool g_noted = false;
uint64_t g_noted_va = 0;
} // namespace

void note_user_fault_delivered(uint64_t va) {
    g_noted = true;
    g_noted_va = va;
}

void prefill_user_fault() {
    if (!g_noted) return;
    g_noted = false;
    if (direct_active() || !shadow_active()) return;
    cost_scope t(shadow_phase::prefill);
    shadow().prefill(g_noted_va, true);
}

} // namespace xw
