// The L1 system of nested KVM: Debian's kernel (vmlinuz) and the base initramfs (busybox,
// l1/init.sh as /init, the KVM modules, afterburn-kvm), made or reused by l1/build-l1.sh in a
// cache directory that concurrent runs share (ctest -j): one builder at a time, under a lock.
#pragma once

#include <filesystem>
#include <string>
#include <variant>

namespace afterburn::launcher {

// Where the L1 system is kept: $AFTERBURN_KVM_L1_CACHE, else share/afterburn/kvm-l1 when it
// exists (a build tree links its cache there), else the user's cache (kvm-l1/); empty when
// none of them can be had.
std::filesystem::path l1_cache_dir();

// The built L1 system, with the cache locked (flock CACHE/.lock) until this object dies, so no
// other run rebuilds it while the base initramfs is read.
class l1_system {
public:
    l1_system(std::filesystem::path cache, int lock_fd);
    l1_system(l1_system&& other) noexcept;
    l1_system& operator=(l1_system&&) = delete;
    ~l1_system();

    std::filesystem::path vmlinuz() const { return cache_ / "vmlinuz"; }
    std::filesystem::path base_initramfs() const { return cache_ / "l1-base.cpio.gz"; }

private:
    std::filesystem::path cache_;
    int lock_fd_ = -1;
};

struct l1_error {
    std::string message;
    std::string builder_output = {}; // what the builder said (its ERROR line last)
};

// Locks CACHE and has BUILDER (l1/build-l1.sh) build the L1 system there around AFTERBURN_KVM,
// or reuse it. The builder's progress goes to stderr unless QUIET; its output is in the error.
std::variant<l1_system, l1_error> prepare_l1_system(const std::filesystem::path& cache,
                                                    const std::filesystem::path& builder,
                                                    const std::filesystem::path& afterburn_kvm, bool quiet);

} // namespace afterburn::launcher
