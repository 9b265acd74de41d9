/* Strict JSON parsing for requests from clients.
 *
 * cJSON is lenient where a request must not be: it cuts a string at a NUL ("python\u0000x"
 * becomes "python"), keeps the first of two equal keys, ignores what follows the first value
 * (trailing garbage, a second object) and accepts some texts RFC 8259 does not (raw control
 * characters in strings, leading zeros, "+1", ...). Every client request goes through
 * json_parse_strict() instead, so that what runcell acts on is exactly what the client sent,
 * or the client is told why not. Bytes of strings that are not valid UTF-8 are kept as they
 * are (outputs are made valid UTF-8 on the way out, util/json.h). */
#ifndef RUNCELL_UTIL_JSONSTRICT_H
#define RUNCELL_UTIL_JSONSTRICT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Containers nested deeper than this are refused here (cJSON's own limit); servers apply
 * their smaller json_depth_max on the parsed value. */
#define JSON_STRICT_DEPTH_MAX 1000

/* Parse the len bytes at text as exactly one JSON value (blanks around it allowed). Refused:
 * text that is not RFC 8259 JSON, a NUL in a string (raw or as \u0000), two equal keys in one
 * object, anything but blanks after the value. Returns the value (cJSON_Delete it), or NULL
 * with a short reason in why ("duplicate key \"language\"", "data after the JSON value at
 * byte 17", ...). */
cJSON *json_parse_strict(const char *text, size_t len, char *why, size_t why_size);

#endif
