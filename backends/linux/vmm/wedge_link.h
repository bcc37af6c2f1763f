// --wedge: the launcher's side of the KVM wedge (docs/kvm-backend-notes.md, "The KVM wedge").
// Places kvm-wedge.elf in 2 MiB of guest RAM reserved in the e820 map, maps it at the entry
// window, hands it the guest (struct kvm_wedge::handoff), and serves its hypercalls.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "guest_memory.h"
#include "wedge/boot/linux_boot.h"
#include "io_devices.h"

namespace afterburn::kvm {

namespace boot = afterburn::boot;

class wedge_link {
public:
    static constexpr uint64_t window = 0xffffffffffe00000ull;   // wedge_abi::window_base
    static constexpr uint64_t window_size = 2ull << 20;

    // Chooses the wedge's guest-physical home: the top 2 MiB of RAM below 3 GiB (the caller
    // reserves it in the guest's e820 map and keeps the guest out of it). Throws
    // fatal_error(exit_bad_image) if the wedge is not a window image or the guest's segments
    // reach into its 2 MiB (more --memory helps).
    wedge_link(const boot::elf64_image& wedge, const boot::elf64_image& guest, const guest_memory& mem);
    uint64_t pa() const { return pa_; }
    // Copies the wedge into its 2 MiB.
    void load(guest_memory& mem) const;
    // After write_long_mode_tables: maps the guest's PT_LOADs at their p_vaddr and the
    // window (one 2 MiB page), writes the handoff. Returns the wedge's entry (RIP; RDI =
    // layout::wedge_handoff).
    uint64_t install(guest_memory& mem, uint64_t boot_params, uint64_t guest_rsp) const;

    bool claims(uint16_t port) const;
    // One hypercall (the 32-bit value written to the port). Returns a message when the wedge
    // reports a fatal error (the run ends).
    std::optional<std::string> hypercall(uint32_t request_gpa, const guest_memory& mem, console_out& console);
    // At the end of the run: console bytes the wedge buffered but did not send yet.
    void drain(const guest_memory& mem, console_out& console) const;
    void print_stats(std::FILE* f) const;
    // Where the wedge's set_irq hypercall goes (the VM's KVM_IRQ_LINE).
    void connect_irq(std::function<void(unsigned, bool)> set_irq) { set_irq_ = std::move(set_irq); }
    // Where the wedge's set_xcr hypercall goes (the vCPU's KVM_SET_XCRS): false when KVM
    // refuses the value.
    void connect_xcr(std::function<bool(uint32_t, uint64_t)> set_xcr) { set_xcr_ = std::move(set_xcr); }

private:
    const boot::elf64_image& wedge_;
    const boot::elf64_image& guest_;
    uint64_t pa_ = 0;
    uint64_t console_gpa_ = 0;
    std::map<uint32_t, uint64_t> calls_;
    uint64_t console_bytes_ = 0;
    std::function<void(unsigned, bool)> set_irq_;
    std::function<bool(uint32_t, uint64_t)> set_xcr_;
};

}  // namespace afterburn::kvm
