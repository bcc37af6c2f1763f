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
    // shell echoing a script that merely mentions the marker. A carriage return counts as blank:
    // Pistachio's kernel debugger ends its lines with "\n\r", so the next line starts with "\r".
    std::size_t pos = line.find_first_not_of(" \t\r");
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

void console_watcher::crash_on_lines_starting_with(std::vector<std::string> prefixes, std::vector<std::string> except)
{
    stop_prefixes_ = std::move(prefixes);
    stop_exceptions_ = std::move(except);
}

bool console_watcher::line_stops_vmm(std::string_view line) const
{
    std::size_t pos = line.find_first_not_of(" \t\r");
    if (pos == std::string_view::npos)
        return false;
    std::string_view text = line.substr(pos);
    for (const auto& prefix : stop_prefixes_) {
        if (!text.starts_with(prefix))
            continue;
        for (const auto& answered : stop_exceptions_)
            if (text.find(answered) != std::string_view::npos)
                return false;
        return true;
    }
    return false;
}

std::string console_watcher::without_terminal_controls(std::string_view line)
{
    // ESC [ parameters intermediates final (CSI: 0x30-0x3f, 0x20-0x2f, then 0x40-0x7e), or ESC and
    // one more byte (e.g. ESC c, a terminal reset).
    std::string text;
    text.reserve(line.size());
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '\x1b') {
            text += line[i];
            continue;
        }
        if (i + 1 < line.size() && line[i + 1] == '[') {
            std::size_t j = i + 2;
            while (j < line.size() && line[j] >= 0x20 && line[j] <= 0x3f)
                ++j;
            i = j < line.size() && line[j] >= 0x40 && line[j] <= 0x7e ? j : j - 1;
        } else {
            ++i;
        }
    }
    return text;
}

void console_watcher::complete_line(std::string line)
{
    // Serial consoles end lines with \r\n; drop the \r (and any stray one) for matching.
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
        line.pop_back();
    // A terminal reset (ESC c; SeaBIOS and Linux send one, with more terminal setup, before the
    // first text) starts a new line, what follows at its start: only the text counts.
    for (std::size_t reset; (reset = line.find(terminal_reset)) != std::string::npos;) {
        if (reset > 0)
            text_line(without_terminal_controls(std::string_view(line).substr(0, reset)));
        line.erase(0, reset + terminal_reset.size());
    }
    text_line(line.find('\x1b') == std::string::npos ? std::move(line) : without_terminal_controls(line));
}

void console_watcher::text_line(std::string line)
{
    if (verdict_ == console_verdict::pending) {
        if (line_has_marker(line, success_marker_))
            verdict_ = console_verdict::success;
        else if (line_has_marker(line, failure_marker))
            verdict_ = console_verdict::failure;
        else if (line_shows_crash(line) || line_stops_vmm(line))
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
