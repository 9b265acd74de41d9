#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define ROOT_SANDBOX_ID 65534

static char *first_set(const char *opt, const char *env)
{
        if (opt && *opt)
                return strdup(opt);
        const char *e = getenv(env);
        return (e && *e) ? strdup(e) : NULL;
}

static char *home_path(const char *xdg_env, const char *fallback, const char *leaf)
{
        char *out = NULL;
        const char *x = getenv(xdg_env);
        const char *home = getenv("HOME");
        if (x && *x == '/')
                return asprintf(&out, "%s/%s", x, leaf) < 0 ? NULL : out;
        if (home && *home == '/')
                return asprintf(&out, "%s/%s/%s", home, fallback, leaf) < 0 ? NULL : out;
        return NULL;
}

/* A data directory (toolchains, seccomp-profiles): beside build/ in a checkout, in an installed
 * prefix, the configured data dir, or the source tree it was built from. */
static char *default_data_dir(const char *leaf)
{
        _cleanup_free_ char *exe = fs_exe_dir();
        _cleanup_free_ char *c0 = NULL, *c1 = NULL, *c2 = NULL;
        if (exe) {
                if (asprintf(&c0, "%s/../%s", exe, leaf) < 0)
                        c0 = NULL;
                if (asprintf(&c1, "%s/../share/runcell/%s", exe, leaf) < 0)
                        c1 = NULL;
        }
        if (asprintf(&c2, "%s/%s", RUNCELL_DATADIR, leaf) < 0)
                c2 = NULL;
        const char *candidates[] = {c0, c1, c2};
        for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
                if (candidates[i] && fs_exists(candidates[i]))
                        return realpath(candidates[i], NULL);
        char *src = NULL;
        return asprintf(&src, "%s/%s", RUNCELL_SOURCE_DIR, leaf) < 0 ? NULL : src;
}

static long env_id(const char *name, long dflt)
{
        const char *v = getenv(name);
        if (!v || !*v)
                return dflt;
        char *end;
        long n = strtol(v, &end, 10);
        return (*end || n < 0 || n > 0x7fffffff) ? -1 : n;
}

int rc_paths_resolve(rc_paths_t *p, const char *toolchains, const char *rootfs_dir,
                     const char *state_dir, rc_err_t *err)
{
        memset(p, 0, sizeof(*p));
        bool root = geteuid() == 0;
        p->toolchains_dir = first_set(toolchains, "RUNCELL_TOOLCHAINS");
        if (!p->toolchains_dir)
                p->toolchains_dir = default_data_dir("toolchains");
        p->seccomp_dir = first_set(NULL, "RUNCELL_SECCOMP_PROFILES");
        if (!p->seccomp_dir)
                p->seccomp_dir = default_data_dir("seccomp-profiles");
        p->rootfs_dir = first_set(rootfs_dir, "RUNCELL_ROOTFS_DIR");
        if (!p->rootfs_dir && !root) {
                char *mine = home_path("XDG_CACHE_HOME", ".cache", "runcell/rootfs");
                if (mine && fs_exists(mine))
                        p->rootfs_dir = mine;
                else
                        free(mine);
        }
        if (!p->rootfs_dir)
                p->rootfs_dir = strdup("/var/cache/runcell/rootfs");
        p->state_dir = first_set(state_dir, "RUNCELL_STATE_DIR");
        if (!p->state_dir)
                p->state_dir = root ? strdup("/var/lib/runcell")
                                    : home_path("XDG_STATE_HOME", ".local/state", "runcell");
        if (!p->toolchains_dir || !p->rootfs_dir || !p->seccomp_dir)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (!p->state_dir)
                return rc_err_set(err, EINVAL, "no state directory: set HOME or RUNCELL_STATE_DIR");
        const char *ro = getenv("RUNCELL_RLIMIT_ONLY");
        p->rlimit_only = ro && strcmp(ro, "1") == 0;
        if (root) {
                /* Root never lends its own ids to a sandbox. */
                long u = env_id("RUNCELL_SANDBOX_UID", ROOT_SANDBOX_ID);
                long g = env_id("RUNCELL_SANDBOX_GID", ROOT_SANDBOX_ID);
                if (u <= 0 || g <= 0)
                        return rc_err_set(err, EINVAL,
                                          "RUNCELL_SANDBOX_UID/GID must be non-zero numeric ids");
                p->sandbox_uid = (uid_t)u;
                p->sandbox_gid = (gid_t)g;
        } else {
                p->sandbox_uid = geteuid();
                p->sandbox_gid = getegid();
        }
        return 0;
}

void rc_paths_free(rc_paths_t *p)
{
        free(p->toolchains_dir);
        free(p->seccomp_dir);
        free(p->rootfs_dir);
        free(p->state_dir);
        memset(p, 0, sizeof(*p));
}
