#include "util/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int strv_grow(strv_t *s)
{
        if (s->n + 1 < s->cap)
                return 0;
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **nv = realloc(s->v, cap * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        s->v = nv;
        s->cap = cap;
        return 0;
}

int strv_push_take(strv_t *s, char *str)
{
        if (!str)
                return -ENOMEM;
        if (strv_grow(s) < 0) {
                free(str);
                return -ENOMEM;
        }
        s->v[s->n++] = str;
        s->v[s->n] = NULL;
        return 0;
}

int strv_push(strv_t *s, const char *str)
{
        return strv_push_take(s, strdup(str));
}

void strv_free(strv_t *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

char *const *strv_array(strv_t *s)
{
        static char *const empty[] = {NULL};
        return s->v ? s->v : empty;
}

int strv_copy(strv_t *dst, char *const *src)
{
        for (; src && *src; src++)
                if (strv_push(dst, *src) < 0)
                        return -ENOMEM;
        return 0;
}
