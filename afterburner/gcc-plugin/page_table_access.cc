// afterburn_pt: the compiler pass. A GCC 12 plugin that finds every memory access whose C type
// is a page-table entry (the types named in a small configuration file) and marks the one
// instruction that performs it in the emitted assembly, for afterburn-as to pad and record as
// a page_table_store or page_table_load site (docs/annotation-format.md, "Page-table sites").
//
// Why a marker in the assembly rather than a note written here: afterburn-as already pads
// every site so that it stays exact in every macro expansion, writes the record and checks the
// assembled bytes against it. The plugin only knows which instruction is an access by type; the
// assembler pass knows what the instruction became. The marker is a comment line, so without
// afterburn-as (plain `as`) the output assembles unchanged.
//
// Arguments: -fplugin-arg-afterburn_pt-types=FILE (required: one type a line, optionally
// followed by the names of its value fields; '#' starts a comment), and for tests
// -fplugin-arg-afterburn_pt-drop=N (leave the N-th found access of the unit unmarked).
// The C++ library first: GCC's headers poison the ctype names it uses.
#include <fstream>
#include <map>
#include <sstream>

#define INCLUDE_SET
#define INCLUDE_STRING
#define INCLUDE_VECTOR
#include "gcc-plugin.h"
#include "plugin-version.h"

#include "tree.h"
#include "tree-pass.h"
#include "context.h"
#include "function.h"
#include "basic-block.h"
#include "gimple.h"
#include "gimple-iterator.h"
#include "tree-ssa-alias.h"
#include "rtl.h"
#include "memmodel.h"
#include "emit-rtl.h"
#include "rtl-iter.h"
#include "insn-config.h"
#include "recog.h"
#include "insn-constants.h"
#include "diagnostic-core.h"
#include "stringpool.h"
#include "cgraph.h"

int plugin_is_GPL_compatible;  // required by GCC to load any plugin

namespace {

const char *const plugin_name_for_messages = "afterburn_pt";

// The comment afterburn-as looks for; the next instruction is the site.
const char *const marker_store = "#afterburn_page_table store";
const char *const marker_load = "#afterburn_page_table load";

// ---- configuration ---------------------------------------------------------------------------
struct configured_type {
    std::set<std::string> fields;  // value fields (empty: every field)
};
std::map<std::string, configured_type> g_config;  // by type name
std::map<tree, std::string> g_types;               // main variants of the configured types -> name
std::set<tree> g_entry_pointers;                   // SSA pointers derived from entries (per function)
unsigned long g_drop = 0;                          // for tests: leave this access unmarked
unsigned long g_found = 0;

bool read_config(const char *path)
{
    std::ifstream in(path);
    if (!in) {
        error("%s: cannot read the page-table type list %qs", plugin_name_for_messages, path);
        return false;
    }
    std::string line;
    unsigned n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream words(line);
        std::string type, field;
        if (!(words >> type)) continue;
        for (char c : type)
            if (!ISALNUM(c) && c != '_') {
                error("%s: %s:%u: %qs is not a C type name", plugin_name_for_messages, path, n, type.c_str());
                return false;
            }
        configured_type &t = g_config[type];
        while (words >> field) t.fields.insert(field);
    }
    if (g_config.empty()) {
        error("%s: %s names no type", plugin_name_for_messages, path);
        return false;
    }
    return true;
}

const char *type_name_of(tree t)
{
    tree name = TYPE_NAME(t);
    if (name && TREE_CODE(name) == TYPE_DECL) name = DECL_NAME(name);
    return name && TREE_CODE(name) == IDENTIFIER_NODE ? IDENTIFIER_POINTER(name) : nullptr;
}

// `typedef struct { pteval_t pte; } pte_t;`: the struct itself is anonymous, so the configured
// name is learnt from the typedef as it is declared.
void on_finish_decl(void *gcc_data, void *)
{
    tree decl = static_cast<tree>(gcc_data);
    if (!decl || TREE_CODE(decl) != TYPE_DECL || !DECL_NAME(decl)) return;
    if (!g_config.count(IDENTIFIER_POINTER(DECL_NAME(decl)))) return;
    if (TREE_TYPE(decl) && TREE_TYPE(decl) != error_mark_node) g_types[TYPE_MAIN_VARIANT(TREE_TYPE(decl))] = IDENTIFIER_POINTER(DECL_NAME(decl));
}

void on_finish_type(void *gcc_data, void *)
{
    tree type = static_cast<tree>(gcc_data);
    if (!type || type == error_mark_node) return;
    if (const char *name = type_name_of(type); name && g_config.count(name))
        g_types[TYPE_MAIN_VARIANT(type)] = name;
}

// A page-table type, or an array of them (a pgd range copied as one block).
bool is_page_table_type(tree t)
{
    while (t && TREE_CODE(t) == ARRAY_TYPE) t = TREE_TYPE(t);
    if (!t || t == error_mark_node) return false;
    if (g_types.count(TYPE_MAIN_VARIANT(t))) return true;
    const char *name = type_name_of(t);
    return name && g_config.count(name);
}

bool points_to_page_table(tree t)
{
    return t && POINTER_TYPE_P(t) && is_page_table_type(TREE_TYPE(t));
}

// A configured value field of a page-table type (pte_t's `pte`), or a field that is itself
// an entry (p4d_t's `pgd` when the level is folded).
bool is_value_field(tree field)
{
    tree owner = DECL_CONTEXT(field);
    if (!owner || (TREE_CODE(owner) != RECORD_TYPE && TREE_CODE(owner) != UNION_TYPE)) return false;
    owner = TYPE_MAIN_VARIANT(owner);
    auto known = g_types.find(owner);
    const char *name = known != g_types.end() ? known->second.c_str() : type_name_of(owner);
    auto it = name ? g_config.find(name) : g_config.end();
    if (it == g_config.end()) return false;
    return it->second.fields.empty() ||
           (DECL_NAME(field) && it->second.fields.count(IDENTIFIER_POINTER(DECL_NAME(field)))) ||
           is_page_table_type(TREE_TYPE(field));
}

// The function's own automatic storage (locals, parameters, spill slots): never a page table.
bool is_automatic(tree decl)
{
    if (TREE_CODE(decl) == PARM_DECL || TREE_CODE(decl) == RESULT_DECL) return true;
    return TREE_CODE(decl) == VAR_DECL && !TREE_STATIC(decl) && !DECL_EXTERNAL(decl);
}

// Does the memory reference `e` (a MEM_EXPR) access a page-table entry by its C type?
bool accesses_page_table(tree e)
{
    tree base = e;
    while (base && (handled_component_p(base) || TREE_CODE(base) == BIT_FIELD_REF)) base = TREE_OPERAND(base, 0);
    if (base && DECL_P(base) && is_automatic(base)) return false;
    for (tree t = e; t; t = TREE_OPERAND(t, 0)) {
        if (is_page_table_type(TREE_TYPE(t))) return true;
        if (TREE_CODE(t) == COMPONENT_REF && is_value_field(TREE_OPERAND(t, 1))) return true;
        if (TREE_CODE(t) == MEM_REF || TREE_CODE(t) == TARGET_MEM_REF) {
            // An access through a pointer cast away from the entry type
            // (`(unsigned long *)&ptep->pte`, `(atomic_long_t *)ptep`): the pointer still is one,
            // or the reference's alias type says so.
            if (points_to_page_table(TREE_TYPE(TREE_OPERAND(t, 0)))) return true;
            if (points_to_page_table(TREE_TYPE(TREE_OPERAND(t, 1)))) return true;
            if (g_entry_pointers.count(TREE_OPERAND(t, 0))) return true;
            tree ptr = TREE_OPERAND(t, 0);
            if (TREE_CODE(ptr) == ADDR_EXPR) return accesses_page_table(TREE_OPERAND(ptr, 0));
            return false;
        }
        if (!handled_component_p(t) && TREE_CODE(t) != BIT_FIELD_REF) return false;
    }
    return false;
}

// ---- block operations: memcpy/memmove/memset of page-table arrays ----------------------------
// The RTL call no longer says what its pointer arguments pointed to: a GIMPLE pass notes the
// locations of such calls, and the RTL pass marks the call (or string instruction) expanded there.
enum class block_access { none, load, store };
std::map<location_t, block_access> g_block_calls;  // per function

bool is_block_function(const char *name)
{
    static const char *const names[] = {"memcpy", "memmove", "memset", "__memcpy", "__memmove", "__memset",
                                        "__builtin_memcpy", "__builtin_memmove", "__builtin_memset"};
    for (const char *n : names)
        if (!strcmp(name, n)) return true;
    return false;
}

bool pointer_to_page_table_arg(tree arg)
{
    if (points_to_page_table(TREE_TYPE(arg))) return true;
    if (TREE_CODE(arg) == ADDR_EXPR) return is_page_table_type(TREE_TYPE(TREE_OPERAND(arg, 0)));
    return false;
}

const pass_data block_calls_pass_data = {
    GIMPLE_PASS, "afterburn_pt_calls", OPTGROUP_NONE, TV_NONE, PROP_gimple_any, 0, 0, 0, 0,
};

struct block_calls_pass : gimple_opt_pass {
    block_calls_pass(gcc::context *ctx) : gimple_opt_pass(block_calls_pass_data, ctx) {}
    // `(unsigned long *)&ptep->pte` (test_and_clear_bit on an entry) leaves only an SSA pointer
    // of another type in the access: note the pointers computed from entries.
    static bool entry_pointer(tree op)
    {
        if (!op) return false;
        if (TREE_CODE(op) == ADDR_EXPR) return accesses_page_table(TREE_OPERAND(op, 0));
        return points_to_page_table(TREE_TYPE(op)) || g_entry_pointers.count(op);
    }

    static void find_entry_pointers(function *fn)
    {
        g_entry_pointers.clear();
        for (bool changed = true; changed;) {
            changed = false;
            basic_block bb;
            FOR_EACH_BB_FN(bb, fn)
            {
                for (gphi_iterator pi = gsi_start_phis(bb); !gsi_end_p(pi); gsi_next(&pi)) {
                    gphi *phi = pi.phi();
                    tree lhs = gimple_phi_result(phi);
                    if (!POINTER_TYPE_P(TREE_TYPE(lhs)) || g_entry_pointers.count(lhs)) continue;
                    for (unsigned a = 0; a < gimple_phi_num_args(phi); ++a)
                        if (entry_pointer(gimple_phi_arg_def(phi, a)) &&
                            TREE_CODE(gimple_phi_arg_def(phi, a)) != INTEGER_CST) {
                            changed |= g_entry_pointers.insert(lhs).second;
                            break;
                        }
                }
                for (gimple_stmt_iterator gsi = gsi_start_bb(bb); !gsi_end_p(gsi); gsi_next(&gsi)) {
                    gassign *as = dyn_cast<gassign *>(gsi_stmt(gsi));
                    if (!as) continue;
                    tree lhs = gimple_assign_lhs(as);
                    if (TREE_CODE(lhs) != SSA_NAME || !POINTER_TYPE_P(TREE_TYPE(lhs)) || g_entry_pointers.count(lhs))
                        continue;
                    enum tree_code code = gimple_assign_rhs_code(as);
                    bool from_entry = false;
                    if (code == ADDR_EXPR || code == SSA_NAME || CONVERT_EXPR_CODE_P(code) ||
                        code == POINTER_PLUS_EXPR || code == VIEW_CONVERT_EXPR)
                        from_entry = entry_pointer(gimple_assign_rhs1(as));
                    if (from_entry) changed |= g_entry_pointers.insert(lhs).second;
                }
            }
        }
    }

    unsigned int execute(function *fn) override
    {
        g_block_calls.clear();
        find_entry_pointers(fn);
        basic_block bb;
        FOR_EACH_BB_FN(bb, fn)
        for (gimple_stmt_iterator gsi = gsi_start_bb(bb); !gsi_end_p(gsi); gsi_next(&gsi)) {
            gimple *stmt = gsi_stmt(gsi);
            if (!is_gimple_call(stmt)) continue;
            tree callee = gimple_call_fndecl(stmt);
            if (!callee || !DECL_NAME(callee) || !is_block_function(IDENTIFIER_POINTER(DECL_NAME(callee)))) continue;
            if (gimple_call_num_args(stmt) < 2) continue;
            bool dst = pointer_to_page_table_arg(gimple_call_arg(stmt, 0));
            bool is_set = strstr(IDENTIFIER_POINTER(DECL_NAME(callee)), "memset") != nullptr;
            bool src = !is_set && pointer_to_page_table_arg(gimple_call_arg(stmt, 1));
            if (dst || src) g_block_calls[gimple_location(stmt)] = dst ? block_access::store : block_access::load;
        }
        return 0;
    }
};

// ---- the RTL pass: mark each access ----------------------------------------------------------
const pass_data mark_pass_data = {
    RTL_PASS, "afterburn_pt", OPTGROUP_NONE, TV_NONE, 0, 0, 0, 0, 0,
};

struct access_found {
    bool load = false, store = false;
};

// A MEM whose expression an RTL pass dropped (stores merged, cross-jumped): its base register
// still says which variable it holds.
bool base_register_points_to_entry(rtx mem)
{
    rtx addr = XEXP(mem, 0);
    if (GET_CODE(addr) == PLUS && CONST_INT_P(XEXP(addr, 1))) addr = XEXP(addr, 0);
    if (!REG_P(addr) || !REG_EXPR(addr)) return false;
    tree decl = REG_EXPR(addr);
    return points_to_page_table(TREE_TYPE(decl)) || g_entry_pointers.count(decl);
}

void classify_mem(rtx mem, bool written, access_found &a)
{
    if (!MEM_P(mem)) return;
    bool entry = MEM_EXPR(mem) ? accesses_page_table(MEM_EXPR(mem)) : base_register_points_to_entry(mem);
    if (entry) (written ? a.store : a.load) = true;
}

// Memory the insn writes: SET destinations (also inside PARALLELs: asm outputs).
void collect_written(rtx pat, std::vector<rtx> &out)
{
    if (GET_CODE(pat) == SET) {
        rtx dst = SET_DEST(pat);
        while (GET_CODE(dst) == STRICT_LOW_PART || GET_CODE(dst) == SUBREG || GET_CODE(dst) == ZERO_EXTRACT)
            dst = XEXP(dst, 0);
        if (MEM_P(dst)) out.push_back(dst);
    } else if (GET_CODE(pat) == PARALLEL) {
        for (int i = 0; i < XVECLEN(pat, 0); ++i) collect_written(XVECEXP(pat, 0, i), out);
    }
}

bool is_prefix_word(const std::string &w)
{
    static const char *const words[] = {"lock", "rep", "repe", "repz", "repne", "repnz", "data16", "addr32"};
    for (const char *p : words)
        if (w == p) return true;
    return false;
}

// The first instruction of an asm template (skipping labels, directives and prefixes).
std::string first_instruction(const char *tmpl)
{
    std::string s(tmpl);
    size_t i = 0;
    while (i < s.size()) {
        size_t end = s.find_first_of(";\n", i);
        if (end == std::string::npos) end = s.size();
        std::string stmt = s.substr(i, end - i);
        i = end + 1;
        size_t b = stmt.find_first_not_of(" \t");
        if (b == std::string::npos) continue;
        stmt = stmt.substr(b);
        // Labels: "661:" or "name:".
        while (true) {
            size_t colon = stmt.find(':');
            if (colon == std::string::npos) break;
            std::string head = stmt.substr(0, colon);
            if (head.find_first_of(" \t%(,") != std::string::npos) break;
            stmt = stmt.substr(colon + 1);
            size_t nb = stmt.find_first_not_of(" \t");
            stmt = nb == std::string::npos ? std::string() : stmt.substr(nb);
        }
        if (stmt.empty() || stmt[0] == '.' || stmt[0] == '#') continue;
        std::string word = stmt.substr(0, stmt.find_first_of(" \t"));
        if (is_prefix_word(word)) {
            if (word.size() == stmt.size()) continue;
            stmt = stmt.substr(word.size());
            size_t nb = stmt.find_first_not_of(" \t");
            if (nb == std::string::npos) continue;
            stmt = stmt.substr(nb);
        }
        return stmt;
    }
    return {};
}

// Does an asm statement mention operand `n` (%n, %qn, %Pn, ...)?
bool mentions_operand(const std::string &text, int n)
{
    for (size_t p = text.find('%'); p != std::string::npos; p = text.find('%', p + 1)) {
        size_t q = p + 1;
        while (q < text.size() && ISALPHA(text[q])) ++q;
        size_t digits = q;
        while (q < text.size() && ISDIGIT(text[q])) ++q;
        if (q > digits && atoi(text.substr(digits, q - digits).c_str()) == n) return true;
    }
    return false;
}

// An asm statement: its page-table memory operands, written (outputs) or read (inputs).
// Marked only when the asm's first instruction is the one that uses the operand.
void classify_asm(rtx_insn *insn, rtx body, access_found &a)
{
    int noperands = asm_noperands(body);
    if (noperands <= 0) return;
    std::vector<rtx> operands(noperands);
    std::vector<const char *> constraints(noperands);
    const char *tmpl = decode_asm_operands(body, operands.data(), nullptr, constraints.data(), nullptr, nullptr);
    if (!tmpl) return;
    rtx asmop = extract_asm_operands(body);
    int ninputs = asmop ? ASM_OPERANDS_INPUT_LENGTH(asmop) : 0;
    int noutputs = noperands - ninputs - (asmop ? ASM_OPERANDS_LABEL_LENGTH(asmop) : 0);
    std::string first = first_instruction(tmpl);
    for (int i = 0; i < noperands; ++i) {
        // "+m" is an output plus an input of the same memory: the output stands for both.
        bool repeats_output = false;
        for (int o = 0; o < noutputs && i >= noutputs; ++o) repeats_output |= rtx_equal_p(operands[o], operands[i]);
        if (repeats_output || (i >= noutputs && constraints[i] && ISDIGIT(constraints[i][0]))) continue;
        access_found one;
        classify_mem(operands[i], i < noutputs, one);
        if (!one.load && !one.store) continue;
        if (!mentions_operand(first, i)) {
            warning_at(INSN_LOCATION(insn), 0,
                       "%s: page-table access in an %<asm%> statement whose first instruction does not use it "
                       "(operand %d); it cannot be padded and stays unannotated",
                       plugin_name_for_messages, i);
            continue;
        }
        a.load |= one.load;
        a.store |= one.store;
    }
}

const char *callee_name(rtx_insn *insn)
{
    rtx call = get_call_rtx_from(insn);
    if (!call) return nullptr;
    rtx addr = XEXP(XEXP(call, 0), 0);
    return GET_CODE(addr) == SYMBOL_REF ? XSTR(addr, 0) : nullptr;
}

access_found classify_insn(rtx_insn *insn)
{
    access_found a;
    rtx body = PATTERN(insn);
    if (CALL_P(insn)) {
        const char *name = callee_name(insn);
        if (name && is_block_function(name)) {
            auto it = g_block_calls.find(INSN_LOCATION(insn));
            if (it != g_block_calls.end()) (it->second == block_access::store ? a.store : a.load) = true;
        }
        return a;
    }
    if (asm_noperands(body) >= 0) {
        classify_asm(insn, body, a);
        return a;
    }
    std::vector<rtx> written;
    collect_written(body, written);
    for (rtx m : written) classify_mem(m, true, a);
    subrtx_var_iterator::array_type array;
    FOR_EACH_SUBRTX_VAR(iter, array, body, ALL)
    {
        rtx x = *iter;
        if (!MEM_P(x)) continue;
        bool is_written = false;
        for (rtx m : written) is_written |= m == x;
        if (!is_written) classify_mem(x, false, a);
    }
    // A string instruction expanded from a page-table memcpy/memset: its MEMs may have lost
    // the type, the call's location has not.
    if (!a.load && !a.store && !written.empty()) {
        auto it = g_block_calls.find(INSN_LOCATION(insn));
        if (it != g_block_calls.end() && GET_MODE(written[0]) == BLKmode)
            (it->second == block_access::store ? a.store : a.load) = true;
    }
    return a;
}

// GCC 12's peephole2 folds the stack protector's canary copy and the load that follows it into
// one insn (*stack_protect_set_2/_3): mov canary -> r; mov r -> slot; mov access -> r. A
// marker before it would name the canary load, not the access (mm/hugetlb.c's hugetlb_wp in
// defconfig). Split it back into the canary copy (stack_protect_set_1, which clears its
// scratch instead) and the plain access, which is then marked like any other. Returns the
// access insn, or nullptr when the insn is not such a pair or the split would not be valid.
rtx_insn *split_canary_and_access(rtx_insn *insn)
{
    rtx body = PATTERN(insn);
    if (GET_CODE(body) != PARALLEL || XVECLEN(body, 0) != 3) return nullptr;
    rtx guard = XVECEXP(body, 0, 0), access = XVECEXP(body, 0, 1), clobber = XVECEXP(body, 0, 2);
    if (GET_CODE(guard) != SET || GET_CODE(SET_SRC(guard)) != UNSPEC || XINT(SET_SRC(guard), 1) != UNSPEC_SP_SET)
        return nullptr;
    if (GET_CODE(access) != SET || !REG_P(SET_DEST(access)) || GET_CODE(clobber) != CLOBBER) return nullptr;
    rtx reg = SET_DEST(access);
    rtx scratch = gen_rtx_REG(GET_MODE(SET_DEST(guard)), REGNO(reg));
    rtx copy = gen_rtx_PARALLEL(VOIDmode, gen_rtvec(3, copy_rtx(guard), gen_rtx_SET(scratch, const0_rtx),
                                                    copy_rtx(clobber)));
    rtx_insn *first = emit_insn_before(copy, insn);
    rtx_insn *second = emit_insn_before(gen_rtx_SET(reg, copy_rtx(SET_SRC(access))), insn);
    auto valid = [](rtx_insn *i) {
        if (recog_memoized(i) < 0) return false;
        extract_insn(i);
        return constrain_operands(1, get_enabled_alternatives(i)) != 0;
    };
    if (!valid(first) || !valid(second)) {
        delete_insn(first);
        delete_insn(second);
        return nullptr;
    }
    delete_insn(insn);
    return second;
}

struct mark_pass : rtl_opt_pass {
    mark_pass(gcc::context *ctx) : rtl_opt_pass(mark_pass_data, ctx) {}
    unsigned int execute(function *) override
    {
        for (rtx_insn *insn = get_insns(); insn; insn = NEXT_INSN(insn)) {
            if (!NONDEBUG_INSN_P(insn)) continue;
            rtx body = PATTERN(insn);
            if (GET_CODE(body) == USE || GET_CODE(body) == CLOBBER || GET_CODE(body) == ASM_INPUT) continue;
            access_found a = classify_insn(insn);
            if (!a.load && !a.store) continue;
            if (rtx_insn *access = split_canary_and_access(insn)) {
                insn = access;  // the marker goes on the access alone
                a = classify_insn(insn);
                if (!a.load && !a.store) continue;
            }
            if (++g_found == g_drop) continue;  // tests: prove the cross-check sees a missing mark
            if (getenv("AFTERBURN_PT_DEBUG")) debug_rtx(insn);  // why: the insn with its MEM_EXPRs
            const char *text = a.store ? marker_store : marker_load;
            // final prints a basic asm's location as a line marker and needs a file to name.
            location_t loc = INSN_LOCATION(insn);
            if (!expand_location(loc).file) loc = DECL_SOURCE_LOCATION(current_function_decl);
            rtx marker = gen_rtx_ASM_INPUT_loc(VOIDmode, ggc_strdup(text), loc);
            emit_insn_before(marker, insn);
        }
        g_block_calls.clear();
        g_entry_pointers.clear();
        return 0;
    }
};

} // namespace

int plugin_init(struct plugin_name_args *info, struct plugin_gcc_version *version)
{
    if (!plugin_default_version_check(version, &gcc_version)) {
        error("%s: built for GCC %s, loaded into another version", plugin_name_for_messages,
              gcc_version.basever);
        return 1;
    }
    const char *types = nullptr;
    for (int i = 0; i < info->argc; ++i) {
        const char *key = info->argv[i].key, *value = info->argv[i].value;
        if (!strcmp(key, "types") && value) types = value;
        else if (!strcmp(key, "drop") && value) g_drop = strtoul(value, nullptr, 10);
        else {
            error("%s: unknown argument %qs (expected types=FILE, drop=N)", plugin_name_for_messages, key);
            return 1;
        }
    }
    if (!types) {
        error("%s: missing argument %<types=FILE%> (%qs)", plugin_name_for_messages, info->base_name);
        return 1;
    }
    if (!read_config(types)) return 1;

    register_callback(info->base_name, PLUGIN_FINISH_DECL, on_finish_decl, nullptr);
    register_callback(info->base_name, PLUGIN_FINISH_TYPE, on_finish_type, nullptr);

    // After the last GIMPLE optimisation, so the calls seen are the ones expanded.
    struct register_pass_info calls;
    calls.pass = new block_calls_pass(g);
    calls.reference_pass_name = "optimized";
    calls.ref_pass_instance_number = 1;
    calls.pos_op = PASS_POS_INSERT_AFTER;
    register_callback(info->base_name, PLUGIN_PASS_MANAGER_SETUP, nullptr, &calls);

    // After machine-dependent reorganisation, when no pass moves or duplicates insns any more
    // and before branch shortening sizes them.
    struct register_pass_info mark;
    mark.pass = new mark_pass(g);
    mark.reference_pass_name = "mach";
    mark.ref_pass_instance_number = 1;
    mark.pos_op = PASS_POS_INSERT_AFTER;
    register_callback(info->base_name, PLUGIN_PASS_MANAGER_SETUP, nullptr, &mark);
    return 0;
}
