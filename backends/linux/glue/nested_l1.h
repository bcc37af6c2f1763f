// Nested KVM: afterburn-kvm runs the guest inside an L1 Debian kernel that QEMU TCG boots with an
// emulated SVM CPU (-cpu max; kvm_amd nested=1), for hosts whose /dev/kvm cannot run guests.
// The L1 system is cached (l1_system.h); per run, a guest archive (/guest/guest.elf, /guest/args,
// /guest/kvm-wedge.elf, /guest/initrd) is appended to its base initramfs, and the L1's /init
// (l1/init.sh) runs afterburn-kvm on it and reports through marker lines (l1_markers.h).
#pragma once

#include "cli.h"
#include "l1_markers.h"
#include "vmm_session.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

struct nested_guest {
    std::filesystem::path afterburn_kvm;        // built into the L1 system
    std::filesystem::path image;
    std::optional<std::filesystem::path> wedge; // kvm-wedge.elf (none: --no-wedge)
    std::optional<std::filesystem::path> initrd;
    std::vector<std::string> launcher_args;     // afterburn-kvm's options
};

// afterburn-kvm's arguments in the L1, one per line of /guest/args: the guest's launcher_args,
// then --wedge /guest/kvm-wedge.elf and --initrd /guest/initrd when it has them.
std::vector<std::string> l1_launcher_args(const nested_guest& guest);

// Writes the L1's initramfs to OUT: BASE (the L1 system's gzip'd archive) as is, NULs up to a
// 4-byte boundary, then the guest archive, uncompressed (newc). Linux unpacks one archive after
// another; after a compressed one it reads the next cpio header only at a 4-byte aligned offset
// of the whole image, skipping NULs (init/initramfs.c, unpack_to_rootfs). "" or what failed.
std::string write_l1_initramfs(const std::filesystem::path& out, const std::filesystem::path& base,
                               const nested_guest& guest);

// The L1's QEMU command line (the launcher's TCG machine): --cpu, RAM for the L1 and the guest,
// the L1 kernel and INITRAMFS, a quiet console on ttyS0, --qemu-arg last.
std::vector<std::string> l1_qemu_argv(const boot_options& options, const std::filesystem::path& vmlinuz,
                                      const std::filesystem::path& initramfs);

// QEMU 7.2 TCG itself (the L0, not a guest) sometimes aborts under nested SVM with
// "tcg_handle_interrupt: assertion failed: (qemu_mutex_iothread_locked())" (status 134, SIGABRT;
// docs/kvm-backend-notes.md, "Known gaps"). True for a run that ended so before any verdict or
// result: it is worth one retry.
bool aborted_on_qemu_tcg_assertion(const vmm_run& run);

// "host wall time: L1 /init at 4.12 s, KVM ready at 4.50 s, result at 5.10 s, QEMU exited at
// 5.31 s (exit status 1)", seconds from QEMU's start; "?" for a marker that never came.
std::string l1_timing_line(const l1_report& report, const vmm_run& run);

// Runs GUEST nested: exit_unavailable when the L1 CPU has no SVM, else run_vmm's verdict on the
// L1's console (afterburn-kvm's status from the result line; the L1's error, or no result, fail).
int run_nested(const nested_guest& guest, const boot_options& options);

} // namespace afterburn::launcher
