#include "engine/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {"exact", "trim", "tokens", "float"};

int compare_mode_parse(const char *name, compare_mode_t *out)
{
        for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
                if (strcmp(name, mode_names[i]) == 0) {
                        *out = (compare_mode_t)i;
                        return 0;
                }
        return -1;
}

const char *compare_mode_name(compare_mode_t mode)
{
        return (unsigned)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode] : "?";
}

/* White space as Ruby's String#rstrip sees it (Judge0's comparison), NUL included. */
static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0;
}

/* A cursor over one text: where it is, its line number and where that line starts. */
typedef struct cursor {
        const char *s;
        size_t len, pos;
        size_t line;       /* 1-based line of pos */
        size_t line_start; /* offset of that line's first byte */
} cursor_t;

static void cursor_init(cursor_t *c, const char *s, size_t len)
{
        *c = (cursor_t){.s = s, .len = len, .pos = 0, .line = 1, .line_start = 0};
}

static void cursor_newline(cursor_t *c)
{
        c->line++;
        c->line_start = c->pos;
}

/* The line at the cursor, [*start, *end) without its '\n'; moves past it. false at the end. */
static bool next_line(cursor_t *c, size_t *start, size_t *end, bool *terminated)
{
        if (c->pos >= c->len)
                return false;
        *start = c->pos;
        const char *nl = memchr(c->s + c->pos, '\n', c->len - c->pos);
        *end = nl ? (size_t)(nl - c->s) : c->len;
        *terminated = nl != NULL;
        c->line_start = *start;
        c->pos = nl ? *end + 1 : *end;
        return true;
}

static size_t rstripped(const char *s, size_t start, size_t end)
{
        while (end > start && is_space(s[end - 1]))
                end--;
        return end;
}

static void excerpt(char *dst, const char *s, size_t len, size_t start)
{
        size_t end = start;
        while (end < len && s[end] != '\n' && end - start < COMPARE_EXCERPT_MAX)
                end++;
        if (end < len && s[end] != '\n' && end > start) {
                /* cut: not inside a UTF-8 sequence */
                size_t cut = end;
                while (cut > start && ((unsigned char)s[cut] & 0xC0) == 0x80)
                        cut--;
                end = cut;
        }
        memcpy(dst, s + start, end - start);
        dst[end - start] = '\0';
}

static void fill_side(char *dst, size_t *line, bool *at_end, const cursor_t *c, bool ended)
{
        *line = c->line;
        *at_end = ended;
        if (ended)
                dst[0] = '\0';
        else
                excerpt(dst, c->s, c->len, c->line_start);
}

static bool differ(compare_diff_t *d, const cursor_t *e, bool e_end, const cursor_t *g, bool g_end)
{
        if (d) {
                fill_side(d->expected, &d->expected_line, &d->expected_at_end, e, e_end);
                fill_side(d->got, &d->got_line, &d->got_at_end, g, g_end);
        }
        return false;
}

/* exact and trim: line by line. In trim mode, once one text has no more lines, the other's
 * remaining ones must all be blank. */
static bool compare_lines(bool trim, const char *es, size_t el, const char *gs, size_t gl,
                          compare_diff_t *d)
{
        cursor_t e, g;
        cursor_init(&e, es, el);
        cursor_init(&g, gs, gl);
        for (;;) {
                size_t ea = 0, eb = 0, ga = 0, gb = 0;
                bool et = false, gt = false;
                bool eh = next_line(&e, &ea, &eb, &et);
                bool gh = next_line(&g, &ga, &gb, &gt);
                if (!eh && !gh)
                        return true;
                if (trim) {
                        if (eh)
                                eb = rstripped(es, ea, eb);
                        if (gh)
                                gb = rstripped(gs, ga, gb);
                        if (!eh || !gh) {
                                /* one ended: the rest of the other must be blank */
                                cursor_t *o = eh ? &e : &g;
                                size_t oa = eh ? ea : ga, ob = eh ? eb : gb;
                                bool ot;
                                while (ob == oa) {
                                        o->line++;
                                        if (!next_line(o, &oa, &ob, &ot))
                                                return true;
                                        ob = rstripped(o->s, oa, ob);
                                }
                                return differ(d, &e, !eh, &g, !gh);
                        }
                } else if (!eh || !gh) {
                        return differ(d, &e, !eh, &g, !gh);
                }
                if (eb - ea != gb - ga || memcmp(es + ea, gs + ga, eb - ea) != 0 ||
                    (!trim && et != gt))
                        return differ(d, &e, false, &g, false);
                e.line++;
                g.line++;
        }
}

/* The next white-space separated token at or after the cursor: [*start, *end). */
static bool next_token(cursor_t *c, size_t *start, size_t *end)
{
        while (c->pos < c->len && is_space(c->s[c->pos])) {
                if (c->s[c->pos++] == '\n')
                        cursor_newline(c);
        }
        if (c->pos >= c->len)
                return false;
        *start = c->pos;
        while (c->pos < c->len && !is_space(c->s[c->pos]))
                c->pos++;
        *end = c->pos;
        return true;
}

/* A token that is a finite number as a whole (strtod's syntax). */
static bool as_number(const char *s, size_t len, double *v)
{
        char buf[64];
        if (len == 0 || len >= sizeof(buf))
                return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *end = NULL;
        *v = strtod(buf, &end);
        return end == buf + len && isfinite(*v);
}

static bool tokens_equal(const compare_opts_t *o, const char *a, size_t al, const char *b,
                         size_t bl)
{
        if (al == bl && memcmp(a, b, al) == 0)
                return true;
        if (o->mode != COMPARE_FLOAT)
                return false;
        double x, y;
        if (!as_number(a, al, &x) || !as_number(b, bl, &y))
                return false;
        double diff = fabs(x - y);
        return diff <= o->abs_tol || diff <= o->rel_tol * fabs(x);
}

static bool compare_tokens(const compare_opts_t *o, const char *es, size_t el, const char *gs,
                           size_t gl, compare_diff_t *d)
{
        cursor_t e, g;
        cursor_init(&e, es, el);
        cursor_init(&g, gs, gl);
        for (;;) {
                size_t ea = 0, eb = 0, ga = 0, gb = 0;
                bool eh = next_token(&e, &ea, &eb);
                bool gh = next_token(&g, &ga, &gb);
                if (!eh && !gh)
                        return true;
                if (!eh || !gh || !tokens_equal(o, es + ea, eb - ea, gs + ga, gb - ga))
                        return differ(d, &e, !eh, &g, !gh);
        }
}

bool compare_outputs(const compare_opts_t *o, const char *expected, size_t elen, const char *got,
                     size_t glen, compare_diff_t *d)
{
        switch (o->mode) {
        case COMPARE_EXACT:
                if (elen == glen && memcmp(expected, got, elen) == 0)
                        return true;
                return compare_lines(false, expected, elen, got, glen, d);
        case COMPARE_TRIM:
                return compare_lines(true, expected, elen, got, glen, d);
        case COMPARE_TOKENS:
        case COMPARE_FLOAT:
                return compare_tokens(o, expected, elen, got, glen, d);
        default:
                return false;
        }
}
