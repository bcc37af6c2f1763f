// afterburn-cc: a drop-in gcc that routes every assembly through afterburn-as and loads the
// compiler pass (the GCC plugin afterburn_pt, which marks page-table accesses by C type) into
// every C compile. `make CC=afterburn-cc` builds a Kbuild tree unchanged.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "process.h"

int main(int argc, char **argv)
{
    afterburn::ensure_standard_fds();
    std::string self = afterburn::self_path();
    std::string bindir = self.substr(0, self.rfind('/'));
    // afterburn-as is installed as `as` in a directory of its own; gcc -B searches it first.
    std::string asdir = bindir + "/../libexec/afterburn/as/";
    if (const char *env = std::getenv("AFTERBURN_AS_DIR"); env && *env) asdir = std::string(env) + "/";

    const char *gcc_env = std::getenv("AFTERBURN_GCC");
    std::string gcc = gcc_env && *gcc_env ? gcc_env : "gcc";

    // The compiler pass and the page-table types it looks for (docs/annotation-format.md).
    std::string plugin = bindir + "/../libexec/afterburn/afterburn_pt.so";
    if (const char *env = std::getenv("AFTERBURN_PT_PLUGIN"); env && *env) plugin = env;
    std::string types = bindir + "/../share/afterburn/page-table-types/linux.conf";
    if (const char *env = std::getenv("AFTERBURN_PAGE_TABLE_TYPES"); env && *env) types = env;
    bool with_plugin = plugin != "none";

    if (argc == 2 && std::string(argv[1]) == "--afterburn-help") {
        std::printf("usage: afterburn-cc [gcc arguments]\n\n"
                    "Runs %s with -B%s so that every assembly goes through afterburn-as,\n"
                    "which pads and annotates sensitive instructions. Use it as CC, e.g.\n"
                    "  make CC=%s O=out -j2\n\n"
                    "It also loads the compiler pass %s, which marks every access to a\n"
                    "page-table entry (the C types listed in %s)\n"
                    "for afterburn-as to pad and record.\n\n"
                    "environment: AFTERBURN_GCC (the compiler, default gcc), AFTERBURN_AS_DIR,\n"
                    "AFTERBURN_PT_PLUGIN (the plugin; `none` compiles without it), AFTERBURN_PAGE_TABLE_TYPES\n"
                    "(the type list), and those of afterburn-as (AFTERBURN_REPORT, AFTERBURN_REAL_AS,\n"
                    "AFTERBURN_KEEP).\n",
                    gcc.c_str(), asdir.c_str(), self.c_str(), plugin.c_str(), types.c_str());
        return 0;
    }
    std::vector<std::string> args{gcc, "-B" + asdir};
    if (with_plugin) {
        // A missing pass must stop the build, not leave page-table accesses unannotated.
        for (const std::string &f : {plugin, types})
            if (access(f.c_str(), R_OK) != 0) {
                std::fprintf(stderr, "afterburn-cc: cannot read %s (build the afterburn-pt-plugin target, or set "
                                     "AFTERBURN_PT_PLUGIN=none to compile without the compiler pass)\n", f.c_str());
                return 1;
            }
        args.push_back("-fplugin=" + plugin);
        args.push_back("-fplugin-arg-afterburn_pt-types=" + types);
    }
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    afterburn::exec_program(args);
    std::fprintf(stderr, "afterburn-cc: cannot run %s: ", gcc.c_str());
    std::perror("");
    return 127;
}
