/* Patterns for the files a run asks back ("outputs": ["*.png", "plots/x?.svg"]): fnmatch-style
 * globs relative to /work, matched one path component at a time, as fnmatch(FNM_PATHNAME |
 * FNM_PERIOD) does: '*' and '?' never match '/', and a leading '.' of a component must be
 * matched by a literal '.' (so "*" does not take ".cache"). '*' any bytes, '?' one byte,
 * "[abc]", "[a-z]", "[!x]" or "[^x]" one byte of (or not of) the set, '\' quotes the next
 * byte. Bytes, not characters: a name is matched as the bytes it has. Nothing here allocates
 * (the sandbox's init uses it). */
#ifndef RUNCELL_UTIL_GLOB_H
#define RUNCELL_UTIL_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#define GLOB_PATTERN_MAX 200 /* bytes of one pattern */
#define GLOB_DEPTH_MAX   4   /* components of one pattern: "a/b/c/x.png" */

/* Whether pattern is one we take: 1..GLOB_PATTERN_MAX bytes, 1..GLOB_DEPTH_MAX components,
 * relative (no leading '/'), no empty component ("a//b", trailing '/'), no "." or ".."
 * component, no control byte, brackets closed, no '\' at the end. On false, *why says what. */
bool glob_pattern_valid(const char *pattern, const char **why);
/* Number of components of a valid pattern (or path): 1 + the '/' in it. */
int glob_depth(const char *s);
/* One component: pattern pat (plen bytes, no '/') against name (nlen bytes, no '/'). */
bool glob_match_component(const char *pat, size_t plen, const char *name, size_t nlen);
/* The whole path (components separated by '/') against the whole pattern: same number of
 * components, each matching. */
bool glob_match(const char *pattern, const char *path);
/* Whether the path of a directory (depth components) matches the first components of
 * pattern, which has more: something below it may match. */
bool glob_match_dir(const char *pattern, const char *dir);

#endif
