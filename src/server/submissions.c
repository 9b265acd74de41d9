/* The server's submission store (store/store.h) and its callback deliverer (store/callback.h):
 * opened before the server listens (an SQLite file in the state directory, or a PostgreSQL
 * database that several nodes share), with the runs this node left behind when it died put
 * back in the queue (store_recover) for their dialects to resume; this node's leases renewed,
 * expired leases of any node taken back (shared store) and retention applied on a timer;
 * closed at exit. Dialects reach it through dl_store() and the calls below. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/log.h"
#include "server/server-internal.h"
#include "store/callback.h"
#include "util/fs.h"

#define TICK_MS 5000 /* at most: leases renewed (they last store_lease_ms), retention applied */

/* The callback of a submission of dialect name: that dialect's body, or the result. */
static char *callback_body(const char *name, const char *result)
{
        const dialect_t *d = dialect_find(name);
        return d && d->callback_body ? d->callback_body(result) : NULL;
}

static cb_opts_t cb_opts_of(const server_opts_t *o)
{
        return (cb_opts_t){.allow_hosts = o->callback_hosts.v,
                           .nallow_hosts = o->callback_hosts.n,
                           .max_tries = o->callback_tries,
                           .backoff_ms = o->callback_backoff_ms,
                           .backoff_max_ms = o->callback_backoff_max_ms,
                           .timeout_ms = o->callback_timeout_ms,
                           .body = callback_body};
}

static store_opts_t store_opts_of(const server_opts_t *o)
{
        return (store_opts_t){.max_age_s = o->store_max_age_s,
                              .max_count = o->store_max_count,
                              .max_bytes = o->store_max_bytes,
                              .max_attempts = o->store_max_attempts,
                              .lease_ms = o->store_lease_ms};
}

static void store_path(const server_t *srv, char *out, size_t size)
{
        if (srv->opts->store_path)
                snprintf(out, size, "%s", srv->opts->store_path);
        else
                snprintf(out, size, "%s/submissions.db", srv->cat->paths->state_dir);
}

/* A URL as it may be shown: without its user and password. */
static void url_shown(const char *url, char *out, size_t size)
{
        const char *at = strrchr(url, '@'), *scheme = strstr(url, "://");
        if (at && scheme && at > scheme)
                snprintf(out, size, "%.*s%s", (int)(scheme + 3 - url), url, at + 1);
        else
                snprintf(out, size, "%s", url);
}

static int open_store(server_t *srv, rc_err_t *err)
{
        const server_opts_t *o = srv->opts;
        if (o->node_id)
                snprintf(srv->node_id, sizeof(srv->node_id), "%s", o->node_id);
        else if (gethostname(srv->node_id, sizeof(srv->node_id)) < 0 || !srv->node_id[0])
                snprintf(srv->node_id, sizeof(srv->node_id), "runcell");
        srv->node_id[sizeof(srv->node_id) - 1] = '\0';
        if (o->store_disabled)
                return 0;
        char path[4096], lock[4200];
        store_opts_t so = store_opts_of(o);
        rc_err_t e = {0};
        if (o->store_url) {
                /* Shared: no flock (many nodes on one database); the node's id is held in the
                 * database instead, so no live node has it and this node's leases left there
                 * are a dead run's of its own. */
                snprintf(path, sizeof(path), "%s", o->store_url);
                url_shown(o->store_url, srv->store_shown, sizeof(srv->store_shown));
                if (store_open_pg(path, &so, &srv->store, &e) < 0)
                        return rc_err_set(err, EIO, "the submission store %s: %s", srv->store_shown,
                                          e.msg);
                int held = store_node_register(srv->store, srv->node_id, &e);
                if (held <= 0) {
                        submissions_close(srv);
                        if (held < 0)
                                return rc_err_set(err, EIO, "the submission store %s: %s",
                                                  srv->store_shown, e.msg);
                        return rc_err_set(err, EEXIST,
                                          "the submission store %s: node id \"%s\" is another "
                                          "live runcell node's: give each node its own "
                                          "\"node_id\" in its config",
                                          srv->store_shown, srv->node_id);
                }
        } else {
                if (!o->store_path &&
                    (!srv->cat->paths->state_dir || !srv->cat->paths->state_dir[0]))
                        return 0; /* nowhere to keep it: the dialects say so when asked to store */
                if (!o->store_path && fs_mkdir_p(srv->cat->paths->state_dir, 0700, err) < 0)
                        return -1;
                store_path(srv, path, sizeof(path));
                snprintf(srv->store_shown, sizeof(srv->store_shown), "%s", path);
                /* One server per store: leases of this node's name are then a dead server's. A
                 * second server on the same state directory (tests, a mistake) runs without
                 * one. */
                snprintf(lock, sizeof(lock), "%s.lock", path);
                srv->store_lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (srv->store_lock < 0)
                        return rc_err_set(err, errno, "the submission store: cannot open %s: %s",
                                          lock, strerror(errno));
                if (flock(srv->store_lock, LOCK_EX | LOCK_NB) < 0) {
                        close(srv->store_lock);
                        srv->store_lock = -1;
                        slog_msg(SLOG_WARN, "store_taken",
                                 "the submission store %s is another runcell serve's: this one "
                                 "keeps no submissions (give it its own \"store\": {\"path\"})",
                                 path);
                        return 0;
                }
                if (store_open_sqlite(path, &so, &srv->store, &e) < 0) {
                        submissions_close(srv);
                        return rc_err_set(err, EIO, "the submission store %s: %s", path, e.msg);
                }
        }
        int n = store_recover(srv->store, srv->node_id, &e);
        if (n < 0) {
                submissions_close(srv);
                return rc_err_set(err, EIO, "the submission store %s: %s", srv->store_shown, e.msg);
        }
        if (n > 0)
                slog_msg(SLOG_INFO, "store_recovered",
                         "%d submission%s left running by a stopped server %s", n,
                         n == 1 ? "" : "s",
                         n == 1 ? "goes back to its queue" : "go back to the queue");
        if (store_prune(srv->store, &e) < 0)
                slog_msg(SLOG_ERROR, "store_error", "the submission store: retention: %s", e.msg);
        cb_opts_t co = cb_opts_of(o);
        if (o->callback_hosts.n && cb_start(path, &so, &co, &srv->callbacks, &e) < 0) {
                submissions_close(srv);
                return rc_err_set(err, EIO, "the callback deliverer: %s", e.msg);
        }
        slog_msg(SLOG_INFO, "store", "submission store %s (%s, schema %d, node %s)",
                 srv->store_shown, store_backend(srv->store), store_schema_version(srv->store),
                 srv->node_id);
        return 0;
}

/* A store the config names must open, or the server does not start; the default one in the
 * state directory may fail (a read-only home): the server then runs without one, saying so. */
int submissions_open(server_t *srv, rc_err_t *err)
{
        if (open_store(srv, err) == 0)
                return 0;
        if (srv->opts->store_path || srv->opts->store_url)
                return -1;
        slog_msg(SLOG_WARN, "store_off", "no submission store: %s", err->msg);
        submissions_close(srv);
        *err = (rc_err_t){0};
        return 0;
}

/* Leases renewed a few times per lease_ms (every 5 s at most), so one late tick does not let
 * them expire. */
static int64_t tick_ms(const server_t *srv)
{
        int64_t t = srv->opts->store_lease_ms / 4;
        return t < 250 ? 250 : t > TICK_MS ? TICK_MS : t;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
        server_t *srv = lws_container_of(sul, server_t, store_tick);
        rc_err_t e = {0};
        if (store_renew(srv->store, srv->node_id, store_now_ms() + srv->opts->store_lease_ms, &e) <
            0)
                slog_msg(SLOG_ERROR, "store_error", "the submission store: renewing leases: %s",
                         e.msg);
        /* Shared: a dead node's expired leases are anyone's. Those with runs left are claimed
         * as they are (dialects' polls); this gives up the ones without. */
        int n = store_shared(srv->store) ? store_recover(srv->store, NULL, &e) : 0;
        if (n < 0)
                slog_msg(SLOG_ERROR, "store_error", "the submission store: recovery: %s", e.msg);
        else if (n > 0)
                slog_msg(SLOG_INFO, "store_recovered",
                         "%d submission%s with an expired lease taken back", n, n == 1 ? "" : "s");
        srv->store_ticks_ms += tick_ms(srv);
        if (srv->store_ticks_ms >= 60000) { /* retention once a minute */
                srv->store_ticks_ms = 0;
                if (store_prune(srv->store, &e) < 0)
                        slog_msg(SLOG_ERROR, "store_error", "the submission store: retention: %s",
                                 e.msg);
        }
        lws_sul_schedule(srv->ctx, 0, &srv->store_tick, on_tick, (lws_usec_t)tick_ms(srv) * 1000);
}

void submissions_start(server_t *srv)
{
        if (srv->store)
                lws_sul_schedule(srv->ctx, 0, &srv->store_tick, on_tick,
                                 (lws_usec_t)tick_ms(srv) * 1000);
}

void submissions_close(server_t *srv)
{
        lws_sul_cancel(&srv->store_tick);
        if (srv->callbacks)
                cb_stop(srv->callbacks);
        srv->callbacks = NULL;
        if (srv->store)
                store_close(srv->store);
        srv->store = NULL;
        if (srv->store_lock >= 0)
                close(srv->store_lock);
        srv->store_lock = -1;
}

int64_t dl_lease_ms(void)
{
        return the_server ? the_server->opts->store_lease_ms : 60000;
}

int64_t dl_store_poll_ms(void)
{
        return the_server ? the_server->opts->store_poll_ms : 200;
}

void dl_callbacks_kick(void)
{
        if (the_server && the_server->callbacks)
                cb_kick(the_server->callbacks);
}

bool dl_callback_allowed(const char *url, char *msg, size_t size)
{
        if (!the_server || !the_server->store) {
                snprintf(msg, size, "this server keeps no submissions, so it sends no callbacks");
                return false;
        }
        if (!the_server->callbacks) {
                snprintf(msg, size,
                         "callbacks are off on this server (the config's \"callbacks\": "
                         "{\"allow_hosts\": [...]} names where they may go)");
                return false;
        }
        cb_opts_t co = cb_opts_of(the_server->opts);
        return cb_url_allowed(&co, url, msg, size);
}

bool dl_callbacks_config(int *max_tries, int *timeout_ms)
{
        const server_t *srv = the_server;
        *max_tries = srv ? srv->opts->callback_tries : 0;
        *timeout_ms = srv ? srv->opts->callback_timeout_ms : 0;
        return srv && srv->store && srv->callbacks;
}
