/* runcell warm: sandboxes kept ready for this user's `runcell run` commands, and a worker
 * forked ahead that runs a whole command (job/warm.h, cli/warm_run.h), in the foreground until a
 * signal or --idle seconds without a run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/warm_run.h"
#include "engine/catalog.h"
#include "job/warm.h"
#include "util/cleanup.h"
#include "util/fs.h"

typedef struct warm_ctx {
        const rc_paths_t *paths;
        catalog_t cat;
} warm_ctx_t;

/* Before a worker is forked: the toolchains as they are now (a watched directory changed: read
 * again whatever the fingerprint says). */
static int refresh(void *ud, bool stale)
{
        warm_ctx_t *c = ud;
        rc_err_t err = {0};
        if (catalog_rescan(&c->cat, stale, &err) < 0) {
                fprintf(stderr, "runcell warm: reading the toolchains: %s\n", err.msg);
                return -1;
        }
        return 0;
}

static void run(void *ud, int conn, int prep, const warm_held_t *held, char *lang, size_t lang_size)
{
        warm_ctx_t *c = ud;
        cli_warm_command(c->paths, &c->cat, conn, prep, held, lang, lang_size);
}

/* A worker ran lang ("NAME\nROOTFS": which of the language's toolchains): what a command of
 * that language looks up, looked up here, is the next worker's from the start: the versions of
 * the language's toolchains (catalog_find), and that toolchain's root filesystem, version and
 * seccomp filter (catalog_lang). */
static void ran(void *ud, const char *lang)
{
        warm_ctx_t *c = ud;
        char name[64];
        snprintf(name, sizeof(name), "%s", lang);
        char *rootfs = strchr(name, '\n');
        if (!rootfs)
                return;
        *rootfs++ = '\0';
        const toolchain_t *tc = NULL;
        lang_t *l = NULL;
        rc_err_t err = {0};
        catalog_find(&c->cat, name, NULL, &tc, &err);
        for (size_t i = 0; i < c->cat.set.n; i++) {
                const toolchain_t *t = c->cat.set.items[i];
                if (strcmp(t->name, name) == 0 && strcmp(t->rootfs, rootfs) == 0) {
                        catalog_lang(&c->cat, t, &l, &err);
                        break;
                }
        }
}

int cmd_warm(const rc_paths_t *paths, int argc, char **argv)
{
        warm_opts_t o = {.per_key = 1, .idle_s = 600};
        for (int i = 1; i < argc; i++) {
                bool per = strcmp(argv[i], "--per-kind") == 0,
                     idle = strcmp(argv[i], "--idle") == 0;
                if (!per && !idle)
                        return cli_fail("warm: unknown option %s (--per-kind N, --idle SECONDS)",
                                        argv[i]);
                if (i + 1 >= argc)
                        return cli_fail("%s needs a value", argv[i]);
                char *end;
                long n = strtol(argv[++i], &end, 10);
                if (per && (*end || n < 1 || n > 8))
                        return cli_fail("--per-kind: a number from 1 to 8, not '%s'", argv[i]);
                if (idle && (*end || n < 0 || n > 31 * 86400))
                        return cli_fail("--idle: seconds from 0 to 2678400, not '%s'", argv[i]);
                *(per ? &o.per_key : &o.idle_s) = (unsigned)n;
        }
        if (mkdir(paths->state_dir, 0755) < 0 && errno != EEXIST)
                return cli_fail("%s: %s", paths->state_dir, strerror(errno));
        _cleanup_free_ char *sock = fs_join(paths->state_dir, WARM_SOCK_NAME);
        if (!sock)
                return cli_fail("out of memory");
        o.sock_path = sock;
        /* What a command loads first, loaded once: every toolchain, the cgroup manager (where
         * the leaves go), the build cache. */
        warm_ctx_t c = {.paths = paths};
        rc_err_t err = {0};
        if (catalog_open(&c.cat, paths, 0, &err) < 0) {
                catalog_close(&c.cat);
                return cli_fail("warm: %s", err.msg);
        }
        warm_worker_t wk = {
            .refresh = refresh,
            .run = run,
            .ran = ran,
            .ctx = &c,
            .watch = {paths->toolchains_dir, paths->seccomp_dir, paths->rootfs_dir, NULL}};
        o.worker = c.cat.cgroups ? &wk : NULL;
        int r = c.cat.cgroups
                    ? warm_serve(c.cat.cgroups, &o, &err)
                    : rc_err_set(&err, ENOTSUP, "needs cgroup limits (not --rlimit-only)");
        catalog_close(&c.cat);
        if (r < 0)
                return cli_fail("warm: %s", err.msg);
        return 0;
}
