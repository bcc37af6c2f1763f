// The wedge's console: formatted text through the kernel debugger's PrintChar, which writes
// to the kernel's serial console (COM1, the console `afterburn boot` watches). It needs no
// I/O port rights and works from the root task's first instruction on.
#pragma once

namespace lw {

// printf subset: %s %c %u %d %x, length l, flags 0, width; %% prints '%'.
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace lw
