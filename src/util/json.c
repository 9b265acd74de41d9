#include "util/json.h"

#include <stdio.h>
#include <string.h>

size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
        unsigned char c = s[0];
        if (c < 0x80)
                return 1;
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
                n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                n = 3;
                if (c == 0xE0)
                        lo = 0xA0; /* overlong */
                if (c == 0xED)
                        hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
                n = 4;
                if (c == 0xF0)
                        lo = 0x90;
                if (c == 0xF4)
                        hi = 0x8F; /* > U+10FFFF */
        } else
                return 0;
        if (avail < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return n;
}

int json_quote_bytes(buf_t *out, const char *data, size_t len)
{
        const unsigned char *s = (const unsigned char *)data;
        if (buf_append(out, "\"", 1) < 0)
                return -1;
        size_t i = 0;
        while (i < len) {
                unsigned char c = s[i];
                char esc[8];
                const char *rep = NULL;
                size_t rl = 0;
                switch (c) {
                case '"':
                        rep = "\\\"";
                        break;
                case '\\':
                        rep = "\\\\";
                        break;
                case '\n':
                        rep = "\\n";
                        break;
                case '\r':
                        rep = "\\r";
                        break;
                case '\t':
                        rep = "\\t";
                        break;
                default:
                        break;
                }
                if (rep) {
                        rl = strlen(rep);
                        i++;
                } else if (c < 0x20 || c == 0x7f) {
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        rep = esc;
                        rl = 6;
                        i++;
                } else {
                        size_t n = utf8_seq_len(s + i, len - i);
                        if (n == 0) {
                                rep = "\xEF\xBF\xBD";
                                rl = 3;
                                i++;
                        } else {
                                rep = (const char *)s + i;
                                rl = n;
                                i += n;
                        }
                }
                if (buf_append(out, rep, rl) < 0)
                        return -1;
        }
        return buf_append(out, "\"", 1);
}

cJSON *json_bytes_item(const char *data, size_t len)
{
        buf_t b = {0};
        if (json_quote_bytes(&b, data ? data : "", data ? len : 0) < 0) {
                buf_free(&b);
                return NULL;
        }
        cJSON *item = cJSON_CreateRaw(b.data);
        buf_free(&b);
        return item;
}
