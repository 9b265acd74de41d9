/* runcell serve. Protocol code knows nothing of sandboxes: a message becomes a run request, a
 * run is a job on the engine, the job's events become messages. See docs/protocol.md. */
#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cli/request.h"
#include "job/result_json.h"
#include "sandbox/sync.h"
#include "server/evloop_lws.h"
#include "util/base64.h"
#include "util/json.h"

#define WS_PATH    "/api/v1/ws"
#define BODY_MAX   (16u << 20)
#define WS_MSG_MAX (16u << 20)
#define OUTQ_HIGH  (1u << 20) /* queued bytes to one client before its runs' output pauses */
#define OUTQ_LOW   (256u << 10)
#define ID_MAX     128

typedef struct server server_t;
typedef struct conn conn_t;
typedef struct http_req http_req_t;
typedef struct run run_t;

typedef struct frame {
        struct frame *next;
        size_t len;
        unsigned char data[]; /* LWS_PRE bytes of room, then the payload */
} frame_t;

struct conn { /* one WebSocket connection */
        server_t *srv;
        struct lws *wsi;
        frame_t *head, *tail;
        size_t queued;
        bool paused;
        buf_t rx;
        bool rx_binary;
        bool close_after_flush; /* a fatal error was queued: close once it is written */
        int token;
        run_t *runs;
};

struct http_req { /* one HTTP request */
        server_t *srv;
        struct lws *wsi;
        int token;
        const char *ctype;
        buf_t body;
        bool too_large;
        int status;
        const char *retry_after;
        char *resp;
        size_t resp_len;
        bool headers_sent;
        run_t *run;
};

typedef enum run_state { RUN_QUEUED, RUN_RUNNING, RUN_DONE } run_state_t;

struct run {
        server_t *srv;
        conn_t *conn;     /* or */
        http_req_t *http; /* NULL once the client is gone */
        char *id;
        cJSON *doc; /* the request; the parsed form points into it until the job starts */
        run_request_t rr;
        job_t *job;
        run_state_t state;
        bool kill_queued;
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
        unsigned long seq;
};

typedef struct pss {
        conn_t *conn;
        http_req_t *http;
        int token; /* index of the token the handshake gave, -1: none */
} pss_t;

static volatile sig_atomic_t stop_requested;
static struct lws_context *signal_ctx;

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

static void conn_send(conn_t *c, cJSON *msg)
{
        char *text = cJSON_PrintUnformatted(msg);
        cJSON_Delete(msg);
        if (!text)
                return;
        size_t len = strlen(text);
        frame_t *f = malloc(sizeof(*f) + LWS_PRE + len);
        if (f) {
                f->next = NULL;
                f->len = len;
                memcpy(f->data + LWS_PRE, text, len);
                if (c->tail)
                        c->tail->next = f;
                else
                        c->head = f;
                c->tail = f;
                c->queued += len;
                lws_callback_on_writable(c->wsi);
                /* A slow reader never makes runcell buffer without bound: its runs stop being
                 * read (the programs block in write) until it catches up. */
                if (c->queued > OUTQ_HIGH)
                        conn_pause(c, true);
        }
        free(text);
}

static cJSON *event(const char *type, const char *id)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", type);
        if (id)
                cJSON_AddStringToObject(o, "id", id);
        return o;
}

static void send_error(conn_t *c, const char *id, const char *code, const char *msg)
{
        cJSON *e = event("error", id);
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        conn_send(c, e);
}

/* ------------------------------------------------------------------ output as text or base64 */

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

static void send_chunk(run_t *r, stage_kind_t stage, int stream, const unsigned char *data,
                       size_t len, bool text)
{
        if (!len || !r->conn)
                return;
        cJSON *o = event("output", r->id);
        cJSON_AddStringToObject(o, "stage", stage_kind_name(stage));
        cJSON_AddStringToObject(o, "stream", stream == STREAM_STDOUT ? "stdout" : "stderr");
        if (text) {
                cJSON_AddItemToObject(o, "data", json_bytes_item((const char *)data, len));
        } else {
                buf_t b = {0};
                base64_append(&b, data, len);
                cJSON_AddStringToObject(o, "encoding", "base64");
                cJSON_AddStringToObject(o, "data", b.data ? b.data : "");
                buf_free(&b);
        }
        conn_send(r->conn, o);
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
                send_chunk(r, stage, (int)stream, u, b.len - tail, true);
                memcpy(r->carry[s], u + b.len - tail, tail);
                r->ncarry[s] = tail;
        } else {
                send_chunk(r, stage, (int)stream, u, b.len, false); /* exact bytes, base64 */
                r->ncarry[s] = 0;
        }
        buf_free(&b);
}

/* ------------------------------------------------------------------ runs */

static void run_begin(run_t *r);

static void start_queued(server_t *srv)
{
        while (srv->qhead && srv->running < srv->max_concurrent) {
                run_t *r = srv->qhead;
                srv->qhead = r->qnext;
                if (!srv->qhead)
                        srv->qtail = NULL;
                srv->queued--;
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
        run_unlink(r);
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
        if (!r->conn)
                return;
        cJSON *o = event("stage", r->id);
        cJSON_AddStringToObject(o, "stage", stage_kind_name(stage));
        conn_send(r->conn, o);
}

static void on_stage_end(void *ud, stage_kind_t stage, const stage_result_t *res)
{
        run_t *r = ud;
        for (int s = 0; s < 2; s++) { /* what was held back is not going to be completed */
                send_chunk(r, stage, s, r->carry[s], r->ncarry[s], false);
                r->ncarry[s] = 0;
        }
        if (!r->conn)
                return;
        cJSON *o = stage_result_json(res);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "stdout");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "stderr");
        cJSON_AddStringToObject(o, "type", "exit");
        cJSON_AddStringToObject(o, "id", r->id);
        cJSON_AddStringToObject(o, "stage", stage_kind_name(stage));
        conn_send(r->conn, o);
}

static void http_respond(http_req_t *h, int status, cJSON *body, const char *retry_after);

static void on_done(void *ud)
{
        run_t *r = ud;
        server_t *srv = r->srv;
        r->state = RUN_DONE;
        if (r->conn)
                conn_send(r->conn, event("done", r->id));
        if (r->http) {
                cJSON *o =
                    job_result_json(r->rr.lang->tc->name, r->rr.lang->version, job_result(r->job));
                cJSON_AddStringToObject(o, "id", r->id);
                http_respond(r->http, 200, o, NULL);
        }
        const job_result_t *res = job_result(r->job);
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
                "runcell: run id=%s language=%s compile=%s run=%s wall_ms=%lld cpu_ms=%lld "
                "memory_kb=%lld\n",
                r->id, r->rr.lang->tc->name,
                res->compile.present ? stage_status_name(res->compile.status) : "-",
                res->run.present ? stage_status_name(res->run.status) : "-",
                (long long)last->wall_ms, (long long)last->cpu_ms, (long long)last->memory_kb);
        srv->running--;
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
        r->state = RUN_RUNNING;
        r->t_begin = sb_now_ns();
        job_spec_t js;
        run_request_job_spec(srv->cat, &r->rr, &js);
        limits_clamp(&js.run_limits, &srv->opts->limits_max);
        limits_clamp(&js.compile_limits, &srv->opts->limits_max);
        js.capture = r->http != NULL;
        js.interactive = r->conn && r->rr.interactive;
        js.cb = (job_callbacks_t){.stage_start = on_stage_start,
                                  .output = r->conn ? on_output : NULL,
                                  .stage_end = on_stage_end,
                                  .done = on_done,
                                  .ud = r};
        rc_err_t err = {0};
        if (job_start(&js, srv->loop, &r->job, &err) < 0) {
                srv->running--;
                if (r->conn) {
                        send_error(r->conn, r->id, "bad_request", err.msg);
                } else if (r->http) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON *e = cJSON_AddObjectToObject(o, "error");
                        cJSON_AddStringToObject(e, "code", "bad_request");
                        cJSON_AddStringToObject(e, "message", err.msg);
                        http_respond(r->http, 400, o, NULL);
                }
                r->state = RUN_DONE;
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
                if (r->kill_queued)
                        job_kill(r->job, SIGKILL);
                if (r->conn && r->conn->paused)
                        job_pause_output(r->job, true);
        }
}

/* A new run from a parsed JSON document (taken over). Answers errors itself; NULL if none. */
static run_t *run_new(server_t *srv, conn_t *c, http_req_t *h, cJSON *doc, const char *id,
                      const char **code, char *msg, size_t msg_size)
{
        run_t *r = calloc(1, sizeof(*r));
        if (!r || !(r->id = strdup(id))) {
                free(r);
                cJSON_Delete(doc);
                *code = "internal";
                snprintf(msg, msg_size, "out of memory");
                return NULL;
        }
        r->srv = srv;
        r->doc = doc;
        if (srv->draining) {
                cJSON_Delete(doc);
                free(r->id);
                free(r);
                *code = "shutting_down";
                snprintf(msg, msg_size, "the server is shutting down");
                return NULL;
        }
        if (run_request_parse(srv->cat, doc, &r->rr, code, msg, msg_size) < 0) {
                cJSON_Delete(doc);
                free(r->id);
                free(r);
                return NULL;
        }
        size_t total = 0;
        for (size_t i = 0; i < r->rr.nfiles; i++)
                total += r->rr.files[i].len;
        if (total > srv->opts->source_max) {
                run_request_free(&r->rr);
                cJSON_Delete(doc);
                free(r->id);
                free(r);
                *code = "too_large";
                snprintf(msg, msg_size, "the files are %zu bytes together, over %zu", total,
                         srv->opts->source_max);
                return NULL;
        }
        r->token = c ? c->token : h ? h->token : -1;
        int token_max =
            r->token >= 0 && srv->opts->token_max_runs ? srv->opts->token_max_runs[r->token] : 0;
        int token_runs = 0;
        for (run_t *o = srv->all; token_max && o; o = o->all_next)
                token_runs += o->token == r->token && o->state != RUN_DONE;
        if (token_max && token_runs >= token_max) {
                run_request_free(&r->rr);
                cJSON_Delete(doc);
                free(r->id);
                free(r);
                *code = "busy";
                snprintf(msg, msg_size, "this token's %d runs are all going or waiting", token_max);
                return NULL;
        }
        if (srv->running >= srv->max_concurrent && srv->queued >= srv->queue_max) {
                run_request_free(&r->rr);
                cJSON_Delete(doc);
                free(r->id);
                free(r);
                *code = "busy";
                snprintf(msg, msg_size, "all %d sandboxes are busy and %d runs wait", srv->running,
                         srv->queued);
                return NULL;
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
        int position = srv->running < srv->max_concurrent ? 0 : srv->queued + 1;
        if (c) {
                cJSON *q = event("queued", r->id);
                cJSON_AddNumberToObject(q, "position", position);
                conn_send(c, q);
        }
        if (position == 0) {
                run_begin(r);
        } else {
                r->state = RUN_QUEUED;
                if (srv->qtail)
                        srv->qtail->qnext = r;
                else
                        srv->qhead = r;
                srv->qtail = r;
                srv->queued++;
        }
        return r;
}

static void run_dequeue(server_t *srv, run_t *r)
{
        for (run_t **pp = &srv->qhead; *pp; pp = &(*pp)->qnext)
                if (*pp == r) {
                        *pp = r->qnext;
                        srv->queued--;
                        break;
                }
        srv->qtail = NULL;
        for (run_t *q = srv->qhead; q; q = q->qnext)
                srv->qtail = q;
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

/* ------------------------------------------------------------------ WebSocket messages */

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

static run_t *find_run(conn_t *c, const char *id)
{
        for (run_t *r = c->runs; r; r = r->next)
                if (r->state != RUN_DONE && strcmp(r->id, id) == 0)
                        return r;
        return NULL;
}

static int signal_by_name(const char *name)
{
        static const struct {
                const char *name;
                int sig;
        } sigs[] = {{"SIGKILL", SIGKILL}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},
                    {"SIGHUP", SIGHUP},   {"SIGQUIT", SIGQUIT}, {"SIGUSR1", SIGUSR1},
                    {"SIGUSR2", SIGUSR2}, {"SIGCONT", SIGCONT}, {"SIGSTOP", SIGSTOP}};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                if (strcmp(name, sigs[i].name) == 0)
                        return sigs[i].sig;
        return 0;
}

static const char *message_id(const cJSON *msg, char *buf, size_t size)
{
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        if (cJSON_IsString(id) && *id->valuestring && strlen(id->valuestring) < ID_MAX)
                return id->valuestring;
        if (cJSON_IsNumber(id)) {
                snprintf(buf, size, "%.0f", id->valuedouble);
                return buf;
        }
        return NULL;
}

static void handle_ws_message(conn_t *c, const char *data, size_t len, bool binary)
{
        if (binary) {
                send_error(c, NULL, "bad_request",
                           "binary frames are not accepted: send JSON text");
                return;
        }
        cJSON *msg = cJSON_ParseWithLength(data, len);
        if (!msg || !cJSON_IsObject(msg)) {
                cJSON_Delete(msg);
                send_error(c, NULL, "bad_request", "a message is one JSON object");
                return;
        }
        if (json_depth(msg) > c->srv->opts->json_depth_max) {
                cJSON_Delete(msg);
                send_error(c, NULL, "bad_request", "the message is nested too deeply");
                return;
        }
        char idbuf[64];
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(msg, "type");
        const char *type = cJSON_IsString(jt) ? jt->valuestring : NULL;
        const char *id = message_id(msg, idbuf, sizeof(idbuf));
        char emsg[600];
        const char *code = NULL;
        if (!type) {
                send_error(c, id, "bad_request", "\"type\" (a string) is required");
        } else if (strcmp(type, "ping") == 0) {
                conn_send(c, event("pong", NULL));
        } else if (strcmp(type, "run") == 0) {
                if (!id) {
                        send_error(c, NULL, "bad_request", "\"id\" (a string) is required");
                } else if (find_run(c, id)) {
                        send_error(c, id, "id_in_use", "a run with this id is still going");
                } else {
                        char idcopy[ID_MAX];
                        snprintf(idcopy, sizeof(idcopy), "%s", id);
                        cJSON *doc = msg;
                        msg = NULL; /* the run takes the document */
                        if (!run_new(c->srv, c, NULL, doc, idcopy, &code, emsg, sizeof(emsg)))
                                send_error(c, idcopy, code, emsg);
                }
        } else if (strcmp(type, "stdin") == 0 || strcmp(type, "kill") == 0) {
                run_t *r = id ? find_run(c, id) : NULL;
                if (!r) {
                        send_error(c, id, "unknown_id", "no run with this id is going");
                } else if (type[0] == 's') {
                        const cJSON *d = cJSON_GetObjectItemCaseSensitive(msg, "data");
                        bool eof = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "eof"));
                        if (d && !cJSON_IsString(d)) {
                                send_error(c, id, "bad_request", "\"data\" must be a string");
                        } else if (r->state == RUN_QUEUED) {
                                if (d)
                                        buf_append(&r->pending_in, d->valuestring,
                                                   strlen(d->valuestring));
                                r->pending_eof |= eof;
                        } else if (r->job) {
                                if (d && job_write_stdin(r->job, d->valuestring,
                                                         strlen(d->valuestring)) < 0)
                                        send_error(c, id, "bad_request",
                                                   "stdin is closed (not an interactive run, or "
                                                   "eof was sent)");
                                if (eof)
                                        job_close_stdin(r->job);
                        }
                } else {
                        const cJSON *s = cJSON_GetObjectItemCaseSensitive(msg, "signal");
                        int sig = SIGKILL;
                        if (s && (!cJSON_IsString(s) || !(sig = signal_by_name(s->valuestring)))) {
                                send_error(c, id, "bad_request", "unknown signal");
                        } else if (r->state == RUN_QUEUED) {
                                r->kill_queued = true;
                        } else if (r->job) {
                                job_kill(r->job, sig);
                        }
                }
        } else {
                snprintf(emsg, sizeof(emsg), "unknown message type '%.60s'", type);
                send_error(c, id, "unknown_type", emsg);
        }
        cJSON_Delete(msg);
}

/* ------------------------------------------------------------------ HTTP */

static void http_respond(http_req_t *h, int status, cJSON *body, const char *retry_after)
{
        char *text = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
        free(h->resp);
        h->resp_len = text ? strlen(text) + 1 : 0;
        h->resp = malloc(LWS_PRE + h->resp_len + 1);
        if (h->resp && text) {
                memcpy(h->resp + LWS_PRE, text, h->resp_len - 1);
                h->resp[LWS_PRE + h->resp_len - 1] = '\n';
        } else {
                h->resp_len = 0;
        }
        free(text);
        h->status = status;
        h->retry_after = retry_after;
        h->ctype = "application/json";
        lws_callback_on_writable(h->wsi);
}

static void http_respond_text(http_req_t *h, int status, const char *ctype, buf_t *text)
{
        free(h->resp);
        h->resp_len = text->len;
        h->resp = malloc(LWS_PRE + text->len + 1);
        if (h->resp)
                memcpy(h->resp + LWS_PRE, text->data ? text->data : "", text->len);
        else
                h->resp_len = 0;
        buf_free(text);
        h->status = status;
        h->retry_after = NULL;
        h->ctype = ctype;
        lws_callback_on_writable(h->wsi);
}

static void http_error(http_req_t *h, int status, const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        http_respond(h, status, o, status == 429 ? "1" : NULL);
}

static cJSON *languages_json(catalog_t *cat)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i];
                char *version = NULL;
                rootfs_package_version(&cat->store, tc->rootfs, tc->version_package, &version,
                                       NULL);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", tc->name);
                if (version)
                        cJSON_AddStringToObject(o, "version", version);
                else
                        cJSON_AddNullToObject(o, "version");
                free(version);
                cJSON *al = cJSON_AddArrayToObject(o, "aliases");
                for (size_t a = 0; a < tc->aliases.n; a++)
                        cJSON_AddItemToArray(al, cJSON_CreateString(tc->aliases.v[a]));
                cJSON_AddBoolToObject(o, "compiled", tc->compile.n > 0);
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
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
}

/* Origin and token checks; 0 when the request may go on, else the HTTP status to refuse with
 * and *code set. */
static int check_access(server_t *srv, struct lws *wsi, bool ws, const char **code, int *token_idx)
{
        *token_idx = -1;
        const server_opts_t *o = srv->opts;
        char buf[512];
        if (o->origins.n && lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_ORIGIN) > 0) {
                /* Cross-site WebSocket hijacking: a browser sends the page's origin. */
                bool ok = false;
                for (size_t i = 0; i < o->origins.n; i++)
                        ok |= strcmp(buf, o->origins.v[i]) == 0;
                if (!ok) {
                        *code = "forbidden_origin";
                        return 403;
                }
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

static void http_start_run(http_req_t *h)
{
        server_t *srv = h->srv;
        cJSON *doc = cJSON_ParseWithLength(h->body.data ? h->body.data : "", h->body.len);
        if (!doc || !cJSON_IsObject(doc)) {
                cJSON_Delete(doc);
                http_error(h, 400, "bad_request", "the body must be one JSON object");
                return;
        }
        if (json_depth(doc) > srv->opts->json_depth_max) {
                cJSON_Delete(doc);
                http_error(h, 400, "bad_request", "the body is nested too deeply");
                return;
        }
        char idbuf[64], emsg[600];
        const char *id = message_id(doc, idbuf, sizeof(idbuf));
        char gen[32];
        if (!id) {
                snprintf(gen, sizeof(gen), "r%lu", ++srv->seq);
                id = gen;
        }
        char idcopy[ID_MAX];
        snprintf(idcopy, sizeof(idcopy), "%s", id);
        const char *code = NULL;
        if (!run_new(srv, NULL, h, doc, idcopy, &code, emsg, sizeof(emsg))) {
                int status = strcmp(code, "unknown_language") == 0 ? 404
                             : strcmp(code, "busy") == 0           ? 429
                             : strcmp(code, "unavailable") == 0    ? 503
                             : strcmp(code, "shutting_down") == 0  ? 503
                             : strcmp(code, "too_large") == 0      ? 413
                                                                   : 400;
                http_error(h, status, code, emsg);
        }
}

static int http_writeable(struct lws *wsi, http_req_t *h)
{
        if (!h->resp)
                return 0;
        if (!h->headers_sent) {
                unsigned char hdr[LWS_PRE + 512];
                unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
                if (lws_add_http_common_headers(wsi, (unsigned)h->status, h->ctype, h->resp_len, &p,
                                                end) ||
                    (h->retry_after &&
                     lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                 (const unsigned char *)h->retry_after,
                                                 (int)strlen(h->retry_after), &p, end)) ||
                    lws_finalize_write_http_header(wsi, start, &p, end))
                        return -1;
                h->headers_sent = true;
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

/* ------------------------------------------------------------------ the lws callback */

static void conn_free(conn_t *c)
{
        while (c->runs)
                run_orphan(c->runs);
        for (frame_t *f = c->head; f;) {
                frame_t *n = f->next;
                free(f);
                f = n;
        }
        buf_free(&c->rx);
        free(c);
}

static void http_free(http_req_t *h)
{
        if (h->run)
                run_orphan(h->run);
        buf_free(&h->body);
        free(h->resp);
        free(h);
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
        case LWS_CALLBACK_HTTP: {
                const char *path = in;
                if (pss->http) { /* an unanswered request on this connection */
                        http_free(pss->http);
                        pss->http = NULL;
                }
                http_req_t *h = calloc(1, sizeof(*h));
                if (!h)
                        return -1;
                h->srv = srv;
                h->wsi = wsi;
                pss->http = h;
                bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
                const char *code = NULL;
                int denied = strcmp(path, "/healthz") == 0
                                 ? 0
                                 : check_access(srv, wsi, false, &code, &h->token);
                if (denied) {
                        http_error(h, denied, code,
                                   denied == 401 ? "a valid bearer token is required"
                                                 : "this origin is not allowed");
                        if (post)
                                h->too_large = true; /* ignore the body */
                        return 0;
                }
                if (strcmp(path, "/metrics") == 0 && !post) {
                        buf_t b = {0};
                        metrics_text(srv, &b);
                        http_respond_text(h, 200, "text/plain; version=0.0.4", &b);
                } else if (strcmp(path, "/healthz") == 0 && !post) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "status", "ok");
                        http_respond(h, 200, o, NULL);
                } else if (strcmp(path, "/api/v1/languages") == 0 && !post) {
                        http_respond(h, 200, languages_json(srv->cat), NULL);
                } else if (strcmp(path, "/api/v1/run") == 0 && post) {
                        char cl[32];
                        if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                            strtoull(cl, NULL, 10) > srv->opts->message_max) {
                                h->too_large = true;
                                http_error(h, 413, "too_large", "the body is over the size limit");
                        }
                        return 0; /* the body follows */
                } else if (strcmp(path, "/api/v1/run") == 0 || strcmp(path, "/healthz") == 0 ||
                           strcmp(path, "/api/v1/languages") == 0) {
                        http_error(h, 405, "method_not_allowed", "wrong method for this path");
                } else {
                        http_error(h, 404, "not_found", "no such path");
                }
                return 0;
        }
        case LWS_CALLBACK_HTTP_BODY:
                if (pss->http && !pss->http->too_large) {
                        if (pss->http->body.len + len > srv->opts->message_max) {
                                pss->http->too_large = true;
                                http_error(pss->http, 413, "too_large",
                                           "the body is over the size limit");
                        } else {
                                buf_append(&pss->http->body, in, len);
                        }
                }
                return 0;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
                if (pss->http && !pss->http->too_large)
                        http_start_run(pss->http);
                return 0;
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
                if (denied) {
                        /* Answer the handshake with a plain HTTP/1.1 refusal, then close: clients
                         * report the status (lws' own helper answers HTTP/1.0 here). */
                        char body[128], resp[LWS_PRE + 512];
                        int bl =
                            snprintf(body, sizeof(body),
                                     "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
                                     denied == 401 ? "a valid token is required"
                                                   : "this origin is not allowed");
                        int n = snprintf(resp + LWS_PRE, sizeof(resp) - LWS_PRE,
                                         "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                                         "content-length: %d\r\nconnection: close\r\n\r\n%s",
                                         denied, denied == 401 ? "Unauthorized" : "Forbidden", bl,
                                         body);
                        lws_write(wsi, (unsigned char *)resp + LWS_PRE, (size_t)n,
                                  LWS_WRITE_HTTP_HEADERS);
                        return -1;
                }
                return 0;
        }
        case LWS_CALLBACK_ESTABLISHED: {
                char uri[64];
                if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
                    strcmp(uri, WS_PATH) != 0)
                        return -1;
                conn_t *c = calloc(1, sizeof(*c));
                if (!c)
                        return -1;
                c->srv = srv;
                c->wsi = wsi;
                c->token = srv->opts->tokens.n ? pss->token : -1;
                pss->conn = c;
                srv->ws_conns++;
                return 0;
        }
        case LWS_CALLBACK_RECEIVE: {
                conn_t *c = pss->conn;
                if (!c)
                        return -1;
                if (lws_is_first_fragment(wsi)) {
                        c->rx.len = 0;
                        c->rx_binary = lws_frame_is_binary(wsi);
                }
                if (c->close_after_flush)
                        return 0; /* the rest of a refused message */
                if (c->rx.len + len > srv->opts->message_max) {
                        send_error(c, NULL, "too_large", "the message is over the size limit");
                        c->close_after_flush = true;
                        buf_free(&c->rx);
                        return 0;
                }
                buf_append(&c->rx, in, len);
                if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
                        handle_ws_message(c, c->rx.data ? c->rx.data : "", c->rx.len, c->rx_binary);
                        c->rx.len = 0;
                }
                return 0;
        }
        case LWS_CALLBACK_SERVER_WRITEABLE: {
                conn_t *c = pss->conn;
                if (!c || !c->head)
                        return 0;
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
                if (c->head) {
                        lws_callback_on_writable(wsi);
                } else if (c->close_after_flush) {
                        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                                         (unsigned char *)"too large", 9);
                        return -1;
                }
                return 0;
        }
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
        o->message_max = WS_MSG_MAX;
        o->source_max = 1u << 20;
        o->json_depth_max = 32;
        o->grace_ms = 10000;
}

void server_opts_free(server_opts_t *o)
{
        strv_free(&o->origins);
        strv_free(&o->tokens);
        free(o->token_max_runs);
        o->token_max_runs = NULL;
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

int server_run(catalog_t *cat, const server_opts_t *opts, rc_err_t *err)
{
        server_t srv = {.cat = cat,
                        .opts = opts,
                        .max_concurrent = opts->max_concurrent > 0 ? opts->max_concurrent : 1,
                        .queue_max = opts->queue_max >= 0 ? opts->queue_max : 0};
        srv.runs_by = calloc(cat->set.n * NSTATUS, sizeof(*srv.runs_by));
        lws_set_log_level(LLL_ERR, NULL);
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof(info));
        info.port = opts->port;
        info.iface = opts->host;
        info.protocols = protocols;
        info.user = &srv;
        info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
        if (opts->tls_cert && opts->tls_key) {
                info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
                info.ssl_cert_filepath = opts->tls_cert;
                info.ssl_private_key_filepath = opts->tls_key;
        }
        srv.ctx = lws_create_context(&info);
        if (!srv.ctx)
                return rc_err_set(err, EADDRINUSE, "cannot listen on %s:%d", opts->host,
                                  opts->port);
        srv.vh = lws_get_vhost_by_name(srv.ctx, "default");
        srv.loop = srv.vh ? ev_lws_new(srv.ctx, srv.vh) : NULL;
        if (!srv.loop) {
                lws_context_destroy(srv.ctx);
                return rc_err_set(err, ENOMEM, "cannot set up the event loop");
        }
        signal_ctx = srv.ctx;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        fprintf(stderr, "runcell: listening on %s://%s:%d\n",
                opts->tls_cert && opts->tls_key ? "https" : "http", opts->host,
                lws_get_vhost_listen_port(srv.vh));
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
                        /* SIGTERM: no new runs; queued ones never start; those going get
                         * grace_ms to finish, then are killed (and still reported). */
                        srv.draining = true;
                        fprintf(stderr, "runcell: stopping: %d runs going, %d queued dropped\n",
                                srv.running, srv.queued);
                        while (srv.qhead) {
                                run_t *q = srv.qhead;
                                if (q->conn)
                                        send_error(q->conn, q->id, "shutting_down",
                                                   "the server is shutting down");
                                run_orphan(q);
                        }
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
        ev_lws_free(srv.loop);
        return rc;
}
