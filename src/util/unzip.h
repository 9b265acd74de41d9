/* Safe extraction of a ZIP archive held in memory into files held in memory (Judge0's
 * "additional_files": a base64 zip that goes into the program's /work).
 *
 * Only what a program's working directory can hold is accepted, and nothing is trusted: the
 * central directory is read (no zip64, one disk), every entry is checked against its local
 * header (and its data descriptor, if any), entries may not overlap, data is stored (method 0)
 * or deflated (method 8) and is inflated under the limits (a zip bomb is stopped while it
 * inflates, whatever sizes it declares), and its CRC-32 must match. Refused: encrypted entries,
 * symbolic links and other entries that are not regular files (directories are skipped), names
 * that are absolute, hold a ".." component, a backslash, NUL or a control character, or that a
 * run request would refuse (src/sandbox/files.c sb_path_valid: 200 bytes, 8 levels,
 * [A-Za-z0-9._+@$-], no component starting with '-' or '$', no name starting with '@'), a name
 * given twice, more files or bytes than the limits. */
#ifndef RUNCELL_UTIL_UNZIP_H
#define RUNCELL_UTIL_UNZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* A zero field takes its default (UNZIP_DEFAULT_*); max_name is at most UNZIP_NAME_MAX. */
typedef struct unzip_limits {
        size_t max_files; /* regular files (directories are not counted) */
        size_t max_total; /* inflated bytes of all files together */
        size_t max_file;  /* inflated bytes of one file */
        size_t max_name;  /* bytes of one name */
} unzip_limits_t;

#define UNZIP_DEFAULT_FILES 255
#define UNZIP_DEFAULT_TOTAL (1u << 20)
#define UNZIP_DEFAULT_FILE  (1u << 20)
#define UNZIP_NAME_MAX      200 /* what a run request's file name may be */

typedef struct unzip_file {
        char *name;
        char *data; /* len bytes, then a NUL that is not counted */
        size_t len;
        bool executable; /* the archive gave it an execute bit (Unix attributes) */
} unzip_file_t;

/* The files of the archive, in the central directory's order; *files_out is a heap array of
 * *n_out (free with unzip_free). 0, or -1 with msg saying why (nothing is returned then). */
int unzip_extract(const void *zip, size_t len, const unzip_limits_t *lim, unzip_file_t **files_out,
                  size_t *n_out, char *msg, size_t msgsize);
void unzip_free(unzip_file_t *files, size_t n);

/* The same as the run document's "files" array (docs/protocol.md):
 * [{"name", "content"}] for a file that is valid UTF-8 without NUL, and
 * {"name", "content": BASE64, "encoding": "base64"} for any other. An archive without files
 * gives an empty array. 0, or -1 with msg (and *files_out NULL). */
int unzip_files(const void *zip, size_t len, const unzip_limits_t *lim, cJSON **files_out,
                char *msg, size_t msgsize);

/* The same array, or NULL with msg. */
cJSON *unzip_to_files_json(const void *zip, size_t len, const unzip_limits_t *lim, char *msg,
                           size_t msgsize);

/* Is name acceptable as a file in /work (the rules above)? When not and why is given, *why
 * says what is wrong with it. */
bool unzip_name_ok(const char *name, const char **why);

#endif
