/* A growable byte buffer with an optional hard cap. */
#ifndef RUNCELL_UTIL_BUF_H
#define RUNCELL_UTIL_BUF_H

#include <stddef.h>

typedef struct buf {
        char *data; /* NUL-terminated for convenience; may hold NUL bytes */
        size_t len;
        size_t cap;
} buf_t;

int buf_append(buf_t *b, const void *data, size_t len); /* -ENOMEM */
/* Room for more bytes after len (and the NUL), growing by doubling: 0 or -ENOMEM. */
int buf_reserve(buf_t *b, size_t more);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(buf_t *b);

#endif
