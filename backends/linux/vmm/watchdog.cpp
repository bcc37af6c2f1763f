#include "watchdog.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "exit_codes.h"

namespace afterburn::kvm {

namespace {
constexpr int kick_signal = SIGUSR1;
void on_kick(int) {}   // only there to interrupt KVM_RUN with EINTR
}  // namespace

watchdog::watchdog(double seconds, kvm_run* run, unsigned kick_ms)
    : seconds_(seconds), kick_ms_(kick_ms), run_(run), vcpu_thread_(pthread_self()) {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    // SA_RESTART: a kick must not fail the vCPU thread's other system calls (a console write()
    // to a slow tty once returned EINTR and lost a line). KVM_RUN still returns: it ends with
    // EINTR itself, which the kernel never restarts.
    sa.sa_flags = SA_RESTART;
    sigaction(kick_signal, &sa, nullptr);
    if (seconds_ > 0 || kick_ms_ > 0) thread_ = std::thread([this] { body(); });
}

watchdog::~watchdog() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void watchdog::body() {
    std::unique_lock<std::mutex> lock(mu_);
    using clock = std::chrono::steady_clock;
    clock::time_point deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                                    std::chrono::duration<double>(seconds_ > 0 ? seconds_ : 1e9));
    for (;;) {
        clock::time_point next = deadline;
        if (kick_ms_) next = std::min<clock::time_point>(deadline, clock::now() + std::chrono::milliseconds(kick_ms_));
        if (cv_.wait_until(lock, next, [this] { return stop_; })) return;
        if (clock::now() >= deadline) break;
        pthread_kill(vcpu_thread_, kick_signal);
    }
    fired_ = true;
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    pthread_kill(vcpu_thread_, kick_signal);
    // Give the vCPU thread a second to notice, kicking it again in case the signal
    // arrived before it entered KVM_RUN; then end the process.
    for (int i = 0; i < 10; i++) {
        if (cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) return;
        pthread_kill(vcpu_thread_, kick_signal);
    }
    std::fprintf(stderr, "afterburn-kvm: timeout after %g s, and the vCPU did not stop: killing the launcher\n",
                 seconds_);
    _exit(exit_timeout);
}

}  // namespace afterburn::kvm
