/* runcell serve: options from --config FILE (JSON), then the command line on top; on SIGHUP
 * the same again (the server's reload: server/reload.c), compared with what it started with. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/catalog.h"
#include "protocol/dialect.h"
#include "server/log.h"
#include "server/server.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/net.h"
#include "util/sha256.h"

typedef struct serve_args {
        server_opts_t o;
        char *dirs[3];  /* toolchains_dir, rootfs_dir, state_dir from the config file */
        char host[256]; /* as given: an IPv4 address or a host name */
        char ip[64];    /* host resolved */
        int pool;
        strv_t warm;
        char *cert, *key;
        char *store_path, *store_url, *node_id;
        bool store_pg;          /* "backend": "postgres" */
        int64_t build_cache_mb; /* -1: not in the config */
        /* per dialect, its own options (what its configure() takes; NULL: none), kept to tell
         * whether a reload changes them */
        cJSON *dl_own[DIALECTS_MAX];
        bool reloading; /* parsed for a reload: the dialects' configure() is not called */
} serve_args_t;

static int parse_listen(serve_args_t *a, const char *v)
{
        const char *colon = strrchr(v, ':');
        char *end;
        if (!colon || colon == v || (size_t)(colon - v) >= sizeof(a->host))
                return -1;
        if (colon[1] < '0' || colon[1] > '9')
                return -1;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 0 || port > 65535)
                return -1;
        memcpy(a->host, v, (size_t)(colon - v));
        a->host[colon - v] = '\0';
        a->o.port = (int)port;
        return 0;
}

static int get_int(const cJSON *it, long long lo, long long hi, long long *out)
{
        double d = cJSON_GetNumberValue(it);
        if (!cJSON_IsNumber(it) || d != floor(d) || d < (double)lo || d > (double)hi)
                return -1;
        *out = (long long)d;
        return 0;
}

static int get_strings(const cJSON *it, strv_t *out)
{
        const cJSON *e;
        if (!cJSON_IsArray(it))
                return -1;
        cJSON_ArrayForEach(e, it)
        {
                if (!cJSON_IsString(e) || !*e->valuestring || strv_push(out, e->valuestring) < 0)
                        return -1;
        }
        return 0;
}

/* A token's name in the log: 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-', '@' and ':'. */
static bool token_name_valid(const char *s)
{
        size_t n = strlen(s);
        return n >= 1 && n <= 64 &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@:") ==
                   n;
}

/* "tokens": ["t", {"token": "u", "max_runs": 2, "name": "ci"}, {"token": "v", "functions":
 * ["f"]}, ...]; a token without a name is named "sha256:" and the first 8 hex digits of its
 * SHA-256 in the log (which never shows a token) */
static int get_tokens(const cJSON *it, server_opts_t *o)
{
        const cJSON *e;
        if (!cJSON_IsArray(it) || o->tokens.n)
                return -1;
        int n = cJSON_GetArraySize(it), i = 0;
        free(o->token_max_runs);
        o->token_max_runs = calloc((size_t)n + 1, sizeof(int));
        free(o->token_functions);
        o->token_functions = calloc((size_t)n + 1, sizeof(strv_t));
        free(o->token_names);
        o->token_names = calloc((size_t)n + 1, sizeof(char *));
        if (!o->token_max_runs || !o->token_functions || !o->token_names)
                return -1;
        cJSON_ArrayForEach(e, it)
        {
                const cJSON *t =
                    cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "token") : e;
                if (!cJSON_IsString(t) || !*t->valuestring ||
                    strv_push(&o->tokens, t->valuestring) < 0)
                        return -1;
                if (cJSON_IsObject(e)) {
                        const cJSON *k;
                        cJSON_ArrayForEach(k, e)
                        {
                                long long m;
                                if (strcmp(k->string, "token") == 0)
                                        continue;
                                if (strcmp(k->string, "name") == 0) {
                                        free(o->token_names[i]); /* a repeated "name" */
                                        o->token_names[i] = NULL;
                                        if (!cJSON_IsString(k) ||
                                            !token_name_valid(k->valuestring) ||
                                            !(o->token_names[i] = strdup(k->valuestring)))
                                                return -1;
                                        continue;
                                }
                                if (strcmp(k->string, "functions") == 0) {
                                        const cJSON *f;
                                        if (!cJSON_IsArray(k) || !cJSON_GetArraySize(k))
                                                return -1;
                                        cJSON_ArrayForEach(f, k)
                                        {
                                                if (!cJSON_IsString(f) ||
                                                    !server_fn_name_valid(f->valuestring) ||
                                                    strv_push(&o->token_functions[i],
                                                              f->valuestring) < 0)
                                                        return -1;
                                        }
                                        continue;
                                }
                                if (strcmp(k->string, "max_runs") != 0 ||
                                    get_int(k, 1, 1 << 20, &m) < 0)
                                        return -1;
                                o->token_max_runs[i] = (int)m;
                        }
                }
                if (!o->token_names[i]) {
                        char hex[SHA256_HEX_LEN], name[16];
                        sha256_hex(t->valuestring, strlen(t->valuestring), hex);
                        snprintf(name, sizeof(name), "sha256:%.8s", hex);
                        if (!(o->token_names[i] = strdup(name)))
                                return -1;
                }
                i++;
        }
        return 0;
}

/* "log": {"format": "logfmt" | "json"} */
static int get_log(const cJSON *it, server_opts_t *o, rc_err_t *err)
{
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "an object");
        const cJSON *k;
        cJSON_ArrayForEach(k, it)
        {
                slog_format_t f;
                if (strcmp(k->string, "format") != 0)
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", k->string);
                if (!cJSON_IsString(k) || slog_format_parse(k->valuestring, &f) < 0)
                        return rc_err_set(err, EINVAL, "format: \"logfmt\" or \"json\"");
                o->log_format = (int)f;
        }
        return 0;
}

/* "functions": {"artifact_max_mb": 256, "keep_versions": 5} */
static int get_functions(const cJSON *it, server_opts_t *o, rc_err_t *err)
{
        const cJSON *k;
        if (!cJSON_IsObject(it))
                return -1;
        cJSON_ArrayForEach(k, it)
        {
                long long n;
                if (strcmp(k->string, "artifact_max_mb") == 0 && get_int(k, 1, 1 << 20, &n) == 0)
                        o->fn_artifact_max_mb = n;
                else if (strcmp(k->string, "keep_versions") == 0 && get_int(k, 1, 1000, &n) == 0)
                        o->fn_keep_versions = (int)n;
                else
                        return rc_err_set(err, EINVAL, "\"%s\": %s", k->string,
                                          "artifact_max_mb (1 to 1048576) or keep_versions (1 to "
                                          "1000)");
        }
        return 0;
}

/* "dialects": {"piston": {"enabled": true, "path": "/api/v2", "max_concurrent": 4, "queue": 16,
 * ...the dialect's own options}, "roadrunner": false} */
static int get_dialects(const cJSON *it, serve_args_t *a, rc_err_t *err)
{
        server_opts_t *o = &a->o;
        const cJSON *e;
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "an object of dialect names");
        cJSON_ArrayForEach(e, it)
        {
                size_t i = 0;
                while (i < dialect_count && strcmp(dialect_table[i]->name, e->string) != 0)
                        i++;
                if (i == dialect_count)
                        return rc_err_set(err, EINVAL, "unknown dialect \"%s\"", e->string);
                dialect_limits_t *dl = &o->dialects[i];
                if (cJSON_IsBool(e)) {
                        dl->disabled = cJSON_IsFalse(e);
                        continue;
                }
                if (!cJSON_IsObject(e))
                        return rc_err_set(err, EINVAL, "%s: true, false or an object", e->string);
                _cleanup_cjson_ cJSON *own = cJSON_Duplicate(e, 1);
                if (!own)
                        return rc_err_set(err, ENOMEM, "out of memory");
                dl->disabled = false;
                const cJSON *k;
                long long n;
                if ((k = cJSON_GetObjectItemCaseSensitive(own, "enabled"))) {
                        if (!cJSON_IsBool(k))
                                return rc_err_set(err, EINVAL, "%s.enabled: true or false",
                                                  e->string);
                        dl->disabled = cJSON_IsFalse(k);
                }
                if ((k = cJSON_GetObjectItemCaseSensitive(own, "path"))) {
                        if (!cJSON_IsString(k) || k->valuestring[0] != '/' ||
                            strlen(k->valuestring) > 100)
                                return rc_err_set(err, EINVAL, "%s.path: a path from /", e->string);
                        free(dl->base);
                        if (!(dl->base = strdup(k->valuestring)))
                                return rc_err_set(err, ENOMEM, "out of memory");
                }
                if ((k = cJSON_GetObjectItemCaseSensitive(own, "max_concurrent"))) {
                        if (get_int(k, 0, 4096, &n) < 0)
                                return rc_err_set(err, EINVAL, "%s.max_concurrent: 0 to 4096",
                                                  e->string);
                        dl->max_concurrent = (int)n;
                }
                if ((k = cJSON_GetObjectItemCaseSensitive(own, "queue"))) {
                        if (get_int(k, 0, 1 << 20, &n) < 0)
                                return rc_err_set(err, EINVAL, "%s.queue: 0 to 1048576", e->string);
                        dl->queue_max = (int)n;
                }
                static const char *const ours[] = {"enabled", "path", "max_concurrent", "queue"};
                for (size_t q = 0; q < sizeof(ours) / sizeof(ours[0]); q++)
                        cJSON_DeleteItemFromObjectCaseSensitive(own, ours[q]);
                cJSON_Delete(a->dl_own[i]);
                a->dl_own[i] = NULL;
                if (own->child) {
                        if (!dialect_table[i]->configure)
                                return rc_err_set(err, EINVAL, "%s: unknown option \"%s\"",
                                                  e->string, own->child->string);
                        /* a dialect keeps its own options in itself: set once, at start; a
                         * reload that changes them is refused (reload_config) */
                        rc_err_t derr = {0};
                        if (!a->reloading && dialect_table[i]->configure(own, &derr) < 0)
                                return rc_err_set(err, EINVAL, "%s: %s", e->string, derr.msg);
                        a->dl_own[i] = own;
                        own = NULL;
                }
        }
        return 0;
}

/* "store": {"enabled", "path" | "url", "backend", "max_age_s", "max_count", "max_bytes",
 * "lease_ms", "max_attempts", "poll_ms"} */
static int get_store(const cJSON *it, serve_args_t *a, rc_err_t *err)
{
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "an object");
        const cJSON *k;
        cJSON_ArrayForEach(k, it)
        {
                long long n = 0;
                const char *name = k->string;
                if (strcmp(name, "enabled") == 0) {
                        if (!cJSON_IsBool(k))
                                return rc_err_set(err, EINVAL, "enabled: true or false");
                        a->o.store_disabled = cJSON_IsFalse(k);
                } else if (strcmp(name, "path") == 0) {
                        if (!cJSON_IsString(k) || k->valuestring[0] != '/')
                                return rc_err_set(err, EINVAL, "path: an absolute file name");
                        free(a->store_path);
                        if (!(a->store_path = strdup(k->valuestring)))
                                return rc_err_set(err, ENOMEM, "out of memory");
                } else if (strcmp(name, "url") == 0) {
                        if (!cJSON_IsString(k) || !store_is_pg_url(k->valuestring))
                                return rc_err_set(err, EINVAL,
                                                  "url: a PostgreSQL URL, postgresql://...");
                        free(a->store_url);
                        if (!(a->store_url = strdup(k->valuestring)))
                                return rc_err_set(err, ENOMEM, "out of memory");
                } else if (strcmp(name, "backend") == 0) {
                        if (!cJSON_IsString(k) || (strcmp(k->valuestring, "sqlite") != 0 &&
                                                   strcmp(k->valuestring, "postgres") != 0))
                                return rc_err_set(err, EINVAL,
                                                  "backend: \"sqlite\" or \"postgres\"");
                        a->store_pg = strcmp(k->valuestring, "postgres") == 0;
                } else if (strcmp(name, "poll_ms") == 0) {
                        if (get_int(k, 50, 60000, &n) < 0)
                                return rc_err_set(err, EINVAL, "poll_ms: 50 to 60000");
                        a->o.store_poll_ms = n;
                } else if (strcmp(name, "max_age_s") == 0) {
                        if (get_int(k, 0, 10LL * 365 * 86400, &n) < 0)
                                return rc_err_set(err, EINVAL, "max_age_s: 0 (keep) to 10 years");
                        a->o.store_max_age_s = n;
                } else if (strcmp(name, "max_count") == 0) {
                        if (get_int(k, 0, 1LL << 40, &n) < 0)
                                return rc_err_set(err, EINVAL, "max_count: 0 (any) or more");
                        a->o.store_max_count = n;
                } else if (strcmp(name, "max_bytes") == 0) {
                        if (get_int(k, 0, 1LL << 50, &n) < 0 || (n && n < (1 << 20)))
                                return rc_err_set(err, EINVAL,
                                                  "max_bytes: 0 (no cap) or 1 MiB and up");
                        a->o.store_max_bytes = n;
                } else if (strcmp(name, "lease_ms") == 0) {
                        if (get_int(k, 1000, 86400000, &n) < 0)
                                return rc_err_set(err, EINVAL, "lease_ms: 1000 to 86400000");
                        a->o.store_lease_ms = n;
                } else if (strcmp(name, "max_attempts") == 0) {
                        if (get_int(k, 1, 100, &n) < 0)
                                return rc_err_set(err, EINVAL, "max_attempts: 1 to 100");
                        a->o.store_max_attempts = (int)n;
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", name);
                }
        }
        if (a->store_url && a->store_path)
                return rc_err_set(err, EINVAL,
                                  "path (an SQLite file) and url (PostgreSQL): one or the other");
        if (a->store_pg && !a->store_url)
                return rc_err_set(err, EINVAL, "backend \"postgres\" needs a url");
        if (!a->store_pg && a->store_url && cJSON_GetObjectItemCaseSensitive(it, "backend"))
                return rc_err_set(err, EINVAL, "backend \"sqlite\" takes a path, not a url");
        return 0;
}

/* "callbacks": {"allow_hosts": [...], "max_tries", "backoff_ms", "backoff_max_ms",
 * "timeout_ms"} */
static int get_callbacks(const cJSON *it, serve_args_t *a, rc_err_t *err)
{
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "an object");
        const cJSON *k;
        cJSON_ArrayForEach(k, it)
        {
                long long n = 0;
                const char *name = k->string;
                if (strcmp(name, "allow_hosts") == 0) {
                        strv_free(&a->o.callback_hosts);
                        if (get_strings(k, &a->o.callback_hosts) < 0)
                                return rc_err_set(err, EINVAL, "allow_hosts: a list of host names");
                } else if (strcmp(name, "max_tries") == 0) {
                        if (get_int(k, 1, 100, &n) < 0)
                                return rc_err_set(err, EINVAL, "max_tries: 1 to 100");
                        a->o.callback_tries = (int)n;
                } else if (strcmp(name, "backoff_ms") == 0) {
                        if (get_int(k, 10, 3600000, &n) < 0)
                                return rc_err_set(err, EINVAL, "backoff_ms: 10 to 3600000");
                        a->o.callback_backoff_ms = n;
                } else if (strcmp(name, "backoff_max_ms") == 0) {
                        if (get_int(k, 10, 86400000, &n) < 0)
                                return rc_err_set(err, EINVAL, "backoff_max_ms: 10 to 86400000");
                        a->o.callback_backoff_max_ms = n;
                } else if (strcmp(name, "timeout_ms") == 0) {
                        if (get_int(k, 100, 600000, &n) < 0)
                                return rc_err_set(err, EINVAL, "timeout_ms: 100 to 600000");
                        a->o.callback_timeout_ms = (int)n;
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", name);
                }
        }
        return 0;
}

/* "public": {"routes": [...], "runs_per_minute": N, "max_running": N, "limits_max": {...}} */
static int get_public(const cJSON *it, serve_args_t *a, rc_err_t *err)
{
        if (!cJSON_IsObject(it))
                return rc_err_set(err, EINVAL, "an object");
        server_opts_t *o = &a->o;
        o->public_on = true;
        /* safe by default: a playground's runs are few and small unless said otherwise */
        o->public_rpm = 20;
        o->public_max_running = 2;
        const cJSON *k;
        long long n;
        cJSON_ArrayForEach(k, it)
        {
                const char *name = k->string;
                if (strcmp(name, "routes") == 0) {
                        strv_free(&o->public_routes);
                        if (get_strings(k, &o->public_routes) < 0)
                                return rc_err_set(err, EINVAL, "routes: a list of paths");
                        for (size_t i = 0; i < o->public_routes.n; i++)
                                if (o->public_routes.v[i][0] != '/')
                                        return rc_err_set(err, EINVAL,
                                                          "routes: \"%s\" does not start with /",
                                                          o->public_routes.v[i]);
                } else if (strcmp(name, "runs_per_minute") == 0) {
                        if (get_int(k, 0, 1000000, &n) < 0)
                                return rc_err_set(err, EINVAL, "runs_per_minute: 0 to 1000000");
                        o->public_rpm = (int)n;
                } else if (strcmp(name, "max_running") == 0) {
                        if (get_int(k, 0, 4096, &n) < 0)
                                return rc_err_set(err, EINVAL, "max_running: 0 to 4096");
                        o->public_max_running = (int)n;
                } else if (strcmp(name, "limits_max") == 0) {
                        if (limits_from_json(k, &o->public_limits_max, "public.limits_max", err) <
                            0)
                                return -1;
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", name);
                }
        }
        return 0;
}

/* The config file into a; -1 with err ("--config FILE: ...") for a file that cannot be read,
 * is not a JSON object, or has an unknown key or a bad value. */
static int load_config(serve_args_t *a, const char *path, rc_err_t *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        rc_err_t rerr = {0};
        if (fs_read_file(path, 1 << 20, &text, &len, &rerr) < 0)
                return rc_err_set(err, EINVAL, "--config: %s", rerr.msg);
        _cleanup_cjson_ cJSON *root = cJSON_ParseWithLength(text, len);
        if (!cJSON_IsObject(root))
                return rc_err_set(err, EINVAL, "--config %s: not a JSON object", path);
        const cJSON *it;
        cJSON_ArrayForEach(it, root)
        {
                const char *k = it->string;
                long long n = 0;
                int bad = 0;
                if (strcmp(k, "listen") == 0)
                        bad = !cJSON_IsString(it) || parse_listen(a, it->valuestring) < 0;
                else if (strcmp(k, "max_concurrent") == 0)
                        bad = get_int(it, 1, 4096, &n) < 0 || !(a->o.max_concurrent = (int)n);
                else if (strcmp(k, "queue") == 0)
                        bad = get_int(it, 0, 1 << 20, &n) < 0 || ((a->o.queue_max = (int)n), 0);
                else if (strcmp(k, "pool") == 0)
                        bad = get_int(it, 0, 16, &n) < 0 || ((a->pool = (int)n), 0);
                else if (strcmp(k, "warm") == 0)
                        bad = get_strings(it, &a->warm) < 0;
                else if (strcmp(k, "limits_max") == 0)
                        bad = limits_from_json(it, &a->o.limits_max, "limits_max", err) < 0;
                else if (strcmp(k, "message_max_bytes") == 0)
                        bad = get_int(it, 1024, 1LL << 30, &n) < 0 ||
                              ((a->o.message_max = (size_t)n), 0);
                else if (strcmp(k, "source_max_bytes") == 0)
                        bad =
                            get_int(it, 1, 1LL << 30, &n) < 0 || ((a->o.source_max = (size_t)n), 0);
                else if (strcmp(k, "json_depth_max") == 0)
                        bad = get_int(it, 2, 1000, &n) < 0 || ((a->o.json_depth_max = (int)n), 0);
                else if (strcmp(k, "allowed_origins") == 0)
                        bad = get_strings(it, &a->o.origins) < 0;
                else if (strcmp(k, "tokens") == 0)
                        bad = get_tokens(it, &a->o) < 0;
                else if (strcmp(k, "functions") == 0)
                        bad = get_functions(it, &a->o, err) < 0;
                else if (strcmp(k, "log") == 0)
                        bad = get_log(it, &a->o, err) < 0;
                else if (strcmp(k, "dialects") == 0)
                        bad = get_dialects(it, a, err) < 0;
                else if (strcmp(k, "grace_ms") == 0)
                        bad = get_int(it, 0, 3600000, &n) < 0 || ((a->o.grace_ms = (int)n), 0);
                else if (strcmp(k, "drain_delay_ms") == 0)
                        bad =
                            get_int(it, 0, 3600000, &n) < 0 || ((a->o.drain_delay_ms = (int)n), 0);
                else if (strcmp(k, "max_connections") == 0)
                        bad = get_int(it, 0, 1 << 20, &n) < 0 || ((a->o.max_conns = (int)n), 0);
                else if (strcmp(k, "max_connections_per_client") == 0)
                        bad = get_int(it, 0, 1 << 20, &n) < 0 ||
                              ((a->o.max_conns_per_client = (int)n), 0);
                else if (strcmp(k, "ws_idle_timeout_s") == 0)
                        bad = get_int(it, 0, 86400, &n) < 0 || ((a->o.ws_idle_s = (int)n), 0);
                else if (strcmp(k, "build_cache_mb") == 0)
                        bad = get_int(it, 0, 1LL << 30, &n) < 0 || ((a->build_cache_mb = n), 0);
                else if (strcmp(k, "rescan_interval_s") == 0)
                        bad = get_int(it, 0, 86400, &n) < 0 || ((a->o.rescan_s = (int)n), 0);
                else if (strcmp(k, "store") == 0)
                        bad = get_store(it, a, err) < 0;
                else if (strcmp(k, "callbacks") == 0)
                        bad = get_callbacks(it, a, err) < 0;
                else if (strcmp(k, "public") == 0)
                        bad = get_public(it, a, err) < 0;
                else if (strcmp(k, "node_id") == 0) {
                        free(a->node_id);
                        a->node_id = NULL; /* a bad value: freed once, by the caller */
                        bad = !cJSON_IsString(it) || !it->valuestring[0] ||
                              strlen(it->valuestring) >= 64 ||
                              !(a->node_id = strdup(it->valuestring));
                } else if (strcmp(k, "h2c") == 0)
                        bad = !cJSON_IsBool(it) || ((a->o.h2c = cJSON_IsTrue(it)), 0);
                else if (strcmp(k, "fresh_sandboxes") == 0)
                        bad = !cJSON_IsBool(it) || ((a->o.fresh_sandboxes = cJSON_IsTrue(it)), 0);
                else if (strcmp(k, "trusted_proxies") == 0) {
                        bad = get_strings(it, &a->o.trusted_proxies) < 0;
                        for (size_t i = 0; !bad && i < a->o.trusted_proxies.n; i++)
                                if (!server_proxy_valid(a->o.trusted_proxies.v[i])) {
                                        snprintf(err->msg, sizeof(err->msg),
                                                 "\"%s\" is not an IPv4 address or a.b.c.d/n",
                                                 a->o.trusted_proxies.v[i]);
                                        bad = 1;
                                }
                } else if (strcmp(k, "toolchains_dir") == 0 || strcmp(k, "rootfs_dir") == 0 ||
                           strcmp(k, "state_dir") == 0) {
                        int d = k[0] == 't' ? 0 : k[0] == 'r' ? 1 : 2;
                        free(a->dirs[d]);
                        a->dirs[d] = NULL;
                        bad = !cJSON_IsString(it) || it->valuestring[0] != '/' ||
                              !(a->dirs[d] = strdup(it->valuestring));
                } else if (strcmp(k, "tls") == 0) {
                        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "cert");
                        const cJSON *kk = cJSON_GetObjectItemCaseSensitive(it, "key");
                        free(a->cert);
                        free(a->key);
                        a->cert = a->key = NULL;
                        bad = !cJSON_IsString(c) || !cJSON_IsString(kk) ||
                              !(a->cert = strdup(c->valuestring)) ||
                              !(a->key = strdup(kk->valuestring));
                } else
                        return rc_err_set(err, EINVAL, "--config %s: unknown key \"%s\"", path, k);
                if (bad) {
                        char why[sizeof(err->msg)];
                        snprintf(why, sizeof(why), "%s", err->msg);
                        return rc_err_set(err, EINVAL, "--config %s: bad value for \"%s\"%s%s",
                                          path, k, why[0] ? ": " : "", why);
                }
        }
        return 0;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out, rc_err_t *err)
{
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < lo || n > hi)
                return rc_err_set(err, EINVAL, "%s: a number from %d to %d", flag, lo, hi);
        *out = (int)n;
        return 0;
}

static void serve_args_init(serve_args_t *a)
{
        memset(a, 0, sizeof(*a));
        server_opts_init(&a->o);
        snprintf(a->host, sizeof(a->host), "127.0.0.1");
        a->pool = 1;
        a->build_cache_mb = -1;
}

/* All but a->o (server_opts_free, or the server's once it took them). */
static void serve_args_free_rest(serve_args_t *a)
{
        strv_free(&a->warm);
        free(a->cert);
        free(a->key);
        free(a->store_path);
        free(a->store_url);
        free(a->node_id);
        for (int d = 0; d < 3; d++)
                free(a->dirs[d]);
        for (int i = 0; i < DIALECTS_MAX; i++)
                cJSON_Delete(a->dl_own[i]);
}

/* The config files (--config, wherever it stands), then the command line on top: at start
 * and again on SIGHUP, the same way. -1 with err. */
static int serve_parse(serve_args_t *a, int argc, char **argv, rc_err_t *err)
{
        for (int i = 1; i + 1 < argc; i++)
                if (strcmp(argv[i], "--config") == 0 && load_config(a, argv[i + 1], err) < 0)
                        return -1;
        for (int i = 1; i < argc; i++) {
                const char *f = argv[i];
                static const char *const known[] = {
                    "--config", "--listen", "--max-concurrent", "--queue",
                    "--pool",   "--warm",   "--log-format",     "--drain-delay"};
                size_t k = 0;
                while (k < ARRAY_SIZE(known) && strcmp(f, known[k]) != 0)
                        k++;
                if (k == ARRAY_SIZE(known))
                        return rc_err_set(err, EINVAL,
                                          "serve: unknown option %s (see runcell serve --help)", f);
                if (i + 1 >= argc)
                        return rc_err_set(err, EINVAL, "serve: %s needs a value", f);
                const char *v = argv[++i];
                if (strcmp(f, "--config") == 0)
                        continue;
                int bad = 0;
                if (strcmp(f, "--listen") == 0) {
                        if (parse_listen(a, v) < 0)
                                bad = rc_err_set(err, EINVAL,
                                                 "--listen: HOST:PORT, e.g. 127.0.0.1:8080 or "
                                                 "localhost:8080; got '%s'",
                                                 v);
                } else if (strcmp(f, "--max-concurrent") == 0)
                        bad = parse_int(f, v, 1, 4096, &a->o.max_concurrent, err);
                else if (strcmp(f, "--queue") == 0)
                        bad = parse_int(f, v, 0, 1 << 20, &a->o.queue_max, err);
                else if (strcmp(f, "--pool") == 0)
                        bad = parse_int(f, v, 0, 16, &a->pool, err);
                else if (strcmp(f, "--drain-delay") == 0)
                        bad = parse_int(f, v, 0, 3600000, &a->o.drain_delay_ms, err);
                else if (strcmp(f, "--warm") == 0) {
                        strv_free(&a->warm);
                        if (strv_push(&a->warm, v) < 0)
                                bad = rc_err_set(err, ENOMEM, "out of memory");
                } else if (strcmp(f, "--log-format") == 0) {
                        slog_format_t lf;
                        if (slog_format_parse(v, &lf) < 0)
                                bad = rc_err_set(err, EINVAL,
                                                 "--log-format: logfmt or json; got '%s'", v);
                        else
                                a->o.log_format = (int)lf;
                }
                if (bad)
                        return -1;
        }
        return 0;
}

static bool same_str(const char *x, const char *y)
{
        return x == y || (x && y && strcmp(x, y) == 0);
}

static bool same_strv(const strv_t *x, const strv_t *y)
{
        if (x->n != y->n)
                return false;
        for (size_t i = 0; i < x->n; i++)
                if (strcmp(x->v[i], y->v[i]) != 0)
                        return false;
        return true;
}

static void restart_add(buf_t *b, const char *name)
{
        if (b->len)
                buf_append(b, ",", 1);
        buf_append(b, name, strlen(name));
}

typedef struct reload_ctx {
        const serve_args_t *first;
        int argc;
        char **argv;
} reload_ctx_t;

/* SIGHUP (server_opts_t.reload): the config files and the command line read again. What the
 * server does not see (directories, the pool, warm languages, the build cache, a dialect's
 * own options, the listen address and TLS files as given) must be what it started with. */
static int reload_config(void *ctx, server_opts_t **out, buf_t *restart, rc_err_t *err)
{
        const reload_ctx_t *rc = ctx;
        const serve_args_t *f = rc->first;
        serve_args_t b;
        serve_args_init(&b);
        b.reloading = true;
        if (serve_parse(&b, rc->argc, rc->argv, err) < 0) {
                server_opts_free(&b.o);
                serve_args_free_rest(&b);
                return -1;
        }
        if (strcmp(b.host, f->host) != 0) /* the port: server_opts_diff */
                restart_add(restart, "listen");
        if (!same_str(b.cert, f->cert) || !same_str(b.key, f->key))
                restart_add(restart, "tls");
        if (!same_str(b.store_path, f->store_path))
                restart_add(restart, "store.path");
        if (!same_str(b.store_url, f->store_url) || b.store_pg != f->store_pg)
                restart_add(restart, "store.url");
        if (!same_str(b.node_id, f->node_id))
                restart_add(restart, "node_id");
        static const char *const dir_names[] = {"toolchains_dir", "rootfs_dir", "state_dir"};
        for (int d = 0; d < 3; d++)
                if (!same_str(b.dirs[d], f->dirs[d]))
                        restart_add(restart, dir_names[d]);
        if (b.pool != f->pool)
                restart_add(restart, "pool");
        if (!same_strv(&b.warm, &f->warm))
                restart_add(restart, "warm");
        if (b.build_cache_mb != f->build_cache_mb)
                restart_add(restart, "build_cache_mb");
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++)
                if (!(b.dl_own[i] == f->dl_own[i] ||
                      (b.dl_own[i] && f->dl_own[i] &&
                       cJSON_Compare(b.dl_own[i], f->dl_own[i], true)))) {
                        char name[96];
                        snprintf(name, sizeof(name), "dialects.%s (its own options)",
                                 dialect_table[i]->name);
                        restart_add(restart, name);
                }
        serve_args_free_rest(&b);
        server_opts_t *n = malloc(sizeof(*n));
        if (!n) {
                server_opts_free(&b.o);
                return rc_err_set(err, ENOMEM, "out of memory");
        }
        *n = b.o;
        /* what only a restart changes (compared above), and the way back here */
        n->host = f->o.host;
        n->host_name = f->o.host_name;
        n->tls_cert = f->o.tls_cert;
        n->tls_key = f->o.tls_key;
        n->store_path = f->o.store_path;
        n->store_url = f->o.store_url;
        n->node_id = f->o.node_id;
        n->reload = f->o.reload;
        n->reload_ctx = f->o.reload_ctx;
        *out = n;
        return 0;
}

int cmd_serve(const rc_paths_t *paths, int argc, char **argv)
{
        serve_args_t a;
        serve_args_init(&a);
        int rc = 1;
        rc_err_t perr = {0};
        /* the config file first, wherever --config stands; the command line wins */
        if (serve_parse(&a, argc, argv, &perr) < 0) {
                cli_fail("%s", perr.msg);
                goto out;
        }
        reload_ctx_t rctx = {.first = &a, .argc = argc, .argv = argv};
        for (int i = 1; i + 1 < argc; i++)
                if (strcmp(argv[i], "--config") == 0) { /* SIGHUP reads it again */
                        a.o.reload = reload_config;
                        a.o.reload_ctx = &rctx;
                }
        /* The host name resolved now; the port tried now, so that a port in use is said plainly
         * before anything is loaded (server_run checks again that it really listens). */
        rc_err_t lerr = {0};
        if (net_resolve_ipv4(a.host, a.ip, sizeof(a.ip), &lerr) < 0) {
                rc = cli_fail("serve: listen address %s:%d: %s", a.host, a.o.port, lerr.msg);
                goto out;
        }
        if (a.o.port != 0 && net_try_bind(a.ip, a.o.port, &lerr) < 0) {
                rc = cli_fail("serve: %s", lerr.msg);
                goto out;
        }
        a.o.host = a.ip;
        a.o.host_name = a.host;
        a.o.tls_cert = a.cert;
        a.o.tls_key = a.key;
        a.o.store_path = a.store_path;
        a.o.store_url = a.store_url;
        a.o.node_id = a.node_id;
        /* A server holds a socket per client: take the whole open-file allowance. */
        struct rlimit nf;
        if (getrlimit(RLIMIT_NOFILE, &nf) == 0 && nf.rlim_cur < nf.rlim_max) {
                nf.rlim_cur = nf.rlim_max;
                setrlimit(RLIMIT_NOFILE, &nf);
        }
        /* Directories from the config file replace the environment's and the defaults, but not
         * what the command line named. */
        rc_paths_t mine = *paths;
        if (a.dirs[0] && !paths->toolchains_given)
                mine.toolchains_dir = a.dirs[0];
        if (a.dirs[1] && !paths->rootfs_given)
                mine.rootfs_dir = a.dirs[1];
        if (a.dirs[2] && !paths->state_given) {
                mine.state_dir = a.dirs[2];
                if (!paths->shared_given) /* a state directory given is self-contained */
                        mine.shared_state_dir = NULL;
        }
        if (a.build_cache_mb >= 0 && !getenv("RUNCELL_BUILD_CACHE_MB"))
                mine.build_cache_mb = a.build_cache_mb;
        paths = &mine;
        /* What the layers below say from now on (the cgroup manager's note, the sandbox helper,
         * the callback deliverer) are lines of the log too */
        slog_setup(a.o.log_format == SLOG_JSON ? SLOG_JSON : SLOG_LOGFMT);
        rc_note_set_sink(slog_note);
        catalog_t c;
        rc_err_t err = {0};
        rc = 0;
        if (catalog_open(&c, paths, (unsigned)a.pool, &err) < 0)
                rc = cli_fail("%s", err.msg);
        for (size_t i = 0; rc == 0 && i < a.warm.n; i++)
                if (catalog_warm(&c, a.warm.v[i], &err) < 0)
                        rc = cli_fail("%s", err.msg);
        if (rc == 0 && server_run(&c, &a.o, &err) < 0)
                rc = cli_fail("%s", err.msg);
        catalog_close(&c);
out:
        server_opts_free(&a.o);
        serve_args_free_rest(&a);
        return rc;
}
