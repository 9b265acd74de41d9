/* What the libFuzzer targets (tests/fuzz/fuzz_*.c) share: a fuzzer's bytes as a C string. */
#ifndef RUNCELL_FUZZUTIL_H
#define RUNCELL_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* size bytes of data and a NUL (NULs inside stay: the decoder sees a shorter string), to
 * free(); NULL when out of memory. */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (s) {
                if (size)
                        memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}

#endif
