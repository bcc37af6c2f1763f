// Event-channel upcall handling (2-level ABI: a selector word per vCPU, then pending and
// mask bitmaps in shared_info; see xen/xen.h, struct shared_info and struct vcpu_info).
#include "events.h"

#include "console.h"
#include "hypercall.h"
#include "shared_info.h"

namespace xw {

namespace {

constexpr unsigned bits_per_word = sizeof(xen_ulong_t) * 8;

// Written by the upcall, read by the interrupted code: accessed atomically so the compiler
// neither caches nor tears them.
unsigned g_upcalls;
uint32_t g_last_port = ~0u;
uint64_t g_last_rip;

} // namespace

void handle_events(uint64_t interrupted_rip) {
    shared_info_t *s = shared();
    vcpu_info_t *v = this_vcpu();
    if (!s || !v) return;
    __atomic_fetch_add(&g_upcalls, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&g_last_rip, interrupted_rip, __ATOMIC_RELAXED);
    // Clear the flag before looking at the bitmaps, so an event arriving meanwhile sets it
    // again and is not lost (the protocol in xen.h's vcpu_info comment).
    v->evtchn_upcall_pending = 0;
    xen_ulong_t selector = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (selector) {
        unsigned word = static_cast<unsigned>(__builtin_ctzl(selector));
        selector &= selector - 1;
        xen_ulong_t ready = s->evtchn_pending[word] & ~s->evtchn_mask[word];
        while (ready) {
            unsigned bit = static_cast<unsigned>(__builtin_ctzl(ready));
            ready &= ready - 1;
            __atomic_fetch_and(&s->evtchn_pending[word], ~(xen_ulong_t{1} << bit), __ATOMIC_SEQ_CST);
            __atomic_store_n(&g_last_port, word * bits_per_word + bit, __ATOMIC_RELAXED);
        }
    }
}

bool event_self_test() {
    vcpu_info_t *v = this_vcpu();
    if (!v) {
        print("xen-wedge: event self-test needs shared_info\n");
        return false;
    }
    print("xen-wedge: events at entry: upcall_mask=%u upcall_pending=%u\n",
          v->evtchn_upcall_mask, v->evtchn_upcall_pending);

    evtchn_bind_ipi bind{};
    bind.vcpu = 0;
    long rc = event_channel_op(EVTCHNOP_bind_ipi, &bind);
    if (rc) {
        print("xen-wedge: EVTCHNOP_bind_ipi failed: %ld\n", rc);
        return false;
    }
    evtchn_unmask unmask{};
    unmask.port = bind.port;
    rc = event_channel_op(EVTCHNOP_unmask, &unmask);
    if (rc) {
        print("xen-wedge: EVTCHNOP_unmask(%u) failed: %ld\n", bind.port, rc);
        return false;
    }

    unsigned before = __atomic_load_n(&g_upcalls, __ATOMIC_RELAXED);
    // Virtual "sti": from here an event may arrive at any instruction boundary.
    __atomic_store_n(&v->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
    evtchn_send send{};
    send.port = bind.port;
    rc = event_channel_op(EVTCHNOP_send, &send);
    // Xen delivers pending events on the way out of the hypercall, so the upcall has run
    // by now. Virtual "cli" again.
    __atomic_store_n(&v->evtchn_upcall_mask, 1, __ATOMIC_SEQ_CST);
    if (rc) {
        print("xen-wedge: EVTCHNOP_send(%u) failed: %ld\n", bind.port, rc);
        return false;
    }
    unsigned taken = __atomic_load_n(&g_upcalls, __ATOMIC_RELAXED) - before;
    uint32_t port = __atomic_load_n(&g_last_port, __ATOMIC_RELAXED);
    if (!taken || port != bind.port) {
        print("xen-wedge: event self-test: no upcall for port %u (upcalls %u, last port %d)\n",
              bind.port, taken, static_cast<int>(port));
        return false;
    }
    // Where the upcall struck tells us when Xen delivers: expected inside the
    // event_channel_op stub of the hypercall page, i.e. on the way out of the hypercall.
    uint64_t rip = __atomic_load_n(&g_last_rip, __ATOMIC_RELAXED);
    auto page = reinterpret_cast<uint64_t>(hypercall_page);
    print("xen-wedge: event self-test: upcall for IPI port %u, %u upcall(s), resumed\n", bind.port,
          taken);
    if (rip >= page && rip < page + sizeof hypercall_page)
        print("xen-wedge:   upcall interrupted rip=hypercall_page+0x%lx (stub %lu)\n", rip - page,
              (rip - page) / 32);
    else
        print("xen-wedge:   upcall interrupted rip=0x%016lx\n", rip);
    return true;
}

} // namespace xw
