// The Xen public interface, as the wedge sees it.
//
// We use Debian's libxen-dev headers (/usr/include/xen) directly: with <stdint.h> from the
// compiler (freestanding) they compile without libc. The build points -isystem at a directory
// that holds only a `xen` link to them, so no libc header can sneak in.
// Their names (start_info_t, vcpu_info_t, evtchn_*, ...) keep Xen's spelling: they are an ABI.
#pragma once

#include <stdint.h>

// Without this the headers fall back to the pre-3.2 "compat" hypercall numbers (e.g.
// sched_op_compat); 0x00040e00 is __XEN_LATEST_INTERFACE_VERSION__ of Xen 4.17's headers.
#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#include <xen/xen.h>
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/physdev.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
