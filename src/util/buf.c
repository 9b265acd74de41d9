#include "util/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(buf_t *b, size_t more)
{
        if (b->len + more + 1 <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + more + 1)
                cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
                return -ENOMEM;
        b->data = nd;
        b->cap = cap;
        return 0;
}

int buf_append(buf_t *b, const void *data, size_t len)
{
        if (buf_reserve(b, len) < 0)
                return -ENOMEM;
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

int buf_printf(buf_t *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        int r = buf_append(b, s, (size_t)n);
        free(s);
        return r;
}

void buf_free(buf_t *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
