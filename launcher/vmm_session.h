// Runs the program that hosts a guest and watches the guest's serial console on its stdout:
// the success marker, a failure marker, a crash, the program's exit, or the timeout decide.
#pragma once

#include "cli.h"
#include "console_watcher.h"
#include "process.h"

#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

// How a VMM's run ended, in words: its exit status and the console lines it asked to keep.
using describe_exit_fn = std::string (*)(const exit_status&, const std::vector<std::string>& remembered_lines);

struct vmm_kind {
    std::string name;                       // "QEMU", "nested KVM runner", ...
    describe_exit_fn describe_exit;         // its exit status in words
    std::optional<int> unavailable_status;  // exit status meaning "cannot run here"
    std::string remember_prefix = {};       // console lines starting with this reach describe_exit
    // Keys for a debugger that waits on the serial port (Pistachio's KDB): once the console shows
    // replies[i].after (anywhere in its bytes, after replies[i-1] was sent), replies[i].send is
    // written to the VMM's stdin. Each is sent once, in order.
    struct console_reply {
        std::string after, send;
    };
    std::vector<console_reply> replies = {};
    // Console lines that mean the machine has stopped for good (console_watcher::
    // crash_on_lines_starting_with): a crash verdict at once instead of the timeout. A line
    // containing a reply's 'after' text is answered, not a stop.
    std::vector<std::string> stop_line_prefixes = {};
};

// QEMU's exit status in words (isa-debug-exit values decoded).
std::string describe_qemu_exit(const exit_status& st);
std::string describe_qemu_exit(const exit_status& st, const std::vector<std::string>&);

// One watched run of a VMM: what its verdict is decided from (judge_vmm_run).
struct vmm_run {
    std::optional<int> not_run;            // an exit_code when the VMM never ran (no log, no start)
    exit_status status;                    // the VMM's, as reaped
    bool exited_by_itself = false;         // false: we stopped it (verdict grace, timeout)
    bool timed_out = false;
    console_verdict verdict = console_verdict::pending;
    std::string decisive_line;
    double verdict_at = 0;                 // seconds from the start to the decisive line
    double elapsed = 0;                    // seconds from the start to the VMM's end
    std::vector<std::string> last_lines;   // the console's last lines
    std::vector<std::string> remembered;   // console lines starting with vmm_kind::remember_prefix
    std::vector<double> remembered_at;     // when each arrived, seconds from the start
    std::string vmm_stderr;                // its first 16 KiB
    std::size_t console_bytes = 0;
};

// Runs ARGV, streams its console (stdout, unless --quiet) and copies it to --log, watches it for
// the verdict, and stops it after the verdict's grace or at the timeout.
vmm_run watch_vmm(const std::vector<std::string>& argv, const boot_options& options, const vmm_kind& vmm);

// The verdict of RUN, said on stderr (a failure with its reason and the last console lines).
// Returns an exit_code (backend.h).
int judge_vmm_run(const vmm_run& run, const boot_options& options, const vmm_kind& vmm);

// watch_vmm, then judge_vmm_run.
int run_vmm(const std::vector<std::string>& argv, const boot_options& options, const vmm_kind& vmm);

} // namespace afterburn::launcher
