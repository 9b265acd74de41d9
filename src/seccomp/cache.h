/* Compiled seccomp programs cached on disk (src/seccomp/cache.c). */
#ifndef RUNCELL_SECCOMP_CACHE_H
#define RUNCELL_SECCOMP_CACHE_H

#include "seccomp/profile.h"

/* seccomp_profile_load_file(path), with the compiled program taken from cache_dir when one was
 * made there from the same profile text, runcell, libseccomp and kernel, and put there when
 * not (best effort: a cache that cannot be read or written only means a compile). cache_dir
 * NULL: no cache. The result is the same program seccomp_profile_load_file gives. */
int seccomp_profile_load_cached(const char *path, const char *cache_dir, seccomp_bpf_t *out,
                                rc_err_t *err);

#endif
