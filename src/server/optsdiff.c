/* What a reload (SIGHUP) changes: the server's options before and after, setting by setting,
 * named as the config names them (docs/OPERATIONS.md, "Reloading"). Pure: no server, no lws;
 * tests/unit/test_optsdiff.c. */
#include <stdio.h>
#include <string.h>

#include "protocol/dialect.h"
#include "server/server.h"

/* name appended to the comma-separated list b, unless it is in it already. */
static void add(buf_t *b, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = b->len ? b->data : NULL; p;
             p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
                        return;
        if (b->len)
                buf_append(b, ",", 1);
        buf_append(b, name, strlen(name));
}

static bool str_eq(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(const strv_t *a, const strv_t *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->v[i], b->v[i]) != 0)
                        return false;
        return true;
}

static bool limits_eq(const rc_limits_t *a, const rc_limits_t *b)
{
        return memcmp(a, b, sizeof(*a)) == 0; /* int64_t fields only: no padding */
}

/* The same tokens in the same order, with the same names, run limits and functions. */
static bool tokens_eq(const server_opts_t *a, const server_opts_t *b)
{
        if (!strv_eq(&a->tokens, &b->tokens))
                return false;
        for (size_t i = 0; i < a->tokens.n; i++) {
                int ma = a->token_max_runs ? a->token_max_runs[i] : 0;
                int mb = b->token_max_runs ? b->token_max_runs[i] : 0;
                const char *na = a->token_names ? a->token_names[i] : NULL;
                const char *nb = b->token_names ? b->token_names[i] : NULL;
                static const strv_t none;
                const strv_t *fa = a->token_functions ? &a->token_functions[i] : &none;
                const strv_t *fb = b->token_functions ? &b->token_functions[i] : &none;
                if (ma != mb || !str_eq(na, nb) || !strv_eq(fa, fb))
                        return false;
        }
        return true;
}

#define SAME(field) (p->field == n->field)

static void live_changes(const server_opts_t *p, const server_opts_t *n, buf_t *changed)
{
        if (!SAME(max_concurrent))
                add(changed, "max_concurrent");
        if (!SAME(queue_max))
                add(changed, "queue");
        if (!limits_eq(&p->limits_max, &n->limits_max))
                add(changed, "limits_max");
        if (!SAME(message_max))
                add(changed, "message_max_bytes");
        if (!SAME(source_max))
                add(changed, "source_max_bytes");
        if (!SAME(json_depth_max))
                add(changed, "json_depth_max");
        if (!strv_eq(&p->origins, &n->origins))
                add(changed, "allowed_origins");
        if (!tokens_eq(p, n))
                add(changed, "tokens");
        if (!SAME(fn_artifact_max_mb))
                add(changed, "functions.artifact_max_mb");
        if (!SAME(fn_keep_versions))
                add(changed, "functions.keep_versions");
        if (!SAME(grace_ms))
                add(changed, "grace_ms");
        if (!SAME(drain_delay_ms))
                add(changed, "drain_delay_ms");
        if (!SAME(max_conns))
                add(changed, "max_connections");
        if (!SAME(max_conns_per_client))
                add(changed, "max_connections_per_client");
        if (!SAME(ws_idle_s))
                add(changed, "ws_idle_timeout_s");
        if (!SAME(rescan_s))
                add(changed, "rescan_interval_s");
        if (!strv_eq(&p->trusted_proxies, &n->trusted_proxies))
                add(changed, "trusted_proxies");
        if (!SAME(public_on))
                add(changed, "public");
        if (!strv_eq(&p->public_routes, &n->public_routes))
                add(changed, "public.routes");
        if (!SAME(public_rpm))
                add(changed, "public.runs_per_minute");
        if (!SAME(public_max_running))
                add(changed, "public.max_running");
        if (!limits_eq(&p->public_limits_max, &n->public_limits_max))
                add(changed, "public.limits_max");
        if (!SAME(h2c))
                add(changed, "h2c");
        if (!SAME(fresh_sandboxes))
                add(changed, "fresh_sandboxes");
        if (!SAME(log_format))
                add(changed, "log.format");
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++) {
                const dialect_limits_t *a = &p->dialects[i], *b = &n->dialects[i];
                char name[80];
                if (a->disabled != b->disabled) {
                        snprintf(name, sizeof(name), "dialects.%s.enabled", dialect_table[i]->name);
                        add(changed, name);
                }
                if (a->max_concurrent != b->max_concurrent) {
                        snprintf(name, sizeof(name), "dialects.%s.max_concurrent",
                                 dialect_table[i]->name);
                        add(changed, name);
                }
                if (a->queue_max != b->queue_max) {
                        snprintf(name, sizeof(name), "dialects.%s.queue", dialect_table[i]->name);
                        add(changed, name);
                }
        }
}

#undef SAME
#define SAME(field) (f->field == n->field)

static void restart_changes(const server_opts_t *f, const server_opts_t *n, buf_t *restart)
{
        if (!SAME(port) || !str_eq(f->host, n->host))
                add(restart, "listen");
        if (!str_eq(f->tls_cert, n->tls_cert) || !str_eq(f->tls_key, n->tls_key))
                add(restart, "tls");
        if (!SAME(store_disabled))
                add(restart, "store.enabled");
        if (!str_eq(f->store_path, n->store_path))
                add(restart, "store.path");
        if (!SAME(store_max_age_s))
                add(restart, "store.max_age_s");
        if (!SAME(store_max_count))
                add(restart, "store.max_count");
        if (!SAME(store_max_bytes))
                add(restart, "store.max_bytes");
        if (!SAME(store_lease_ms))
                add(restart, "store.lease_ms");
        if (!SAME(store_poll_ms))
                add(restart, "store.poll_ms");
        if (!SAME(store_max_attempts))
                add(restart, "store.max_attempts");
        if (!str_eq(f->node_id, n->node_id))
                add(restart, "node_id");
        if (!strv_eq(&f->callback_hosts, &n->callback_hosts))
                add(restart, "callbacks.allow_hosts");
        if (!SAME(callback_tries))
                add(restart, "callbacks.max_tries");
        if (!SAME(callback_backoff_ms))
                add(restart, "callbacks.backoff_ms");
        if (!SAME(callback_backoff_max_ms))
                add(restart, "callbacks.backoff_max_ms");
        if (!SAME(callback_timeout_ms))
                add(restart, "callbacks.timeout_ms");
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++) {
                const dialect_limits_t *a = &f->dialects[i], *b = &n->dialects[i];
                const char *base = dialect_table[i]->base;
                char name[80];
                /* its routes and its start() were made at start, for the dialects on then */
                if (a->disabled && !b->disabled) {
                        snprintf(name, sizeof(name), "dialects.%s.enabled (off at start)",
                                 dialect_table[i]->name);
                        add(restart, name);
                }
                if (!str_eq(a->base ? a->base : base, b->base ? b->base : base)) {
                        snprintf(name, sizeof(name), "dialects.%s.path", dialect_table[i]->name);
                        add(restart, name);
                }
        }
}

#undef SAME

void server_opts_diff(const server_opts_t *first, const server_opts_t *prev,
                      const server_opts_t *next, buf_t *changed, buf_t *restart)
{
        live_changes(prev, next, changed);
        restart_changes(first, next, restart);
}
