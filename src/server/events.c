/* The server's events in its log (server/log.h; docs/OPERATIONS.md, "Logs"): a run's end with
 * its stages, verdict and timings, and requests refused (HTTP answers 400, 401, 403, 411, 413
 * and 429, WebSocket handshakes refused, runs refused at admission) with their client, path,
 * dialect and reason. A token shows by its name, never itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sync.h"
#include "server/log.h"
#include "server/server-internal.h"

/* A run's id in the log: 64 random bits drawn once per server start, and the run's number,
 * so that ids never repeat across restarts. */
static char run_prefix[17];
static uint64_t run_seq;

static void run_id(char *out, size_t size)
{
        if (!run_prefix[0]) {
                uint64_t rnd = 0;
                if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        rnd = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
                              ((uint64_t)getpid() << 16);
                }
                snprintf(run_prefix, sizeof(run_prefix), "%016llx", (unsigned long long)rnd);
        }
        snprintf(out, size, "%s-%llu", run_prefix, (unsigned long long)++run_seq);
}

const char *token_name(const server_opts_t *o, int token)
{
        if (token < 0 || (size_t)token >= o->tokens.n || !o->token_names || !o->token_names[token])
                return NULL;
        return o->token_names[token];
}

/* Who ran it: client address, token (by name) or anonymous. */
static void who(slog_line_t *l, const server_opts_t *o, const char *client, int token, bool anon)
{
        slog_str(l, "client", client && client[0] ? client : NULL);
        slog_str(l, "token", token_name(o, token));
        if (anon)
                slog_bool(l, "anonymous", true);
}

static double ms_since(int64_t t_ns, int64_t now_ns)
{
        return t_ns > 0 && now_ns >= t_ns ? (double)(now_ns - t_ns) / 1e6 : 0;
}

/* The fields every run line starts with; dialect, language and the stages' statuses stay
 * together in this order (scripts grep for "dialect=X language=Y compile=- run=killed"). */
static void run_head(slog_line_t *l, run_t *r, const stage_result_t *compile,
                     const stage_result_t *run)
{
        char id[48];
        run_id(id, sizeof(id));
        slog_str(l, "run_id", id);
        slog_str(l, "dialect", r->d->name);
        slog_str(l, "language", r->rr.lang ? r->rr.lang->tc->name : NULL);
        if (compile && compile->present)
                slog_str(l, "compile", stage_status_name(compile->status));
        else
                slog_null(l, "compile");
        if (run && run->present)
                slog_str(l, "run", stage_status_name(run->status));
        else
                slog_null(l, "run");
        slog_str(l, "version", r->rr.lang ? r->rr.lang->version : NULL);
        if (r->fnv)
                slog_str(l, "function", r->fnv->name);
        slog_str(l, "req_id", r->id);
        who(l, r->cfg->o, r->client, r->token, r->anon); /* the options it was admitted under */
}

static void run_times(slog_line_t *l, run_t *r, int64_t setup_us, int64_t wall_ms, int64_t cpu_ms,
                      int64_t memory_kb)
{
        int64_t now = sb_now_ns();
        int64_t queued = r->t_queued > 0 ? r->t_queued : r->t_begin;
        slog_num(l, "queue_ms",
                 r->t_begin > 0 ? ms_since(queued, r->t_begin) : ms_since(queued, now), 3);
        slog_num(l, "setup_ms", (double)setup_us / 1000.0, 3);
        slog_int(l, "wall_ms", wall_ms);
        if (cpu_ms >= 0)
                slog_int(l, "cpu_ms", cpu_ms);
        else
                slog_null(l, "cpu_ms");
        if (memory_kb >= 0)
                slog_int(l, "memory_kb", memory_kb);
        else
                slog_null(l, "memory_kb");
        slog_num(l, "total_ms", ms_since(queued, now), 3);
}

void log_run_done(run_t *r, const job_result_t *res)
{
        const stage_result_t *c = &res->compile, *u = &res->run;
        const stage_result_t *last = u->present ? u : c;
        slog_line_t l;
        slog_begin(&l, last->status == STATUS_INTERNAL_ERROR ? SLOG_WARN : SLOG_INFO, "run");
        run_head(&l, r, c, u);
        slog_str(&l, "verdict", stage_status_name(last->status));
        if (last->exit_code >= 0)
                slog_int(&l, "exit_code", last->exit_code);
        if (last->signal)
                slog_int(&l, "signal", last->signal);
        if (last->limit_kind)
                slog_str(&l, "limit", last->limit_kind);
        if (c->present && c->cached)
                slog_bool(&l, "compile_cached", true);
        if (last->status == STATUS_INTERNAL_ERROR && last->error[0])
                slog_str(&l, "error", last->error);
        int64_t setup = (c->present ? c->setup_us : 0) + (u->present ? u->setup_us : 0);
        int64_t wall = (c->present ? c->wall_ms : 0) + (u->present ? u->wall_ms : 0);
        int64_t cpu = -1, mem = -1;
        for (int s = 0; s < 2; s++) {
                const stage_result_t *st = s ? u : c;
                if (!st->present)
                        continue;
                if (st->cpu_ms >= 0)
                        cpu = (cpu < 0 ? 0 : cpu) + st->cpu_ms;
                if (st->memory_kb > mem)
                        mem = st->memory_kb;
        }
        run_times(&l, r, setup, wall, cpu, mem);
        slog_end(&l);
}

void log_judge_done(run_t *r)
{
        const stage_result_t *c = judge_compile_result(r->judge);
        size_t passed = 0, ran = 0, n = judge_ntests(r->judge);
        long first = -1;
        judge_summary(r->judge, &passed, &ran, &first);
        const char *verdict = "accepted";
        if (c && c->present && c->status != STATUS_OK)
                verdict = stage_status_name(c->status);
        else if (first >= 0 && judge_test_result(r->judge, (size_t)first))
                verdict = judge_test_result(r->judge, (size_t)first)->verdict;
        else if (passed < n)
                verdict = "skipped";
        int64_t setup = c && c->present ? c->setup_us : 0, wall = c && c->present ? c->wall_ms : 0;
        int64_t cpu = c && c->present ? c->cpu_ms : -1, mem = c && c->present ? c->memory_kb : -1;
        for (size_t i = 0; i < n; i++) {
                const judge_test_result_t *t = judge_test_result(r->judge, i);
                if (!t || !t->run.present)
                        continue;
                setup += t->run.setup_us;
                wall += t->run.wall_ms;
                if (t->run.cpu_ms >= 0)
                        cpu = (cpu < 0 ? 0 : cpu) + t->run.cpu_ms;
                if (t->run.memory_kb > mem)
                        mem = t->run.memory_kb;
        }
        slog_line_t l;
        slog_begin(&l, SLOG_INFO, "run");
        run_head(&l, r, c, NULL);
        slog_str(&l, "verdict", verdict);
        slog_int(&l, "tests", (long long)n);
        slog_int(&l, "passed", (long long)passed);
        slog_int(&l, "tests_run", (long long)ran);
        if (first >= 0)
                slog_str(&l, "first_failure", judge_test_name(r->judge, (size_t)first));
        run_times(&l, r, setup, wall, cpu, mem);
        slog_end(&l);
}

void log_run_ended(run_t *r, const char *verdict, const char *why)
{
        slog_line_t l;
        bool internal = strcmp(verdict, "internal_error") == 0;
        slog_begin(&l, internal ? SLOG_WARN : SLOG_INFO, "run");
        run_head(&l, r, NULL, NULL);
        slog_str(&l, "verdict", verdict);
        if (why)
                slog_str(&l, internal ? "error" : "reason", why);
        run_times(&l, r, 0, 0, -1, -1);
        slog_end(&l);
}

/* The path of the request on wsi, from whichever of lws' URI headers it came in. */
static const char *req_path(struct lws *wsi, char *buf, size_t size)
{
        static const enum lws_token_indexes toks[] = {
            WSI_TOKEN_GET_URI,    WSI_TOKEN_POST_URI,       WSI_TOKEN_PUT_URI,
            WSI_TOKEN_DELETE_URI, WSI_TOKEN_HEAD_URI,       WSI_TOKEN_OPTIONS_URI,
            WSI_TOKEN_PATCH_URI,  WSI_TOKEN_HTTP_COLON_PATH};
        for (size_t i = 0; wsi && i < sizeof(toks) / sizeof(toks[0]); i++)
                if (lws_hdr_total_length(wsi, toks[i]) > 0 &&
                    lws_hdr_copy(wsi, buf, (int)size, toks[i]) > 0)
                        return buf;
        return NULL;
}

static slog_level_t refusal_level(int status)
{
        return status == 401 || status == 403 ? SLOG_WARN : status >= 500 ? SLOG_WARN : SLOG_INFO;
}

static void refused(server_t *srv, struct lws *wsi, const char *path, bool ws, int status,
                    const char *dialect, const char *client, int token, bool anon, const char *code,
                    const char *reason)
{
        char pbuf[512], cbuf[CLIENT_ADDR_MAX];
        if (!path)
                path = req_path(wsi, pbuf, sizeof(pbuf));
        if (!dialect && path && srv) {
                bool known;
                const route_t *rt = find_route(srv, path, ws ? DL_WS : DL_POST, &known);
                if (!rt)
                        rt = find_route(srv, path, DL_GET, &known);
                dialect = rt ? rt->d->name : NULL;
        }
        if ((!client || !client[0]) && wsi && srv) {
                conns_client(srv, wsi, cbuf, sizeof(cbuf));
                client = cbuf;
        }
        slog_line_t l;
        slog_begin(&l, refusal_level(status), "refused");
        slog_int(&l, "status", status);
        slog_str(&l, "code", code);
        slog_str(&l, "path", path);
        slog_str(&l, "dialect", dialect);
        if (ws)
                slog_bool(&l, "websocket", true);
        if (srv)
                who(&l, srv->opts, client, token, anon);
        else
                slog_str(&l, "client", client);
        slog_str(&l, "reason", reason);
        slog_end(&l);
}

static bool refusal_status(int status)
{
        return status == 400 || status == 401 || status == 403 || status == 411 || status == 413 ||
               status == 429;
}

/* From an error body: runcell's {"error": {"code", "message"}}, or a dialect's "message" or
 * "error"; else the body's first line. */
static void body_reason(const char *body, size_t len, char *code, size_t csize, char *reason,
                        size_t rsize)
{
        code[0] = reason[0] = '\0';
        if (!body || !len)
                return;
        cJSON *j = len < 65536 ? cJSON_ParseWithLength(body, len) : NULL;
        if (cJSON_IsObject(j)) {
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
                if (cJSON_IsObject(e)) {
                        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
                        if (cJSON_IsString(c))
                                snprintf(code, csize, "%s", c->valuestring);
                        m = cJSON_GetObjectItemCaseSensitive(e, "message");
                } else if (cJSON_IsString(e)) {
                        m = e;
                }
                if (cJSON_IsString(m)) {
                        snprintf(reason, rsize, "%s", m->valuestring);
                        cJSON_Delete(j);
                        return;
                }
        }
        cJSON_Delete(j);
        size_t n = 0;
        while (n < len && n + 1 < rsize && body[n] != '\n')
                n++;
        memcpy(reason, body, n);
        reason[n] = '\0';
}

void log_http_refused(http_req_t *h, int status, const char *body, size_t len)
{
        /* the answer of a run (a CGI function's own status, a dialect's shape of a result) is
         * no refusal, and its body may be the program's output */
        if (h->logged || h->run || !refusal_status(status))
                return;
        h->logged = true;
        char code[64], reason[512];
        body_reason(body, len, code, sizeof(code), reason, sizeof(reason));
        refused(h->srv, h->wsi, NULL, false, status, h->route ? h->route->d->name : NULL, h->client,
                h->token, h->anon, code[0] ? code : NULL, reason[0] ? reason : NULL);
}

void log_ws_refused(server_t *srv, struct lws *wsi, int status, const char *code,
                    const char *reason)
{
        refused(srv, wsi, NULL, true, status, NULL, NULL, -1, false, code, reason);
}

void log_ws_too_large(conn_t *c)
{
        refused(c->srv, NULL, c->route ? c->route->path : NULL, true, 413, c->d->name, c->client,
                c->token, c->anon, "too_large", "message too large");
}

void log_run_refused(server_t *srv, const dialect_t *d, dl_conn_t *c, dl_http_t *h, int token,
                     bool anon, const char *client, const dl_error_t *e)
{
        int status = e->code ? dl_error_status(e->code) : 400;
        if (h) {
                if (h->logged)
                        return;
                h->logged = true;
        }
        refused(srv, h ? h->wsi : NULL, c && c->route ? c->route->path : NULL, c != NULL, status,
                d->name, client, token, anon, e->code, e->message);
}
