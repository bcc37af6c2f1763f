#include "console_watcher.h"

#include <array>
#include <cctype>

namespace afterburn::launcher {

console_watcher::console_watcher(std::string success_marker, std::size_t keep_lines)
    : success_marker_(std::move(success_marker)), keep_lines_(keep_lines)
{
}

bool console_watcher::line_has_marker(std::string_view line, std::string_view marker)
{
    // The marker must start the line (after blanks and a printk "[ 1.23] " stamp) and end at a
    // word boundary. Mere containment would fire on the kernel echoing its command line, or on a
    // shell echoing a script that merely mentions the marker.
    std::size_t pos = line.find_first_not_of(" \t");
    if (pos == std::string_view::npos)
        return false;
    if (line[pos] == '[') {
        std::size_t close = line.find(']', pos);
        if (close != std::string_view::npos) {
            std::string_view stamp = line.substr(pos + 1, close - pos - 1);
            if (stamp.find_first_not_of(" 0123456789.") == std::string_view::npos) {
                pos = line.find_first_not_of(" \t", close + 1);
                if (pos == std::string_view::npos)
                    return false;
            }
        }
    }
    if (line.substr(pos, marker.size()) != marker)
        return false;
    std::size_t after = pos + marker.size();
    if (after == line.size())
        return true;
    unsigned char next = static_cast<unsigned char>(line[after]);
    return !(std::isalnum(next) || next == '_' || next == '-');
}

bool console_watcher::line_shows_crash(std::string_view line)
{
    // Text Linux prints when it is going down; our sample guest uses the markers instead.
    static constexpr std::array patterns = {
        std::string_view("Kernel panic - not syncing"),
        std::string_view("BUG: kernel NULL pointer dereference"),
        std::string_view("Oops: "),
        std::string_view("general protection fault"),
        std::string_view("double fault:"),
    };
    for (auto p : patterns)
        if (line.find(p) != std::string_view::npos)
            return true;
    return false;
}

void console_watcher::complete_line(std::string line)
{
    // Serial consoles end lines with \r\n; drop the \r (and any stray one) for matching.
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
        line.pop_back();
    if (verdict_ == console_verdict::pending) {
        if (line_has_marker(line, success_marker_))
            verdict_ = console_verdict::success;
        else if (line_has_marker(line, failure_marker))
            verdict_ = console_verdict::failure;
        else if (line_shows_crash(line))
            verdict_ = console_verdict::crashed;
        if (verdict_ != console_verdict::pending)
            decisive_line_ = line;
    }
    if (!remember_prefix_.empty() && line.starts_with(remember_prefix_) && remembered_.size() < 64)
        remembered_.push_back(line);
    recent_.push_back(std::move(line));
    while (recent_.size() > keep_lines_)
        recent_.pop_front();
}

console_verdict console_watcher::feed(std::string_view bytes)
{
    for (char c : bytes) {
        if (c == '\n') {
            complete_line(std::move(partial_));
            partial_.clear();
        } else if (partial_.size() < 64 * 1024) { // a runaway line must not eat memory
            partial_ += c;
        }
    }
    return verdict_;
}

console_verdict console_watcher::finish()
{
    if (!partial_.empty()) {
        complete_line(std::move(partial_));
        partial_.clear();
    }
    return verdict_;
}

std::vector<std::string> console_watcher::last_lines() const
{
    std::vector<std::string> lines(recent_.begin(), recent_.end());
    if (!partial_.empty()) {
        lines.push_back(partial_);
        if (lines.size() > keep_lines_)
            lines.erase(lines.begin());
    }
    return lines;
}

} // namespace afterburn::launcher
