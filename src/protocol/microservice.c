/* The code execution microservice (seed 001): POST / with {"lang", "code"} answered by the
 * program's output and whether an error occurred. docs/dialects.md ("microservice") gives the
 * answer's shape, which the original document leaves open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job/limits.h"
#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"

typedef struct ms_run {
        buf_t compile; /* the compiler's stdout and stderr, in arrival order */
} ms_run_t;

/* Dialect options: limits for every run ("limits", "compile_limits"), as runcell's own run
 * requests give them; the server clamps them to its limit maxima. */
static cJSON *opt_limits, *opt_compile_limits;

static bool is_space(char c)
{
        return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Every answer has one shape: what the program printed, whether an error occurred and what
 * happened; a refusal says why in "output". */
static cJSON *answer(const char *out, size_t len, bool error, const char *status)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "output", json_bytes_item(out, len));
        cJSON_AddBoolToObject(o, "error", error);
        cJSON_AddStringToObject(o, "status", status);
        return o;
}

static void refuse(dl_http_t *h, int status, const char *code, const char *msg)
{
        dl_http_json(h, status, answer(msg, strlen(msg), true, code));
}

/* ------------------------------------------------------------------ results */

static void answer_done(dl_http_t *h, dl_run_t *r, const job_result_t *res)
{
        ms_run_t *mr = dl_run_data(r);
        bool compile_failed = res->compile.present && res->compile.status != STATUS_OK;
        const stage_result_t *last =
            compile_failed || !res->run.present ? &res->compile : &res->run;
        /* stdout with the surrounding white space trimmed, as the original answers */
        const char *out = "";
        size_t n = 0;
        if (!compile_failed && res->run.present) {
                out = res->run.out.data ? res->run.out.data : "";
                n = res->run.out.len;
                while (n && is_space(*out)) {
                        out++;
                        n--;
                }
                while (n && is_space(out[n - 1]))
                        n--;
        }
        cJSON *o = answer(out, n, last->status != STATUS_OK, stage_status_name(last->status));
        if (compile_failed)
                cJSON_AddItemToObject(o, "stderr",
                                      json_bytes_item(mr->compile.data, mr->compile.len));
        else
                cJSON_AddItemToObject(o, "stderr", json_bytes_item(last->err.data, last->err.len));
        dl_http_json(h, last->status == STATUS_INTERNAL_ERROR ? 500 : 200, o);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        ms_run_t *mr = dl_run_data(r);
        dl_http_t *h = dl_run_http(r);
        if (ev->kind == DL_EV_OUTPUT && ev->stage == STAGE_COMPILE)
                buf_append(&mr->compile, ev->data, ev->len);
        else if (ev->kind == DL_EV_DONE && h)
                answer_done(h, r, ev->result);
        else if (ev->kind == DL_EV_DROPPED && h)
                refuse(h, 503, ev->code, ev->message);
}

static void run_free(dl_run_t *r)
{
        ms_run_t *mr = dl_run_data(r);
        buf_free(&mr->compile);
}

/* ------------------------------------------------------------------ requests */

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        (void)tag;
        (void)method;
        char msg[200];
        char why[160];
        cJSON *req = json_parse_strict(body, len, why, sizeof(why));
        if (!cJSON_IsObject(req) || !dl_json_depth_ok(req)) {
                snprintf(msg, sizeof(msg), "cannot decode the request body: %s",
                         !req                  ? why
                         : cJSON_IsObject(req) ? "it is nested too deeply"
                                               : "it must be a JSON object");
                refuse(h, 400, "bad_request", msg);
                cJSON_Delete(req);
                return;
        }
        const cJSON *lang = cJSON_GetObjectItemCaseSensitive(req, "lang");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(req, "code");
        if (!cJSON_IsString(lang)) {
                refuse(h, 400, "bad_request", "\"lang\" (a string) is required");
        } else if (!cJSON_IsString(code)) {
                refuse(h, 400, "bad_request", "\"code\" (a string) is required");
        } else if (!toolchain_set_find(&dl_catalog()->set, lang->valuestring)) {
                snprintf(msg, sizeof(msg), "Language %.100s not supported", lang->valuestring);
                refuse(h, 400, "unknown_language", msg);
        } else {
                cJSON *doc = cJSON_CreateObject();
                cJSON_AddStringToObject(doc, "language", lang->valuestring);
                cJSON_AddStringToObject(doc, "source", code->valuestring);
                if (opt_limits)
                        cJSON_AddItemToObject(doc, "limits", cJSON_Duplicate(opt_limits, 1));
                if (opt_compile_limits)
                        cJSON_AddItemToObject(doc, "compile_limits",
                                              cJSON_Duplicate(opt_compile_limits, 1));
                static unsigned long seq;
                char id[32];
                snprintf(id, sizeof(id), "ms%lu", ++seq);
                dl_error_t e;
                if (!dl_run_start(NULL, h, doc, id, &e))
                        refuse(h,
                               strcmp(e.code, "unknown_language") == 0 ? 400
                                                                       : dl_error_status(e.code),
                               e.code, e.message);
        }
        cJSON_Delete(req);
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        refuse(h, 413, "too_large", "the request body is over the size limit");
}

/* POST / is shared with pivot-lang's coderunner: the microservice's requests name a lang. */
static bool claims(const cJSON *body)
{
        return cJSON_IsObject(body) && cJSON_GetObjectItemCaseSensitive(body, "lang");
}

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *o;
        cJSON_ArrayForEach(o, opts)
        {
                bool compile = strcmp(o->string, "compile_limits") == 0;
                if (!compile && strcmp(o->string, "limits") != 0)
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", o->string);
                rc_limits_t lim;
                memset(&lim, 0, sizeof(lim));
                if (limits_from_json(o, &lim, o->string, err) < 0)
                        return -1;
                cJSON **slot = compile ? &opt_compile_limits : &opt_limits;
                cJSON_Delete(*slot);
                if (!(*slot = cJSON_Duplicate(o, 1)))
                        return rc_err_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

static const dl_route_t routes[] = {
    {"", DL_POST, 0},
};

const dialect_t dialect_microservice = {
    .name = "microservice",
    .base = "/",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(ms_run_t),
    .configure = configure,
    .claims = claims,
    .http = http,
    .http_too_large = http_too_large,
    .run_event = run_event,
    .run_free = run_free,
};
