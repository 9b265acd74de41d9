/* The server's log lines: logfmt or JSON, one write each (server/log.h). */
#include "server/log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/json.h"

static slog_format_t g_format = SLOG_LOGFMT;
static bool g_journal;

int slog_format_parse(const char *s, slog_format_t *out)
{
        if (s && strcmp(s, "logfmt") == 0)
                *out = SLOG_LOGFMT;
        else if (s && strcmp(s, "json") == 0)
                *out = SLOG_JSON;
        else
                return -1;
        return 0;
}

const char *slog_level_name(slog_level_t lv)
{
        return lv == SLOG_ERROR ? "error" : lv == SLOG_WARN ? "warn" : "info";
}

bool slog_journal_stream(const char *js, dev_t dev, ino_t ino)
{
        unsigned long long d, i;
        char tail;
        if (!js || sscanf(js, "%llu:%llu%c", &d, &i, &tail) != 2)
                return false;
        return (unsigned long long)dev == d && (unsigned long long)ino == i;
}

void slog_setup(slog_format_t fmt)
{
        g_format = fmt;
        struct stat st;
        const char *js = getenv("JOURNAL_STREAM");
        g_journal =
            js && fstat(STDERR_FILENO, &st) == 0 && slog_journal_stream(js, st.st_dev, st.st_ino);
}

void slog_timestamp(char out[SLOG_TS_LEN], int64_t unix_ms)
{
        time_t s = (time_t)(unix_ms / 1000);
        int ms = (int)(unix_ms % 1000);
        if (ms < 0) {
                ms += 1000;
                s--;
        }
        struct tm tm;
        if (!gmtime_r(&s, &tm)) {
                snprintf(out, SLOG_TS_LEN, "1970-01-01T00:00:00.000Z");
                return;
        }
        char t[96]; /* room for any int, as the compiler counts */
        snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        snprintf(out, SLOG_TS_LEN, "%.*s", SLOG_TS_LEN - 1, t);
}

/* logfmt: bare when every byte is printable ASCII and none is '"', '=' or '\'. */
static bool lf_bare(const unsigned char *s, size_t n)
{
        if (!n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '=' || s[i] == '\\')
                        return false;
        return true;
}

static void lf_value(buf_t *b, const char *v, size_t n)
{
        const unsigned char *s = (const unsigned char *)v;
        if (lf_bare(s, n)) {
                buf_append(b, v, n);
                return;
        }
        buf_append(b, "\"", 1);
        size_t i = 0, run = 0; /* bytes kept as they are, written at once */
        while (i < n) {
                unsigned char c = s[i];
                const char *rep = NULL;
                char esc[8];
                size_t adv = 1;
                if (c == '"')
                        rep = "\\\"";
                else if (c == '\\')
                        rep = "\\\\";
                else if (c == '\n')
                        rep = "\\n";
                else if (c == '\r')
                        rep = "\\r";
                else if (c == '\t')
                        rep = "\\t";
                else if (c < 0x20 || c == 0x7f) {
                        snprintf(esc, sizeof(esc), "\\x%02x", c);
                        rep = esc;
                } else if (c >= 0x80) {
                        adv = utf8_seq_len(s + i, n - i);
                        if (!adv) {
                                snprintf(esc, sizeof(esc), "\\x%02x", c);
                                rep = esc;
                                adv = 1;
                        }
                }
                if (rep) {
                        buf_append(b, v + i - run, run);
                        run = 0;
                        buf_append(b, rep, strlen(rep));
                } else {
                        run += adv;
                }
                i += adv;
        }
        buf_append(b, v + n - run, run);
        buf_append(b, "\"", 1);
}

/* The key and what goes between it and the value. */
static void key(slog_line_t *l, const char *k)
{
        if (l->fmt == SLOG_JSON) {
                buf_append(&l->b, ",\"", 2);
                buf_append(&l->b, k, strlen(k));
                buf_append(&l->b, "\":", 2);
        } else {
                buf_append(&l->b, " ", 1);
                buf_append(&l->b, k, strlen(k));
                buf_append(&l->b, "=", 1);
        }
}

static void value_bytes(slog_line_t *l, const char *v, size_t n)
{
        if (l->fmt == SLOG_JSON)
                json_quote_bytes(&l->b, v, n);
        else
                lf_value(&l->b, v, n);
}

void slog_begin_at(slog_line_t *l, slog_format_t fmt, bool journal, slog_level_t lv,
                   int64_t unix_ms, const char *event)
{
        memset(l, 0, sizeof(*l));
        l->fmt = fmt;
        char ts[SLOG_TS_LEN];
        slog_timestamp(ts, unix_ms);
        if (journal)
                buf_printf(&l->b, "<%d>", lv == SLOG_ERROR ? 3 : lv == SLOG_WARN ? 4 : 6);
        const char *level = slog_level_name(lv);
        if (fmt == SLOG_JSON) {
                buf_printf(&l->b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level);
                json_quote_bytes(&l->b, event, strlen(event));
        } else {
                buf_printf(&l->b, "ts=%s level=%s event=", ts, level);
                lf_value(&l->b, event, strlen(event));
        }
}

void slog_begin(slog_line_t *l, slog_level_t lv, const char *event)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        slog_begin_at(l, g_format, g_journal, lv,
                      (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, event);
}

void slog_bytes(slog_line_t *l, const char *k, const char *v, size_t n)
{
        key(l, k);
        value_bytes(l, v, n);
}

void slog_str(slog_line_t *l, const char *k, const char *v)
{
        if (!v) {
                slog_null(l, k);
                return;
        }
        slog_bytes(l, k, v, strlen(v));
}

void slog_null(slog_line_t *l, const char *k)
{
        key(l, k);
        if (l->fmt == SLOG_JSON)
                buf_append(&l->b, "null", 4);
        else
                buf_append(&l->b, "-", 1);
}

void slog_int(slog_line_t *l, const char *k, long long v)
{
        key(l, k);
        buf_printf(&l->b, "%lld", v);
}

void slog_num(slog_line_t *l, const char *k, double v, int decimals)
{
        if (!isfinite(v)) {
                slog_null(l, k);
                return;
        }
        key(l, k);
        buf_printf(&l->b, "%.*f", decimals, v);
}

void slog_bool(slog_line_t *l, const char *k, bool v)
{
        key(l, k);
        buf_append(&l->b, v ? "true" : "false", v ? 4 : 5);
}

__attribute__((format(printf, 3, 0))) static void slog_vstrf(slog_line_t *l, const char *k,
                                                             const char *fmt, va_list ap)
{
        char small[512];
        va_list ap2;
        va_copy(ap2, ap);
        int n = vsnprintf(small, sizeof(small), fmt, ap);
        if (n < 0) {
                va_end(ap2);
                slog_null(l, k);
                return;
        }
        if ((size_t)n < sizeof(small)) {
                slog_bytes(l, k, small, (size_t)n);
        } else {
                char *big = malloc((size_t)n + 1);
                if (big && vsnprintf(big, (size_t)n + 1, fmt, ap2) == n)
                        slog_bytes(l, k, big, (size_t)n);
                else
                        slog_bytes(l, k, small, sizeof(small) - 1); /* what fitted */
                free(big);
        }
        va_end(ap2);
}

void slog_strf(slog_line_t *l, const char *k, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        slog_vstrf(l, k, fmt, ap);
        va_end(ap);
}

void slog_finish(slog_line_t *l)
{
        if (l->fmt == SLOG_JSON)
                buf_append(&l->b, "}\n", 2);
        else
                buf_append(&l->b, "\n", 1);
}

void slog_end(slog_line_t *l)
{
        slog_finish(l);
        const char *p = l->b.data;
        size_t left = l->b.len;
        while (p && left) {
                ssize_t w = write(STDERR_FILENO, p, left);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break;
                p += w;
                left -= (size_t)w;
        }
        buf_free(&l->b);
}

void slog_msg(slog_level_t lv, const char *event, const char *fmt, ...)
{
        slog_line_t l;
        slog_begin(&l, lv, event);
        va_list ap;
        va_start(ap, fmt);
        slog_vstrf(&l, "msg", fmt, ap);
        va_end(ap);
        slog_end(&l);
}

void slog_note(rc_note_level_t lv, const char *event, const char *msg)
{
        slog_line_t l;
        slog_begin(&l,
                   lv == RC_NOTE_ERROR  ? SLOG_ERROR
                   : lv == RC_NOTE_WARN ? SLOG_WARN
                                        : SLOG_INFO,
                   event);
        slog_str(&l, "msg", msg);
        slog_end(&l);
}
