// Where console bytes go: the backend's console (a hypercall, a host file descriptor). The
// UART model writes its transmit register here, so the same model serves an in-place wedge
// and a host-side VMM.
#pragma once

#include <stddef.h>

namespace afterburn::wedge {

class console_sink {
public:
    virtual void console_write(const char *text, size_t len) = 0;

protected:
    ~console_sink() = default;
};

} // namespace afterburn::wedge
