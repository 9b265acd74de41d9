/* engine/flags: the compile options a client may add, per compiler family; and the toolchains
 * that take them ("{options}" in their compile template) are exactly the languages flags.c
 * knows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/flags.h"
#include "testutil.h"
#include "toolchain/toolchain.h"

static void accepted(int line, const char *lang, const char *opts, size_t want_n)
{
        char **argv = NULL;
        size_t argc = 99;
        char msg[512] = "";
        if (flags_check_compiler(lang, opts, &argv, &argc, msg, sizeof(msg)) != 0) {
                FAIL("line %d: %s [%s] refused: %s", line, lang, opts, msg);
                return;
        }
        if (argc != want_n)
                FAIL("line %d: %s [%s]: %zu words, want %zu", line, lang, opts, argc, want_n);
        if (!argv || argv[argc] != NULL)
                FAIL("line %d: %s [%s]: the array is not NULL-terminated", line, lang, opts);
        flags_free(argv, argc);
}

static void refused(int line, const char *lang, const char *opts, const char *want)
{
        char **argv = (char **)1;
        size_t argc = 99;
        char msg[512] = "";
        int r = flags_check_compiler(lang, opts, &argv, &argc, msg, sizeof(msg));
        if (r != -1) {
                FAIL("line %d: %s [%s] accepted", line, lang, opts);
                if (r == 0)
                        flags_free(argv, argc);
                return;
        }
        if (argv != NULL || argc != 0)
                FAIL("line %d: %s [%s]: outputs not cleared on refusal", line, lang, opts);
        if (!strstr(msg, want))
                FAIL("line %d: %s [%s]: message \"%s\" does not say \"%s\"", line, lang, opts, msg,
                     want);
}

#define OK(lang, opts, n)    accepted(__LINE__, lang, opts, n)
#define NO(lang, opts, want) refused(__LINE__, lang, opts, want)

static void test_gcc_family_accepts(void)
{
        OK("c", "", 0);
        OK("c", "   ", 0);
        OK("c", NULL, 0);
        OK("c", "-O2 -DX=3", 2);
        OK("c", "-O0 -O1 -O3 -Os -Og -Ofast -O", 7);
        OK("c", "-std=c11 -Wall -Wextra -Werror -pedantic -w -Wno-unused-variable", 7);
        OK("c", "-Wformat=2 -Werror=return-type -Wshadow", 3);
        OK("c", "-DNDEBUG -DN=100 -D_GNU_SOURCE -DV=1.5 -DNEG=-1 -UNDEBUG", 6);
        OK("c", "-g -g3 -lm -lpthread -pthread -ffast-math", 6);
        OK("c", "'-O2'  \"-DX=3\"", 2); /* quoting that leaves one word is fine */
        OK("cpp", "-std=c++20 -O2 -fno-exceptions -lgmpxx -lgmp", 5);
        OK("c-clang", "-std=gnu2x -O3", 2);
        OK("cpp-clang", "-std=c++17 -Wall", 2);
        OK("objc", "-O0 -g", 2);
        OK("fortran", "-std=f2008 -O3", 2);
        OK("d", "-O3 -Wall", 2);
}

static void test_gcc_family_refuses(void)
{
        NO("c", "-O2 '-DX=a b'", "\"-DX=a b\" is not allowed for c");
        NO("c", "\"-O2 -DX\"", "is not allowed");
        NO("c", "@opts", "an argument file");
        NO("c", "-O2 @/etc/passwd", "an argument file");
        NO("c", "-wrapper /bin/sh,-c,id", "\"-wrapper\" is not allowed");
        NO("c", "-fplugin=/x.so", "\"-fplugin=/x.so\" is not allowed");
        NO("c", "-fplugin-arg-x-y=z", "is not allowed");
        NO("c", "-specs=/tmp/x", "\"-specs=/tmp/x\" is not allowed");
        NO("c", "--specs=/tmp/x", "is not allowed");
        NO("c", "--param max-inline-insns=1", "\"--param\" is not allowed");
        NO("c", "-o /x", "\"-o\" is not allowed");
        NO("c", "-o/x", "\"-o/x\" is not allowed");
        NO("c", "-Wl,-T,/x.ld", "\"-Wl,-T,/x.ld\" is not allowed");
        NO("c", "-Wl", "is not allowed");
        NO("c", "-Wa,--defsym,x=1", "is not allowed");
        NO("c", "-Wp,-MD,/tmp/x", "is not allowed");
        NO("c", "-Xlinker --script=/x", "\"-Xlinker\" is not allowed");
        NO("c", "-Xassembler x", "is not allowed");
        NO("c", "-B/tmp", "\"-B/tmp\" is not allowed");
        NO("c", "-B /tmp", "\"-B\" is not allowed");
        NO("c", "--sysroot=/tmp", "is not allowed");
        NO("c", "-T /x.ld", "\"-T\" is not allowed");
        NO("c", "-I/etc", "is not allowed");
        NO("c", "-include /etc/passwd", "is not allowed");
        NO("c", "-L/tmp -lx", "is not allowed");
        NO("c", "-lssl", "\"-lssl\" is not allowed");
        NO("c", "-fsanitize=address", "is not allowed");
        NO("c", "-fdump-rtl-all=/x", "is not allowed");
        NO("c", "-save-temps", "is not allowed");
        NO("c", "-x c /etc/passwd", "is not allowed");
        NO("c", "-std=c11;id", "is not allowed");
        NO("c", "-std=foo", "is not allowed");
        NO("c", "-std=c++17", "is not allowed"); /* a C++ standard for C */
        NO("cpp", "-std=c11", "is not allowed");
        NO("d", "-std=c11", "is not allowed");
        NO("c", "'-DX=\"s\"'", "is not allowed"); /* a quote inside the value */
        OK("c", "-DX=\"s\"", 1);                  /* the shell's quotes: -DX=s */
        NO("c", "-DX=$(id)", "is not allowed");
        NO("c", "-D1X", "is not allowed");
        NO("c", "-D", "is not allowed");
        NO("c", "-D X", "\"-D\" is not allowed");
        NO("c", "-Wformat=/x", "is not allowed");
        NO("c", "-W", "is not allowed");
        NO("c", "main.c", "not an option");
        NO("c", "/etc/passwd", "not an option");
        NO("c", "-", "not an option");
        NO("c", "''", "not an option");
        NO("c", "-O2 'unbalanced", "compile options:");
        NO("c", "> /tmp/x", "not an option");
        NO("c", "-O2 >/tmp/x", "not an option");
        NO("c", "-O2;id", "is not allowed");
        char many[512] = "";
        for (int i = 0; i < 40; i++)
                strcat(many, "-O2 ");
        NO("c", many, "too many compile options");
        char longw[300] = "-DX=";
        memset(longw + 4, 'a', 200);
        longw[204] = '\0';
        NO("c", longw, "over 128 bytes");
}

static void test_other_families(void)
{
        OK("rust", "-g -C debuginfo=2 -Coverflow-checks=on -Awarnings -Dunused-variables", 6);
        OK("rust", "-C target-cpu=native", 2);
        NO("rust", "-C linker=/bin/sh", "\"-C linker=/bin/sh\" is not allowed for rust");
        NO("rust", "-Clink-arg=-T/x", "is not allowed");
        NO("rust", "-C", "is not allowed");
        NO("rust", "-L /tmp", "is not allowed");
        NO("rust", "--extern x=/tmp/x.rlib", "is not allowed");
        NO("rust", "-C opt-level=3", "-O and --edition are set by the toolchain");
        NO("rust", "--edition=2018", "is not allowed");
        NO("rust", "@args", "an argument file");
        NO("rust", "-o /x", "is not allowed");
        OK("haskell", "-O2 -Wall -XBangPatterns", 3);
        NO("haskell", "-pgmc /bin/sh", "is not allowed");
        NO("haskell", "-optl-T/x", "is not allowed");
        NO("haskell", "-XFoo/bar", "is not allowed");
        OK("pascal", "-O3 -Mobjfpc -Cr -dDEBUG", 4);
        NO("pascal", "-Fu/tmp", "is not allowed");
        NO("pascal", "-o/x", "is not allowed");
        OK("csharp", "-optimize+ -unsafe -define:DEBUG;TRACE -langversion:7.3", 4);
        NO("csharp", "-r:/tmp/x.dll", "is not allowed");
        NO("csharp", "-out:/x", "is not allowed");
        NO("csharp", "-define:A;B=1", "is not allowed");
        OK("java", "-g -Xlint:all,-serial -nowarn", 3);
        NO("java", "-processorpath /tmp", "is not allowed");
        NO("java", "-J-Xmx1g", "is not allowed");
        NO("java", "-d /tmp", "is not allowed");
        /* languages without compile options */
        NO("python", "-O", "language 'python' takes no compile options");
        NO("go", "-gcflags=-N", "takes no compile options");
        NO("kotlin", "-nowarn", "takes no compile options");
        OK("python", "", 0);
        OK("python", "  ", 0);
        CHECK(flags_language_known("c"));
        CHECK(!flags_language_known("python"));
        CHECK(!flags_language_known(NULL));
        char msg[64];
        CHECK_INT_EQ(flags_check_words("c", NULL, 0, msg, sizeof(msg)), 0);
}

/* Every toolchain with "{options}" in its compile template is a language flags.c knows, and
 * the other way round; "{options}" expands to the words where it stands. */
static void test_toolchains_agree(void)
{
        char *dir = tu_strf("%s/toolchains", tu_source_dir());
        toolchain_set_t set = {0};
        rc_err_t err = {0};
        if (!CHECK_OK_E(toolchain_set_load(&set, dir, &err), err)) {
                free(dir);
                return;
        }
        size_t with = 0;
        for (size_t i = 0; i < set.n; i++) {
                const toolchain_t *tc = set.items[i];
                bool takes = toolchain_takes_options(&tc->compile);
                with += takes;
                if (takes != flags_language_known(tc->name))
                        FAIL("%s: \"{options}\" in its compile template %d, known to flags.c %d",
                             tc->name, takes, flags_language_known(tc->name));
        }
        CHECK(with >= 12);
        const toolchain_t *c = toolchain_set_find(&set, "c");
        if (CHECK(c)) {
                char *files[] = {"main.c", "x.c", NULL};
                char *opts[] = {"-O0", "-DX=3", NULL};
                strv_t out = {0};
                if (CHECK_OK_E(toolchain_expand_argv_opts(c, &c->compile, "main.c", files, 2, opts,
                                                          NULL, &out, &err),
                               err)) {
                        char joined[512] = "";
                        for (size_t i = 0; i < out.n; i++)
                                snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined),
                                         "%s%s", i ? " " : "", out.v[i]);
                        CHECK_CONTAINS(joined, "main.c x.c -O0 -DX=3 -lm");
                }
                strv_free(&out);
                /* without options "{options}" is dropped */
                if (CHECK_OK_E(
                        toolchain_expand_argv(c, &c->compile, "main.c", files, 2, NULL, &out, &err),
                        err)) {
                        for (size_t i = 0; i < out.n; i++)
                                CHECK(strcmp(out.v[i], "{options}") != 0);
                        CHECK_STR_EQ(out.v[out.n - 1], "-lm");
                        CHECK_STR_EQ(out.v[out.n - 2], "x.c");
                }
                strv_free(&out);
        }
        toolchain_set_free(&set);
        free(dir);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_gcc_family_accepts),
            TU_TEST(test_gcc_family_refuses),
            TU_TEST(test_other_families),
            TU_TEST(test_toolchains_agree),
        };
        return tu_main("test_flags", tests, TU_COUNT(tests), argc, argv);
}
