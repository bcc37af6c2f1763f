#include "process.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace afterburn::launcher {

namespace {

// The process group to kill from a signal handler (0: none). One child at a time.
volatile sig_atomic_t g_child_pgid = 0;

void on_fatal_signal(int sig)
{
    if (g_child_pgid > 0)
        ::kill(-static_cast<pid_t>(g_child_pgid), SIGKILL);
    // Die by the same signal so our parent sees why.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void make_pipe(int fds[2])
{
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
}

void close_fd(int& fd)
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

} // namespace

std::string exit_status::describe() const
{
    if (exited)
        return "exit status " + std::to_string(code);
    return std::string("killed by signal ") + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

void install_signal_handlers()
{
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    ::sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        ::sigaction(sig, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN); // a closed stdout must not kill us before we kill QEMU
}

child_process::child_process(const std::vector<std::string>& argv)
{
    if (argv.empty())
        throw std::runtime_error("empty command");
    int in[2], out[2], err[2], status[2];
    make_pipe(in);
    make_pipe(out);
    make_pipe(err);
    make_pipe(status);

    std::vector<char*> cargv;
    for (const auto& a : argv)
        cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Child: only async-signal-safe calls until exec.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // if the launcher dies hard, so does QEMU
        if (::getppid() != parent)
            ::_exit(127);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
            ::sigaction(sig, &dfl, nullptr);
        ::dup2(in[0], STDIN_FILENO);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        ::execvp(cargv[0], cargv.data());
        int e = errno;
        (void)!::write(status[1], &e, sizeof e);
        ::_exit(127);
    }
    // Parent: set the group here too, so a signal right after fork finds it.
    ::setpgid(pid, pid);
    pid_ = pid;
    g_child_pgid = pid;
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    ::close(status[1]);
    in_fd_ = in[1];
    out_fd_ = out[0];
    err_fd_ = err[0];

    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(status[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    ::close(status[0]);
    if (n == sizeof child_errno) {
        kill_and_reap();
        throw std::runtime_error("cannot run '" + argv[0] + "': " + std::strerror(child_errno));
    }
}

void child_process::write_stdin(const std::string& bytes)
{
    for (std::size_t done = 0; done < bytes.size();) {
        ssize_t n = ::write(in_fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // the child no longer reads: its end of the run shows in the console
        done += static_cast<std::size_t>(n);
    }
}

child_process::~child_process()
{
    if (!status_)
        kill_and_reap();
    close_fd(in_fd_);
    close_fd(out_fd_);
    close_fd(err_fd_);
}

void child_process::close_stdout() { close_fd(out_fd_); }
void child_process::close_stderr() { close_fd(err_fd_); }

static exit_status decode(int wstatus)
{
    exit_status s;
    if (WIFEXITED(wstatus)) {
        s.exited = true;
        s.code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        s.signal = WTERMSIG(wstatus);
    }
    return s;
}

std::optional<exit_status> child_process::poll_exit()
{
    if (status_ || pid_ < 0)
        return status_;
    int wstatus = 0;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
        status_ = decode(wstatus);
        // The leader is gone; anything it left in the group goes too.
        ::kill(-pid_, SIGKILL);
        g_child_pgid = 0;
    }
    return status_;
}

exit_status child_process::kill_and_reap()
{
    if (status_)
        return *status_;
    ::kill(-pid_, SIGKILL);
    int wstatus = 0;
    while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
    status_ = decode(wstatus);
    g_child_pgid = 0;
    return *status_;
}

exit_status run_to_end(const std::vector<std::string>& argv, int echo_to, std::string& output)
{
    constexpr std::size_t output_kept = 64 * 1024;
    child_process child(argv);
    while (child.stdout_fd() >= 0 || child.stderr_fd() >= 0) {
        pollfd fds[2];
        nfds_t n = 0;
        for (int fd : {child.stdout_fd(), child.stderr_fd()})
            if (fd >= 0)
                fds[n++] = {fd, POLLIN, 0};
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            child.close_stdout(); // cannot watch them: let the child's writes fail, not block
            child.close_stderr();
            break;
        }
        for (nfds_t i = 0; i < n; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (fds[i].fd == child.stdout_fd())
                    child.close_stdout();
                else
                    child.close_stderr();
                continue;
            }
            if (echo_to >= 0)
                (void)!::write(echo_to, buf, static_cast<std::size_t>(got));
            output.append(buf, static_cast<std::size_t>(got));
            if (output.size() > output_kept)
                output.erase(0, output.size() - output_kept);
        }
    }
    while (true) {
        if (auto st = child.poll_exit())
            return *st;
        ::usleep(10000);
    }
}

} // namespace afterburn::launcher
