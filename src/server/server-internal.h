/* What the server's files share (not for dialects, which see protocol/dialect.h): the
 * connection, request, run and server structures, and the calls between server.c (lifetime),
 * transport.c, runs.c, access.c, routes.c, metrics.c and dialect_api.c. */
#ifndef RUNCELL_SERVER_SERVER_INTERNAL_H
#define RUNCELL_SERVER_SERVER_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "engine/judge.h"
#include "engine/request.h"
#include "protocol/dialect.h"
#include "server/evloop_lws.h"
#include "server/server.h"

#define OUTQ_HIGH   (1u << 20) /* queued bytes to one client before its runs' output pauses */
#define OUTQ_LOW    (256u << 10)
#define NROUTES_MAX 64
#define NHEADERS    40
/* An idle HTTP/1.1 keep-alive connection is closed after this long; answers say so
 * (Keep-Alive: timeout=N) so that a client does not send its next request just as the server
 * closes. */
#define HTTP_KEEPALIVE_S 5
/* Descriptors kept back from client connections (conns.c): runcell's and lws' own, per run
 * slot (pipes, pidfd, sandbox sockets), and connections over the cap for /healthz and
 * /metrics only. */
#define CONNS_FDS_FIXED   64
#define CONNS_FDS_PER_RUN 24
#define CONNS_RESERVE     32
#define CLIENT_ADDR_MAX   48 /* a client's address in text */

typedef struct server server_t;
typedef struct server_cfg server_cfg_t;
typedef struct dl_conn conn_t;
typedef struct fn fn_t;               /* functions.c: a deployed function */
typedef struct fn_ver fn_ver_t;       /* one version of it, held by its runs */
typedef struct fn_lane fn_lane_t;     /* a sandbox kept between its invocations */
typedef struct fn_deploy fn_deploy_t; /* a deploy being compiled */
typedef struct dl_http http_req_t;
typedef struct dl_run run_t;
typedef struct conn_acct conn_acct_t;

/* A set of options in force (reload.c): the server holds the current one, and each run,
 * WebSocket connection and HTTP request holds the one it was let in under, so that a reload
 * frees nothing they point into; freed with its last holder. */
struct server_cfg {
        unsigned refs;
        unsigned gen;           /* 0 at start, one more a reload */
        const server_opts_t *o; /* what the holders read */
        server_opts_t *own;     /* a reload's (freed with the cfg); NULL: server_run's caller's */
};
server_cfg_t *cfg_hold(server_cfg_t *c);
void cfg_release(server_cfg_t *c); /* NULL: nothing */

typedef struct route {
        const dialect_t *d;
        int di; /* index in dialect_table */
        char path[160];
        unsigned methods;
        int tag;
} route_t;

typedef struct frame {
        struct frame *next;
        size_t len;
        unsigned char data[]; /* LWS_PRE bytes of room, then the payload */
} frame_t;

struct dl_conn { /* one WebSocket connection */
        server_t *srv;
        struct lws *wsi;
        const dialect_t *d;
        int di;
        void *data;
        frame_t *head, *tail;
        size_t queued;
        bool paused;
        buf_t rx;
        bool rx_binary;
        bool rx_refused; /* the rest of an oversized message is dropped */
        bool closing;    /* close once the queue is written */
        int close_status;
        char close_reason[64];
        int token;
        bool anon;                    /* public mode: no token (access.c) */
        server_cfg_t *cfg;            /* what token and anon were checked against (held) */
        char client[CLIENT_ADDR_MAX]; /* its client's address */
        const route_t *route;         /* the route it came in by (the log names its path) */
        run_t *runs;
        int idle_ms;
        int64_t last_ms;
        int64_t last_rx_ms; /* any frame, pongs too: the server's idle timeout */
        bool want_ping;
        lws_sorted_usec_list_t srv_idle;
        lws_sorted_usec_list_t idle;
        lws_sorted_usec_list_t deadline;
        int deadline_status;
        char deadline_reason[64];
};

struct dl_http { /* one HTTP request */
        server_t *srv;
        struct lws *wsi;
        int token;
        bool anon;                    /* public mode: no token (access.c) */
        server_cfg_t *cfg;            /* what token and anon were checked against (held) */
        char client[CLIENT_ADDR_MAX]; /* its client's address */
        const route_t *route;         /* where the body goes; NULL: answered already */
        bool logged;                  /* its refusal is in the log (events.c) */
        dl_method_t method;
        buf_t body;
        bool too_large;
        bool answered;
        int status;
        const char *ctype;
        char ctype_buf[160]; /* a content type of the dialect's making, copied */
        char *resp;
        size_t resp_len;
        bool headers_sent;
        int conn; /* what becomes of the connection after the answer: CONN_* */
        char *hname[NHEADERS], *hvalue[NHEADERS];
        int nheaders;
        run_t *run;
        fn_deploy_t *fn_deploy; /* a deploy answering this request once compiled */
        char path_arg[1024];    /* what a wildcard route matched */
};

enum { CONN_UNSAID, CONN_KEEP, CONN_KEEP_10, CONN_CLOSE }; /* CONN_KEEP_10: HTTP/1.0 */

typedef enum run_state { RUN_QUEUED, RUN_RUNNING, RUN_DONE } run_state_t;

struct dl_run {
        server_t *srv;
        const dialect_t *d;
        int di;
        conn_t *conn;     /* or */
        http_req_t *http; /* NULL once the client is gone */
        char *id;
        void *data;
        cJSON *doc; /* the request; the parsed form points into it until the job starts */
        run_request_t rr;
        lang_t *held; /* rr.lang, held (catalog_hold) from admission until the run is freed */
        lang_t *held_checker; /* rr.checker_lang, likewise */
        job_t *job;
        judge_t *judge; /* instead of job, for a run with "tests" */
        run_state_t state;
        bool kept;        /* goes on without its client (dl_run_keep) */
        int kill_sig;     /* asked for while queued */
        buf_t pending_in; /* stdin that came while queued */
        bool pending_eof;
        unsigned char carry[3][4]; /* an unfinished UTF-8 sequence per stream (stream_kind_t) */
        size_t ncarry[3];
        run_t *next; /* in conn->runs */
        run_t *qnext;
        run_t *all_prev, *all_next; /* every run of the server */
        int token;                  /* in cfg's tokens */
        bool anon;                  /* public mode: no token; public_limits_max apply */
        /* the options it was admitted under (held): its limits, its token's name, until it
         * is freed, whatever a reload does meanwhile */
        server_cfg_t *cfg;
        char client[CLIENT_ADDR_MAX]; /* its client's address (none: a stored submission) */
        int64_t t_queued; /* admitted (sb_now_ns): t_begin less this is its wait in the queue */
        int64_t t_begin;
        lws_sorted_usec_list_t reap;
        lws_sorted_usec_list_t timer; /* the codec's (dl_run_timer) */
        void (*timer_fn)(dl_run_t *r);
        /* an invocation of a function (functions.c): the function, the version it runs
         * (held), the lane it runs in, whether its sandbox was made for it */
        fn_t *fn;
        fn_ver_t *fnv;
        fn_lane_t *fnl;
        bool fn_cold, fn_begun;
};

#define NBUCKETS 16 /* the most buckets a histogram has (+Inf aside) */
#define NSTATUS  (STATUS_INTERNAL_ERROR + 1)

/* A histogram's bucket bounds in seconds, ascending (+Inf is implied). */
typedef struct hist_le {
        int n;
        double le[NBUCKETS];
} hist_le_t;
extern const hist_le_t hist_le_run;   /* whole runs, queue waits: 1 ms to 60 s (the default) */
extern const hist_le_t hist_le_setup; /* sandbox set-ups: 100 us to 10 s */

typedef struct hist {
        const hist_le_t *le; /* NULL: hist_le_run */
        double sum;
        uint64_t count;
        uint64_t buckets[NBUCKETS];
} hist_t;

typedef struct dl_slot { /* per dialect */
        int running, queued;
        uint64_t runs;
        uint64_t ended[NSTATUS]; /* runs without tests ended, by final status (metrics.c) */
        hist_t queue_wait;       /* from admission to start, runs that started */
} dl_slot_t;

/* metrics.c: what runs of one language through one dialect did, made at the first that ended
 * (kept across reloads: counters never go back). Bounded: languages and dialects are finite. */
typedef struct run_stats {
        char *language;
        int di;
        uint64_t verdicts[16]; /* runs with tests, by overall verdict (metrics.c's names) */
        hist_t dur;            /* from start to done */
        hist_t setup;          /* per stage that set a sandbox up, until its program's exec */
} run_stats_t;

struct server {
        const server_opts_t *opts;            /* cfg->o: the options in force */
        server_cfg_t *cfg;                    /* held */
        const server_opts_t *first;           /* what it started with (server_run's caller's) */
        uint64_t reloads_ok, reloads_refused; /* SIGHUPs that reloaded the config, or not */
        bool draining;           /* SIGTERM: no new runs; those in flight get grace_ms */
        bool grace_over;         /* what is left is being killed */
        struct runs_by *runs_by; /* runs ended, per language name (kept across reloads) */
        size_t nruns_by;
        lws_sorted_usec_list_t rescan; /* the periodic look for changed languages */
        run_stats_t *rstats;           /* metrics.c: per language and dialect */
        size_t nrstats;
        int ws_conns;
        catalog_t *cat;
        struct lws_context *ctx;
        struct lws_vhost *vh;
        ev_loop_t *loop;
        int max_concurrent, queue_max, running, queued;
        run_t *qhead, *qtail;
        run_t *all;
        struct refill *refills;
        route_t routes[NROUTES_MAX];
        int nroutes;
        dl_slot_t slots[DIALECTS_MAX];
        /* conns.c */
        int nofile, conns_max, conns_per_client;
        int conns, conns_reserve;
        uint64_t conns_refused;
        conn_acct_t *pending; /* accepted, not yet adopted */
        struct addr_count *addrs[1024];
        /* public mode: anonymous runs a minute per client address; NULL: no such limit */
        struct rl_table *rl;
        uint64_t public_refused; /* anonymous runs refused for their client's limits */
        /* submissions.c: the submission store and its callback deliverer (NULL: none) */
        store_t *store;
        struct cb_deliverer *callbacks;
        char node_id[STORE_OWNER_MAX];
        int store_lock;                    /* flock'd: one server per store; -1: none */
        char store_shown[4096];            /* the file, or the URL without its password */
        int64_t store_ticks_ms;            /* since retention last ran */
        lws_sorted_usec_list_t store_tick; /* lease renewal and retention */
        /* functions.c: the functions (NULL fn_dir: none, there is no store) */
        char *fn_dir; /* STATE_DIR/functions */
        fn_t *fns;
        fn_deploy_t *deploys;
        char *fn_art_dir;        /* fn_dir/artifacts */
        struct xferq *fn_xq;     /* artifacts to and from a store nodes share (artifacts.h) */
        struct fn_wait *fn_wait; /* versions whose artifact is being fetched */
        int64_t fn_sync_ms;      /* when the shared store's functions were last read */
        unsigned fn_sync_gen;
        int64_t fn_miss_ms; /* a second's lookups in the store of functions not known here */
        int fn_miss_n;
        uint64_t fn_fetched, fn_fetch_failed;
        lws_sorted_usec_list_t fn_sul; /* warm sandboxes made, idle ones dropped */
        hist_t fn_cold, fn_warm;
        uint64_t fn_invocations;
};

typedef struct pss {
        conn_t *conn;
        http_req_t *http;
        int token;    /* index of the token the handshake gave, -1: none */
        unsigned gen; /* of the options it was checked against (server_cfg_t) */
        bool anon;    /* public mode: the handshake had no token */
        char client[CLIENT_ADDR_MAX];
} pss_t;

typedef struct runs_by {
        char *language;
        uint64_t n[NSTATUS];
} runs_by_t;

typedef struct refill {
        lws_sorted_usec_list_t sul;
        server_t *srv;
        lang_t *lang; /* held (catalog_hold) until the refill is done */
        struct refill *next;
} refill_t;

/* functions.c */
#define FN_NAME_LEN        63
#define FN_CGI_HEADERS_MAX 16
typedef struct fn_settings {
        char mode[8]; /* "stdin", "json", "cgi" */
        char content_type[128];
        int min_warm, max_concurrent, queue_max, rpm, idle_s;
        int ncgi;
        char cgi_headers[FN_CGI_HEADERS_MAX][64];
} fn_settings_t;
/* Where a version's artifact is: in this node's artifact directory, or (a store nodes share)
 * only in the store so far. */
typedef enum fn_art_state {
        FNV_LOCAL,    /* here: it can run */
        FNV_MISSING,  /* not here, no fetch asked for yet */
        FNV_FETCHING, /* being fetched from the store: its runs wait */
        FNV_FAILED,   /* could not be had (fetch_err): its runs fail */
} fn_art_state_t;
struct fn_ver {
        unsigned refs;
        char name[FN_NAME_LEN + 1];
        int version;
        int64_t created_ms;
        char artifact[65];
        char *dir;  /* the artifact's directory */
        cJSON *run; /* the run document without files */
        fn_settings_t set;
        fn_art_state_t state;
        char fetch_err[200];
};
struct fn_lane {
        fn_lane_t *next;
        job_lane_t *lane;
        int version;
        int64_t created_ms; /* the version's (a deleted function's numbers come again) */
        int64_t last_ms;    /* last used */
};
struct fn {
        fn_t *next;
        char name[FN_NAME_LEN + 1];
        fn_ver_t *cur;     /* NULL: deleted (runs may still hold a version) */
        fn_ver_t *pending; /* another node's newer version, current once its artifact is here */
        unsigned seen;     /* the store's listing (fn_sync) it was last in */
        int running, queued;
        fn_lane_t *idle;
        int nidle;
        uint64_t invocations, cold_starts;
        struct rl_table *rl; /* rpm; NULL: none */
        bool warn_given;
};
bool fn_name_valid(const char *s);
/* Open (with the store): STATE_DIR/functions, every stored function read. */
void functions_open(server_t *srv);
void functions_start(server_t *srv); /* listening: warm sandboxes are made */
void functions_close(server_t *srv);
/* The server's loop, after each turn: transfers of artifacts that finished (a shared store). */
void functions_service(server_t *srv);
void functions_metrics(server_t *srv, buf_t *b);
void fn_deploy_orphan(fn_deploy_t *d);
void fn_deploys_conn_gone(server_t *srv, dl_conn_t *c);
/* A run document naming "function": checked against the function's limits and the token,
 * replaced by the invocation's full run document, r->fn and r->fnv set. -1 with e filled. */
int fn_run_resolve(server_t *srv, run_t *r, cJSON **doc, dl_error_t *e);
/* The job spec's function parts; -1 with err: the version's artifact could not be had (a
 * shared store's fetch failed). */
int fn_run_spec(run_t *r, job_spec_t *js, rc_err_t *err);
bool fn_slot_free(const run_t *r);
void fn_run_begin(run_t *r, job_spec_t *js);
void fn_run_end(run_t *r, int64_t setup_us);
void fn_run_free(run_t *r);
/* access.c: a connection's or request's token, let in under *cfg, checked again under the
 * options now in force if a reload came since (*cfg, *token and *anon then updated): 0, or -1
 * when it would not be let in now (its token was withdrawn, tokens are required now). */
int access_refresh(server_t *srv, server_cfg_t **cfg, int *token, bool *anon);
/* access.c: may the token (-1: none) invoke the function name / use anything else? */
bool dl_token_may_invoke(int token, const char *name);
bool token_scoped(const server_opts_t *o, int token);
/* metrics.c */
void metrics_hist(buf_t *b, const char *name, const char *help, const hist_t *h);

/* submissions.c */
int submissions_open(server_t *srv, rc_err_t *err);
void submissions_start(server_t *srv);
void submissions_close(server_t *srv);

/* server.c */
extern volatile sig_atomic_t stop_requested;   /* SIGTERM or SIGINT came */
extern volatile sig_atomic_t reload_requested; /* SIGHUP came */
/* Reload the languages if their files changed (or always with force), saying so on stderr. */
void server_rescan(server_t *srv, bool force);
/* The periodic rescan (re)scheduled every rescan_s, or cancelled when that is 0. */
void server_rescan_schedule(server_t *srv);
/* reload.c: SIGHUP. The config read again and, if it is good and needs no restart, put in
 * force whole, then the languages rescanned; else refused, nothing changed. One log line
 * either way (event "reload"). */
void server_reload(server_t *srv);
extern server_t *the_server; /* what dl_catalog() and friends answer from */

/* transport.c: the lws callback and HTTP and WebSocket framing */
extern const struct lws_protocols protocols[];
/* A connection's queue went over OUTQ_HIGH (paused) or back under OUTQ_LOW: its runs' output
 * stops or goes on being read. */
void conn_pause(conn_t *c, bool paused);

/* runs.c: admission, the queue, slots, lifetimes */
void run_free(run_t *r);
void run_orphan(run_t *r);
void start_draining(server_t *srv);
void runs_kick(server_t *srv); /* start what the queue's limits (changed) let start */

/* access.c: origins and tokens */
bool origin_allowed(const server_opts_t *o, const char *origin);
/* Origin and token checks for a request for path: 0 when it may go on, else the HTTP status
 * to refuse it with and *code set. *token_idx: the token given (-1: none); *anon: public mode
 * let it in without one (or no tokens are configured and public mode is on). */
int check_access(server_t *srv, struct lws *wsi, bool ws, const char *path, const char **code,
                 int *token_idx, bool *anon);

/* conns.c: connection caps, the reserve, the client behind trusted proxies */
void conns_init(server_t *srv);
void conns_limits(server_t *srv, bool fresh_rl);
void conns_free(server_t *srv);
int conns_filter(server_t *srv, const struct lws_filter_network_conn_args *f);
void conns_adopted(server_t *srv, struct lws *wsi);
void conns_destroyed(server_t *srv, struct lws *wsi);
/* 0, or 503 with *code: the connection is a reserve one and this is not /healthz or
 * /metrics, or its client (behind a trusted proxy) has too many. *close: answer, then close
 * (a reserve connection). */
int conns_request(server_t *srv, struct lws *wsi, const char *path, bool ws, const char **code,
                  bool *close);
/* The client of this request: the peer's address, or behind trusted proxies the last
 * X-Forwarded-For hop that is not one of them. */
void conns_client(server_t *srv, struct lws *wsi, char *out, size_t outsz);

/* routes.c: the dialects' paths */
void build_routes(server_t *srv);
const route_t *find_route(server_t *srv, const char *path, unsigned method, bool *any);
bool route_wild(const route_t *rt); /* its path ends in a slash and an asterisk (or two) */
bool route_rest(const route_t *rt); /* two: whatever follows the slash */
size_t route_arg_offset(const route_t *rt);
const route_t *claim_route(server_t *srv, const route_t *first, const char *body, size_t len);

/* events.c: the server's events in its log (server/log.h) */
const char *token_name(const server_opts_t *o, int token); /* NULL: none */
void log_run_done(run_t *r, const job_result_t *res);      /* a run without tests ended */
void log_judge_done(run_t *r);                             /* a run with tests ended */
/* A run that ended without a result: dropped from the queue, or it could not start. */
void log_run_ended(run_t *r, const char *verdict, const char *why);
/* An HTTP answer of status with this body: logged when it is a refusal (400, 401, 403, 411,
 * 413, 429), once per request. */
void log_http_refused(http_req_t *h, int status, const char *body, size_t len);
void log_ws_refused(server_t *srv, struct lws *wsi, int status, const char *code,
                    const char *reason);
void log_ws_too_large(conn_t *c);
void log_run_refused(server_t *srv, const dialect_t *d, dl_conn_t *c, dl_http_t *h, int token,
                     bool anon, const char *client, const dl_error_t *e);

/* metrics.c: Prometheus text at /metrics */
void hist_add(hist_t *h, double v);
void metrics_text(server_t *srv, buf_t *b);
/* A run (r->t_begin set) left the queue and started: its wait. */
void metrics_run_started(run_t *r);
/* A run without tests ended (res: its job's result): duration, set-ups, status by dialect. */
void metrics_run_done(run_t *r, const job_result_t *res);
/* A run with tests ended: duration, the compile stage's set-up, the overall verdict. */
void metrics_judge_done(run_t *r);
void metrics_free(server_t *srv);

#endif
