#include "engine/flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/shellwords.h"
#include "util/strv.h"

typedef enum family {
        FAM_NONE,
        FAM_GCC,   /* gcc, g++, clang, clang++, gfortran, gdc: one option syntax */
        FAM_RUSTC, /* rustc */
        FAM_GHC,   /* ghc */
        FAM_FPC,   /* Free Pascal */
        FAM_MCS,   /* Mono's C# compiler */
        FAM_JAVAC, /* javac */
} family_t;

/* The language standards -std= may name, per language (NULL: -std= is refused). */
static const char *const std_c[] = {"c89",   "c90",   "c99",   "c11",   "c17",
                                    "c18",   "c2x",   "gnu89", "gnu90", "gnu99",
                                    "gnu11", "gnu17", "gnu18", "gnu2x", NULL};
static const char *const std_cpp[] = {"c++98",   "c++03",   "c++11",   "c++14",   "c++17",
                                      "c++20",   "c++2a",   "c++23",   "c++2b",   "gnu++98",
                                      "gnu++03", "gnu++11", "gnu++14", "gnu++17", "gnu++20",
                                      "gnu++2a", "gnu++23", "gnu++2b", NULL};
static const char *const std_fortran[] = {"f95", "f2003", "f2008", "f2018", "gnu", "legacy", NULL};

static const struct lang_family {
        const char *language; /* toolchain name */
        family_t family;
        const char *const *std;
} languages[] = {
    {"c", FAM_GCC, std_c},     {"c-clang", FAM_GCC, std_c},     {"objc", FAM_GCC, std_c},
    {"cpp", FAM_GCC, std_cpp}, {"cpp-clang", FAM_GCC, std_cpp}, {"fortran", FAM_GCC, std_fortran},
    {"d", FAM_GCC, NULL},      {"rust", FAM_RUSTC, NULL},       {"haskell", FAM_GHC, NULL},
    {"pascal", FAM_FPC, NULL}, {"csharp", FAM_MCS, NULL},       {"java", FAM_JAVAC, NULL},
};

static const struct lang_family *find_language(const char *language)
{
        for (size_t i = 0; language && i < sizeof(languages) / sizeof(languages[0]); i++)
                if (strcmp(languages[i].language, language) == 0)
                        return &languages[i];
        return NULL;
}

bool flags_language_known(const char *language)
{
        return find_language(language) != NULL;
}

static bool in_list(const char *w, const char *const *list)
{
        for (; list && *list; list++)
                if (strcmp(w, *list) == 0)
                        return true;
        return false;
}

/* s is made only of characters in set, and is not empty */
static bool all_of(const char *s, const char *set)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(set, *s)))
                        return false;
        return true;
}

static bool is_ident(const char *s, size_t n)
{
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_'))
                        return false;
        }
        return true;
}

/* NAME or NAME=VALUE, VALUE of letters, digits and _ . + - (no quotes, spaces, slashes) */
static bool is_define(const char *s)
{
        const char *eq = strchr(s, '=');
        if (!is_ident(s, eq ? (size_t)(eq - s) : strlen(s)))
                return false;
        if (!eq)
                return true;
        for (const char *p = eq + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr("_.+-", *p)))
                        return false;
        return true;
}

static bool gcc_ok(const struct lang_family *lf, const char *w)
{
        static const char *const fixed[] = {"-O",
                                            "-O0",
                                            "-O1",
                                            "-O2",
                                            "-O3",
                                            "-Os",
                                            "-Og",
                                            "-Ofast",
                                            "-g",
                                            "-g0",
                                            "-g1",
                                            "-g2",
                                            "-g3",
                                            "-w",
                                            "-pedantic",
                                            "-pedantic-errors",
                                            "-pthread",
                                            "-ffast-math",
                                            "-funroll-loops",
                                            "-fwrapv",
                                            "-fno-strict-aliasing",
                                            "-fomit-frame-pointer",
                                            "-fexceptions",
                                            "-fno-exceptions",
                                            "-frtti",
                                            "-fno-rtti",
                                            "-fpermissive",
                                            "-lm",
                                            "-lpthread",
                                            "-lrt",
                                            "-ldl",
                                            "-lgmp",
                                            "-lgmpxx",
                                            "-lstdc++",
                                            "-lquadmath",
                                            NULL};
        if (in_list(w, fixed))
                return true;
        if (strncmp(w, "-std=", 5) == 0)
                return in_list(w + 5, lf->std);
        /* warnings: -Wname or -Wname=value of lower-case letters, digits and '-' ("-Wl,",
         * "-Wa,", "-Wp," pass options on to the linker, assembler and preprocessor: a comma
         * is not in the set) */
        if (w[0] == '-' && w[1] == 'W' && w[2]) {
                const char *eq = strchr(w, '=');
                char name[FLAGS_WORD_MAX + 1];
                size_t n = eq ? (size_t)(eq - w - 2) : strlen(w + 2);
                if (n == 0 || n > FLAGS_WORD_MAX)
                        return false;
                memcpy(name, w + 2, n);
                name[n] = '\0';
                if (strcmp(name, "l") == 0 || strcmp(name, "a") == 0 || strcmp(name, "p") == 0)
                        return false;
                return all_of(name, "-") && (!eq || all_of(eq + 1, "-"));
        }
        if (strncmp(w, "-D", 2) == 0 || strncmp(w, "-U", 2) == 0)
                return w[1] == 'D' ? is_define(w + 2) : is_ident(w + 2, strlen(w + 2));
        return false;
}

/* rustc: the toolchain already gives -O and --edition (toolchains/rust.json), which rustc
 * takes only once: -C opt-level and --edition would always fail, and are refused. */
static bool rustc_ok(const char *w, const char *next, int *used)
{
        static const char *const fixed[] = {"-g", NULL};
        static const char *const codegen[] = {"debuginfo=0",
                                              "debuginfo=1",
                                              "debuginfo=2",
                                              "overflow-checks=on",
                                              "overflow-checks=off",
                                              "overflow-checks=yes",
                                              "overflow-checks=no",
                                              "debug-assertions=on",
                                              "debug-assertions=off",
                                              "target-cpu=native",
                                              "panic=abort",
                                              "panic=unwind",
                                              NULL};
        *used = 1;
        if (in_list(w, fixed))
                return true;
        if (strcmp(w, "-C") == 0 && next) {
                *used = 2;
                return in_list(next, codegen);
        }
        if (strncmp(w, "-C", 2) == 0)
                return in_list(w + 2, codegen);
        /* lint levels: -A, -W, -D, -F with a lint name (letters, digits, '_', '-', "::") */
        if (w[0] == '-' && strchr("AWDF", w[1]) && w[1] && w[2])
                return all_of(w + 2, "_-:");
        return false;
}

static bool ghc_ok(const char *w)
{
        static const char *const fixed[] = {
            "-O",      "-O0", "-O1",       "-O2",      "-Wall",
            "-Werror", "-w",  "-threaded", "-rtsopts", "-fno-warn-unused-imports",
            NULL};
        if (in_list(w, fixed))
                return true;
        /* a language extension: -XName */
        if (strncmp(w, "-X", 2) == 0 && w[2] >= 'A' && w[2] <= 'Z')
                return is_ident(w + 2, strlen(w + 2));
        return false;
}

static bool fpc_ok(const char *w)
{
        static const char *const fixed[] = {
            "-O-",   "-O1",      "-O2",      "-O3",  "-O4",      "-g",    "-gl",
            "-Mfpc", "-Mobjfpc", "-Mdelphi", "-Mtp", "-Mmacpas", "-Miso", "-Mdelphiunicode",
            "-Sa",   "-Sc",      "-Sg",      "-Sh",  "-Si",      "-Cr",   "-Co",
            "-Ci",   "-Ct",      NULL};
        if (in_list(w, fixed))
                return true;
        if (strncmp(w, "-d", 2) == 0) /* a define */
                return is_ident(w + 2, strlen(w + 2));
        return false;
}

static bool mcs_ok(const char *w)
{
        static const char *const fixed[] = {"-optimize",
                                            "-optimize+",
                                            "-optimize-",
                                            "-debug",
                                            "-debug+",
                                            "-debug-",
                                            "-checked",
                                            "-checked+",
                                            "-checked-",
                                            "-unsafe",
                                            "-unsafe+",
                                            "-unsafe-",
                                            "-warn:0",
                                            "-warn:1",
                                            "-warn:2",
                                            "-warn:3",
                                            "-warn:4",
                                            "-warnaserror",
                                            "-warnaserror+",
                                            "-warnaserror-",
                                            "-langversion:ISO-1",
                                            "-langversion:ISO-2",
                                            "-langversion:3",
                                            "-langversion:4",
                                            "-langversion:5",
                                            "-langversion:6",
                                            "-langversion:7",
                                            "-langversion:7.1",
                                            "-langversion:7.2",
                                            "-langversion:7.3",
                                            "-langversion:8",
                                            "-langversion:default",
                                            "-langversion:latest",
                                            "-langversion:experimental",
                                            NULL};
        if (in_list(w, fixed))
                return true;
        const char *names = strncmp(w, "-define:", 8) == 0 ? w + 8
                            : strncmp(w, "-d:", 3) == 0    ? w + 3
                                                           : NULL;
        if (!names || !*names)
                return false;
        /* NAME[;NAME...] (',' too) */
        for (const char *p = names;;) {
                size_t n = strcspn(p, ";,");
                if (!is_ident(p, n))
                        return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

static bool javac_ok(const char *w)
{
        static const char *const fixed[] = {"-g",          "-g:none",   "-g:lines",
                                            "-g:vars",     "-g:source", "-g:lines,vars,source",
                                            "-nowarn",     "-Xlint",    "-deprecation",
                                            "-parameters", "-Werror",   NULL};
        if (in_list(w, fixed))
                return true;
        if (strncmp(w, "-Xlint:", 7) == 0) /* -Xlint:all,-serial */
                return all_of(w + 7, "-,");
        return false;
}

static const char *allowed_text(family_t f)
{
        switch (f) {
        case FAM_GCC:
                return "-O0..-O3, -Os, -Og, -Ofast, -std= of a known standard, -W warnings, "
                       "-pedantic, -w, -DNAME[=VALUE], -UNAME, -g, -pthread, a few -f options, "
                       "-lm, -lpthread, -lrt, -ldl, -lgmp, -lgmpxx, -lstdc++, -lquadmath";
        case FAM_RUSTC:
                return "-g, -C debuginfo=N, -C overflow-checks=on|off, -C "
                       "debug-assertions=on|off, -C target-cpu=native, -C panic=abort|unwind, "
                       "-A/-W/-D/-F LINT (-O and --edition are set by the toolchain already)";
        case FAM_GHC:
                return "-O, -O0..-O2, -Wall, -Werror, -w, -threaded, -rtsopts, -XExtension";
        case FAM_FPC:
                return "-O-, -O1..-O4, -g, -gl, -M modes, -Sa, -Sc, -Sg, -Sh, -Si, -Cr, -Co, "
                       "-Ci, -Ct, -dNAME";
        case FAM_MCS:
                return "-optimize[+-], -debug[+-], -checked[+-], -unsafe[+-], -warn:0..4, "
                       "-warnaserror[+-], -langversion:..., -define:NAME";
        case FAM_JAVAC:
                return "-g, -g:..., -nowarn, -Xlint, -Xlint:..., -deprecation, -parameters, "
                       "-Werror";
        case FAM_NONE:
        default:
                return "none";
        }
}

int flags_check_words(const char *language, char *const *words, size_t n, char *msg, size_t msgsize)
{
        const struct lang_family *lf = find_language(language);
        if (!lf) {
                if (n == 0)
                        return 0;
                snprintf(msg, msgsize, "language '%.60s' takes no compile options",
                         language ? language : "?");
                return -1;
        }
        if (n > FLAGS_MAX) {
                snprintf(msg, msgsize, "too many compile options (%zu, at most %d)", n, FLAGS_MAX);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                const char *w = words[i];
                const char *next = i + 1 < n ? words[i + 1] : NULL;
                int used = 1;
                bool ok = false;
                if (strlen(w) > FLAGS_WORD_MAX) {
                        snprintf(msg, msgsize, "compile option \"%.40s...\" is over %d bytes", w,
                                 FLAGS_WORD_MAX);
                        return -1;
                }
                if (w[0] == '@') {
                        snprintf(msg, msgsize,
                                 "compile option \"%.60s\" is not allowed (an argument file)", w);
                        return -1;
                }
                if (w[0] != '-' || !w[1]) {
                        snprintf(msg, msgsize,
                                 "compile option \"%.60s\" is not allowed (not an option: compile "
                                 "options may not name files)",
                                 w);
                        return -1;
                }
                switch (lf->family) {
                case FAM_GCC:
                        ok = gcc_ok(lf, w);
                        break;
                case FAM_RUSTC:
                        ok = rustc_ok(w, next, &used);
                        break;
                case FAM_GHC:
                        ok = ghc_ok(w);
                        break;
                case FAM_FPC:
                        ok = fpc_ok(w);
                        break;
                case FAM_MCS:
                        ok = mcs_ok(w);
                        break;
                case FAM_JAVAC:
                        ok = javac_ok(w);
                        break;
                case FAM_NONE:
                default:
                        break;
                }
                if (!ok) {
                        snprintf(msg, msgsize,
                                 "compile option \"%.60s%s%.60s\" is not allowed for %s "
                                 "(allowed: %s)",
                                 w, used == 2 ? " " : "", used == 2 ? next : "", lf->language,
                                 allowed_text(lf->family));
                        return -1;
                }
                i += (size_t)used - 1;
        }
        return 0;
}

void flags_free(char **argv, size_t argc)
{
        for (size_t i = 0; argv && i < argc; i++)
                free(argv[i]);
        free(argv);
}

int flags_check_compiler(const char *language, const char *options, char ***argv_out,
                         size_t *argc_out, char *msg, size_t msgsize)
{
        *argv_out = NULL;
        *argc_out = 0;
        strv_t words = {0};
        rc_err_t err = {0};
        if (shell_split(options ? options : "", &words, &err) < 0) {
                snprintf(msg, msgsize, "compile options: %s", err.msg);
                return -1;
        }
        if (flags_check_words(language, words.v, words.n, msg, msgsize) < 0) {
                strv_free(&words);
                return -1;
        }
        if (!words.v) {
                words.v = calloc(1, sizeof(char *));
                if (!words.v) {
                        snprintf(msg, msgsize, "out of memory");
                        return -1;
                }
        }
        *argv_out = words.v;
        *argc_out = words.n;
        return 0;
}
