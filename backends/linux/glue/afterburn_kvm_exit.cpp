#include "afterburn_kvm_exit.h"

namespace afterburn::launcher {

std::string describe_afterburn_kvm_exit(const exit_status& st)
{
    if (!st.exited)
        return "afterburn-kvm " + st.describe();
    // afterburn-kvm mirrors QEMU's isa-debug-exit convention: (v << 1) | 1.
    if (st.code & 1)
        return "afterburn-kvm exited with status " + std::to_string(st.code) + " (debug-exit value " +
               std::to_string(st.code >> 1) + ")";
    if (st.code == 14)
        return "afterburn-kvm ended the run on the guest's reset request (reboot)";
    return "afterburn-kvm exited with status " + std::to_string(st.code) + " (see docs/kvm-backend-notes.md)";
}

std::string describe_afterburn_kvm_exit(const exit_status& st, const std::vector<std::string>&)
{
    return describe_afterburn_kvm_exit(st);
}

} // namespace afterburn::launcher
