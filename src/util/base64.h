#ifndef RUNCELL_UTIL_BASE64_H
#define RUNCELL_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* Append the standard base64 (with padding) of data to out. */
int base64_append(buf_t *out, const void *data, size_t len);

#endif
