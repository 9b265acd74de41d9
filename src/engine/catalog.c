#include "engine/catalog.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seccomp/cache.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/note.h"

/* Toolchains and languages a reload replaced, kept while runs hold any of the languages. */
struct catalog_gen {
        toolchain_set_t set;
        lang_t *langs;
        catalog_gen_t *next;
};

static void langs_free(lang_t *langs, size_t n)
{
        for (size_t i = 0; langs && i < n; i++) {
                free(langs[i].rootfs);
                free(langs[i].version);
                free(langs[i].probed_version);
                seccomp_bpf_free(&langs[i].filter);
        }
        free(langs);
}

static void stat_line(buf_t *b, const char *what, const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                buf_printf(b, "%s -\n", what);
        else
                buf_printf(b, "%s %llu %lld %lld.%09ld\n", what, (unsigned long long)st.st_ino,
                           (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static int json_name(const struct dirent *d)
{
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* What a reload depends on, by stat alone: every *.json of the toolchains directory, and the
 * .sha256 file of each root filesystem the set names (build-rootfs renames a new one in). */
static char *fingerprint(const catalog_t *c, const toolchain_set_t *set)
{
        buf_t b = {0};
        struct dirent **names = NULL;
        int n = scandir(c->paths->toolchains_dir, &names, json_name, alphasort);
        buf_printf(&b, "toolchains %d\n", n);
        for (int i = 0; i < n; i++) {
                char *path = fs_join(c->paths->toolchains_dir, names[i]->d_name);
                if (path)
                        stat_line(&b, names[i]->d_name, path);
                free(path);
                free(names[i]);
        }
        free(names);
        for (size_t i = 0; i < set->n; i++) {
                size_t k = 0;
                while (k < i && strcmp(set->items[k]->rootfs, set->items[i]->rootfs) != 0)
                        k++;
                if (k < i)
                        continue; /* named before */
                char *path = NULL;
                if (asprintf(&path, "%s/%s.tar.zst.sha256", c->paths->rootfs_dir,
                             set->items[i]->rootfs) >= 0) {
                        stat_line(&b, set->items[i]->rootfs, path);
                        free(path);
                }
        }
        if (!b.data)
                buf_append(&b, "", 0);
        return b.data;
}

int catalog_load(catalog_t *c, const rc_paths_t *paths, rc_err_t *err)
{
        int r = catalog_load_mentioning(c, paths, NULL, err);
        if (r < 0)
                return r;
        /* what catalog_rescan compares with: a one-shot run's catalogue is never rescanned, and
         * stats no file for it */
        c->fingerprint = fingerprint(c, &c->set);
        return c->fingerprint ? 0 : rc_err_set(err, ENOMEM, "out of memory");
}

int catalog_load_mentioning(catalog_t *c, const rc_paths_t *paths, const char *token, rc_err_t *err)
{
        memset(c, 0, sizeof(*c));
        c->paths = paths;
        c->store = (rootfs_store_t){.rootfs_dir = paths->rootfs_dir,
                                    .state_dir = paths->state_dir,
                                    .shared_dir = paths->shared_state_dir};
        int r;
        char *index = NULL;
        if (token && paths->state_dir &&
            asprintf(&index, "%s/toolchains.index", paths->state_dir) >= 0) {
                r = toolchain_set_load_indexed(&c->set, paths->toolchains_dir, token, index, err);
                free(index);
        } else {
                r = toolchain_set_load_mentioning(&c->set, paths->toolchains_dir, token, err);
        }
        if (r < 0)
                return r;
        c->langs = calloc(c->set.n ? c->set.n : 1, sizeof(*c->langs));
        return c->langs ? 0 : rc_err_set(err, ENOMEM, "out of memory");
}

/* Free the retired generations no run holds any more. */
static void collect(catalog_t *c)
{
        for (catalog_gen_t **pp = &c->retired; *pp;) {
                catalog_gen_t *g = *pp;
                bool held = false;
                for (size_t i = 0; i < g->set.n && !held; i++)
                        held = g->langs[i].users > 0;
                if (held) {
                        pp = &g->next;
                        continue;
                }
                *pp = g->next;
                langs_free(g->langs, g->set.n);
                toolchain_set_free(&g->set);
                free(g);
        }
}

int catalog_rescan(catalog_t *c, bool force, rc_err_t *err)
{
        char *fp = fingerprint(c, &c->set);
        if (!fp)
                return rc_err_set(err, ENOMEM, "out of memory");
        if (!force && c->fingerprint && strcmp(fp, c->fingerprint) == 0) {
                free(fp);
                return 0;
        }
        toolchain_set_t ns = {0};
        int r = toolchain_set_load(&ns, c->paths->toolchains_dir, err);
        lang_t *nl = r < 0 ? NULL : calloc(ns.n ? ns.n : 1, sizeof(*nl));
        catalog_gen_t *g = nl ? calloc(1, sizeof(*g)) : NULL;
        if (!g) {
                toolchain_set_free(&ns);
                free(nl);
                /* not again until something changes */
                free(c->fingerprint);
                c->fingerprint = fp;
                return r < 0 ? r : rc_err_set(err, ENOMEM, "out of memory");
        }
        free(fp);
        g->set = c->set;
        g->langs = c->langs;
        g->next = c->retired;
        c->retired = g;
        c->set = ns;
        c->langs = nl;
        free(c->fingerprint);
        c->fingerprint = fingerprint(c, &c->set);
        /* Prepared sandboxes belong to the languages replaced: the next runs prepare anew. */
        job_pool_clear(c->pool);
        collect(c);
        return 1;
}

void catalog_hold(lang_t *l)
{
        l->users++;
}

void catalog_release(catalog_t *c, lang_t *l)
{
        if (l->users > 0)
                l->users--;
        if (l->users == 0 && c->retired && !catalog_current(c, l))
                collect(c);
}

bool catalog_current(const catalog_t *c, const lang_t *l)
{
        return c->langs && l >= c->langs && l < c->langs + c->set.n;
}

/* What is known of a language's tarball (available, and its version while the language is not
 * loaded), brought up to date: read again only when its .sha256 is another file or was written
 * since (build-rootfs renames a new one in), so that each request naming the language costs a
 * stat, not three files read. */
static void lang_probe(catalog_t *c, lang_t *l, const toolchain_t *tc)
{
        char *sha = NULL;
        struct stat st;
        if (asprintf(&sha, "%s/%s.tar.zst.sha256", c->paths->rootfs_dir, tc->rootfs) < 0) {
                l->probed = false; /* nothing known: ask the store itself */
                l->available = rootfs_available(&c->store, tc->rootfs);
                return;
        }
        bool there = stat(sha, &st) == 0;
        free(sha);
        if (l->probed && (there ? st.st_dev == l->probed_dev && st.st_ino == l->probed_ino &&
                                      st.st_mtim.tv_sec == l->probed_mtime.tv_sec &&
                                      st.st_mtim.tv_nsec == l->probed_mtime.tv_nsec
                                : l->probed_ino == 0))
                return;
        free(l->probed_version);
        l->probed_version = NULL;
        l->available = rootfs_available(&c->store, tc->rootfs);
        if (l->available && !l->ready)
                rootfs_package_version(&c->store, tc->rootfs, tc->version_package,
                                       &l->probed_version, NULL);
        l->probed = true;
        l->probed_dev = there ? st.st_dev : 0;
        l->probed_ino = there ? st.st_ino : 0;
        l->probed_mtime = there ? st.st_mtim : (struct timespec){0};
}

static lang_t *lang_of(catalog_t *c, const toolchain_t *tc)
{
        for (size_t i = 0; i < c->set.n; i++)
                if (c->set.items[i] == tc)
                        return &c->langs[i];
        return NULL;
}

bool catalog_ready(catalog_t *c, const toolchain_t *tc)
{
        lang_t *l = lang_of(c, tc);
        if (!l)
                return rootfs_available(&c->store, tc->rootfs);
        lang_probe(c, l, tc);
        return l->available;
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
        const char *note = cg_manager_note(c->cgroups);
        if (note)
                rc_note(RC_NOTE_INFO, "cgroups", "%s",
                        strncmp(note, "runcell: ", 9) == 0 ? note + 9 : note);
        /* A pool is what a long-running runcell keeps; its sandboxes are made by a helper forked
         * now, while this process is small. Without one, in-process as before. */
        if (pool_size > 0 && preparer_start(c->cgroups, &c->preparer, &e) < 0)
                rc_note(RC_NOTE_WARN, "preparer_off", "%s; preparing sandboxes in-process", e.msg);
        if (c->paths->build_cache_mb > 0) {
                _cleanup_free_ char *dir = fs_join(c->paths->state_dir, "builds");
                if (!dir ||
                    buildcache_open(dir, c->paths->build_cache_mb << 20, &c->builds, &e) < 0)
                        rc_note(RC_NOTE_WARN, "build_cache_off",
                                "%s; compiling without a build cache",
                                dir ? e.msg : "out of memory");
        }
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
        buildcache_close(c->builds);
        cg_manager_free(c->cgroups);
        langs_free(c->langs, c->set.n);
        toolchain_set_free(&c->set);
        while (c->retired) {
                catalog_gen_t *g = c->retired;
                c->retired = g->next;
                langs_free(g->langs, g->set.n);
                toolchain_set_free(&g->set);
                free(g);
        }
        free(c->fingerprint);
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

char *catalog_version(catalog_t *c, const toolchain_t *tc)
{
        lang_t *l = lang_of(c, tc);
        if (!l) {
                char *v = NULL;
                if (rootfs_available(&c->store, tc->rootfs))
                        rootfs_package_version(&c->store, tc->rootfs, tc->version_package, &v,
                                               NULL);
                return v;
        }
        if (l->ready)
                return l->version ? strdup(l->version) : NULL;
        lang_probe(c, l, tc);
        return l->probed_version ? strdup(l->probed_version) : NULL;
}

static int variant_newest_first(const void *a, const void *b)
{
        const catalog_variant_t *x = a, *y = b;
        int r = !x->version || !y->version ? (x->version ? -1 : !!y->version)
                                           : toolchain_version_cmp(y->version, x->version);
        /* equal versions (or none): file order, which qsort alone does not keep */
        return r ? r : (x->index < y->index ? -1 : x->index > y->index);
}

catalog_variant_t *catalog_variants(catalog_t *c, const char *name, size_t *n)
{
        *n = 0;
        catalog_variant_t *v = calloc(c->set.n ? c->set.n : 1, sizeof(*v));
        for (size_t i = 0; v && i < c->set.n; i++) {
                const toolchain_t *tc = c->set.items[i];
                if (strcmp(tc->name, name) == 0)
                        v[(*n)++] = (catalog_variant_t){
                            .tc = tc, .version = catalog_version(c, tc), .index = i};
        }
        if (v && *n > 1)
                qsort(v, *n, sizeof(*v), variant_newest_first);
        return v;
}

void catalog_variants_free(catalog_variant_t *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i].version);
        free(v);
}

static void versions_text(const catalog_variant_t *v, size_t n, char *out, size_t size)
{
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n && v[i].version && len < size; i++)
                len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", v[i].version);
        if (!out[0])
                snprintf(out, size, "none built");
}

int catalog_find(catalog_t *c, const char *name, const char *version, const toolchain_t **out,
                 rc_err_t *err)
{
        const toolchain_t *first = toolchain_set_find(&c->set, name);
        if (!first)
                return rc_err_set(err, ENOENT, "unknown language '%.100s'", name);
        bool any = toolchain_version_matches("", version);
        size_t count = 0;
        for (size_t i = 0; i < c->set.n; i++)
                count += strcmp(c->set.items[i]->name, first->name) == 0;
        if (count == 1 && any) { /* one version: no manifest to read */
                *out = first;
                return 0;
        }
        size_t n;
        catalog_variant_t *v = catalog_variants(c, first->name, &n);
        if (!v)
                return rc_err_set(err, ENOMEM, "out of memory");
        *out = NULL;
        for (size_t i = 0; i < n && v[i].version && !*out; i++) /* newest first */
                if (toolchain_version_matches(v[i].version, version))
                        *out = v[i].tc;
        int r = 0;
        if (!*out && any) {
                *out = first;
        } else if (!*out) {
                char list[256];
                versions_text(v, n, list, sizeof(list));
                r = rc_err_set(err, ESRCH, "%s has no version '%.60s' (versions: %s)", first->name,
                               version, list);
        }
        catalog_variants_free(v, n);
        return r;
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
        js->builds = c->builds;
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
        if (!catalog_current(c, l))
                return; /* replaced by a reload: its sandboxes would go unused */
        job_spec_t js;
        catalog_job_spec(c, l, &js);
        rc_err_t e = {0};
        if (job_pool_fill(&js, &e) < 0)
                rc_note(RC_NOTE_ERROR, "prepare_failed", "preparing a sandbox for %s: %s",
                        l->tc->name, e.msg);
}

int catalog_warm(catalog_t *c, const char *list, rc_err_t *err)
{
        _cleanup_free_ char *copy = strdup(list ? list : "");
        if (!copy)
                return rc_err_set(err, ENOMEM, "out of memory");
        char *save = NULL;
        for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
                const toolchain_t *tc = NULL;
                lang_t *l = NULL;
                int r = catalog_find(c, name, NULL, &tc, err); /* the newest version */
                if (r < 0)
                        return rc_err_wrap(err, "--warm");
                r = catalog_lang(c, tc, &l, err);
                if (r < 0)
                        return r;
                catalog_refill(c, l);
        }
        return 0;
}
