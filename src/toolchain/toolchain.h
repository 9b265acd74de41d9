/* Language toolchains: parsed once from toolchains/<name>.json into plain structs. */
#ifndef RUNCELL_TOOLCHAIN_TOOLCHAIN_H
#define RUNCELL_TOOLCHAIN_TOOLCHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "job/limits.h"
#include "util/err.h"
#include "util/strv.h"

/* A runnable example that front-ends, docs and tests use: source, its stdin, expected stdout. */
typedef struct toolchain_example {
        char *source;
        char *stdin_text; /* NULL: none */
        char *stdout_text;
} toolchain_example_t;

typedef struct toolchain {
        char *name;
        char *display_name; /* "C++ (GCC)"; NULL: the name */
        strv_t aliases;
        char *rootfs;          /* root filesystem name, e.g. "gcc" */
        char *version_package; /* manifest package that carries the language version */
        char *source_file;     /* name given to a single unnamed source */
        strv_t source_ext;     /* which files {sources} expands to; empty = all */
        strv_t compile;        /* argv template; n == 0: interpreted */
        strv_t run;            /* argv template; user args are appended */
        strv_t env;            /* "KEY=value" */
        rc_limits_t limits_compile;
        rc_limits_t limits_run;
        char *seccomp_profile;
        /* what the compile stage leaves depends only on its inputs: it may be taken from the
         * build cache (job/buildcache.h) instead of compiled again */
        bool compile_cache;
        toolchain_example_t hello; /* examples.hello: prints a greeting, reads nothing */
        toolchain_example_t stdin; /* examples.stdin: transforms its standard input */
} toolchain_t;

typedef struct toolchain_set {
        toolchain_t **items;
        size_t n;
} toolchain_set_t;

/* Parse one toolchain document; `origin` names it in error messages. */
int toolchain_parse(const char *json, size_t len, const char *origin, toolchain_t **out,
                    rc_err_t *err);
void toolchain_free(toolchain_t *tc);

/* Load every *.json in dir, sorted by file name. Several toolchains may share a name: they
 * are versions of one language (go.json and go@trixie.json, both "go"), each from its own root
 * filesystem, whose manifest gives the version; a name or alias used by two languages is an
 * error. */
int toolchain_set_load(toolchain_set_t *set, const char *dir, rc_err_t *err);
/* The same, parsing only the files whose text holds token as a JSON string (a name, an alias,
 * an extension such as ".py"): what a one-shot run needs, without parsing every language. The
 * result may hold other toolchains too and may be empty; duplicates are checked only among the
 * files parsed. */
int toolchain_set_load_mentioning(toolchain_set_t *set, const char *dir, const char *token,
                                  rc_err_t *err);
/* toolchain_set_load_mentioning with an index of dir kept in the file index (the state
 * directory's toolchains.index): for each toolchain file its identity (device, inode, size,
 * modification time) and the words a lookup matches (its name, aliases and source extensions).
 * A file whose identity is the one indexed is read only when token is one of its words; any
 * other (new, changed, changed in the last 2 s, or one that does not parse, which the index
 * marks as such) is read as toolchain_set_load_mentioning reads it; the index is written anew
 * when a file is not in it as it is now (to a temporary file
 * renamed over it; a failure to write it only costs the next run the same reads). The toolchains a
 * lookup of token finds (toolchain_set_find, extensions, versions of one name) are the same; files
 * that hold token only elsewhere (in a command) are not parsed. token and index must not be NULL.
 */
int toolchain_set_load_indexed(toolchain_set_t *set, const char *dir, const char *token,
                               const char *index, rc_err_t *err);
/* The first toolchain (in file order) of the language with this name or alias. */
const toolchain_t *toolchain_set_find(const toolchain_set_t *set, const char *name_or_alias);
void toolchain_set_free(toolchain_set_t *set);

/* Expand an argv template: "{entry}" becomes entry, "{sources}" becomes every file whose
 * name ends in one of tc->source_ext (all files when the list is empty), then args are
 * appended. files are paths relative to the work dir. */
int toolchain_expand_argv(const toolchain_t *tc, const strv_t *tpl, const char *entry,
                          char *const *files, size_t nfiles, char *const *args, strv_t *out,
                          rc_err_t *err);
/* The same, "{options}" becoming the words of options (a NULL-terminated array, checked by
 * engine/flags.h; NULL: none); without options toolchain_expand_argv drops "{options}". */
int toolchain_expand_argv_opts(const toolchain_t *tc, const strv_t *tpl, const char *entry,
                               char *const *files, size_t nfiles, char *const *options,
                               char *const *args, strv_t *out, rc_err_t *err);
/* Does the template have an "{options}" place (does the language take compile options)? */
bool toolchain_takes_options(const strv_t *tpl);

/* Versions as the manifests give them ("1.24.4", "20.19.2"): compared part by part, numbers
 * as numbers ("1.9" < "1.19" < "1.19.1"); <0, 0, >0. */
int toolchain_version_cmp(const char *a, const char *b);
/* Does version answer the one asked for? NULL, "", "*", "x" and "latest": any; otherwise want is
 * the version or its start up to a dot ("1.24" and "1" answer to "1.24.4", "1.2" does not);
 * a trailing ".x" or ".*" is the same as none ("1.x" is "1"). */
bool toolchain_version_matches(const char *version, const char *want);

/* Look a variable up in tc->env ("PATH" -> value), NULL when absent. */
const char *toolchain_env_get(const toolchain_t *tc, const char *key);

#endif
