// The wedge's command line (start_info.cmd_line: what followed the kernel's file name in the
// multiboot module string). Words before a lone "--" are wedge options (key or key=value);
// what follows "--" belongs to the guest.
#pragma once

namespace xw {

struct slice {
    const char *p = nullptr;
    unsigned len = 0;
    bool found() const { return p != nullptr; }
    bool equals(const char *s) const;
};

// Value of wedge option `key` ("" if given without '='); not found() if absent.
slice cmdline_option(const char *cmdline, const char *key);

// Everything after the first lone "--" (empty if none).
const char *guest_cmdline(const char *cmdline);

} // namespace xw
