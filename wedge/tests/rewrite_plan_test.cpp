// The per-backend rewrite plans and applying one to a site table.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <vector>

#include "afterburn/wedge_abi.h"
#include "wedge/rewrite_plan.h"
#include "wedge/site_rewrite.h"

using namespace afterburn;
using namespace afterburn::wedge;

namespace {

annotation::site_record record(site_kind k, uint8_t flags = 0, uint8_t special = 0)
{
    annotation::site_record r{};
    r.kind = static_cast<uint8_t>(k);
    r.insn_len = 3;
    r.pad_len = 5;
    r.flags = flags;
    r.special = special;
    // Operand fields as afterburn-as writes them: a record check_record admits.
    r.reg = (flags & annotation::flag_register) ? 0 : annotation::no_register;
    r.mem_base = r.mem_index = r.mem_seg = annotation::no_register;
    r.disp_offset = annotation::no_displacement;
    return r;
}

site at(const annotation::site_record &r, bool user = false)
{
    site s;
    s.rec = r;
    s.user_code = user;
    return s;
}

constexpr uint64_t text = 0xffffffff81000000ull;

// A flat image of text bytes at `text`, with a list of what could not be rewritten.
struct image final : site_bytes {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(0x1000, 0x90);
    std::vector<uint64_t> failed;
    uint8_t *span(uint64_t start, uint32_t size) override
    {
        if (start < text || start + size > text + bytes.size()) return nullptr;
        return bytes.data() + (start - text);
    }
    void cannot_rewrite(const site &s, rewriter::outcome) override { failed.push_back(s.start); }
};

} // namespace

TEST_CASE("backends are found by name", "[rewrite_plan]")
{
    backend_id b;
    REQUIRE(backend_by_name("kvm", b));
    CHECK(b == backend_id::kvm);
    CHECK(std::strcmp(backend_name(backend_id::l4), "l4") == 0);
    CHECK_FALSE(backend_by_name("vmware", b));
    CHECK_FALSE(backend_by_name("xe", b));
}

TEST_CASE("xen rewrites every kernel site but int n, and traps the ring-3 sites that would lie", "[rewrite_plan]")
{
    rewrite_plan p = plan_for(backend_id::xen);
    CHECK(p.kinds.kinds[static_cast<unsigned>(site_kind::cli)].how == rewriter::strategy::inline_store);
    CHECK(p.kinds.kinds[static_cast<unsigned>(site_kind::cli)].target == wedge_abi::vcpu_virtual_if);
    CHECK(p.kinds.kinds[static_cast<unsigned>(site_kind::wrmsr)].target == wedge_abi::entry(site_kind::wrmsr));
    CHECK(action_for(p, at(record(site_kind::mov_to_cr, annotation::flag_register, 0))) == site_action::rewrite);
    CHECK(action_for(p, at(record(site_kind::clac, annotation::flag_replacement))) == site_action::rewrite);
    CHECK(action_for(p, at(record(site_kind::int_n))) == site_action::leave_by_plan);
    CHECK(action_for(p, at(record(site_kind::sgdt), true)) == site_action::user_int3);
    CHECK(action_for(p, at(record(site_kind::cli), true)) == site_action::leave_user);
}

TEST_CASE("kvm rewrites port I/O, CR3 loads, CR8 writes, MSR accesses and xsetbv only", "[rewrite_plan]")
{
    rewrite_plan p = plan_for(backend_id::kvm);
    unsigned rewritten_kinds = 0;
    for (unsigned k = 0; k < site_kind_count; ++k) rewritten_kinds += p.kinds.kinds[k].how != rewriter::strategy::leave;
    CHECK(rewritten_kinds == 8);
    for (site_kind k : {site_kind::in, site_kind::out, site_kind::ins, site_kind::outs, site_kind::rdmsr, site_kind::wrmsr,
                        site_kind::xsetbv})
        CHECK(action_for(p, at(record(k))) == site_action::rewrite);
    CHECK(action_for(p, at(record(site_kind::mov_to_cr, annotation::flag_register, 3))) == site_action::rewrite);
    CHECK(action_for(p, at(record(site_kind::mov_to_cr, annotation::flag_register, 8))) == site_action::rewrite);
    CHECK(action_for(p, at(record(site_kind::mov_to_cr, annotation::flag_register, 4))) == site_action::leave_by_plan);
    CHECK(action_for(p, at(record(site_kind::mov_to_cr, 0, 3))) == site_action::leave_by_plan);
    CHECK(action_for(p, at(record(site_kind::cli))) == site_action::leave_by_plan);
    CHECK(action_for(p, at(record(site_kind::out, annotation::flag_replacement))) == site_action::leave_replacement);
    CHECK(action_for(p, at(record(site_kind::sgdt), true)) == site_action::leave_user);
}

TEST_CASE("applying a plan rewrites, marks and counts, keeping the original bytes", "[rewrite_plan]")
{
    site_table_of<8> t;
    t.add(record(site_kind::cli), text);
    t.add(record(site_kind::out), text + 0x10);
    t.add(record(site_kind::sgdt), text + 0x20);
    t.add(record(site_kind::int_n), text + 0x30);
    t.add(record(site_kind::hlt), text + 0x2000);  // outside the image
    site_conflict c;
    REQUIRE(t.seal(c));
    t.mark_user_code(text + 0x20, text + 0x28);
    image img;
    uint64_t before = sites_digest(t, img);

    rewrite_counts n = apply_plan(t, plan_for(backend_id::xen), img);
    CHECK(n.rewritten == 2);
    CHECK(n.inline_stores == 1);
    CHECK(n.by_kind[static_cast<unsigned>(site_kind::out)] == 1);
    CHECK(n.user == 1);
    CHECK(n.user_int3 == 1);
    CHECK(n.by_plan == 1);
    CHECK(n.outside == 1);
    CHECK(n.failed == 0);
    CHECK(img.bytes[0x00] == 0xc6);  // movb $0, vcpu_virtual_if
    CHECK(img.bytes[0x10] == 0xe8);  // call entry(out)
    CHECK(img.bytes[0x20] == 0xcc);  // int3 on the ring-3 sgdt
    CHECK(img.bytes[0x30] == 0x90);  // int n left
    CHECK(t[0].rewritten);
    CHECK(t[2].trapping);
    CHECK(t[0].original[0] == 0x90);
    CHECK(sites_digest(t, img) != before);

    // The same records on another copy give the same digest; the KVM plan another one.
    site_table_of<8> t2;
    for (uint32_t i = 0; i < t.count(); ++i) t2.add(t[i].rec, t[i].insn);
    REQUIRE(t2.seal(c));
    t2.mark_user_code(text + 0x20, text + 0x28);
    image again, kvm;
    apply_plan(t2, plan_for(backend_id::xen), again);
    CHECK(sites_digest(t2, again) == sites_digest(t, img));
    site_table_of<8> t3;
    for (uint32_t i = 0; i < t.count(); ++i) t3.add(t[i].rec, t[i].insn);
    REQUIRE(t3.seal(c));
    rewrite_counts k = apply_plan(t3, plan_for(backend_id::kvm), kvm);
    CHECK(k.rewritten == 1);
    CHECK(kvm.bytes[0x00] == 0x90);
    CHECK(kvm.bytes[0x10] == 0xe8);
    CHECK(sites_digest(t3, kvm) != sites_digest(t, img));
}

TEST_CASE("a site the plan cannot rewrite is reported and left unchanged", "[rewrite_plan]")
{
    // check_record already refuses a site too small for its kind at admission; what is left to
    // fail at rewrite time is a target the call cannot reach.
    site_table_of<2> t;
    REQUIRE(t.add(record(site_kind::hlt), text).what == admission::site);
    site_conflict c;
    REQUIRE(t.seal(c));
    rewrite_plan p = plan_for(backend_id::xen);
    p.kinds.kinds[static_cast<unsigned>(site_kind::hlt)].target = 0x0000400000000000ull;
    image img;
    rewrite_counts n = apply_plan(t, p, img);
    CHECK(n.failed == 1);
    REQUIRE(img.failed.size() == 1);
    CHECK(img.bytes[0] == 0x90);
    CHECK_FALSE(t[0].rewritten);
}

TEST_CASE("padding prefixes in another form than afterburn-as's are not rewritten", "[rewrite_plan][padding]")
{
    site_table_of<4> t;
    annotation::site_record cli = record(site_kind::cli);
    cli.insn_len = 8, cli.pad_len = 0;
    REQUIRE(t.add(cli, text).what == admission::site);         // 2e x7 fa: the form
    REQUIRE(t.add(cli, text + 0x10).what == admission::site);  // 3e x7 fa: not ours
    site_conflict c;
    REQUIRE(t.seal(c));
    image img;
    for (unsigned i = 0; i < 7; ++i) img.bytes[i] = annotation::padding_prefix, img.bytes[0x10 + i] = 0x3e;
    img.bytes[7] = img.bytes[0x17] = 0xfa;
    rewrite_counts n = apply_plan(t, plan_for(backend_id::xen), img);
    CHECK(n.rewritten == 1);
    CHECK(t[0].rewritten);
    CHECK(n.failed == 1);
    REQUIRE(img.failed.size() == 1);
    CHECK(img.failed[0] == text + 0x10);
    CHECK_FALSE(t[1].rewritten);
    CHECK(img.bytes[0x10] == 0x3e);  // untouched
}

TEST_CASE("every plan leaves page-table accesses native, and the table checks them without a slot", "[rewrite_plan]")
{
    // A `movq %rsi, (%rdi)` that stores a pte: memory operand form, base rdi, value register rsi.
    annotation::site_record store = record(site_kind::page_table_store, annotation::flag_memory |
                                           annotation::flag_register | 3, 0);
    store.reg = 6;
    store.mem_base = 7;
    store.mem_scale = 1;
    annotation::site_record load = store;
    load.kind = static_cast<uint8_t>(site_kind::page_table_load);
    for (backend_id b : {backend_id::xen, backend_id::kvm, backend_id::l4}) {
        rewrite_plan p = plan_for(b);
        CHECK(p.kinds.kinds[static_cast<unsigned>(site_kind::page_table_store)].how == rewriter::strategy::leave);
        CHECK(p.kinds.kinds[static_cast<unsigned>(site_kind::page_table_load)].how == rewriter::strategy::leave);
        CHECK(action_for(p, at(store)) == site_action::leave_by_plan);
        CHECK(action_for(p, at(load)) == site_action::leave_by_plan);
    }
    // The table checks them like any record but keeps no slot for them (nothing rewrites them):
    // a kernel's hundreds of entry accesses cannot crowd out its sensitive sites.
    site_table_of<1> t;
    CHECK(t.add(store, text).what == admission::not_site);
    CHECK(t.add(load, text + 0x10).what == admission::not_site);
    CHECK(t.count() == 0);
    annotation::site_record bad = store;
    bad.special = 3;  // no access form
    CHECK(t.add(bad, text + 0x20).what == admission::refused);
    CHECK(t.add(record(site_kind::hlt), text + 0x30).what == admission::site);
}
