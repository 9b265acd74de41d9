/* A minimal unit-test harness for runcell's C tests.
 *
 * Checks record a failure (file:line, the expression and the values) and go on; each one
 * evaluates to true when it held, so `if (!CHECK(p)) return;` stops a test early (REQUIRE).
 * A test binary lists its tests in main() and hands them to tu_main(), which runs them in
 * order, gives each a fresh temporary directory on demand (removed afterwards, kept when
 * RUNCELL_TEST_KEEP is set) and prints "<binary>: N passed, M failed". Exit status: 0 iff
 * nothing failed, 77 (skip) when every test skipped. Command-line arguments select tests by
 * name.
 *
 * A test registered with TU_KNOWN_BUG shows a bug in src/ that is not fixed yet: its failures
 * are printed as "known bug" and do not fail the binary; once it passes, the binary fails
 * so that the marker is removed. */
#ifndef RUNCELL_TESTUTIL_H
#define RUNCELL_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tu_test {
        const char *name;
        void (*fn)(void);
        const char *known_bug; /* non-NULL: the bug this test shows (see above) */
} tu_test_t;

#define TU_TEST(fn)                                                                                \
        {                                                                                          \
#fn, fn, NULL                                                                      \
        }
#define TU_KNOWN_BUG(fn, what)                                                                     \
        {                                                                                          \
#fn, fn, what                                                                      \
        }
/* The "examples" member every toolchain document needs (toolchain_parse refuses one without),
 * for tests whose documents are about something else. */
#define TU_TC_EXAMPLES                                                                             \
        "\"examples\": {\"hello\": {\"source\": \"echo hi\", \"stdout\": \"hi\\n\"}, "             \
        "\"stdin\": {\"source\": \"cat\", \"stdin\": \"x\", \"stdout\": \"x\"}}"
#define TU_COUNT(a) (sizeof(a) / sizeof((a)[0]))

int tu_main(const char *binary, const tu_test_t *tests, size_t n, int argc, char **argv);

bool tu_check(bool ok, const char *file, int line, const char *expr);
bool tu_check_int_eq(long long a, long long b, const char *ea, const char *eb, const char *file,
                     int line);
bool tu_check_str_eq(const char *a, const char *b, const char *ea, const char *eb, const char *file,
                     int line);
bool tu_check_contains(const char *hay, const char *needle, const char *eh, const char *file,
                       int line);
bool tu_check_ok(long long r, const char *expr, const char *detail, const char *file, int line);
bool tu_check_fail(long long r, long long want, const char *expr, const char *file, int line);
/* Record a failure with a free-form message. */
void tu_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(cond) tu_check(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_INT_EQ(a, b)                                                                         \
        tu_check_int_eq((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_STR_EQ(a, b)   tu_check_str_eq((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_CONTAINS(h, n) tu_check_contains((h), (n), #h, __FILE__, __LINE__)
/* expr returns an int >= 0 on success. */
#define CHECK_OK(expr) tu_check_ok((long long)(expr), #expr, NULL, __FILE__, __LINE__)
/* The same, printing err's message (an rc_err_t) on failure. */
#define CHECK_OK_E(expr, err) tu_check_ok((long long)(expr), #expr, (err).msg, __FILE__, __LINE__)
/* expr returns a negative value; with want != 0 exactly want (e.g. -EINVAL). */
#define CHECK_FAIL(expr, want) tu_check_fail((long long)(expr), (want), #expr, __FILE__, __LINE__)
#define FAIL(...)              tu_fail(__FILE__, __LINE__, __VA_ARGS__)
/* Stop the current test when cond does not hold. */
#define REQUIRE(cond)                                                                              \
        do {                                                                                       \
                if (!CHECK(cond))                                                                  \
                        return;                                                                    \
        } while (0)

/* Mark the current test as skipped (the caller returns right after). */
void tu_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current test's temporary directory (created on first use under $TMPDIR or /tmp and
 * removed after the test), or NULL after recording a failure. */
const char *tu_tmpdir(void);
/* printf into a heap string (aborts on ENOMEM: tests only). */
char *tu_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Create dir/name (parent directories too) holding len bytes of data; heap path or NULL
 * after recording a failure. */
char *tu_write_file(const char *dir, const char *name, const void *data, size_t len);
char *tu_write_str(const char *dir, const char *name, const char *text);
/* Remove a tree (no failure recorded when it is missing). */
void tu_rm_rf(const char *path);
/* The repository checkout: $RUNCELL_SOURCE_DIR, else the path compiled into the library. */
const char *tu_source_dir(void);
/* Does a program run ("sh -c 'cmd' >/dev/null 2>&1" exits 0)? */
bool tu_shell_ok(const char *cmd);
/* tu_shell_ok on a formatted command, recording a failure (with the command) when it fails. */
bool tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run fn(arg) in a forked child with stdout/stderr sent to /dev/null and return its wait
 * status (for code that may crash); -1 when fork fails. The child ends with _exit(ret). */
int tu_run_in_child(int (*fn)(void *), void *arg);

#endif
