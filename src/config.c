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

static char *default_toolchains(void)
{
        _cleanup_free_ char *exe = fs_exe_dir();
        const char *candidates[3] = {NULL, NULL, NULL};
        _cleanup_free_ char *c0 = NULL, *c1 = NULL;
        if (exe) {
                c0 = fs_join(exe, "../toolchains");               /* build/ in a checkout */
                c1 = fs_join(exe, "../share/runcell/toolchains"); /* an installed prefix */
                candidates[0] = c0;
                candidates[1] = c1;
        }
        candidates[2] = RUNCELL_DATADIR "/toolchains";
        for (size_t i = 0; i < 3; i++)
                if (candidates[i] && fs_exists(candidates[i]))
                        return realpath(candidates[i], NULL);
        return strdup(RUNCELL_SOURCE_DIR "/toolchains");
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
                p->toolchains_dir = default_toolchains();
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
        if (!p->toolchains_dir || !p->rootfs_dir)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (!p->state_dir)
                return rc_err_set(err, EINVAL, "no state directory: set HOME or RUNCELL_STATE_DIR");
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
        free(p->rootfs_dir);
        free(p->state_dir);
        memset(p, 0, sizeof(*p));
}
