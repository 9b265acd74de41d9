/* runcell serve. The server owns connections, HTTP requests, runs, the queue, limits, access
 * checks, back-pressure and lifetimes; what goes over the wire is a dialect's business
 * (src/protocol/): a dialect turns its messages into run documents and job events into its
 * messages. See docs/protocol.md and docs/dialects.md.
 *
 * This file: the options, the lws context, signals, the main loop with SIGTERM's grace (and
 * drain_delay_ms, the least time a draining node stays up answering /healthz 503), and
 * reloading the languages (SIGHUP, and a periodic stat-based rescan); reload.c reloads the
 * config on SIGHUP.
 * The rest, by concern: transport.c (lws callback, HTTP and WebSocket framing,
 * back-pressure), conns.c (connection caps, trusted proxies), runs.c (admission, queue, slots, a
 * run's lifetime), access.c (origins, tokens), routes.c (the dialects' paths), metrics.c
 * (/metrics), dialect_api.c (what protocol/dialect.h offers dialects); server-internal.h holds what
 * they share. */
#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sync.h"
#include "server/log.h"
#include "server/server-internal.h"
#include "util/net.h"

volatile sig_atomic_t stop_requested;
volatile sig_atomic_t reload_requested;
static struct lws_context *signal_ctx;
server_t *the_server; /* what dl_catalog() and friends answer from */

void server_opts_init(server_opts_t *o)
{
        memset(o, 0, sizeof(*o));
        o->host = "127.0.0.1";
        o->port = 8080;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o->max_concurrent = cores > 0 ? (int)cores : 1;
        o->queue_max = 64;
        o->message_max = 16u << 20;
        o->source_max = 1u << 20;
        o->json_depth_max = 32;
        o->grace_ms = 10000;
        o->ws_idle_s = 300;
        o->rescan_s = 10;
        o->store_max_age_s = 7 * 86400;
        o->store_max_count = 100000;
        o->store_max_bytes = 1LL << 30;
        o->store_lease_ms = 60000;
        o->store_poll_ms = 200;
        o->store_max_attempts = 2;
        o->callback_tries = 6;
        o->callback_backoff_ms = 1000;
        o->callback_backoff_max_ms = 60000;
        o->callback_timeout_ms = 5000;
        o->fn_artifact_max_mb = 256;
        o->fn_keep_versions = 5;
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++) {
                o->dialects[i].max_concurrent = dialect_table[i]->max_concurrent;
                o->dialects[i].queue_max = dialect_table[i]->queue_max;
                o->dialects[i].disabled = dialect_table[i]->off_by_default;
        }
}

void server_opts_free(server_opts_t *o)
{
        strv_free(&o->origins);
        strv_free(&o->trusted_proxies);
        strv_free(&o->public_routes);
        strv_free(&o->callback_hosts);
        free(o->token_max_runs);
        o->token_max_runs = NULL;
        for (size_t i = 0; o->token_names && i < o->tokens.n; i++)
                free(o->token_names[i]);
        free(o->token_names);
        o->token_names = NULL;
        for (size_t i = 0; o->token_functions && i < o->tokens.n; i++)
                strv_free(&o->token_functions[i]);
        free(o->token_functions);
        o->token_functions = NULL;
        strv_free(&o->tokens); /* last: the loops above go by its count */
        for (size_t i = 0; i < DIALECTS_MAX; i++) {
                free(o->dialects[i].base);
                o->dialects[i].base = NULL;
        }
}

static void on_grace_over(lws_sorted_usec_list_t *sul)
{
        (void)sul;
        if (signal_ctx)
                lws_cancel_service(signal_ctx);
}

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
        if (signal_ctx)
                lws_cancel_service(signal_ctx);
}

static void on_reload_signal(int sig)
{
        (void)sig;
        reload_requested = 1;
        if (signal_ctx)
                lws_cancel_service(signal_ctx);
}

void server_rescan(server_t *srv, bool force)
{
        catalog_t *cat = srv->cat;
        rc_err_t err = {0};
        int r = catalog_rescan(cat, force, &err);
        if (r < 0) {
                slog_line_t l;
                slog_begin(&l, SLOG_ERROR, "languages_reload_failed");
                slog_strf(&l, "msg", "reloading the languages: %s (the previous ones stay)",
                          err.msg);
                slog_str(&l, "error", err.msg);
                slog_end(&l);
        } else if (r > 0) {
                size_t ready = 0;
                for (size_t i = 0; i < cat->set.n; i++)
                        ready += catalog_ready(cat, cat->set.items[i]);
                slog_line_t l;
                slog_begin(&l, SLOG_INFO, "languages_reloaded");
                slog_strf(&l, "msg", "languages reloaded: %zu, %zu of them ready", cat->set.n,
                          ready);
                slog_int(&l, "languages", (long long)cat->set.n);
                slog_int(&l, "ready", (long long)ready);
                slog_end(&l);
        }
}

static void on_rescan(lws_sorted_usec_list_t *sul)
{
        server_t *srv = lws_container_of(sul, server_t, rescan);
        if (!srv->draining)
                server_rescan(srv, false);
        server_rescan_schedule(srv);
}

void server_rescan_schedule(server_t *srv)
{
        lws_sul_cancel(&srv->rescan);
        if (srv->opts->rescan_s > 0) /* a reload may have changed it */
                lws_sul_schedule(srv->ctx, 0, &srv->rescan, on_rescan,
                                 (lws_usec_t)srv->opts->rescan_s * LWS_US_PER_SEC);
}

static void runs_by_free(server_t *srv)
{
        for (size_t i = 0; i < srv->nruns_by; i++)
                free(srv->runs_by[i].language);
        free(srv->runs_by);
        srv->runs_by = NULL;
        srv->nruns_by = 0;
}

/* libwebsockets' own error lines, marked as such. */
static void lws_log_line(int level, const char *line)
{
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
        slog_line_t l;
        slog_begin(&l, level & LLL_ERR ? SLOG_ERROR : SLOG_WARN, "libwebsockets");
        slog_bytes(&l, "msg", line, n);
        slog_end(&l);
}

/* Why nothing listens on host:port after libwebsockets set its vhost up. */
static int listen_failed(const server_opts_t *opts, int port, rc_err_t *err)
{
        if (net_try_bind(opts->host, port, err) < 0)
                return -1;
        return rc_err_set(err, EADDRNOTAVAIL, "cannot listen on %s:%d (libwebsockets did not)",
                          opts->host, port);
}

int server_run(catalog_t *cat, const server_opts_t *opts, rc_err_t *err)
{
        server_cfg_t *cfg = calloc(1, sizeof(*cfg));
        if (!cfg)
                return rc_err_set(err, ENOMEM, "out of memory");
        cfg->refs = 1;
        cfg->o = opts;
        server_t srv = {.cat = cat,
                        .opts = opts,
                        .cfg = cfg,
                        .first = opts,
                        .max_concurrent = opts->max_concurrent > 0 ? opts->max_concurrent : 1,
                        .queue_max = opts->queue_max >= 0 ? opts->queue_max : 0,
                        .store_lock = -1};
        slog_setup(opts->log_format == SLOG_JSON ? SLOG_JSON : SLOG_LOGFMT);
        build_routes(&srv);
        if (submissions_open(&srv, err) < 0) {
                cfg_release(cfg);
                return -1;
        }
        functions_open(&srv);
        conns_init(&srv);
        lws_set_log_level(LLL_ERR, lws_log_line);
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof(info));
        info.port = opts->port;
        info.iface = opts->host;
        info.protocols = protocols;
        info.user = &srv;
        info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
        info.keepalive_timeout = HTTP_KEEPALIVE_S;
        /* lws' table holds every descriptor runcell may have: conns.c keeps client
         * connections below it */
        info.fd_limit_per_thread = (unsigned)srv.nofile;
        if (opts->tls_cert && opts->tls_key) {
                info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
                info.ssl_cert_filepath = opts->tls_cert;
                info.ssl_private_key_filepath = opts->tls_key;
        }
        srv.ctx = lws_create_context(&info);
        if (!srv.ctx) {
                conns_free(&srv);
                functions_close(&srv);
                submissions_close(&srv);
                cfg_release(cfg);
                return listen_failed(opts, opts->port, err);
        }
        srv.vh = lws_get_vhost_by_name(srv.ctx, "default");
        int port = srv.vh ? lws_get_vhost_listen_port(srv.vh) : opts->port;
        if (!srv.vh || port <= 0 || !net_listening(opts->host, port)) {
                lws_context_destroy(srv.ctx);
                conns_free(&srv);
                functions_close(&srv);
                submissions_close(&srv);
                cfg_release(cfg);
                return listen_failed(opts, port > 0 ? port : opts->port, err);
        }
        srv.loop = srv.vh ? ev_lws_new(srv.ctx, srv.vh) : NULL;
        if (!srv.loop) {
                lws_context_destroy(srv.ctx);
                functions_close(&srv);
                submissions_close(&srv);
                cfg_release(cfg);
                return rc_err_set(err, ENOMEM, "cannot set up the event loop");
        }
        the_server = &srv;
        signal_ctx = srv.ctx;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sa.sa_handler = on_reload_signal;
        sigaction(SIGHUP, &sa, NULL);
        server_rescan_schedule(&srv);
        bool named = opts->host_name && strcmp(opts->host_name, opts->host) != 0;
        /* "runcell: listening on URL" stays in the line whatever the format: scripts and tests
         * wait for it */
        slog_line_t l;
        slog_begin(&l, SLOG_INFO, "listening");
        const char *scheme = opts->tls_cert && opts->tls_key ? "https" : "http";
        slog_strf(&l, "msg", "runcell: listening on %s://%s:%d%s%s%s", scheme, opts->host, port,
                  named ? " (" : "", named ? opts->host_name : "", named ? ")" : "");
        slog_strf(&l, "url", "%s://%s:%d", scheme, opts->host, port);
        if (named)
                slog_str(&l, "host_name", opts->host_name);
        slog_int(&l, "pid", (long long)getpid());
        slog_end(&l);
        for (size_t i = 0; i < dialect_count; i++)
                if (!opts->dialects[i].disabled) {
                        const char *base = opts->dialects[i].base ? opts->dialects[i].base
                                                                  : dialect_table[i]->base;
                        slog_begin(&l, SLOG_INFO, "dialect");
                        slog_strf(&l, "msg", "dialect %s at %s", dialect_table[i]->name, base);
                        slog_str(&l, "dialect", dialect_table[i]->name);
                        slog_str(&l, "path", base);
                        slog_end(&l);
                }
        submissions_start(&srv);
        functions_start(&srv);
        for (size_t i = 0; i < dialect_count; i++)
                if (!opts->dialects[i].disabled && dialect_table[i]->start)
                        dialect_table[i]->start();
        int rc = 0;
        lws_sorted_usec_list_t grace, hold;
        memset(&grace, 0, sizeof(grace));
        memset(&hold, 0, sizeof(hold));
        int64_t grace_end = 0, hold_end = 0;
        for (;;) {
                if (lws_service(srv.ctx, 0) < 0) {
                        rc = rc_err_set(err, EIO, "the event loop failed");
                        break;
                }
                functions_service(&srv); /* artifacts the transfer thread moved */
                if (reload_requested) {
                        reload_requested = 0;
                        if (!srv.draining)
                                server_reload(&srv); /* the config, then the languages */
                }
                if (stop_requested && !srv.draining) {
                        start_draining(&srv);
                        int64_t now = sb_now_ns();
                        grace_end = now + (int64_t)srv.opts->grace_ms * 1000000;
                        lws_sul_schedule(srv.ctx, 0, &grace, on_grace_over,
                                         (lws_usec_t)srv.opts->grace_ms * 1000);
                        /* a balancer takes a node out when /healthz says 503: the node stays
                         * (refusing runs) until its checks have had time to */
                        hold_end = now + (int64_t)srv.opts->drain_delay_ms * 1000000;
                }
                int64_t hold_left = srv.draining ? hold_end - sb_now_ns() : 0;
                bool held = hold_left > 0;
                if (held) /* wake up when it ends (set again each turn: exact whatever the clock) */
                        lws_sul_schedule(srv.ctx, 0, &hold, on_grace_over,
                                         (lws_usec_t)(hold_left / 1000) + 1);
                if (srv.draining && srv.running == 0 && srv.queued == 0 && !held)
                        break;
                if (srv.draining && !srv.grace_over && sb_now_ns() >= grace_end) {
                        srv.grace_over = true;
                        for (run_t *r = srv.all; r; r = r->all_next) {
                                if (r->state == RUN_RUNNING && r->job)
                                        job_kill(r->job, SIGKILL);
                                if (r->state == RUN_RUNNING && r->judge)
                                        judge_kill(r->judge);
                        }
                        /* their exit and done events go out, then the loop ends */
                        lws_sul_schedule(srv.ctx, 0, &grace, on_grace_over, 2000000);
                        grace_end = sb_now_ns() + 2000000000LL;
                }
                if (srv.grace_over && sb_now_ns() >= grace_end && sb_now_ns() >= hold_end)
                        break;
        }
        lws_sul_cancel(&grace);
        lws_sul_cancel(&hold);
        lws_sul_cancel(&srv.rescan);
        /* let the last frames go out */
        for (int i = 0; i < 20 && srv.draining; i++)
                lws_service(srv.ctx, -1);
        /* Every run ends here: killed, reaped, its cgroup removed, before lws goes away. */
        while (srv.all) {
                lws_sul_cancel(&srv.all->reap);
                run_free(srv.all);
        }
        srv.qhead = srv.qtail = NULL;
        for (size_t i = 0; i < dialect_count; i++)
                if (!opts->dialects[i].disabled && dialect_table[i]->stop)
                        dialect_table[i]->stop();
        functions_close(&srv);
        submissions_close(&srv);
        while (srv.refills) {
                struct refill *rf = srv.refills;
                srv.refills = rf->next;
                lws_sul_cancel(&rf->sul);
                catalog_release(cat, rf->lang);
                free(rf);
        }
        lws_context_destroy(srv.ctx); /* the connections' and requests' options released */
        cfg_release(srv.cfg);
        runs_by_free(&srv);
        metrics_free(&srv);
        conns_free(&srv);
        signal_ctx = NULL;
        the_server = NULL;
        ev_lws_free(srv.loop);
        return rc;
}
