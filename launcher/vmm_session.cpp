// A VMM session: run the program that hosts the guest (QEMU, or afterburn-kvm),
// stream and watch the guest's console, decide the outcome. Shared by every backend.
#include "vmm_session.h"
#include "backend.h"
#include "console_watcher.h"
#include "process.h"
#include "qemu_command.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <poll.h>
#include <sstream>
#include <unistd.h>

namespace afterburn::launcher {

namespace {

using steady_clock = std::chrono::steady_clock;

// After the success marker the guest normally ends QEMU itself (reboot under -no-reboot, or a
// debug-exit write); give it this long before we kill QEMU. After a panic, collect the trace.
constexpr auto success_grace = std::chrono::seconds(5);
constexpr auto crash_grace = std::chrono::seconds(2);
// After a failure marker the guest normally ends the VMM at once; its last words (a wedge's
// statistics and verdict) still belong in the log.
constexpr auto failure_grace = std::chrono::seconds(1);
constexpr std::size_t max_stderr_kept = 16 * 1024;

void write_all(int fd, const char* data, std::size_t n, bool& broken)
{
    while (n > 0 && !broken) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            broken = true; // e.g. stdout piped into `head`: keep watching, stop echoing
            return;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
}

double seconds_since(steady_clock::time_point t)
{
    return std::chrono::duration<double>(steady_clock::now() - t).count();
}

std::string format_seconds(double s)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
}

} // namespace

std::string describe_qemu_exit(const exit_status& st)
{
    std::string text = "QEMU " + (st.exited ? "exited with status " + std::to_string(st.code)
                                            : st.describe());
    if (!st.exited)
        return text;
    if (st.code == 0)
        return text + " (guest reset or powered off)";
    if (st.code == 1)
        return text + " (QEMU error, or isa-debug-exit value 0)";
    if (st.code & 1)
        return text + " (isa-debug-exit value " + std::to_string(st.code >> 1) + ")";
    return text;
}

std::string describe_qemu_exit(const exit_status& st, const std::vector<std::string>&)
{
    return describe_qemu_exit(st);
}

namespace {

std::string first_line(const std::string& text)
{
    std::string line = text.substr(0, text.find('\n'));
    return line.empty() ? "(no message)" : line;
}

} // namespace

vmm_run watch_vmm(const std::vector<std::string>& argv, const boot_options& options, const vmm_kind& vmm)
{
    vmm_run run;
    if (!options.quiet)
        std::cerr << "afterburn boot: " << shell_quote_join(argv) << std::endl;

    std::ofstream log;
    if (options.log) {
        log.open(*options.log, std::ios::binary | std::ios::trunc);
        if (!log) {
            std::cerr << "afterburn boot: error: cannot write log file '" << options.log->string()
                      << "'" << std::endl;
            run.not_run = exit_usage;
            return run;
        }
    }

    const auto start = steady_clock::now();
    const auto deadline = start + std::chrono::duration_cast<steady_clock::duration>(
                                      std::chrono::duration<double>(options.timeout_s));
    std::optional<child_process> qemu;
    try {
        qemu.emplace(argv);
    } catch (const std::exception& e) {
        std::cerr << "afterburn boot: " << vmm.name << " failed to start: " << e.what() << std::endl;
        run.not_run = exit_start_failed;
        return run;
    }

    console_watcher watcher(options.marker);
    watcher.remember_lines_starting_with(vmm.remember_prefix);
    std::vector<std::string> answered;
    for (const auto& r : vmm.replies)
        answered.push_back(r.after);
    watcher.crash_on_lines_starting_with(vmm.stop_line_prefixes, std::move(answered));
    bool stdout_broken = false, stderr_broken = false;
    std::optional<steady_clock::time_point> grace_end;
    std::string reply_window;  // the console's last bytes, while a reply is awaited
    std::size_t next_reply = 0;

    // Reads whatever is available on one of QEMU's pipes; false at EOF.
    auto pump = [&](int fd, bool is_console) {
        char buf[8192];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return true;
        if (n <= 0)
            return false;
        auto len = static_cast<std::size_t>(n);
        if (is_console) {
            run.console_bytes += len;
            if (!options.quiet)
                write_all(STDOUT_FILENO, buf, len, stdout_broken);
            if (log)
                log.write(buf, n).flush();
            auto before = watcher.verdict();
            watcher.feed(std::string_view(buf, len));
            if (next_reply < vmm.replies.size()) {
                reply_window.append(buf, len);
                const auto& r = vmm.replies[next_reply];
                if (std::size_t at = reply_window.find(r.after); at != std::string::npos) {
                    qemu->write_stdin(r.send);
                    reply_window.erase(0, at + r.after.size());
                    ++next_reply;
                } else if (reply_window.size() > r.after.size()) {
                    reply_window.erase(0, reply_window.size() - r.after.size());
                }
            }
            const double now = seconds_since(start);
            if (before == console_verdict::pending && watcher.verdict() != before)
                run.verdict_at = now;
            run.remembered_at.resize(watcher.remembered().size(), now);
        } else {
            if (run.vmm_stderr.size() < max_stderr_kept)
                run.vmm_stderr.append(buf, std::min(len, max_stderr_kept - run.vmm_stderr.size()));
            if (!options.quiet)
                write_all(STDERR_FILENO, buf, len, stderr_broken);
        }
        return true;
    };

    // Event loop: short poll timeouts so the deadlines are checked even when the guest is silent.
    while (true) {
        pollfd fds[2];
        int nfds = 0;
        if (qemu->stdout_fd() >= 0)
            fds[nfds++] = {qemu->stdout_fd(), POLLIN, 0};
        if (qemu->stderr_fd() >= 0)
            fds[nfds++] = {qemu->stderr_fd(), POLLIN, 0};
        if (nfds > 0) {
            int r = ::poll(fds, static_cast<nfds_t>(nfds), 100);
            if (r < 0 && errno != EINTR) {
                std::cerr << "afterburn boot: poll: " << std::strerror(errno) << std::endl;
                break;
            }
            for (int i = 0; i < nfds && r > 0; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                bool is_console = fds[i].fd == qemu->stdout_fd();
                if (!pump(fds[i].fd, is_console)) {
                    if (is_console)
                        qemu->close_stdout();
                    else
                        qemu->close_stderr();
                }
            }
        } else {
            ::usleep(20000); // both pipes closed; wait for the exit status below
        }

        auto verdict = watcher.verdict();
        if (!grace_end && verdict == console_verdict::failure)
            grace_end = steady_clock::now() + failure_grace;
        if (!grace_end && verdict == console_verdict::success)
            grace_end = steady_clock::now() + success_grace;
        if (!grace_end && verdict == console_verdict::crashed)
            grace_end = steady_clock::now() + crash_grace;

        // QEMU's exit: only final once its pipes are drained, so no console text is lost.
        if (qemu->stdout_fd() < 0 && qemu->stderr_fd() < 0) {
            if (qemu->poll_exit())
                break;
        } else if (!grace_end && qemu->poll_exit()) {
            // Exited but a pipe is still open (inherited elsewhere?): drain briefly, then stop.
            grace_end = steady_clock::now() + std::chrono::milliseconds(500);
        }
        if (grace_end && steady_clock::now() >= *grace_end)
            break;
        if (!grace_end && steady_clock::now() >= deadline) {
            run.timed_out = true;
            break;
        }
    }
    run.exited_by_itself = qemu->poll_exit().has_value();
    run.status = qemu->kill_and_reap();
    watcher.finish();
    run.elapsed = seconds_since(start);
    run.remembered_at.resize(watcher.remembered().size(), run.elapsed);
    run.verdict = watcher.verdict();
    run.decisive_line = watcher.decisive_line();
    run.last_lines = watcher.last_lines();
    run.remembered = watcher.remembered();
    return run;
}

int judge_vmm_run(const vmm_run& run, const boot_options& options, const vmm_kind& vmm)
{
    if (run.not_run)
        return *run.not_run;
    const exit_status& st = run.status;
    if (run.verdict != console_verdict::success && vmm.unavailable_status && run.exited_by_itself && st.exited &&
        st.code == *vmm.unavailable_status) {
        // The VMM cannot run here (e.g. no nested KVM; whatever its own system printed on the
        // way out): say why, and do not call it a failure.
        std::string why;
        for (const auto& l : run.last_lines)
            if (l.rfind("SKIP:", 0) == 0)
                why = l;
        std::cerr << "afterburn boot: " << vmm.name << " not available on this machine: "
                  << (why.empty() ? "(no reason given)" : why) << std::endl;
        return exit_unavailable;
    }
    std::string reason;
    int code = exit_guest_failed;
    // The VMM's own account, when it ended by itself (e.g. the wedge's verdict).
    const std::string vmm_said =
        run.exited_by_itself ? " (" + vmm.describe_exit(st, run.remembered) + ")" : std::string();
    switch (run.verdict) {
    case console_verdict::success: {
        std::string how = run.exited_by_itself ? vmm.describe_exit(st, run.remembered)
                                               : vmm.name + " stopped after " + format_seconds(
                                                     std::chrono::duration<double>(success_grace).count());
        std::cerr << "afterburn boot: success: '" << options.marker << "' after "
                  << format_seconds(run.verdict_at) << " (" << how << ")" << std::endl;
        return exit_success;
    }
    case console_verdict::failure:
        reason = "guest reported failure after " + format_seconds(run.verdict_at) + ": " + run.decisive_line +
                 vmm_said;
        break;
    case console_verdict::crashed:
        reason = "guest crashed after " + format_seconds(run.verdict_at) + ": " + run.decisive_line + vmm_said;
        break;
    case console_verdict::pending:
        if (run.timed_out) {
            reason = "timeout: no '" + options.marker + "' after " + format_seconds(options.timeout_s);
        } else if (run.exited_by_itself && run.console_bytes == 0 && st.exited && st.code == 1 &&
                   !run.vmm_stderr.empty()) {
            reason = vmm.name + " failed to start: " + first_line(run.vmm_stderr);
            code = exit_start_failed;
        } else {
            reason = vmm.describe_exit(st, run.remembered) + " after " + format_seconds(run.elapsed) +
                     " without '" + options.marker + "'";
        }
        break;
    }
    std::cerr << "afterburn boot: FAILED: " << reason << std::endl;
    if (run.last_lines.empty()) {
        std::cerr << "afterburn boot: (no console output)" << std::endl;
    } else {
        std::cerr << "afterburn boot: last " << run.last_lines.size() << " console lines:" << std::endl;
        for (const auto& l : run.last_lines)
            std::cerr << "  | " << l << '\n';
    }
    if (!run.vmm_stderr.empty() && options.quiet) {
        std::istringstream in(run.vmm_stderr);
        std::cerr << "afterburn boot: " << vmm.name << " stderr:" << '\n';
        for (std::string l; std::getline(in, l);)
            std::cerr << "  ! " << l << '\n';
    }
    std::cerr.flush();
    return code;
}

int run_vmm(const std::vector<std::string>& argv, const boot_options& options, const vmm_kind& vmm)
{
    return judge_vmm_run(watch_vmm(argv, options, vmm), options, vmm);
}

} // namespace afterburn::launcher
