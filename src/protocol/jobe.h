/* The Jobe dialect (jobe.c): the pure parts its unit test reaches. */
#ifndef RUNCELL_PROTOCOL_JOBE_H
#define RUNCELL_PROTOCOL_JOBE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/buf.h"

/* Jobe's outcome codes (LanguageTask's RESULT_* constants). */
enum {
        JOBE_COMPILE_ERROR = 11,
        JOBE_RUNTIME_ERROR = 12,
        JOBE_TIME_LIMIT = 13,
        JOBE_OK = 15,
        JOBE_MEMORY_LIMIT = 17,
        JOBE_ILLEGAL_SYSCALL = 19,
        JOBE_INTERNAL_ERROR = 20,
        JOBE_SERVER_OVERLOAD = 21,
};

/* A run_spec's sourcefilename as Jobe accepts it: none of the characters Jobe's sanitiser
 * replaces (file system and URI reserved ones, control characters, the bytes 0x7f, 0xa0 and
 * 0xad), and not starting with '.' or '-'. */
bool jobe_filename_ok(const char *name);
/* A file_list entry: [id, name] or [id, name, x], id at least 8 letters or digits, name not
 * empty and made of letters, digits, '-', '_' and '.' (with at least one letter or digit). */
bool jobe_filespec_ok(const cJSON *spec);
/* PHP's base64_decode(s, true): the standard alphabet, whitespace skipped, nothing after the
 * padding, at most two '=' and only where they fit. -1 when s is not valid. */
int jobe_base64_decode(const char *s, size_t len, buf_t *out);
/* Jobe's ResultObject::clean: valid UTF-8 is kept as it is; otherwise every byte below 0x20
 * (but newline, tab and return) or above 0x7e becomes "\xNN" (lower-case hex). */
void jobe_clean(const char *data, size_t len, buf_t *out);
/* The public class Jobe names a Java program's file after when the run_spec gives no name:
 * the one public class followed by a public static void main(String...; false when there is
 * not exactly one such match (Jobe then calls the file prog.java). */
bool jobe_java_main_class(const char *src, char *out, size_t size);
/* Jobe's language name for a runcell language (python -> python3), or the name itself. */
const char *jobe_lang_name(const char *runcell_name);
/* The runcell language for a Jobe language_id (already lower case): nodejs -> javascript;
 * anything else is looked up as runcell's name or alias. */
const char *jobe_lang_runcell(const char *jobe_id);

#endif
