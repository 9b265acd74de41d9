#include "engine/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp/cache.h"
#include "util/cleanup.h"

int catalog_load(catalog_t *c, const rc_paths_t *paths, rc_err_t *err)
{
        return catalog_load_mentioning(c, paths, NULL, err);
}

int catalog_load_mentioning(catalog_t *c, const rc_paths_t *paths, const char *token, rc_err_t *err)
{
        memset(c, 0, sizeof(*c));
        c->paths = paths;
        c->store = (rootfs_store_t){.rootfs_dir = paths->rootfs_dir, .state_dir = paths->state_dir};
        int r = toolchain_set_load_mentioning(&c->set, paths->toolchains_dir, token, err);
        if (r < 0)
                return r;
        c->langs = calloc(c->set.n ? c->set.n : 1, sizeof(*c->langs));
        return c->langs ? 0 : rc_err_set(err, ENOMEM, "out of memory");
}

int catalog_open_limits(catalog_t *c, unsigned pool_size, rc_err_t *err)
{
        c->pool = job_pool_new(pool_size);
        if (!c->pool)
                return rc_err_set(err, ENOMEM, "out of memory");
        rc_err_t e = {0};
        int r =
            cg_manager_open(c->paths->rlimit_only ? CG_MODE_NONE : CG_MODE_AUTO, &c->cgroups, &e);
        if (r < 0)
                /* A sandbox without its limits is how playgrounds go down: refuse, say why. */
                return rc_err_set(
                    err, e.code,
                    "cannot enforce memory, CPU and process limits: %s (--rlimit-only "
                    "runs without them, for development)",
                    e.msg);
        if (cg_manager_note(c->cgroups))
                fprintf(stderr, "%s\n", cg_manager_note(c->cgroups));
        /* A pool is what a long-running runcell keeps; its sandboxes are made by a helper forked
         * now, while this process is small. Without one, in-process as before. */
        if (pool_size > 0 && preparer_start(c->cgroups, &c->preparer, &e) < 0)
                fprintf(stderr, "runcell: %s; preparing sandboxes in-process\n", e.msg);
        return 0;
}

int catalog_open(catalog_t *c, const rc_paths_t *paths, unsigned pool_size, rc_err_t *err)
{
        int r = catalog_load(c, paths, err);
        return r < 0 ? r : catalog_open_limits(c, pool_size, err);
}

void catalog_close(catalog_t *c)
{
        job_pool_free(c->pool); /* before the helper goes: it may still owe sandboxes */
        preparer_stop(c->preparer);
        cg_manager_free(c->cgroups);
        for (size_t i = 0; c->langs && i < c->set.n; i++) {
                free(c->langs[i].rootfs);
                free(c->langs[i].version);
                seccomp_bpf_free(&c->langs[i].filter);
        }
        free(c->langs);
        toolchain_set_free(&c->set);
        memset(c, 0, sizeof(*c));
}

int catalog_load_profile(const rc_paths_t *paths, const toolchain_t *tc, seccomp_bpf_t *out,
                         rc_err_t *err)
{
        char *path = NULL;
        if (asprintf(&path, "%s/%s.json", paths->seccomp_dir,
                     tc->seccomp_profile ? tc->seccomp_profile : "default") < 0)
                return rc_err_set(err, ENOMEM, "out of memory");
        char *cache = NULL; /* compiled programs, kept in the state directory */
        if (asprintf(&cache, "%s/seccomp", paths->state_dir) < 0)
                cache = NULL;
        int r = seccomp_profile_load_cached(path, cache, out, err);
        free(cache);
        free(path);
        return r;
}

int catalog_lang(catalog_t *c, const toolchain_t *tc, lang_t **out, rc_err_t *err)
{
        size_t i = 0;
        while (i < c->set.n && c->set.items[i] != tc)
                i++;
        if (i == c->set.n)
                return rc_err_set(err, ENOENT, "unknown toolchain");
        lang_t *l = &c->langs[i];
        if (!l->ready) {
                l->tc = tc;
                int r = rootfs_prepare(&c->store, tc->rootfs, &l->rootfs, err);
                if (r < 0)
                        return r;
                rootfs_package_version(&c->store, tc->rootfs, tc->version_package, &l->version,
                                       NULL);
                if ((r = catalog_load_profile(c->paths, tc, &l->filter, err)) < 0)
                        return rc_err_wrap(err, "seccomp profile");
                l->ready = true;
        }
        *out = l;
        return 0;
}

void catalog_job_spec(catalog_t *c, const lang_t *l, job_spec_t *js)
{
        memset(js, 0, sizeof(*js));
        js->tc = l->tc;
        js->rootfs = l->rootfs;
        js->seccomp = &l->filter;
        js->cgroups = c->cgroups;
        js->cpus = 1.0;
        js->pool = c->pool;
        js->preparer = c->preparer;
        js->host_uid = c->paths->sandbox_uid;
        js->host_gid = c->paths->sandbox_gid;
        js->id_count = c->paths->sandbox_ids;
        js->cancel_fd = -1;
        js->compile_limits = l->tc->limits_compile;
        js->run_limits = l->tc->limits_run;
        limits_fill_defaults(&js->compile_limits);
        limits_fill_defaults(&js->run_limits);
}

void catalog_refill(catalog_t *c, const lang_t *l)
{
        job_spec_t js;
        catalog_job_spec(c, l, &js);
        rc_err_t e = {0};
        if (job_pool_fill(&js, &e) < 0)
                fprintf(stderr, "runcell: preparing a sandbox for %s: %s\n", l->tc->name, e.msg);
}

int catalog_warm(catalog_t *c, const char *list, rc_err_t *err)
{
        _cleanup_free_ char *copy = strdup(list ? list : "");
        if (!copy)
                return rc_err_set(err, ENOMEM, "out of memory");
        char *save = NULL;
        for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                const toolchain_t *tc = toolchain_set_find(&c->set, name);
                lang_t *l = NULL;
                if (!tc)
                        return rc_err_set(err, ENOENT, "--warm: unknown language '%s'", name);
                int r = catalog_lang(c, tc, &l, err);
                if (r < 0)
                        return r;
                catalog_refill(c, l);
        }
        return 0;
}
