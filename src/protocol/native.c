/* runcell's own protocol: WebSocket /api/v1/ws, POST /api/v1/run, GET /api/v1/languages.
 * docs/protocol.md describes it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/judge_json.h"
#include "engine/request.h"
#include "job/result_json.h"
#include "protocol/dialect.h"
#include "rootfs/store.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/jsonstrict.h"

#define ID_MAX 128

enum { R_WS, R_RUN, R_LANGUAGES };

static cJSON *event(const char *type, const char *id)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", type);
        if (id)
                cJSON_AddStringToObject(o, "id", id);
        return o;
}

static void send_error(dl_conn_t *c, const char *id, const char *code, const char *msg)
{
        cJSON *e = event("error", id);
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        dl_send_json(c, e);
}

static void http_error(dl_http_t *h, int status, const char *code, const char *msg)
{
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        dl_http_json(h, status, o);
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

static dl_run_t *find_run(dl_conn_t *c, const char *id)
{
        for (dl_run_t *r = dl_conn_next_run(c, NULL); r; r = dl_conn_next_run(c, r))
                if (strcmp(dl_run_id(r), id) == 0)
                        return r;
        return NULL;
}

/* ------------------------------------------------------------------ events */

static void send_output(dl_conn_t *c, const char *id, const dl_event_t *ev)
{
        cJSON *o = event("output", id);
        cJSON_AddStringToObject(o, "stage", stage_kind_name(ev->stage));
        cJSON_AddStringToObject(o, "stream",
                                ev->stream == STREAM_TTY      ? "tty"
                                : ev->stream == STREAM_STDOUT ? "stdout"
                                                              : "stderr");
        if (ev->utf8) {
                cJSON_AddItemToObject(o, "data", json_bytes_item(ev->data, ev->len));
        } else { /* bytes that are not UTF-8 go as they are, in base64 */
                buf_t b = {0};
                base64_append(&b, ev->data, ev->len);
                cJSON_AddStringToObject(o, "encoding", "base64");
                cJSON_AddStringToObject(o, "data", b.data ? b.data : "");
                buf_free(&b);
        }
        dl_send_json(c, o);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        dl_conn_t *c = dl_run_conn(r);
        dl_http_t *h = dl_run_http(r);
        const char *id = dl_run_id(r);
        if (h) { /* HTTP: one answer at the end */
                if (ev->kind == DL_EV_DONE) {
                        const lang_t *l = dl_run_lang(r);
                        cJSON *o = ev->judge ? judge_result_json(l->tc->name, l->version, ev->judge)
                                             : job_result_json(l->tc->name, l->version, ev->result);
                        cJSON_AddStringToObject(o, "id", id);
                        dl_http_json(h, 200, o);
                } else if (ev->kind == DL_EV_DROPPED) {
                        http_error(h, 503, ev->code, ev->message);
                }
                return;
        }
        cJSON *o;
        switch (ev->kind) {
        case DL_EV_QUEUED:
                o = event("queued", id);
                cJSON_AddNumberToObject(o, "position", ev->position);
                dl_send_json(c, o);
                break;
        case DL_EV_STAGE:
                o = event("stage", id);
                cJSON_AddStringToObject(o, "stage", stage_kind_name(ev->stage));
                dl_send_json(c, o);
                break;
        case DL_EV_OUTPUT:
                send_output(c, id, ev);
                break;
        case DL_EV_EXIT:
                o = stage_result_json(ev->res);
                cJSON_DeleteItemFromObjectCaseSensitive(o, "stdout");
                cJSON_DeleteItemFromObjectCaseSensitive(o, "stderr");
                cJSON_AddStringToObject(o, "type", "exit");
                cJSON_AddStringToObject(o, "id", id);
                cJSON_AddStringToObject(o, "stage", stage_kind_name(ev->stage));
                dl_send_json(c, o);
                break;
        case DL_EV_TEST:
                o = judge_test_json(ev->test_name, ev->test);
                cJSON_AddStringToObject(o, "type", "test");
                cJSON_AddStringToObject(o, "id", id);
                cJSON_AddNumberToObject(o, "index", (double)ev->test_index);
                dl_send_json(c, o);
                break;
        case DL_EV_DONE:
                o = event("done", id);
                if (ev->judge)
                        cJSON_AddItemToObject(o, "summary", judge_summary_json(ev->judge));
                dl_send_json(c, o);
                break;
        case DL_EV_DROPPED:
        default:
                send_error(c, id, ev->code, ev->message);
                break;
        }
}

/* ------------------------------------------------------------------ WebSocket messages */

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

static void on_stdin(dl_conn_t *c, dl_run_t *r, const char *id, const cJSON *msg)
{
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(msg, "data");
        bool eof = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "eof"));
        if (d && !cJSON_IsString(d)) {
                send_error(c, id, "bad_request", "\"data\" must be a string");
                return;
        }
        if (d && dl_run_stdin(r, d->valuestring, strlen(d->valuestring)) < 0)
                send_error(c, id, "bad_request",
                           "stdin is closed (not an interactive run, or eof was sent)");
        if (eof)
                dl_run_eof(r);
}

static void on_kill(dl_conn_t *c, dl_run_t *r, const char *id, const cJSON *msg)
{
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(msg, "signal");
        int sig = SIGKILL;
        if (s && (!cJSON_IsString(s) || !(sig = signal_by_name(s->valuestring))))
                send_error(c, id, "bad_request", "unknown signal");
        else
                dl_run_kill(r, sig);
}

static void on_resize(dl_conn_t *c, dl_run_t *r, const char *id, const cJSON *msg)
{
        uint16_t rows, cols;
        char why[160];
        if (request_tty_size(msg, &rows, &cols, why, sizeof(why)) < 0)
                send_error(c, id, "bad_request", why);
        else if (dl_run_resize(r, rows, cols) == -ENOTTY)
                send_error(c, id, "bad_request", "the run has no terminal (no \"tty\")");
}

static void ws_message(dl_conn_t *c, const char *data, size_t len, bool binary)
{
        if (!data) {
                send_error(c, NULL, "too_large", "the message is over the size limit");
                return;
        }
        if (binary) {
                send_error(c, NULL, "bad_request",
                           "binary frames are not accepted: send JSON text");
                return;
        }
        char why[160], emsg[240];
        cJSON *msg = json_parse_strict(data, len, why, sizeof(why));
        if (!msg || !cJSON_IsObject(msg)) {
                snprintf(emsg, sizeof(emsg), "a message is one JSON object%s%s", msg ? "" : ": ",
                         msg ? "" : why);
                cJSON_Delete(msg);
                send_error(c, NULL, "bad_request", emsg);
                return;
        }
        if (!dl_json_depth_ok(msg)) {
                cJSON_Delete(msg);
                send_error(c, NULL, "bad_request", "the message is nested too deeply");
                return;
        }
        char idbuf[64];
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(msg, "type");
        const char *type = cJSON_IsString(jt) ? jt->valuestring : NULL;
        const char *id = message_id(msg, idbuf, sizeof(idbuf));
        if (!type) {
                send_error(c, id, "bad_request", "\"type\" (a string) is required");
        } else if (strcmp(type, "ping") == 0) {
                dl_send_json(c, event("pong", NULL));
        } else if (strcmp(type, "run") == 0) {
                if (!id) {
                        send_error(c, NULL, "bad_request", "\"id\" (a string) is required");
                } else if (find_run(c, id)) {
                        send_error(c, id, "id_in_use", "a run with this id is still going");
                } else {
                        char idcopy[ID_MAX];
                        snprintf(idcopy, sizeof(idcopy), "%s", id);
                        dl_error_t e;
                        cJSON *doc = msg;
                        msg = NULL; /* the run takes the document */
                        if (!dl_run_start(c, NULL, doc, idcopy, &e)) {
                                cJSON *ev = event("error", idcopy);
                                cJSON_AddStringToObject(ev, "code", e.code);
                                cJSON_AddStringToObject(ev, "message", e.message);
                                if (e.retry_after_s > 0) /* draining, or public mode's limits */
                                        cJSON_AddNumberToObject(ev, "retry_after", e.retry_after_s);
                                dl_send_json(c, ev);
                        }
                }
        } else if (strcmp(type, "stdin") == 0 || strcmp(type, "kill") == 0 ||
                   strcmp(type, "resize") == 0) {
                dl_run_t *r = id ? find_run(c, id) : NULL;
                if (!r)
                        send_error(c, id, "unknown_id", "no run with this id is going");
                else if (type[0] == 's')
                        on_stdin(c, r, id, msg);
                else if (type[0] == 'r')
                        on_resize(c, r, id, msg);
                else
                        on_kill(c, r, id, msg);
        } else {
                snprintf(emsg, sizeof(emsg), "unknown message type '%.60s'", type);
                send_error(c, id, "unknown_type", emsg);
        }
        cJSON_Delete(msg);
}

/* ------------------------------------------------------------------ HTTP */

/* One entry per language, for its default version (the newest built), with every version
 * under "versions", newest first. */
static cJSON *languages_json(catalog_t *cat)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i];
                size_t n = 0;
                if (toolchain_set_find(&cat->set, tc->name) != tc)
                        continue; /* a second version: listed with the first */
                catalog_variant_t *v = catalog_variants(cat, tc->name, &n);
                if (!v)
                        continue;
                const char *version = NULL;
                if (v[0].version) { /* the default: the newest built */
                        tc = v[0].tc;
                        version = v[0].version;
                }
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", tc->name);
                if (version)
                        cJSON_AddStringToObject(o, "version", version);
                else
                        cJSON_AddNullToObject(o, "version");
                cJSON *al = cJSON_AddArrayToObject(o, "aliases");
                for (size_t a = 0; a < tc->aliases.n; a++)
                        cJSON_AddItemToArray(al, cJSON_CreateString(tc->aliases.v[a]));
                cJSON_AddBoolToObject(o, "compiled", tc->compile.n > 0);
                cJSON *vs = cJSON_AddArrayToObject(o, "versions");
                for (size_t k = 0; k < n && v[k].version; k++)
                        cJSON_AddItemToArray(vs, cJSON_CreateString(v[k].version));
                catalog_variants_free(v, n);
                /* its root filesystem is built: it runs (a run of one not ready is refused,
                 * unavailable) */
                cJSON_AddBoolToObject(o, "ready", catalog_ready(cat, tc));
                cJSON_AddStringToObject(o, "rootfs", tc->rootfs);
                cJSON_AddItemToArray(arr, o);
        }
        return arr;
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        (void)method;
        if (tag == R_LANGUAGES) {
                dl_http_json(h, 200, languages_json(dl_catalog()));
                return;
        }
        char why[160], emsg[240];
        cJSON *doc = json_parse_strict(body, len, why, sizeof(why));
        if (!doc || !cJSON_IsObject(doc)) {
                snprintf(emsg, sizeof(emsg), "the body must be one JSON object%s%s",
                         doc ? "" : ": ", doc ? "" : why);
                cJSON_Delete(doc);
                http_error(h, 400, "bad_request", emsg);
                return;
        }
        if (!dl_json_depth_ok(doc)) {
                cJSON_Delete(doc);
                http_error(h, 400, "bad_request", "the body is nested too deeply");
                return;
        }
        static unsigned long seq;
        char idbuf[64], gen[32], idcopy[ID_MAX];
        const char *id = message_id(doc, idbuf, sizeof(idbuf));
        if (!id) {
                snprintf(gen, sizeof(gen), "r%lu", ++seq);
                id = gen;
        }
        snprintf(idcopy, sizeof(idcopy), "%s", id);
        dl_error_t e;
        if (!dl_run_start(NULL, h, doc, idcopy, &e))
                http_error(h, dl_error_status(e.code), e.code, e.message);
}

static const dl_route_t routes[] = {
    {"/ws", DL_WS, R_WS},
    {"/run", DL_POST, R_RUN},
    {"/languages", DL_GET, R_LANGUAGES},
};

const dialect_t dialect_native = {
    .name = "runcell",
    .base = "/api/v1",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .http = http,
    .ws_message = ws_message,
    .run_event = run_event,
    .judges = true,
};
