#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
        const char *test;      /* name of the running test */
        const char *known_bug; /* its known-bug note, if any */
        unsigned failures;     /* checks that failed in it */
        bool skipped;
        char *tmpdir;
} cur;

static void vreport(const char *file, int line, const char *fmt, va_list ap)
{
        cur.failures++;
        fprintf(stderr, "%s:%d: %s%s: ", file, line, cur.known_bug ? "[known bug] " : "",
                cur.test ? cur.test : "?");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        fflush(stderr);
}

void tu_fail(const char *file, int line, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vreport(file, line, fmt, ap);
        va_end(ap);
}

bool tu_check(bool ok, const char *file, int line, const char *expr)
{
        if (!ok)
                tu_fail(file, line, "CHECK(%s) failed", expr);
        return ok;
}

bool tu_check_int_eq(long long a, long long b, const char *ea, const char *eb, const char *file,
                     int line)
{
        if (a != b)
                tu_fail(file, line, "CHECK_INT_EQ(%s, %s) failed: %lld != %lld", ea, eb, a, b);
        return a == b;
}

bool tu_check_str_eq(const char *a, const char *b, const char *ea, const char *eb, const char *file,
                     int line)
{
        bool ok = (a && b) ? strcmp(a, b) == 0 : a == b;
        if (!ok)
                tu_fail(file, line, "CHECK_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"", ea, eb,
                        a ? a : "(null)", b ? b : "(null)");
        return ok;
}

bool tu_check_contains(const char *hay, const char *needle, const char *eh, const char *file,
                       int line)
{
        bool ok = hay && needle && strstr(hay, needle);
        if (!ok)
                tu_fail(file, line, "CHECK_CONTAINS(%s): \"%s\" does not contain \"%s\"", eh,
                        hay ? hay : "(null)", needle ? needle : "(null)");
        return ok;
}

bool tu_check_ok(long long r, const char *expr, const char *detail, const char *file, int line)
{
        if (r < 0)
                tu_fail(file, line, "CHECK_OK(%s) failed: %lld (%s)%s%s", expr, r,
                        r >= -4095 ? strerror((int)-r) : "?", detail ? ": " : "",
                        detail ? detail : "");
        return r >= 0;
}

bool tu_check_fail(long long r, long long want, const char *expr, const char *file, int line)
{
        bool ok = want ? r == want : r < 0;
        if (!ok) {
                if (want)
                        tu_fail(file, line, "CHECK_FAIL(%s) failed: got %lld, want %lld", expr, r,
                                want);
                else
                        tu_fail(file, line, "CHECK_FAIL(%s) failed: got %lld, want < 0", expr, r);
        }
        return ok;
}

void tu_skip(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: skipped: ", cur.test ? cur.test : "?");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        cur.skipped = true;
}

char *tu_strf(const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        return s;
}

const char *tu_tmpdir(void)
{
        if (cur.tmpdir)
                return cur.tmpdir;
        const char *base = getenv("TMPDIR");
        if (!base || base[0] != '/')
                base = "/tmp";
        char *tmpl = tu_strf("%s/runcell-unit-XXXXXX", base);
        if (!mkdtemp(tmpl)) {
                tu_fail(__FILE__, __LINE__, "mkdtemp %s: %s", tmpl, strerror(errno));
                free(tmpl);
                return NULL;
        }
        cur.tmpdir = tmpl;
        return cur.tmpdir;
}

static int make_parents(char *path)
{
        for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
                *p = '\0';
                int r = mkdir(path, 0755);
                int e = errno;
                *p = '/';
                if (r < 0 && e != EEXIST)
                        return -e;
        }
        return 0;
}

char *tu_write_file(const char *dir, const char *name, const void *data, size_t len)
{
        char *path = tu_strf("%s/%s", dir, name);
        int fd = -1;
        if (make_parents(path) < 0 ||
            (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
                tu_fail(__FILE__, __LINE__, "create %s: %s", path, strerror(errno));
                free(path);
                return NULL;
        }
        const char *p = data;
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        tu_fail(__FILE__, __LINE__, "write %s: %s", path, strerror(errno));
                        close(fd);
                        free(path);
                        return NULL;
                }
                p += w;
                len -= (size_t)w;
        }
        close(fd);
        return path;
}

char *tu_write_str(const char *dir, const char *name, const char *text)
{
        return tu_write_file(dir, name, text, strlen(text));
}

static int make_writable(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
        if (type == FTW_D)
                chmod(path, (sb->st_mode & 07777) | S_IRWXU);
        return 0;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
        if (remove(path) < 0 && errno != ENOENT)
                fprintf(stderr, "testutil: remove %s: %s\n", path, strerror(errno));
        return 0;
}

void tu_rm_rf(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return;
        nftw(path, make_writable, 32, FTW_PHYS | FTW_MOUNT);
        nftw(path, remove_one, 32, FTW_PHYS | FTW_MOUNT | FTW_DEPTH);
}

const char *tu_source_dir(void)
{
        const char *e = getenv("RUNCELL_SOURCE_DIR");
        if (e && *e)
                return e;
#ifdef RUNCELL_SOURCE_DIR
        return RUNCELL_SOURCE_DIR;
#else
        return ".";
#endif
}

bool tu_shell_ok(const char *cmd)
{
        char *full = tu_strf("(%s) >/dev/null 2>&1", cmd);
        int st = system(full);
        free(full);
        return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool tu_sh(const char *fmt, ...)
{
        char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        bool ok = tu_shell_ok(cmd);
        if (!ok)
                FAIL("command failed: %s", cmd);
        free(cmd);
        return ok;
}

int tu_run_in_child(int (*fn)(void *), void *arg)
{
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                        dup2(null, 1);
                        dup2(null, 2);
                }
                _exit(fn(arg));
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return st;
}

static bool selected(const char *name, int argc, char **argv)
{
        if (argc <= 1)
                return true;
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], name) == 0)
                        return true;
        return false;
}

int tu_main(const char *binary, const tu_test_t *tests, size_t n, int argc, char **argv)
{
        unsigned passed = 0, failed = 0, skipped = 0, known = 0;
        bool keep = getenv("RUNCELL_TEST_KEEP") != NULL;
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (size_t i = 0; i < n; i++) {
                if (!selected(tests[i].name, argc, argv))
                        continue;
                memset(&cur, 0, sizeof(cur));
                cur.test = tests[i].name;
                cur.known_bug = tests[i].known_bug;
                tests[i].fn();
                const char *verdict;
                if (cur.known_bug && cur.failures) {
                        known++;
                        verdict = "KNOWN BUG";
                } else if (cur.known_bug) {
                        failed++;
                        verdict = "FAIL";
                        fprintf(stderr,
                                "%s: passes now but is marked as showing a known bug (%s): "
                                "remove the TU_KNOWN_BUG marker\n",
                                cur.test, cur.known_bug);
                } else if (cur.failures) {
                        failed++;
                        verdict = "FAIL";
                } else if (cur.skipped) {
                        skipped++;
                        verdict = "SKIP";
                } else {
                        passed++;
                        verdict = "ok";
                }
                printf("%-5s %s%s%s\n", verdict, cur.test, cur.known_bug ? " -- " : "",
                       cur.known_bug ? cur.known_bug : "");
                if (cur.tmpdir) {
                        if (keep)
                                printf("      (kept %s)\n", cur.tmpdir);
                        else
                                tu_rm_rf(cur.tmpdir);
                        free(cur.tmpdir);
                }
                memset(&cur, 0, sizeof(cur));
        }
        printf("%s: %u passed, %u failed", binary, passed, failed);
        if (skipped)
                printf(", %u skipped", skipped);
        if (known)
                printf(", %u known bug%s", known, known == 1 ? "" : "s");
        printf("\n");
        fflush(stdout);
        if (failed)
                return 1;
        if (passed == 0 && known == 0 && skipped > 0)
                return 77;
        return 0;
}
