/* JSON helpers on top of cJSON. */
#ifndef RUNCELL_UTIL_JSON_H
#define RUNCELL_UTIL_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/buf.h"

/* Append bytes as a quoted JSON string that is always valid UTF-8: control characters and NUL
 * are escaped, every byte that is not part of a valid UTF-8 sequence becomes U+FFFD. */
int json_quote_bytes(buf_t *out, const char *data, size_t len);
/* cJSON item holding such a string (cJSON strings cannot hold NUL or invalid UTF-8). */
cJSON *json_bytes_item(const char *data, size_t len);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the byte does not start one. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

#endif
