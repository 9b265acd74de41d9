/* server/log: the server's log lines, logfmt and JSON: timestamps, levels, the journal's level
 * prefix, quoting and escaping of any bytes, and one write per line. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "server/log.h"
#include "testutil.h"

#define T0 1765041547123LL /* 2025-12-06T17:19:07.123Z */

/* One line (its newline taken off) with a field key=v of n bytes, at T0, info, event "e". */
static char *one(slog_format_t fmt, const char *v, size_t n)
{
        slog_line_t l;
        slog_begin_at(&l, fmt, false, SLOG_INFO, T0, "e");
        slog_bytes(&l, "k", v, n);
        slog_finish(&l);
        char *s = strdup(l.b.data);
        buf_free(&l.b);
        if (s && *s)
                s[strlen(s) - 1] = '\0';
        return s;
}

/* What logfmt makes of v: the part after "... event=e k=". */
static void lf_is(const char *v, size_t n, const char *want)
{
        char *s = one(SLOG_LOGFMT, v, n);
        const char *head = "ts=2025-12-06T17:19:07.123Z level=info event=e k=";
        if (CHECK(s && strncmp(s, head, strlen(head)) == 0))
                CHECK_STR_EQ(s + strlen(head), want);
        free(s);
}

static void test_timestamp(void)
{
        char ts[SLOG_TS_LEN];
        slog_timestamp(ts, 0);
        CHECK_STR_EQ(ts, "1970-01-01T00:00:00.000Z");
        slog_timestamp(ts, T0);
        CHECK_STR_EQ(ts, "2025-12-06T17:19:07.123Z");
        slog_timestamp(ts, 951782400000LL + 7); /* a leap day */
        CHECK_STR_EQ(ts, "2000-02-29T00:00:00.007Z");
        slog_timestamp(ts, -1); /* a millisecond before the epoch */
        CHECK_STR_EQ(ts, "1969-12-31T23:59:59.999Z");
        /* now: the shape of RFC 3339 in UTC with milliseconds */
        slog_line_t l;
        slog_begin(&l, SLOG_INFO, "now");
        CHECK_INT_EQ(strncmp(l.b.data, "ts=", 3), 0);
        const char *t = l.b.data + 3;
        CHECK(strlen(t) > 24 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' &&
              t[16] == ':' && t[19] == '.' && t[23] == 'Z' && t[24] == ' ');
        buf_free(&l.b);
}

static void test_logfmt_bare_and_quoted(void)
{
        lf_is("abc", 3, "abc");
        lf_is("/api/v1/run", 11, "/api/v1/run");
        lf_is("127.0.0.1:8080", 14, "127.0.0.1:8080");
        lf_is("", 0, "\"\"");
        lf_is("a b", 3, "\"a b\"");
        lf_is("k=v", 3, "\"k=v\"");
        lf_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
        lf_is("back\\slash", 10, "\"back\\\\slash\"");
        lf_is("l1\nl2\r\tx", 8, "\"l1\\nl2\\r\\tx\"");
        lf_is("\x01\x1f\x7f", 3, "\"\\x01\\x1f\\x7f\"");
        lf_is("nul\0in", 6, "\"nul\\x00in\"");
        /* valid UTF-8 stays as it is (quoted: not ASCII), invalid bytes are \xNN */
        lf_is("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
        lf_is("\xe2\x82\xac 5", 5, "\"\xe2\x82\xac 5\"");
        lf_is("\xff\xfe", 2, "\"\\xff\\xfe\"");
        lf_is("cut \xc3", 5, "\"cut \\xc3\"");
        lf_is("\xc3\x28", 2, "\"\\xc3(\"");              /* a lead byte without its continuation */
        lf_is("\xed\xa0\x80", 3, "\"\\xed\\xa0\\x80\""); /* a surrogate is not UTF-8 */
        lf_is("\xc0\xaf", 2, "\"\\xc0\\xaf\"");          /* nor an overlong form */
}

static void test_logfmt_fields(void)
{
        slog_line_t l;
        slog_begin_at(&l, SLOG_LOGFMT, false, SLOG_WARN, 0, "run");
        slog_str(&l, "s", "x y");
        slog_str(&l, "none", NULL);
        slog_null(&l, "n");
        slog_int(&l, "i", -42);
        slog_num(&l, "f", 1.23456, 3);
        slog_num(&l, "nan", NAN, 3);
        slog_bool(&l, "t", true);
        slog_bool(&l, "no", false);
        slog_strf(&l, "msg", "%d runs, \"%s\"", 3, "q");
        slog_finish(&l);
        CHECK_STR_EQ(l.b.data, "ts=1970-01-01T00:00:00.000Z level=warn event=run s=\"x y\" none=- "
                               "n=- i=-42 f=1.235 nan=- t=true no=false "
                               "msg=\"3 runs, \\\"q\\\"\"\n");
        buf_free(&l.b);
        /* an event name is a value like any other */
        slog_begin_at(&l, SLOG_LOGFMT, false, SLOG_ERROR, 0, "odd event");
        slog_finish(&l);
        CHECK_STR_EQ(l.b.data, "ts=1970-01-01T00:00:00.000Z level=error event=\"odd event\"\n");
        buf_free(&l.b);
}

/* A long formatted value is not cut. */
static void test_long_value(void)
{
        char big[3000];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        slog_line_t l;
        slog_begin_at(&l, SLOG_LOGFMT, false, SLOG_INFO, 0, "e");
        slog_strf(&l, "msg", "<%s>", big);
        slog_finish(&l);
        const char *v = strstr(l.b.data, "msg=");
        REQUIRE(v);
        CHECK_INT_EQ(strlen(v), 4 + 1 + sizeof(big) - 1 + 1 + 1);
        buf_free(&l.b);
}

static void test_json(void)
{
        slog_line_t l;
        slog_begin_at(&l, SLOG_JSON, false, SLOG_INFO, T0, "run");
        slog_str(&l, "s", "say \"hi\"\n\\");
        slog_bytes(&l, "bad", "a\xff\x01z", 4);
        slog_str(&l, "utf8", "caf\xc3\xa9");
        slog_null(&l, "none");
        slog_int(&l, "i", 7);
        slog_num(&l, "f", 0.5, 3);
        slog_bool(&l, "b", true);
        slog_finish(&l);
        CHECK_STR_EQ(l.b.data, "{\"ts\":\"2025-12-06T17:19:07.123Z\",\"level\":\"info\",\"event\":"
                               "\"run\",\"s\":\"say \\\"hi\\\"\\n\\\\\",\"bad\":\"a\xef\xbf\xbd"
                               "\\u0001z\",\"utf8\":\"caf\xc3\xa9\",\"none\":null,\"i\":7,"
                               "\"f\":0.500,\"b\":true}\n");
        cJSON *j = cJSON_Parse(l.b.data);
        if (CHECK(cJSON_IsObject(j))) {
                CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "s")), "say \"hi\"\n\\");
                CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "event")), "run");
                CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "none")));
        }
        cJSON_Delete(j);
        buf_free(&l.b);
}

static void test_level_prefix(void)
{
        static const struct {
                slog_level_t lv;
                const char *want;
        } cases[] = {{SLOG_ERROR, "<3>"}, {SLOG_WARN, "<4>"}, {SLOG_INFO, "<6>"}};
        for (size_t i = 0; i < TU_COUNT(cases); i++) {
                for (int f = 0; f < 2; f++) {
                        slog_line_t l;
                        slog_begin_at(&l, f ? SLOG_JSON : SLOG_LOGFMT, true, cases[i].lv, 0, "e");
                        slog_finish(&l);
                        CHECK_INT_EQ(strncmp(l.b.data, cases[i].want, 3), 0);
                        CHECK(l.b.data[3] == (f ? '{' : 't'));
                        buf_free(&l.b);
                        slog_begin_at(&l, f ? SLOG_JSON : SLOG_LOGFMT, false, cases[i].lv, 0, "e");
                        CHECK(l.b.data[0] == (f ? '{' : 't'));
                        buf_free(&l.b);
                }
        }
        CHECK_STR_EQ(slog_level_name(SLOG_ERROR), "error");
        CHECK_STR_EQ(slog_level_name(SLOG_WARN), "warn");
        CHECK_STR_EQ(slog_level_name(SLOG_INFO), "info");
}

static void test_journal_stream(void)
{
        CHECK(slog_journal_stream("8:1234", 8, 1234));
        CHECK(!slog_journal_stream("8:1234", 8, 1235));
        CHECK(!slog_journal_stream("9:1234", 8, 1234));
        CHECK(!slog_journal_stream("8:1234x", 8, 1234));
        CHECK(!slog_journal_stream("8", 8, 1234));
        CHECK(!slog_journal_stream("", 8, 1234));
        CHECK(!slog_journal_stream(NULL, 8, 1234));
}

static void test_format_parse(void)
{
        slog_format_t f = SLOG_JSON;
        CHECK_INT_EQ(slog_format_parse("logfmt", &f), 0);
        CHECK_INT_EQ(f, SLOG_LOGFMT);
        CHECK_INT_EQ(slog_format_parse("json", &f), 0);
        CHECK_INT_EQ(f, SLOG_JSON);
        CHECK_INT_EQ(slog_format_parse("JSON", &f), -1);
        CHECK_INT_EQ(slog_format_parse("", &f), -1);
        CHECK_INT_EQ(slog_format_parse(NULL, &f), -1);
}

/* slog_end and slog_msg write whole lines to stderr; on the journal's stream, with the level
 * prefix. */
static void test_writes_to_stderr(void)
{
        const char *dir = tu_tmpdir();
        REQUIRE(dir);
        char *path = tu_strf("%s/err", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        fflush(stderr);
        int saved = dup(2);
        REQUIRE(saved >= 0);
        dup2(fd, 2);
        struct stat st;
        fstat(fd, &st);
        char js[64];
        snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        unsetenv("JOURNAL_STREAM");
        slog_setup(SLOG_LOGFMT);
        slog_msg(SLOG_INFO, "one", "plain %s", "line");
        setenv("JOURNAL_STREAM", js, 1);
        slog_setup(SLOG_JSON);
        slog_msg(SLOG_WARN, "two", "to the journal");
        setenv("JOURNAL_STREAM", "1:2", 1);
        slog_setup(SLOG_LOGFMT);
        slog_msg(SLOG_ERROR, "three", "x");
        unsetenv("JOURNAL_STREAM");
        slog_setup(SLOG_LOGFMT);
        dup2(saved, 2);
        close(saved);
        char buf[1024] = {0};
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        close(fd);
        REQUIRE(n > 0);
        char *l1 = buf, *l2 = strchr(l1, '\n');
        REQUIRE(l2);
        *l2++ = '\0';
        char *l3 = strchr(l2, '\n');
        REQUIRE(l3);
        *l3++ = '\0';
        char *end = strchr(l3, '\n');
        REQUIRE(end && end[1] == '\0');
        *end = '\0';
        CHECK_INT_EQ(strncmp(l1, "ts=", 3), 0);
        CHECK_CONTAINS(l1, " level=info event=one msg=\"plain line\"");
        CHECK_INT_EQ(strncmp(l2, "<4>{\"ts\":\"", 10), 0);
        CHECK_CONTAINS(l2, "\"level\":\"warn\",\"event\":\"two\",\"msg\":\"to the journal\"}");
        CHECK_INT_EQ(strncmp(l3, "ts=", 3), 0);
        CHECK_CONTAINS(l3, " level=error event=three msg=x");
        free(path);
}

int main(int argc, char **argv)
{
        static const tu_test_t tests[] = {
            TU_TEST(test_timestamp),
            TU_TEST(test_logfmt_bare_and_quoted),
            TU_TEST(test_logfmt_fields),
            TU_TEST(test_long_value),
            TU_TEST(test_json),
            TU_TEST(test_level_prefix),
            TU_TEST(test_journal_stream),
            TU_TEST(test_format_parse),
            TU_TEST(test_writes_to_stderr),
        };
        return tu_main("test_log", tests, TU_COUNT(tests), argc, argv);
}
