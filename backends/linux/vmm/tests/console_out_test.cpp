// console_out (io_devices.cpp) under the launcher's real conditions: a slow reader (the L1's
// ttyS0 under TCG) and a signal every few hundred microseconds (the watchdog's kick, without
// SA_RESTART here, as it once was). Every byte must arrive: a write() cut short by a signal
// once dropped a whole console line and made kvm.linux.boot fail one run in four.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "../io_devices.h"

namespace {

void on_kick(int) {}

int check_every_line_arrives() {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // write() returns EINTR when a kick strikes while it blocks
    sigaction(SIGUSR1, &sa, nullptr);

    int fds[2];
    if (pipe(fds) != 0) { std::perror("pipe"); return 1; }
    constexpr int line_count = 400;
    const std::string line(999, 'x');
    std::string got;
    std::thread reader([&] {  // slower than the writer: the pipe fills and write() blocks
        char buf[1024];
        for (;;) {
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, static_cast<size_t>(n));
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    std::atomic<bool> done{false};
    pthread_t writer = pthread_self();
    std::thread kicker([&] {
        while (!done.load()) {
            pthread_kill(writer, SIGUSR1);
            std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
    });
    {
        afterburn::kvm::console_out out(fds[1]);
        for (int i = 0; i < line_count; ++i) {
            out.console_write(line.data(), line.size());
            out.console_write("\n", 1);
        }
    }
    done = true;
    kicker.join();
    close(fds[1]);
    reader.join();
    close(fds[0]);
    size_t want = static_cast<size_t>(line_count) * (line.size() + 1);
    if (got.size() != want) {
        std::printf("FAIL: console: %zu of %zu bytes arrived (%zu lines lost)\n", got.size(), want,
                    (want - got.size()) / (line.size() + 1));
        return 1;
    }
    std::printf("ok: console: all %d lines arrived through a slow pipe under a signal every 300 us\n", line_count);
    return 0;
}

int check_closed_stdout_is_said() {
    int fds[2];
    if (pipe(fds) != 0) { std::perror("pipe"); return 1; }
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    afterburn::kvm::console_out out(fds[1]);
    out.console_write("lost\n", 5);  // EPIPE: dropped, said once on stderr, no hang
    out.console_write("lost too\n", 9);
    close(fds[1]);
    std::printf("ok: console: a closed stdout drops output without hanging\n");
    return 0;
}

}  // namespace

int main() {
    int failures = check_every_line_arrives();
    failures += check_closed_stdout_is_said();
    return failures ? 1 : 0;
}
