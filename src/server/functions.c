/* Functions (docs/protocol.md, "Functions"): code deployed once and invoked many times.
 *
 * A deploy parses the run document, compiles it once (a compile_only job; the build cache
 * applies), and keeps what the compile stage left in /work (for a language that does not
 * compile: the request's files) as an artifact, content-addressed, in
 * STATE_DIR/functions/artifacts/<sha256>/ (STORE.functions/ for a store file the config names):
 * written to a temporary directory, then renamed, so an artifact is there whole or not at all. The
 * record (each version's run document, settings and artifact) goes into the submission store, and
 * only then does the new version become current: an invocation sees the old version or the new one,
 * never half of one.
 *
 * An invocation is a run of the server (runs.c) whose document names "function": the run
 * document is the version's, with the invocation's stdin, args and env; its /work is the
 * artifact bound read-only (job_spec.work_dir: nothing is copied), and it runs in a sandbox
 * kept from the function's previous invocation (a lane, reset by the sandbox's init between
 * invocations), so a warm invocation costs a request and the program's fork and exec. Each
 * function keeps its idle lanes: min_warm of them are prepared ahead (after a deploy, at the
 * server's start, and whenever one is used), those above min_warm go after idle_s without use.
 * max_concurrent invocations run at once, queue_max more wait; rpm bounds them a minute.
 *
 * What is kept in memory is each function's current version (held by the runs that use it),
 * its lanes and counters; the store is the truth, read at the start. A store nodes share
 * (PostgreSQL) also holds the artifacts (artifacts.c puts a deploy's there before its version is
 * recorded, and fetches those a node lacks, on a thread of its own), and is read again every
 * FN_SYNC_MS for other nodes' deploys, rollbacks and deletes (fn_sync); a version whose artifact
 * is on its way becomes current once it is here, and runs wait for an artifact, never run
 * without it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/artifacts.h"
#include "server/log.h"
#include "server/server-internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/ratelimit.h"
#include "util/sha256.h"

#define FN_RUN_KEYS_MAX 16

/* ------------------------------------------------------------------ names and settings */

bool fn_name_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > FN_NAME_LEN)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
                      s[i] == '-'))
                        return false;
        return true;
}

bool server_fn_name_valid(const char *s)
{
        return fn_name_valid(s);
}

static const char *const setting_keys[] = {"mode",           "content_type", "min_warm",
                                           "max_concurrent", "queue_max",    "rpm",
                                           "idle_s",         "cgi_headers"};

static int int_setting(const cJSON *o, const char *k, int lo, int hi, int def, int *out, char *msg,
                       size_t size)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        if (!v) {
                *out = def;
                return 0;
        }
        /* the range first: a cast of a double past int's is undefined */
        if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
            v->valuedouble != (double)(int)v->valuedouble) {
                snprintf(msg, size, "\"%s\" must be an integer from %d to %d", k, lo, hi);
                return -1;
        }
        *out = (int)v->valuedouble;
        return 0;
}

static bool header_name_ok(const char *s)
{
        size_t n = strlen(s);
        if (n < 1 || n > 60)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return strcmp(s, "authorization") != 0 && strcmp(s, "proxy-authorization") != 0;
}

/* The settings of a deploy document (o: the document, or the stored "settings" object). */
static int settings_parse(const cJSON *o, fn_settings_t *s, char *msg, size_t size)
{
        memset(s, 0, sizeof(*s));
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "mode");
        const char *mode = cJSON_IsString(m) ? m->valuestring : m ? NULL : "stdin";
        if (!mode ||
            (strcmp(mode, "stdin") != 0 && strcmp(mode, "json") != 0 && strcmp(mode, "cgi") != 0)) {
                snprintf(msg, size, "\"mode\" must be \"stdin\", \"json\" or \"cgi\"");
                return -1;
        }
        snprintf(s->mode, sizeof(s->mode), "%s", mode);
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(o, "content_type");
        if (ct && (!cJSON_IsString(ct) || !*ct->valuestring ||
                   strlen(ct->valuestring) >= sizeof(s->content_type) ||
                   strpbrk(ct->valuestring, "\r\n"))) {
                snprintf(msg, size, "\"content_type\" must be a media type of at most %zu bytes",
                         sizeof(s->content_type) - 1);
                return -1;
        }
        snprintf(s->content_type, sizeof(s->content_type), "%s",
                 ct                          ? ct->valuestring
                 : strcmp(mode, "json") == 0 ? "application/json"
                                             : "text/plain; charset=utf-8");
        if (int_setting(o, "min_warm", 0, 16, 1, &s->min_warm, msg, size) < 0 ||
            int_setting(o, "max_concurrent", 1, 64, 8, &s->max_concurrent, msg, size) < 0 ||
            int_setting(o, "queue_max", 0, 1024, 64, &s->queue_max, msg, size) < 0 ||
            int_setting(o, "rpm", 0, 1000000, 0, &s->rpm, msg, size) < 0 ||
            int_setting(o, "idle_s", 1, 86400, 300, &s->idle_s, msg, size) < 0)
                return -1;
        if (s->min_warm > s->max_concurrent)
                s->min_warm = s->max_concurrent;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "cgi_headers"), *e;
        if (h && !cJSON_IsArray(h)) {
                snprintf(msg, size, "\"cgi_headers\" must be an array of header names");
                return -1;
        }
        cJSON_ArrayForEach(e, h)
        {
                if (!cJSON_IsString(e) || !header_name_ok(e->valuestring) ||
                    s->ncgi == FN_CGI_HEADERS_MAX) {
                        snprintf(msg, size,
                                 "\"cgi_headers\": at most %d lower-case header names "
                                 "(not authorization)",
                                 FN_CGI_HEADERS_MAX);
                        return -1;
                }
                snprintf(s->cgi_headers[s->ncgi++], sizeof(s->cgi_headers[0]), "%s",
                         e->valuestring);
        }
        return 0;
}

static cJSON *settings_json(const fn_settings_t *s)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "mode", s->mode);
        cJSON_AddStringToObject(o, "content_type", s->content_type);
        cJSON_AddNumberToObject(o, "min_warm", s->min_warm);
        cJSON_AddNumberToObject(o, "max_concurrent", s->max_concurrent);
        cJSON_AddNumberToObject(o, "queue_max", s->queue_max);
        cJSON_AddNumberToObject(o, "rpm", s->rpm);
        cJSON_AddNumberToObject(o, "idle_s", s->idle_s);
        cJSON *h = cJSON_AddArrayToObject(o, "cgi_headers");
        for (int i = 0; i < s->ncgi; i++)
                cJSON_AddItemToArray(h, cJSON_CreateString(s->cgi_headers[i]));
        return o;
}

/* ------------------------------------------------------------------ versions in memory */

static void ver_release(fn_ver_t *v)
{
        if (!v || --v->refs)
                return;
        free(v->dir);
        cJSON_Delete(v->run);
        free(v);
}

static fn_ver_t *ver_hold(fn_ver_t *v)
{
        if (v)
                v->refs++;
        return v;
}

/* A version from its stored form: spec is {"run": {...}, "settings": {...}}. */
static fn_ver_t *ver_from_store(server_t *srv, const fn_version_t *sv)
{
        fn_ver_t *v = calloc(1, sizeof(*v));
        if (!v)
                return NULL;
        v->refs = 1;
        snprintf(v->name, sizeof(v->name), "%s", sv->name);
        v->version = sv->version;
        v->created_ms = sv->created_ms;
        snprintf(v->artifact, sizeof(v->artifact), "%s", sv->artifact);
        cJSON *spec = cJSON_Parse(sv->spec ? sv->spec : "");
        cJSON *run = spec ? cJSON_DetachItemFromObjectCaseSensitive(spec, "run") : NULL;
        const cJSON *set = spec ? cJSON_GetObjectItemCaseSensitive(spec, "settings") : NULL;
        char msg[200];
        size_t dl = strlen(srv->fn_dir) + sizeof("/artifacts/") + strlen(sv->artifact);
        if (!cJSON_IsObject(run) || settings_parse(set, &v->set, msg, sizeof(msg)) < 0 ||
            !(v->dir = malloc(dl))) {
                cJSON_Delete(run);
                cJSON_Delete(spec);
                free(v);
                return NULL;
        }
        snprintf(v->dir, dl, "%s/artifacts/%s", srv->fn_dir, sv->artifact);
        v->run = run;
        v->state = access(v->dir, F_OK) == 0 ? FNV_LOCAL : FNV_MISSING;
        cJSON_Delete(spec);
        return v;
}

/* ------------------------------------------------------------------ artifacts from the store */

/* A version waiting for its artifact (held until the fetch is over). */
typedef struct fn_wait {
        struct fn_wait *next;
        fn_ver_t *v;
} fn_wait_t;

/* v's artifact wanted here: fetched from a shared store when it is not here (its runs wait for
 * it); elsewhere a missing artifact is a lost one. */
static void ver_want(server_t *srv, fn_ver_t *v)
{
        if (!v || v->state != FNV_MISSING)
                return;
        if (!srv->fn_xq) {
                v->state = FNV_FAILED;
                snprintf(v->fetch_err, sizeof(v->fetch_err),
                         "its artifact %.12s is missing from %s", v->artifact, srv->fn_art_dir);
                return;
        }
        fn_wait_t *w = calloc(1, sizeof(*w));
        bool asked = false;
        for (const fn_wait_t *o = srv->fn_wait; o; o = o->next)
                asked |= strcmp(o->v->artifact, v->artifact) == 0;
        if (!w || (!asked && xferq_submit(srv->fn_xq, XFER_GET, v->artifact, NULL) < 0)) {
                free(w);
                v->state = FNV_FAILED;
                snprintf(v->fetch_err, sizeof(v->fetch_err), "out of memory");
                return;
        }
        v->state = FNV_FETCHING;
        w->v = ver_hold(v);
        w->next = srv->fn_wait;
        srv->fn_wait = w;
}

static fn_t *fn_find(server_t *srv, const char *name)
{
        for (fn_t *f = srv->fns; f; f = f->next)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}

static void lane_free(fn_lane_t *l)
{
        if (!l)
                return;
        job_lane_free(l->lane);
        free(l);
}

static bool lane_of(const fn_lane_t *l, const fn_ver_t *v)
{
        return v && l->version == v->version && l->created_ms == v->created_ms;
}

/* Idle lanes of another version than the current one are of no more use. */
static void drop_stale_lanes(fn_t *f)
{
        for (fn_lane_t **pp = &f->idle; *pp;) {
                fn_lane_t *l = *pp;
                if (!lane_of(l, f->cur)) {
                        *pp = l->next;
                        f->nidle--;
                        lane_free(l);
                } else {
                        pp = &l->next;
                }
        }
}

static void fn_set_current(fn_t *f, fn_ver_t *v)
{
        if (f->pending && f->pending != v)
                ver_release(f->pending); /* what is current now is the store's word */
        f->pending = NULL;
        ver_release(f->cur);
        f->cur = v;
        rl_free(f->rl);
        f->rl = v && v->set.rpm > 0 ? rl_new(v->set.rpm) : NULL;
        drop_stale_lanes(f);
}

static fn_t *fn_add(server_t *srv, const char *name)
{
        fn_t *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        snprintf(f->name, sizeof(f->name), "%s", name);
        f->next = srv->fns;
        srv->fns = f;
        return f;
}

static void fn_free(fn_t *f)
{
        while (f->idle) {
                fn_lane_t *l = f->idle;
                f->idle = l->next;
                lane_free(l);
        }
        ver_release(f->cur);
        ver_release(f->pending);
        rl_free(f->rl);
        free(f);
}

/* The function's record again from the store (deploy, rollback, a function another node
 * deployed): its current version, current here now (its artifact fetched if it is not here:
 * its runs wait for it). */
static int fn_reload(server_t *srv, const char *name, rc_err_t *err)
{
        fn_record_t rec;
        int r = store_fn_get(srv->store, name, &rec, err);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        fn_ver_t *v = ver_from_store(srv, &rec.cur);
        fn_record_free(&rec);
        if (!v)
                return rc_err_set(err, EINVAL, "function %s: its stored version is unreadable",
                                  name);
        fn_t *f = fn_find(srv, name);
        if (!f && !(f = fn_add(srv, name))) {
                ver_release(v);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        fn_set_current(f, v);
        ver_want(srv, v);
        return 0;
}

static void fn_schedule_warm(server_t *srv);

/* name as this node knows it; a function it does not know is looked for in a store nodes share
 * (deployed on another node since the last fn_sync): at most FN_MISS_PER_S such lookups a
 * second, so that names nobody deployed cost the store nothing much. */
#define FN_MISS_PER_S 20
static fn_t *fn_lookup(server_t *srv, const char *name)
{
        if (!fn_name_valid(name))
                return NULL;
        fn_t *f = fn_find(srv, name);
        if ((f && (f->cur || f->pending)) || !srv->fn_xq)
                return f;
        int64_t now = dl_now_ms();
        if (now - srv->fn_miss_ms >= 1000) {
                srv->fn_miss_ms = now;
                srv->fn_miss_n = 0;
        }
        if (srv->fn_miss_n >= FN_MISS_PER_S)
                return f;
        srv->fn_miss_n++;
        rc_err_t err = {0};
        if (fn_reload(srv, name, &err) < 0)
                return f;
        fn_schedule_warm(srv);
        return fn_find(srv, name);
}

/* ------------------------------------------------------------------ answers */

static cJSON *err_json(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static cJSON *err_json(const char *code, const char *fmt, ...)
{
        char msg[600];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        return o;
}

static const char *run_language(const cJSON *run)
{
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(run, "language");
        return cJSON_IsString(l) ? l->valuestring : "";
}

static cJSON *fn_json(const fn_t *f, const fn_record_t *rec, bool stats)
{
        cJSON *o = cJSON_CreateObject();
        const fn_ver_t *v = f->cur;
        cJSON_AddStringToObject(o, "name", f->name);
        cJSON_AddNumberToObject(o, "version", v->version);
        cJSON_AddNumberToObject(o, "latest", rec ? rec->latest : v->version);
        cJSON_AddStringToObject(o, "language", run_language(v->run));
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(v->run, "version");
        if (cJSON_IsString(ver))
                cJSON_AddStringToObject(o, "language_version", ver->valuestring);
        cJSON_AddStringToObject(o, "mode", v->set.mode);
        cJSON_AddNumberToObject(o, "created_ms", (double)(rec ? rec->created_ms : v->created_ms));
        cJSON_AddNumberToObject(o, "updated_ms", (double)(rec ? rec->updated_ms : v->created_ms));
        cJSON_AddStringToObject(o, "artifact", v->artifact);
        cJSON_AddStringToObject(o, "content_type", v->set.content_type);
        cJSON_AddNumberToObject(o, "min_warm", v->set.min_warm);
        cJSON_AddNumberToObject(o, "max_concurrent", v->set.max_concurrent);
        cJSON_AddNumberToObject(o, "queue_max", v->set.queue_max);
        cJSON_AddNumberToObject(o, "rpm", v->set.rpm);
        cJSON_AddNumberToObject(o, "idle_s", v->set.idle_s);
        if (stats) {
                cJSON *s = cJSON_AddObjectToObject(o, "stats");
                int warm = 0;
                for (const fn_lane_t *l = f->idle; l; l = l->next)
                        warm += job_lane_holds(l->lane);
                cJSON_AddNumberToObject(s, "invocations", (double)f->invocations);
                cJSON_AddNumberToObject(s, "cold_starts", (double)f->cold_starts);
                cJSON_AddNumberToObject(s, "running", f->running);
                cJSON_AddNumberToObject(s, "warm", warm);
        }
        return o;
}

/* ------------------------------------------------------------------ deploy */

struct fn_deploy {
        server_t *srv;
        dl_http_t *h; /* NULL once the client is gone: the deploy still completes */
        /* or a WebSocket's dialect, told through done with tag (NULL conn: gone) */
        dl_conn_t *conn;
        dl_fn_done_fn done;
        cJSON *tag;
        char name[FN_NAME_LEN + 1];
        cJSON *doc;  /* the deploy document (rr points into it) */
        cJSON *spec; /* what is stored: {"run", "settings"} */
        run_request_t rr;
        lang_t *lang; /* held */
        job_t *job;
        /* the artifact, written here; with a store nodes share, being put there (sharing): the
         * version is recorded once it is */
        char sha[65];
        int64_t bytes;
        cJSON *compile; /* what the answer says of the compile */
        bool sharing;
        lws_sorted_usec_list_t reap;
        struct fn_deploy *next;
};

static void deploy_answer(fn_deploy_t *d, int status, cJSON *body)
{
        if (d->conn) {
                d->done(d->conn, d->tag, status, body);
                d->conn = NULL;
                cJSON_Delete(body);
        } else if (d->h) {
                d->h->fn_deploy = NULL;
                dl_http_json(d->h, status, body);
                d->h = NULL;
        } else {
                cJSON_Delete(body);
        }
}

static void deploy_free(fn_deploy_t *d)
{
        server_t *srv = d->srv;
        for (fn_deploy_t **pp = &srv->deploys; *pp; pp = &(*pp)->next)
                if (*pp == d) {
                        *pp = d->next;
                        break;
                }
        if (d->h)
                d->h->fn_deploy = NULL;
        lws_sul_cancel(&d->reap);
        if (d->sharing && srv->fn_xq)
                xferq_forget(srv->fn_xq, d); /* the put goes on; its blob is pruned in time */
        cJSON_Delete(d->compile);
        job_free(d->job);
        run_request_free(&d->rr);
        cJSON_Delete(d->tag);
        cJSON_Delete(d->doc);
        cJSON_Delete(d->spec);
        if (d->lang)
                catalog_release(srv->cat, d->lang);
        free(d);
}

/* One that never went into the list. */
static void deploy_free_unlinked(fn_deploy_t *d)
{
        cJSON_Delete(d->tag);
        free(d);
}

static void on_deploy_reap(lws_sorted_usec_list_t *sul)
{
        fn_deploy_t *d = lws_container_of(sul, fn_deploy_t, reap);
        if (!d->sharing) {
                deploy_free(d);
                return;
        }
        job_free(d->job); /* the deploy waits for its artifact's put (functions_service) */
        d->job = NULL;
}

static cJSON *compile_json(const stage_result_t *c)
{
        if (!c || !c->present)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", stage_status_name(c->status));
        cJSON_AddItemToObject(o, "stdout", json_bytes_item(c->out.data, c->out.len));
        cJSON_AddItemToObject(o, "stderr", json_bytes_item(c->err.data, c->err.len));
        cJSON_AddNumberToObject(o, "wall_ms", (double)c->wall_ms);
        cJSON_AddBoolToObject(o, "cached", c->cached);
        if (c->error[0])
                cJSON_AddStringToObject(o, "error", c->error);
        return o;
}

/* Blobs no version names go from a shared store once they are this old: a deploy on another
 * node puts its artifact's blob before it records the version. */
#define FN_BLOB_GRACE_MS (3600 * 1000)

static void prune(server_t *srv, bool temporaries)
{
        artifacts_prune(srv->store, srv->fn_art_dir, temporaries);
        rc_err_t err = {0};
        if (srv->fn_xq && store_blob_prune(srv->store, FN_BLOB_GRACE_MS, &err) < 0)
                slog_msg(SLOG_WARN, "functions_prune_failed", "functions: %s", err.msg);
}

/* The artifact is here (and in a shared store): record the version, make it current, answer. */
static void deploy_record(fn_deploy_t *d)
{
        server_t *srv = d->srv;
        rc_err_t err = {0};
        char *spec = cJSON_PrintUnformatted(d->spec);
        int version = 0;
        int r = spec ? store_fn_put(srv->store, d->name, d->sha, spec, srv->opts->fn_keep_versions,
                                    &version, &err)
                     : rc_err_set(&err, ENOMEM, "out of memory");
        free(spec);
        if (r < 0) {
                prune(srv, false);
                deploy_answer(d, 500, err_json("internal", "storing the function: %s", err.msg));
                return;
        }
        bool created = r == 1;
        if (fn_reload(srv, d->name, &err) < 0) {
                deploy_answer(d, 500, err_json("internal", "%s", err.msg));
                return;
        }
        prune(srv, false);
        fn_t *f = fn_find(srv, d->name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddNumberToObject(o, "version", version);
        cJSON_AddStringToObject(o, "artifact", d->sha);
        cJSON_AddNumberToObject(o, "artifact_bytes", (double)d->bytes);
        cJSON_AddStringToObject(o, "language", d->rr.lang->tc->name);
        cJSON_AddStringToObject(o, "mode", f && f->cur ? f->cur->set.mode : "stdin");
        cJSON_AddNumberToObject(o, "created_ms", (double)(f && f->cur ? f->cur->created_ms : 0));
        cJSON_AddItemToObject(o, "compile", d->compile ? d->compile : cJSON_CreateNull());
        d->compile = NULL;
        slog_line_t l;
        slog_begin(&l, SLOG_INFO, "function_deployed");
        slog_strf(&l, "msg", "function %s version %d deployed (artifact %.12s, %lld bytes)",
                  d->name, version, d->sha, (long long)d->bytes);
        slog_str(&l, "function", d->name);
        slog_int(&l, "version", version);
        slog_str(&l, "artifact", d->sha);
        slog_int(&l, "bytes", (long long)d->bytes);
        if (d->h || d->conn) {
                slog_str(&l, "client", d->h ? d->h->client : d->conn->client);
                /* the token's index is in the options the client was let in under */
                slog_str(&l, "token",
                         token_name(d->h ? d->h->cfg->o : d->conn->cfg->o,
                                    d->h ? d->h->token : d->conn->token));
        }
        slog_end(&l);
        deploy_answer(d, created ? 201 : 200, o);
        fn_schedule_warm(srv);
}

/* Compiled: the artifact written here, then (a store nodes share) put there before the version
 * is recorded, so that no node ever reads of a version whose artifact it cannot have. */
static void deploy_commit(fn_deploy_t *d, art_file_t *files, size_t n, const stage_result_t *c)
{
        server_t *srv = d->srv;
        rc_err_t err = {0};
        if (artifact_write(srv->fn_art_dir, srv->opts->fn_artifact_max_mb * 1024 * 1024, files, n,
                           d->sha, &d->bytes, &err) < 0) {
                deploy_answer(
                    d, err.code == EFBIG ? 413 : 500,
                    err_json(err.code == EFBIG ? "too_large" : "internal", "%s", err.msg));
                return;
        }
        d->compile = compile_json(c);
        if (srv->fn_xq) {
                if (xferq_submit(srv->fn_xq, XFER_PUT, d->sha, d) == 0) {
                        d->sharing = true;
                        return;
                }
                deploy_answer(d, 500, err_json("internal", "out of memory"));
                return;
        }
        deploy_record(d);
}

static void on_deploy_done(void *ud)
{
        fn_deploy_t *d = ud;
        const job_result_t *res = job_result(d->job);
        const stage_result_t *c = &res->compile;
        job_build_t *b = NULL;
        if (!c->present || c->status != STATUS_OK || job_take_build(d->job, &b) < 0) {
                bool internal = !c->present || c->status == STATUS_INTERNAL_ERROR;
                cJSON *o = err_json(internal ? "internal" : "compile_error", "%s",
                                    internal ? (c->error[0] ? c->error : "the compile did not run")
                                             : "the program did not compile");
                if (!internal)
                        cJSON_AddItemToObject(o, "compile", compile_json(c));
                deploy_answer(d, internal ? 500 : 422, o);
        } else {
                art_file_t *files = calloc(b->nfiles ? b->nfiles : 1, sizeof(*files));
                if (!files) {
                        deploy_answer(d, 500, err_json("internal", "out of memory"));
                } else {
                        size_t n = 0;
                        for (size_t i = 0; i < b->nfiles; i++) {
                                struct stat st;
                                const sb_file_t *sf = &b->files[i];
                                if (sf->fd >= 0 && fstat(sf->fd, &st) == 0)
                                        files[n++] = (art_file_t){.path = sf->path,
                                                                  .exec = (sf->mode & 0111) != 0,
                                                                  .fd = sf->fd,
                                                                  .len = (size_t)st.st_size};
                                else if (sf->fd < 0)
                                        files[n++] = (art_file_t){.path = sf->path,
                                                                  .exec = (sf->mode & 0111) != 0,
                                                                  .data = sf->data ? sf->data : "",
                                                                  .fd = -1,
                                                                  .len = sf->len};
                        }
                        deploy_commit(d, files, n, c);
                        free(files);
                }
                job_build_free(b);
        }
        /* the job cannot be freed from its own callback */
        lws_sul_schedule(d->srv->ctx, 0, &d->reap, on_deploy_reap, 1);
}

/* Keys a deploy document may have besides the function settings. */
static bool deploy_key_ok(const char *k)
{
        static const char *const keys[] = {
            "language", "version", "files",           "source", "env",
            "args",     "command", "compile_options", "limits", "compile_limits"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strcmp(k, keys[i]) == 0)
                        return true;
        for (size_t i = 0; i < sizeof(setting_keys) / sizeof(setting_keys[0]); i++)
                if (strcmp(k, setting_keys[i]) == 0)
                        return true;
        return false;
}

/* Start a deploy answered through d (h or conn set): checked, then compiled or stored now. */
static void deploy_start(fn_deploy_t *d, const char *name, cJSON *doc)
{
        server_t *srv = the_server;
        char msg[600];
        d->srv = srv;
        d->doc = doc;
        d->next = srv->deploys;
        srv->deploys = d;
        snprintf(d->name, sizeof(d->name), "%.*s", FN_NAME_LEN, name ? name : "");
        if (!srv->store || !srv->fn_dir) {
                deploy_answer(d, 503,
                              err_json("unavailable",
                                       "functions need the submission store (a state directory)"));
                deploy_free(d);
                return;
        }
        if (!fn_name_valid(name)) {
                deploy_answer(d, 400,
                              err_json("bad_request",
                                       "a function's name is 1 to %d characters of a-z, 0-9, _ "
                                       "and -, starting with a letter or digit",
                                       FN_NAME_LEN));
                deploy_free(d);
                return;
        }
        if (!cJSON_IsObject(doc)) {
                deploy_answer(d, 400, err_json("bad_request", "the body must be a JSON object"));
                deploy_free(d);
                return;
        }
        const cJSON *k;
        cJSON_ArrayForEach(k, doc)
        {
                if (!deploy_key_ok(k->string)) {
                        deploy_answer(d, 400,
                                      err_json("bad_request", "a function's deploy takes no \"%s\"",
                                               k->string));
                        deploy_free(d);
                        return;
                }
        }
        fn_settings_t set;
        if (settings_parse(doc, &set, msg, sizeof(msg)) < 0) {
                deploy_answer(d, 400, err_json("bad_request", "%s", msg));
                deploy_free(d);
                return;
        }
        const char *code = NULL;
        if (run_request_parse(srv->cat, doc, false, &d->rr, &code, msg, sizeof(msg)) < 0) {
                deploy_answer(d, dl_error_status(code), err_json(code, "%s", msg));
                deploy_free(d);
                return;
        }
        d->lang = d->rr.lang;
        catalog_hold(d->lang);
        size_t total = 0;
        for (size_t i = 0; i < d->rr.nfiles; i++)
                total += d->rr.files[i].len;
        if (total > srv->opts->source_max) {
                deploy_answer(d, 413,
                              err_json("too_large", "the files are %zu bytes together, over %zu",
                                       total, srv->opts->source_max));
                deploy_free(d);
                return;
        }
        job_spec_t js;
        rc_err_t err = {0};
        run_request_job_spec(srv->cat, &d->rr, &js);
        limits_clamp(&js.run_limits, &srv->opts->limits_max);
        limits_clamp(&js.compile_limits, &srv->opts->limits_max);
        if (job_check(&js, &err) < 0) {
                deploy_answer(d, 400, err_json("bad_request", "%s", err.msg));
                deploy_free(d);
                return;
        }
        /* What is stored: the run document without its files, with the exact language version
         * the artifact was made with, and the settings. */
        cJSON *run = cJSON_Duplicate(doc, true);
        if (!run || !(d->spec = cJSON_CreateObject())) {
                cJSON_Delete(run);
                deploy_answer(d, 500, err_json("internal", "out of memory"));
                deploy_free(d);
                return;
        }
        /* the files are the artifact; the entry's name stays (the run command is made of it) */
        cJSON_DeleteItemFromObjectCaseSensitive(run, "files");
        cJSON_DeleteItemFromObjectCaseSensitive(run, "source");
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddStringToObject(entry, "name", d->rr.files[0].name);
        cJSON_AddStringToObject(entry, "content", "");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(run, "files"), entry);
        for (size_t i = 0; i < sizeof(setting_keys) / sizeof(setting_keys[0]); i++)
                cJSON_DeleteItemFromObjectCaseSensitive(run, setting_keys[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(run, "language");
        cJSON_DeleteItemFromObjectCaseSensitive(run, "version");
        cJSON_AddStringToObject(run, "language", d->rr.lang->tc->name);
        if (d->rr.lang->version)
                cJSON_AddStringToObject(run, "version", d->rr.lang->version);
        cJSON_AddItemToObject(d->spec, "run", run);
        cJSON_AddItemToObject(d->spec, "settings", settings_json(&set));
        if (!d->rr.lang->tc->compile.n) {
                /* nothing to compile: the files are the artifact */
                art_file_t files[REQUEST_FILES_MAX];
                for (size_t i = 0; i < d->rr.nfiles; i++)
                        files[i] = (art_file_t){.path = d->rr.files[i].name,
                                                .exec = d->rr.files[i].executable,
                                                .data = d->rr.files[i].data,
                                                .fd = -1,
                                                .len = d->rr.files[i].len};
                deploy_commit(d, files, d->rr.nfiles, NULL);
                if (!d->sharing) /* else freed once the store has its artifact */
                        deploy_free(d);
                return;
        }
        js.compile_only = true;
        js.build_aside = true; /* the artifact's bound is fn_artifact_max_mb (artifact_write) */
        js.capture = true;
        js.cb = (job_callbacks_t){.done = on_deploy_done, .ud = d};
        if (job_start(&js, srv->loop, &d->job, &err) < 0) {
                deploy_answer(d, 500, err_json("internal", "%s", err.msg));
                deploy_free(d);
        }
}

void dl_fn_deploy(dl_http_t *h, const char *name, cJSON *doc)
{
        fn_deploy_t *d = calloc(1, sizeof(*d));
        if (!d) {
                cJSON_Delete(doc);
                dl_http_json(h, 500, err_json("internal", "out of memory"));
                return;
        }
        d->h = h;
        h->fn_deploy = d;
        deploy_start(d, name, doc);
}

void dl_fn_deploy_conn(dl_conn_t *c, const char *name, cJSON *doc, dl_fn_done_fn done, cJSON *tag)
{
        fn_deploy_t *d = calloc(1, sizeof(*d));
        if (!d) {
                cJSON *e = err_json("internal", "out of memory");
                done(c, tag, 500, e);
                cJSON_Delete(e);
                cJSON_Delete(tag);
                cJSON_Delete(doc);
                return;
        }
        d->conn = c;
        d->done = done;
        d->tag = tag;
        bool gone = access_refresh(c->srv, &c->cfg, &c->token, &c->anon) < 0; /* a reload */
        if (gone || token_scoped(c->srv->opts, c->token)) {
                d->srv = c->srv;
                deploy_answer(
                    d, gone ? 401 : 403,
                    gone ? err_json("unauthorized", "this connection's token is no longer accepted")
                         : err_json("forbidden", "this token may only invoke functions"));
                cJSON_Delete(doc);
                deploy_free_unlinked(d);
                return;
        }
        deploy_start(d, name, doc);
}

/* A WebSocket connection is gone: its deploys go on, unanswered. */
void fn_deploys_conn_gone(server_t *srv, dl_conn_t *c)
{
        for (fn_deploy_t *d = srv->deploys; d; d = d->next)
                if (d->conn == c)
                        d->conn = NULL;
}

void fn_deploy_orphan(fn_deploy_t *d)
{
        if (d)
                d->h = NULL; /* it goes on: a deploy is not undone by a client that left */
}

/* ------------------------------------------------------------------ list, get, versions, ... */

int dl_fn_list(cJSON **out)
{
        server_t *srv = the_server;
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(o, "functions");
        /* by name: the store's order */
        fn_t *sorted[4096];
        size_t n = 0;
        for (fn_t *f = srv->fns; f && n < sizeof(sorted) / sizeof(sorted[0]); f = f->next)
                if (f->cur)
                        sorted[n++] = f;
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && strcmp(sorted[k - 1]->name, sorted[k]->name) > 0; k--) {
                        fn_t *t = sorted[k];
                        sorted[k] = sorted[k - 1];
                        sorted[k - 1] = t;
                }
        for (size_t i = 0; i < n; i++) {
                fn_record_t rec;
                rc_err_t err = {0};
                int r = store_fn_get(srv->store, sorted[i]->name, &rec, &err);
                cJSON_AddItemToArray(a, fn_json(sorted[i], r == 1 ? &rec : NULL, false));
                if (r == 1)
                        fn_record_free(&rec);
        }
        *out = o;
        return 200;
}

static int not_found(cJSON **out, const char *name)
{
        *out = err_json("not_found", "no function \"%.80s\"", name);
        return 404;
}

int dl_fn_get(const char *name, cJSON **out)
{
        server_t *srv = the_server;
        fn_t *f = fn_lookup(srv, name);
        if (!f || !f->cur)
                return not_found(out, name);
        fn_record_t rec;
        rc_err_t err = {0};
        int r = store_fn_get(srv->store, name, &rec, &err);
        *out = fn_json(f, r == 1 ? &rec : NULL, true);
        if (r == 1)
                fn_record_free(&rec);
        return 200;
}

static int add_version(const fn_version_t *v, void *ud)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "version", v->version);
        cJSON_AddNumberToObject(o, "created_ms", (double)v->created_ms);
        cJSON_AddStringToObject(o, "artifact", v->artifact);
        cJSON *spec = cJSON_Parse(v->spec ? v->spec : "");
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(spec, "run");
        cJSON_AddStringToObject(o, "language", run_language(run));
        cJSON_Delete(spec);
        cJSON_AddItemToArray(ud, o);
        return 0;
}

int dl_fn_versions(const char *name, cJSON **out)
{
        server_t *srv = the_server;
        fn_t *f = fn_lookup(srv, name);
        if (!f || !f->cur)
                return not_found(out, name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddNumberToObject(o, "current", f->cur->version);
        cJSON *a = cJSON_AddArrayToObject(o, "versions");
        rc_err_t err = {0};
        if (store_fn_versions(srv->store, name, add_version, a, &err) < 0) {
                cJSON_Delete(o);
                *out = err_json("internal", "%s", err.msg);
                return 500;
        }
        *out = o;
        return 200;
}

static int find_previous(const fn_version_t *v, void *ud)
{
        int *want = ud; /* [0]: the current version, [1]: the newest before it */
        if (v->version < want[0] && v->version > want[1])
                want[1] = v->version;
        return 0;
}

int dl_fn_rollback(const char *name, int version, cJSON **out)
{
        server_t *srv = the_server;
        fn_t *f = fn_lookup(srv, name);
        if (!f || !f->cur)
                return not_found(out, name);
        rc_err_t err = {0};
        if (version <= 0) {
                int want[2] = {f->cur->version, 0};
                if (store_fn_versions(srv->store, name, find_previous, want, &err) < 0) {
                        *out = err_json("internal", "%s", err.msg);
                        return 500;
                }
                if (!want[1]) {
                        *out = err_json("conflict",
                                        "function \"%s\" has no version before its current one "
                                        "(%d) to go back to",
                                        name, f->cur->version);
                        return 409;
                }
                version = want[1];
        }
        int r = store_fn_set_current(srv->store, name, version, &err);
        if (r < 0) {
                *out = err_json("internal", "%s", err.msg);
                return 500;
        }
        if (r == 0) {
                *out =
                    err_json("not_found", "function \"%s\" has no version %d (kept: the last %d)",
                             name, version, srv->opts->fn_keep_versions);
                return 404;
        }
        if (fn_reload(srv, name, &err) < 0) {
                *out = err_json("internal", "%s", err.msg);
                return 500;
        }
        slog_msg(SLOG_INFO, "function_rollback", "function %s is at version %d again", name,
                 version);
        fn_schedule_warm(srv);
        return dl_fn_get(name, out);
}

int dl_fn_delete(const char *name, cJSON **out)
{
        server_t *srv = the_server;
        fn_t *f = fn_lookup(srv, name);
        if (!f || !f->cur)
                return not_found(out, name);
        rc_err_t err = {0};
        if (store_fn_delete(srv->store, name, &err) < 0) {
                *out = err_json("internal", "%s", err.msg);
                return 500;
        }
        /* runs going keep their version (held); the function is gone for new ones */
        fn_set_current(f, NULL);
        prune(srv, false);
        slog_msg(SLOG_INFO, "function_deleted", "function %s deleted", name);
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "deleted", name);
        return 200;
}

bool dl_fn_info(const char *name, int version, dl_fn_info_t *out)
{
        server_t *srv = the_server;
        fn_t *f = fn_lookup(srv, name);
        if (!f || !f->cur)
                return false;
        memset(out, 0, sizeof(*out));
        const fn_settings_t *s = &f->cur->set;
        fn_version_t sv;
        rc_err_t err = {0};
        fn_ver_t *other = NULL;
        if (version > 0 && version != f->cur->version) {
                if (store_fn_version(srv->store, name, version, &sv, &err) != 1)
                        return false;
                other = ver_from_store(srv, &sv);
                fn_version_free(&sv);
                if (!other)
                        return false;
                s = &other->set;
        }
        out->version = version > 0 ? version : f->cur->version;
        snprintf(out->mode, sizeof(out->mode), "%s", s->mode);
        snprintf(out->content_type, sizeof(out->content_type), "%s", s->content_type);
        out->ncgi = s->ncgi;
        memcpy(out->cgi_headers, s->cgi_headers, sizeof(out->cgi_headers));
        ver_release(other);
        return true;
}

/* ------------------------------------------------------------------ invocations (runs.c) */

/* Keys an invocation's run document may have. */
static bool invoke_key_ok(const char *k)
{
        static const char *const keys[] = {"function",
                                           "function_version",
                                           "id",
                                           "stdin",
                                           "stdin_encoding",
                                           "interactive",
                                           "args",
                                           "env",
                                           "tty",
                                           "type"}; /* "type": a WebSocket message's */
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strcmp(k, keys[i]) == 0)
                        return true;
        return false;
}

/* The run document of an invocation: the version's (its entry file's name, empty: the files are
 * the artifact), the invocation's stdin, interactive, tty and id, its args instead of the
 * function's, and its env over the function's. */
static cJSON *invocation_doc(const fn_ver_t *v, const cJSON *inv)
{
        cJSON *d = cJSON_Duplicate(v->run, true);
        if (!d)
                return NULL;
        static const char *const take[] = {"id",          "stdin", "stdin_encoding",
                                           "interactive", "tty",   "args"};
        for (size_t i = 0; i < sizeof(take) / sizeof(take[0]); i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(inv, take[i]);
                if (!x)
                        continue;
                cJSON_DeleteItemFromObjectCaseSensitive(d, take[i]);
                cJSON_AddItemToObject(d, take[i], cJSON_Duplicate(x, true));
        }
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(inv, "env"), *e;
        if (cJSON_IsObject(env)) {
                cJSON *de = cJSON_GetObjectItemCaseSensitive(d, "env");
                if (!de)
                        de = cJSON_AddObjectToObject(d, "env");
                cJSON_ArrayForEach(e, env)
                {
                        cJSON_DeleteItemFromObjectCaseSensitive(de, e->string);
                        cJSON_AddItemToObject(de, e->string, cJSON_Duplicate(e, true));
                }
        } else if (env) {
                cJSON_AddItemToObject(d, "env", cJSON_Duplicate(env, true)); /* refused later */
        }
        return d;
}

int fn_run_resolve(server_t *srv, run_t *r, cJSON **doc, dl_error_t *e)
{
        const cJSON *fnv = cJSON_GetObjectItemCaseSensitive(*doc, "function");
        const char *name = cJSON_IsString(fnv) ? fnv->valuestring : NULL;
        if (!name || !fn_name_valid(name)) {
                e->code = "bad_request";
                snprintf(e->message, sizeof(e->message), "\"function\" must be a function's name");
                return -1;
        }
        const cJSON *k;
        cJSON_ArrayForEach(k, *doc)
        {
                if (!invoke_key_ok(k->string)) {
                        e->code = "bad_request";
                        snprintf(e->message, sizeof(e->message),
                                 "a function's run takes only function, function_version, id, "
                                 "stdin, stdin_encoding, interactive, tty, args and env: not "
                                 "\"%.60s\"",
                                 k->string);
                        return -1;
                }
        }
        int want = 0;
        const cJSON *vv = cJSON_GetObjectItemCaseSensitive(*doc, "function_version");
        if (vv && (!cJSON_IsNumber(vv) || vv->valuedouble < 1 || vv->valuedouble > INT_MAX ||
                   vv->valuedouble != (double)(int)vv->valuedouble)) {
                e->code = "bad_request";
                snprintf(e->message, sizeof(e->message),
                         "\"function_version\" must be a positive integer");
                return -1;
        }
        if (vv)
                want = (int)vv->valuedouble;
        if (!dl_token_may_invoke(r->token, name)) {
                e->code = "forbidden";
                snprintf(e->message, sizeof(e->message), "this token may not invoke \"%s\"", name);
                return -1;
        }
        fn_t *f = fn_lookup(srv, name);
        if (!f || !f->cur) {
                e->code = "not_found";
                snprintf(e->message, sizeof(e->message), "no function \"%s\"", name);
                return -1;
        }
        fn_ver_t *v = NULL;
        if (!want || want == f->cur->version) {
                v = ver_hold(f->cur);
        } else {
                fn_version_t sv;
                rc_err_t err = {0};
                if (store_fn_version(srv->store, name, want, &sv, &err) != 1) {
                        e->code = "not_found";
                        snprintf(e->message, sizeof(e->message),
                                 "function \"%s\" has no version %d", name, want);
                        return -1;
                }
                v = ver_from_store(srv, &sv);
                fn_version_free(&sv);
                if (!v) {
                        e->code = "internal";
                        snprintf(e->message, sizeof(e->message), "version %d is unreadable", want);
                        return -1;
                }
                ver_want(srv, v);
        }
        const fn_settings_t s = v->set;
        if (f->running + f->queued >= s.max_concurrent + s.queue_max) {
                ver_release(v);
                e->code = "busy";
                snprintf(e->message, sizeof(e->message),
                         "function \"%s\": all %d of its invocations are going and %d wait", name,
                         s.max_concurrent, f->queued);
                return -1;
        }
        int retry = 0;
        if (f->rl && rl_take(f->rl, name, dl_now_ms(), &retry) < 0) {
                ver_release(v);
                e->code = "rate_limited";
                e->retry_after_s = retry;
                snprintf(e->message, sizeof(e->message),
                         "function \"%s\" has had its %d invocations a minute: try again in %d s",
                         name, s.rpm, retry);
                return -1;
        }
        cJSON *d = invocation_doc(v, *doc);
        if (!d) {
                ver_release(v);
                e->code = "internal";
                snprintf(e->message, sizeof(e->message), "out of memory");
                return -1;
        }
        cJSON_Delete(*doc);
        *doc = d;
        r->fn = f;
        r->fnv = v;
        f->queued++; /* until it begins */
        return 0;
}

/* The job spec's function parts: built already (nothing to place), the artifact as a read-only
 * /work. The entry file (empty) only names what the run command runs. */
int fn_run_spec(run_t *r, job_spec_t *js, rc_err_t *err)
{
        static const job_build_t none = {0};
        const fn_ver_t *v = r->fnv;
        if (v->state == FNV_FAILED) /* else here, or on its way (fn_slot_free waits for it) */
                return rc_err_set(err, EIO, "function %s version %d: %s", v->name, v->version,
                                  v->fetch_err);
        js->build = &none;
        js->work_dir = v->dir;
        return 0;
}

/* A run may begin: its function has a slot, and its version's artifact is here (or could not
 * be had: the run then fails). */
bool fn_slot_free(const run_t *r)
{
        return !r->fn || (r->fnv->state != FNV_FETCHING && r->fnv->state != FNV_MISSING &&
                          r->fn->running < r->fnv->set.max_concurrent);
}

/* The run begins: a lane of the function's, one holding a sandbox for this version if there
 * is one (warm), else a new one (cold: its sandbox is made now). */
void fn_run_begin(run_t *r, job_spec_t *js)
{
        fn_t *f = r->fn;
        f->queued--;
        f->running++;
        r->fn_begun = true;
        f->invocations++;
        fn_lane_t **pick = NULL;
        for (fn_lane_t **pp = &f->idle; *pp; pp = &(*pp)->next)
                if (lane_of(*pp, r->fnv) &&
                    (!pick || (job_lane_holds((*pp)->lane) && !job_lane_holds((*pick)->lane))))
                        pick = pp;
        fn_lane_t *l = NULL;
        if (pick) {
                l = *pick;
                *pick = l->next;
                f->nidle--;
        } else if ((l = calloc(1, sizeof(*l))) && !(l->lane = job_lane_new(js->pool))) {
                free(l);
                l = NULL;
        }
        if (l) {
                l->version = r->fnv->version;
                l->created_ms = r->fnv->created_ms;
        }
        r->fnl = l;
        r->fn_cold = !l || !job_lane_holds(l->lane);
        if (r->fn_cold)
                f->cold_starts++;
        js->lane = l ? l->lane : NULL;
        r->srv->fn_invocations++;
}

/* The run is over: its lane back to the function (if it still is the version's), its slot
 * free. */
void fn_run_end(run_t *r, int64_t setup_us)
{
        fn_t *f = r->fn;
        if (!f || !r->fn_begun)
                return;
        f->running--;
        if (r->fnl) {
                fn_lane_t *l = r->fnl;
                r->fnl = NULL;
                if (r->fn_cold)
                        hist_add(&r->srv->fn_cold, (double)setup_us / 1e6);
                else
                        hist_add(&r->srv->fn_warm, (double)setup_us / 1e6);
                if (lane_of(l, f->cur) && job_lane_holds(l->lane) &&
                    f->nidle < f->cur->set.max_concurrent) {
                        l->last_ms = dl_now_ms();
                        l->next = f->idle;
                        f->idle = l;
                        f->nidle++;
                } else {
                        lane_free(l);
                }
        }
        r->fn = NULL;
}

/* A run freed: a queued one never began; the version is let go. */
void fn_run_free(run_t *r)
{
        if (r->fn && !r->fn_begun)
                r->fn->queued--;
        else if (r->fn)
                fn_run_end(r, 0);
        r->fn = NULL;
        lane_free(r->fnl);
        r->fnl = NULL;
        ver_release(r->fnv);
        r->fnv = NULL;
}

bool dl_run_fn(const dl_run_t *r, int *version, bool *cold)
{
        if (!r->fnv)
                return false;
        *version = r->fnv->version;
        *cold = r->fn_cold;
        return true;
}

/* ------------------------------------------------------------------ warm lanes */

/* One sandbox prepared for f's current version, into a new idle lane. */
static int fn_warm_one(server_t *srv, fn_t *f, rc_err_t *err)
{
        fn_ver_t *v = f->cur;
        cJSON *d = invocation_doc(v, NULL);
        if (!d)
                return rc_err_set(err, ENOMEM, "out of memory");
        run_request_t rr;
        const char *code = NULL;
        char msg[300];
        memset(&rr, 0, sizeof(rr));
        if (run_request_parse(srv->cat, d, false, &rr, &code, msg, sizeof(msg)) < 0) {
                cJSON_Delete(d);
                return rc_err_set(err, EINVAL, "%s", msg);
        }
        job_spec_t js;
        run_request_job_spec(srv->cat, &rr, &js);
        limits_clamp(&js.run_limits, &srv->opts->limits_max);
        js.work_dir = v->dir;
        prepared_t pr;
        int r = job_prepare(&js, &js.run_limits, &pr, err);
        fn_lane_t *l = NULL;
        if (r == 0 && (l = calloc(1, sizeof(*l))) && (l->lane = job_lane_new(js.pool))) {
                pool_key_t key = {js.rootfs, js.seccomp, js.run_limits.disk_mb, js.work_dir, false};
                job_lane_put(l->lane, &key, pr);
                l->version = v->version;
                l->created_ms = v->created_ms;
                l->last_ms = dl_now_ms();
                l->next = f->idle;
                f->idle = l;
                f->nidle++;
        } else if (r == 0) {
                free(l);
                prepared_destroy(&pr);
                r = rc_err_set(err, ENOMEM, "out of memory");
        }
        run_request_free(&rr);
        cJSON_Delete(d);
        return r;
}

/* Each function: idle lanes above min_warm that were not used for idle_s go; up to min_warm
 * ready ones are made (one a function a tick: the loop is not held up for long). */
static void fn_tick(server_t *srv)
{
        int64_t now = dl_now_ms();
        for (fn_t *f = srv->fns; f; f = f->next) {
                if (!f->cur || f->cur->state != FNV_LOCAL)
                        continue;
                const fn_settings_t *s = &f->cur->set;
                int warm = 0;
                for (fn_lane_t **pp = &f->idle; *pp;) {
                        fn_lane_t *l = *pp;
                        bool holds = job_lane_holds(l->lane);
                        if (!holds ||
                            (warm >= s->min_warm && now - l->last_ms > s->idle_s * 1000LL)) {
                                *pp = l->next;
                                f->nidle--;
                                lane_free(l);
                                continue;
                        }
                        warm++;
                        pp = &l->next;
                }
                if (warm < s->min_warm && !srv->draining && warm + f->running < s->max_concurrent) {
                        rc_err_t err = {0};
                        if (fn_warm_one(srv, f, &err) < 0 && !f->warn_given) {
                                slog_msg(SLOG_WARN, "function_warm_failed",
                                         "function %s: no warm sandbox: %s", f->name, err.msg);
                                f->warn_given = true;
                        }
                }
        }
}

/* ------------------------------------------------------------------ other nodes' changes */

/* How often a node reads the functions of a store nodes share: another node's deploy, rollback
 * or delete is seen here within this (at once for a function this node did not know). */
#define FN_SYNC_MS 1000

static bool same_version(const fn_ver_t *v, const fn_version_t *sv)
{
        return v && v->version == sv->version && v->created_ms == sv->created_ms &&
               strcmp(v->artifact, sv->artifact) == 0;
}

static int sync_one(const fn_record_t *rec, void *ud)
{
        server_t *srv = ud;
        fn_t *f = fn_find(srv, rec->name);
        if (f)
                f->seen = srv->fn_sync_gen;
        if (f && (same_version(f->pending, &rec->cur) ||
                  (!f->pending && same_version(f->cur, &rec->cur))))
                return 0;
        fn_ver_t *v = ver_from_store(srv, &rec->cur);
        if (!v)
                return 0;
        if (!f && !(f = fn_add(srv, rec->name))) {
                ver_release(v);
                return 0;
        }
        f->seen = srv->fn_sync_gen;
        if (v->state == FNV_LOCAL || !f->cur) {
                /* here already, or nothing to serve meanwhile: current now (its runs wait for
                 * the artifact) */
                fn_set_current(f, v);
                ver_want(srv, v);
                slog_msg(SLOG_INFO, "function_synced",
                         "function %s is at version %d (the shared store's)", f->name, v->version);
        } else {
                /* the version now current serves until this one's artifact is here
                 * (functions_service makes it current then) */
                ver_want(srv, v);
                ver_release(f->pending);
                f->pending = NULL;
                if (v->state == FNV_FAILED) {
                        slog_msg(SLOG_ERROR, "function_sync_failed",
                                 "function %s: version %d is not taken here: %s", f->name,
                                 v->version, v->fetch_err);
                        ver_release(v);
                } else {
                        f->pending = v;
                }
        }
        return 0;
}

/* The shared store's functions against this node's: new versions and functions taken, deleted
 * ones dropped. */
static void fn_sync(server_t *srv)
{
        srv->fn_sync_ms = dl_now_ms();
        srv->fn_sync_gen++;
        rc_err_t err = {0};
        if (store_fn_list(srv->store, sync_one, srv, &err) < 0) {
                slog_msg(SLOG_WARN, "functions_sync_failed", "functions: %s", err.msg);
                return;
        }
        for (fn_t *f = srv->fns; f; f = f->next)
                if (f->seen != srv->fn_sync_gen && (f->cur || f->pending)) {
                        fn_set_current(f, NULL); /* runs going keep their version */
                        slog_msg(SLOG_INFO, "function_synced",
                                 "function %s deleted (from the shared store)", f->name);
                }
}

/* Pending versions whose fetch is over: current now, or given up. */
static void promote_pending(server_t *srv)
{
        for (fn_t *f = srv->fns; f; f = f->next) {
                fn_ver_t *p = f->pending;
                if (!p || p->state == FNV_FETCHING || p->state == FNV_MISSING)
                        continue;
                f->pending = NULL;
                if (p->state == FNV_LOCAL) {
                        fn_set_current(f, p);
                        slog_msg(SLOG_INFO, "function_synced",
                                 "function %s is at version %d (the shared store's)", f->name,
                                 p->version);
                } else {
                        slog_msg(SLOG_ERROR, "function_sync_failed",
                                 "function %s: version %d is not taken here: %s", f->name,
                                 p->version, p->fetch_err);
                        ver_release(p);
                }
        }
}

void functions_service(server_t *srv)
{
        /* every turn of the loop: nothing more than a look unless a transfer finished */
        xfer_t *x = srv->fn_xq ? xferq_done(srv->fn_xq) : NULL;
        if (!x)
                return;
        bool fetched = false;
        for (; x;) {
                xfer_t *next = x->next;
                if (x->kind == XFER_PUT && x->ud) {
                        fn_deploy_t *d = x->ud;
                        d->sharing = false;
                        if (x->rc < 0)
                                deploy_answer(d, 500,
                                              err_json("internal",
                                                       "putting the artifact into the shared "
                                                       "store: %s",
                                                       x->msg));
                        else
                                deploy_record(d);
                        deploy_free(d);
                } else if (x->kind == XFER_GET) {
                        if (x->rc < 0) {
                                srv->fn_fetch_failed++;
                                slog_msg(SLOG_ERROR, "function_fetch_failed", "%s", x->msg);
                        } else {
                                srv->fn_fetched++;
                        }
                        for (fn_wait_t **pp = &srv->fn_wait; *pp;) {
                                fn_wait_t *w = *pp;
                                if (strcmp(w->v->artifact, x->sha) != 0) {
                                        pp = &w->next;
                                        continue;
                                }
                                w->v->state = x->rc < 0 ? FNV_FAILED : FNV_LOCAL;
                                if (x->rc < 0)
                                        snprintf(w->v->fetch_err, sizeof(w->v->fetch_err),
                                                 "its artifact could not be fetched: %.160s",
                                                 x->msg);
                                *pp = w->next;
                                ver_release(w->v);
                                free(w);
                        }
                        fetched = true;
                }
                free(x);
                x = next;
        }
        if (fetched) {
                promote_pending(srv);
                runs_kick(srv); /* runs that waited for an artifact */
                fn_schedule_warm(srv);
        }
}

static void on_fn_tick(lws_sorted_usec_list_t *sul)
{
        server_t *srv = lws_container_of(sul, server_t, fn_sul);
        functions_service(srv);
        if (srv->fn_xq && dl_now_ms() - srv->fn_sync_ms >= FN_SYNC_MS)
                fn_sync(srv);
        fn_tick(srv);
        bool more = false;
        for (fn_t *f = srv->fns; f; f = f->next) {
                int warm = 0;
                for (const fn_lane_t *l = f->idle; l; l = l->next)
                        warm += job_lane_holds(l->lane);
                more |= f->cur && f->cur->state == FNV_LOCAL && warm < f->cur->set.min_warm;
        }
        /* soon again while sandboxes are owed, else once a second (idle scale-down) */
        if (!srv->draining)
                lws_sul_schedule(srv->ctx, 0, &srv->fn_sul, on_fn_tick,
                                 more ? 20 * LWS_US_PER_MS : LWS_US_PER_SEC);
}

static void fn_schedule_warm(server_t *srv)
{
        if (srv->ctx && !srv->draining)
                lws_sul_schedule(srv->ctx, 0, &srv->fn_sul, on_fn_tick, 50 * LWS_US_PER_MS);
}

/* ------------------------------------------------------------------ start and stop */

static int load_one(const fn_record_t *rec, void *ud)
{
        server_t *srv = ud;
        fn_ver_t *v = ver_from_store(srv, &rec->cur);
        fn_t *f = v ? fn_add(srv, rec->name) : NULL;
        if (!f) {
                slog_msg(SLOG_ERROR, "function_unreadable",
                         "function %s: its stored version is unreadable", rec->name);
                ver_release(v);
                return 0;
        }
        fn_set_current(f, v);
        ver_want(srv, v); /* a shared store's, deployed by another node: fetched */
        return 0;
}

void functions_open(server_t *srv)
{
        /* beside the store that records them: STATE_DIR/functions, or STORE.functions for a
         * store file the config names (two servers never share one: one server per store) */
        const char *state = srv->cat->paths->state_dir;
        const char *sp = srv->opts->store_path;
        if (!srv->store || (!sp && (!state || !state[0])))
                return;
        size_t n = strlen(sp ? sp : state) + sizeof("/functions/artifacts");
        char *dir = malloc(n), *art = malloc(n);
        rc_err_t err = {0};
        if (!dir || !art) {
                free(dir);
                free(art);
                return;
        }
        snprintf(dir, n, sp ? "%s.functions" : "%s/functions", sp ? sp : state);
        snprintf(art, n, "%s/artifacts", dir);
        /* 0711: a sandbox's own outside id (as root) reaches the artifact it binds, and lists
         * nothing */
        if (fs_mkdir_p(art, 0711, &err) < 0 || chmod(dir, 0711) < 0 || chmod(art, 0711) < 0) {
                slog_msg(SLOG_WARN, "functions_off", "functions are off: %s",
                         err.msg[0] ? err.msg : strerror(errno));
                free(dir);
                free(art);
                return;
        }
        srv->fn_dir = dir;
        srv->fn_art_dir = art;
        /* a store nodes share: artifacts go there with their versions, and come from there */
        if (store_shared(srv->store) && srv->opts->store_url) {
                store_opts_t so;
                memset(&so, 0, sizeof(so));
                if (xferq_new(srv->opts->store_url, &so, art,
                              srv->opts->fn_artifact_max_mb * 1024 * 1024, &srv->fn_xq, &err) < 0)
                        slog_msg(SLOG_ERROR, "functions_error",
                                 "functions: artifacts are not shared: %s", err.msg);
                srv->fn_sync_ms = dl_now_ms();
        }
        int r = store_fn_list(srv->store, load_one, srv, &err);
        if (r < 0)
                slog_msg(SLOG_ERROR, "functions_error", "functions: %s", err.msg);
        else if (r > 0)
                slog_msg(SLOG_INFO, "functions", "%d functions", r);
        prune(srv, true);
}

/* On the transfer thread: the loop wakes up and takes the finished transfers
 * (functions_service). */
static void fn_wake(void *ud)
{
        lws_cancel_service(ud);
}

void functions_start(server_t *srv)
{
        if (srv->fn_xq) {
                xferq_set_wake(srv->fn_xq, fn_wake, srv->ctx);
                functions_service(srv); /* what finished before */
        }
        if (srv->fn_dir)
                fn_schedule_warm(srv);
}

void functions_close(server_t *srv)
{
        lws_sul_cancel(&srv->fn_sul);
        xferq_free(srv->fn_xq); /* the transfer under way ends first */
        srv->fn_xq = NULL;
        while (srv->fn_wait) {
                fn_wait_t *w = srv->fn_wait;
                srv->fn_wait = w->next;
                ver_release(w->v);
                free(w);
        }
        while (srv->deploys)
                deploy_free(srv->deploys);
        while (srv->fns) {
                fn_t *f = srv->fns;
                srv->fns = f->next;
                fn_free(f);
        }
        free(srv->fn_dir);
        srv->fn_dir = NULL;
        free(srv->fn_art_dir);
        srv->fn_art_dir = NULL;
}

void functions_metrics(server_t *srv, buf_t *b)
{
        buf_printf(b, "# HELP runcell_function_invocations_total Function invocations, by "
                      "function and whether its sandbox was made for it (cold).\n"
                      "# TYPE runcell_function_invocations_total counter\n");
        for (fn_t *f = srv->fns; f; f = f->next) {
                buf_printf(
                    b, "runcell_function_invocations_total{function=\"%s\",cold=\"false\"} %llu\n",
                    f->name, (unsigned long long)(f->invocations - f->cold_starts));
                buf_printf(
                    b, "runcell_function_invocations_total{function=\"%s\",cold=\"true\"} %llu\n",
                    f->name, (unsigned long long)f->cold_starts);
        }
        metrics_hist(
            b, "runcell_function_cold_start_seconds",
            "From a cold invocation's start to its program's exec (a sandbox made for it).",
            &srv->fn_cold);
        metrics_hist(b, "runcell_function_warm_start_seconds",
                     "From a warm invocation's start to its program's exec (a kept sandbox).",
                     &srv->fn_warm);
        if (srv->fn_xq)
                buf_printf(b,
                           "# HELP runcell_function_artifact_fetches_total Artifacts fetched "
                           "from the shared store (deployed by another node), by result.\n"
                           "# TYPE runcell_function_artifact_fetches_total counter\n"
                           "runcell_function_artifact_fetches_total{result=\"ok\"} %llu\n"
                           "runcell_function_artifact_fetches_total{result=\"failed\"} %llu\n",
                           (unsigned long long)srv->fn_fetched,
                           (unsigned long long)srv->fn_fetch_failed);
}
