// The guest's console: the emulated UART's bytes, collected into lines and written with one
// CONSOLEIO_write per line, so guest lines never interleave with the wedge's own.
#pragma once

#include <stdint.h>

namespace xw {

void console_put(char c);
// Writes what is collected (before any wedge message, so the guest's line comes first).
void console_flush();
uint64_t console_lines();

} // namespace xw
