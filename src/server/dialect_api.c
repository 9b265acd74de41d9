/* The service the server offers dialects (protocol/dialect.h): sending on a connection,
 * answering an HTTP request, a run's state, input and signals, timers. Starting a run
 * (dl_run_start, admission) is in runs.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sandbox/sync.h"
#include "server/log.h"
#include "server/server-internal.h"

/* ------------------------------------------------------------------ small things for codecs */

catalog_t *dl_catalog(void)
{
        return the_server ? the_server->cat : NULL;
}

store_t *dl_store(void)
{
        return the_server ? the_server->store : NULL;
}

void dl_load(int *running, int *queued, int *max_concurrent)
{
        const server_t *srv = the_server;
        *running = srv ? srv->running : 0;
        *queued = srv ? srv->queued : 0;
        *max_concurrent = srv ? srv->max_concurrent : 0;
}

const char *dl_node_id(void)
{
        return the_server ? the_server->node_id : "";
}

/* Dialects' own timers: a slot per fn, kept once taken. */
typedef struct dl_timer_slot {
        lws_sorted_usec_list_t sul;
        void (*fn)(void);
} dl_timer_slot_t;

static dl_timer_slot_t dl_timers[8];

static void dl_timer_fire(lws_sorted_usec_list_t *sul)
{
        dl_timer_slot_t *t = lws_container_of(sul, dl_timer_slot_t, sul);
        t->fn();
}

void dl_timer(int ms, void (*fn)(void))
{
        dl_timer_slot_t *t = NULL;
        for (size_t i = 0; i < sizeof(dl_timers) / sizeof(dl_timers[0]) && !t; i++)
                if (dl_timers[i].fn == fn || !dl_timers[i].fn)
                        t = &dl_timers[i];
        if (!t || !the_server || !the_server->ctx)
                return;
        t->fn = fn;
        if (ms <= 0)
                lws_sul_cancel(&t->sul);
        else
                lws_sul_schedule(the_server->ctx, 0, &t->sul, dl_timer_fire, (lws_usec_t)ms * 1000);
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

void dl_log(dl_log_level_t level, const char *event, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        slog_msg(level == DL_LOG_ERROR  ? SLOG_ERROR
                 : level == DL_LOG_WARN ? SLOG_WARN
                                        : SLOG_INFO,
                 event, "%s", msg);
}

int dl_error_status(const char *code)
{
        return strcmp(code, "unknown_language") == 0  ? 404
               : strcmp(code, "not_found") == 0       ? 404
               : strcmp(code, "forbidden") == 0       ? 403
               : strcmp(code, "unauthorized") == 0    ? 401
               : strcmp(code, "conflict") == 0        ? 409
               : strcmp(code, "unknown_version") == 0 ? 404
               : strcmp(code, "busy") == 0            ? 429
               : strcmp(code, "rate_limited") == 0    ? 429
               : strcmp(code, "unavailable") == 0     ? 503
               : strcmp(code, "shutting_down") == 0   ? 503
               : strcmp(code, "too_large") == 0       ? 413
               : strcmp(code, "internal") == 0        ? 500
                                                      : 400;
}

/* ------------------------------------------------------------------ WebSocket output */

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

int dl_run_resize(dl_run_t *r, uint16_t rows, uint16_t cols)
{
        if (!r->rr.tty_rows || !r->rr.tty_cols)
                return -ENOTTY;
        if (!rows || !cols)
                return -EINVAL;
        if (r->state == RUN_QUEUED) {
                r->rr.tty_rows = rows; /* the job starts with it */
                r->rr.tty_cols = cols;
                return 0;
        }
        if (!r->job || r->state == RUN_DONE)
                return 0; /* over: nothing to resize */
        return job_resize(r->job, rows, cols);
}

void dl_run_keep(dl_run_t *r)
{
        r->kept = true;
}

void dl_run_detach(dl_run_t *r)
{
        r->kept = true;
        run_orphan(r); /* kept: unlinked from its client, not killed */
}

bool dl_draining(void)
{
        return the_server && the_server->draining;
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
        } else if (r->judge && r->state == RUN_RUNNING) {
                judge_kill(r->judge); /* every test of it: SIGKILL whatever sig says */
        }
}

/* ------------------------------------------------------------------ HTTP */

const char *dl_http_path_arg(dl_http_t *h)
{
        return h->path_arg;
}

const char *dl_http_arg(dl_http_t *h, const char *name, char *buf, size_t size)
{
        char key[64];
        size_t n = strlen(name);
        if (!h->wsi || n + 2 > sizeof(key))
                return NULL;
        /* lws matches a prefix: "name=" so that "fields" does not match "fieldsx" */
        memcpy(key, name, n);
        if (!n || name[n - 1] != '=')
                key[n++] = '=';
        key[n] = '\0';
        return lws_get_urlarg_by_name(h->wsi, key, buf, (int)size);
}

const char *dl_http_req_header(dl_http_t *h, const char *name, char *buf, size_t size)
{
        if (!h->wsi)
                return NULL;
        /* Headers lws knows by name are only reachable through their tokens. */
        static const struct {
                const char *name;
                enum lws_token_indexes tok;
        } known[] = {
            {"host:", WSI_TOKEN_HOST},
            {"accept:", WSI_TOKEN_HTTP_ACCEPT},
            {"accept-encoding:", WSI_TOKEN_HTTP_ACCEPT_ENCODING},
            {"if-none-match:", WSI_TOKEN_HTTP_IF_NONE_MATCH},
            {"authorization:", WSI_TOKEN_HTTP_AUTHORIZATION},
            {"content-type:", WSI_TOKEN_HTTP_CONTENT_TYPE},
            {"user-agent:", WSI_TOKEN_HTTP_USER_AGENT},
            {"cookie:", WSI_TOKEN_HTTP_COOKIE},
            {"accept-language:", WSI_TOKEN_HTTP_ACCEPT_LANGUAGE},
            {"referer:", WSI_TOKEN_HTTP_REFERER},
            {"origin:", WSI_TOKEN_ORIGIN},
            {"if-modified-since:", WSI_TOKEN_HTTP_IF_MODIFIED_SINCE},
            {"cache-control:", WSI_TOKEN_HTTP_CACHE_CONTROL},
            {"content-length:", WSI_TOKEN_HTTP_CONTENT_LENGTH},
            {"x-forwarded-for:", WSI_TOKEN_X_FORWARDED_FOR},
            {"range:", WSI_TOKEN_HTTP_RANGE},
        };
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strcmp(name, known[i].name) == 0) {
                        if (size)
                                buf[0] = '\0';
                        return lws_hdr_copy(h->wsi, buf, (int)size, known[i].tok) > 0 ? buf : NULL;
                }
        int n = lws_hdr_custom_copy(h->wsi, buf, (int)size, name, (int)strlen(name));
        return n >= 0 ? buf : NULL;
}

int dl_http_token(const dl_http_t *h)
{
        return h->token;
}

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
        log_http_refused(h, status, text, len); /* a refusal: in the log */
        snprintf(h->ctype_buf, sizeof(h->ctype_buf), "%s", ctype ? ctype : "text/plain");
        h->ctype = h->ctype_buf;
        bool said = false; /* public mode's refusals say when themselves (runs.c) */
        for (int i = 0; i < h->nheaders; i++)
                said |= strcasecmp(h->hname[i], "retry-after:") == 0;
        if (status == 429 && !said)
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

/* bytes of s[0, n) into out (percent-encoded but for RFC 3986's unreserved characters), as many
 * whole ones as fit before end; false when not all did */
static bool query_encode(const char *s, size_t n, char **out, const char *end)
{
        static const char hex[] = "0123456789ABCDEF";
        char *o = *out;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
                if (o + (plain ? 1 : 3) >= end)
                        return false;
                if (plain) {
                        *o++ = (char)c;
                } else {
                        *o++ = '%';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 15];
                }
        }
        *out = o;
        return true;
}

/* c into out when it fits before end (a NUL's room kept) */
static bool query_put(char **out, const char *end, char c)
{
        if (*out + 1 >= end)
                return false;
        *(*out)++ = c;
        return true;
}

const char *dl_http_query(dl_http_t *h, char *buf, size_t size)
{
        if (!size)
                return "";
        buf[0] = '\0';
        if (!h->wsi)
                return buf;
        /* libwebsockets keeps the query only decoded, one fragment per argument: each is
         * encoded again (name, '=', value) and joined with '&', so that a program decoding the
         * query gets the values the client sent (an '&' or '=' that was escaped stays data). */
        char *o = buf;
        const char *end = buf + size;
        char frag[2048];
        for (int i = 0;; i++) {
                int n =
                    lws_hdr_copy_fragment(h->wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
                if (n < 0)
                        break;
                char *start = o;
                const char *eq = memchr(frag, '=', (size_t)n);
                size_t name = eq ? (size_t)(eq - frag) : (size_t)n;
                bool ok = (o == buf || query_put(&o, end, '&')) &&
                          query_encode(frag, name, &o, end) &&
                          (!eq || (query_put(&o, end, '=') &&
                                   query_encode(eq + 1, (size_t)n - name - 1, &o, end)));
                if (!ok) {
                        o = start; /* what fits: whole arguments only */
                        break;
                }
        }
        *o = '\0';
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
        default:
                return "GET";
        }
}

void dl_http_peer(dl_http_t *h, char *buf, size_t size)
{
        if (size)
                buf[0] = '\0';
        if (h->wsi)
                lws_get_peer_simple(h->wsi, buf, size);
}

int dl_http_server_port(void)
{
        server_t *srv = the_server;
        return srv && srv->vh ? lws_get_vhost_listen_port(srv->vh) : 0;
}

/* h's token in the options in force (checked again if a reload came since its headers);
 * -2: not accepted now. */
static int http_token_now(const dl_http_t *h)
{
        dl_http_t *m = (dl_http_t *)h; /* the server's own request */
        return access_refresh(m->srv, &m->cfg, &m->token, &m->anon) < 0 ? -2 : m->token;
}

bool dl_http_full_rights(const dl_http_t *h)
{
        int t = http_token_now(h);
        return t != -2 && !token_scoped(h->srv->opts, t);
}

bool dl_token_may_invoke_http(const dl_http_t *h, const char *name)
{
        int t = http_token_now(h);
        return t != -2 && dl_token_may_invoke(t, name);
}
