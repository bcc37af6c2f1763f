// The launcher's exit status ABI (docs/kvm-backend-notes.md, "Exit status").
// Odd statuses come from the guest: a write of v to the isa-debug-exit port gives
// (v << 1) | 1, as QEMU's isa-debug-exit does. Even statuses belong to the launcher.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace afterburn::kvm {

enum exit_status : int {
    exit_usage = 2,             // bad command line
    exit_bad_image = 4,         // missing/malformed ELF or initrd, or they do not fit in guest memory
    exit_kvm_unavailable = 6,   // no /dev/kvm, or this KVM cannot run an ordinary guest
    exit_guest_crash = 8,       // shutdown (triple fault), failed entry, internal error, unknown exit
    exit_guest_halted = 10,     // KVM_EXIT_HLT (only without an in-kernel local APIC)
    exit_wedge_error = 12,      // --wedge: the wedge reported a fatal error (hypercall `fatal`)
    exit_guest_reset = 14,      // the guest asked for a reset (keyboard controller 0xfe, port 0xcf9): Linux's reboot
    exit_timeout = 124,         // --timeout expired (same value as timeout(1))
};

// Exit status for a verdict v written to the debug-exit port.
inline int verdict_status(uint32_t v) { return static_cast<int>(((v << 1) | 1) & 0xff); }

// An error that ends the launcher with a given exit status and a one-line message.
class fatal_error : public std::runtime_error {
public:
    fatal_error(int status, const std::string& msg) : std::runtime_error(msg), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

}  // namespace afterburn::kvm
