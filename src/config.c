#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* As root, sandboxes take their outside ids from this range unless RUNCELL_SANDBOX_IDS says
 * otherwise: above what distributions give users, system services, subordinate ranges
 * (/etc/subuid from 100000 in steps of 65536) and systemd's container range (524288 to
 * 1879048191), below 2^31 (which some tools take for negative). */
#define ROOT_SANDBOX_IDS_FIRST 2000000000u
#define ROOT_SANDBOX_IDS_COUNT 65536u

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

int rc_sandbox_ids_parse(const char *v, uint32_t *first, uint32_t *count, rc_err_t *err)
{
        char *end;
        errno = 0;
        unsigned long long a = strtoull(v, &end, 10), b = a;
        bool ok = end != v && *v != '-' && errno == 0;
        if (ok && *end == '-') {
                const char *s = end + 1;
                b = strtoull(s, &end, 10);
                ok = end != s && *s != '-' && errno == 0;
        }
        if (!ok || *end || a == 0 || b < a || b > 0x7ffffffe)
                return rc_err_set(err, EINVAL,
                                  "RUNCELL_SANDBOX_IDS must be FIRST-LAST (or one id), 1 <= FIRST "
                                  "<= LAST <= 2147483646, not \"%s\"",
                                  v);
        *first = (uint32_t)a;
        *count = (uint32_t)(b - a + 1);
        return 0;
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
        bool state_given = p->state_dir != NULL;
        if (!p->state_dir)
                p->state_dir = root ? strdup("/var/lib/runcell")
                                    : home_path("XDG_STATE_HOME", ".local/state", "runcell");
        if (!p->toolchains_dir || !p->rootfs_dir || !p->seccomp_dir)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (!p->state_dir)
                return rc_err_set(err, EINVAL, "no state directory: set HOME or RUNCELL_STATE_DIR");
        const char *shared = getenv("RUNCELL_SHARED_STATE_DIR");
        p->shared_given = shared != NULL;
        if (!shared)
                shared = root || state_given ? "" : "/var/lib/runcell";
        if (*shared && strcmp(shared, p->state_dir) != 0 && !(p->shared_state_dir = strdup(shared)))
                return rc_err_set(err, ENOMEM, "out of memory");
        const char *ro = getenv("RUNCELL_RLIMIT_ONLY");
        p->rlimit_only = ro && strcmp(ro, "1") == 0;
        p->build_cache_mb = 256;
        const char *bcm = getenv("RUNCELL_BUILD_CACHE_MB");
        if (bcm && *bcm) {
                char *end;
                long long v = strtoll(bcm, &end, 10);
                if (*end || v < 0 || v > (1LL << 30))
                        return rc_err_set(err, EINVAL,
                                          "RUNCELL_BUILD_CACHE_MB must be a number of MiB from 0");
                p->build_cache_mb = v;
        }
        if (getenv("RUNCELL_SANDBOX_UID") || getenv("RUNCELL_SANDBOX_GID"))
                return rc_err_set(err, EINVAL,
                                  "RUNCELL_SANDBOX_UID/GID are gone: as root each sandbox takes "
                                  "its own id from RUNCELL_SANDBOX_IDS=FIRST-LAST (default "
                                  "%u-%u)",
                                  ROOT_SANDBOX_IDS_FIRST,
                                  ROOT_SANDBOX_IDS_FIRST + ROOT_SANDBOX_IDS_COUNT - 1);
        if (root) {
                /* Root never lends its own ids to a sandbox, and no two running sandboxes share
                 * one (sandbox/ids.h). */
                const char *v = getenv("RUNCELL_SANDBOX_IDS");
                uint32_t first = ROOT_SANDBOX_IDS_FIRST, count = ROOT_SANDBOX_IDS_COUNT;
                if (v && *v && rc_sandbox_ids_parse(v, &first, &count, err) < 0)
                        return -EINVAL;
                p->sandbox_uid = (uid_t)first;
                p->sandbox_gid = (gid_t)first;
                p->sandbox_ids = count;
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
        free(p->shared_state_dir);
        memset(p, 0, sizeof(*p));
}
