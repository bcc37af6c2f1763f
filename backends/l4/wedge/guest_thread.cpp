#include "guest_thread.h"

#include "console.h"
#include "entry_window.h"
#include "guest_ram.h"
#include "l4_abi.h"
#include "wedge/boot/linux_boot.h"

namespace lw {

namespace {

namespace boot = afterburn::boot;

// Below 1 MiB, clear of the image (16 MiB), as on Xen.
constexpr uint64_t boot_params_gpa = 0x7000, cmdline_gpa = 0x8000, boot_stack_gpa = 0x6ff0;
constexpr uint32_t cmdline_max = 4096;

} // namespace

uint64_t create_guest_thread(const uint8_t *kip) {
    uint64_t *u = l4::utcb();
    const uint64_t me = u[l4::tcr_my_global_id];
    const uint64_t area = l4::kip_word(kip, l4::kip_utcb_area_info);
    const unsigned area_log2 = (area >> 16) & 0x3f;
    const uint64_t area_base = reinterpret_cast<uint64_t>(u) & ~((uint64_t(1) << area_log2) - 1);
    const uint64_t guest = l4::global_id(l4::thread_no(me) + 1, 1);
    const uint64_t tc = l4::kip_word(kip, l4::kip_thread_control);
    // Inactive in a new space, the space's KIP and UTCB areas where ours are, then active
    // with the wedge as its pager (Pistachio's own l4test does the same).
    if (l4::l4_thread_control(guest, guest, me, l4::nil_thread, ~uint64_t(0), tc) != 1) {
        print("l4-wedge: guest thread: ThreadControl (create) failed (error code %lu)\n", u[l4::tcr_error_code]);
        return 0;
    }
    uint64_t kip_area = l4::fpage(reinterpret_cast<uint64_t>(kip), 12);
    uint64_t utcb_area = l4::fpage(area_base, area_log2 < 12 ? 12 : area_log2);
    if (l4::l4_space_control(guest, 0, kip_area, utcb_area, l4::nil_thread, l4::kip_word(kip, l4::kip_space_control)) !=
        1) {
        print("l4-wedge: guest thread: SpaceControl failed (error code %lu)\n", u[l4::tcr_error_code]);
        return 0;
    }
    if (l4::l4_thread_control(guest, guest, me, me, area_base, tc) != 1) {
        print("l4-wedge: guest thread: ThreadControl (activate) failed (error code %lu)\n", u[l4::tcr_error_code]);
        return 0;
    }
    print("l4-wedge: guest thread %lx.%lx in its own address space (KIP at 0x%lx, UTCB at 0x%lx), pager the wedge\n",
          l4::thread_no(guest), guest & 0xffffffff, reinterpret_cast<uint64_t>(kip), area_base);
    return guest;
}

bool prepare_guest_boot(uint64_t entry_gpa) {
    boot::guest_ram ram{};
    ram.ranges[0] = {0, guest_ram_bytes(), nullptr};  // build_e820 reads only gpa and size
    ram.count = 1;
    boot::boot_request req{};
    req.cmdline = "";
    req.boot_params_gpa = boot_params_gpa;
    req.cmdline_gpa = cmdline_gpa;
    req.cmdline_max = cmdline_max;
    static boot::boot_result r;
    r = boot::boot_result{};
    boot::status st;
    uint8_t *bp = guest_phys(boot_params_gpa, boot::boot_params_bytes);
    uint8_t *cl = guest_phys(cmdline_gpa, cmdline_max);
    if (!bp || !cl || !boot::build_e820(ram, req, r, st) || !boot::write_boot_params(req, r, bp, st)) {
        print("l4-wedge: guest: boot_params: %s\n", st.text);
        return false;
    }
    __builtin_memset(cl, 0, cmdline_max);
    afterburn::wedge::frame &f = frame_page().f;
    f = afterburn::wedge::frame{};
    f.rip = entry_gpa;
    f.gpr[afterburn::wedge::rsi] = boot_params_gpa;
    f.gpr[afterburn::wedge::rsp] = boot_stack_gpa;
    f.rflags = 2;
    return true;
}

bool start_guest_thread(const uint8_t *kip, uint64_t guest) {
    uint64_t *u = l4::utcb();
    // A new thread waits for its pager's start message: MR1 the instruction pointer, MR2 the
    // stack pointer (the restore path loads the frame's).
    u[0] = l4::tag(0, 0, 2);
    u[1] = window_start_ip();
    u[2] = frame_page().f.gpr[afterburn::wedge::rsp];
    uint64_t tag = l4::l4_ipc(guest, l4::nil_thread, 0, u, nullptr, l4::kip_word(kip, l4::kip_ipc));
    if (l4::tag_failed(tag)) {
        print("l4-wedge: guest thread: the start message failed (error code %lu)\n", u[l4::tcr_error_code]);
        return false;
    }
    // IOPL 0 (fix 0017 lets ExchangeRegisters lower it; Pistachio starts user threads at 3):
    // the guest's ring-3 cli, sti, in and out raise #GP, and no popfq turns the real IF off.
    uint64_t regs[4] = {0, 0, afterburn::wedge::flags::if_ | afterburn::wedge::flags::fixed1, 0};
    if (!l4::l4_exchange_registers(guest, l4::exreg_set_flags, regs, l4::kip_word(kip, l4::kip_exchange_registers))) {
        print("l4-wedge: guest thread: ExchangeRegisters (its flags) failed\n");
        return false;
    }
    print("l4-wedge: guest thread started at 0x%lx (the window's start path), rip 0x%lx rsi 0x%lx, "
          "the image at its load address\n", window_start_ip(), frame_page().f.rip, frame_page().f.gpr[afterburn::wedge::rsi]);
    return true;
}

} // namespace lw
