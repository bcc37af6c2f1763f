#include "l1_markers.h"
#include "afterburn_kvm_exit.h"
#include "vmm_session.h"

#include <charconv>

namespace afterburn::launcher {

namespace {

// The rest of LINE after MARKER when LINE starts with it and the marker ends there (end of line
// or a blank), else nothing.
std::optional<std::string_view> after_marker(std::string_view line, std::string_view marker)
{
    if (!line.starts_with(marker))
        return std::nullopt;
    std::string_view rest = line.substr(marker.size());
    if (!rest.empty() && rest.front() != ' ')
        return std::nullopt;
    std::size_t text = rest.find_first_not_of(' ');
    return text == std::string_view::npos ? std::string_view() : rest.substr(text);
}

std::optional<int> result_status(std::string_view rest)
{
    constexpr std::string_view key = "status=";
    if (!rest.starts_with(key))
        return std::nullopt;
    rest.remove_prefix(key.size());
    int status = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), status);
    if (ec != std::errc() || (end != rest.data() + rest.size() && *end != ' '))
        return std::nullopt;
    return status;
}

} // namespace

l1_report parse_l1_markers(const std::vector<std::string>& lines, const std::vector<double>& at)
{
    l1_report r;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const std::optional<double> when = i < at.size() ? std::optional<double>(at[i]) : std::nullopt;
        if (!r.init_at && after_marker(line, "AFTERBURN-L1-INIT")) {
            r.init_at = when;
        } else if (!r.kvm_at && after_marker(line, "AFTERBURN-L1-KVM")) {
            r.kvm_at = when;
        } else if (auto rest = after_marker(line, "AFTERBURN-L1-RESULT"); rest && !r.result_status) {
            if ((r.result_status = result_status(*rest)))
                r.result_at = when;
        } else if (auto skip = after_marker(line, "AFTERBURN-L1-SKIP:"); skip && !r.skip_reason) {
            r.skip_reason = std::string(*skip);
        } else if (auto error = after_marker(line, "AFTERBURN-L1-ERROR:"); error && !r.error_reason) {
            r.error_reason = std::string(*error);
        }
    }
    return r;
}

std::string describe_l1_exit(const exit_status& qemu, const std::vector<std::string>& marker_lines)
{
    const l1_report r = parse_l1_markers(marker_lines);
    if (r.error_reason)
        return "the L1 system is broken: " + *r.error_reason + " (" + describe_qemu_exit(qemu) + ")";
    if (r.skip_reason)
        return "nested KVM is not available in the L1: " + *r.skip_reason;
    if (r.result_status)
        return "in the L1, " + describe_afterburn_kvm_exit({true, *r.result_status, 0});
    return "the L1 gave no result (" + describe_qemu_exit(qemu) + ")";
}

} // namespace afterburn::launcher
