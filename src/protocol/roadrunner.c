/* roadrunner's WebSocket API: GET /ws, one JSON message per run request
 * {language, source, nonce, standard_input, commandline_arguments}. The original defines no
 * replies; the ones here are described in docs/dialects.md ("roadrunner"): output chunks and a
 * final exit message, each carrying the request's nonce as it was given. Its "pre-delivered
 * execution" (code uploaded and compiled once, launched and killed later) is runcell's
 * functions: {"type": "deliver", "id", "language", "source"} deploys the function id,
 * {"type": "launch", "id", ...} runs it, {"type": "kill", "nonce"} ends a run. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job/result_json.h"
#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"
#include "util/shellwords.h"

#define IDLE_MS_DEFAULT 60000
#define IDLE_MS_MAX     86400000
#define LANGUAGE_MAX    64

static int idle_ms = IDLE_MS_DEFAULT; /* 0: never */

typedef struct rr_conn {
        cJSON *pending; /* the nonce of the run being started, taken by its first event */
} rr_conn_t;

typedef struct rr_run {
        cJSON *nonce;
} rr_run_t;

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *k;
        cJSON_ArrayForEach(k, opts)
        {
                if (strcmp(k->string, "idle_ms") != 0)
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", k->string);
                if (!cJSON_IsNumber(k) || k->valuedouble < 0 || k->valuedouble > IDLE_MS_MAX ||
                    k->valuedouble != (int)k->valuedouble)
                        return rc_err_set(err, EINVAL, "idle_ms: an integer from 0 to %d",
                                          IDLE_MS_MAX);
                idle_ms = (int)k->valuedouble;
        }
        return 0;
}

/* A message to the client: {"nonce": <as given, or null>, "type": type}. */
static cJSON *message(const cJSON *nonce, const char *type)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "nonce", nonce ? cJSON_Duplicate(nonce, 1) : cJSON_CreateNull());
        cJSON_AddStringToObject(o, "type", type);
        return o;
}

static void send_error(dl_conn_t *c, const cJSON *nonce, const char *code, const char *text)
{
        cJSON *o = message(nonce, "error");
        cJSON_AddStringToObject(o, "code", code);
        cJSON_AddStringToObject(o, "message", text);
        dl_send_json(c, o);
}

/* ------------------------------------------------------------------ events */

static void send_exit(dl_conn_t *c, const cJSON *nonce, const job_result_t *res)
{
        bool run = res->run.present;
        cJSON *o = message(nonce, "exit");
        cJSON_AddStringToObject(o, "stage", stage_kind_name(run ? STAGE_RUN : STAGE_COMPILE));
        cJSON *st = stage_result_json(run ? &res->run : &res->compile);
        cJSON_DeleteItemFromObjectCaseSensitive(st, "stdout");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "stderr");
        while (st->child) { /* status, exit_code, signal, wall_ms, ... in their order */
                cJSON *it = cJSON_DetachItemViaPointer(st, st->child);
                cJSON_AddItemToObject(o, it->string, it);
        }
        cJSON_Delete(st);
        dl_send_json(c, o);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        rr_run_t *rd = dl_run_data(r);
        dl_conn_t *c = dl_run_conn(r);
        if (!c)
                return;
        cJSON *o;
        switch (ev->kind) {
        case DL_EV_QUEUED: { /* the first event, while dl_run_start has not returned yet */
                rr_conn_t *cd = dl_conn_data(c);
                rd->nonce = cd->pending;
                cd->pending = NULL;
                break;
        }
        case DL_EV_OUTPUT:
                o = message(rd->nonce, ev->stream == STREAM_STDOUT ? "stdout" : "stderr");
                cJSON_AddStringToObject(o, "stage", stage_kind_name(ev->stage));
                cJSON_AddItemToObject(o, "data", json_bytes_item(ev->data, ev->len));
                dl_send_json(c, o);
                break;
        case DL_EV_DONE:
                send_exit(c, rd->nonce, ev->result);
                break;
        case DL_EV_DROPPED:
                send_error(c, rd->nonce, ev->code, ev->message);
                break;
        case DL_EV_STAGE:
        case DL_EV_EXIT: /* one exit message at the end, from the last stage that ran */
        default:
                break;
        }
}

static void run_free(dl_run_t *r)
{
        rr_run_t *rd = dl_run_data(r);
        cJSON_Delete(rd->nonce);
        rd->nonce = NULL;
}

/* ------------------------------------------------------------------ requests */

static bool nonce_in_use(dl_conn_t *c, const cJSON *nonce)
{
        for (dl_run_t *r = dl_conn_next_run(c, NULL); r; r = dl_conn_next_run(c, r)) {
                const rr_run_t *rd = dl_run_data(r);
                if (rd->nonce && cJSON_Compare(rd->nonce, nonce, true))
                        return true;
        }
        return false;
}

/* An optional string field: absent or null is NULL; *bad when it is something else. */
static const char *opt_string(const cJSON *msg, const char *key, bool *bad)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(msg, key);
        if (!it || cJSON_IsNull(it))
                return NULL;
        if (!cJSON_IsString(it))
                *bad = true;
        return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* The language in any ASCII case: the document writes "C++", "Javascript". */
static void lower_language(const char *in, char lang[LANGUAGE_MAX + 1])
{
        size_t n = strlen(in);
        if (n > LANGUAGE_MAX)
                n = LANGUAGE_MAX; /* no name is that long: it stays unknown */
        for (size_t i = 0; i < n; i++)
                lang[i] = (char)tolower((unsigned char)in[i]);
        lang[n] = '\0';
}

/* A run request, or with launch (the function's name) a launch of delivered code. */
static void start(dl_conn_t *c, const cJSON *msg, const char *launch)
{
        const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(msg, "nonce");
        const cJSON *jl = cJSON_GetObjectItemCaseSensitive(msg, "language");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(msg, "source");
        bool bad_in = false, bad_args = false;
        const char *in = opt_string(msg, "standard_input", &bad_in);
        const char *args = opt_string(msg, "commandline_arguments", &bad_args);
        if (!launch && !cJSON_IsString(jl)) {
                send_error(c, nonce, "bad_request", "\"language\" (a string) is required");
                return;
        }
        if (!launch && !cJSON_IsString(js)) {
                send_error(c, nonce, "bad_request", "\"source\" (a string) is required");
                return;
        }
        if (bad_in || bad_args) {
                send_error(c, nonce, "bad_request",
                           bad_in ? "\"standard_input\" must be a string"
                                  : "\"commandline_arguments\" must be a string");
                return;
        }
        if (nonce && nonce_in_use(c, nonce)) {
                send_error(c, nonce, "nonce_in_use", "a run with this nonce is still going");
                return;
        }
        strv_t argv = {0};
        rc_err_t err = {0};
        char emsg[600];
        if (shell_split(args, &argv, &err) < 0) {
                snprintf(emsg, sizeof(emsg), "commandline_arguments: %s", err.msg);
                send_error(c, nonce, "bad_request", emsg);
                return;
        }
        cJSON *doc = cJSON_CreateObject();
        if (launch) {
                cJSON_AddStringToObject(doc, "function", launch);
        } else {
                char lang[LANGUAGE_MAX + 1];
                lower_language(jl->valuestring, lang);
                cJSON_AddStringToObject(doc, "language", lang);
                cJSON_AddStringToObject(doc, "source", js->valuestring);
        }
        if (in)
                cJSON_AddStringToObject(doc, "stdin", in);
        cJSON *ja = cJSON_AddArrayToObject(doc, "args");
        for (size_t i = 0; i < argv.n; i++)
                cJSON_AddItemToArray(ja, cJSON_CreateString(argv.v[i]));
        strv_free(&argv);

        static unsigned long seq;
        char id[32];
        snprintf(id, sizeof(id), "rr%lu", ++seq);
        rr_conn_t *cd = dl_conn_data(c);
        cd->pending = nonce ? cJSON_Duplicate(nonce, 1) : NULL;
        dl_error_t e;
        if (!dl_run_start(c, NULL, doc, id, &e))
                send_error(c, nonce, e.code, e.message);
        cJSON_Delete(cd->pending); /* still here when the run was refused */
        cd->pending = NULL;
}

/* A deploy of delivered code is over: "delivered" with its version, or an error (a compile
 * error carries the compiler's output). */
static void delivered(dl_conn_t *c, const cJSON *tag, int status, const cJSON *answer)
{
        const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(tag, "nonce");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(tag, "id");
        if (status < 300) {
                cJSON *o = message(nonce, "delivered");
                cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(answer, "version");
                cJSON_AddNumberToObject(o, "version", cJSON_IsNumber(v) ? v->valuedouble : 0);
                dl_send_json(c, o);
                return;
        }
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(answer, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(e, "message");
        cJSON *o = message(nonce, "error");
        cJSON_AddStringToObject(o, "code", cJSON_IsString(code) ? code->valuestring : "internal");
        cJSON_AddStringToObject(o, "message",
                                cJSON_IsString(text) ? text->valuestring : "the deploy failed");
        const cJSON *comp = cJSON_GetObjectItemCaseSensitive(answer, "compile");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(comp, "stderr");
        if (cJSON_IsString(err))
                cJSON_AddStringToObject(o, "stderr", err->valuestring);
        dl_send_json(c, o);
}

/* {"type": "deliver", "id": NAME, "language", "source", "nonce"}: compiled and kept as the
 * function NAME (a new version when it is there already). */
static void deliver(dl_conn_t *c, const cJSON *msg)
{
        const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(msg, "nonce");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        const cJSON *jl = cJSON_GetObjectItemCaseSensitive(msg, "language");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(msg, "source");
        if (!cJSON_IsString(id) || !cJSON_IsString(jl) || !cJSON_IsString(js)) {
                send_error(c, nonce, "bad_request",
                           "deliver takes \"id\", \"language\" and \"source\" (strings)");
                return;
        }
        char lang[LANGUAGE_MAX + 1];
        lower_language(jl->valuestring, lang);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", lang);
        cJSON_AddStringToObject(doc, "source", js->valuestring);
        cJSON *tag = cJSON_CreateObject();
        cJSON_AddItemToObject(tag, "nonce", nonce ? cJSON_Duplicate(nonce, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(tag, "id", cJSON_Duplicate(id, 1));
        dl_fn_deploy_conn(c, id->valuestring, doc, delivered, tag);
}

/* {"type": "kill", "nonce"}: the run with that nonce ends ("killed"). */
static void kill_run(dl_conn_t *c, const cJSON *msg)
{
        const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(msg, "nonce");
        for (dl_run_t *r = dl_conn_next_run(c, NULL); nonce && r; r = dl_conn_next_run(c, r)) {
                const rr_run_t *rd = dl_run_data(r);
                if (rd->nonce && cJSON_Compare(rd->nonce, nonce, true)) {
                        dl_run_kill(r, SIGKILL);
                        return;
                }
        }
        send_error(c, nonce, "not_found", "no run with this nonce is going");
}

static void ws_message(dl_conn_t *c, const char *data, size_t len, bool binary)
{
        if (!data) {
                send_error(c, NULL, "too_large", "the message is over the size limit");
                return;
        }
        if (binary) {
                send_error(c, NULL, "bad_request", "binary messages are not accepted: send JSON");
                return;
        }
        char why[160], emsg[240];
        cJSON *msg = json_parse_strict(data, len, why, sizeof(why));
        if (!cJSON_IsObject(msg)) {
                snprintf(emsg, sizeof(emsg), "a message is one JSON object%s%s", msg ? "" : ": ",
                         msg ? "" : why);
                send_error(c, NULL, "bad_request", emsg);
        } else if (!dl_json_depth_ok(msg)) {
                send_error(c, NULL, "bad_request", "the message is nested too deeply");
        } else if (!dl_echo_ok(cJSON_GetObjectItemCaseSensitive(msg, "nonce"))) {
                snprintf(emsg, sizeof(emsg), "\"nonce\" is over %d bytes (as JSON)", DL_ECHO_MAX);
                send_error(c, NULL, "bad_request", emsg);
        } else {
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
                const char *t = cJSON_IsString(type) ? type->valuestring : "";
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
                if (strcmp(t, "ping") == 0)
                        dl_send_json(
                            c, message(cJSON_GetObjectItemCaseSensitive(msg, "nonce"), "pong"));
                else if (strcmp(t, "deliver") == 0)
                        deliver(c, msg);
                else if (strcmp(t, "kill") == 0)
                        kill_run(c, msg);
                else if (strcmp(t, "launch") == 0 && !cJSON_IsString(id))
                        send_error(c, cJSON_GetObjectItemCaseSensitive(msg, "nonce"), "bad_request",
                                   "launch takes \"id\": the delivered code's");
                else if (strcmp(t, "launch") == 0)
                        start(c, msg, id->valuestring);
                else
                        start(c, msg, NULL);
        }
        cJSON_Delete(msg);
}

static void ws_open(dl_conn_t *c, int tag)
{
        (void)tag;
        dl_conn_idle_timeout(c, idle_ms);
}

static void ws_close(dl_conn_t *c)
{
        rr_conn_t *cd = dl_conn_data(c);
        cJSON_Delete(cd->pending);
        cd->pending = NULL;
}

static const dl_route_t routes[] = {
    {"", DL_WS, 0},
};

const dialect_t dialect_roadrunner = {
    .name = "roadrunner",
    .base = "/ws",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .conn_size = sizeof(rr_conn_t),
    .run_size = sizeof(rr_run_t),
    .configure = configure,
    .ws_open = ws_open,
    .ws_message = ws_message,
    .ws_close = ws_close,
    .run_event = run_event,
    .run_free = run_free,
};
