/* pivot-lang's coderunner (seed 004): POST / (and /coderunner, the original's path) with
 * {"code"} answered by {"status", "compileOutput", "runOutput"} for one configured compiled
 * language, with a result cache: identical code within the time to live gets a copy of the
 * earlier answer without a run. docs/dialects.md ("pivot") lists the choices. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"

#define LANGUAGE_MAX 64

/* Dialect options. The original's cacheTTS = 10 is in minutes (its cache.go). */
static struct {
        char language[LANGUAGE_MAX + 1];
        int64_t ttl_ms;    /* 0: no cache */
        long max_entries;  /* 0: no cache */
        int64_t max_bytes; /* what the entries take together, keys and answers; 0: no cache */
} cfg = {"c", 600000, 1024, 16 << 20};

/* ------------------------------------------------------------------ the result cache */

typedef struct centry {
        struct centry *hnext;       /* in its bucket */
        struct centry *prev, *next; /* in the LRU list, most recently used first */
        uint64_t hash;
        int64_t expires_ms;
        size_t size; /* accounted: the whole allocation */
        char *lang;
        const char *code, *answer; /* code_len and answer_len bytes, in this allocation */
        size_t code_len, answer_len;
} centry_t;

static struct {
        centry_t **buckets;
        size_t nbuckets;
        centry_t *head, *tail;
        long entries;
        int64_t bytes;
        uint64_t hits, misses, evictions, expired;
} cache;

static bool cache_on(void)
{
        return cfg.ttl_ms > 0 && cfg.max_entries > 0 && cfg.max_bytes > 0;
}

/* FNV-1a over the language, a NUL and the code: only picks the bucket; entries are compared in
 * full. */
static uint64_t key_hash(const char *lang, const char *code, size_t len)
{
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = lang;; p++) {
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
                if (!*p)
                        break;
        }
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char)code[i]) * 1099511628211ULL;
        return h;
}

static void lru_unlink(centry_t *e)
{
        if (e->prev)
                e->prev->next = e->next;
        else
                cache.head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                cache.tail = e->prev;
        e->prev = e->next = NULL;
}

static void lru_push_front(centry_t *e)
{
        e->prev = NULL;
        e->next = cache.head;
        if (cache.head)
                cache.head->prev = e;
        cache.head = e;
        if (!cache.tail)
                cache.tail = e;
}

static void cache_remove(centry_t *e)
{
        for (centry_t **pp = &cache.buckets[e->hash & (cache.nbuckets - 1)]; *pp;
             pp = &(*pp)->hnext)
                if (*pp == e) {
                        *pp = e->hnext;
                        break;
                }
        lru_unlink(e);
        cache.entries--;
        cache.bytes -= (int64_t)e->size;
        free(e);
}

static centry_t *cache_lookup(const char *lang, const char *code, size_t len, uint64_t hash)
{
        if (!cache.buckets)
                return NULL;
        for (centry_t *e = cache.buckets[hash & (cache.nbuckets - 1)]; e; e = e->hnext)
                if (e->hash == hash && e->code_len == len && strcmp(e->lang, lang) == 0 &&
                    memcmp(e->code, code, len) == 0)
                        return e;
        return NULL;
}

/* A fresh entry for (lang, code), made the most recently used; NULL when there is none. */
static centry_t *cache_get(const char *lang, const char *code, size_t len)
{
        centry_t *e = cache_lookup(lang, code, len, key_hash(lang, code, len));
        if (e && e->expires_ms <= dl_now_ms()) {
                cache.expired++;
                cache_remove(e);
                e = NULL;
        }
        if (e) {
                lru_unlink(e);
                lru_push_front(e);
        }
        return e;
}

static bool over_bounds(size_t adding)
{
        return cache.entries + 1 > cfg.max_entries || cache.bytes + (int64_t)adding > cfg.max_bytes;
}

static void cache_put(const char *lang, const char *code, size_t len, const char *answer,
                      size_t alen)
{
        size_t lang_len = strlen(lang);
        size_t size = sizeof(centry_t) + lang_len + 1 + len + alen;
        if (!cache_on() || (int64_t)size > cfg.max_bytes)
                return;
        if (!cache.buckets) {
                size_t n = 64;
                while (n < (size_t)cfg.max_entries && n < (1u << 20))
                        n <<= 1;
                if (!(cache.buckets = calloc(n, sizeof(*cache.buckets))))
                        return;
                cache.nbuckets = n;
        }
        uint64_t hash = key_hash(lang, code, len);
        centry_t *old = cache_lookup(lang, code, len, hash);
        if (old)
                cache_remove(old); /* two identical runs at once: the later answer stays */
        int64_t now = dl_now_ms();
        if (over_bounds(size)) /* the expired go first, then the least recently used */
                for (centry_t *e = cache.tail, *prev; e; e = prev) {
                        prev = e->prev;
                        if (e->expires_ms <= now) {
                                cache.expired++;
                                cache_remove(e);
                        }
                }
        while (cache.tail && over_bounds(size)) {
                cache.evictions++;
                cache_remove(cache.tail);
        }
        centry_t *e = malloc(size);
        if (!e)
                return;
        memset(e, 0, sizeof(*e));
        char *p = (char *)(e + 1);
        e->lang = p;
        memcpy(p, lang, lang_len + 1);
        p += lang_len + 1;
        memcpy(p, code, len);
        e->code = p;
        e->code_len = len;
        p += len;
        memcpy(p, answer, alen);
        e->answer = p;
        e->answer_len = alen;
        e->hash = hash;
        e->size = size;
        e->expires_ms = now + cfg.ttl_ms;
        centry_t **bucket = &cache.buckets[hash & (cache.nbuckets - 1)];
        e->hnext = *bucket;
        *bucket = e;
        lru_push_front(e);
        cache.entries++;
        cache.bytes += (int64_t)size;
}

static void metrics(buf_t *out)
{
        static const struct {
                const char *name, *type, *help;
        } m[] = {
            {"runcell_pivot_cache_hits_total", "counter",
             "pivot-lang requests answered from the result cache."},
            {"runcell_pivot_cache_misses_total", "counter",
             "pivot-lang requests the result cache could not answer (they ran)."},
            {"runcell_pivot_cache_evictions_total", "counter",
             "Cached results dropped to stay within the entry and byte bounds."},
            {"runcell_pivot_cache_expired_total", "counter",
             "Cached results dropped because their time to live was over."},
            {"runcell_pivot_cache_entries", "gauge", "Results in the pivot-lang cache."},
            {"runcell_pivot_cache_bytes", "gauge",
             "Memory the pivot-lang cache's entries take (keys and answers)."},
        };
        unsigned long long v[] = {cache.hits,
                                  cache.misses,
                                  cache.evictions,
                                  cache.expired,
                                  (unsigned long long)cache.entries,
                                  (unsigned long long)cache.bytes};
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
                buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name, m[i].help,
                           m[i].name, m[i].type, m[i].name, v[i]);
}

/* ------------------------------------------------------------------ runs */

typedef struct pivot_run {
        buf_t compile, run; /* each stage's stdout and stderr, in arrival order */
        char *code;         /* the cache key's code (the language is cfg's) */
        size_t code_len;
} pivot_run_t;

static void refuse(dl_http_t *h, int status, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", msg);
        dl_http_json(h, status, o);
}

/* Verdicts that the same code gets again: a compiled program's own result. Limits, kills and
 * internal errors depend on the moment and are not kept. */
static bool deterministic(const stage_result_t *st)
{
        return !st->present || st->status == STATUS_OK || st->status == STATUS_COMPILE_ERROR ||
               st->status == STATUS_RUNTIME_ERROR;
}

static void answer_done(dl_http_t *h, pivot_run_t *pr, const job_result_t *res)
{
        const stage_result_t *bad =
            res->compile.present && res->compile.status == STATUS_INTERNAL_ERROR ? &res->compile
            : res->run.present && res->run.status == STATUS_INTERNAL_ERROR       ? &res->run
                                                                                 : NULL;
        if (bad) {
                char msg[600];
                snprintf(msg, sizeof(msg), "internal error: %s", bad->error);
                refuse(h, 500, msg);
                return;
        }
        bool compiled = !res->compile.present || res->compile.status == STATUS_OK;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "status", compiled ? 1 : 0);
        cJSON_AddItemToObject(o, "compileOutput",
                              json_bytes_item(pr->compile.data, pr->compile.len));
        cJSON_AddItemToObject(o, "runOutput", json_bytes_item(pr->run.data, pr->run.len));
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text) {
                refuse(h, 500, "internal error: out of memory");
                return;
        }
        buf_t b = {0};
        buf_printf(&b, "%s\n", text);
        free(text);
        if (pr->code && deterministic(&res->compile) && deterministic(&res->run))
                cache_put(cfg.language, pr->code, pr->code_len, b.data, b.len);
        dl_http_text(h, 200, "application/json", b.data, b.len);
        buf_free(&b);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        pivot_run_t *pr = dl_run_data(r);
        dl_http_t *h = dl_run_http(r);
        if (ev->kind == DL_EV_OUTPUT)
                buf_append(ev->stage == STAGE_COMPILE ? &pr->compile : &pr->run, ev->data, ev->len);
        else if (ev->kind == DL_EV_DONE && h)
                answer_done(h, pr, ev->result);
        else if (ev->kind == DL_EV_DROPPED && h)
                refuse(h, 503, ev->message);
}

static void run_free(dl_run_t *r)
{
        pivot_run_t *pr = dl_run_data(r);
        buf_free(&pr->compile);
        buf_free(&pr->run);
        free(pr->code);
}

/* ------------------------------------------------------------------ requests */

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        (void)tag;
        (void)method;
        char why[160], emsg[240];
        cJSON *req = json_parse_strict(body, len, why, sizeof(why));
        if (!cJSON_IsObject(req) || !dl_json_depth_ok(req)) {
                snprintf(emsg, sizeof(emsg), "cannot parse the JSON data: %s",
                         !req                  ? why
                         : cJSON_IsObject(req) ? "it is nested too deeply"
                                               : "the body must be a JSON object");
                refuse(h, 400, emsg);
                cJSON_Delete(req);
                return;
        }
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(req, "code");
        if (!cJSON_IsString(code)) {
                cJSON_Delete(req);
                refuse(h, 400, "\"code\" (a string) is required");
                return;
        }
        size_t code_len = strlen(code->valuestring);
        if (cache_on()) {
                centry_t *e = cache_get(cfg.language, code->valuestring, code_len);
                if (e) {
                        cache.hits++;
                        dl_http_text(h, 200, "application/json", e->answer, e->answer_len);
                        cJSON_Delete(req);
                        return;
                }
                cache.misses++;
        }
        char *copy = malloc(code_len + 1);
        if (!copy) {
                cJSON_Delete(req);
                refuse(h, 500, "internal error: out of memory");
                return;
        }
        memcpy(copy, code->valuestring, code_len + 1);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", cfg.language);
        cJSON_AddStringToObject(doc, "source", code->valuestring);
        cJSON_Delete(req);
        static unsigned long seq;
        char id[32];
        snprintf(id, sizeof(id), "pivot%lu", ++seq);
        dl_error_t e;
        dl_run_t *r = dl_run_start(NULL, h, doc, id, &e);
        if (!r) {
                free(copy);
                char msg[800];
                if (strcmp(e.code, "unknown_language") == 0 || strcmp(e.code, "unavailable") == 0) {
                        snprintf(msg, sizeof(msg), "the configured language \"%s\" cannot run: %s",
                                 cfg.language, e.message);
                        refuse(h, 500, msg);
                } else {
                        refuse(h, dl_error_status(e.code), e.message);
                }
                return;
        }
        pivot_run_t *pr = dl_run_data(r);
        pr->code = copy; /* the answer (and the cache) needs it when the run is done */
        pr->code_len = code_len;
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        refuse(h, 413, "the request body is over the size limit");
}

/* POST / is shared with the code execution microservice: pivot's requests have code and no
 * lang. */
static bool claims(const cJSON *body)
{
        return cJSON_IsObject(body) && cJSON_GetObjectItemCaseSensitive(body, "code") &&
               !cJSON_GetObjectItemCaseSensitive(body, "lang");
}

static int get_count(const cJSON *o, double max, int64_t *out, rc_err_t *err)
{
        double d = cJSON_GetNumberValue(o);
        if (!cJSON_IsNumber(o) || d < 0 || d > max || d != (double)(int64_t)d)
                return rc_err_set(err, EINVAL, "%s: an integer from 0 to %.0f", o->string, max);
        *out = (int64_t)d;
        return 0;
}

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *o;
        cJSON_ArrayForEach(o, opts)
        {
                int64_t n = 0;
                if (strcmp(o->string, "language") == 0) {
                        if (!cJSON_IsString(o) || !*o->valuestring ||
                            strlen(o->valuestring) > LANGUAGE_MAX)
                                return rc_err_set(err, EINVAL, "language: a language's name");
                        snprintf(cfg.language, sizeof(cfg.language), "%s", o->valuestring);
                } else if (strcmp(o->string, "ttl_ms") == 0) {
                        if (get_count(o, 30.0 * 24 * 3600 * 1000, &n, err) < 0)
                                return -1;
                        cfg.ttl_ms = n;
                } else if (strcmp(o->string, "cache_entries") == 0) {
                        if (get_count(o, 1e6, &n, err) < 0)
                                return -1;
                        cfg.max_entries = (long)n;
                } else if (strcmp(o->string, "cache_bytes") == 0) {
                        if (get_count(o, (double)(1LL << 34), &n, err) < 0)
                                return -1;
                        cfg.max_bytes = n;
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", o->string);
                }
        }
        return 0;
}

static const dl_route_t routes[] = {
    {"", DL_POST, 0},
    {"/coderunner", DL_POST, 0},
};

const dialect_t dialect_pivot = {
    .name = "pivot",
    .base = "/",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(pivot_run_t),
    .max_concurrent = 10, /* the original's containerNum */
    .queue_max = 50,
    .configure = configure,
    .claims = claims,
    .http = http,
    .http_too_large = http_too_large,
    .metrics = metrics,
    .run_event = run_event,
    .run_free = run_free,
};
