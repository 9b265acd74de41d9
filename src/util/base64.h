#ifndef RUNCELL_UTIL_BASE64_H
#define RUNCELL_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* Append the standard base64 (with padding) of data to out. */
int base64_append(buf_t *out, const void *data, size_t len);
/* Append the bytes that the base64 text s (len bytes; standard alphabet; line breaks ignored,
 * the '=' padding optional) stands for to out; -1 (out as it was) when s is not base64 or
 * memory runs out. */
int base64_decode(buf_t *out, const char *s, size_t len);

#endif
