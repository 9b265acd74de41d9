/* libFuzzer target: every wire dialect's request decoder and its replies (the dialects of
 * src/protocol/), as the server drives them, with no server: this file is the server's side of
 * protocol/dialect.h (the dl_* calls), a fake one. The dialects' sources are compiled into the
 * target (CMakeLists.txt), linked against runcell_engine and runcell_store only, so nothing of
 * src/server/ (libwebsockets, sandboxes, the store) is there.
 *
 * One target for all the dialects, the first byte choosing one: they share the fake server and
 * the catalogue, one target keeps CI's fuzzing step short (each target costs its seconds), and
 * the fuzzer's coverage feedback spreads the effort over the dialects by itself. The input:
 *
 *   byte 0  the dialect (its index in dialect_table, modulo their number)
 *   byte 1  the route (index in the dialect's routes, modulo their number)
 *   byte 2  bits 0-2: which of the route's methods; bit 3: the body is over the size limit
 *           (http_too_large, or a WebSocket message's NULL); bit 4: the client goes away
 *           before its runs end; bit 5: a function's mode is "json", bit 6: "cgi" (else
 *           "stdin"); bit 7: runs are refused as busy (429 with Retry-After)
 *   byte 3  bits 0-6, how the runs end: 0 exit 0, 1 a runtime error with stderr, 2 a compile
 *           error, 3 the time limit with output that is not UTF-8 and truncated, 4.. killed;
 *           bit 7: the WebSocket messages are binary
 *   then three lines ('\n'): the path segment a wildcard route matched (dl_http_path_arg), the
 *   query string ("a=b&c=d": dl_http_arg, dl_http_query, dl_conn_urlarg), the request headers
 *   ("name: value" separated by tabs: dl_http_req_header); the rest is the HTTP body, or the
 *   WebSocket messages separated by NUL bytes.
 *
 * dl_run_start checks the document the dialect made as the server does (a function's
 * invocation first made a run document as fn_run_resolve does, every function a Python one;
 * then run_request_parse against a catalogue of the source tree's toolchains set up as ready,
 * as fuzz_request does, run_request_job_spec and job_check) and starts nothing: a run that is
 * let in gets DL_EV_QUEUED at once and, after the last message, its stage, output, exit and
 * end events (a judged run: each test's DL_EV_TEST, then DL_EV_DROPPED, since a judge_t cannot
 * be made without running one), and is freed. Then the connection closes. A POST body also
 * goes to every dialect's claims(). No store (dl_store() is NULL, as in a server without a
 * state directory), no function is deployed, no process, no socket; nothing is written but
 * the root filesystems' stand-ins (an empty tarball, its .sha256 and a .manifest per
 * toolchain, which Piston wants to see) in a directory under TMPDIR, removed at exit.
 *
 * RUNCELL_FUZZ_DEBUG set: every answer and message on stderr (to write seeds). */
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

#include <cjson/cJSON.h>

#include "engine/catalog.h"
#include "engine/request.h"
#include "protocol/dialect.h"
#include "toolchain/toolchain.h"
#include "util/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------ the fake server's state */

#define MAX_RUNS 64

struct dl_conn {
        const dialect_t *d;
        void *data;
        bool closing;
        bool gone;
};

struct dl_http {
        const dialect_t *d;
        dl_method_t method;
        int answers; /* dl_http_text calls: the server takes the first */
        int nheaders;
        bool gone;
};

struct dl_run {
        const dialect_t *d;
        char id[64];
        void *data;
        dl_conn_t *conn;
        dl_http_t *http;
        cJSON *doc;
        run_request_t rr;
        bool parsed; /* rr holds a parsed request (to free) */
        bool kept, done, killed, eof, fn;
        void (*timer)(dl_run_t *r);
        dl_run_t *next; /* the connection's, newest first */
};

static rc_paths_t paths;
static catalog_t cat;
static bool debug;

/* the input being run */
static struct {
        const char *path_arg;
        const char *query;
        const char *headers;
        uint8_t flags, ending;
        bool binary;
        bool debug; /* RUNCELL_FUZZ_DEBUG set: the answers and messages on stderr */
        dl_run_t *runs[MAX_RUNS];
        size_t nruns;
        dl_run_t *conn_runs; /* newest first */
        void (*timers[8])(void);
} in;

/* ------------------------------------------------------------------ small things */

catalog_t *dl_catalog(void)
{
        return &cat;
}
store_t *dl_store(void)
{
        return NULL;
}
const char *dl_node_id(void)
{
        return "fuzz";
}
int64_t dl_lease_ms(void)
{
        return 30000;
}
int64_t dl_store_poll_ms(void)
{
        return 1000;
}
void dl_load(int *running, int *queued, int *max_concurrent)
{
        *running = 1;
        *queued = 0;
        *max_concurrent = 2;
}
int64_t dl_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
void dl_log(dl_log_level_t level, const char *event, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
}
void dl_timer(int ms, void (*fn)(void))
{
        for (size_t i = 0; i < sizeof(in.timers) / sizeof(in.timers[0]); i++)
                if (in.timers[i] == fn || !in.timers[i]) {
                        in.timers[i] = ms > 0 ? fn : NULL;
                        return;
                }
}
void dl_callbacks_kick(void)
{
}
bool dl_callback_allowed(const char *url, char *msg, size_t size)
{
        snprintf(msg, size, "callbacks are not allowed to %.100s", url ? url : "");
        return false;
}
bool dl_callbacks_config(int *max_tries, int *timeout_ms)
{
        *max_tries = 3;
        *timeout_ms = 1000;
        return false;
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
        return json_depth(j) <= 64;
}

int dl_error_status(const char *code)
{
        static const struct {
                const char *code;
                int status;
        } st[] = {{"unknown_language", 404},
                  {"not_found", 404},
                  {"forbidden", 403},
                  {"unauthorized", 401},
                  {"conflict", 409},
                  {"unknown_version", 404},
                  {"busy", 429},
                  {"rate_limited", 429},
                  {"unavailable", 503},
                  {"shutting_down", 503},
                  {"too_large", 413},
                  {"internal", 500}};
        for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
                if (strcmp(code, st[i].code) == 0)
                        return st[i].status;
        return 400;
}

/* ------------------------------------------------------------------ the request */

/* name's value in a list of "name=value" separated by sep ("name=" form or not), or NULL */
static const char *list_get(const char *list, char sep, const char *name, char eq, char *buf,
                            size_t size)
{
        size_t n = strlen(name);
        if (n && name[n - 1] == eq)
                n--;
        if (!list || !size)
                return NULL;
        for (const char *p = list; *p;) {
                const char *end = strchr(p, sep);
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len > n && strncasecmp(p, name, n) == 0 && p[n] == eq) {
                        const char *v = p + n + 1;
                        size_t vl = len - n - 1;
                        while (eq == ':' && vl && *v == ' ')
                                v++, vl--;
                        snprintf(buf, size, "%.*s", (int)vl, v);
                        return buf;
                }
                if (!end)
                        break;
                p = end + 1;
        }
        return NULL;
}

const char *dl_http_path_arg(dl_http_t *h)
{
        return in.path_arg;
}
const char *dl_http_arg(dl_http_t *h, const char *name, char *buf, size_t size)
{
        return list_get(in.query, '&', name, '=', buf, size);
}
const char *dl_http_req_header(dl_http_t *h, const char *name, char *buf, size_t size)
{
        return list_get(in.headers, '\t', name, ':', buf, size);
}
const char *dl_conn_urlarg(dl_conn_t *c, const char *name, char *buf, size_t size)
{
        return list_get(in.query, '&', name, '=', buf, size);
}
int dl_http_token(const dl_http_t *h)
{
        return -1;
}
const char *dl_http_query(dl_http_t *h, char *buf, size_t size)
{
        if (size)
                snprintf(buf, size, "%s", in.query);
        return buf;
}
const char *dl_http_method_name(const dl_http_t *h)
{
        switch (h->method) {
        case DL_GET:
                return "GET";
        case DL_POST:
                return "POST";
        case DL_HEAD:
                return "HEAD";
        case DL_OPTIONS:
                return "OPTIONS";
        case DL_PUT:
                return "PUT";
        case DL_DELETE:
                return "DELETE";
        case DL_WS:
        default:
                return "GET";
        }
}
void dl_http_peer(dl_http_t *h, char *buf, size_t size)
{
        snprintf(buf, size, "127.0.0.1");
}
int dl_http_server_port(void)
{
        return 2000;
}
bool dl_http_full_rights(const dl_http_t *h)
{
        return true;
}
bool dl_token_may_invoke_http(const dl_http_t *h, const char *name)
{
        return true;
}

/* ------------------------------------------------------------------ answers */

void dl_http_header(dl_http_t *h, const char *name, const char *value)
{
        /* a header name ends with its colon */
        size_t n = strlen(name);
        if (!n || name[n - 1] != ':' || !value)
                abort();
        h->nheaders++;
}

void dl_http_text(dl_http_t *h, int status, const char *ctype, const char *text, size_t len)
{
        if (h->gone)
                abort(); /* the codec answers a request whose client is gone */
        if (status < 100 || status > 599)
                abort();
        h->answers++;
        if (len && !text)
                abort();
        if (in.debug)
                fprintf(stderr, "http %d %s: %.*s\n", status, ctype ? ctype : "-", (int)len, text);
        /* ASan sees a read past the text's end */
        volatile char sum = 0;
        for (size_t i = 0; i < len; i++)
                sum = (char)(sum ^ text[i]);
        (void)sum;
}

void dl_http_json(dl_http_t *h, int status, cJSON *body)
{
        char *text = body ? cJSON_PrintUnformatted(body) : NULL;
        cJSON_Delete(body);
        dl_http_text(h, status, "application/json", text ? text : "", text ? strlen(text) : 0);
        free(text);
}

void dl_send_text(dl_conn_t *c, const char *text, size_t len)
{
        if (c->gone)
                abort(); /* sent on a connection that is gone */
        if (c->closing)
                return;
        if (in.debug)
                fprintf(stderr, "ws: %.*s\n", (int)len, text);
        volatile char sum = 0;
        for (size_t i = 0; i < len; i++)
                sum = (char)(sum ^ text[i]);
        (void)sum;
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
        if (c->gone)
                abort();
        c->closing = true;
}
void *dl_conn_data(dl_conn_t *c)
{
        return c->data;
}
void dl_conn_idle_timeout(dl_conn_t *c, int idle_ms)
{
}
void dl_conn_close_after(dl_conn_t *c, int ms, int status, const char *reason)
{
}

/* ------------------------------------------------------------------ runs */

static void emit(dl_run_t *r, const dl_event_t *ev)
{
        if ((r->conn || r->http || r->kept) && r->d->run_event)
                r->d->run_event(r, ev);
}

static void fail(dl_error_t *e, const char *code, const char *msg)
{
        e->code = code;
        snprintf(e->message, sizeof(e->message), "%s", msg);
}

/* A function's invocation into a run document, as fn_run_resolve and invocation_doc
 * (server/functions.c) do: its keys checked, the function's own document (here a Python one,
 * whatever the name) with the invocation's id, stdin, interactive, tty, args and env. */
static int fn_resolve(cJSON **doc, dl_error_t *e)
{
        static const char *const keys[] = {"function",
                                           "function_version",
                                           "id",
                                           "stdin",
                                           "stdin_encoding",
                                           "interactive",
                                           "args",
                                           "env",
                                           "tty",
                                           "type"};
        static const char *const take[] = {"id",          "stdin", "stdin_encoding",
                                           "interactive", "tty",   "args"};
        const cJSON *fnv = cJSON_GetObjectItemCaseSensitive(*doc, "function"), *k;
        if (!cJSON_IsString(fnv) || !*fnv->valuestring) {
                fail(e, "bad_request", "\"function\" must be a function's name");
                return -1;
        }
        cJSON_ArrayForEach(k, *doc)
        {
                size_t i = 0;
                while (i < sizeof(keys) / sizeof(keys[0]) && strcmp(k->string, keys[i]) != 0)
                        i++;
                if (i == sizeof(keys) / sizeof(keys[0])) {
                        fail(e, "bad_request", "not a key of a function's run");
                        return -1;
                }
        }
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "language", "python");
        cJSON *files = cJSON_AddArrayToObject(d, "files");
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", "main.py");
        cJSON_AddStringToObject(f, "content", "");
        cJSON_AddItemToArray(files, f);
        for (size_t i = 0; i < sizeof(take) / sizeof(take[0]); i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(*doc, take[i]);
                if (x)
                        cJSON_AddItemToObject(d, take[i], cJSON_Duplicate(x, true));
        }
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(*doc, "env");
        if (env)
                cJSON_AddItemToObject(d, "env", cJSON_Duplicate(env, true));
        cJSON_Delete(*doc);
        *doc = d;
        return 0;
}

static dl_run_t *run_start(const dialect_t *d, dl_conn_t *c, dl_http_t *h, bool kept, cJSON *doc,
                           const char *id, dl_error_t *e)
{
        e->retry_after_s = 0;
        if (!id)
                abort();
        if (in.nruns == MAX_RUNS || (in.flags & 0x80)) {
                cJSON_Delete(doc);
                fail(e, "busy", "too many runs");
                e->retry_after_s = 1;
                if (h)
                        dl_http_header(h, "retry-after:", "1");
                return NULL;
        }
        dl_run_t *r = calloc(1, sizeof(*r));
        if (!r || !(r->data = calloc(1, d->run_size ? d->run_size : 1))) {
                free(r);
                cJSON_Delete(doc);
                fail(e, "internal", "out of memory");
                return NULL;
        }
        r->d = d;
        snprintf(r->id, sizeof(r->id), "%s", id);
        r->doc = doc;
        r->kept = kept;
        if (cJSON_GetObjectItemCaseSensitive(doc, "function")) {
                /* as fn_run_resolve: every function is a Python one with an empty main.py */
                if (fn_resolve(&doc, e) < 0)
                        goto refuse;
                r->doc = doc;
                r->fn = true;
        }
        const char *code = NULL;
        if (run_request_parse(&cat, doc, d->judges && !r->fn, &r->rr, &code, e->message,
                              sizeof(e->message)) < 0) {
                if (!code)
                        abort(); /* a refusal always says which */
                e->code = code;
                goto refuse;
        }
        r->parsed = true;
        job_spec_t js;
        rc_err_t err = {0};
        memset(&js, 0, sizeof(js));
        run_request_job_spec(&cat, &r->rr, &js);
        if (job_check(&js, &err) < 0) {
                fail(e, "bad_request", err.msg);
                goto refuse;
        }
        r->conn = c;
        r->http = h;
        if (c) {
                r->next = in.conn_runs;
                in.conn_runs = r;
        }
        in.runs[in.nruns++] = r;
        dl_event_t ev = {.kind = DL_EV_QUEUED, .position = (int)(in.nruns - 1)};
        emit(r, &ev);
        return r;
refuse:
        if (r->parsed)
                run_request_free(&r->rr);
        cJSON_Delete(doc);
        free(r->data);
        free(r);
        return NULL;
}

dl_run_t *dl_run_start(dl_conn_t *c, dl_http_t *h, cJSON *doc, const char *id, dl_error_t *e)
{
        if (!c == !h)
                abort(); /* exactly one of them */
        return run_start(c ? c->d : h->d, c, h, false, doc, id, e);
}

dl_run_t *dl_run_submit(const dialect_t *d, cJSON *doc, const char *id, dl_error_t *e)
{
        return run_start(d, NULL, NULL, true, doc, id, e);
}

void dl_run_keep(dl_run_t *r)
{
        r->kept = true;
}
void dl_run_detach(dl_run_t *r)
{
        r->kept = true;
        r->http = NULL;
}
bool dl_draining(void)
{
        return false;
}
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
        return r->done;
}
const lang_t *dl_run_lang(const dl_run_t *r)
{
        return r->parsed ? r->rr.lang : NULL;
}
int dl_run_stdin(dl_run_t *r, const char *data, size_t len)
{
        if (r->done || r->eof)
                return -EPIPE;
        if (len && !data)
                abort();
        return 0;
}
void dl_run_eof(dl_run_t *r)
{
        r->eof = true;
}
int dl_run_resize(dl_run_t *r, uint16_t rows, uint16_t cols)
{
        if (!r->parsed || !r->rr.tty_rows || !r->rr.tty_cols)
                return -ENOTTY;
        return rows && cols ? 0 : -EINVAL;
}
void dl_run_kill(dl_run_t *r, int sig)
{
        if (sig <= 0 || sig >= 65)
                abort();
        if (!r->done)
                r->killed = true;
}
void dl_run_timer(dl_run_t *r, int ms, void (*fn)(dl_run_t *r))
{
        r->timer = ms > 0 ? fn : NULL;
}
dl_run_t *dl_conn_next_run(dl_conn_t *c, dl_run_t *after)
{
        for (dl_run_t *r = after ? after->next : in.conn_runs; r; r = r->next)
                if (!r->done)
                        return r;
        return NULL;
}
bool dl_run_fn(const dl_run_t *r, int *version, bool *cold)
{
        if (!r->fn)
                return false;
        *version = 1;
        *cold = true;
        return true;
}

/* ------------------------------------------------------------------ functions */

static cJSON *err_json(const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        return o;
}

void dl_fn_deploy(dl_http_t *h, const char *name, cJSON *doc)
{
        cJSON_Delete(doc);
        dl_http_json(h, 400, err_json("bad_request", "no deploys while fuzzing"));
}
void dl_fn_deploy_conn(dl_conn_t *c, const char *name, cJSON *doc, dl_fn_done_fn done, cJSON *tag)
{
        cJSON *e = err_json("bad_request", "no deploys while fuzzing");
        done(c, tag, 400, e);
        cJSON_Delete(e);
        cJSON_Delete(tag);
        cJSON_Delete(doc);
}
int dl_fn_list(cJSON **out)
{
        *out = cJSON_CreateArray();
        return 200;
}
static int fn_not_found(cJSON **out)
{
        *out = err_json("not_found", "no such function");
        return 404;
}
int dl_fn_get(const char *name, cJSON **out)
{
        return fn_not_found(out);
}
int dl_fn_versions(const char *name, cJSON **out)
{
        return fn_not_found(out);
}
int dl_fn_rollback(const char *name, int version, cJSON **out)
{
        return fn_not_found(out);
}
int dl_fn_delete(const char *name, cJSON **out)
{
        return fn_not_found(out);
}
bool dl_fn_info(const char *name, int version, dl_fn_info_t *out)
{
        memset(out, 0, sizeof(*out));
        if (!name || !*name || version > 1)
                return false;
        out->version = 1;
        snprintf(out->mode, sizeof(out->mode), "%s",
                 in.flags & 0x40   ? "cgi"
                 : in.flags & 0x20 ? "json"
                                   : "stdin");
        snprintf(out->content_type, sizeof(out->content_type), "text/plain");
        out->ncgi = 1;
        snprintf(out->cgi_headers[0], sizeof(out->cgi_headers[0]), "x-fuzz");
        return true;
}

/* ------------------------------------------------------------------ a run's end */

static void output(dl_run_t *r, stage_kind_t stage, stream_kind_t stream, const char *s, size_t n,
                   bool utf8)
{
        dl_event_t ev = {.kind = DL_EV_OUTPUT,
                         .stage = stage,
                         .stream = stream,
                         .data = s,
                         .len = n,
                         .utf8 = utf8};
        emit(r, &ev);
}

/* The stages' events and the end, as the ending byte says. */
static void finish(dl_run_t *r)
{
        if (r->done)
                return;
        static const char bad[] = "\xff\xfe caf\xc3\xa9 \xe2\x82"; /* cut in a character */
        static const char hello[] = "hello\n";
        static const char oops[] = "Traceback: oops\n";
        static const char errs[] = "main.c:1:1: error: expected ';'\n";
        uint8_t how = r->killed || in.ending > 4 ? 4 : in.ending;
        job_result_t res;
        memset(&res, 0, sizeof(res));
        stage_result_t *s = &res.run;
        if (how == 2) {
                s = &res.compile;
                dl_event_t st = {.kind = DL_EV_STAGE, .stage = STAGE_COMPILE};
                emit(r, &st);
                output(r, STAGE_COMPILE, STREAM_STDERR, errs, sizeof(errs) - 1, true);
                s->status = STATUS_COMPILE_ERROR;
                s->exit_code = 1;
                buf_append(&s->err, errs, sizeof(errs) - 1);
        } else {
                dl_event_t st = {.kind = DL_EV_STAGE, .stage = STAGE_RUN};
                emit(r, &st);
                const char *o = how == 3 ? bad : hello;
                size_t on = how == 3 ? sizeof(bad) - 1 : sizeof(hello) - 1;
                output(r, STAGE_RUN, STREAM_STDOUT, o, on, how != 3);
                buf_append(&s->out, o, on);
                if (how == 1) {
                        output(r, STAGE_RUN, STREAM_STDERR, oops, sizeof(oops) - 1, true);
                        buf_append(&s->err, oops, sizeof(oops) - 1);
                }
                s->status = how == 0   ? STATUS_OK
                            : how == 1 ? STATUS_RUNTIME_ERROR
                            : how == 3 ? STATUS_TIME_LIMIT
                                       : STATUS_KILLED;
                s->exit_code = how == 0 ? 0 : how == 1 ? 1 : -1;
                s->signal = how >= 3 ? SIGKILL : 0;
                s->limit_kind = how == 3 ? "wall" : NULL;
                s->truncated = how == 3;
        }
        s->present = true;
        s->wall_ms = 12;
        s->cpu_ms = 5;
        s->memory_kb = 2048;
        if (r->timer) {
                void (*fn)(dl_run_t *) = r->timer;
                r->timer = NULL;
                fn(r);
        }
        dl_event_t ex = {
            .kind = DL_EV_EXIT, .stage = how == 2 ? STAGE_COMPILE : STAGE_RUN, .res = s};
        emit(r, &ex);
        r->done = true;
        if (r->parsed && r->rr.ntests) {
                for (size_t i = 0; i < r->rr.ntests; i++) {
                        judge_test_result_t t;
                        memset(&t, 0, sizeof(t));
                        t.verdict = how == 0 ? "accepted" : "wrong_answer";
                        t.run = *s;
                        dl_event_t te = {.kind = DL_EV_TEST,
                                         .test_index = i,
                                         .test_name =
                                             r->rr.tests[i].name ? r->rr.tests[i].name : "1",
                                         .test = &t};
                        emit(r, &te);
                }
                dl_event_t dr = {.kind = DL_EV_DROPPED,
                                 .code = "shutting_down",
                                 .message = "the server is shutting down"};
                emit(r, &dr);
        } else {
                dl_event_t dn = {.kind = DL_EV_DONE, .result = &res};
                emit(r, &dn);
        }
        buf_free(&res.compile.out);
        buf_free(&res.compile.err);
        buf_free(&res.run.out);
        buf_free(&res.run.err);
}

/* A run is freed: the codec's run_free, then the rest (the server reaps a run soon after its
 * end, while its client may still be there). */
static void reap(size_t i)
{
        dl_run_t *r = in.runs[i];
        if (!r)
                return;
        for (dl_run_t **pp = &in.conn_runs; *pp; pp = &(*pp)->next)
                if (*pp == r) {
                        *pp = r->next;
                        break;
                }
        if (r->d->run_free)
                r->d->run_free(r);
        if (r->parsed)
                run_request_free(&r->rr);
        cJSON_Delete(r->doc);
        free(r->data);
        free(r);
        in.runs[i] = NULL;
}

/* Every run that is going ends and is freed (also those started meanwhile); one whose client
 * went away without keeping it is only freed, later (free_runs). */
static void finish_all(void)
{
        for (size_t i = 0; i < in.nruns; i++)
                if (in.runs[i] && !in.runs[i]->done) {
                        finish(in.runs[i]);
                        reap(i);
                }
}

static void free_runs(void)
{
        for (size_t i = 0; i < in.nruns; i++)
                reap(i);
        in.nruns = 0;
        in.conn_runs = NULL;
}

/* ------------------------------------------------------------------ the target */

/* The root filesystems as the catalogue and the dialects look at them, in a temporary
 * directory: an empty NAME.tar.zst, its .sha256 and a .manifest naming the language's package
 * at version 1.0.0 (Piston lists and runs only what is built); nothing is unpacked. */
static char rootfs_dir[4096];

static void put_file(const char *name, const char *ext, const char *text)
{
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s%s", rootfs_dir, name, ext);
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "fuzz_dialects: cannot write %s\n", path);
                exit(1);
        }
}

static void rm_file(const char *name, const char *ext)
{
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s%s", rootfs_dir, name, ext);
        unlink(path);
}

static void cleanup(void)
{
        for (size_t i = 0; i < cat.set.n; i++) {
                rm_file(cat.set.items[i]->rootfs, ".tar.zst");
                rm_file(cat.set.items[i]->rootfs, ".tar.zst.sha256");
                rm_file(cat.set.items[i]->rootfs, ".manifest");
        }
        rmdir(rootfs_dir);
        catalog_close(&cat);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *src = getenv("RUNCELL_SOURCE_DIR");
        if (!src || !*src)
                src = RUNCELL_SOURCE_DIR;
        static char tc_dir[4096], sc_dir[4096];
        snprintf(tc_dir, sizeof(tc_dir), "%s/toolchains", src);
        snprintf(sc_dir, sizeof(sc_dir), "%s/seccomp-profiles", src);
        paths.toolchains_dir = tc_dir;
        paths.seccomp_dir = sc_dir;
        const char *tmp = getenv("TMPDIR");
        snprintf(rootfs_dir, sizeof(rootfs_dir), "%s/fuzz-dialects-rootfs.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(rootfs_dir)) {
                fprintf(stderr, "fuzz_dialects: cannot make %s\n", rootfs_dir);
                exit(1);
        }
        paths.rootfs_dir = rootfs_dir;
        paths.state_dir = "/nonexistent/runcell-fuzz/state";
        paths.rlimit_only = true;
        rc_err_t err = {0};
        toolchain_set_t set = {0};
        if (toolchain_set_load(&set, tc_dir, &err) < 0) {
                fprintf(stderr, "fuzz_dialects: no toolchains in %s: %s\n", tc_dir, err.msg);
                exit(1);
        }
        for (size_t i = 0; i < set.n; i++) {
                char manifest[256];
                snprintf(manifest, sizeof(manifest), "%s 1.0.0-1\n", set.items[i]->version_package);
                put_file(set.items[i]->rootfs, ".tar.zst", "");
                put_file(set.items[i]->rootfs, ".tar.zst.sha256",
                         "0000000000000000000000000000000000000000000000000000000000000000\n");
                put_file(set.items[i]->rootfs, ".manifest", manifest);
        }
        toolchain_set_free(&set);
        if (catalog_load(&cat, &paths, &err) < 0 || cat.set.n == 0) {
                fprintf(stderr, "fuzz_dialects: no catalogue from %s: %s\n", tc_dir, err.msg);
                exit(1);
        }
        for (size_t i = 0; i < cat.set.n; i++) {
                lang_t *l = &cat.langs[i];
                l->tc = cat.set.items[i];
                l->rootfs = strdup("/nonexistent/runcell-fuzz/rootfs/tree");
                l->version = strdup("1.0.0");
                if (!l->rootfs || !l->version ||
                    catalog_load_profile(&paths, l->tc, &l->filter, &err) < 0) {
                        fprintf(stderr, "fuzz_dialects: %s: %s\n", l->tc->name, err.msg);
                        exit(1);
                }
                l->ready = true;
                l->probed = true;
                l->available = true;
        }
        atexit(cleanup);
        debug = getenv("RUNCELL_FUZZ_DEBUG") != NULL;
        return 0;
}

/* the next line of *p (within end), NUL-terminated in place */
static char *line(char **p, char *end)
{
        char *s = *p;
        char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl) {
                *p = end;
                return s; /* the buffer's last byte is a NUL */
        }
        *nl = '\0';
        *p = nl + 1;
        return s;
}

/* the method the byte chooses among the route's */
static dl_method_t pick_method(unsigned methods, unsigned k)
{
        unsigned n = (unsigned)__builtin_popcount(methods);
        if (!n)
                return DL_GET;
        k %= n;
        for (unsigned bit = 1; bit; bit <<= 1)
                if ((methods & bit) && k-- == 0)
                        return (dl_method_t)bit;
        return DL_GET;
}

static void run_http(const dialect_t *d, const dl_route_t *rt, dl_method_t method, const char *body,
                     size_t len)
{
        dl_http_t h = {.d = d, .method = method};
        if (method == DL_POST) { /* on a POST path several share, the body chooses (routes.c) */
                cJSON *doc = cJSON_ParseWithLength(body, len);
                for (size_t i = 0; i < dialect_count; i++)
                        if (dialect_table[i]->claims)
                                dialect_table[i]->claims(doc);
                cJSON_Delete(doc);
        }
        if ((in.flags & 0x08) && d->http_too_large)
                d->http_too_large(&h, rt->tag);
        else if (d->http)
                d->http(&h, rt->tag, method, body, len);
        if (in.flags & 0x10) { /* the client goes: its runs go on only if kept */
                h.gone = true;
                for (size_t i = 0; i < in.nruns; i++)
                        if (in.runs[i] && in.runs[i]->http == &h) {
                                in.runs[i]->http = NULL;
                                if (!in.runs[i]->kept)
                                        in.runs[i]->done = true;
                        }
        }
        finish_all();
        for (size_t i = 0; i < in.nruns; i++)
                if (in.runs[i] && in.runs[i]->http == &h)
                        in.runs[i]->http = NULL; /* answered and gone */
        h.gone = true;
        for (size_t i = 0; i < sizeof(in.timers) / sizeof(in.timers[0]); i++) {
                void (*fn)(void) = in.timers[i];
                in.timers[i] = NULL;
                if (fn)
                        fn();
        }
        free_runs();
}

/* as the server's conn_free: the runs leave the connection (those not kept end, with no more
 * events), then the codec frees its connection state */
static void conn_gone(dl_conn_t *c)
{
        for (size_t i = 0; i < in.nruns; i++)
                if (in.runs[i] && in.runs[i]->conn == c) {
                        in.runs[i]->conn = NULL;
                        if (!in.runs[i]->kept)
                                in.runs[i]->done = true;
                }
        in.conn_runs = NULL;
        if (c->d->ws_close)
                c->d->ws_close(c);
        c->gone = true;
}

static void run_ws(const dialect_t *d, const dl_route_t *rt, char *msgs, size_t len)
{
        dl_conn_t c = {.d = d};
        if (!(c.data = calloc(1, d->conn_size ? d->conn_size : 1)))
                return;
        if (d->ws_open)
                d->ws_open(&c, rt->tag);
        char *p = msgs, *end = msgs + len;
        while (d->ws_message && !c.closing && p < end) {
                char *nul = memchr(p, '\0', (size_t)(end - p));
                size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
                /* a copy of n bytes and a NUL, as the server's (ASan sees a read past it) */
                char *m = malloc(n + 1);
                if (!m)
                        break;
                memcpy(m, p, n);
                m[n] = '\0';
                bool over = (in.flags & 0x08) && !nul; /* the last one */
                d->ws_message(&c, over ? NULL : m, over ? 0 : n, in.binary);
                free(m);
                p += n + 1;
        }
        if (in.flags & 0x10) {
                conn_gone(&c);
                finish_all();
        } else {
                finish_all();
                conn_gone(&c);
        }
        free_runs();
        free(c.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 4)
                return 0;
        const dialect_t *d = dialect_table[data[0] % dialect_count];
        if (!d->nroutes)
                return 0;
        const dl_route_t *rt = &d->routes[data[1] % d->nroutes];
        memset(&in, 0, sizeof(in));
        in.flags = data[2];
        in.ending = data[3] & 0x7f;
        in.binary = data[3] & 0x80;
        in.debug = debug;
        dl_method_t method = pick_method(rt->methods, data[2] & 7);
        /* the rest, NUL-terminated (the lines are cut in place) */
        size_t n = size - 4;
        char *buf = malloc(n + 1);
        if (!buf)
                return 0;
        memcpy(buf, data + 4, n);
        buf[n] = '\0';
        char *p = buf, *end = buf + n;
        in.path_arg = line(&p, end);
        in.query = line(&p, end);
        in.headers = line(&p, end);
        size_t blen = (size_t)(end - p);
        if (method == DL_WS) {
                run_ws(d, rt, p, blen);
        } else {
                /* a copy of the body and a NUL, as the server's */
                char *body = malloc(blen + 1);
                if (body) {
                        memcpy(body, p, blen);
                        body[blen] = '\0';
                        run_http(d, rt, method, body, blen);
                        free(body);
                }
        }
        free(buf);
        return 0;
}
