#include "cli.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "exit_codes.h"

namespace afterburn::kvm {

const char* usage_text() {
    return "usage: afterburn-kvm [--memory MB] [--initrd FILE] [--append CMDLINE] [--timeout S] [--stats]\n"
           "                     [--kick-ms N] [--kvm DEVICE] [--wedge kvm-wedge.elf] GUEST.elf\n"
           "       afterburn-kvm --probe [--timeout S] [--kvm DEVICE]\n"
           "Boots a 64-bit ELF kernel (Linux x86-64 64-bit boot protocol) in a KVM VM.\n"
           "Exit status: (v << 1) | 1 when the guest writes v to port 0xf4; 2 usage,\n"
           "4 bad guest image or initrd, 6 KVM unusable, 8 guest crash, 10 guest halted,\n"
           "12 wedge error, 14 guest reset (reboot), 124 timeout.\n";
}

namespace {
uint64_t parse_u64(const char* opt, const char* s) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        throw fatal_error(exit_usage, std::string(opt) + ": not a number: '" + s + "'");
    return v;
}
}  // namespace

bool parse_cli(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) throw fatal_error(exit_usage, a + " needs a value");
            return argv[++i];
        };
        if (a == "--memory") {
            o.memory_mib = parse_u64("--memory", value());
            if (o.memory_mib < 2 || o.memory_mib > 65536)
                throw fatal_error(exit_usage, "--memory: " + std::to_string(o.memory_mib) +
                                                  " MiB is outside 2..65536");
        } else if (a == "--initrd") {
            o.initrd = value();
        } else if (a == "--append") {
            o.append = value();
        } else if (a == "--timeout") {
            const char* s = value();
            char* end = nullptr;
            o.timeout_s = std::strtod(s, &end);
            if (end == s || *end || !std::isfinite(o.timeout_s) || o.timeout_s < 0)
                throw fatal_error(exit_usage, std::string("--timeout: not a non-negative number: '") + s + "'");
        } else if (a == "--kick-ms") {
            uint64_t v = parse_u64("--kick-ms", value());
            if (v > 60000) throw fatal_error(exit_usage, "--kick-ms: " + std::to_string(v) + " is above 60000");
            o.kick_ms = static_cast<unsigned>(v);
        } else if (a == "--stats") {
            o.stats = true;
        } else if (a == "--probe") {
            o.probe = true;
        } else if (a == "--wedge") {
            o.wedge = value();
        } else if (a == "--kvm") {
            o.kvm_device = value();
        } else if (a == "-h" || a == "--help") {
            std::fputs(usage_text(), stdout);
            return false;
        } else if (a.size() > 1 && a[0] == '-') {
            throw fatal_error(exit_usage, "unknown option " + a);
        } else if (o.image.empty()) {
            o.image = a;
        } else {
            throw fatal_error(exit_usage, "more than one guest image given ('" + o.image + "', '" + a + "')");
        }
    }
    if (o.probe && !o.image.empty()) throw fatal_error(exit_usage, "--probe takes no guest image");
    if (o.probe && !o.wedge.empty()) throw fatal_error(exit_usage, "--probe takes no --wedge");
    if (o.probe && !o.initrd.empty()) throw fatal_error(exit_usage, "--probe takes no --initrd");
    if (!o.probe && o.image.empty()) throw fatal_error(exit_usage, "no guest image given");
    return true;
}

}  // namespace afterburn::kvm
