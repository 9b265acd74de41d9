/* engine/compare: the judge's built-in output comparisons and where they report a difference. */
#include <stdlib.h>
#include <string.h>

#include "engine/compare.h"
#include "testutil.h"

static bool cmp(compare_mode_t mode, const char *expected, const char *got, compare_diff_t *d)
{
        compare_opts_t o = {.mode = mode, .abs_tol = 1e-6, .rel_tol = 1e-6};
        return compare_outputs(&o, expected, strlen(expected), got, strlen(got), d);
}

static void check_diff(const compare_diff_t *d, size_t eline, const char *e, size_t gline,
                       const char *g)
{
        CHECK_INT_EQ(d->expected_line, eline);
        CHECK_STR_EQ(d->expected, e);
        CHECK_INT_EQ(d->got_line, gline);
        CHECK_STR_EQ(d->got, g);
}

static void test_modes_parse(void)
{
        compare_mode_t m;
        CHECK_INT_EQ(compare_mode_parse("exact", &m), 0);
        CHECK_INT_EQ(m, COMPARE_EXACT);
        CHECK_INT_EQ(compare_mode_parse("trim", &m), 0);
        CHECK_INT_EQ(m, COMPARE_TRIM);
        CHECK_INT_EQ(compare_mode_parse("tokens", &m), 0);
        CHECK_INT_EQ(compare_mode_parse("float", &m), 0);
        CHECK_INT_EQ(m, COMPARE_FLOAT);
        CHECK_INT_EQ(compare_mode_parse("checker", &m), -1); /* not a built-in mode */
        CHECK_INT_EQ(compare_mode_parse("Exact", &m), -1);
        CHECK_INT_EQ(compare_mode_parse("", &m), -1);
        CHECK_STR_EQ(compare_mode_name(COMPARE_TOKENS), "tokens");
}

static void test_exact(void)
{
        compare_diff_t d;
        CHECK(cmp(COMPARE_EXACT, "", "", NULL));
        CHECK(cmp(COMPARE_EXACT, "a\nb\n", "a\nb\n", &d));
        CHECK(!cmp(COMPARE_EXACT, "a\nb\nc\n", "a\nB\nc\n", &d));
        check_diff(&d, 2, "b", 2, "B");
        CHECK(!d.expected_at_end && !d.got_at_end);
        /* trailing white space and the final line end count */
        CHECK(!cmp(COMPARE_EXACT, "a\n", "a \n", &d));
        check_diff(&d, 1, "a", 1, "a ");
        CHECK(!cmp(COMPARE_EXACT, "a\n", "a", &d));
        check_diff(&d, 1, "a", 1, "a");
        /* one more line: the shorter text is at its end */
        CHECK(!cmp(COMPARE_EXACT, "a\n", "a\nextra\n", &d));
        check_diff(&d, 2, "", 2, "extra");
        CHECK(d.expected_at_end && !d.got_at_end);
        CHECK(!cmp(COMPARE_EXACT, "a\nb\n", "", &d));
        check_diff(&d, 1, "a", 1, "");
        CHECK(d.got_at_end);
        /* NUL bytes are bytes */
        CHECK(
            !compare_outputs(&(compare_opts_t){.mode = COMPARE_EXACT}, "a\0b", 3, "a\0c", 3, NULL));
}

static void test_trim(void)
{
        compare_diff_t d;
        /* Judge0: every line right-stripped, then the whole */
        CHECK(cmp(COMPARE_TRIM, "a  \nb\t\n\n\n", "a\nb", NULL));
        CHECK(cmp(COMPARE_TRIM, "a\r\nb\r\n", "a\nb\n", NULL));
        CHECK(cmp(COMPARE_TRIM, "a\n \n\t\nb\n", "a\n\n\nb", NULL)); /* blank lines inside */
        CHECK(cmp(COMPARE_TRIM, "", "\n\n  \n", NULL));
        CHECK(cmp(COMPARE_TRIM, "\n\n", "", NULL));
        /* but not the leading white space, nor a blank line inside */
        CHECK(!cmp(COMPARE_TRIM, "a\n", " a\n", &d));
        check_diff(&d, 1, "a", 1, " a");
        CHECK(!cmp(COMPARE_TRIM, "a\n\nb\n", "a\nb\n", &d));
        check_diff(&d, 2, "", 2, "b");
        CHECK(!cmp(COMPARE_TRIM, "\na", "a", &d));
        check_diff(&d, 1, "", 1, "a");
        /* an extra line after blank ones is found where it is */
        CHECK(!cmp(COMPARE_TRIM, "x\n", "x\n\n\nmore\n", &d));
        CHECK_INT_EQ(d.got_line, 4);
        CHECK_STR_EQ(d.got, "more");
        CHECK(d.expected_at_end);
        CHECK(!cmp(COMPARE_TRIM, "x\n\n  \nmissing", "x\n", &d));
        CHECK_INT_EQ(d.expected_line, 4);
        CHECK_STR_EQ(d.expected, "missing");
        CHECK(d.got_at_end);
}

static void test_tokens(void)
{
        compare_diff_t d;
        CHECK(cmp(COMPARE_TOKENS, "1 2\n3\n", "  1\n2   3  \n\n", NULL));
        CHECK(cmp(COMPARE_TOKENS, "", " \n\t", NULL));
        CHECK(!cmp(COMPARE_TOKENS, "1 2\n3 4\n", "1 2\n3 5\n", &d));
        check_diff(&d, 2, "3 4", 2, "3 5");
        CHECK(!cmp(COMPARE_TOKENS, "1 2 3", "1 2", &d));
        CHECK(d.got_at_end && !d.expected_at_end);
        CHECK(!cmp(COMPARE_TOKENS, "1.0", "1", &d)); /* tokens are text */
        CHECK(!cmp(COMPARE_TOKENS, "ab", "a b", &d));
}

static void test_float(void)
{
        compare_diff_t d;
        CHECK(cmp(COMPARE_FLOAT, "0.1 2", "0.1000004 2.0000000001", NULL));
        CHECK(cmp(COMPARE_FLOAT, "1e9", "1000000400", NULL)); /* relative */
        CHECK(cmp(COMPARE_FLOAT, "-0", "0.0", NULL));
        CHECK(cmp(COMPARE_FLOAT, "yes 3.14159", "yes 3.1415905", NULL));
        CHECK(!cmp(COMPARE_FLOAT, "0.1", "0.1001", &d));
        check_diff(&d, 1, "0.1", 1, "0.1001");
        CHECK(!cmp(COMPARE_FLOAT, "1e9", "1000002000", NULL));
        CHECK(!cmp(COMPARE_FLOAT, "yes", "no", NULL));
        CHECK(!cmp(COMPARE_FLOAT, "1", "1x", NULL)); /* not a number as a whole */
        CHECK(!cmp(COMPARE_FLOAT, "inf", "1e308", NULL));
        CHECK(cmp(COMPARE_FLOAT, "nan", "nan", NULL)); /* the same text */
        CHECK(!cmp(COMPARE_FLOAT, "nan", "0", NULL));
        compare_opts_t o = {.mode = COMPARE_FLOAT, .abs_tol = 0.5, .rel_tol = 0};
        CHECK(compare_outputs(&o, "10", 2, "10.4", 4, NULL));
        CHECK(!compare_outputs(&o, "10", 2, "10.6", 4, NULL));
}

static void test_excerpt_utf8_cut(void)
{
        /* a long line of two-byte characters: the excerpt ends on a character boundary */
        size_t n = 300;
        char *e = malloc(2 * n + 1), *g = malloc(2 * n + 2);
        REQUIRE(e && g);
        for (size_t i = 0; i < n; i++)
                memcpy(e + 2 * i, "\xc3\xa9", 2);
        e[2 * n] = '\0';
        memcpy(g, e, 2 * n);
        g[2 * n] = 'x';
        g[2 * n + 1] = '\0';
        compare_diff_t d;
        CHECK(!cmp(COMPARE_EXACT, e, g, &d));
        size_t len = strlen(d.expected);
        CHECK(len > 0 && len <= COMPARE_EXCERPT_MAX);
        CHECK(len % 2 == 0);
        CHECK_STR_EQ(d.expected, d.got);
        free(e);
        free(g);
}

static void test_large(void)
{
        /* 8 MB each, one difference near the end: found, with its line */
        size_t lines = 1 << 20;
        char *e = malloc(lines * 8 + 1), *g = malloc(lines * 8 + 1);
        REQUIRE(e && g);
        for (size_t i = 0; i < lines; i++)
                memcpy(e + 8 * i, "1234567\n", 8);
        e[lines * 8] = '\0';
        memcpy(g, e, lines * 8 + 1);
        g[(lines - 3) * 8 + 2] = 'X';
        compare_diff_t d;
        for (int m = COMPARE_EXACT; m <= COMPARE_FLOAT; m++) {
                CHECK(cmp((compare_mode_t)m, e, e, NULL));
                CHECK(!cmp((compare_mode_t)m, e, g, &d));
                CHECK_INT_EQ(d.expected_line, lines - 2);
                CHECK_INT_EQ(d.got_line, lines - 2);
                CHECK_STR_EQ(d.got, "12X4567");
        }
        free(e);
        free(g);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_modes_parse), TU_TEST(test_exact), TU_TEST(test_trim),
            TU_TEST(test_tokens),      TU_TEST(test_float), TU_TEST(test_excerpt_utf8_cut),
            TU_TEST(test_large),
        };
        return tu_main("test_compare", tests, TU_COUNT(tests), argc, argv);
}
