// Watches a guest's console byte stream line by line for the outcome of a boot.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace afterburn::launcher {

enum class console_verdict {
    pending,  // nothing decisive yet
    success,  // a line starts with the success marker
    failure,  // a line starts with AFTERBURN-FAILURE
    crashed,  // kernel panic / oops / triple-fault text
};

class console_watcher {
public:
    static constexpr std::string_view failure_marker = "AFTERBURN-FAILURE";

    explicit console_watcher(std::string success_marker, std::size_t keep_lines = 20);

    // Feeds raw console bytes; returns the first decisive verdict seen so far (sticky).
    console_verdict feed(std::string_view bytes);
    // End of stream: a trailing line without newline still counts.
    console_verdict finish();

    console_verdict verdict() const { return verdict_; }
    const std::string& decisive_line() const { return decisive_line_; }
    // The last lines seen (oldest first), including an unterminated one.
    std::vector<std::string> last_lines() const;

    // Every complete line that starts with PREFIX is kept (e.g. a wedge's verdict lines, which
    // decide how a run ended however much console output follows them).
    void remember_lines_starting_with(std::string prefix) { remember_prefix_ = std::move(prefix); }
    const std::vector<std::string>& remembered() const { return remembered_; }

    // What a particular VMM prints when the machine has stopped for good (a loader's panic, a
    // kernel debugger waiting for keys nobody sends): a line that starts with one of PREFIXES
    // (after blanks) and contains none of EXCEPT (the prompts answered) is a crash.
    void crash_on_lines_starting_with(std::vector<std::string> prefixes, std::vector<std::string> except);

    // Exposed for tests: does this console line count as the marker?
    static bool line_has_marker(std::string_view line, std::string_view marker);
    static bool line_shows_crash(std::string_view line);
    bool line_stops_vmm(std::string_view line) const;
    // LINE without terminal control sequences (ESC c, ESC [ ... m, ...): what a terminal shows.
    static std::string without_terminal_controls(std::string_view line);

private:
    static constexpr std::string_view terminal_reset = "\x1b" "c";

    void complete_line(std::string line);
    void text_line(std::string line);

    std::string success_marker_;
    std::size_t keep_lines_;
    std::string partial_;
    std::deque<std::string> recent_;
    console_verdict verdict_ = console_verdict::pending;
    std::string decisive_line_;
    std::string remember_prefix_;
    std::vector<std::string> remembered_;
    std::vector<std::string> stop_prefixes_, stop_exceptions_;
};

} // namespace afterburn::launcher
