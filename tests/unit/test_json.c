/* util/json: quoting arbitrary bytes as valid JSON/UTF-8. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "util/buf.h"
#include "util/json.h"

#define FFFD "\xEF\xBF\xBD"

/* Quote len bytes and compare with want (the JSON text, quotes included); the result must
 * parse back with cJSON into a string equal to decoded (when given). */
static void check_quote(const char *in, size_t len, const char *want, const char *decoded, int line)
{
        buf_t b = {0};
        if (!CHECK_OK(json_quote_bytes(&b, in, len)))
                goto out;
        if (strcmp(b.data, want) != 0)
                FAIL("line %d: quoted as [%s], want [%s]", line, b.data, want);
        cJSON *j = cJSON_Parse(b.data);
        if (!j) {
                FAIL("line %d: [%s] does not parse back", line, b.data);
                goto out;
        }
        if (!cJSON_IsString(j))
                FAIL("line %d: [%s] parses to a non-string", line, b.data);
        else if (decoded && strcmp(j->valuestring, decoded) != 0)
                FAIL("line %d: [%s] decodes to [%s], want [%s]", line, b.data, j->valuestring,
                     decoded);
        cJSON_Delete(j);
out:
        buf_free(&b);
}

#define QUOTE(lit, want, decoded) check_quote(lit, sizeof(lit) - 1, want, decoded, __LINE__)

static void test_quote_valid_text(void)
{
        QUOTE("", "\"\"", "");
        QUOTE("hello, world", "\"hello, world\"", "hello, world");
        /* 2-, 3- and 4-byte sequences pass through */
        QUOTE("caf\xC3\xA9", "\"caf\xC3\xA9\"", "caf\xC3\xA9");
        QUOTE("\xE2\x82\xAC 5", "\"\xE2\x82\xAC 5\"", "\xE2\x82\xAC 5");
        QUOTE("\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\"", "\xF0\x9F\x98\x80");
        /* the edges of the valid ranges */
        QUOTE("\xC2\x80", "\"\xC2\x80\"", "\xC2\x80");
        QUOTE("\xED\x9F\xBF", "\"\xED\x9F\xBF\"", "\xED\x9F\xBF");
        QUOTE("\xEE\x80\x80", "\"\xEE\x80\x80\"", "\xEE\x80\x80");
        QUOTE("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\"", "\xF4\x8F\xBF\xBF");
        QUOTE("\xE0\xA0\x80", "\"\xE0\xA0\x80\"", "\xE0\xA0\x80");
        QUOTE("\xF0\x90\x80\x80", "\"\xF0\x90\x80\x80\"", "\xF0\x90\x80\x80");
}

static void test_quote_escapes(void)
{
        QUOTE("say \"hi\"", "\"say \\\"hi\\\"\"", "say \"hi\"");
        QUOTE("a\\b", "\"a\\\\b\"", "a\\b");
        QUOTE("l1\nl2\tx\r", "\"l1\\nl2\\tx\\r\"", "l1\nl2\tx\r");
        QUOTE("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"", "\x01\x1f\x7f");
        QUOTE("/", "\"/\"", "/");
        /* NUL becomes \u0000 (the decoded C string ends there) */
        QUOTE("a\0b", "\"a\\u0000b\"", NULL);
        QUOTE("\0", "\"\\u0000\"", NULL);
}

static void test_quote_invalid_bytes(void)
{
        QUOTE("\xff", "\"" FFFD "\"", FFFD);
        QUOTE("a\xfe"
              "b",
              "\"a" FFFD "b\"", "a" FFFD "b");
        /* a lone continuation byte */
        QUOTE("\x80", "\"" FFFD "\"", FFFD);
        QUOTE("x\xBFy", "\"x" FFFD "y\"", "x" FFFD "y");
        /* overlong encodings: every byte is replaced */
        QUOTE("\xC0\x80", "\"" FFFD FFFD "\"", FFFD FFFD);
        QUOTE("\xC1\xBF", "\"" FFFD FFFD "\"", FFFD FFFD);
        QUOTE("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD);
        QUOTE("\xF0\x80\x80\xAF", "\"" FFFD FFFD FFFD FFFD "\"", NULL);
        /* a UTF-16 surrogate */
        QUOTE("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD);
        QUOTE("\xED\xBF\xBF", "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD);
        /* a truncated 3-byte sequence at the end */
        QUOTE("ab\xE2\x82", "\"ab" FFFD FFFD "\"", "ab" FFFD FFFD);
        /* a truncated sequence followed by ASCII */
        QUOTE("\xE2\x82x", "\"" FFFD FFFD "x\"", FFFD FFFD "x");
        /* above U+10FFFF */
        QUOTE("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"", FFFD FFFD FFFD FFFD);
        QUOTE("\xF5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"", NULL);
        /* a lead byte followed by a non-continuation */
        QUOTE("\xC3(", "\"" FFFD "(\"", FFFD "(");
}

static void test_quote_appends(void)
{
        buf_t b = {0};
        CHECK_OK(buf_append(&b, "[", 1));
        CHECK_OK(json_quote_bytes(&b, "a", 1));
        CHECK_OK(buf_append(&b, ",", 1));
        CHECK_OK(json_quote_bytes(&b, "b\n", 2));
        CHECK_OK(buf_append(&b, "]", 1));
        CHECK_STR_EQ(b.data, "[\"a\",\"b\\n\"]");
        cJSON *j = cJSON_Parse(b.data);
        if (CHECK(j && cJSON_IsArray(j))) {
                CHECK_INT_EQ(cJSON_GetArraySize(j), 2);
                CHECK_STR_EQ(cJSON_GetArrayItem(j, 1)->valuestring, "b\n");
        }
        cJSON_Delete(j);
        buf_free(&b);
}

/* Every byte value, alone and in a run, quotes to something cJSON accepts. */
static void test_quote_all_bytes_parse(void)
{
        unsigned char all[256 * 3];
        for (size_t i = 0; i < sizeof(all); i++)
                all[i] = (unsigned char)((i * 7 + i / 256) & 0xff);
        for (int c = 0; c < 256; c++) {
                char one[1] = {(char)c};
                buf_t b = {0};
                CHECK_OK(json_quote_bytes(&b, one, 1));
                cJSON *j = cJSON_Parse(b.data);
                if (!j || !cJSON_IsString(j))
                        FAIL("byte 0x%02x quoted as [%s] does not parse back", c, b.data);
                cJSON_Delete(j);
                buf_free(&b);
        }
        buf_t b = {0};
        CHECK_OK(json_quote_bytes(&b, (const char *)all, sizeof(all)));
        cJSON *j = cJSON_Parse(b.data);
        CHECK(j && cJSON_IsString(j));
        cJSON_Delete(j);
        buf_free(&b);
}

static void test_bytes_item(void)
{
        cJSON *obj = cJSON_CreateObject();
        REQUIRE(obj);
        cJSON *it = json_bytes_item("out\0put\xff\n", 9);
        if (!CHECK(it != NULL)) {
                cJSON_Delete(obj);
                return;
        }
        cJSON_AddItemToObject(obj, "stdout", it);
        CHECK(cJSON_AddItemToObject(obj, "empty", json_bytes_item(NULL, 5)));
        char *text = cJSON_PrintUnformatted(obj);
        if (CHECK(text != NULL)) {
                CHECK_STR_EQ(text, "{\"stdout\":\"out\\u0000put" FFFD "\\n\",\"empty\":\"\"}");
                cJSON *back = cJSON_Parse(text);
                if (CHECK(back != NULL)) {
                        const cJSON *s = cJSON_GetObjectItemCaseSensitive(back, "stdout");
                        CHECK(cJSON_IsString(s));
                        const cJSON *e = cJSON_GetObjectItemCaseSensitive(back, "empty");
                        CHECK(cJSON_IsString(e) && strcmp(e->valuestring, "") == 0);
                }
                cJSON_Delete(back);
        }
        free(text);
        cJSON_Delete(obj);
}

static void test_utf8_seq_len(void)
{
        static const struct {
                const char *s;
                size_t avail;
                size_t want;
        } cases[] = {
            {"A", 1, 1},
            {"\x7f", 1, 1},
            {"\xC3\xA9", 2, 2},
            {"\xC2\x80", 2, 2},
            {"\xDF\xBF", 2, 2},
            {"\xE2\x82\xAC", 3, 3},
            {"\xE0\xA0\x80", 3, 3},
            {"\xED\x9F\xBF", 3, 3},
            {"\xEF\xBF\xBF", 3, 3},
            {"\xF0\x90\x80\x80", 4, 4},
            {"\xF4\x8F\xBF\xBF", 4, 4},
            {"\xF0\x9F\x98\x80", 8, 4}, /* more available than needed */
            /* invalid */
            {"\x80", 1, 0},
            {"\xBF", 1, 0},
            {"\xC0\x80", 2, 0},
            {"\xC1\xBF", 2, 0},
            {"\xC3\x28", 2, 0},
            {"\xC3\xC3", 2, 0},
            {"\xE0\x9F\xBF", 3, 0},
            {"\xED\xA0\x80", 3, 0},
            {"\xE2\x82\x28", 3, 0},
            {"\xF0\x8F\xBF\xBF", 4, 0},
            {"\xF4\x90\x80\x80", 4, 0},
            {"\xF5\x80\x80\x80", 4, 0},
            {"\xF8\x88\x80\x80", 4, 0},
            {"\xFF", 1, 0},
            /* truncated: not enough bytes available */
            {"\xC3\xA9", 1, 0},
            {"\xE2\x82\xAC", 2, 0},
            {"\xF0\x9F\x98\x80", 3, 0},
        };
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                size_t got = utf8_seq_len((const unsigned char *)cases[i].s, cases[i].avail);
                if (got != cases[i].want)
                        FAIL("case %zu: utf8_seq_len = %zu, want %zu", i, got, cases[i].want);
        }
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_quote_valid_text),      TU_TEST(test_quote_escapes),
            TU_TEST(test_quote_invalid_bytes),   TU_TEST(test_quote_appends),
            TU_TEST(test_quote_all_bytes_parse), TU_TEST(test_bytes_item),
            TU_TEST(test_utf8_seq_len),
        };
        return tu_main("test_json", tests, TU_COUNT(tests), argc, argv);
}
