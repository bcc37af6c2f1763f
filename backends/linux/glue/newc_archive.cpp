#include "newc_archive.h"

#include <cstdio>
#include <stdexcept>

namespace afterburn::launcher {

namespace {

constexpr std::uint32_t mode_directory = 0040000, mode_regular = 0100000;

} // namespace

void newc_writer::put(std::string_view bytes)
{
    out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    written_ += bytes.size();
}

void newc_writer::pad()
{
    constexpr char zeros[4] = {};
    put(std::string_view(zeros, (4 - written_ % 4) % 4));
}

void newc_writer::entry(std::string_view name, std::uint32_t mode, std::uint32_t links, std::string_view contents)
{
    if (finished_)
        throw std::logic_error("newc_writer: an entry after the trailer");
    if (contents.size() > UINT32_MAX)
        throw std::length_error("newc_writer: " + std::string(name) + " is larger than newc's 4 GiB");
    // 13 fields of 8 hex digits: inode, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
    // rdevmajor, rdevminor, namesize (with its NUL), check (0: no checksum).
    const std::uint32_t fields[13] = {next_inode_++, mode, 0, 0, links, 0, static_cast<std::uint32_t>(contents.size()),
                                      0, 0, 0, 0, static_cast<std::uint32_t>(name.size() + 1), 0};
    char header[6 + 13 * 8 + 1];
    int n = std::snprintf(header, sizeof header, "070701");
    for (std::uint32_t f : fields)
        n += std::snprintf(header + n, sizeof header - static_cast<std::size_t>(n), "%08X", f);
    put(std::string_view(header, static_cast<std::size_t>(n)));
    put(name);
    put(std::string_view("\0", 1));
    pad();
    put(contents);
    pad();
}

void newc_writer::directory(std::string_view name, std::uint32_t permissions)
{
    entry(name, mode_directory | (permissions & 07777), 2, {});
}

void newc_writer::file(std::string_view name, std::string_view contents, std::uint32_t permissions)
{
    entry(name, mode_regular | (permissions & 07777), 1, contents);
}

void newc_writer::finish()
{
    entry("TRAILER!!!", 0, 1, {});
    finished_ = true;
}

} // namespace afterburn::launcher
