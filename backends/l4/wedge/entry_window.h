// The entry window in the guest's address space (docs/l4-backend.md, "How the guest runs"):
// the wedge_abi layout at wedge_abi::l4_window_base, made of wedge pages the pager maps there.
//   +0x00000  entry stubs (entry_window.S), one per kind, 64 bytes apart, and their common
//             path: save the registers in the frame page, IPC to the wedge, restore, go on
//   +0x10000  the slots: pointers to the entries (every site calls `call *slot(kind)`)
//   +0x20000  the vCPU page (virtual IF, pending, ...), the first page of the wedge's vcpu
//   +0x21000  the frame page: the guest's registers while the wedge runs a site or delivers
//             an interrupt; its top is the interrupted path's stack
#pragma once

#include <stdint.h>

#include "afterburn/wedge_abi.h"
#include "wedge/frame.h"

namespace lw {

inline constexpr uint64_t window_base = afterburn::wedge_abi::l4_window_base;
inline constexpr uint64_t window_frame_va = window_base + 0x21000;
inline constexpr uint64_t window_bytes = 0x22000;  // up to the frame page's end
inline constexpr uint64_t window_kinds = 128;  // entry_window.S's entries (two pages)
inline constexpr uint64_t site_call_label = 0x5173;  // the entries' IPC label ("site")
inline constexpr uint64_t interrupted_label = 0x5175;  // the interrupted path's ("interrupted")

// The frame page, shared by the wedge and the guest's entry path (entry_window.S uses these
// offsets).
struct alignas(4096) window_frame {
    afterburn::wedge::frame f;  // the guest's registers; rip where it goes on
    uint64_t kind;              // the entry's site kind
    uint64_t ret;               // the site call's return address
    uint64_t wedge_thread;      // whom the entries call
    uint64_t ipc_entry;         // the kernel's IPC stub
};
window_frame &frame_page();

// Fills the slots and the frame page's constants; touches every window page so that the
// wedge has it (sigma0 maps our own pages on first touch) before it maps it on.
void window_init(uint64_t wedge_thread, uint64_t ipc_entry);

// The wedge's page behind guest address `va` in the window, and whether the guest may write
// it; false outside the window's pages.
bool window_page(uint64_t va, uint64_t &wedge_page, bool &writable);

// Where the guest thread starts: it makes the wedge its exception handler and goes on into
// the entries' restore path, which loads frame_page().f.
uint64_t window_start_ip();

// Where the wedge sends the guest thread to take an interrupt (entry_window.S): it saves the
// GPRs and calls the wedge (label "interrupted"); rip, rsp and rflags are the frame page's.
uint64_t window_interrupted_ip();

// The entries' restore path: loads the frame page's frame and jumps to its rip.
uint64_t window_restore_ip();

} // namespace lw
