/* SIGHUP: the config read again and put in force whole, or refused whole (docs/OPERATIONS.md,
 * "Reloading").
 *
 * The options in force are a server_cfg_t, counted: the server holds the current one, and
 * every run, WebSocket connection and HTTP request holds the one it was let in under. A run
 * reads its limits and its token's name from its own, so a reload changes nothing for runs
 * going or queued, and frees nothing they point into: the old options go with their last
 * holder. A connection made before a reload has its token checked again under the new options
 * at its next run (access_refresh). */
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/server-internal.h"

server_cfg_t *cfg_hold(server_cfg_t *c)
{
        if (c)
                c->refs++;
        return c;
}

void cfg_release(server_cfg_t *c)
{
        if (!c || --c->refs)
                return;
        if (c->own) {
                server_opts_free(c->own);
                free(c->own);
        }
        free(c);
}

static void refused(server_t *srv, const char *why, const char *restart)
{
        srv->reloads_refused++;
        slog_line_t l;
        slog_begin(&l, SLOG_ERROR, "reload");
        slog_str(&l, "result", "refused");
        if (restart) {
                slog_strf(&l, "msg",
                          "config not reloaded: %s cannot change without a restart (the "
                          "previous config stays)",
                          restart);
                slog_strf(&l, "reason", "needs a restart: %s", restart);
                slog_str(&l, "restart", restart);
        } else {
                slog_strf(&l, "msg", "config not reloaded: %s (the previous config stays)", why);
                slog_str(&l, "reason", why);
        }
        slog_end(&l);
}

/* What the server keeps of its own from the options: put in line with o (prev: before). */
static void apply(server_t *srv, const server_opts_t *prev, const server_opts_t *o)
{
        srv->max_concurrent = o->max_concurrent > 0 ? o->max_concurrent : 1;
        srv->queue_max = o->queue_max >= 0 ? o->queue_max : 0;
        if (o->log_format != prev->log_format)
                slog_setup(o->log_format == SLOG_JSON ? SLOG_JSON : SLOG_LOGFMT);
        conns_limits(srv, o->public_on != prev->public_on || o->public_rpm != prev->public_rpm);
        if (o->rescan_s != prev->rescan_s)
                server_rescan_schedule(srv);
}

void server_reload(server_t *srv)
{
        const server_opts_t *first = srv->first;
        if (!first->reload) { /* no config file: the languages only */
                server_rescan(srv, true);
                return;
        }
        server_opts_t *n = NULL;
        buf_t restart = {0}, changed = {0};
        rc_err_t err = {0};
        if (first->reload(first->reload_ctx, &n, &restart, &err) < 0) {
                refused(srv, err.msg[0] ? err.msg : "the config could not be read", NULL);
                goto out;
        }
        server_opts_diff(first, srv->opts, n, &changed, &restart);
        if (restart.len) {
                refused(srv, NULL, restart.data);
                goto out;
        }
        server_cfg_t *c = calloc(1, sizeof(*c));
        if (!c) {
                refused(srv, "out of memory", NULL);
                goto out;
        }
        c->refs = 1;
        c->gen = srv->cfg->gen + 1;
        c->o = c->own = n;
        n = NULL;
        server_cfg_t *old = srv->cfg;
        srv->cfg = c;
        srv->opts = c->o;
        apply(srv, old->o, c->o);
        cfg_release(old); /* freed now unless a run or connection still holds it */
        srv->reloads_ok++;
        slog_line_t l;
        slog_begin(&l, SLOG_INFO, "reload");
        slog_str(&l, "result", "ok");
        slog_strf(&l, "msg", "config reloaded: %s%s", changed.len ? "changed " : "nothing changed",
                  changed.len ? changed.data : "");
        slog_str(&l, "changed", changed.len ? changed.data : NULL);
        slog_end(&l);
        server_rescan(srv, true);
        runs_kick(srv); /* more may start now, or their limits went */
out:
        if (n) {
                server_opts_free(n);
                free(n);
        }
        buf_free(&restart);
        buf_free(&changed);
}
