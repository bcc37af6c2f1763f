// The contract between afterburn-kvm (the launcher, host side) and kvm-wedge.elf (the
// in-place VMM it loads into the guest's entry window). Freestanding: included by both.
// Specified in docs/kvm-backend-notes.md ("The KVM wedge").
#pragma once

#include <stdint.h>

namespace afterburn::kvm_wedge {

// ---- handoff: what the launcher tells the wedge -----------------------------------------
// The launcher enters the wedge at its ELF e_entry (a window address) in long mode, ring 0,
// IF = 0, with RDI = the guest-physical address of this struct. At that moment guest-physical
// 0..4 GiB is identity-mapped (2 MiB pages), every guest PT_LOAD is mapped at its p_vaddr,
// and the wedge's 2 MiB are mapped at the window by ONE 2 MiB page (PML4[511] -> PDPT[511]
// -> PD[511], PS=1): the wedge replaces that PD entry with its own 4 KiB table at start.
inline constexpr uint32_t handoff_magic = 0x574b4241;  // "ABKW"
inline constexpr uint32_t handoff_version = 2;
inline constexpr uint32_t max_note_ranges = 8;
inline constexpr uint32_t max_user_ranges = 8;

struct va_range {
    uint64_t va;    // guest-virtual start
    uint64_t size;  // bytes
};

struct handoff {
    uint32_t magic;            // handoff_magic
    uint32_t version;          // handoff_version
    uint64_t boot_params;      // guest-physical boot_params (RSI for the guest)
    uint64_t guest_entry;      // where to enter the guest: e_entry translated to its p_vaddr
    uint64_t guest_rsp;        // RSP for the guest at entry (the protocol gives none; a scratch stack)
    uint64_t wedge_pa;         // guest-physical base of the wedge's 2 MiB (2 MiB aligned, < 4 GiB)
    uint64_t wedge_size;       // 2 MiB; reserved in the guest's e820 map
    uint16_t hypercall_port;   // the port of the hypercall ABI below
    uint16_t reserved0;
    uint32_t note_count;       // entries used in notes[]
    va_range notes[max_note_ranges];  // the guest's PT_NOTE segments (guest-virtual)
    uint32_t user_count;       // entries used in user_code[]
    uint32_t reserved1;
    // Code where the wedge leaves sites as they are: code the guest runs in ring 3 from its
    // own image (the sample guest's `.user`: a `call` from ring 3 into the supervisor-only
    // window would #PF instead of the instruction's own #GP), and code that runs at its
    // physical address before the kernel switches to its link addresses (Linux's
    // `.head.text`: a `call rel32` computed for the link address would miss the window).
    va_range user_code[max_user_ranges];
    // Guest-physical address of a page directory of the guest's own (static) tables whose
    // entry 511 maps the window's 2 MiB once the guest loads them natively (Linux's
    // level2_fixmap_pgt: its first CR3 load is in `.head.text`, which is not rewritten, so
    // nothing would splice the window in). The wedge fills that entry before entering the
    // guest if it is empty. 0: none.
    uint64_t splice_pd;
};

// ---- hypercalls: what the wedge asks of the launcher ------------------------------------
// One `outl %eax, $hypercall_port` with EAX = guest-physical address of a `request`. The
// launcher reads the request (and the bytes it names) from guest memory, acts, writes
// `result` back (0 unless the op says otherwise), and resumes the guest: one exit per
// hypercall.
inline constexpr uint16_t default_hypercall_port = 0x0ab0;

enum class op : uint32_t {
    console_write = 1,    // [gpa, gpa + len): guest console bytes (the emulated UART's THR) -> stdout
    log = 2,              // [gpa, gpa + len): a wedge message -> stderr, "kvm-wedge: " prefixed
    fatal = 3,            // [gpa, gpa + len): the wedge cannot go on; the launcher ends the run (status 12)
    register_console = 4, // gpa = a console_buffer the launcher drains when the run ends (halt, crash, timeout)
    set_irq = 5,          // len = ISA interrupt line, gpa = level (0/1): the emulated UART's IRQ4 (KVM_IRQ_LINE)
    // len = XCR index, gpa = the value: the guest's xsetbv, made the vCPU's with KVM_SET_XCRS
    // (an L0 that lets a nested guest's xsetbv through without an exit would leave KVM's copy
    // stale: docs/kvm-backend-notes.md). result: 0 set, 1 KVM refused the value.
    set_xcr = 6,
};
inline constexpr uint32_t op_count = 7;  // ops are 1 .. op_count - 1

struct request {
    uint32_t op;      // enum op
    uint32_t len;     // bytes at gpa
    uint64_t gpa;
    uint64_t result;  // written by the launcher
};

inline constexpr uint32_t console_capacity = 4096 - 8;
struct console_buffer {
    uint32_t len;   // bytes buffered, not yet written with console_write
    uint32_t reserved;
    uint8_t data[console_capacity];
};

} // namespace afterburn::kvm_wedge
