/* Splitting a command line into words the way a POSIX shell does before any expansion.
 *
 * Words are separated by blanks (space, tab, newline). A backslash outside quotes keeps the
 * next character as it is (a backslash before a newline joins the lines); single quotes keep
 * everything up to the next single quote; inside double quotes a backslash escapes only $, `,
 * ", \ and a newline and is kept before any other character. Quoted and unquoted parts next to
 * each other make one word, and '' or "" is an empty word. Nothing is expanded: $, `, *, ?, ~,
 * #, ;, |, &, <, > and parentheses are ordinary characters. No shell is ever run. */
#ifndef RUNCELL_UTIL_SHELLWORDS_H
#define RUNCELL_UTIL_SHELLWORDS_H

#include "util/err.h"
#include "util/strv.h"

/* Append the words of s to out; the number of words, or -EINVAL (an unbalanced quote, a
 * backslash at the very end: err says which and where) or -ENOMEM. On failure nothing is
 * appended. */
int shell_split(const char *s, strv_t *out, rc_err_t *err);

#endif
