/* The callback deliverer: a thread with its own store_t on the store's file that sends each
 * finished submission's result to its callback_url, and tries again later when that fails.
 *
 * Plain HTTP/1.1 only (http://; https:// is refused): `PUT <path>` with the submission's
 * result text as the body (Content-Type: application/json), or, for a submission done with no
 * result (store_recover gave it up), {"token": "...", "error": "..."}. Only hosts in
 * allow_hosts are contacted; redirects are never followed. A 2xx answer is delivered; anything
 * else (no connection, a timeout, 3xx, 4xx, 5xx) is tried again after backoff_ms, doubling up
 * to backoff_max_ms, max_tries times in all; then the callback is CB_FAILED. A URL that is not
 * allowed fails at once (no retries). Each give-up is one line on stderr. */
#ifndef RUNCELL_STORE_CALLBACK_H
#define RUNCELL_STORE_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

typedef struct cb_opts {
        char **allow_hosts;     /* "host", "host:port", "1.2.3.4", "[::1]:8080"; a name is
                                   matched exactly (case aside), not resolved; no port: any */
        size_t nallow_hosts;    /* 0: no callback is sent (each one fails) */
        int max_tries;          /* tries in all (default 5) */
        int64_t backoff_ms;     /* wait after the first failed try (default 1000) */
        int64_t backoff_max_ms; /* the longest wait (default 60000) */
        int timeout_ms;         /* to connect, and then to send and get the status line
                                   (default 10000) */
        /* The body of a submission's callback from its stored result (heap text), for a
         * dialect whose callbacks are not its stored result as it is; NULL, or NULL back: the
         * result. Called on the deliverer's thread. */
        char *(*body)(const char *dialect, const char *result);
} cb_opts_t;

typedef struct cb_deliverer cb_deliverer_t;

/* Open the store at db_path (an SQLite file or a postgresql:// URL, as store_open) and start
 * the thread; o is copied.
 * 0, or -errno with err. */
int cb_start(const char *db_path, const store_opts_t *so, const cb_opts_t *o, cb_deliverer_t **out,
             rc_err_t *err);
/* Look for callbacks due now (a submission was just finished). Thread-safe; never blocks. */
void cb_kick(cb_deliverer_t *d);
/* Stop the thread (a delivery under way is cut short, its host name lookup aside, and tried
 * again next time), close its store and free d. NULL is a no-op. */
void cb_stop(cb_deliverer_t *d);

/* Whether url may be called back: an http:// URL whose host (and port) allow_hosts lists.
 * false with the reason in msg (for the submitter: "callback_url: ..."). */
bool cb_url_allowed(const cb_opts_t *o, const char *url, char *msg, size_t size);

/* One delivery, for tests and the deliverer: PUT body to url (allowed or not: the caller
 * checks), *status the HTTP status (0 when none came). 0 when an answer came, -errno with err
 * when none did. cancel_fd >= 0: give up when it becomes readable. */
int cb_http_put(const char *url, const char *body, int timeout_ms, int cancel_fd, int *status,
                rc_err_t *err);

#endif
