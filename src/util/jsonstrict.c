/* Strict JSON parsing for requests: a validator of the raw text (RFC 8259, no NUL in strings,
 * nothing after the value), then cJSON, then a check for equal keys on the parsed tree (where
 * keys are decoded, so "a" and "\u0061" are equal). */
#include "util/jsonstrict.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
        const unsigned char *s;
        size_t len, pos;
        char *why;
        size_t why_size;
} scan_t;

static bool fail(scan_t *sc, const char *what)
{
        snprintf(sc->why, sc->why_size, "%s at byte %zu", what, sc->pos);
        return false;
}

static void skip_ws(scan_t *sc)
{
        while (sc->pos < sc->len && (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t' ||
                                     sc->s[sc->pos] == '\n' || sc->s[sc->pos] == '\r'))
                sc->pos++;
}

static int hexval(unsigned char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Four hex digits at pos (after "\u"): the code unit, or -1. */
static long hex4(const scan_t *sc, size_t pos)
{
        if (sc->len - pos < 4)
                return -1;
        long v = 0;
        for (int i = 0; i < 4; i++) {
                int h = hexval(sc->s[pos + (size_t)i]);
                if (h < 0)
                        return -1;
                v = v * 16 + h;
        }
        return v;
}

/* A string starting at the opening quote. */
static bool scan_string(scan_t *sc)
{
        sc->pos++;
        while (sc->pos < sc->len) {
                unsigned char c = sc->s[sc->pos];
                if (c == '"') {
                        sc->pos++;
                        return true;
                }
                if (c == '\0')
                        return fail(sc, "a NUL character in a string");
                if (c < 0x20)
                        return fail(sc, "an unescaped control character in a string");
                if (c != '\\') {
                        sc->pos++;
                        continue;
                }
                if (sc->pos + 1 >= sc->len)
                        break;
                unsigned char e = sc->s[sc->pos + 1];
                if (strchr("\"\\/bfnrt", e) && e) {
                        sc->pos += 2;
                        continue;
                }
                if (e != 'u')
                        return fail(sc, "an invalid escape in a string");
                long u = hex4(sc, sc->pos + 2);
                if (u < 0)
                        return fail(sc, "an invalid \\u escape in a string");
                if (u == 0)
                        return fail(sc, "a NUL character (\\u0000) in a string");
                if (u >= 0xDC00 && u <= 0xDFFF)
                        return fail(sc, "a lone low surrogate in a string");
                if (u >= 0xD800 && u <= 0xDBFF) {
                        size_t lo = sc->pos + 6;
                        long u2 = sc->len - lo >= 2 && sc->s[lo] == '\\' && sc->s[lo + 1] == 'u'
                                      ? hex4(sc, lo + 2)
                                      : -1;
                        if (u2 < 0xDC00 || u2 > 0xDFFF)
                                return fail(sc, "a lone high surrogate in a string");
                        sc->pos += 12;
                } else {
                        sc->pos += 6;
                }
        }
        return fail(sc, "an unterminated string");
}

static bool is_digit(const scan_t *sc)
{
        return sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9';
}

static bool scan_number(scan_t *sc)
{
        if (sc->s[sc->pos] == '-')
                sc->pos++;
        if (!is_digit(sc))
                return fail(sc, "an invalid number");
        if (sc->s[sc->pos] == '0') {
                sc->pos++;
                if (is_digit(sc))
                        return fail(sc, "a number with a leading zero");
        } else {
                while (is_digit(sc))
                        sc->pos++;
        }
        if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
                sc->pos++;
                if (!is_digit(sc))
                        return fail(sc, "an invalid number");
                while (is_digit(sc))
                        sc->pos++;
        }
        if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
                sc->pos++;
                if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
                        sc->pos++;
                if (!is_digit(sc))
                        return fail(sc, "an invalid number");
                while (is_digit(sc))
                        sc->pos++;
        }
        return true;
}

static bool scan_word(scan_t *sc, const char *word)
{
        size_t n = strlen(word);
        if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
                return fail(sc, "invalid JSON");
        sc->pos += n;
        return true;
}

/* "key" : with blanks, in an object. */
static bool scan_key(scan_t *sc)
{
        if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
                return fail(sc, sc->pos >= sc->len ? "unexpected end" : "expected a key");
        if (!scan_string(sc))
                return false;
        skip_ws(sc);
        if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                return fail(sc, "expected ':'");
        sc->pos++;
        skip_ws(sc);
        return true;
}

/* The whole text: one value between blanks. Iterative, with a stack of open containers. */
static bool scan_text(scan_t *sc)
{
        char stack[JSON_STRICT_DEPTH_MAX];
        int depth = 0;
        skip_ws(sc);
        for (;;) {
                /* a value at pos */
                if (sc->pos >= sc->len)
                        return fail(sc, "unexpected end");
                unsigned char c = sc->s[sc->pos];
                bool opened = false;
                if (c == '{' || c == '[') {
                        if (depth == JSON_STRICT_DEPTH_MAX)
                                return fail(sc, "nested too deeply");
                        stack[depth++] = (char)c;
                        sc->pos++;
                        skip_ws(sc);
                        if (sc->pos < sc->len && sc->s[sc->pos] == (c == '{' ? '}' : ']')) {
                                sc->pos++;
                                depth--;
                        } else if (c == '{') {
                                if (!scan_key(sc))
                                        return false;
                                opened = true;
                        } else {
                                opened = true;
                        }
                } else if (c == '"') {
                        if (!scan_string(sc))
                                return false;
                } else if (c == '-' || (c >= '0' && c <= '9')) {
                        if (!scan_number(sc))
                                return false;
                } else if (!scan_word(sc, c == 't' ? "true" : c == 'f' ? "false" : "null")) {
                        return false;
                }
                if (opened)
                        continue; /* its first member's value is next */
                /* after a value: close containers, or go on to the next member */
                for (;;) {
                        skip_ws(sc);
                        if (depth == 0) {
                                if (sc->pos < sc->len)
                                        return fail(sc, "data after the JSON value");
                                return true;
                        }
                        if (sc->pos >= sc->len)
                                return fail(sc, "unexpected end");
                        char close = stack[depth - 1] == '{' ? '}' : ']';
                        unsigned char d = sc->s[sc->pos];
                        if (d == (unsigned char)close) {
                                sc->pos++;
                                depth--;
                                continue;
                        }
                        if (d != ',')
                                return fail(sc, close == '}' ? "expected ',' or '}'"
                                                             : "expected ',' or ']'");
                        sc->pos++;
                        skip_ws(sc);
                        if (stack[depth - 1] == '{' && !scan_key(sc))
                                return false;
                        break;
                }
        }
}

static int cmp_keys(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A key that occurs twice in one object of j into *dup: 1; none: 0; -1: out of memory. Keys
 * hold no NUL by now, so strcmp compares them whole. */
static int duplicate_key(const cJSON *j, const char **dup)
{
        if (cJSON_IsObject(j)) {
                size_t n = 0;
                for (const cJSON *c = j->child; c; c = c->next)
                        n++;
                if (n > 1) {
                        const char **keys = malloc(n * sizeof(*keys));
                        if (!keys)
                                return -1;
                        size_t i = 0;
                        for (const cJSON *c = j->child; c; c = c->next)
                                keys[i++] = c->string ? c->string : "";
                        qsort(keys, n, sizeof(*keys), cmp_keys);
                        *dup = NULL;
                        for (i = 1; i < n && !*dup; i++)
                                if (strcmp(keys[i - 1], keys[i]) == 0)
                                        *dup = keys[i];
                        free(keys);
                        if (*dup)
                                return 1;
                }
        }
        if (cJSON_IsObject(j) || cJSON_IsArray(j))
                for (const cJSON *c = j->child; c; c = c->next) {
                        int r = duplicate_key(c, dup);
                        if (r)
                                return r;
                }
        return 0;
}

cJSON *json_parse_strict(const char *text, size_t len, char *why, size_t why_size)
{
        char dummy[8];
        if (!why || why_size == 0) {
                why = dummy;
                why_size = sizeof(dummy);
        }
        why[0] = '\0';
        scan_t sc = {.s = (const unsigned char *)(text ? text : ""),
                     .len = text ? len : 0,
                     .why = why,
                     .why_size = why_size};
        if (!scan_text(&sc))
                return NULL;
        cJSON *j = cJSON_ParseWithLength((const char *)sc.s, sc.len);
        if (!j) {
                snprintf(why, why_size, "invalid JSON");
                return NULL;
        }
        const char *dup = NULL;
        int r = duplicate_key(j, &dup);
        if (r) {
                if (r < 0)
                        snprintf(why, why_size, "out of memory");
                else
                        snprintf(why, why_size, "duplicate key \"%.60s\"", dup);
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}
