/* runcell serve. The server owns connections, HTTP requests, runs, the queue, limits, access
 * checks, back-pressure and lifetimes; what goes over the wire is a dialect's business
 * (src/protocol/): a dialect turns its messages into run documents and job events into its
 * messages. See docs/protocol.md and docs/dialects.md. */
#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "engine/request.h"
#include "protocol/dialect.h"
#include "sandbox/sync.h"
#include "server/evloop_lws.h"
#include "util/json.h"
#include "util/net.h"

#define OUTQ_HIGH   (1u << 20) /* queued bytes to one client before its runs' output pauses */
#define OUTQ_LOW    (256u << 10)
#define NROUTES_MAX 64
#define NHEADERS    6
/* An idle HTTP/1.1 keep-alive connection is closed after this long; answers say so
 * (Keep-Alive: timeout=N) so that a client does not send its next request just as the server
 * closes. */
#define HTTP_KEEPALIVE_S 5

typedef struct server server_t;
typedef struct dl_conn conn_t;
typedef struct dl_http http_req_t;
typedef struct dl_run run_t;

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
        run_t *runs;
        int idle_ms;
        int64_t last_ms;
        lws_sorted_usec_list_t idle;
        lws_sorted_usec_list_t deadline;
        int deadline_status;
        char deadline_reason[64];
};

struct dl_http { /* one HTTP request */
        server_t *srv;
        struct lws *wsi;
        int token;
        const route_t *route; /* where the body goes; NULL: answered already */
        dl_method_t method;
        buf_t body;
        bool too_large;
        bool answered;
        int status;
        const char *ctype;
        char *resp;
        size_t resp_len;
        bool headers_sent;
        int conn; /* what becomes of the connection after the answer: CONN_* */
        char *hname[NHEADERS], *hvalue[NHEADERS];
        int nheaders;
        run_t *run;
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
        job_t *job;
        run_state_t state;
        int kill_sig;     /* asked for while queued */
        buf_t pending_in; /* stdin that came while queued */
        bool pending_eof;
        unsigned char carry[2][4]; /* an unfinished UTF-8 sequence per stream */
        size_t ncarry[2];
        run_t *next; /* in conn->runs */
        run_t *qnext;
        run_t *all_prev, *all_next; /* every run of the server */
        int token;
        int64_t t_begin;
        lws_sorted_usec_list_t reap;
        lws_sorted_usec_list_t timer; /* the codec's (dl_run_timer) */
        void (*timer_fn)(dl_run_t *r);
};

#define NBUCKETS 13
static const double bucket_le[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,  5,     10,   30,  60};
#define NSTATUS (STATUS_INTERNAL_ERROR + 1)

typedef struct hist {
        double sum;
        uint64_t count;
        uint64_t buckets[NBUCKETS];
} hist_t;

static void hist_add(hist_t *h, double v)
{
        h->sum += v;
        h->count++;
        for (int i = 0; i < NBUCKETS; i++)
                if (v <= bucket_le[i])
                        h->buckets[i]++;
}

typedef struct dl_slot { /* per dialect */
        int running, queued;
        uint64_t runs;
} dl_slot_t;

struct server {
        const server_opts_t *opts;
        bool draining;     /* SIGTERM: no new runs; those in flight get grace_ms */
        bool grace_over;   /* what is left is being killed */
        uint64_t *runs_by; /* [toolchain][status] */
        hist_t run_dur, setup_dur;
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
};

typedef struct pss {
        conn_t *conn;
        http_req_t *http;
        int token; /* index of the token the handshake gave, -1: none */
} pss_t;

static volatile sig_atomic_t stop_requested;
static struct lws_context *signal_ctx;
static server_t *the_server; /* what dl_catalog() and friends answer from */

/* ------------------------------------------------------------------ small things for codecs */

catalog_t *dl_catalog(void)
{
        return the_server ? the_server->cat : NULL;
}

static int json_depth(const cJSON *j)
{
        int deepest = 0;
        for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
                int d = json_depth(c);
                if (d > deepest)
                        deepest = d;
        }
        return deepest + 1;
}

bool dl_json_depth_ok(const cJSON *j)
{
        return !the_server || json_depth(j) <= the_server->opts->json_depth_max;
}

int64_t dl_now_ms(void)
{
        return sb_now_ns() / 1000000;
}

int dl_error_status(const char *code)
{
        return strcmp(code, "unknown_language") == 0 ? 404
               : strcmp(code, "busy") == 0           ? 429
               : strcmp(code, "unavailable") == 0    ? 503
               : strcmp(code, "shutting_down") == 0  ? 503
               : strcmp(code, "too_large") == 0      ? 413
               : strcmp(code, "internal") == 0       ? 500
                                                     : 400;
}

/* ------------------------------------------------------------------ WebSocket output */

static void conn_pause(conn_t *c, bool paused)
{
        if (c->paused == paused)
                return;
        c->paused = paused;
        for (run_t *r = c->runs; r; r = r->next)
                if (r->job)
                        job_pause_output(r->job, paused);
}

void dl_send_text(dl_conn_t *c, const char *text, size_t len)
{
        if (c->closing)
                return;
        frame_t *f = malloc(sizeof(*f) + LWS_PRE + len);
        if (!f)
                return;
        f->next = NULL;
        f->len = len;
        memcpy(f->data + LWS_PRE, text, len);
        if (c->tail)
                c->tail->next = f;
        else
                c->head = f;
        c->tail = f;
        c->queued += len;
        c->last_ms = dl_now_ms();
        lws_callback_on_writable(c->wsi);
        /* A slow reader never makes runcell buffer without bound: its runs stop being read (the
         * programs block in write) until it catches up. */
        if (c->queued > OUTQ_HIGH)
                conn_pause(c, true);
}

void dl_send_json(dl_conn_t *c, cJSON *msg)
{
        char *text = cJSON_PrintUnformatted(msg);
        cJSON_Delete(msg);
        if (text)
                dl_send_text(c, text, strlen(text));
        free(text);
}

void dl_close(dl_conn_t *c, int status, const char *reason)
{
        if (c->closing)
                return;
        c->closing = true;
        c->close_status = status;
        snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
        lws_callback_on_writable(c->wsi);
}

void *dl_conn_data(dl_conn_t *c)
{
        return c->data;
}

static void on_idle(lws_sorted_usec_list_t *sul)
{
        conn_t *c = lws_container_of(sul, conn_t, idle);
        int64_t left = c->last_ms + c->idle_ms - dl_now_ms();
        if (left <= 0) {
                dl_close(c, LWS_CLOSE_STATUS_NORMAL, "idle");
                return;
        }
        lws_sul_schedule(lws_get_context(c->wsi), 0, &c->idle, on_idle, left * 1000);
}

void dl_conn_idle_timeout(dl_conn_t *c, int idle_ms)
{
        c->idle_ms = idle_ms;
        c->last_ms = dl_now_ms();
        if (idle_ms > 0)
                lws_sul_schedule(lws_get_context(c->wsi), 0, &c->idle, on_idle,
                                 (lws_usec_t)idle_ms * 1000);
        else
                lws_sul_cancel(&c->idle);
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
        conn_t *c = lws_container_of(sul, conn_t, deadline);
        dl_close(c, c->deadline_status, c->deadline_reason);
}

void dl_conn_close_after(dl_conn_t *c, int ms, int status, const char *reason)
{
        if (ms <= 0) {
                lws_sul_cancel(&c->deadline);
                return;
        }
        c->deadline_status = status;
        snprintf(c->deadline_reason, sizeof(c->deadline_reason), "%s", reason ? reason : "");
        lws_sul_schedule(lws_get_context(c->wsi), 0, &c->deadline, on_deadline,
                         (lws_usec_t)ms * 1000);
}

const char *dl_conn_urlarg(dl_conn_t *c, const char *name, char *buf, size_t size)
{
        return lws_get_urlarg_by_name(c->wsi, name, buf, (int)size);
}

/* ------------------------------------------------------------------ runs */

const char *dl_run_id(const dl_run_t *r)
{
        return r->id;
}
void *dl_run_data(dl_run_t *r)
{
        return r->data;
}
dl_conn_t *dl_run_conn(const dl_run_t *r)
{
        return r->conn;
}
dl_http_t *dl_run_http(const dl_run_t *r)
{
        return r->http;
}
bool dl_run_done(const dl_run_t *r)
{
        return r->state == RUN_DONE;
}
const lang_t *dl_run_lang(const dl_run_t *r)
{
        return r->rr.lang;
}

static void on_run_timer(lws_sorted_usec_list_t *sul)
{
        run_t *r = lws_container_of(sul, run_t, timer);
        if (r->timer_fn)
                r->timer_fn(r);
}

void dl_run_timer(dl_run_t *r, int ms, void (*fn)(dl_run_t *r))
{
        if (ms <= 0 || !fn) {
                lws_sul_cancel(&r->timer);
                return;
        }
        r->timer_fn = fn;
        lws_sul_schedule(r->srv->ctx, 0, &r->timer, on_run_timer, (lws_usec_t)ms * 1000);
}

dl_run_t *dl_conn_next_run(dl_conn_t *c, dl_run_t *after)
{
        for (run_t *r = after ? after->next : c->runs; r; r = r->next)
                if (r->state != RUN_DONE)
                        return r;
        return NULL;
}

static void emit(run_t *r, const dl_event_t *ev)
{
        if ((r->conn || r->http) && r->d->run_event)
                r->d->run_event(r, ev);
}

static size_t incomplete_tail(const unsigned char *s, size_t n)
{
        /* An unfinished multi-byte sequence at the end waits for the next chunk. */
        for (size_t back = 1; back <= 3 && back <= n; back++) {
                unsigned char c = s[n - back];
                if ((c & 0xC0) == 0x80)
                        continue; /* a continuation byte: look further back */
                size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                return need > back ? back : 0;
        }
        return 0;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                size_t l = utf8_seq_len(s + i, n - i);
                if (!l)
                        return false;
                i += l;
        }
        return true;
}

static void emit_output(run_t *r, stage_kind_t stage, int s, const unsigned char *data, size_t len,
                        bool utf8)
{
        if (!len)
                return;
        dl_event_t ev = {.kind = DL_EV_OUTPUT,
                         .stage = stage,
                         .stream = s == 0 ? STREAM_STDOUT : STREAM_STDERR,
                         .data = (const char *)data,
                         .len = len,
                         .utf8 = utf8};
        emit(r, &ev);
}

static void on_output(void *ud, stage_kind_t stage, stream_kind_t stream, const char *data,
                      size_t len)
{
        run_t *r = ud;
        int s = stream == STREAM_STDOUT ? 0 : 1;
        buf_t b = {0};
        buf_append(&b, r->carry[s], r->ncarry[s]);
        buf_append(&b, data, len);
        const unsigned char *u = (const unsigned char *)b.data;
        size_t tail = incomplete_tail(u, b.len);
        if (valid_utf8(u, b.len - tail)) {
                emit_output(r, stage, s, u, b.len - tail, true);
                memcpy(r->carry[s], u + b.len - tail, tail);
                r->ncarry[s] = tail;
        } else {
                emit_output(r, stage, s, u, b.len, false); /* exact bytes */
                r->ncarry[s] = 0;
        }
        buf_free(&b);
}

static void run_begin(run_t *r);

static bool slot_free(server_t *srv, int di)
{
        const dialect_limits_t *dl = &srv->opts->dialects[di];
        return !dl->max_concurrent || srv->slots[di].running < dl->max_concurrent;
}

static void run_dequeue(server_t *srv, run_t *r)
{
        for (run_t **pp = &srv->qhead; *pp; pp = &(*pp)->qnext)
                if (*pp == r) {
                        *pp = r->qnext;
                        srv->queued--;
                        srv->slots[r->di].queued--;
                        break;
                }
        srv->qtail = NULL;
        for (run_t *q = srv->qhead; q; q = q->qnext)
                srv->qtail = q;
}

static void start_queued(server_t *srv)
{
        run_t **pp = &srv->qhead;
        while (*pp && srv->running < srv->max_concurrent) {
                run_t *r = *pp;
                if (!slot_free(srv, r->di)) { /* its dialect's own limit: the next one */
                        pp = &r->qnext;
                        continue;
                }
                run_dequeue(srv, r); /* *pp is the next one now */
                run_begin(r);
        }
}

static void run_unlink(run_t *r)
{
        if (r->conn) {
                for (run_t **pp = &r->conn->runs; *pp; pp = &(*pp)->next)
                        if (*pp == r) {
                                *pp = r->next;
                                break;
                        }
                r->conn = NULL;
        }
        if (r->http) {
                r->http->run = NULL;
                r->http = NULL;
        }
}

static void run_free(run_t *r)
{
        lws_sul_cancel(&r->timer);
        run_unlink(r);
        if (r->d->run_free)
                r->d->run_free(r);
        if (r->all_prev)
                r->all_prev->all_next = r->all_next;
        else
                r->srv->all = r->all_next;
        if (r->all_next)
                r->all_next->all_prev = r->all_prev;
        job_free(r->job);
        run_request_free(&r->rr);
        cJSON_Delete(r->doc);
        buf_free(&r->pending_in);
        free(r->data);
        free(r->id);
        free(r);
}

typedef struct refill {
        lws_sorted_usec_list_t sul;
        server_t *srv;
        const lang_t *lang;
        struct refill *next;
} refill_t;

static void on_refill(lws_sorted_usec_list_t *sul)
{
        refill_t *rf = lws_container_of(sul, refill_t, sul);
        for (refill_t **pp = &rf->srv->refills; *pp; pp = &(*pp)->next)
                if (*pp == rf) {
                        *pp = rf->next;
                        break;
                }
        catalog_refill(rf->srv->cat, rf->lang);
        free(rf);
}

/* Prepare the language's next sandbox a moment later, once the answer has gone out: preparing
 * can take milliseconds (a cgroup v1 move waits for an RCU grace period). */
static void schedule_refill(server_t *srv, const lang_t *lang)
{
        refill_t *rf = calloc(1, sizeof(*rf));
        if (!rf)
                return;
        rf->srv = srv;
        rf->lang = lang;
        rf->next = srv->refills;
        srv->refills = rf;
        lws_sul_schedule(srv->ctx, 0, &rf->sul, on_refill, 2000);
}

static void on_reap(lws_sorted_usec_list_t *sul)
{
        run_free(lws_container_of(sul, run_t, reap));
}

static void on_stage_start(void *ud, stage_kind_t stage)
{
        run_t *r = ud;
        dl_event_t ev = {.kind = DL_EV_STAGE, .stage = stage};
        emit(r, &ev);
}

static void on_stage_end(void *ud, stage_kind_t stage, const stage_result_t *res)
{
        run_t *r = ud;
        for (int s = 0; s < 2; s++) { /* what was held back is not going to be completed */
                emit_output(r, stage, s, r->carry[s], r->ncarry[s], false);
                r->ncarry[s] = 0;
        }
        dl_event_t ev = {.kind = DL_EV_EXIT, .stage = stage, .res = res};
        emit(r, &ev);
}

static void on_done(void *ud)
{
        run_t *r = ud;
        server_t *srv = r->srv;
        r->state = RUN_DONE;
        const job_result_t *res = job_result(r->job);
        dl_event_t ev = {.kind = DL_EV_DONE, .result = res};
        emit(r, &ev);
        const stage_result_t *last = res->run.present ? &res->run : &res->compile;
        size_t li = 0;
        while (li < srv->cat->set.n && srv->cat->set.items[li] != r->rr.lang->tc)
                li++;
        if (srv->runs_by && li < srv->cat->set.n)
                srv->runs_by[li * NSTATUS + last->status]++;
        hist_add(&srv->run_dur, (double)(sb_now_ns() - r->t_begin) / 1e9);
        if (res->compile.present)
                hist_add(&srv->setup_dur, (double)res->compile.setup_us / 1e6);
        if (res->run.present)
                hist_add(&srv->setup_dur, (double)res->run.setup_us / 1e6);
        fprintf(stderr,
                "runcell: run id=%s dialect=%s language=%s compile=%s run=%s wall_ms=%lld "
                "cpu_ms=%lld memory_kb=%lld\n",
                r->id, r->d->name, r->rr.lang->tc->name,
                res->compile.present ? stage_status_name(res->compile.status) : "-",
                res->run.present ? stage_status_name(res->run.status) : "-",
                (long long)last->wall_ms, (long long)last->cpu_ms, (long long)last->memory_kb);
        srv->running--;
        srv->slots[r->di].running--;
        /* The job cannot be freed from inside its own callback: a moment later. */
        lws_sul_schedule(srv->ctx, 0, &r->reap, on_reap, 1);
        start_queued(srv);
        if (!srv->draining)
                schedule_refill(srv, r->rr.lang);
}

static void run_begin(run_t *r)
{
        server_t *srv = r->srv;
        srv->running++;
        srv->slots[r->di].running++;
        r->state = RUN_RUNNING;
        r->t_begin = sb_now_ns();
        job_spec_t js;
        run_request_job_spec(srv->cat, &r->rr, &js);
        limits_clamp(&js.run_limits, &srv->opts->limits_max);
        limits_clamp(&js.compile_limits, &srv->opts->limits_max);
        js.capture = r->http != NULL;
        js.interactive = r->conn && r->rr.interactive;
        js.cb = (job_callbacks_t){.stage_start = on_stage_start,
                                  .output = on_output, /* HTTP runs too: a dialect may interleave */
                                  .stage_end = on_stage_end,
                                  .done = on_done,
                                  .ud = r};
        rc_err_t err = {0};
        if (job_start(&js, srv->loop, &r->job, &err) < 0) {
                /* The request was checked when it came (job_check): only resources fail here,
                 * reported as the run's result, an internal error. */
                srv->running--;
                srv->slots[r->di].running--;
                r->state = RUN_DONE;
                job_result_t none;
                memset(&none, 0, sizeof(none));
                stage_result_t *st = r->rr.lang->tc->compile.n ? &none.compile : &none.run;
                st->present = true;
                st->status = STATUS_INTERNAL_ERROR;
                st->exit_code = -1;
                st->cpu_ms = st->memory_kb = -1;
                snprintf(st->error, sizeof(st->error), "%s", err.msg);
                dl_event_t ev = {.kind = DL_EV_DONE, .result = &none};
                emit(r, &ev);
                lws_sul_schedule(srv->ctx, 0, &r->reap, on_reap, 1);
                start_queued(srv);
                return;
        }
        /* the job copied what it needs */
        if (r->job && !job_is_done(r->job)) {
                if (r->pending_in.len)
                        job_write_stdin(r->job, r->pending_in.data, r->pending_in.len);
                if (r->pending_eof)
                        job_close_stdin(r->job);
                if (r->kill_sig)
                        job_kill(r->job, r->kill_sig);
                if (r->conn && r->conn->paused)
                        job_pause_output(r->job, true);
        }
}

static int fail(dl_error_t *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(dl_error_t *e, const char *code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -1;
}

/* Can one more run of this dialect and token be taken now? */
static int admit(server_t *srv, int di, int token, dl_error_t *e)
{
        if (srv->draining || stop_requested) /* SIGTERM came: not yet seen by the loop */
                return fail(e, "shutting_down", "the server is shutting down");
        int token_max =
            token >= 0 && srv->opts->token_max_runs ? srv->opts->token_max_runs[token] : 0;
        int token_runs = 0;
        for (run_t *o = srv->all; token_max && o; o = o->all_next)
                token_runs += o->token == token && o->state != RUN_DONE;
        if (token_max && token_runs >= token_max)
                return fail(e, "busy", "this token's %d runs are all going or waiting", token_max);
        const dialect_limits_t *dl = &srv->opts->dialects[di];
        if (dl->max_concurrent && srv->slots[di].running >= dl->max_concurrent &&
            srv->slots[di].queued >= dl->queue_max)
                return fail(e, "busy", "all %d of this API's runs are going and %d wait",
                            dl->max_concurrent, srv->slots[di].queued);
        if (srv->running >= srv->max_concurrent && srv->queued >= srv->queue_max)
                return fail(e, "busy", "all %d sandboxes are busy and %d runs wait", srv->running,
                            srv->queued);
        return 0;
}

dl_run_t *dl_run_start(dl_conn_t *c, dl_http_t *h, cJSON *doc, const char *id, dl_error_t *e)
{
        server_t *srv = c ? c->srv : h->srv;
        const dialect_t *d = c ? c->d : h->route->d;
        int di = c ? c->di : h->route->di;
        int token = c ? c->token : h->token;
        run_t *r = calloc(1, sizeof(*r));
        if (!r || !(r->id = strdup(id)) || !(r->data = calloc(1, d->run_size ? d->run_size : 1))) {
                if (r)
                        free(r->id);
                free(r);
                cJSON_Delete(doc);
                fail(e, "internal", "out of memory");
                return NULL;
        }
        r->srv = srv;
        r->d = d;
        r->di = di;
        r->doc = doc;
        r->token = token;
        if (admit(srv, di, token, e) < 0 ||
            run_request_parse(srv->cat, doc, &r->rr, &e->code, e->message, sizeof(e->message)) < 0)
                goto refuse;
        size_t total = 0;
        for (size_t i = 0; i < r->rr.nfiles; i++)
                total += r->rr.files[i].len;
        if (total > srv->opts->source_max) {
                fail(e, "too_large", "the files are %zu bytes together, over %zu", total,
                     srv->opts->source_max);
                goto refuse;
        }
        job_spec_t js;
        rc_err_t err = {0};
        run_request_job_spec(srv->cat, &r->rr, &js);
        if (job_check(&js, &err) < 0) {
                fail(e, "bad_request", "%s", err.msg);
                goto refuse;
        }
        r->conn = c;
        r->http = h;
        r->all_next = srv->all;
        if (srv->all)
                srv->all->all_prev = r;
        srv->all = r;
        if (c) {
                r->next = c->runs;
                c->runs = r;
        }
        if (h)
                h->run = r;
        srv->slots[di].runs++;
        bool now = srv->running < srv->max_concurrent && slot_free(srv, di);
        int position = now ? 0 : srv->queued + 1;
        dl_event_t ev = {.kind = DL_EV_QUEUED, .position = position};
        emit(r, &ev);
        if (now) {
                run_begin(r);
        } else {
                r->state = RUN_QUEUED;
                if (srv->qtail)
                        srv->qtail->qnext = r;
                else
                        srv->qhead = r;
                srv->qtail = r;
                srv->queued++;
                srv->slots[di].queued++;
        }
        return r;
refuse:
        run_request_free(&r->rr);
        cJSON_Delete(doc);
        free(r->data);
        free(r->id);
        free(r);
        return NULL;
}

/* The client is gone: its runs end (killed), queued ones never start. */
static void run_orphan(run_t *r)
{
        run_unlink(r);
        if (r->state == RUN_QUEUED) {
                run_dequeue(r->srv, r);
                r->state = RUN_DONE;
                lws_sul_schedule(r->srv->ctx, 0, &r->reap, on_reap, 1);
        } else if (r->state == RUN_RUNNING && r->job) {
                job_kill(r->job, SIGKILL);
        }
}

int dl_run_stdin(dl_run_t *r, const char *data, size_t len)
{
        if (r->state == RUN_QUEUED) {
                if (r->pending_eof)
                        return -EPIPE;
                return buf_append(&r->pending_in, data, len);
        }
        if (!r->job || r->state == RUN_DONE)
                return -EPIPE;
        return job_write_stdin(r->job, data, len);
}

void dl_run_eof(dl_run_t *r)
{
        if (r->state == RUN_QUEUED)
                r->pending_eof = true;
        else if (r->job && r->state == RUN_RUNNING)
                job_close_stdin(r->job);
}

void dl_run_kill(dl_run_t *r, int sig)
{
        if (r->state == RUN_QUEUED) {
                /* killed before it started: SIGKILL is what the sandbox gets once it starts
                 * (a signal for the program itself has no program to reach yet) */
                r->kill_sig = SIGKILL;
                (void)sig;
        } else if (r->job && r->state == RUN_RUNNING) {
                job_kill(r->job, sig);
        }
}

/* ------------------------------------------------------------------ HTTP */

void dl_http_header(dl_http_t *h, const char *name, const char *value)
{
        if (h->nheaders == NHEADERS)
                return;
        h->hname[h->nheaders] = strdup(name);
        h->hvalue[h->nheaders] = strdup(value);
        if (!h->hname[h->nheaders] || !h->hvalue[h->nheaders]) {
                free(h->hname[h->nheaders]);
                free(h->hvalue[h->nheaders]);
                return;
        }
        h->nheaders++;
}

void dl_http_text(dl_http_t *h, int status, const char *ctype, const char *text, size_t len)
{
        if (h->answered)
                return;
        h->answered = true;
        h->resp_len = len;
        h->resp = malloc(LWS_PRE + len + 1);
        if (h->resp)
                memcpy(h->resp + LWS_PRE, text ? text : "", len);
        else
                h->resp_len = 0;
        h->status = status;
        h->ctype = ctype;
        if (status == 429)
                dl_http_header(h, "retry-after:", "1");
        lws_callback_on_writable(h->wsi);
}

void dl_http_json(dl_http_t *h, int status, cJSON *body)
{
        if (!body) {
                dl_http_text(h, status, "application/json", "", 0);
                return;
        }
        char *text = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
        if (!text) {
                dl_http_text(h, 500, "application/json", "", 0);
                return;
        }
        size_t len = strlen(text);
        char *nl = realloc(text, len + 2);
        if (nl) {
                text = nl;
                text[len++] = '\n';
        }
        dl_http_text(h, status, "application/json", text, len);
        free(text);
}

/* The server's own errors (routing, access, size) in runcell's shape. */
static void http_error(http_req_t *h, int status, const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        dl_http_json(h, status, o);
}

static void metrics_hist(buf_t *b, const char *name, const char *help, const hist_t *h)
{
        buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        for (int i = 0; i < NBUCKETS; i++)
                buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[i],
                           (unsigned long long)h->buckets[i]);
        buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                   (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}

static void metrics_text(server_t *srv, buf_t *b)
{
        buf_printf(b, "# HELP runcell_runs_total Runs ended, by language and final status.\n"
                      "# TYPE runcell_runs_total counter\n");
        for (size_t i = 0; srv->runs_by && i < srv->cat->set.n; i++)
                for (int s = 0; s < NSTATUS; s++)
                        buf_printf(b, "runcell_runs_total{language=\"%s\",status=\"%s\"} %llu\n",
                                   srv->cat->set.items[i]->name,
                                   stage_status_name((stage_status_t)s),
                                   (unsigned long long)srv->runs_by[i * NSTATUS + s]);
        buf_printf(b, "# HELP runcell_dialect_runs_total Runs started, by wire dialect.\n"
                      "# TYPE runcell_dialect_runs_total counter\n");
        for (size_t i = 0; i < dialect_count; i++)
                buf_printf(b, "runcell_dialect_runs_total{dialect=\"%s\"} %llu\n",
                           dialect_table[i]->name, (unsigned long long)srv->slots[i].runs);
        metrics_hist(b, "runcell_run_duration_seconds", "Whole runs, from start to done.",
                     &srv->run_dur);
        metrics_hist(b, "runcell_setup_duration_seconds",
                     "Sandbox set-up per stage, until the program is exec'd.", &srv->setup_dur);
        buf_printf(b,
                   "# HELP runcell_queue_depth Runs waiting for a free slot.\n"
                   "# TYPE runcell_queue_depth gauge\nruncell_queue_depth %d\n"
                   "# HELP runcell_active_runs Runs going now.\n"
                   "# TYPE runcell_active_runs gauge\nruncell_active_runs %d\n"
                   "# HELP runcell_ws_connections WebSocket connections open.\n"
                   "# TYPE runcell_ws_connections gauge\nruncell_ws_connections %d\n",
                   srv->queued, srv->running, srv->ws_conns);
        for (size_t i = 0; i < dialect_count; i++)
                if (dialect_table[i]->metrics && !srv->opts->dialects[i].disabled)
                        dialect_table[i]->metrics(b);
}

static bool origin_allowed(const server_opts_t *o, const char *origin)
{
        for (size_t i = 0; i < o->origins.n; i++)
                if (strcmp(origin, o->origins.v[i]) == 0)
                        return true;
        return false;
}

/* Origin and token checks; 0 when the request may go on, else the HTTP status to refuse with
 * and *code set. */
static int check_access(server_t *srv, struct lws *wsi, bool ws, const char **code, int *token_idx)
{
        *token_idx = -1;
        const server_opts_t *o = srv->opts;
        char buf[512];
        if (o->origins.n && lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_ORIGIN) > 0 &&
            !origin_allowed(o, buf)) {
                /* Cross-site WebSocket hijacking: a browser sends the page's origin. */
                *code = "forbidden_origin";
                return 403;
        }
        if (o->tokens.n) {
                const char *token = NULL;
                if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
                    strncmp(buf, "Bearer ", 7) == 0)
                        token = buf + 7;
                else if (ws)
                        /* browsers cannot set headers on a WebSocket: ?token= (the call returns
                         * the value inside buf, which holds "token=VALUE") */
                        token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));
                bool ok = false;
                for (size_t i = 0; token && i < o->tokens.n; i++)
                        if (strcmp(token, o->tokens.v[i]) == 0) {
                                ok = true;
                                *token_idx = (int)i;
                        }
                if (!ok) {
                        *code = "unauthorized";
                        return 401;
                }
        }
        return 0;
}

static int http_writeable(struct lws *wsi, http_req_t *h)
{
        if (!h->resp)
                return 0;
        if (!h->headers_sent) {
                unsigned char hdr[LWS_PRE + 2048];
                unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
                if (lws_add_http_common_headers(wsi, (unsigned)h->status, h->ctype, h->resp_len, &p,
                                                end))
                        return -1;
                /* RFC 9112 9.6: a server that will close after the answer says so */
                char ka[32];
                int kal = snprintf(ka, sizeof(ka), "timeout=%d", HTTP_KEEPALIVE_S);
                if (h->conn == CONN_CLOSE &&
                    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                 (const unsigned char *)"close", 5, &p, end))
                        return -1;
                if (h->conn == CONN_KEEP_10 &&
                    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                 (const unsigned char *)"keep-alive", 10, &p, end))
                        return -1;
                if ((h->conn == CONN_KEEP || h->conn == CONN_KEEP_10) &&
                    lws_add_http_header_by_name(wsi, (const unsigned char *)"keep-alive:",
                                                (const unsigned char *)ka, kal, &p, end))
                        return -1;
                for (int i = 0; i < h->nheaders; i++)
                        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h->hname[i],
                                                        (const unsigned char *)h->hvalue[i],
                                                        (int)strlen(h->hvalue[i]), &p, end))
                                return -1;
                if (lws_finalize_write_http_header(wsi, start, &p, end))
                        return -1;
                h->headers_sent = true;
                if (h->method == DL_HEAD || h->resp_len == 0) {
                        free(h->resp);
                        h->resp = NULL;
                        return 1;
                }
                lws_callback_on_writable(wsi);
                return 0;
        }
        if (lws_write(wsi, (unsigned char *)h->resp + LWS_PRE, h->resp_len, LWS_WRITE_HTTP_FINAL) !=
            (int)h->resp_len)
                return -1;
        free(h->resp);
        h->resp = NULL;
        return 1; /* answered: the caller ends the transaction */
}

/* ------------------------------------------------------------------ routing */

static void route_path(char *out, size_t size, const char *base, const char *sub)
{
        size_t bl = strlen(base);
        if (bl && base[bl - 1] == '/' && *sub == '/')
                bl--;
        snprintf(out, size, "%.*s%s", (int)bl, base, sub);
        if (!*out)
                snprintf(out, size, "/");
}

static void build_routes(server_t *srv)
{
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++) {
                const dialect_t *d = dialect_table[i];
                const dialect_limits_t *dl = &srv->opts->dialects[i];
                if (dl->disabled)
                        continue;
                for (size_t k = 0; k < d->nroutes && srv->nroutes < NROUTES_MAX; k++) {
                        route_t *rt = &srv->routes[srv->nroutes++];
                        rt->d = d;
                        rt->di = (int)i;
                        route_path(rt->path, sizeof(rt->path), dl->base ? dl->base : d->base,
                                   d->routes[k].sub);
                        rt->methods = d->routes[k].methods;
                        rt->tag = d->routes[k].tag;
                }
        }
}

/* The first route for path that takes method (HEAD goes where GET does); *any: the path is
 * known at all. */
static const route_t *find_route(server_t *srv, const char *path, unsigned method, bool *any)
{
        *any = false;
        for (int i = 0; i < srv->nroutes; i++) {
                const route_t *rt = &srv->routes[i];
                if (strcmp(rt->path, path) != 0)
                        continue;
                *any = true;
                unsigned m = rt->methods;
                if (m & DL_GET)
                        m |= DL_HEAD;
                if (m & method)
                        return rt;
        }
        return NULL;
}

/* A POST path several dialects share: the body decides. */
static const route_t *claim_route(server_t *srv, const route_t *first, const char *body, size_t len)
{
        cJSON *doc = cJSON_ParseWithLength(body ? body : "", len);
        const route_t *pick = NULL;
        for (int i = 0; i < srv->nroutes && !pick; i++) {
                const route_t *rt = &srv->routes[i];
                if (strcmp(rt->path, first->path) == 0 && (rt->methods & DL_POST) &&
                    rt->d->claims && rt->d->claims(doc))
                        pick = rt;
        }
        cJSON_Delete(doc);
        return pick ? pick : first;
}

static void http_dispatch(http_req_t *h)
{
        const route_t *rt = h->route;
        if (!rt->d->http) {
                http_error(h, 405, "method_not_allowed", "wrong method for this path");
                return;
        }
        rt->d->http(h, rt->tag, h->method, h->body.data ? h->body.data : "", h->body.len);
        if (!h->answered && !h->run)
                http_error(h, 500, "internal", "the request was not answered");
}

/* The body is over the size limit: the route's dialect answers in its own shape. */
static void http_too_large(http_req_t *h)
{
        h->too_large = true;
        buf_free(&h->body);
        if (h->route && h->route->d->http_too_large)
                h->route->d->http_too_large(h, h->route->tag);
        if (!h->answered)
                http_error(h, 413, "too_large", "the body is over the size limit");
}

static dl_method_t http_method(struct lws *wsi)
{
        if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
                return DL_POST;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
                return DL_HEAD;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
                return DL_OPTIONS;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
                return DL_GET;
        return 0;
}

/* ------------------------------------------------------------------ the lws callback */

static void conn_free(conn_t *c)
{
        lws_sul_cancel(&c->idle);
        lws_sul_cancel(&c->deadline);
        while (c->runs)
                run_orphan(c->runs);
        if (c->d->ws_close)
                c->d->ws_close(c);
        for (frame_t *f = c->head; f;) {
                frame_t *n = f->next;
                free(f);
                f = n;
        }
        buf_free(&c->rx);
        free(c->data);
        free(c);
}

static void http_free(http_req_t *h)
{
        if (h->run)
                run_orphan(h->run);
        buf_free(&h->body);
        free(h->resp);
        for (int i = 0; i < h->nheaders; i++) {
                free(h->hname[i]);
                free(h->hvalue[i]);
        }
        free(h);
}

/* What lws will do with the connection after this request's answer (its own rule, in
 * lws_http_action): HTTP/1.1 keeps it unless "Connection: close", HTTP/1.0 closes it unless
 * "Connection: keep-alive"; HTTP/2 has no connection headers (CONN_UNSAID). */
static int conn_after(struct lws *wsi)
{
        char v[12], c[25];
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) <= 7 ||
            lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP) <= 7 || strncmp(v, "HTTP/", 5) != 0)
                return CONN_UNSAID;
        bool keep = v[5] == '1' && v[7] == '1';
        if (lws_hdr_total_length(wsi, WSI_TOKEN_CONNECTION) &&
            lws_hdr_copy(wsi, c, sizeof(c), WSI_TOKEN_CONNECTION) > 0) {
                if (!strcasecmp(c, "keep-alive"))
                        keep = true;
                else if (!strcasecmp(c, "close"))
                        keep = false;
        }
        return !keep ? CONN_CLOSE : v[7] == '0' ? CONN_KEEP_10 : CONN_KEEP;
}

static int on_http(server_t *srv, pss_t *pss, struct lws *wsi, const char *path)
{
        if (pss->http) { /* an unanswered request on this connection */
                http_free(pss->http);
                pss->http = NULL;
        }
        http_req_t *h = calloc(1, sizeof(*h));
        if (!h)
                return -1;
        h->srv = srv;
        h->wsi = wsi;
        h->method = http_method(wsi);
        h->conn = conn_after(wsi);
        pss->http = h;
        bool post = h->method == DL_POST;
        if (post)
                h->too_large = true; /* the body is ignored unless a route wants it */
        else
                /* No body is coming: lws' timer for one (PENDING_TIMEOUT_HTTP_CONTENT, 5 s
                 * from the headers) would run until the answer is written, and close the
                 * connection without a response if the event loop was held up that long. The
                 * answer is ours to give; once it is out, lws_http_transaction_completed sets
                 * the keep-alive timer. */
                lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        char origin[256];
        if (srv->opts->origins.n &&
            lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
            origin_allowed(srv->opts, origin)) {
                /* a browser page of an allowed origin may read the answers (CORS) */
                dl_http_header(h, "access-control-allow-origin:", origin);
                dl_http_header(h, "vary:", "Origin");
        }
        const char *code = NULL;
        int denied = strcmp(path, "/healthz") == 0 || h->method == DL_OPTIONS
                         ? 0
                         : check_access(srv, wsi, false, &code, &h->token);
        if (denied) {
                http_error(h, denied, code,
                           denied == 401 ? "a valid bearer token is required"
                                         : "this origin is not allowed");
                return 0;
        }
        bool known = false;
        const route_t *rt = find_route(srv, path, h->method, &known);
        if (h->method == DL_OPTIONS && (known || strcmp(path, "/healthz") == 0)) {
                /* a CORS preflight */
                dl_http_header(h, "access-control-allow-methods:", "GET, POST, HEAD, OPTIONS");
                dl_http_header(
                    h, "access-control-allow-headers:", "authorization, content-type, accept");
                dl_http_header(h, "access-control-max-age:", "600");
                dl_http_text(h, 204, "text/plain", "", 0);
                return 0;
        }
        if ((h->method == DL_GET || h->method == DL_HEAD) && strcmp(path, "/metrics") == 0) {
                buf_t b = {0};
                metrics_text(srv, &b);
                dl_http_text(h, 200, "text/plain; version=0.0.4", b.data, b.len);
                buf_free(&b);
        } else if ((h->method == DL_GET || h->method == DL_HEAD) && strcmp(path, "/healthz") == 0) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "status", "ok");
                dl_http_json(h, 200, o);
        } else if (rt && post) {
                h->route = rt;
                h->too_large = false;
                char cl[32];
                if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                    strtoull(cl, NULL, 10) > srv->opts->message_max)
                        http_too_large(h);
                return 0; /* the body follows */
        } else if (rt) {
                h->route = rt;
                http_dispatch(h);
        } else if (known || strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0) {
                http_error(h, 405, "method_not_allowed", "wrong method for this path");
        } else {
                http_error(h, 404, "not_found", "no such path");
        }
        return 0;
}

static int on_ws_established(server_t *srv, pss_t *pss, struct lws *wsi)
{
        char uri[160];
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
                return -1;
        bool known;
        const route_t *rt = find_route(srv, uri, DL_WS, &known);
        if (!rt)
                return -1;
        conn_t *c = calloc(1, sizeof(*c));
        if (!c || !(c->data = calloc(1, rt->d->conn_size ? rt->d->conn_size : 1))) {
                free(c);
                return -1;
        }
        c->srv = srv;
        c->wsi = wsi;
        c->d = rt->d;
        c->di = rt->di;
        c->token = srv->opts->tokens.n ? pss->token : -1;
        pss->conn = c;
        srv->ws_conns++;
        if (c->d->ws_open)
                c->d->ws_open(c, rt->tag);
        return 0;
}

static int on_ws_receive(server_t *srv, conn_t *c, struct lws *wsi, const char *in, size_t len)
{
        if (lws_is_first_fragment(wsi)) {
                c->rx.len = 0;
                c->rx_binary = lws_frame_is_binary(wsi);
                c->rx_refused = false;
        }
        c->last_ms = dl_now_ms();
        if (c->rx_refused || c->closing)
                return 0; /* the rest of a refused message */
        if (c->rx.len + len > srv->opts->message_max) {
                /* no client expects to go on after this: the codec may say why, then close */
                c->rx_refused = true;
                buf_free(&c->rx);
                if (c->d->ws_message)
                        c->d->ws_message(c, NULL, 0, false);
                dl_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
                return 0;
        }
        buf_append(&c->rx, in, len);
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
                if (c->d->ws_message)
                        c->d->ws_message(c, c->rx.data ? c->rx.data : "", c->rx.len, c->rx_binary);
                c->rx.len = 0;
        }
        return 0;
}

static int on_ws_writeable(conn_t *c, struct lws *wsi)
{
        if (!c->head) {
                if (c->closing) {
                        lws_close_reason(wsi, (enum lws_close_status)c->close_status,
                                         (unsigned char *)c->close_reason, strlen(c->close_reason));
                        return -1;
                }
                return 0;
        }
        frame_t *f = c->head;
        if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len)
                return -1;
        c->head = f->next;
        if (!c->head)
                c->tail = NULL;
        c->queued -= f->len;
        free(f);
        if (c->paused && c->queued < OUTQ_LOW)
                conn_pause(c, false);
        if (c->head || c->closing)
                lws_callback_on_writable(wsi);
        return 0;
}

static int refuse_handshake(struct lws *wsi, int denied, const char *code)
{
        /* Answer the handshake with a plain HTTP/1.1 refusal, then close: clients report the
         * status (lws' own helper answers HTTP/1.0 here). */
        const char *msg = denied == 401   ? "a valid token is required"
                          : denied == 403 ? "this origin is not allowed"
                                          : "no WebSocket at this path";
        const char *reason = denied == 401   ? "Unauthorized"
                             : denied == 403 ? "Forbidden"
                                             : "Not Found";
        char body[160], resp[LWS_PRE + 512];
        int bl = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n",
                          code, msg);
        int n = snprintf(resp + LWS_PRE, sizeof(resp) - LWS_PRE,
                         "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                         "content-length: %d\r\nconnection: close\r\n\r\n%s",
                         denied, reason, bl, body);
        lws_write(wsi, (unsigned char *)resp + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
        return -1;
}

static int callback_main(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
        pss_t *pss = user;
        server_t *srv = lws_context_user(lws_get_context(wsi));
        switch (reason) {
        case LWS_CALLBACK_HTTP:
        case LWS_CALLBACK_HTTP_BODY:
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        case LWS_CALLBACK_HTTP_WRITEABLE:
        case LWS_CALLBACK_CLOSED_HTTP:
        case LWS_CALLBACK_ESTABLISHED:
        case LWS_CALLBACK_RECEIVE:
        case LWS_CALLBACK_SERVER_WRITEABLE:
        case LWS_CALLBACK_CLOSED:
                /* lws may report a connection that never got per-session data (TLS set-up) */
                if (!pss)
                        return lws_callback_http_dummy(wsi, reason, user, in, len);
                break;
        default:
                break;
        }
        switch (reason) {
        case LWS_CALLBACK_HTTP:
                return on_http(srv, pss, wsi, in);
        case LWS_CALLBACK_HTTP_BODY:
                if (pss->http && !pss->http->too_large) {
                        if (pss->http->body.len + len > srv->opts->message_max)
                                http_too_large(pss->http);
                        else
                                buf_append(&pss->http->body, in, len);
                }
                return 0;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
                http_req_t *h = pss->http;
                if (h && !h->too_large && h->route && !h->answered) {
                        h->route = claim_route(srv, h->route, h->body.data, h->body.len);
                        http_dispatch(h);
                }
                return 0;
        }
        case LWS_CALLBACK_HTTP_WRITEABLE: {
                int r = pss->http ? http_writeable(wsi, pss->http) : 0;
                if (r <= 0)
                        return r;
                http_free(pss->http); /* keep-alive: the next request gets a fresh one */
                pss->http = NULL;
                return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        case LWS_CALLBACK_CLOSED_HTTP:
                if (pss->http) {
                        http_free(pss->http);
                        pss->http = NULL;
                }
                return 0;
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
                const char *code = NULL;
                int denied = check_access(srv, wsi, true, &code, &pss->token);
                char uri[160];
                bool known = false;
                if (!denied && (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
                                !find_route(srv, uri, DL_WS, &known))) {
                        denied = 404; /* no dialect has a WebSocket here (or it is off) */
                        code = "not_found";
                }
                return denied ? refuse_handshake(wsi, denied, code) : 0;
        }
        case LWS_CALLBACK_ESTABLISHED:
                return on_ws_established(srv, pss, wsi);
        case LWS_CALLBACK_RECEIVE:
                return pss->conn ? on_ws_receive(srv, pss->conn, wsi, in, len) : -1;
        case LWS_CALLBACK_SERVER_WRITEABLE:
                return pss->conn ? on_ws_writeable(pss->conn, wsi) : 0;
        case LWS_CALLBACK_CLOSED:
                if (pss->conn) {
                        conn_free(pss->conn);
                        pss->conn = NULL;
                        srv->ws_conns--;
                }
                return 0;
        default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
}

static const struct lws_protocols protocols[] = {
    {"runcell-v1", callback_main, sizeof(pss_t), 64 * 1024, 0, NULL, 0},
    {EV_LWS_PROTOCOL, ev_lws_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

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
        for (size_t i = 0; i < dialect_count && i < DIALECTS_MAX; i++) {
                o->dialects[i].max_concurrent = dialect_table[i]->max_concurrent;
                o->dialects[i].queue_max = dialect_table[i]->queue_max;
                o->dialects[i].disabled = dialect_table[i]->off_by_default;
        }
}

void server_opts_free(server_opts_t *o)
{
        strv_free(&o->origins);
        strv_free(&o->tokens);
        free(o->token_max_runs);
        o->token_max_runs = NULL;
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

/* SIGTERM: no new runs; queued ones never start (their clients are told); those going get
 * grace_ms to finish, then are killed (and still reported). */
static void start_draining(server_t *srv)
{
        srv->draining = true;
        fprintf(stderr, "runcell: stopping: %d runs going, %d queued dropped\n", srv->running,
                srv->queued);
        while (srv->qhead) {
                run_t *q = srv->qhead;
                dl_event_t ev = {.kind = DL_EV_DROPPED,
                                 .code = "shutting_down",
                                 .message = "the server is shutting down"};
                emit(q, &ev);
                run_orphan(q);
        }
}

/* libwebsockets' own error lines, marked as such. */
static void lws_log_line(int level, const char *line)
{
        (void)level;
        fprintf(stderr, "runcell: libwebsockets: %s%s", line,
                *line && line[strlen(line) - 1] == '\n' ? "" : "\n");
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
        server_t srv = {.cat = cat,
                        .opts = opts,
                        .max_concurrent = opts->max_concurrent > 0 ? opts->max_concurrent : 1,
                        .queue_max = opts->queue_max >= 0 ? opts->queue_max : 0};
        srv.runs_by = calloc(cat->set.n * NSTATUS, sizeof(*srv.runs_by));
        build_routes(&srv);
        lws_set_log_level(LLL_ERR, lws_log_line);
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof(info));
        info.port = opts->port;
        info.iface = opts->host;
        info.protocols = protocols;
        info.user = &srv;
        info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
        info.keepalive_timeout = HTTP_KEEPALIVE_S;
        if (opts->tls_cert && opts->tls_key) {
                info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
                info.ssl_cert_filepath = opts->tls_cert;
                info.ssl_private_key_filepath = opts->tls_key;
        }
        srv.ctx = lws_create_context(&info);
        if (!srv.ctx) {
                free(srv.runs_by);
                return listen_failed(opts, opts->port, err);
        }
        srv.vh = lws_get_vhost_by_name(srv.ctx, "default");
        int port = srv.vh ? lws_get_vhost_listen_port(srv.vh) : opts->port;
        if (!srv.vh || port <= 0 || !net_listening(opts->host, port)) {
                lws_context_destroy(srv.ctx);
                free(srv.runs_by);
                return listen_failed(opts, port > 0 ? port : opts->port, err);
        }
        srv.loop = srv.vh ? ev_lws_new(srv.ctx, srv.vh) : NULL;
        if (!srv.loop) {
                lws_context_destroy(srv.ctx);
                return rc_err_set(err, ENOMEM, "cannot set up the event loop");
        }
        the_server = &srv;
        signal_ctx = srv.ctx;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        bool named = opts->host_name && strcmp(opts->host_name, opts->host) != 0;
        fprintf(stderr, "runcell: listening on %s://%s:%d%s%s%s\n",
                opts->tls_cert && opts->tls_key ? "https" : "http", opts->host, port,
                named ? " (" : "", named ? opts->host_name : "", named ? ")" : "");
        for (size_t i = 0; i < dialect_count; i++)
                if (!opts->dialects[i].disabled)
                        fprintf(stderr, "runcell: dialect %s at %s\n", dialect_table[i]->name,
                                opts->dialects[i].base ? opts->dialects[i].base
                                                       : dialect_table[i]->base);
        fflush(stderr);
        int rc = 0;
        lws_sorted_usec_list_t grace;
        memset(&grace, 0, sizeof(grace));
        int64_t grace_end = 0;
        for (;;) {
                if (lws_service(srv.ctx, 0) < 0) {
                        rc = rc_err_set(err, EIO, "the event loop failed");
                        break;
                }
                if (stop_requested && !srv.draining) {
                        start_draining(&srv);
                        grace_end = sb_now_ns() + (int64_t)opts->grace_ms * 1000000;
                        lws_sul_schedule(srv.ctx, 0, &grace, on_grace_over,
                                         (lws_usec_t)opts->grace_ms * 1000);
                }
                if (srv.draining && srv.running == 0 && srv.queued == 0)
                        break;
                if (srv.draining && !srv.grace_over && sb_now_ns() >= grace_end) {
                        srv.grace_over = true;
                        for (run_t *r = srv.all; r; r = r->all_next)
                                if (r->state == RUN_RUNNING && r->job)
                                        job_kill(r->job, SIGKILL);
                        /* their exit and done events go out, then the loop ends */
                        lws_sul_schedule(srv.ctx, 0, &grace, on_grace_over, 2000000);
                        grace_end = sb_now_ns() + 2000000000LL;
                }
                if (srv.grace_over && sb_now_ns() >= grace_end)
                        break;
        }
        lws_sul_cancel(&grace);
        /* let the last frames go out */
        for (int i = 0; i < 20 && srv.draining; i++)
                lws_service(srv.ctx, -1);
        /* Every run ends here: killed, reaped, its cgroup removed, before lws goes away. */
        while (srv.all) {
                lws_sul_cancel(&srv.all->reap);
                run_free(srv.all);
        }
        srv.qhead = srv.qtail = NULL;
        while (srv.refills) {
                struct refill *rf = srv.refills;
                srv.refills = rf->next;
                lws_sul_cancel(&rf->sul);
                free(rf);
        }
        lws_context_destroy(srv.ctx);
        free(srv.runs_by);
        signal_ctx = NULL;
        the_server = NULL;
        ev_lws_free(srv.loop);
        return rc;
}
