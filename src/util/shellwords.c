#include "util/shellwords.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static bool blank(char c)
{
        return c == ' ' || c == '\t' || c == '\n';
}

static int word_end(buf_t *w, strv_t *words)
{
        int r = strv_push(words, w->data ? w->data : "");
        w->len = 0;
        if (w->data)
                w->data[0] = '\0';
        return r;
}

int shell_split(const char *s, strv_t *out, rc_err_t *err)
{
        strv_t words = {0};
        buf_t w = {0};
        bool in_word = false;
        int r = 0;
        const char *p = s ? s : "";
        while (*p && r >= 0) {
                char c = *p;
                if (blank(c)) {
                        if (in_word)
                                r = word_end(&w, &words);
                        in_word = false;
                        p++;
                } else if (c == '\\') {
                        if (p[1] == '\0') {
                                r = rc_err_set(err, EINVAL,
                                               "a backslash at the end (byte %zu) escapes "
                                               "nothing",
                                               (size_t)(p - s) + 1);
                        } else if (p[1] == '\n') { /* a continued line: both go */
                                p += 2;
                        } else {
                                in_word = true;
                                r = buf_append(&w, p + 1, 1);
                                p += 2;
                        }
                } else if (c == '\'') {
                        const char *end = strchr(p + 1, '\'');
                        in_word = true;
                        if (!end)
                                r = rc_err_set(err, EINVAL,
                                               "unbalanced single quote (opened at byte %zu)",
                                               (size_t)(p - s) + 1);
                        else if ((r = buf_append(&w, p + 1, (size_t)(end - p - 1))) >= 0)
                                p = end + 1;
                } else if (c == '"') {
                        const char *open = p++;
                        in_word = true; /* "" alone is an empty word */
                        while (r >= 0 && *p && *p != '"') {
                                if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
                                        if (p[1] != '\n')
                                                r = buf_append(&w, p + 1, 1);
                                        p += 2;
                                } else {
                                        r = buf_append(&w, p, 1);
                                        p++;
                                }
                        }
                        if (r >= 0 && !*p)
                                r = rc_err_set(err, EINVAL,
                                               "unbalanced double quote (opened at byte %zu)",
                                               (size_t)(open - s) + 1);
                        else
                                p++;
                } else {
                        in_word = true;
                        r = buf_append(&w, p, 1);
                        p++;
                }
        }
        if (r >= 0 && in_word)
                r = word_end(&w, &words);
        buf_free(&w);
        size_t before = out->n;
        for (size_t i = 0; r >= 0 && i < words.n; i++)
                r = strv_push(out, words.v[i]);
        if (r < 0) { /* nothing appended after all */
                while (out->n > before) {
                        free(out->v[--out->n]);
                        out->v[out->n] = NULL;
                }
        } else {
                r = (int)words.n;
        }
        strv_free(&words);
        if (r == -ENOMEM)
                rc_err_set(err, ENOMEM, "out of memory");
        return r;
}
