// The L4 wedge as Pistachio's root task (docs/l4-backend.md): finds the KIP and itself,
// takes the guest from kickstart's boot info, gets the guest's RAM from sigma0, loads the
// guest, rewrites its sites with the `l4` plan, relocates it to its load address and runs it
// as an L4 thread in a space of its own, the wedge its pager and the target of its sites'
// calls, until the guest does something the wedge cannot handle yet.
#include <stdint.h>

#include "boot_info.h"
#include "console.h"
#include "guest_image.h"
#include "entry_window.h"
#include "guest_paging.h"
#include "guest_platform.h"
#include "guest_ram.h"
#include "guest_relocate.h"
#include "guest_run.h"
#include "guest_sites.h"
#include "guest_thread.h"
#include "l4_abi.h"
#include "sigma0.h"

namespace lw {

namespace {

constinit guest_image g_guest{};

// "memory=N" (MiB) on the root task's command line (afterburn boot puts --memory there).
uint64_t memory_mib(const char *cmdline) {
    for (const char *p = cmdline; *p; ++p) {
        const char *key = "memory=";
        unsigned k = 0;
        while (key[k] && p[k] == key[k]) ++k;
        if (key[k]) continue;
        uint64_t v = 0;
        for (p += 7; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
        return v;
    }
    return 64;
}

// Blocks for good: a receive from ourselves, which nobody sends, with no timeout (repeated,
// should the kernel ever end it).
[[noreturn]] void sleep_forever(const uint8_t *kip) {
    uint64_t me = l4::utcb()[l4::tcr_my_global_id];
    for (;;) l4::l4_ipc(l4::nil_thread, me, 0, l4::utcb(), nullptr, l4::kip_word(kip, l4::kip_ipc));
}

[[noreturn]] void fail(const uint8_t *kip, const char *why) {
    print("AFTERBURN-FAILURE: l4-wedge: %s\n", why);
    sleep_forever(kip);
}

} // namespace

} // namespace lw

extern "C" [[noreturn]] void wedge_main() {
    using namespace lw;
    const uint8_t *kip = l4::kernel_interface();
    uint64_t me = l4::utcb()[l4::tcr_my_global_id];
    print("l4-wedge: root task thread %lx.%lx, KIP at 0x%lx (magic %c%c, API version 0x%lx)\n", l4::thread_no(me),
          me & 0xffffffff, reinterpret_cast<uint64_t>(kip), kip[0], kip[1], l4::kip_word(kip, l4::kip_api_version));
    sigma0_init(kip);
    boot_modules mods;
    if (!find_boot_modules(kip, mods)) fail(kip, "no guest to load");
    if (mods.initrd.size)
        print("l4-wedge: initrd module: %lu bytes at 0x%lx: not used yet (no Linux boot protocol on L4 yet)\n",
              mods.initrd.size, reinterpret_cast<uint64_t>(mods.initrd.data));
    uint64_t mib = (memory_mib(mods.wedge_cmdline) + 3) & ~uint64_t(3);
    if (!map_guest_ram(mib)) fail(kip, "cannot get the guest's memory");
    if (!load_guest(mods.guest.data, mods.guest.size, g_guest)) fail(kip, "the guest cannot be loaded");
    if (!rewrite_guest_sites(g_guest)) fail(kip, "the guest's annotations are bad");
    print("l4-wedge: guest loaded and rewritten\n");
    if (!relocate_guest(g_guest)) fail(kip, "the guest cannot be relocated to its load address");
    paging_init(g_guest);
    if (!platform_init(kip)) fail(kip, "no platform for the guest");
    window_init(me, l4::kip_word(kip, l4::kip_ipc));
    if (!prepare_guest_boot(g_guest.entry_gpa)) fail(kip, "no boot_params for the guest");
    uint64_t guest = create_guest_thread(kip);
    platform_set_guest_thread(guest);
    if (!guest || !start_guest_thread(kip, guest)) fail(kip, "the guest thread cannot be started");
    run_guest(kip, guest, g_guest);
}
