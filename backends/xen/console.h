// The wedge's console: formatted text written to Xen's console with CONSOLEIO_write.
//
// For the initial domain Xen passes these bytes straight to its own console (the serial
// port with console=com1), so this works before anything else is set up: no shared ring,
// no event channel, no memory beyond the caller's stack.
#pragma once

namespace xw {

// printf subset: %s %c %d %u %x %p, length l/ll/z, flags 0 and -, width, precision for %s
// (.N or .*); %% prints '%'.
// Output is buffered per line (and flushed when the buffer fills) so each line is one
// hypercall and lines from different paths never interleave mid-line.
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Writes the bytes as they are (no formatting, no buffering).
void write(const char *buf, unsigned long len);

} // namespace xw
