/* codapi (nalgeon/codapi) and its widget @antonz/codapi: POST /v1/exec with {sandbox, version,
 * command, files} answered by an execution {id, ok, duration, stdout, stderr}; HEAD/GET
 * /v1/health. docs/dialects.md ("codapi") describes the mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"

enum { R_EXEC, R_HEALTH };

typedef struct codapi_run {
        buf_t all;       /* the current stage's stdout and stderr, in arrival order */
        int64_t t_start; /* when the first stage started; 0: not yet */
} codapi_run_t;

/* An execution as codapi writes it, for answers and refusals alike. */
static cJSON *execution(const char *id, bool ok, int64_t duration, const char *out, size_t outlen,
                        const char *err, size_t errlen)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddBoolToObject(o, "ok", ok);
        cJSON_AddNumberToObject(o, "duration", (double)duration);
        cJSON_AddItemToObject(o, "stdout", json_bytes_item(out, outlen));
        cJSON_AddItemToObject(o, "stderr", json_bytes_item(err, errlen));
        return o;
}

/* codapi's refusals are executions too: ok false, the reason in stderr. */
static void refuse(dl_http_t *h, int status, const char *id, const char *msg)
{
        dl_http_json(h, status, execution(id, false, 0, "", 0, msg, strlen(msg)));
}

/* ------------------------------------------------------------------ results */

static bool is_space(char c)
{
        return c == ' ' || (c >= '\t' && c <= '\r');
}

/* A failed step: codapi puts what the program printed (both streams) in stderr, followed by
 * the exit status as Go reports it; the exit status of a program killed by a signal is the
 * shell's and docker's 128 + signal. */
static void failure_text(const codapi_run_t *cr, const stage_result_t *st, buf_t *out)
{
        size_t n = cr->all.len;
        while (n && is_space(cr->all.data[n - 1]))
                n--;
        int code = st->exit_code >= 0 ? st->exit_code : st->signal ? 128 + st->signal : 1;
        if (n) {
                buf_append(out, cr->all.data, n);
                buf_printf(out, " (exit status %d)", code);
        } else {
                buf_printf(out, "exit status %d", code);
        }
}

static void answer_done(dl_http_t *h, dl_run_t *r, const job_result_t *res)
{
        codapi_run_t *cr = dl_run_data(r);
        const char *id = dl_run_id(r);
        int64_t duration = cr->t_start ? dl_now_ms() - cr->t_start : 0;
        const stage_result_t *last = res->run.present ? &res->run : &res->compile;
        bool ok = last->status == STATUS_OK &&
                  (!res->compile.present || res->compile.status == STATUS_OK);
        if (ok) {
                dl_http_json(h, 200,
                             execution(id, true, duration, last->out.data, last->out.len,
                                       last->err.data, last->err.len));
                return;
        }
        if (last->status == STATUS_INTERNAL_ERROR) {
                dl_http_json(h, 500, execution(id, false, duration, "", 0, "internal error", 14));
                return;
        }
        if (last->status == STATUS_TIME_LIMIT) {
                static const char timeout[] = "code execution timeout";
                dl_http_json(h, 200,
                             execution(id, false, duration, "", 0, timeout, sizeof(timeout) - 1));
                return;
        }
        buf_t msg = {0};
        failure_text(cr, last, &msg);
        dl_http_json(h, 200,
                     execution(id, false, duration, "", 0, msg.data ? msg.data : "", msg.len));
        buf_free(&msg);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        codapi_run_t *cr = dl_run_data(r);
        dl_http_t *h = dl_run_http(r);
        switch (ev->kind) {
        case DL_EV_STAGE: /* a failed step's output is that step's alone */
                if (!cr->t_start)
                        cr->t_start = dl_now_ms();
                cr->all.len = 0;
                break;
        case DL_EV_OUTPUT:
                buf_append(&cr->all, ev->data, ev->len);
                break;
        case DL_EV_DONE:
                if (h)
                        answer_done(h, r, ev->result);
                break;
        case DL_EV_DROPPED:
                if (h)
                        refuse(h, 503, dl_run_id(r), ev->message);
                break;
        default:
                break;
        }
}

static void run_free(dl_run_t *r)
{
        codapi_run_t *cr = dl_run_data(r);
        buf_free(&cr->all);
}

/* ------------------------------------------------------------------ requests */

/* A field codapi decodes into a Go string: absent and null are "", another type is an error. */
static int get_string(const cJSON *req, const char *key, const char **out, char *msg, size_t size)
{
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(req, key);
        *out = "";
        if (!it || cJSON_IsNull(it))
                return 0;
        if (!cJSON_IsString(it)) {
                snprintf(msg, size,
                         "json: cannot unmarshal %s into Go struct field Request.%s "
                         "of type string",
                         cJSON_IsNumber(it)  ? "number"
                         : cJSON_IsBool(it)  ? "bool"
                         : cJSON_IsArray(it) ? "array"
                                             : "object",
                         key);
                return -1;
        }
        *out = it->valuestring;
        return 0;
}

/* The files map: {"": main file, "name": content, ...}; -1 (with msg) when it is not one. */
static int check_files(const cJSON *files, char *msg, size_t size)
{
        if (!files || cJSON_IsNull(files))
                return 0;
        if (!cJSON_IsObject(files)) {
                snprintf(msg, size,
                         "json: cannot unmarshal %s into Go struct field "
                         "Request.files of type engine.Files",
                         cJSON_IsArray(files)    ? "array"
                         : cJSON_IsString(files) ? "string"
                                                 : "value");
                return -1;
        }
        const cJSON *f;
        cJSON_ArrayForEach(f, files)
        {
                if (!cJSON_IsString(f)) {
                        snprintf(msg, size,
                                 "json: cannot unmarshal %s into Go struct field "
                                 "Request.files of type string",
                                 cJSON_IsNumber(f) ? "number" : "value");
                        return -1;
                }
        }
        return 0;
}

static bool empty_request(const cJSON *files)
{
        int n = files && cJSON_IsObject(files) ? cJSON_GetArraySize(files) : 0;
        if (n >= 2)
                return false;
        if (n == 0)
                return true;
        for (const char *p = files->child->valuestring; *p; p++)
                if (!is_space(*p))
                        return false;
        return true;
}

/* The toolchain of tc's language whose version answers want: "" and "latest" the newest
 * built, else the newest whose version starts with want's numbers ("3", "3.11", "3.11.2" for
 * Python 3.11.2); NULL when none does. */
static const toolchain_t *find_version(const toolchain_t *tc, const char *want)
{
        if (!*want || strcmp(want, "latest") == 0)
                want = NULL;
        else if (strcmp(want, "*") == 0 || strcmp(want, "x") == 0 || strcmp(want, "X") == 0)
                return NULL; /* not codapi's wildcards: it knows "" and "latest" */
        const toolchain_t *found = NULL;
        rc_err_t err = {0};
        return catalog_find(dl_catalog(), tc->name, want, &found, &err) < 0 ? NULL : found;
}

/* The run document: the "" file (or the one named as the language's source file, else the
 * first) is the entry point and goes first. */
static cJSON *run_doc(const toolchain_t *tc, const cJSON *files)
{
        char *version = catalog_version(dl_catalog(), tc);
        const cJSON *entry = cJSON_GetObjectItemCaseSensitive(files, "");
        if (!entry)
                entry = cJSON_GetObjectItemCaseSensitive(files, tc->source_file);
        if (!entry)
                entry = files->child;
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", tc->name);
        if (version) /* the version found, exactly: the language may have several */
                cJSON_AddStringToObject(doc, "version", version);
        free(version);
        cJSON *arr = cJSON_AddArrayToObject(doc, "files");
        for (int pass = 0; pass < 2; pass++) {
                const cJSON *f;
                cJSON_ArrayForEach(f, files)
                {
                        if ((pass == 0) != (f == entry))
                                continue;
                        cJSON *o = cJSON_CreateObject();
                        if (*f->string)
                                cJSON_AddStringToObject(o, "name", f->string);
                        cJSON_AddStringToObject(o, "content", f->valuestring);
                        cJSON_AddItemToArray(arr, o);
                }
        }
        return doc;
}

static void exec_request(dl_http_t *h, const char *body, size_t len)
{
        char msg[300];
        char why[160];
        cJSON *req = json_parse_strict(body, len, why, sizeof(why));
        if (!cJSON_IsObject(req)) {
                snprintf(msg, sizeof(msg), "invalid request: %s",
                         req ? "the body must be a JSON object" : why);
                cJSON_Delete(req);
                refuse(h, 400, "-", msg);
                return;
        }
        if (!dl_json_depth_ok(req)) {
                cJSON_Delete(req);
                refuse(h, 400, "-", "invalid request: the body is nested too deeply");
                return;
        }
        const char *sandbox, *version, *command;
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(req, "files");
        if (get_string(req, "sandbox", &sandbox, msg, sizeof(msg)) < 0 ||
            get_string(req, "version", &version, msg, sizeof(msg)) < 0 ||
            get_string(req, "command", &command, msg, sizeof(msg)) < 0 ||
            check_files(files, msg, sizeof(msg)) < 0) {
                cJSON_Delete(req);
                refuse(h, 400, "-", msg);
                return;
        }
        /* the execution id as codapi makes it: sandbox[_version]_command_8 hex digits */
        char id[160], hex[9];
        dl_random_hex(hex, 4);
        if (*version)
                snprintf(id, sizeof(id), "%.40s_%.30s_%.30s_%s", sandbox, version, command, hex);
        else
                snprintf(id, sizeof(id), "%.40s_%.30s_%s", sandbox, command, hex);
        const toolchain_t *tc = *sandbox ? toolchain_set_find(&dl_catalog()->set, sandbox) : NULL;
        if (!tc) {
                refuse(h, 404, id, "unknown sandbox");
        } else if (strcmp(command, "run") != 0) {
                refuse(h, 404, id, "unknown command");
        } else if (empty_request(files)) {
                refuse(h, 400, id, "empty request");
        } else if (!(tc = find_version(tc, version))) {
                /* codapi finds no box for the version: a failed execution, not a refusal */
                const toolchain_t *lang = toolchain_set_find(&dl_catalog()->set, sandbox);
                snprintf(msg, sizeof(msg), "unknown box %s:%.60s", lang->name, version);
                dl_http_json(h, 200, execution(id, false, 0, "", 0, msg, strlen(msg)));
        } else {
                dl_error_t e;
                if (!dl_run_start(NULL, h, run_doc(tc, files), id, &e)) {
                        if (strcmp(e.code, "bad_request") == 0) /* file names: as codapi does */
                                dl_http_json(
                                    h, 200,
                                    execution(id, false, 0, "", 0, e.message, strlen(e.message)));
                        else if (strcmp(e.code, "busy") == 0)
                                refuse(h, 429, id, "busy: try again later");
                        else if (strcmp(e.code, "too_large") == 0 ||
                                 strcmp(e.code, "shutting_down") == 0)
                                refuse(h, dl_error_status(e.code), id, e.message);
                        else
                                refuse(h, 500, id, "internal error");
                }
        }
        cJSON_Delete(req);
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        if (tag == R_HEALTH) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "status", "ok");
                dl_http_json(h, 200, o);
        } else if (method != DL_POST) {
                refuse(h, 405, "-",
                       method == DL_HEAD ? "unsupported method: HEAD" : "unsupported method: GET");
        } else {
                exec_request(h, body, len);
        }
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        refuse(h, 413, "-", "request too large");
}

/* POST /v1/exec is shared with ranna: codapi's requests name a sandbox. */
static bool claims(const cJSON *body)
{
        return cJSON_IsObject(body) && cJSON_GetObjectItemCaseSensitive(body, "sandbox");
}

static const dl_route_t routes[] = {
    {"/exec", DL_POST | DL_GET, R_EXEC},
    {"/health", DL_GET, R_HEALTH},
};

const dialect_t dialect_codapi = {
    .name = "codapi",
    .base = "/v1",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(codapi_run_t),
    .claims = claims,
    .http = http,
    .http_too_large = http_too_large,
    .run_event = run_event,
    .run_free = run_free,
};
