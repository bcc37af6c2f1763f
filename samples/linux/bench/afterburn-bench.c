// afterburn-bench: what one operation of a Linux system service costs, for `afterburn bench`.
//
// It runs as the initramfs's init (kernel command line rdinit=/bin/afterburn-bench), so its
// first clock reading is the boot to init. Each operation is timed with CLOCK_MONOTONIC in
// several rounds; a round's time divided by its iterations is the cost of one operation, and
// the median round is reported. Under QEMU -icount shift=0 a guest nanosecond is one guest
// instruction, so the numbers are instruction counts (the kernel's, a hypervisor's and its
// wedge's together: everything the one virtual CPU executes).
//
// Output, one line per fact on stdout (the console):
//   AFTERBURN-BENCH: boot tsc=N kernel_ns=N
//   AFTERBURN-BENCH: op=NAME ns=N iterations=I rounds=R
//   AFTERBURN-BENCH: done
// then AFTERBURN-SUCCESS, or AFTERBURN-FAILURE: REASON, and the machine is restarted (QEMU
// -no-reboot exits). The format is docs/bench.md's; `afterburn bench` parses it.
//
// AFTERBURN_BENCH=short in the environment (a kernel command-line word the kernel hands to init)
// runs a tenth of the iterations: a check that it works, not a measurement.
// Run as anything other than init it only measures (no restart). `afterburn-bench --exit`
// exits at once: it is what the fork+execve operation executes.

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { rounds = 5 };
static unsigned scale_down = 1; // 10 in the short mode

// This program, for fork+execve: argv[0] (the kernel gives init its path there).
static const char *self_path = "/bin/afterburn-bench";

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void finish(int ok, const char *why)
{
    fflush(stdout);
    if (ok)
        printf("AFTERBURN-SUCCESS\n");
    else
        printf("AFTERBURN-FAILURE: afterburn-bench: %s\n", why);
    fflush(stdout);
    if (getpid() == 1) {
        sync();
        reboot(RB_AUTOBOOT);
        for (;;) pause(); // init must not exit: that would panic the kernel
    }
    exit(ok ? 0 : 1);
}

static void fail(const char *what)
{
    char why[160];
    snprintf(why, sizeof why, "%s failed: %s", what, strerror(errno));
    finish(0, why);
}

// One round of an operation: runs it `iterations` times and returns the elapsed nanoseconds.
typedef uint64_t round_fn(unsigned iterations);

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *name, round_fn *round, unsigned iterations)
{
    iterations = iterations / scale_down < 2 ? 2 : iterations / scale_down;
    round(iterations < 4 ? iterations : 4); // warm caches, page tables and the shadow
    uint64_t per_op[rounds];
    for (int r = 0; r < rounds; ++r) per_op[r] = round(iterations) / iterations;
    qsort(per_op, rounds, sizeof per_op[0], compare_u64);
    printf("AFTERBURN-BENCH: op=%s ns=%llu iterations=%u rounds=%d\n", name,
           (unsigned long long)per_op[rounds / 2], iterations, rounds);
    fflush(stdout);
}

static uint64_t round_getpid(unsigned n)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) syscall(SYS_getpid); // not glibc's getpid(): no caching
    return now_ns() - t0;
}

static void wait_child(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid) fail("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) finish(0, "a child did not exit with 0");
}

static uint64_t round_fork_exit(unsigned n)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) fail("fork");
        if (pid == 0) _exit(0);
        wait_child(pid);
    }
    return now_ns() - t0;
}

static uint64_t round_fork_exec(unsigned n)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) fail("fork");
        if (pid == 0) {
            char *argv[] = {(char *)"afterburn-bench", (char *)"--exit", NULL};
            char *envp[] = {NULL};
            execve(self_path, argv, envp);
            _exit(127);
        }
        wait_child(pid);
    }
    return now_ns() - t0;
}

// A child that answers each byte on `in` with one on `out` until `in` closes.
static pid_t start_echo_child(int in, int out, int unused_a, int unused_b)
{
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        close(unused_a);
        close(unused_b);
        char c;
        while (read(in, &c, 1) == 1)
            if (write(out, &c, 1) != 1) _exit(1);
        _exit(0);
    }
    close(in);
    close(out);
    return pid;
}

static uint64_t round_pipe(unsigned n)
{
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) fail("pipe");
    pid_t pid = start_echo_child(to_child[0], to_parent[1], to_child[1], to_parent[0]);
    char c = 'x';
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i)
        if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1) fail("pipe round trip");
    uint64_t t = now_ns() - t0;
    close(to_child[1]);
    close(to_parent[0]);
    wait_child(pid);
    return t;
}

// Each iteration writes one byte into a page never touched before: one anonymous page fault.
// The region is smaller than 2 MiB, so no transparent huge page can serve it.
static uint64_t round_page_fault(unsigned n)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)page * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("mmap");
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) ((volatile char *)p)[(size_t)page * i] = 1;
    uint64_t t = now_ns() - t0;
    munmap(p, (size_t)page * n);
    return t;
}

static uint64_t round_mmap_munmap(unsigned n)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) fail("mmap");
        if (munmap(p, (size_t)page)) fail("munmap");
    }
    return now_ns() - t0;
}

// sched_yield between two processes on one CPU: one operation is the parent's yield that lets
// the child run once (it counts its yields in shared memory) and yield back: a round trip of
// two switches. The child first runs and then sleeps on a pipe until the parent starts (had it
// been yielding alone it would have run far ahead in virtual runtime); a new child still
// starts a slice behind (CFS's start debit), so the parent yields untimed until the child has
// yielded 8 times. Where the two alternate (under -icount they do) an operation is exactly one
// yield of each; where the scheduler keeps the parent, its extra yields are part of the cost.
static uint64_t round_sched_yield(unsigned n)
{
    int ready[2], go[2];
    if (pipe(ready) || pipe(go)) fail("pipe");
    volatile unsigned *child_yields =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (child_yields == MAP_FAILED) fail("mmap");
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        char c;
        if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
        for (;;) {
            sched_yield();
            ++*child_yields;
        }
    }
    close(go[0]);
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) fail("read");
    close(ready[0]);
    if (write(go[1], "g", 1) != 1) fail("write");
    // Untimed: yield until the two alternate (the parent catches up the child's start debit).
    for (unsigned spins = 0; *child_yields < 8; ++spins)
        if (spins > 1000000u) finish(0, "sched_yield never ran the other process");
        else sched_yield();
    // Timed: each operation yields until the child has run (and yielded) once more.
    unsigned long long extra = 0;
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        unsigned seen = *child_yields;
        sched_yield();
        while (*child_yields == seen) {
            sched_yield();
            if (++extra > 1000000u) finish(0, "sched_yield stopped running the other process");
        }
    }
    uint64_t t = now_ns() - t0;
    kill(pid, SIGKILL);
    int status;
    if (waitpid(pid, &status, 0) != pid) fail("waitpid");
    close(go[1]);
    munmap((void *)child_yields, 4096);
    return t;
}

// The control: 10,000 steps of a dependent integer chain, no system call. Its cost is the
// same instructions everywhere; what differs is the timer interrupts that land in it.
static uint64_t round_user_loop(unsigned n)
{
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; ++i) {
        uint64_t x = i;
        for (int k = 0; k < 10000; ++k) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            __asm__ volatile("" : "+r"(x));
        }
    }
    return now_ns() - t0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit") == 0) return 0;
    if (strchr(argv[0], '/')) self_path = argv[0];
    if (argc > 1) {
        fprintf(stderr, "usage: afterburn-bench [--exit]  (runs as init: rdinit=%s)\n", self_path);
        return 2;
    }
    // First thing: how long the machine took to get here, as the TSC counts it since the
    // machine's reset (under -icount: instructions, firmware and hypervisor included) and as
    // the kernel's own clock does (from its timekeeping start).
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    struct timespec boot;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    const char *mode = getenv("AFTERBURN_BENCH");
    if (mode && strcmp(mode, "short") == 0) scale_down = 10;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("AFTERBURN-BENCH: begin (afterburn-bench v1, pid %d%s)\n", getpid(),
           scale_down > 1 ? ", short" : "");
    printf("AFTERBURN-BENCH: boot tsc=%llu kernel_ns=%llu\n", (unsigned long long)hi << 32 | lo,
           (unsigned long long)boot.tv_sec * 1000000000u + (unsigned long long)boot.tv_nsec);

    measure("getpid", round_getpid, 2000);
    measure("fork_exit", round_fork_exit, 20);
    measure("fork_exec", round_fork_exec, 20);
    measure("pipe", round_pipe, 500);
    measure("page_fault", round_page_fault, 256);
    measure("mmap_munmap", round_mmap_munmap, 200);
    measure("sched_yield", round_sched_yield, 500);
    measure("user_loop", round_user_loop, 20);
    printf("AFTERBURN-BENCH: done\n");
    finish(1, NULL);
}
