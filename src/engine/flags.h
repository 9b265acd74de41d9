/* Compile options a client may add to a language's compile command (the run document's
 * "compile_options", Judge0's "compiler_options"), checked against an allowlist per compiler
 * family so that they cannot bring back argument injection: no option that runs another
 * program (-wrapper, -fplugin=, -B, -specs=), reads a file of options (@file), moves the
 * output (-o), reaches the linker or assembler (-Wl,, -Xlinker, -T) or names any path. What is
 * allowed is a small, known set: optimisation levels, language standards from a fixed list,
 * warnings, macro definitions with a conservative character set, debug information, a few
 * libraries; see flags.c for each family.
 *
 * Program arguments need no such list: they reach the run stage, which runs the client's code
 * by design, while the compile stage must never run it (docs/SECURITY.md).
 *
 * The accepted words go where the toolchain's compile template says "{options}"
 * (the toolchains' JSON files); a language whose template has no "{options}" takes none. */
#ifndef RUNCELL_ENGINE_FLAGS_H
#define RUNCELL_ENGINE_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

#define FLAGS_MAX      32  /* words */
#define FLAGS_WORD_MAX 128 /* bytes of one word */

/* Split options (a shell-like string: util/shellwords.h, nothing expanded) and check every word
 * for language (a toolchain's name, toolchain_t.name: "c", "cpp", "rust", ...). 0 with
 * *argv_out a NULL-terminated heap array of *argc_out heap strings (free with flags_free;
 * an empty or blank string gives none), or -1 with msg naming the word refused and why. */
int flags_check_compiler(const char *language, const char *options, char ***argv_out,
                         size_t *argc_out, char *msg, size_t msgsize);
/* The same check on words already split (the run document's "compile_options"). */
int flags_check_words(const char *language, char *const *words, size_t n, char *msg,
                      size_t msgsize);
/* Does language take compile options at all (is it in one of the families)? */
bool flags_language_known(const char *language);
void flags_free(char **argv, size_t argc);

#endif
