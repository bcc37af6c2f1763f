// Counts of vCPU exits to user space, by KVM exit reason and by I/O port, and where the
// time went; printed as a table by --stats.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>

namespace afterburn::kvm {

class exit_stats {
public:
    void count_exit(uint32_t reason) { reasons_[reason]++; total_++; }
    void count_port(uint16_t port, bool is_out, bool claimed, uint32_t items);
    void count_mmio(uint64_t gpa) { mmio_[gpa & ~0xfffull]++; }
    void add_run_ns(uint64_t ns) { run_ns_ += ns; }
    uint64_t total() const { return total_; }
    // `wall_ns`: from the first KVM_RUN to the end of the run.
    void print(std::FILE* f, uint64_t wall_ns) const;
    static const char* reason_name(uint32_t reason);

private:
    struct port_count { uint64_t in = 0, out = 0; bool claimed = false; };
    std::map<uint32_t, uint64_t> reasons_;
    std::map<uint16_t, port_count> ports_;
    std::map<uint64_t, uint64_t> mmio_;
    uint64_t total_ = 0;
    uint64_t run_ns_ = 0;
};

}  // namespace afterburn::kvm
