// A backend for host tests: a flat guest memory of 4 KiB pages mapped by the test (with
// user/write permissions, faults reported with x86 error codes), a settable TSC and clock,
// and a record of every notification the core sends.
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "wedge/backend.h"
#include "wedge/event.h"

namespace afterburn::wedge::test {

class fake_backend final : public backend {
public:
    struct page {
        unsigned char bytes[4096] = {};
        bool user = false;
        bool writable = true;
    };

    void map(uint64_t va, uint64_t len, bool user = false, bool writable = true)
    {
        for (uint64_t p = va & ~0xfffull; p < va + len; p += 4096) {
            page &pg = pages[p];
            pg.user = user;
            pg.writable = writable;
        }
    }
    void unmap(uint64_t va) { pages.erase(va & ~0xfffull); }

    bool read(uint64_t va, void *dst, size_t len, access_mode mode, page_fault &fault) override
    {
        return access(va, dst, len, false, mode, fault);
    }
    bool write(uint64_t va, const void *src, size_t len, access_mode mode, page_fault &fault) override
    {
        return access(va, const_cast<void *>(src), len, true, mode, fault);
    }

    // Test-side access, no permission checks (the page must be mapped).
    void poke(uint64_t va, const void *src, size_t len)
    {
        for (size_t i = 0; i < len; ++i) pages.at((va + i) & ~0xfffull).bytes[(va + i) & 0xfff] = static_cast<const unsigned char *>(src)[i];
    }
    template <typename T> void poke(uint64_t va, T v) { poke(va, &v, sizeof v); }
    template <typename T> T peek(uint64_t va)
    {
        T v;
        for (size_t i = 0; i < sizeof v; ++i)
            reinterpret_cast<unsigned char *>(&v)[i] = pages.at((va + i) & ~0xfffull).bytes[(va + i) & 0xfff];
        return v;
    }

    uint64_t read_tsc() override { return tsc; }
    void load_cr3(uint64_t cr3) override { cr3_loads.push_back(cr3); }
    void flush_tlb(bool global) override { flushes.push_back(global); }
    void invalidate_page(uint64_t linear) override { invalidated.push_back(linear); }
    void state_changed(const vcpu &, state_change what) override { changes.push_back(what); }
    void console_write(const char *text, size_t len) override { console.append(text, len); }
    uint64_t now_ns() override { return now; }

    bool changed(state_change what) const
    {
        for (auto c : changes)
            if (c == what) return true;
        return false;
    }

    std::map<uint64_t, page> pages;
    uint64_t tsc = 0;
    uint64_t now = 0;
    std::vector<uint64_t> cr3_loads;
    std::vector<bool> flushes;
    std::vector<uint64_t> invalidated;
    std::vector<state_change> changes;
    std::string console;

private:
    bool access(uint64_t va, void *buf, size_t len, bool write, access_mode mode, page_fault &fault)
    {
        bool user = mode == access_mode::user;
        // Check every page first: all or nothing, as the interface promises.
        for (uint64_t a = va & ~0xfffull; a < va + len; a += 4096) {
            uint64_t first = a < va ? va : a;
            uint32_t error = (write ? pf_error::write : 0) | (user ? pf_error::user : 0);
            auto it = pages.find(a);
            if (it == pages.end()) {
                fault = page_fault{error, first};
                return false;
            }
            if ((user && !it->second.user) || (write && !it->second.writable)) {
                fault = page_fault{error | pf_error::present, first};
                return false;
            }
        }
        auto *b = static_cast<unsigned char *>(buf);
        for (size_t i = 0; i < len; ++i) {
            unsigned char &cell = pages[(va + i) & ~0xfffull].bytes[(va + i) & 0xfff];
            if (write)
                cell = b[i];
            else
                b[i] = cell;
        }
        return true;
    }
};

} // namespace afterburn::wedge::test
