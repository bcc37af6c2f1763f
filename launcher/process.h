// A child process in its own process group, with its stdout and stderr on pipes.
// The group is killed when the object dies and when we are killed by SIGINT/SIGTERM/SIGHUP,
// and the child gets SIGKILL if we die any other way: a launcher must never leave QEMU behind.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace afterburn::launcher {

struct exit_status {
    bool exited = false; // normal exit (code valid) vs. killed by a signal
    int code = 0;
    int signal = 0;
    std::string describe() const;
};

class child_process {
public:
    // Starts argv[0] (searched in PATH). On failure (e.g. exec error) throws std::runtime_error
    // with the reason; the child's exec errno comes back over a close-on-exec pipe.
    explicit child_process(const std::vector<std::string>& argv);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    int stdout_fd() const { return out_fd_; }
    int stderr_fd() const { return err_fd_; }
    // Writes BYTES to the child's stdin (e.g. a key for a debugger on QEMU's serial port).
    void write_stdin(const std::string& bytes);
    void close_stdout();
    void close_stderr();

    // Non-blocking reap; returns the status once the child has exited.
    std::optional<exit_status> poll_exit();
    // SIGKILL to the whole group, then reap.
    exit_status kill_and_reap();
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int in_fd_ = -1;  // held open so the child's stdin never sees EOF or a terminal
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::optional<exit_status> status_;
};

// Runs ARGV to its end (a helper script): its stdout and stderr, as they come, go to the
// descriptor ECHO_TO (none: -1) and into OUTPUT (its last 64 KiB). Throws std::runtime_error
// when it cannot be started.
exit_status run_to_end(const std::vector<std::string>& argv, int echo_to, std::string& output);

// Installs the SIGINT/SIGTERM/SIGHUP handlers that kill the current child group; ignores SIGPIPE.
void install_signal_handlers();

} // namespace afterburn::launcher
