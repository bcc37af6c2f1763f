#include "install_layout.hpp"

namespace afterburn::launcher {

std::filesystem::path executable_dir()
{
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path(".") : self.parent_path();
}

std::filesystem::path helper_path(std::string_view name)
{
    return executable_dir() / name;
}

std::filesystem::path data_path(std::string_view name)
{
    return (executable_dir() / ".." / ".." / "share" / "afterburn" / name).lexically_normal();
}

} // namespace afterburn::launcher
