// A cpio archive in the "newc" format (magic 070701), the format Linux unpacks from an initramfs:
// what goes into the L1 next to its base initramfs (the guest, its arguments, the wedge).
// Entries are numbered from inode 1, owned by root, with mtime 0; the writer pads every header
// and body to 4 bytes counted from the archive's first byte, so an archive appended to another
// must start 4-byte aligned (Linux's init/initramfs.c reads a header only at such an offset).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace afterburn::launcher {

class newc_writer {
public:
    explicit newc_writer(std::ostream& out) : out_(out) {}

    void directory(std::string_view name, std::uint32_t permissions = 0755);
    void file(std::string_view name, std::string_view contents, std::uint32_t permissions = 0644);
    // The TRAILER!!! entry that ends the archive; nothing may be added after it.
    void finish();

    std::uint64_t size() const { return written_; }

private:
    void entry(std::string_view name, std::uint32_t mode, std::uint32_t links, std::string_view contents);
    void put(std::string_view bytes);
    void pad();

    std::ostream& out_;
    std::uint64_t written_ = 0;
    std::uint32_t next_inode_ = 1;
    bool finished_ = false;
};

} // namespace afterburn::launcher
