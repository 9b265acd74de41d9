/* Wire dialects: the server's own protocol and the other systems' APIs runcell speaks.
 *
 * A dialect is a codec and nothing else. It decodes its requests into the job model (a run
 * document in runcell's own JSON form: language, files or source, stdin, args, env, command,
 * limits, interactive) and encodes the job's events into its own messages. Sandboxes, queueing,
 * limits, access checks, back-pressure and lifetimes all stay in the server (src/server/); the
 * codec only sees the calls below. Every dialect is one file registered in dialects.c. */
#ifndef RUNCELL_PROTOCOL_DIALECT_H
#define RUNCELL_PROTOCOL_DIALECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "engine/catalog.h"
#include "engine/judge.h"
#include "job/job.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct dl_conn dl_conn_t; /* one WebSocket connection */
typedef struct dl_http dl_http_t; /* one HTTP request */
typedef struct dl_run dl_run_t;   /* one run (a job), from either */

typedef enum dl_method {
        DL_GET = 1 << 0,
        DL_POST = 1 << 1,
        DL_HEAD = 1 << 2,
        DL_OPTIONS = 1 << 3,
        DL_WS = 1 << 4, /* a WebSocket upgrade */
        DL_PUT = 1 << 5,
        DL_DELETE = 1 << 6,
} dl_method_t;

/* A sub ending in a slash and an asterisk matches one more path segment (no slash in it, not
 * empty), which dl_http_path_arg() gives; a route without the wildcard for the same path wins over
 * it. A sub ending in a slash and two asterisks matches whatever follows the slash (not empty,
 * slashes allowed), given the same way. */
typedef struct dl_route {
        const char *sub;  /* appended to the dialect's base path ("" is the base itself) */
        unsigned methods; /* dl_method_t bits */
        int tag;          /* handed back to the codec */
} dl_route_t;

typedef enum dl_event_kind {
        DL_EV_QUEUED,  /* position: 0 when it starts at once */
        DL_EV_STAGE,   /* stage */
        DL_EV_OUTPUT,  /* stage, stream, data/len, utf8 */
        DL_EV_EXIT,    /* stage, res */
        DL_EV_DONE,    /* result: the whole job */
        DL_EV_DROPPED, /* queued and never started: code ("shutting_down"), message */
        DL_EV_TEST,    /* a judged run's test is over: test_index, test_name, test */
} dl_event_kind_t;

typedef struct dl_event {
        dl_event_kind_t kind;
        int position;
        stage_kind_t stage;
        stream_kind_t stream;
        const char *data; /* output: whole UTF-8 characters when utf8 (an unfinished sequence */
        size_t len;       /* at a chunk's end is held back for the next chunk) */
        bool utf8;
        const stage_result_t *res;
        const job_result_t *result; /* DL_EV_DONE of a run without tests */
        const char *code, *message;
        size_t test_index;
        const char *test_name;
        const judge_test_result_t *test;
        const judge_t *judge; /* DL_EV_DONE of a run with tests: every test's result */
} dl_event_t;

typedef struct dialect {
        const char *name;
        const char *base; /* default base path; the config may move it or switch it off */
        const dl_route_t *routes;
        size_t nroutes;
        size_t conn_size; /* zeroed per-connection state for the codec (dl_conn_data) */
        size_t run_size;  /* zeroed per-run state (dl_run_data) */
        int max_concurrent, queue_max; /* its own concurrency bound by default; 0: none */
        bool off_by_default;
        bool judges; /* its run documents may carry "tests" (engine/judge.h); others refuse */
        /* Dialect options from the config ("dialects": {"name": {...}}), NULL for none; the
         * keys "enabled" and "path" are the server's and already removed. */
        int (*configure)(const cJSON *opts, rc_err_t *err);
        /* Several dialects on one POST path: does this body (parsed, or NULL when it is not
         * JSON) belong to this dialect? The first that says yes gets it; none: the first. */
        bool (*claims)(const cJSON *body);
        void (*http)(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len);
        /* The request's body is over the size limit: answer 413 in the dialect's own shape
         * (NULL: the server answers in runcell's). On a POST path several dialects share, the
         * body cannot be read to decide: the first of them in table order answers. */
        void (*http_too_large)(dl_http_t *h, int tag);
        void (*ws_open)(dl_conn_t *c, int tag);
        /* A whole message; data NULL when it was over the size limit (the connection closes
         * with 1009 after what the codec queues now). */
        void (*ws_message)(dl_conn_t *c, const char *data, size_t len, bool binary);
        void (*ws_close)(dl_conn_t *c); /* the connection is gone: free what conn data holds */
        void (*run_event)(dl_run_t *r, const dl_event_t *ev); /* only while its client is there */
        void (*run_free)(dl_run_t *r); /* the run is going away: free what run data holds */
        void (*metrics)(buf_t *out);   /* Prometheus lines of its own */
        /* The server is listening (its catalogue and store are open): a dialect with stored
         * work resumes it here (dl_run_submit). Called once. */
        void (*start)(void);
        /* The server is about to exit (every run is over): free what start set up. */
        void (*stop)(void);
        /* The body of a stored submission's callback (heap text) from its stored result, when
         * it is not the result as it is; NULL: the result. Called on the callback deliverer's
         * thread: it may use nothing but its argument. */
        char *(*callback_body)(const char *result);
} dialect_t;

/* The table (dialects.c). */
extern const dialect_t *const dialect_table[];
extern const size_t dialect_count;
const dialect_t *dialect_find(const char *name);

/* ------------------------------------------------------------------ what the server offers */

typedef struct dl_error {
        const char *code; /* bad_request, unknown_language, unknown_version, unavailable,
                             too_large, busy, rate_limited, shutting_down, internal */
        char message[600];
        /* busy or rate_limited for a client's own limits (public mode, a function's rate),
         * or shutting_down (1: another node may take it): when to try again, in seconds; 0:
         * not said. An HTTP refusal carries it as Retry-After already. */
        int retry_after_s;
} dl_error_t;

/* Start a run from a run document (taken over, also on failure) for a connection or an HTTP
 * request (exactly one of c, h). id names it in logs and to the codec. On refusal returns
 * NULL with e filled; nothing is sent. Events follow through run_event, the first
 * (DL_EV_QUEUED) before this returns. Output comes as DL_EV_OUTPUT events either way; an HTTP
 * run also captures it (the result of DL_EV_DONE holds stdout and stderr, each cut at the
 * output limit). The run document's "interactive": true keeps a connection's run's stdin
 * open after "stdin" for dl_run_stdin(). */
dl_run_t *dl_run_start(dl_conn_t *c, dl_http_t *h, cJSON *doc, const char *id, dl_error_t *e);
/* A run with no client (a stored submission, resumed or submitted earlier) of dialect d: as
 * dl_run_start, and kept (dl_run_keep) from the start. */
dl_run_t *dl_run_submit(const dialect_t *d, cJSON *doc, const char *id, dl_error_t *e);
/* The run goes on when its client goes (instead of being killed), and its events keep coming
 * to run_event, with dl_run_conn and dl_run_http NULL from then on. */
void dl_run_keep(dl_run_t *r);
/* The client no longer wants this run's events (an HTTP request answered before the run is
 * over): the run goes on, kept. */
void dl_run_detach(dl_run_t *r);
/* The server is stopping (SIGTERM): a kept run that ends now, or DL_EV_DROPPED, was cut short
 * by the stop, not by its program. */
bool dl_draining(void);
const char *dl_run_id(const dl_run_t *r);
void *dl_run_data(dl_run_t *r);
dl_conn_t *dl_run_conn(const dl_run_t *r); /* NULL once the client is gone */
dl_http_t *dl_run_http(const dl_run_t *r);
bool dl_run_done(const dl_run_t *r);
const lang_t *dl_run_lang(const dl_run_t *r);
/* Input for an interactive run; -EPIPE when its stdin is closed. Queued runs keep it. */
int dl_run_stdin(dl_run_t *r, const char *data, size_t len);
void dl_run_eof(dl_run_t *r);
/* A tty run's new terminal size ("tty" in the run document); a queued run starts with it.
 * -ENOTTY: the run has no terminal; -EINVAL: a zero size. */
int dl_run_resize(dl_run_t *r, uint16_t rows, uint16_t cols);
/* SIGKILL ends the sandbox; another signal goes to the program. The verdict is "killed". */
void dl_run_kill(dl_run_t *r, int sig);
/* Call fn once, ms from now: a codec's own timer (e.g. to gather output). Calling again moves
 * it; ms <= 0 cancels it. It never fires once the run is freed. */
void dl_run_timer(dl_run_t *r, int ms, void (*fn)(dl_run_t *r));
/* The connection's runs that are not done, newest first: call with NULL, then the last. */
dl_run_t *dl_conn_next_run(dl_conn_t *c, dl_run_t *after);

void *dl_conn_data(dl_conn_t *c);
/* Queue a text frame (the message is taken over and printed compactly). */
void dl_send_json(dl_conn_t *c, cJSON *msg);
void dl_send_text(dl_conn_t *c, const char *text, size_t len);
/* Close once what is queued has gone out, with a WebSocket close status and reason. */
void dl_close(dl_conn_t *c, int status, const char *reason);
/* Close after idle_ms without a message in either direction; 0: never (the default). */
void dl_conn_idle_timeout(dl_conn_t *c, int idle_ms);
/* Close with status and reason ms from now whatever happens meanwhile, unless called again
 * (ms 0 cancels): a deadline such as "initialise within a second". */
void dl_conn_close_after(dl_conn_t *c, int ms, int status, const char *reason);
/* A URL argument of the upgrade request ("name=" form), or NULL. */
const char *dl_conn_urlarg(dl_conn_t *c, const char *name, char *buf, size_t size);

/* The request's path segment matched by a wildcard route ("" for other routes), decoded. */
const char *dl_http_path_arg(dl_http_t *h);
/* A URL argument ("name=" form, decoded), or NULL. Only inside the http callback. */
const char *dl_http_arg(dl_http_t *h, const char *name, char *buf, size_t size);
/* A request header ("x-auth-token:" form, lower case with the colon), or NULL. Only inside
 * the http callback. */
const char *dl_http_req_header(dl_http_t *h, const char *name, char *buf, size_t size);
/* The runcell token the request was admitted with (-1: none configured). */
int dl_http_token(const dl_http_t *h);

/* The request's query string (what follows '?'), percent-encoded again from the arguments lws
 * decoded: each argument's name and value escaped, joined by '&'; "" when none. Whole arguments
 * only when it does not all fit in size. */
const char *dl_http_query(dl_http_t *h, char *buf, size_t size);
/* "GET", "POST", ... */
const char *dl_http_method_name(const dl_http_t *h);
/* The peer's address as text, and the port the server listens on. */
void dl_http_peer(dl_http_t *h, char *buf, size_t size);
int dl_http_server_port(void);
/* The request's token may use everything (not one scoped to functions: "tokens" in the config). */
bool dl_http_full_rights(const dl_http_t *h);
/* May the request's token invoke the function name (a token scoped to functions names it)? */
bool dl_token_may_invoke_http(const dl_http_t *h, const char *name);

/* Answer an HTTP request (once). The body is taken over (NULL: none). */
void dl_http_json(dl_http_t *h, int status, cJSON *body);
void dl_http_text(dl_http_t *h, int status, const char *ctype, const char *text, size_t len);
/* An extra response header ("name:" with the colon), before the answer is given. */
void dl_http_header(dl_http_t *h, const char *name, const char *value);
/* The HTTP status for an error code of dl_run_start (400, 404, 413, 429, 503, 500). */
int dl_error_status(const char *code);
/* A response to a 429 carries Retry-After: 1. */

/* ------------------------------------------------------------------ functions */
/* (server/functions.c; docs/protocol.md, "Functions"). The management calls return the HTTP
 * status and set *out to the answer (an error in runcell's shape for a status >= 400). An
 * invocation is a run whose document names "function" (dl_run_start). */

/* Deploy name from doc (taken over): compiled, stored, made current; h is answered once that is
 * done (201 new, 200 a new version, 422 a compile error, 400, 413). */
void dl_fn_deploy(dl_http_t *h, const char *name, cJSON *doc);
/* The same for a WebSocket's dialect: done(c, tag, status, answer) once it is done (not if the
 * connection has gone meanwhile); tag (taken over, may be NULL) is handed back, answer is the
 * deploy's answer as over HTTP (borrowed). */
typedef void (*dl_fn_done_fn)(dl_conn_t *c, const cJSON *tag, int status, const cJSON *answer);
void dl_fn_deploy_conn(dl_conn_t *c, const char *name, cJSON *doc, dl_fn_done_fn done, cJSON *tag);
int dl_fn_list(cJSON **out);
int dl_fn_get(const char *name, cJSON **out);
int dl_fn_versions(const char *name, cJSON **out);
/* version 0: the one before the current one */
int dl_fn_rollback(const char *name, int version, cJSON **out);
int dl_fn_delete(const char *name, cJSON **out);
typedef struct dl_fn_info {
        int version;
        char mode[8]; /* "stdin", "json", "cgi" */
        char content_type[128];
        int ncgi; /* request headers passed to a CGI program besides the usual ones */
        char cgi_headers[16][64];
} dl_fn_info_t;
/* What an invocation of name's version (0: the current one) needs to know; false: no such
 * function or version. */
bool dl_fn_info(const char *name, int version, dl_fn_info_t *out);
/* A function's run: the version it runs and whether its sandbox was made for it (cold). */
bool dl_run_fn(const dl_run_t *r, int *version, bool *cold);

catalog_t *dl_catalog(void);
/* The server's submission store (store/store.h), NULL when it has none (no state directory,
 * or "store": {"enabled": false}). Leases taken by this server name dl_node_id() as owner and
 * last dl_lease_ms() (the server renews its own while it runs). */
store_t *dl_store(void);
const char *dl_node_id(void);
int64_t dl_lease_ms(void);
/* With a store several nodes share (store_shared: PostgreSQL), how often a dialect with queued
 * work looks for submissions to claim (the config's "store": {"poll_ms"}). */
int64_t dl_store_poll_ms(void);
/* Call fn once, ms from now, on the server's thread: a dialect's own timer (not a run's).
 * Calling again with the same fn moves it; ms <= 0 cancels it. At most 8 fns. */
void dl_timer(int ms, void (*fn)(void));
/* A submission just finished with a callback_url: the deliverer looks now, not at its next
 * tick. */
void dl_callbacks_kick(void);
/* May a callback go to url (http:// to a host the config's "callbacks": {"allow_hosts"}
 * lists)? false with the reason in msg. */
bool dl_callback_allowed(const char *url, char *msg, size_t size);
/* Are callbacks sent at all (a store, and hosts allowed)? Their tries and timeout. */
bool dl_callbacks_config(int *max_tries, int *timeout_ms);
/* A value the client chose that goes back in every message about its run (a nonce) is at most
 * DL_ECHO_MAX bytes as compact JSON, as the native protocol's "id": otherwise one big nonce
 * would be copied into each chunk of output. NULL (absent) is fine. */
#define DL_ECHO_MAX 128
bool dl_echo_ok(const cJSON *v);
/* The parsed body's nesting is within the configured maximum. */
bool dl_json_depth_ok(const cJSON *j);
/* The server's load now: runs going, runs waiting, and how many may go at once. */
void dl_load(int *running, int *queued, int *max_concurrent);
/* Monotonic milliseconds. */
int64_t dl_now_ms(void);
/* A line in the server's log (docs/OPERATIONS.md, "Logs"): an event with its msg. */
typedef enum dl_log_level { DL_LOG_ERROR, DL_LOG_WARN, DL_LOG_INFO } dl_log_level_t;
void dl_log(dl_log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* n random bytes as 2n hex digits into out (2n+1 bytes). */
void dl_random_hex(char *out, size_t n);
/* Prometheus counter registration is the codec's own (metrics callback). */

/* Parse a signal given as "SIGTERM", "TERM" or a number; 0 when unknown. */
int dl_signal_parse(const cJSON *v);

/* A language's version as plain dotted numbers ("3.11.2" from "3.11.2-1+b1"); "" if none. */
void dl_semver(const char *debian_version, char *out, size_t size);

#endif
