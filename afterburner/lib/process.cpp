#include "process.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace afterburn {

namespace {
std::vector<char *> c_argv(const std::vector<std::string> &argv)
{
    std::vector<char *> v;
    for (const auto &a : argv) v.push_back(const_cast<char *>(a.c_str()));
    v.push_back(nullptr);
    return v;
}
} // namespace

int run_program(const std::vector<std::string> &argv, const std::string *stdin_text)
{
    int pipefd[2] = {-1, -1};
    if (stdin_text && pipe(pipefd) != 0) return 127;
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        if (stdin_text) {
            dup2(pipefd[0], 0);
            if (pipefd[0] != 0) close(pipefd[0]);
            close(pipefd[1]);
        }
        auto v = c_argv(argv);
        execvp(v[0], v.data());
        _exit(127);
    }
    if (stdin_text) {
        close(pipefd[0]);
        const char *p = stdin_text->data();
        size_t left = stdin_text->size();
        while (left) {
            ssize_t n = write(pipefd[1], p, left);
            if (n <= 0) break;
            p += n;
            left -= static_cast<size_t>(n);
        }
        close(pipefd[1]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 127;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}

void exec_program(const std::vector<std::string> &argv)
{
    auto v = c_argv(argv);
    execvp(v[0], v.data());
}

void ensure_standard_fds()
{
    for (int fd = 0; fd <= 2; ++fd)
        if (fcntl(fd, F_GETFD) == -1) open("/dev/null", O_RDWR);
}

std::string real_path(const std::string &p)
{
    char buf[PATH_MAX];
    return realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

std::string self_path()
{
    return real_path("/proc/self/exe");
}

std::string find_in_path(const std::string &name, const std::string &skip_realpath)
{
    const char *path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    size_t pos = 0;
    while (pos <= dirs.size()) {
        size_t colon = dirs.find(':', pos);
        std::string dir = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
        if (dir.empty()) dir = ".";
        std::string cand = dir + "/" + name;
        if (access(cand.c_str(), X_OK) == 0) {
            std::string rp = real_path(cand);
            if (rp.empty() || rp != skip_realpath) return cand;
        }
        if (colon == std::string::npos) break;
        pos = colon + 1;
    }
    return {};
}

} // namespace afterburn
