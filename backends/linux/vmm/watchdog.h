// --timeout: a thread that, when the time is up, kicks the vCPU thread out of KVM_RUN
// (immediate_exit + a signal) and, if it still has not stopped a second later, ends
// the whole process with exit_timeout. So a guest can never hang the launcher.
#pragma once
#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace afterburn::kvm {

class watchdog {
public:
    // Arms for `seconds` (0: never fires) against the calling thread, whose KVM_RUN
    // uses `run`. With `kick_ms` > 0 it also interrupts KVM_RUN every kick_ms (a signal
    // only): the run loop then re-arms KVM's interrupt check (see --kick-ms).
    watchdog(double seconds, kvm_run* run, unsigned kick_ms = 0);
    ~watchdog();   // disarms
    bool fired() const { return fired_.load(); }

private:
    void body();
    double seconds_;
    unsigned kick_ms_;
    kvm_run* run_;
    pthread_t vcpu_thread_;
    std::atomic<bool> fired_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace afterburn::kvm
