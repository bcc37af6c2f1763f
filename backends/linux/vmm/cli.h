// Command line of afterburn-kvm.
#pragma once
#include <cstdint>
#include <string>

namespace afterburn::kvm {

struct options {
    std::string image;            // guest ELF (empty with --probe)
    uint64_t memory_mib = 128;    // --memory MB
    std::string append;           // --append: the guest's command line
    std::string initrd;           // --initrd FILE: initial ramdisk (boot_params ramdisk_image/size)
    double timeout_s = 60;        // --timeout S (0: none)
    bool stats = false;
    unsigned kick_ms = 0;         // --kick-ms N: interrupt KVM_RUN every N ms (0: never)           // --stats: exit table on stderr at the end
    bool probe = false;           // --probe: run a 5-byte built-in guest to test /dev/kvm
    std::string kvm_device = "/dev/kvm";
    std::string wedge;            // --wedge PATH: kvm-wedge.elf, loaded into the entry window
};

// Parses argv; throws fatal_error(exit_usage) on bad input. Returns false if --help was printed.
bool parse_cli(int argc, char** argv, options& out);
const char* usage_text();

}  // namespace afterburn::kvm
