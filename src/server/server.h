/* runcell serve: one libwebsockets context on one port for HTTP and WebSocket, one service
 * thread; runs are jobs on the engine, their pipes and pidfds in an epoll
 * set that lws' loop watches (evloop_lws.c). */
#ifndef RUNCELL_SERVER_SERVER_H
#define RUNCELL_SERVER_SERVER_H

#include <stdbool.h>

#include "engine/catalog.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/strv.h"

#define DIALECTS_MAX 16

/* Per wire dialect (in dialect_table order). */
typedef struct dialect_limits {
        bool disabled;
        char *base;         /* its base path; NULL: the dialect's default */
        int max_concurrent; /* its own runs going at once; 0: only the server's limit */
        int queue_max;      /* its runs waiting for that, beyond which it is busy */
} dialect_limits_t;

typedef struct server_opts {
        const char *host;      /* "127.0.0.1": an IPv4 address (cmd_serve resolves names) */
        const char *host_name; /* as given (e.g. "localhost"), for messages; NULL: host */
        int port;              /* 0: any free port */
        int max_concurrent;
        int queue_max;
        rc_limits_t limits_max; /* every run's limits are clamped to these (where set) */
        size_t message_max;     /* a WebSocket message or HTTP body */
        size_t source_max;      /* the files of one run, together */
        int json_depth_max;     /* nesting of one message */
        strv_t origins;         /* allowed Origin headers; empty: any */
        strv_t tokens;          /* accepted bearer tokens; empty: no authentication */
        int *token_max_runs;    /* per token (same order): runs going or queued; 0: any */
        /* per token (same order): its name in the log, never the token itself (NULL: none
         * given, the log says "-") */
        char **token_names;
        /* per token (same order): the functions it may invoke, and nothing else; n == 0: a
         * token of full rights (NULL: every token is) */
        strv_t *token_functions;
        /* functions (docs/protocol.md, "Functions"): the biggest artifact, in MiB, and the
         * versions kept of each function (the current one always) */
        int64_t fn_artifact_max_mb;
        int fn_keep_versions;
        int grace_ms; /* on SIGTERM, how long runs in flight may finish */
        /* after SIGTERM, stay up at least this long (refusing runs, /healthz 503 "draining"):
         * time for a load balancer's health checks to take the node out */
        int drain_delay_ms;
        int max_conns;            /* client connections at once; 0: from RLIMIT_NOFILE */
        int max_conns_per_client; /* per client address; 0: an eighth of max_conns, >= 16 */
        int ws_idle_s;            /* a WebSocket without a run and silent this long is closed */
        int rescan_s; /* look for changed toolchains and root filesystems this often; 0: never */
        strv_t trusted_proxies; /* "a.b.c.d[/n]": X-Forwarded-For is believed from these */
        /* Public mode ("public" in the config, docs/protocol.md): a request with no token is
         * anonymous; with tokens configured it is let in on public_routes only ("/x" exactly or
         * "/x/" and an asterisk for what is under /x/). An anonymous run is held to
         * public_rpm runs a minute and public_max_running going or waiting per client address
         * (0: no such limit), and its limits are clamped to public_limits_max too. */
        bool public_on;
        strv_t public_routes;
        int public_rpm;
        int public_max_running;
        rc_limits_t public_limits_max;
        bool h2c; /* accept "Upgrade: h2c" (HTTP/2 over plain TCP) */
        /* every run in a sandbox of its own, none reset and reused (job_spec_t.reuse) */
        bool fresh_sandboxes;
        int log_format;       /* slog_format_t (server/log.h): logfmt or JSON lines */
        const char *tls_cert; /* PEM files: TLS when both are set */
        const char *tls_key;
        dialect_limits_t dialects[DIALECTS_MAX];
        /* The submission store (docs/STORE.md): in the state directory unless store_path says
         * where, or in PostgreSQL (store_url: a postgresql:// URL), shared with other nodes;
         * off with store_disabled. store_poll_ms: how often a node with a shared store looks
         * for work to claim. */
        bool store_disabled;
        const char *store_path;
        const char *store_url;
        int64_t store_poll_ms;
        int64_t store_max_age_s, store_max_count, store_max_bytes, store_lease_ms;
        int store_max_attempts;
        const char *node_id; /* a lease's owner; NULL: the host name */
        /* Callbacks of finished submissions: only to these hosts (empty: none allowed). */
        strv_t callback_hosts;
        int callback_tries;
        int64_t callback_backoff_ms, callback_backoff_max_ms;
        int callback_timeout_ms;
        /* SIGHUP reads the config again (cmd_serve: the same --config file, the same
         * command-line flags on top, as at start): 0 with *out a whole new set of options,
         * heap-allocated (the server frees it with server_opts_free and free once no run
         * uses it), its host, host_name, tls_*, store_path and node_id the first one's; or -1
         * with err (a bad config: nothing changes). Settings of the caller's own that differ
         * from the start and need a restart are named in restart (comma-separated), the
         * reload then refused. NULL: SIGHUP reloads the languages only. */
        int (*reload)(void *ctx, struct server_opts **out, buf_t *restart, rc_err_t *err);
        void *reload_ctx;
} server_opts_t;

/* Defaults for everything. */
void server_opts_init(server_opts_t *o);
void server_opts_free(server_opts_t *o);

/* A function's name: 1 to 63 of a-z, 0-9, '_' and '-', not starting with '_' or '-'. */
bool server_fn_name_valid(const char *s);

/* "a.b.c.d" or "a.b.c.d/n", as trusted_proxies takes. */
bool server_proxy_valid(const char *s);

/* A reload's changes (SIGHUP): the settings next changes from prev that take effect at once,
 * by their names in the config ("tokens", "limits_max", "dialects.piston.enabled", ...), into
 * changed; and those that differ from first (the options the server started with) but cannot
 * change without a restart (the listen address, TLS, the store, callbacks, a dialect's path,
 * a dialect turned on that was off at start), into restart. Both comma-separated, appended. */
void server_opts_diff(const server_opts_t *first, const server_opts_t *prev,
                      const server_opts_t *next, buf_t *changed, buf_t *restart);

/* Serve until SIGTERM or SIGINT; SIGHUP reloads the config (opts->reload: all of it or
 * nothing, runs going keep the options they were admitted under) and then the languages
 * (catalog_rescan, forced), as the periodic rescan does when their files changed. Prints "runcell:
 * listening on http://HOST:PORT" (and " (NAME)" when host_name differs) once a socket of this
 * process is seen listening there; when none is, fails saying why (e.g. "address already in use").
 */
int server_run(catalog_t *cat, const server_opts_t *opts, rc_err_t *err);

#endif
