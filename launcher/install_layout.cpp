#include "install_layout.h"

#include <cstdlib>

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

std::filesystem::path user_cache_dir()
{
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return std::filesystem::path(xdg) / "afterburn";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".cache" / "afterburn";
    return {};
}

} // namespace afterburn::launcher
