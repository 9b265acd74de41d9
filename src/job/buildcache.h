/* The build cache: what a compile stage left in /work, kept by a digest of everything that made
 * it (the toolchain, its root filesystem, the compile command and environment, the limits, every
 * source file: job.c's compile_key), so that the same sources compiled again skip the compile
 * stage. On disk under the state directory (DIR/<2 hex>/<64 hex>/: "list", "stdout", "stderr"
 * and files/), shared by every runcell of that state directory; bounded in bytes, the entries
 * used longest ago removed first (an entry's directory mtime is its last use).
 *
 * An entry appears whole or not at all (written beside, then renamed in) and disappears the same
 * way (renamed out, then removed), so runcells sharing the directory never see half of one; a
 * reader that opened an entry's files keeps them even if it is evicted meanwhile. Only a
 * toolchain that says so ("compile_cache": true) is cached: one whose compiler is a function of
 * its inputs. */
#ifndef RUNCELL_JOB_BUILDCACHE_H
#define RUNCELL_JOB_BUILDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct buildcache buildcache_t;

#define BUILDCACHE_KEY_LEN 65 /* a SHA-256 in hex, and its NUL */

/* dir is made (0700) when missing; max_bytes > 0 bounds what the entries hold. */
int buildcache_open(const char *dir, int64_t max_bytes, buildcache_t **out, rc_err_t *err);
void buildcache_close(buildcache_t *bc); /* accepts NULL */

/* 1 and the entry's files (fds, read-only, with their paths and modes, as a compile stage's
 * sb_result_t holds them: free with sb_result_free), its stdout and stderr appended to out and
 * errout; 0 when there is none (or it could not be read whole); the entry counts as used now. */
int buildcache_get(buildcache_t *bc, const char *key, sb_result_t *files, buf_t *out,
                   buf_t *errout);
/* Keep files (fds read with pread; paths checked as sb_path_valid) with the stage's stdout and
 * stderr under key, then evict what is over the bound. 0, or -errno (nothing kept). An entry
 * already there is left as it is. */
int buildcache_put(buildcache_t *bc, const char *key, const sb_file_t *files, size_t n,
                   const char *out, size_t out_len, const char *errout, size_t err_len);

/* The bytes the entries under the directory hold now, counted as eviction counts them (and
 * evicting what is over the bound, as a put would). */
int64_t buildcache_bytes(buildcache_t *bc);

#endif
