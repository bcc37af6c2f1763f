// The parts of L4Ka::Pistachio's X.2 ABI (amd64) the wedge uses, written from the X.2
// reference manual and Pistachio's user headers: the kernel interface page (KIP), the UTCB,
// thread ids, flexpages, message tags and the kernel debugger's console calls.
#pragma once

#include <stdint.h>

namespace l4 {

// ---- kernel interface page: where each field sits, in bytes (the manual's 32-bit offsets
// doubled: every field is a word)
inline constexpr uint64_t kip_magic = 0x00;          // "L4\346K"
inline constexpr uint64_t kip_api_version = 0x08;
inline constexpr uint64_t kip_boot_info = 0x170;     // what kickstart leaves for the root task
inline constexpr uint64_t kip_thread_info = 0x188;   // bits 20-31: the first user thread number (sigma0's)
inline constexpr uint64_t kip_utcb_area_info = 0x150; // bits 0-9 m, 10-15 a (UTCB size m << a), 16-21 s (area log2)
inline constexpr uint64_t kip_thread_control = 0x1a8; // ThreadControl's entry
inline constexpr uint64_t kip_ipc = 0x1c0;           // the IPC system call's entry (absolute on amd64)
inline constexpr uint64_t kip_space_control = 0x1a0;  // SpaceControl's entry
inline constexpr uint64_t kip_unmap = 0x1d0;          // Unmap's entry
inline constexpr uint64_t kip_system_clock = 0x1e0;   // SystemClock's entry
inline constexpr uint64_t kip_exchange_registers = 0x1d8;  // ExchangeRegisters' entry
inline constexpr uint64_t kip_schedule = 0x1f0;       // Schedule's entry
inline constexpr uint64_t kip_proc_desc = 0x178;      // the processor descriptors, from the KIP
inline constexpr uint64_t proc_desc_internal_khz = 8; // a descriptor's internal frequency (kHz)

// The KIP's address: the `lock; nop` that the kernel recognizes as KernelInterface.
inline const uint8_t *kernel_interface() {
    const uint8_t *kip;
    uint64_t version, flags, id;
    asm volatile("lock; nop" : "=a"(kip), "=c"(version), "=d"(flags), "=S"(id));
    return kip;
}

inline uint64_t kip_word(const uint8_t *kip, uint64_t offset) {
    return *reinterpret_cast<const uint64_t *>(kip + offset);
}

// ---- thread ids: thread number in the high 32 bits, version in the low 32
inline constexpr uint64_t global_id(uint64_t thread_no, uint64_t version) { return thread_no << 32 | version; }
inline constexpr uint64_t thread_no(uint64_t id) { return id >> 32; }
inline constexpr uint64_t nil_thread = 0, any_thread = ~uint64_t(0);

// ---- UTCB: %gs:0 points at it; MR i is word i, BR i is word -16 - i, the thread control
// registers sit below
inline uint64_t *utcb() {
    uint64_t *u;
    asm volatile("movq %%gs:0, %0" : "=r"(u));
    return u;
}
inline constexpr int tcr_my_global_id = -15;
inline uint64_t &br(int i) { return utcb()[-16 - i]; }

// ---- flexpages: base | log2 size << 4 | rights
inline constexpr uint64_t fpage(uint64_t base, unsigned log2) { return (base & ~((uint64_t(1) << log2) - 1)) | log2 << 4; }
inline constexpr uint64_t complete_address_space = 1 << 4;
inline constexpr uint64_t nil_fpage = 0;
inline constexpr uint64_t fpage_base(uint64_t f) { return f & ~uint64_t(0x3ff); }
inline constexpr unsigned fpage_log2(uint64_t f) { return (f >> 4) & 0x3f; }

// ---- message tags: label << 16 | flags << 12 | typed words << 6 | untyped words
inline constexpr uint64_t tag(uint64_t label, unsigned typed, unsigned untyped) {
    return label << 16 | typed << 6 | untyped;
}
inline constexpr bool tag_failed(uint64_t t) { return t & (uint64_t(8) << 12); }  // the E flag
inline constexpr unsigned tag_typed(uint64_t t) { return (t >> 6) & 0x3f; }

// ---- IPC (ipc.S) through the KIP's entry; timeouts 0 = never, both ways
extern "C" uint64_t l4_ipc(uint64_t to, uint64_t from, uint64_t timeouts, uint64_t *utcb, uint64_t *sender,
                           uint64_t entry);

// ---- ThreadControl (thread_control.S); 1 on success
extern "C" uint64_t l4_thread_control(uint64_t dest, uint64_t space, uint64_t scheduler, uint64_t pager,
                                      uint64_t utcb_location, uint64_t entry);
inline constexpr int tcr_error_code = -9;

// ---- SpaceControl (space_control.S): KIP and UTCB areas of a new space; 1 on success
extern "C" uint64_t l4_space_control(uint64_t space, uint64_t control, uint64_t kip_area, uint64_t utcb_area,
                                     uint64_t redirector, uint64_t entry);

// ---- Unmap (unmap.S): the flexpages in MR0..MR`control & 63`; bit 6 also flushes them from
// our own space. The rights bits of each flexpage say which rights to take away.
extern "C" void l4_unmap(uint64_t control, uint64_t *utcb, uint64_t entry);

// ---- ExchangeRegisters (exchange_registers.S): sp_ip_flags[4] in (what control sets) and
// out (the old values, [3] the old control); the thread id, nil on failure. Control bits:
// cancel a receive (1) or send (2), set sp (3), ip (4), flags (5), the FS (14) or GS (15) base
// to `handle` (fix 0018). The old control: halted (0), receiving (1), sending (2).
extern "C" uint64_t l4_exchange_registers(uint64_t dest, uint64_t control, uint64_t *sp_ip_flags, uint64_t entry,
                                          uint64_t handle = 0);
inline constexpr uint64_t exreg_cancel_ipc = 1 << 1 | 1 << 2, exreg_set_ip = 1 << 4, exreg_set_flags = 1 << 5,
                          exreg_set_sp_ip_flags = 1 << 3 | 1 << 4 | 1 << 5, exreg_in_ipc = 1 << 1 | 1 << 2,
                          exreg_set_fs_base = 1 << 14, exreg_set_gs_base = 1 << 15;  // fix 0018: the handle

// ---- the UTCB's exception handler (thread control register -11)
inline constexpr int tcr_exception_handler = -11;

// ---- an amd64 exception message (label -5 << 4): MR 1-18 the registers in this order
// (hardware numbers, 16 rip, 17 rflags), MR 19 the vector, MR 20 the error code
inline constexpr int exception_mr_reg[18] = {16, 3, 10, 12, 13, 14, 15, 0, 1, 2, 6, 7, 5, 8, 9, 11, 4, 17};
inline constexpr int exception_mr_vector = 19, exception_mr_error = 20;

// ---- Schedule (schedule.S): sets the priority and time control (time slice << 16 | total
// quantum, both time periods; 0 quantum: unlimited) of a thread we schedule; 0 on failure
extern "C" uint64_t l4_schedule(uint64_t dest, uint64_t priority, uint64_t time_control, uint64_t entry);
inline constexpr uint64_t schedule_unchanged = ~uint64_t(0);  // a Schedule word that changes nothing

// ---- SystemClock (system_clock.S): microseconds since the kernel started
extern "C" uint64_t l4_system_clock(uint64_t entry);

// ---- map items (two typed words): the send base (where the page lands in the receiver's
// window) with type 100b, then the flexpage with its rights (r 4, w 2, x 1)
inline constexpr uint64_t map_item_word0(uint64_t send_base) { return (send_base & ~uint64_t(0x3ff)) | 0x8; }
inline constexpr uint64_t rights_r = 4, rights_w = 2, rights_x = 1, rights_rwx = 7, rights_rx = 5;

// ---- kernel protocol labels (label >> 4 of a 48-bit label)
inline constexpr uint64_t label_page_fault = 0xffe;  // -2: rwx access bits in the low 4 bits
inline constexpr uint64_t label_exception = 0xffc, label_arch_exception = 0xffb;

// ---- timeouts: a relative time m * 2^e microseconds is e << 10 | m (bit 15 clear)
inline constexpr uint64_t relative_timeout(unsigned e, unsigned m) { return uint64_t(e) << 10 | m; }

// ---- the kernel debugger's console: int3 followed by `cmpb $op, %al` names the operation
inline void kdb_print_char(char c) {
    asm volatile("int $3\n\tcmpb $0, %%al" : : "a"(static_cast<uint64_t>(static_cast<unsigned char>(c))) : "memory");
}

} // namespace l4
