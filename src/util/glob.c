#include "util/glob.h"

#include <string.h>

/* The set "[...]" starting at pat[*i] (just after '['); *i ends after its ']'. Returns whether
 * c is in it (negated sets included). A set that is not closed is not a set: the caller sees
 * *i unchanged and -1. */
static int match_set(const char *pat, size_t plen, size_t *i, unsigned char c)
{
        size_t k = *i;
        bool neg = false;
        if (k < plen && (pat[k] == '!' || pat[k] == '^')) {
                neg = true;
                k++;
        }
        bool in = false, first = true;
        while (k < plen && (pat[k] != ']' || first)) {
                first = false;
                unsigned char lo = (unsigned char)pat[k];
                if (lo == '\\' && k + 1 < plen)
                        lo = (unsigned char)pat[++k];
                k++;
                unsigned char hi = lo;
                if (k + 1 < plen && pat[k] == '-' && pat[k + 1] != ']') {
                        hi = (unsigned char)pat[k + 1];
                        k += 2;
                        if (hi == '\\' && k < plen)
                                hi = (unsigned char)pat[k++];
                }
                if (c >= lo && c <= hi)
                        in = true;
        }
        if (k >= plen)
                return -1;
        *i = k + 1;
        return in != neg;
}

/* One byte of pattern at pat[*pi] against c: 1 matched (pi advanced), 0 not. */
static int match_one(const char *pat, size_t plen, size_t *pi, unsigned char c, bool leading_dot)
{
        size_t i = *pi;
        char p = pat[i];
        if (p == '?') {
                if (leading_dot)
                        return 0;
                *pi = i + 1;
                return 1;
        }
        if (p == '[') {
                size_t k = i + 1;
                int r = match_set(pat, plen, &k, c);
                if (r >= 0) {
                        if (!r || leading_dot)
                                return 0;
                        *pi = k;
                        return 1;
                }
                /* an unclosed '[' is a literal */
        }
        if (p == '\\' && i + 1 < plen)
                p = pat[++i];
        if ((unsigned char)p != c)
                return 0;
        *pi = i + 1;
        return 1;
}

bool glob_match_component(const char *pat, size_t plen, const char *name, size_t nlen)
{
        size_t pi = 0, ni = 0;
        size_t star_p = (size_t)-1, star_n = 0; /* the last '*' and where it resumes */
        while (ni < nlen) {
                bool leading_dot = ni == 0 && name[0] == '.';
                if (pi < plen && pat[pi] == '*') {
                        if (leading_dot)
                                return false;
                        while (pi < plen && pat[pi] == '*')
                                pi++;
                        star_p = pi;
                        star_n = ni;
                        continue;
                }
                if (pi < plen && match_one(pat, plen, &pi, (unsigned char)name[ni], leading_dot)) {
                        ni++;
                        continue;
                }
                if (star_p == (size_t)-1)
                        return false;
                /* let the last '*' take one more byte and try again from there */
                pi = star_p;
                ni = ++star_n;
        }
        while (pi < plen && pat[pi] == '*')
                pi++;
        return pi == plen;
}

int glob_depth(const char *s)
{
        int n = 1;
        for (; *s; s++)
                n += *s == '/';
        return n;
}

/* The first n components of pattern against all of path (n = path's depth). */
static bool match_components(const char *pattern, const char *path, int n)
{
        const char *p = pattern, *s = path;
        for (int k = 0; k < n; k++) {
                const char *pe = strchr(p, '/'), *se = strchr(s, '/');
                size_t pl = pe ? (size_t)(pe - p) : strlen(p);
                size_t sl = se ? (size_t)(se - s) : strlen(s);
                if (!glob_match_component(p, pl, s, sl))
                        return false;
                if (k + 1 < n) {
                        if (!pe || !se)
                                return false;
                        p = pe + 1;
                        s = se + 1;
                }
        }
        return true;
}

bool glob_match(const char *pattern, const char *path)
{
        int d = glob_depth(path);
        return glob_depth(pattern) == d && match_components(pattern, path, d);
}

bool glob_match_dir(const char *pattern, const char *dir)
{
        int d = glob_depth(dir);
        return glob_depth(pattern) > d && match_components(pattern, dir, d);
}

bool glob_pattern_valid(const char *pattern, const char **why)
{
        size_t len = strlen(pattern);
        *why = NULL;
        if (len == 0 || len > GLOB_PATTERN_MAX)
                *why = "a pattern is 1 to 200 bytes";
        else if (pattern[0] == '/')
                *why = "a pattern is relative to /work (no leading '/')";
        else if (glob_depth(pattern) > GLOB_DEPTH_MAX)
                *why = "a pattern has at most 4 components (\"a/b/c/*.png\")";
        if (*why)
                return false;
        const char *comp = pattern;
        for (size_t i = 0; i <= len; i++) {
                unsigned char c = (unsigned char)pattern[i];
                if (c == '/' || c == '\0') {
                        size_t cl = (size_t)(pattern + i - comp);
                        if (cl == 0 || (cl == 1 && comp[0] == '.') ||
                            (cl == 2 && comp[0] == '.' && comp[1] == '.')) {
                                *why = "a pattern has no empty, \".\" or \"..\" component";
                                return false;
                        }
                        /* a set must close within its component */
                        for (size_t k = 0; k < cl; k++) {
                                if (comp[k] == '\\') {
                                        if (++k == cl) {
                                                *why = "a pattern's '\\' quotes a byte of "
                                                       "its component";
                                                return false;
                                        }
                                } else if (comp[k] == '[') {
                                        size_t e = k + 1;
                                        if (e < cl && (comp[e] == '!' || comp[e] == '^'))
                                                e++;
                                        if (e < cl && comp[e] == ']')
                                                e++;
                                        while (e < cl && comp[e] != ']')
                                                e += comp[e] == '\\' ? 2 : 1;
                                        if (e >= cl) {
                                                *why = "a pattern's '[' set is not closed "
                                                       "within its component";
                                                return false;
                                        }
                                        k = e;
                                }
                        }
                        comp = pattern + i + 1;
                } else if (c < 0x20 || c == 0x7f) {
                        *why = "a pattern has no control characters";
                        return false;
                }
        }
        return true;
}
