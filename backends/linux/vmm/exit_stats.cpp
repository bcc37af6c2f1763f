#include "exit_stats.h"

#include <linux/kvm.h>

namespace afterburn::kvm {

const char* exit_stats::reason_name(uint32_t r) {
    switch (r) {
    case KVM_EXIT_UNKNOWN: return "UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "EXCEPTION";
    case KVM_EXIT_IO: return "IO";
    case KVM_EXIT_HYPERCALL: return "HYPERCALL";
    case KVM_EXIT_DEBUG: return "DEBUG";
    case KVM_EXIT_HLT: return "HLT";
    case KVM_EXIT_MMIO: return "MMIO";
    case KVM_EXIT_IRQ_WINDOW_OPEN: return "IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
    case KVM_EXIT_INTR: return "INTR";
    case KVM_EXIT_SET_TPR: return "SET_TPR";
    case KVM_EXIT_TPR_ACCESS: return "TPR_ACCESS";
    case KVM_EXIT_NMI: return "NMI";
    case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
    case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
    case KVM_EXIT_X86_RDMSR: return "X86_RDMSR";
    case KVM_EXIT_X86_WRMSR: return "X86_WRMSR";
    default: return "other";
    }
}

void exit_stats::count_port(uint16_t port, bool is_out, bool claimed, uint32_t items) {
    port_count& p = ports_[port];
    (is_out ? p.out : p.in) += items;
    p.claimed = claimed;
}

void exit_stats::print(std::FILE* f, uint64_t wall_ns) const {
    std::fprintf(f, "afterburn-kvm: exits to user space by reason\n");
    std::fprintf(f, "  %-16s %10s\n", "reason", "count");
    for (auto [r, n] : reasons_) std::fprintf(f, "  %-16s %10llu\n", reason_name(r), (unsigned long long)n);
    std::fprintf(f, "  %-16s %10llu\n", "total", (unsigned long long)total_);
    if (!ports_.empty()) {
        std::fprintf(f, "  I/O ports (accesses; one exit may carry several for rep ins/outs):\n");
        for (auto& [port, c] : ports_)
            std::fprintf(f, "    0x%04x %-10s in %8llu  out %8llu\n", port, c.claimed ? "" : "(ignored)",
                         (unsigned long long)c.in, (unsigned long long)c.out);
    }
    if (!mmio_.empty()) {
        std::fprintf(f, "  MMIO to unbacked pages (reads all ones, writes dropped):\n");
        for (auto& [page, n] : mmio_)
            std::fprintf(f, "    page 0x%llx: %llu\n", (unsigned long long)page, (unsigned long long)n);
    }
    double wall = wall_ns / 1e9, in_run = run_ns_ / 1e9;
    std::fprintf(f, "  guest run time %.3f s (in KVM_RUN %.3f s, in the launcher %.3f s)", wall, in_run,
                 wall - in_run);
    if (total_) std::fprintf(f, ", %.1f us of wall time per exit", (double)wall_ns / 1e3 / (double)total_);
    std::fprintf(f, "\n");
}

}  // namespace afterburn::kvm
