// Backends that `afterburn boot --on NAME` can dispatch to. Each takes the validated options and
// the probed image and returns the process exit status (see usage_text()).
#pragma once

#include "cli.h"
#include "image.h"

#include <string_view>

namespace afterburn::launcher {

enum exit_code : int {
    exit_success = 0,
    exit_guest_failed = 1, // failure marker, crash, QEMU exited first, timeout
    exit_usage = 2,        // bad command line or input file, unavailable backend
    exit_start_failed = 3, // the VMM (QEMU) could not be started
    exit_unavailable = 4,  // the backend cannot run on this machine (e.g. no KVM at all): skipped
};

using backend_fn = int (*)(const boot_options&, const image_info&);

// nullptr when NAME is not (yet) a backend.
backend_fn find_backend(std::string_view name);

// Native: QEMU TCG, no hypervisor underneath.
int boot_native(const boot_options& options, const image_info& image);

// KVM: the guest and the KVM wedge under afterburn-kvm, on this host's /dev/kvm when it can
// run ordinary guests, else nested in an L1 Linux under QEMU TCG.
int boot_kvm(const boot_options& options, const image_info& image);

// Xen: Xen 4.17 under QEMU TCG boots the Xen wedge as PV dom0; the guest is its boot module.
int boot_xen(const boot_options& options, const image_info& image);

// Xen dom0: any Xen PV kernel (IMAGE) as Xen 4.17's PV dom0 under QEMU TCG, --initrd as its
// second boot module, --append as its whole command line (e.g. the Xen wedge's own tests).
int boot_xen_dom0(const boot_options& options, const image_info& image);

// XenoLinux: a para-virtualized Linux (build-linux --xenolinux) as Xen 4.17's PV dom0 under
// QEMU TCG; the baseline for the Xen wedge.
int boot_xenolinux(const boot_options& options, const image_info& image);

// L4: L4Ka::Pistachio (the user's build, --pistachio or $AFTERBURN_PISTACHIO) under QEMU TCG, the
// L4 wedge as its root task; the guest is a boot module.
int boot_l4(const boot_options& options, const image_info& image);

} // namespace afterburn::launcher
