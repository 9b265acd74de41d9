/* util/jsonstrict: the strict JSON parser every request goes through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "util/jsonstrict.h"

/* text (len bytes) parses; the result printed compactly equals want (when given). */
static void ok_len(const char *text, size_t len, const char *want, int line)
{
        char why[160];
        cJSON *j = json_parse_strict(text, len, why, sizeof(why));
        if (!j) {
                FAIL("line %d: [%.*s] refused: %s", line, (int)len, text, why);
                return;
        }
        if (want) {
                char *p = cJSON_PrintUnformatted(j);
                if (!p || strcmp(p, want) != 0)
                        FAIL("line %d: [%.*s] parsed as [%s], want [%s]", line, (int)len, text,
                             p ? p : "(null)", want);
                free(p);
        }
        cJSON_Delete(j);
}

/* text is refused, with a reason that contains reason. */
static void bad_len(const char *text, size_t len, const char *reason, int line)
{
        char why[160];
        cJSON *j = json_parse_strict(text, len, why, sizeof(why));
        if (j) {
                FAIL("line %d: [%.*s] accepted", line, (int)len, text);
                cJSON_Delete(j);
                return;
        }
        if (!strstr(why, reason))
                FAIL("line %d: [%.*s] refused with [%s], want [%s] in it", line, (int)len, text,
                     why, reason);
}

#define OK(lit, want)    ok_len(lit, sizeof(lit) - 1, want, __LINE__)
#define BAD(lit, reason) bad_len(lit, sizeof(lit) - 1, reason, __LINE__)

static void test_valid(void)
{
        OK("{}", "{}");
        OK("[]", "[]");
        OK(" \t\r\n{\"a\":1} \n", "{\"a\":1}");
        OK("{\"language\":\"python\",\"args\":[\"x\",\"\"],\"env\":{\"A\":\"b\"}}",
           "{\"language\":\"python\",\"args\":[\"x\",\"\"],\"env\":{\"A\":\"b\"}}");
        OK("\"s\"", "\"s\"");
        OK("0", "0");
        OK("-0.5e+3", "-500");
        OK("1E2", "100");
        OK("true", "true");
        OK("false", "false");
        OK("null", "null");
        OK("[1,[2,[3,{}]],{\"a\":{\"b\":[]}}]", "[1,[2,[3,{}]],{\"a\":{\"b\":[]}}]");
        /* escapes, a surrogate pair, UTF-8 as is */
        OK("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\ud83d\\ude00 caf\xC3\xA9\"", NULL);
        /* "\\u0000" is a backslash and "u0000", not a NUL */
        OK("{\"a\":\"\\\\u0000\"}", "{\"a\":\"\\\\u0000\"}");
        /* equal keys in different objects are fine; so are keys that differ in case */
        OK("{\"a\":{\"a\":1},\"b\":{\"a\":2},\"A\":3}", NULL);
        /* many keys (the sort-based check) */
        char big[8192];
        size_t n = (size_t)snprintf(big, sizeof(big), "{");
        for (int i = 0; i < 500; i++)
                n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":%d", i ? "," : "", i, i);
        n += (size_t)snprintf(big + n, sizeof(big) - n, "}");
        ok_len(big, n, NULL, __LINE__);
        /* not NUL-terminated: only len bytes count */
        ok_len("{\"a\":1}garbage", 7, "{\"a\":1}", __LINE__);
}

static void test_nul(void)
{
        BAD("{\"language\":\"python\\u0000x\"}", "NUL");
        BAD("{\"language\":\"python\\U0000x\"}", "invalid escape");
        BAD("[\"\\u0000\"]", "NUL");
        BAD("{\"a\\u0000b\":1}", "NUL");
        /* a raw NUL byte inside a string, and outside one */
        BAD("{\"a\":\"x\0y\"}", "NUL");
        BAD("{\"a\":1}\0", "data after");
}

static void test_duplicates(void)
{
        BAD("{\"language\":\"python\",\"language\":\"c\"}", "duplicate key \"language\"");
        /* decoded keys are compared: \u0061 is "a" */
        BAD("{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"");
        BAD("{\"files\":[{\"name\":\"x\",\"name\":\"y\"}]}", "duplicate key \"name\"");
        BAD("{\"env\":{\"A\":\"1\",\"B\":\"2\",\"A\":\"3\"}}", "duplicate key \"A\"");
        char big[8192];
        size_t n = (size_t)snprintf(big, sizeof(big), "{");
        for (int i = 0; i < 300; i++)
                n += (size_t)snprintf(big + n, sizeof(big) - n, "\"k%d\":0,", i);
        n += (size_t)snprintf(big + n, sizeof(big) - n, "\"k150\":1}");
        bad_len(big, n, "duplicate key \"k150\"", __LINE__);
}

static void test_trailing(void)
{
        BAD("{\"language\":\"python\"} x", "data after the JSON value at byte 22");
        BAD("{\"a\":1}{\"a\":2}", "data after the JSON value at byte 7");
        BAD("{}\n{}", "data after");
        BAD("[1]]", "data after");
        BAD("1 2", "data after");
}

static void test_grammar(void)
{
        BAD("", "unexpected end");
        BAD("   ", "unexpected end");
        BAD("{", "unexpected end");
        BAD("{\"a\"", "expected ':'");
        BAD("{\"a\":}", "invalid JSON");
        BAD("{\"a\":1,}", "expected a key");
        BAD("[1,]", "invalid JSON");
        BAD("[1 2]", "expected ',' or ']'");
        BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'");
        BAD("{a:1}", "expected a key");
        BAD("'s'", "invalid JSON");
        BAD("\"abc", "unterminated string");
        BAD("\"a\\", "unterminated string");
        BAD("\"a\tb\"", "control character");
        BAD("\"a\nb\"", "control character");
        BAD("\"\\x41\"", "invalid escape");
        BAD("\"\\u12G4\"", "invalid \\u escape");
        BAD("\"\\u12\"", "invalid \\u escape");
        BAD("\"\\ud83d\"", "lone high surrogate");
        BAD("\"\\ud83d\\u0041\"", "lone high surrogate");
        BAD("\"\\ude00\"", "lone low surrogate");
        BAD("01", "leading zero");
        BAD("-", "invalid number");
        BAD("+1", "invalid JSON");
        BAD("1.", "invalid number");
        BAD(".5", "invalid JSON");
        BAD("1e", "invalid number");
        BAD("tru", "invalid JSON");
        BAD("nul", "invalid JSON");
        BAD("True", "invalid JSON");
        BAD("NaN", "invalid JSON");
        bad_len(NULL, 0, "unexpected end", __LINE__);
}

static void test_depth(void)
{
        size_t n = JSON_STRICT_DEPTH_MAX + 1;
        char *deep = malloc(2 * n);
        if (!CHECK(deep))
                return;
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        bad_len(deep, 2 * n, "nested too deeply", __LINE__);
        /* a little less deep is parsed */
        size_t m = 100;
        memset(deep, '[', m);
        memset(deep + m, ']', m);
        ok_len(deep, 2 * m, NULL, __LINE__);
        free(deep);
}

static void test_why_optional(void)
{
        CHECK(json_parse_strict("{\"a\":1,\"a\":1}", 13, NULL, 0) == NULL);
        cJSON *j = json_parse_strict("[1]", 3, NULL, 0);
        CHECK(j != NULL);
        cJSON_Delete(j);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_valid),        TU_TEST(test_nul),     TU_TEST(test_duplicates),
            TU_TEST(test_trailing),     TU_TEST(test_grammar), TU_TEST(test_depth),
            TU_TEST(test_why_optional),
        };
        return tu_main("test_jsonstrict", tests, TU_COUNT(tests), argc, argv);
}
