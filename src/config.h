/* Where runcell finds its data and keeps its state. */
#ifndef RUNCELL_CONFIG_H
#define RUNCELL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

typedef struct rc_paths {
        char *toolchains_dir;
        char *seccomp_dir;
        char *rootfs_dir;
        char *state_dir;
        /* root's state directory, whose unpacked root filesystems a runcell of another user may
         * use read-only (rootfs/store.h): RUNCELL_SHARED_STATE_DIR ("": none), else
         * /var/lib/runcell for a user other than root with the default state directory (a
         * state directory given is self-contained); NULL: none */
        char *shared_state_dir;
        bool shared_given; /* RUNCELL_SHARED_STATE_DIR was set */
        bool rlimit_only;  /* run without cgroup limits (development only) */
        /* the build cache's bound (STATE_DIR/builds, job/buildcache.h): RUNCELL_BUILD_CACHE_MB,
         * a server's build_cache_mb, else 256; 0: no build cache */
        int64_t build_cache_mb;
        /* which directories the command line named (they win over a config file) */
        bool toolchains_given, rootfs_given, state_given;
        /* Outside ids of the sandbox's uid/gid 0: rootless, the caller's own (sandbox_ids 0);
         * as root, the first of a range of sandbox_ids ids (RUNCELL_SANDBOX_IDS), one per
         * running sandbox (sandbox/ids.h), the same number for uid and gid. */
        uid_t sandbox_uid;
        gid_t sandbox_gid;
        uint32_t sandbox_ids;
} rc_paths_t;

/* Options given on the command line win over RUNCELL_* environment variables, which win over
 * the defaults (see README). */
int rc_paths_resolve(rc_paths_t *p, const char *toolchains, const char *rootfs_dir,
                     const char *state_dir, rc_err_t *err);
void rc_paths_free(rc_paths_t *p);
/* "FIRST-LAST" or "ID" (RUNCELL_SANDBOX_IDS) into the first id and how many. */
int rc_sandbox_ids_parse(const char *v, uint32_t *first, uint32_t *count, rc_err_t *err);

#endif
