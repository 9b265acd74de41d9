/* What a long-running runcell (batch, serve) loads: toolchains, and per language its unpacked
 * root filesystem, version and compiled seccomp filter; the cgroup manager and the pool of
 * prepared sandboxes. A server reloads the toolchains (catalog_rescan) when their files or the
 * root filesystem tarballs changed; what runs still use of the previous ones stays until they
 * are done with it. */
#ifndef RUNCELL_ENGINE_CATALOG_H
#define RUNCELL_ENGINE_CATALOG_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

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
        /* whether its tarball is there and, not ready, its version as its manifest says: read
         * again only when the tarball's .sha256 changed (lang_probe in catalog.c) */
        bool probed;
        bool available;
        char *probed_version;
        dev_t probed_dev;
        ino_t probed_ino;
        struct timespec probed_mtime;
        unsigned users; /* runs (and pool refills) holding it: see catalog_hold */
} lang_t;

typedef struct catalog_gen catalog_gen_t;

typedef struct catalog {
        const rc_paths_t *paths;
        toolchain_set_t set;
        rootfs_store_t store;
        cg_manager_t *cgroups;
        job_pool_t *pool;
        preparer_t *preparer;   /* with a pool: prepares sandboxes off the event loop */
        buildcache_t *builds;   /* STATE_DIR/builds (paths->build_cache_mb); NULL: none */
        lang_t *langs;          /* one per toolchain, in set order */
        char *fingerprint;      /* the toolchain files and tarballs the set was loaded from */
        catalog_gen_t *retired; /* toolchains and languages a reload replaced, still held */
} catalog_t;

/* Load toolchains and open the cgroup manager (refusing, with the reason, when limits cannot
 * be enforced and rlimit-only mode was not asked for): catalog_load, then catalog_open_limits.
 * With a pool, catalog_open_limits also forks the helper that prepares sandboxes (preparer.h),
 * so call it early, while the process is small. */
int catalog_open(catalog_t *c, const rc_paths_t *paths, unsigned pool_size, rc_err_t *err);
int catalog_load(catalog_t *c, const rc_paths_t *paths, rc_err_t *err);
/* catalog_load with only the toolchains whose file mentions token (toolchain_set_load_mentioning):
 * a one-shot run's catalogue, looked up through the state directory's toolchains.index
 * (toolchain_set_load_indexed). token NULL: all of them. It takes no fingerprint of the files:
 * catalog_rescan reloads such a catalogue at once. */
int catalog_load_mentioning(catalog_t *c, const rc_paths_t *paths, const char *token,
                            rc_err_t *err);
int catalog_open_limits(catalog_t *c, unsigned pool_size, rc_err_t *err);
void catalog_close(catalog_t *c);
/* Compile the seccomp profile a toolchain names ("default" when it names none). */
int catalog_load_profile(const rc_paths_t *paths, const toolchain_t *tc, seccomp_bpf_t *out,
                         rc_err_t *err);
/* The version of tc as runs report it (heap): the loaded one, else read from its root
 * filesystem's manifest; NULL when that is not built. */
char *catalog_version(catalog_t *c, const toolchain_t *tc);
/* The toolchain of the language called name (a name or alias) whose version answers version
 * (toolchain_version_matches: NULL, "" or "*" for the newest; "1.24.4", "1.24", "1"), the
 * newest of those whose root filesystem is built. With no version asked for and none built,
 * the language's first toolchain (catalog_lang then says what is missing). Errors: ENOENT an
 * unknown language, ESRCH no such version (the message names the versions there are). */
int catalog_find(catalog_t *c, const char *name, const char *version, const toolchain_t **out,
                 rc_err_t *err);
/* The toolchains of the language called name (its own name, not an alias), with their
 * versions (catalog_version), newest first, those not built (version NULL) last; a heap array
 * of *n, NULL when out of memory. */
typedef struct catalog_variant {
        const toolchain_t *tc;
        char *version;
        size_t index; /* in c->set */
} catalog_variant_t;
catalog_variant_t *catalog_variants(catalog_t *c, const char *name, size_t *n);
void catalog_variants_free(catalog_variant_t *v, size_t n);
/* The language's root filesystem unpacked, version read, filter compiled (once). */
int catalog_lang(catalog_t *c, const toolchain_t *tc, lang_t **out, rc_err_t *err);
/* A job spec for l with the toolchain's limits and everything borrowed from the catalogue. */
void catalog_job_spec(catalog_t *c, const lang_t *l, job_spec_t *js);
/* Prepare sandboxes ahead for a comma-separated list of languages. */
int catalog_warm(catalog_t *c, const char *list, rc_err_t *err);
/* Top the pool up for l (after an answer was sent); with the helper this only asks. Nothing
 * for a language a reload replaced. */
void catalog_refill(catalog_t *c, const lang_t *l);

/* Reload the toolchains when their directory's *.json files or the tarballs they name
 * (NAME.tar.zst.sha256, by inode, size and time) changed since the last load, or always with
 * force: 1 when reloaded, 0 when nothing changed, -errno when the new toolchains do not load (the
 * current ones stay, err says why). The replaced languages are retired: the prepared sandboxes
 * of the pool are let go, and each language stays valid while catalog_hold()ed. */
int catalog_rescan(catalog_t *c, bool force, rc_err_t *err);
/* A run (or anything that outlives the current event) keeps l valid across reloads. */
void catalog_hold(lang_t *l);
/* The hold is over; a retired language's toolchains are freed once nothing holds them. */
void catalog_release(catalog_t *c, lang_t *l);
/* Is l one of the current languages (not replaced by a reload)? */
bool catalog_current(const catalog_t *c, const lang_t *l);
/* Is the language's root filesystem built (its tarball there)? Cheap: no unpacking. */
bool catalog_ready(catalog_t *c, const toolchain_t *tc);

#endif
