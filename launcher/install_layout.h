// Where `afterburn boot` finds its helpers at run time: relative to its own executable, so the
// build tree and an installed prefix (`cmake --install`) work alike, from any directory.
//   <prefix>/libexec/afterburn/boot            this program
//   <prefix>/libexec/afterburn/NAME            helpers: afterburn-kvm, xen-wedge.elf, kvm-wedge.elf
//   <prefix>/share/afterburn/NAME              data: the nested-KVM scripts (l1/)
// The build tree has the same shape (build/libexec/afterburn/, build/share/afterburn/).
#pragma once

#include <filesystem>
#include <string_view>

namespace afterburn::launcher {

// The directory this executable is in (/proc/self/exe).
std::filesystem::path executable_dir();

std::filesystem::path helper_path(std::string_view name);
std::filesystem::path data_path(std::string_view name);

// The user's cache for what afterburn makes once and keeps (the gunzipped Xen, the L1 system):
// $XDG_CACHE_HOME/afterburn, else $HOME/.cache/afterburn; empty when neither is set.
std::filesystem::path user_cache_dir();

} // namespace afterburn::launcher
