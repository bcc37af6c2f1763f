#include "guest_thread.h"

#include "console.h"
#include "guest_ram.h"
#include "l4_abi.h"

namespace lw {

namespace {

constexpr uint64_t label_page_fault = 0xffe;  // label >> 4: -2 page fault, -4 exception, -5 arch exception
constexpr uint64_t label_exception = 0xffc, label_arch_exception = 0xffb;

const char *ipc_kind(uint64_t label) {
    switch ((label >> 4) & 0xfff) {
    case label_page_fault: return "page fault";
    case label_exception: return "exception";
    case label_arch_exception: return "architecture exception";
    default: return "other";
    }
}

} // namespace

void start_guest_thread(const uint8_t *kip, uint64_t entry_gpa) {
    uint64_t *u = l4::utcb();
    const uint64_t me = u[l4::tcr_my_global_id], ipc = l4::kip_word(kip, l4::kip_ipc);
    // The next thread number, in our space; its UTCB the next slot of our UTCB area (as
    // Pistachio's own l4test places them).
    const uint64_t area = l4::kip_word(kip, l4::kip_utcb_area_info);
    const uint64_t utcb_size = (area & 0x3ff) << ((area >> 10) & 0x3f);
    const uint64_t area_base = reinterpret_cast<uint64_t>(u) & ~((uint64_t(1) << ((area >> 16) & 0x3f)) - 1);
    const uint64_t user_base = (l4::kip_word(kip, l4::kip_thread_info) >> 20) & 0xfff;
    const uint64_t guest = l4::global_id(l4::thread_no(me) + 1, 1);
    const uint64_t utcb_location = area_base + utcb_size * (l4::thread_no(guest) - user_base + 1);
    uint64_t r = l4::l4_thread_control(guest, me, me, me, utcb_location, l4::kip_word(kip, l4::kip_thread_control));
    if (r != 1) {
        print("l4-wedge: guest thread: ThreadControl failed (error code %lu)\n", u[l4::tcr_error_code]);
        return;
    }
    // A new thread waits for its pager's start message: MR1 the instruction pointer, MR2 the
    // stack pointer. The guest sets up its own stack; this one is guest RAM at 8 MiB.
    const uint64_t ip = guest_ram_window + entry_gpa, sp = guest_ram_window + 0x800000;
    print("l4-wedge: guest thread %lx.%lx (UTCB at 0x%lx) starts at 0x%lx (guest-physical 0x%lx), user level, "
          "pager the wedge\n", l4::thread_no(guest), guest & 0xffffffff, utcb_location, ip, entry_gpa);
    u[0] = l4::tag(0, 0, 2);
    u[1] = ip;
    u[2] = sp;
    uint64_t tag = l4::l4_ipc(guest, l4::nil_thread, 0, u, nullptr, ipc);
    if (l4::tag_failed(tag)) {
        print("l4-wedge: guest thread: the start message failed (error code %lu)\n", u[l4::tcr_error_code]);
        return;
    }
    uint64_t from = 0;
    tag = l4::l4_ipc(l4::nil_thread, guest, l4::relative_timeout(11, 1000), u, &from, ipc);  // ~2 s
    if (l4::tag_failed(tag)) {
        print("l4-wedge: guest thread: no IPC from it within 2 s (error code %lu)\n", u[l4::tcr_error_code]);
        return;
    }
    uint64_t label = tag >> 16;
    print("l4-wedge: guest thread: first IPC: %s (label 0x%lx), MR1 0x%lx MR2 0x%lx", ipc_kind(label), label, u[1],
          u[2]);
    if (((label >> 4) & 0xfff) == label_page_fault && u[2] >= guest_ram_window)
        print(": %s%s%s at 0x%lx from guest-physical rip 0x%lx", label & 4 ? "read" : "", label & 2 ? "write" : "",
              label & 1 ? "execute" : "", u[1], u[2] - guest_ram_window);
    print("\n");
}

} // namespace lw
