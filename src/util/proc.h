/* Running helper programs (tar, sha256sum) from the parent side. */
#ifndef RUNCELL_UTIL_PROC_H
#define RUNCELL_UTIL_PROC_H

#include <stddef.h>

#include "util/err.h"

/* Run argv (PATH lookup), stdin from /dev/null. With out, capture up to max bytes of stdout
 * (NUL-terminated heap string); stderr is captured into the error message on failure.
 * Returns 0 if the program exited 0, else -errno with err set. */
int proc_run(char *const argv[], char **out, size_t max, rc_err_t *err);

#endif
