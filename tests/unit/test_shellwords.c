/* util/shellwords: splitting a command line into words like a POSIX shell, without expansion. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "testutil.h"
#include "util/shellwords.h"

/* Split in and compare with the expected words (a NULL-terminated list). */
static void check_split(int line, const char *in, ...)
{
        const char *want[32];
        size_t nwant = 0;
        va_list ap;
        va_start(ap, in);
        for (const char *w; (w = va_arg(ap, const char *)) && nwant < 32;)
                want[nwant++] = w;
        va_end(ap);
        strv_t out = {0};
        rc_err_t err = {0};
        int n = shell_split(in, &out, &err);
        if (n < 0) {
                FAIL("line %d: [%s] refused: %s", line, in, err.msg);
                return;
        }
        if ((size_t)n != nwant || out.n != nwant) {
                FAIL("line %d: [%s] gave %d words (vector %zu), want %zu", line, in, n, out.n,
                     nwant);
        } else {
                for (size_t i = 0; i < nwant; i++)
                        if (strcmp(out.v[i], want[i]) != 0)
                                FAIL("line %d: [%s] word %zu is [%s], want [%s]", line, in, i,
                                     out.v[i], want[i]);
        }
        strv_free(&out);
}

#define SPLIT(in, ...) check_split(__LINE__, in, __VA_ARGS__, (const char *)NULL)
#define NONE(in)       check_split(__LINE__, in, (const char *)NULL)

static void check_refused(int line, const char *in, const char *why)
{
        strv_t out = {0};
        strv_push(&out, "kept");
        rc_err_t err = {0};
        int n = shell_split(in, &out, &err);
        if (n != -EINVAL)
                FAIL("line %d: [%s] gave %d, want -EINVAL", line, in, n);
        else if (!strstr(err.msg, why))
                FAIL("line %d: [%s] error [%s] does not say [%s]", line, in, err.msg, why);
        if (out.n != 1 || strcmp(out.v[0], "kept") != 0 || out.v[1] != NULL)
                FAIL("line %d: [%s] changed the vector on failure (%zu words)", line, in, out.n);
        strv_free(&out);
}

#define REFUSED(in, why) check_refused(__LINE__, in, why)

static void test_blanks(void)
{
        NONE("");
        NONE("   ");
        NONE(" \t\n ");
        SPLIT("--help", "--help");
        SPLIT("a b  c", "a", "b", "c");
        SPLIT("  lead and trail  ", "lead", "and", "trail");
        SPLIT("tab\tnew\nline", "tab", "new", "line");
}

static void test_single_quotes(void)
{
        SPLIT("'hello world'", "hello world");
        SPLIT("'a \"b\" \\c $d'", "a \"b\" \\c $d");
        SPLIT("x'y z'w", "xy zw");
        SPLIT("''", "");
        SPLIT("a '' b", "a", "", "b");
        SPLIT("'it'\\''s'", "it's");
        SPLIT("'line\nbreak'", "line\nbreak");
}

static void test_double_quotes(void)
{
        SPLIT("\"hello world\"", "hello world");
        SPLIT("\"\"", "");
        SPLIT("\"a\"\"b\"", "ab");
        /* only $ ` " \ and newline are escaped; the backslash stays before anything else */
        SPLIT("\"\\$HOME \\` \\\" \\\\ \\n \\a\"", "$HOME ` \" \\ \\n \\a");
        SPLIT("\"one\\\ntwo\"", "onetwo");
        SPLIT("\"it's\"", "it's");
        SPLIT("--name=\"Ada Lovelace\" -v", "--name=Ada Lovelace", "-v");
}

static void test_backslashes(void)
{
        SPLIT("a\\ b", "a b");
        SPLIT("\\'quoted\\'", "'quoted'");
        SPLIT("\\\"x\\\"", "\"x\"");
        SPLIT("\\\\", "\\");
        SPLIT("\\n", "n");
        /* a backslash-newline joins the lines and is no word of its own */
        SPLIT("ab\\\ncd", "abcd");
        SPLIT("a \\\n b", "a", "b");
        NONE("\\\n");
}

static void test_nothing_expanded(void)
{
        SPLIT("$HOME ~ * ? [a] `id` $(id)", "$HOME", "~", "*", "?", "[a]", "`id`", "$(id)");
        SPLIT("a;b | c && d > e < f # g", "a;b", "|", "c", "&&", "d", ">", "e", "<", "f", "#", "g");
        SPLIT("caf\xC3\xA9 \xE2\x82\xAC", "caf\xC3\xA9", "\xE2\x82\xAC");
}

static void test_refused(void)
{
        REFUSED("'open", "unbalanced single quote (opened at byte 1)");
        REFUSED("a \"b c", "unbalanced double quote (opened at byte 3)");
        REFUSED("\"a\\\"", "unbalanced double quote");
        REFUSED("ok 'x'y'", "unbalanced single quote (opened at byte 8)");
        REFUSED("trailing\\", "backslash at the end (byte 9)");
}

static void test_appends(void)
{
        strv_t out = {0};
        rc_err_t err = {0};
        REQUIRE(strv_push(&out, "prog") == 0);
        CHECK_INT_EQ(shell_split("one 'two three'", &out, &err), 2);
        CHECK_INT_EQ(out.n, 3);
        if (out.n == 3) {
                CHECK_STR_EQ(out.v[0], "prog");
                CHECK_STR_EQ(out.v[2], "two three");
                CHECK(out.v[3] == NULL);
        }
        CHECK_INT_EQ(shell_split(NULL, &out, &err), 0);
        CHECK_INT_EQ(out.n, 3);
        strv_free(&out);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_blanks),           TU_TEST(test_single_quotes),
            TU_TEST(test_double_quotes),    TU_TEST(test_backslashes),
            TU_TEST(test_refused),          TU_TEST(test_appends),
            TU_TEST(test_nothing_expanded),
        };
        return tu_main("test_shellwords", tests, TU_COUNT(tests), argc, argv);
}
