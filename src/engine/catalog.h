/* What a long-running runcell (batch, serve) loads once: toolchains, and per language its
 * unpacked root filesystem, version and compiled seccomp filter; the cgroup manager and the
 * pool of prepared sandboxes. */
#ifndef RUNCELL_ENGINE_CATALOG_H
#define RUNCELL_ENGINE_CATALOG_H

#include <stdbool.h>

#include "config.h"
#include "job/job.h"
#include "rootfs/store.h"
#include "seccomp/profile.h"
#include "toolchain/toolchain.h"

typedef struct lang {
        const toolchain_t *tc;
        char *rootfs;
        char *version;
        seccomp_bpf_t filter;
        bool ready;
} lang_t;

typedef struct catalog {
        const rc_paths_t *paths;
        toolchain_set_t set;
        rootfs_store_t store;
        cg_manager_t *cgroups;
        job_pool_t *pool;
        preparer_t *preparer; /* with a pool: prepares sandboxes off the event loop */
        lang_t *langs;        /* one per toolchain, in set order */
} catalog_t;

/* Load toolchains and open the cgroup manager (refusing, with the reason, when limits cannot
 * be enforced and rlimit-only mode was not asked for): catalog_load, then catalog_open_limits.
 * With a pool, catalog_open_limits also forks the helper that prepares sandboxes (preparer.h),
 * so call it early, while the process is small. */
int catalog_open(catalog_t *c, const rc_paths_t *paths, unsigned pool_size, rc_err_t *err);
int catalog_load(catalog_t *c, const rc_paths_t *paths, rc_err_t *err);
/* catalog_load with only the toolchains whose file mentions token (toolchain_set_load_mentioning):
 * a one-shot run's catalogue. token NULL: all of them. */
int catalog_load_mentioning(catalog_t *c, const rc_paths_t *paths, const char *token,
                            rc_err_t *err);
int catalog_open_limits(catalog_t *c, unsigned pool_size, rc_err_t *err);
void catalog_close(catalog_t *c);
/* Compile the seccomp profile a toolchain names ("default" when it names none). */
int catalog_load_profile(const rc_paths_t *paths, const toolchain_t *tc, seccomp_bpf_t *out,
                         rc_err_t *err);
/* The language's root filesystem unpacked, version read, filter compiled (once). */
int catalog_lang(catalog_t *c, const toolchain_t *tc, lang_t **out, rc_err_t *err);
/* A job spec for l with the toolchain's limits and everything borrowed from the catalogue. */
void catalog_job_spec(catalog_t *c, const lang_t *l, job_spec_t *js);
/* Prepare sandboxes ahead for a comma-separated list of languages. */
int catalog_warm(catalog_t *c, const char *list, rc_err_t *err);
/* Top the pool up for l (after an answer was sent); with the helper this only asks. */
void catalog_refill(catalog_t *c, const lang_t *l);

#endif
