#include "guest_image.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "exit_codes.h"

namespace afterburn::kvm {

std::vector<uint8_t> read_file(const std::string& path, const char* what) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
        throw fatal_error(exit_bad_image, std::string(what) + " " + path + ": not a regular file");
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw fatal_error(exit_bad_image, std::string(what) + " " + path + ": cannot open: " + std::strerror(errno));
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) throw fatal_error(exit_bad_image, std::string(what) + " " + path + ": read error");
    return bytes;
}

boot::guest_ram ram_view(const guest_memory& mem) {
    boot::guest_ram ram{};
    for (const ram_range& r : mem.ranges()) {
        if (ram.count == boot::guest_ram::max_ranges) throw fatal_error(exit_usage, "guest memory has too many ranges");
        ram.ranges[ram.count++] = {r.gpa, r.size, mem.host_base() + r.offset};
    }
    return ram;
}

boot::elf64_image parse_image(const std::vector<uint8_t>& bytes, const std::string& path, bool entry_is_physical) {
    boot::elf64_image img;
    boot::status st;
    if (!boot::parse_elf64(bytes.data(), bytes.size(), path.c_str(), entry_is_physical, img, st))
        throw fatal_error(exit_bad_image, st.text);
    return img;
}

uint64_t min_memory_mib(const boot::elf64_image& kernel, uint64_t initrd_size) {
    uint64_t end = boot::min_ram_bytes(kernel, initrd_size);
    if (end > guest_memory::hole_start)  // RAM above 3 GiB is placed from 4 GiB on
        end -= std::min(end - guest_memory::hole_start, guest_memory::high_start - guest_memory::hole_start);
    return end >> 20;
}

}  // namespace afterburn::kvm
