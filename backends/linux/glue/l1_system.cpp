#include "l1_system.h"
#include "install_layout.h"
#include "process.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace afterburn::launcher {

std::filesystem::path l1_cache_dir()
{
    if (const char* dir = std::getenv("AFTERBURN_KVM_L1_CACHE"); dir && *dir)
        return dir;
    std::error_code ec;
    if (auto build_tree = data_path("kvm-l1"); std::filesystem::exists(build_tree, ec))
        return build_tree;
    auto user = user_cache_dir();
    return user.empty() ? user : user / "kvm-l1";
}

l1_system::l1_system(std::filesystem::path cache, int lock_fd) : cache_(std::move(cache)), lock_fd_(lock_fd) {}

l1_system::l1_system(l1_system&& other) noexcept : cache_(std::move(other.cache_)), lock_fd_(other.lock_fd_)
{
    other.lock_fd_ = -1;
}

l1_system::~l1_system()
{
    if (lock_fd_ >= 0)
        ::close(lock_fd_); // releases the lock
}

std::variant<l1_system, l1_error> prepare_l1_system(const std::filesystem::path& cache,
                                                    const std::filesystem::path& builder,
                                                    const std::filesystem::path& afterburn_kvm, bool quiet)
{
    std::error_code ec;
    std::filesystem::create_directories(cache, ec);
    if (ec)
        return l1_error{"cannot create " + cache.string() + ": " + ec.message()};
    const auto lock_path = cache / ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return l1_error{"cannot open " + lock_path.string() + ": " + std::strerror(errno)};
    l1_system system(cache, fd);
    int r;
    while ((r = ::flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (r != 0)
        return l1_error{"cannot lock " + lock_path.string() + ": " + std::strerror(errno)};
    exit_status st;
    std::string output;
    try {
        st = run_to_end({builder.string(), cache.string(), afterburn_kvm.string()}, quiet ? -1 : STDERR_FILENO,
                        output);
    } catch (const std::exception& e) {
        return l1_error{std::string("cannot run the L1 builder: ") + e.what()};
    }
    if (!st.exited || st.code != 0)
        return l1_error{"the L1 system cannot be built (" + builder.filename().string() + ": " + st.describe() +
                            "; its ERROR " + (quiet ? "below)" : "above)"),
                        output};
    return system;
}

} // namespace afterburn::launcher
