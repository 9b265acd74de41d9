/* Functions over HTTP (docs/protocol.md, "Functions"): the management API under
 * /api/v1/functions (deploy, list, show, versions, rollback, delete), invocations
 * (POST /api/v1/functions/NAME/invoke: the body is stdin, the answer is stdout with the
 * verdict in X-Runcell-* headers, or a JSON envelope), and a CGI-mode function as a web
 * handler at /fn/NAME/... (CGI/1.1, RFC 3875: the request in the standard variables and on
 * stdin, the program's CGI response parsed into the HTTP answer).
 *
 * The server keeps the functions and runs them (server/functions.c); this codec only maps
 * HTTP onto those calls and a run's result onto HTTP. Every answer a function's program makes
 * carries "Content-Security-Policy: sandbox": its HTML is a page of an opaque origin that cannot
 * script the playground or call the API with its cookies. */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/dialect.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/jsonstrict.h"

enum { R_LIST, R_ONE, R_WEB };

typedef struct fn_run {
        bool cgi;      /* parse the output as a CGI response */
        bool envelope; /* answer a JSON envelope */
        char content_type[128];
        char name[64];
} fn_run_t;

static void http_error(dl_http_t *h, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void http_error(dl_http_t *h, int status, const char *code, const char *fmt, ...)
{
        char msg[600];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        cJSON *o = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", msg);
        dl_http_json(h, status, o);
}

static void answer(dl_http_t *h, int status, cJSON *body)
{
        dl_http_json(h, status, body);
}

/* ------------------------------------------------------------------ CGI */

static void env_add(cJSON *env, const char *k, const char *v)
{
        if (v)
                cJSON_AddStringToObject(env, k, v);
}

/* "user-agent:" -> "HTTP_USER_AGENT" */
static void cgi_header_var(const char *hdr, char *out, size_t size)
{
        size_t o = (size_t)snprintf(out, size, "HTTP_");
        for (const char *p = hdr; *p && *p != ':' && o + 1 < size; p++)
                out[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        out[o] = '\0';
}

/* The CGI/1.1 meta-variables of this request (RFC 3875, 4.1). */
static cJSON *cgi_env(dl_http_t *h, const char *name, const char *path_info, size_t body_len,
                      const dl_fn_info_t *info)
{
        cJSON *env = cJSON_CreateObject();
        char buf[2048], var[96];
        env_add(env, "GATEWAY_INTERFACE", "CGI/1.1");
        env_add(env, "SERVER_PROTOCOL", "HTTP/1.1");
        env_add(env, "SERVER_SOFTWARE", "runcell");
        env_add(env, "REQUEST_METHOD", dl_http_method_name(h));
        snprintf(buf, sizeof(buf), "/fn/%s", name);
        env_add(env, "SCRIPT_NAME", buf);
        env_add(env, "PATH_INFO", path_info);
        env_add(env, "QUERY_STRING", dl_http_query(h, buf, sizeof(buf)));
        dl_http_peer(h, buf, sizeof(buf));
        env_add(env, "REMOTE_ADDR", buf);
        snprintf(buf, sizeof(buf), "%d", dl_http_server_port());
        env_add(env, "SERVER_PORT", buf);
        const char *host = dl_http_req_header(h, "host:", buf, sizeof(buf));
        if (host) {
                char sn[256];
                snprintf(sn, sizeof(sn), "%s", host);
                char *colon = strrchr(sn, ':');
                if (colon && !strchr(sn, ']'))
                        *colon = '\0';
                env_add(env, "SERVER_NAME", sn);
        } else {
                env_add(env, "SERVER_NAME", "localhost");
        }
        if (body_len) {
                snprintf(buf, sizeof(buf), "%zu", body_len);
                env_add(env, "CONTENT_LENGTH", buf);
        }
        if (dl_http_req_header(h, "content-type:", buf, sizeof(buf)))
                env_add(env, "CONTENT_TYPE", buf);
        static const char *const headers[] = {
            "host:",          "accept:",          "accept-language:",   "accept-encoding:",
            "user-agent:",    "cookie:",          "referer:",           "origin:",
            "if-none-match:", "cache-control:",   "if-modified-since:", "content-type:",
            "range:",         "x-forwarded-for:",
        };
        for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
                if (dl_http_req_header(h, headers[i], buf, sizeof(buf))) {
                        cgi_header_var(headers[i], var, sizeof(var));
                        env_add(env, var, buf);
                }
        for (int i = 0; i < info->ncgi; i++) {
                char hn[80];
                snprintf(hn, sizeof(hn), "%s:", info->cgi_headers[i]);
                if (dl_http_req_header(h, hn, buf, sizeof(buf))) {
                        cgi_header_var(hn, var, sizeof(var));
                        if (!cJSON_GetObjectItemCaseSensitive(env, var))
                                env_add(env, var, buf);
                }
        }
        return env;
}

static bool hop_by_hop(const char *name)
{
        static const char *const drop[] = {"connection",
                                           "keep-alive",
                                           "transfer-encoding",
                                           "content-length",
                                           "upgrade",
                                           "te",
                                           "trailer",
                                           "proxy-authenticate",
                                           "status",
                                           "content-type",
                                           "x-content-type-options",
                                           "content-security-policy"};
        for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
                if (strcasecmp(name, drop[i]) == 0)
                        return true;
        return strncasecmp(name, "x-runcell-", 10) == 0;
}

static bool token_char(char c)
{
        return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c);
}

/* A CGI response (RFC 3875, 6): header lines, a blank line, the body. Answers h; false (and
 * nothing answered) when out is not one. */
static bool cgi_answer(dl_http_t *h, const char *out, size_t len)
{
        /* the end of the header: the first empty line (LF or CRLF endings) */
        size_t body = 0, end = 0;
        bool found = false;
        for (size_t i = 0; i < len && i < 65536; i++) {
                if (out[i] != '\n')
                        continue;
                size_t next = i + 1;
                if (next < len && out[next] == '\n') {
                        end = i + 1;
                        body = next + 1;
                        found = true;
                        break;
                }
                if (next + 1 < len && out[next] == '\r' && out[next + 1] == '\n') {
                        end = i + 1;
                        body = next + 2;
                        found = true;
                        break;
                }
        }
        if (!found)
                return false;
        int status = 0;
        char ctype[1024] = "", location[1024] = "";
        bool any = false;
        const char *p = out, *stop = out + end;
        typedef struct {
                char name[64];
                char value[1024];
        } hv_t;
        static hv_t extra[24];
        int nextra = 0;
        while (p < stop) {
                const char *nl = memchr(p, '\n', (size_t)(stop - p));
                size_t ll = (size_t)((nl ? nl : stop) - p);
                if (ll && p[ll - 1] == '\r')
                        ll--;
                const char *colon = memchr(p, ':', ll);
                if (!colon || colon == p)
                        return false;
                size_t nl_ = (size_t)(colon - p);
                for (size_t i = 0; i < nl_; i++)
                        if (!token_char(p[i]))
                                return false;
                const char *v = colon + 1;
                while (v < p + ll && (*v == ' ' || *v == '\t'))
                        v++;
                size_t vl = (size_t)(p + ll - v);
                char name[62], value[1024];
                if (nl_ >= sizeof(name) || vl >= sizeof(value))
                        return false;
                memcpy(name, p, nl_);
                name[nl_] = '\0';
                memcpy(value, v, vl);
                value[vl] = '\0';
                for (size_t i = 0; i < vl; i++)
                        if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
                                return false;
                any = true;
                if (strcasecmp(name, "status") == 0) {
                        char *e;
                        long s = strtol(value, &e, 10);
                        if (s < 100 || s > 599 || (*e && *e != ' '))
                                return false;
                        status = (int)s;
                } else if (strcasecmp(name, "content-type") == 0) {
                        snprintf(ctype, sizeof(ctype), "%s", value);
                } else if (strcasecmp(name, "location") == 0) {
                        snprintf(location, sizeof(location), "%s", value);
                } else if (!hop_by_hop(name) && nextra < (int)(sizeof(extra) / sizeof(extra[0]))) {
                        size_t n = strlen(name);
                        memcpy(extra[nextra].name, name, n);
                        memcpy(extra[nextra].name + n, ":", 2);
                        snprintf(extra[nextra].value, sizeof(extra[nextra].value), "%s", value);
                        nextra++;
                }
                p = nl ? nl + 1 : stop;
        }
        if (!any || (!ctype[0] && !location[0] && !status))
                return false;
        if (location[0]) {
                dl_http_header(h, "location:", location);
                if (!status)
                        status = 302;
        }
        for (int i = 0; i < nextra; i++)
                dl_http_header(h, extra[i].name, extra[i].value);
        if (strlen(ctype) >= 150)
                return false;
        dl_http_text(h, status ? status : 200, ctype[0] ? ctype : "text/plain", out + body,
                     len - body);
        return true;
}

/* ------------------------------------------------------------------ invoking */

static void invoke(dl_http_t *h, const char *name, const char *body, size_t len, bool web,
                   const char *path_info)
{
        char arg[64];
        const char *val;
        int version = 0;
        if ((val = dl_http_arg(h, "version", arg, sizeof(arg)))) {
                char *e;
                long v = strtol(val, &e, 10);
                if (*e || v < 1 || v > 1000000000) {
                        http_error(h, 400, "bad_request", "?version= must be a version number");
                        return;
                }
                version = (int)v;
        }
        dl_fn_info_t info;
        if (!dl_fn_info(name, version, &info)) {
                if (version)
                        http_error(h, 404, "not_found", "no function \"%s\" version %d", name,
                                   version);
                else
                        http_error(h, 404, "not_found", "no function \"%s\"", name);
                return;
        }
        bool cgi = strcmp(info.mode, "cgi") == 0;
        if (web && !cgi) {
                http_error(h, 404, "not_found",
                           "function \"%s\" is not a web handler (its mode is %s, not cgi)", name,
                           info.mode);
                return;
        }
        if (strcmp(info.mode, "json") == 0) {
                char why[160];
                cJSON *ev = json_parse_strict(body, len, why, sizeof(why));
                if (!ev) {
                        http_error(h, 400, "bad_request",
                                   "function \"%s\" takes a JSON document: %s", name, why);
                        return;
                }
                cJSON_Delete(ev);
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "function", name);
        if (version)
                cJSON_AddNumberToObject(doc, "function_version", version);
        /* the body as it came: a string of its bytes, or base64 when it holds a NUL */
        buf_t b = {0};
        bool b64 = memchr(body, '\0', len) != NULL;
        if (b64 ? base64_append(&b, body, len) : buf_append(&b, body, len)) {
                buf_free(&b);
                cJSON_Delete(doc);
                http_error(h, 500, "internal", "out of memory");
                return;
        }
        buf_append(&b, "", 1); /* its NUL */
        cJSON_AddStringToObject(doc, "stdin", b.data);
        if (b64)
                cJSON_AddStringToObject(doc, "stdin_encoding", "base64");
        buf_free(&b);
        if (cgi)
                cJSON_AddItemToObject(doc, "env",
                                      cgi_env(h, name, path_info ? path_info : "", len, &info));
        bool envelope = false;
        char acc[160];
        if ((val = dl_http_arg(h, "envelope", arg, sizeof(arg))))
                envelope = strcmp(val, "0") != 0 && strcmp(val, "false") != 0;
        else if (!web && !cgi && dl_http_req_header(h, "accept:", acc, sizeof(acc)) &&
                 strcmp(acc, "application/json") == 0 && strcmp(info.mode, "stdin") == 0)
                envelope = true;
        static unsigned long seq;
        char id[32];
        snprintf(id, sizeof(id), "f%lu", ++seq);
        dl_error_t e;
        dl_run_t *r = dl_run_start(NULL, h, doc, id, &e);
        if (!r) {
                int status = dl_error_status(e.code);
                http_error(h, status, e.code, "%s", e.message);
                return;
        }
        fn_run_t *fr = dl_run_data(r);
        fr->cgi = cgi && !envelope;
        fr->envelope = envelope;
        snprintf(fr->content_type, sizeof(fr->content_type), "%s", info.content_type);
        snprintf(fr->name, sizeof(fr->name), "%s", name);
}

static void verdict_headers(dl_http_t *h, const stage_result_t *res, int version, bool cold)
{
        char b[64];
        dl_http_header(h, "x-runcell-status:", stage_status_name(res->status));
        snprintf(b, sizeof(b), "%d", res->exit_code);
        dl_http_header(h, "x-runcell-exit-code:", b);
        const char *sig = signal_name(res->signal);
        if (sig)
                dl_http_header(h, "x-runcell-signal:", sig);
        snprintf(b, sizeof(b), "%d", version);
        dl_http_header(h, "x-runcell-version:", b);
        dl_http_header(h, "x-runcell-cold:", cold ? "1" : "0");
        snprintf(b, sizeof(b), "%lld", (long long)res->wall_ms);
        dl_http_header(h, "x-runcell-wall-ms:", b);
        if (res->truncated)
                dl_http_header(h, "x-runcell-truncated:", "1");
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        dl_http_t *h = dl_run_http(r);
        if (!h)
                return;
        fn_run_t *fr = dl_run_data(r);
        if (ev->kind == DL_EV_DROPPED) {
                http_error(h, 503, ev->code ? ev->code : "shutting_down", "%s",
                           ev->message ? ev->message : "the server is shutting down");
                return;
        }
        if (ev->kind != DL_EV_DONE || !ev->result)
                return;
        const stage_result_t *res = &ev->result->run;
        int version = 0;
        bool cold = false;
        dl_run_fn(r, &version, &cold);
        dl_http_header(h, "content-security-policy:", "sandbox");
        if (!res->present) {
                res = &ev->result->compile;
                http_error(h, 500, "internal", "the function did not run: %s",
                           res->present && res->error[0] ? res->error : "no run stage");
                return;
        }
        verdict_headers(h, res, version, cold);
        if (fr->envelope) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "status", stage_status_name(res->status));
                cJSON_AddNumberToObject(o, "exit_code", res->exit_code);
                const char *sig = signal_name(res->signal);
                if (sig)
                        cJSON_AddStringToObject(o, "signal", sig);
                else
                        cJSON_AddNullToObject(o, "signal");
                cJSON_AddItemToObject(o, "stdout", json_bytes_item(res->out.data, res->out.len));
                cJSON_AddItemToObject(o, "stderr", json_bytes_item(res->err.data, res->err.len));
                cJSON_AddNumberToObject(o, "wall_ms", (double)res->wall_ms);
                if (res->cpu_ms >= 0)
                        cJSON_AddNumberToObject(o, "cpu_ms", (double)res->cpu_ms);
                else
                        cJSON_AddNullToObject(o, "cpu_ms");
                if (res->memory_kb >= 0)
                        cJSON_AddNumberToObject(o, "memory_kb", (double)res->memory_kb);
                else
                        cJSON_AddNullToObject(o, "memory_kb");
                cJSON_AddNumberToObject(o, "version", version);
                cJSON_AddBoolToObject(o, "cold", cold);
                cJSON_AddBoolToObject(o, "truncated", res->truncated);
                if (res->error[0])
                        cJSON_AddStringToObject(o, "error", res->error);
                dl_http_json(h, res->status == STATUS_INTERNAL_ERROR ? 500 : 200, o);
                return;
        }
        if (res->status == STATUS_INTERNAL_ERROR) {
                http_error(h, 500, "internal", "%s", res->error[0] ? res->error : "internal error");
                return;
        }
        if (fr->cgi) {
                if (res->status != STATUS_OK ||
                    !cgi_answer(h, res->out.data ? res->out.data : "", res->out.len))
                        http_error(h, 502, "bad_gateway",
                                   "function \"%s\" did not answer with a CGI response (%s%s)",
                                   fr->name, stage_status_name(res->status),
                                   res->status == STATUS_OK ? ": no header block" : "");
                return;
        }
        dl_http_text(h, 200, fr->content_type, res->out.data ? res->out.data : "", res->out.len);
}

/* ------------------------------------------------------------------ the routes */

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        cJSON *out = NULL;
        if (tag == R_LIST) {
                if (!dl_http_full_rights(h)) {
                        http_error(h, 403, "forbidden", "this token may only invoke functions");
                        return;
                }
                {
                        int st = dl_fn_list(&out);
                        answer(h, st, out);
                }
                return;
        }
        const char *arg = dl_http_path_arg(h);
        char name[80] = "";
        const char *rest = strchr(arg, '/');
        size_t nl = rest ? (size_t)(rest - arg) : strlen(arg);
        if (nl >= sizeof(name)) {
                http_error(h, 400, "bad_request", "a function's name is at most 63 characters");
                return;
        }
        memcpy(name, arg, nl);
        name[nl] = '\0';
        if (tag == R_WEB) {
                if (!dl_token_may_invoke_http(h, name)) {
                        http_error(h, 403, "forbidden", "this token may not invoke \"%s\"", name);
                        return;
                }
                invoke(h, name, body, len, true, rest ? rest : "");
                return;
        }
        const char *sub = rest ? rest + 1 : "";
        if (strcmp(sub, "invoke") == 0) {
                if (method != DL_POST) {
                        http_error(h, 405, "method_not_allowed", "invoke with POST");
                        return;
                }
                if (!dl_token_may_invoke_http(h, name)) {
                        http_error(h, 403, "forbidden", "this token may not invoke \"%s\"", name);
                        return;
                }
                invoke(h, name, body, len, false, NULL);
                return;
        }
        if (!dl_http_full_rights(h)) {
                http_error(h, 403, "forbidden", "this token may only invoke functions");
                return;
        }
        if (!*sub && method == DL_PUT) {
                char why[160];
                cJSON *doc = json_parse_strict(body, len, why, sizeof(why));
                if (!doc || !cJSON_IsObject(doc)) {
                        cJSON_Delete(doc);
                        http_error(h, 400, "bad_request", "the body must be one JSON object%s%s",
                                   doc ? "" : ": ", doc ? "" : why);
                        return;
                }
                if (!dl_json_depth_ok(doc)) {
                        cJSON_Delete(doc);
                        http_error(h, 400, "bad_request", "the body is nested too deeply");
                        return;
                }
                dl_fn_deploy(h, name, doc);
                return;
        }
        if (!*sub && (method == DL_GET || method == DL_HEAD)) {
                {
                        int st = dl_fn_get(name, &out);
                        answer(h, st, out);
                }
        } else if (!*sub && method == DL_DELETE) {
                {
                        int st = dl_fn_delete(name, &out);
                        answer(h, st, out);
                }
        } else if (strcmp(sub, "versions") == 0 && (method == DL_GET || method == DL_HEAD)) {
                {
                        int st = dl_fn_versions(name, &out);
                        answer(h, st, out);
                }
        } else if (strcmp(sub, "rollback") == 0 && method == DL_POST) {
                int version = 0;
                if (len) {
                        char why[160];
                        cJSON *doc = json_parse_strict(body, len, why, sizeof(why));
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
                        if (!cJSON_IsObject(doc) ||
                            (v && (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
                                   v->valuedouble > INT_MAX ||
                                   v->valuedouble != (double)(int)v->valuedouble))) {
                                cJSON_Delete(doc);
                                http_error(h, 400, "bad_request",
                                           "the body is {} or {\"version\": N}");
                                return;
                        }
                        version = v ? (int)v->valuedouble : 0;
                        cJSON_Delete(doc);
                }
                {
                        int st = dl_fn_rollback(name, version, &out);
                        answer(h, st, out);
                }
        } else if (!*sub || strcmp(sub, "versions") == 0 || strcmp(sub, "rollback") == 0) {
                http_error(h, 405, "method_not_allowed", "wrong method for this path");
        } else {
                http_error(h, 404, "not_found", "no such path");
        }
}

static const dl_route_t routes[] = {
    {"/api/v1/functions", DL_GET, R_LIST},
    {"/api/v1/functions/**", DL_GET | DL_PUT | DL_DELETE | DL_POST, R_ONE},
    {"/fn/**", DL_GET | DL_POST | DL_PUT | DL_DELETE | DL_OPTIONS, R_WEB},
};

const dialect_t dialect_functions = {
    .name = "functions",
    .base = "/",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(fn_run_t),
    .http = http,
    .run_event = run_event,
};
