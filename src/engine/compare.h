/* Comparing a program's output with a test's expected output: the built-in modes of a judge
 * (a checker program, the other mode, runs in a sandbox of its own). Every mode is linear in the
 * sizes of both texts and allocates nothing: the output compared is untrusted. */
#ifndef RUNCELL_ENGINE_COMPARE_H
#define RUNCELL_ENGINE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum compare_mode {
        COMPARE_EXACT,  /* byte for byte */
        COMPARE_TRIM,   /* trailing white space of each line and of the whole ignored (Judge0) */
        COMPARE_TOKENS, /* the same white-space separated tokens */
        COMPARE_FLOAT,  /* tokens, numbers equal within abs_tol or rel_tol of the expected one */
} compare_mode_t;

typedef struct compare_opts {
        compare_mode_t mode;
        double abs_tol; /* COMPARE_FLOAT: |got - expected| <= abs_tol, or */
        double rel_tol; /*   |got - expected| <= rel_tol * |expected| */
} compare_opts_t;

#define COMPARE_DEFAULT_TOL 1e-6
#define COMPARE_EXCERPT_MAX 120 /* bytes of each side's line in a difference */

/* Where two texts first differ: the 1-based line of each (lines of the texts as given, so that
 * a user finds them) and an excerpt of those lines (cut at a UTF-8 boundary, without the line
 * end; "" past the end of a text, with at_end set). */
typedef struct compare_diff {
        size_t expected_line, got_line;
        bool expected_at_end, got_at_end;
        char expected[COMPARE_EXCERPT_MAX + 1];
        char got[COMPARE_EXCERPT_MAX + 1];
} compare_diff_t;

/* "exact", "trim", "tokens", "float" -> mode; -1 for anything else. */
int compare_mode_parse(const char *name, compare_mode_t *out);
const char *compare_mode_name(compare_mode_t mode);

/* true when got matches expected under o; otherwise false with *d (when d is not NULL) saying
 * where they first differ. */
bool compare_outputs(const compare_opts_t *o, const char *expected, size_t elen, const char *got,
                     size_t glen, compare_diff_t *d);

#endif
