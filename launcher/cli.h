// Command line of `afterburn boot`: parsed into boot_options, validated before anything runs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

struct boot_options {
    std::string backend;                      // --on: native, kvm, xen, xen-dom0, xenolinux, l4
    std::filesystem::path image;              // kernel: PVH/multiboot ELF or bzImage
    std::optional<std::filesystem::path> initrd;
    std::optional<std::string> append;        // unset: the image kind picks a default
    double timeout_s = 120;
    std::string cpu = "max";
    unsigned memory_mb = 256;
    std::string marker = "AFTERBURN-SUCCESS";
    std::vector<std::string> qemu_args;       // passed through verbatim, after ours
    std::optional<std::filesystem::path> log; // raw console copy
    bool quiet = false;
    bool trap_and_emulate = false;            // xen, kvm: run an image without annotations on the fallback
    bool nested = false;                      // kvm: nested even when this host's /dev/kvm could run guests
    bool no_wedge = false;
    bool verify_shadow = false;               // xen: check every switch's kept shadow anyway (shadow-verify)                    // kvm: afterburn-kvm alone, without the KVM wedge
    std::optional<std::filesystem::path> pistachio; // l4: build-pistachio.sh's OUT (else $AFTERBURN_PISTACHIO)
    std::string paging = "shadow";            // xen: shadow, or direct (the guest's own tables on Xen)
    std::string pt_sites = "stores";          // xen: page-table stores through the wedge; "native": none; "wedge": all
};

enum class parse_status { ok, help, error };

struct parse_result {
    parse_status status = parse_status::ok;
    boot_options options;
    std::string error;                        // set when status == error
};

parse_result parse_command_line(const std::vector<std::string>& args);
std::string usage_text();

} // namespace afterburn::launcher
