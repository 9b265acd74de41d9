/* The ranna dialect: ranna's API (github.com/ranna-go/ranna) under /v1.
 *
 *   WebSocket /v1/ws   operations {"op", "nonce", "args"}: 0 PING, 1 EXEC, 2 KILL;
 *                      events {"code", "nonce", "data"}: 0 PONG, 1 ERROR, 2 SPAWN, 3 LOG, 4 STOP
 *   POST /v1/exec      {language, code, arguments, environment, inline_expression}
 *                      -> {stdout, stderr, exectimems}; errors {"error", "code"}
 *   GET  /v1/spec      the spec map: language -> {image, entrypoint|cmd, filename, language,
 *                      example, inline}, aliases as {"use": language}
 *   GET  /v1/info      {version, builddate, go_version, sandbox: {type, version}}
 *
 * docs/dialects.md (section "ranna") says how fields, statuses and errors map, and what this
 * codec chose where ranna's documents leave things open. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"

enum { R_WS, R_EXEC, R_SPEC, R_INFO };

enum { OP_PING = 0, OP_EXEC = 1, OP_KILL = 2 };
enum { EV_PONG = 0, EV_ERROR = 1, EV_SPAWN = 2, EV_LOG = 3, EV_STOP = 4 };

#define RUNID_BYTES 32 /* 64 hex digits, as long as ranna's (a container id) */

/* ranna's own messages, where a client may look for them */
#define MSG_EMPTY_CODE   "code is empty"
#define MSG_UNSUPPORTED  "unsupported language spec"
#define MSG_NO_INLINE    "this spec has no support for inline expressions"
#define MSG_TIMED_OUT    "code execution timed out"
#define MSG_NOT_RUNNING  "sandbox is not running"
#define MSG_BAD_OP       "invalid operation code"
#define MSG_BAD_TYPE     "invalid message type"
#define MSG_OUTPUT_LIMIT "output len exceeded"

/* Options ("dialects": {"ranna": {...}}). */
static int timeout_seconds = 20; /* ranna's sandbox.timeoutseconds and its default */

typedef struct conn_data {
        cJSON *pending_nonce; /* the EXEC's nonce while dl_run_start runs (its first event) */
} conn_data_t;

/* Output that does not end a line waits this long for the rest of it (a program may write a
 * line in pieces: Go's println writes the text and then the newline), so that a line becomes
 * one LOG event. */
#define HOLD_MS  20
#define HOLD_MAX (64u << 10)

typedef struct run_data {
        cJSON *nonce; /* as the EXEC gave it; NULL: it had none */
        bool started; /* a stage has begun: exectimems counts from then */
        int64_t t0_ms;
        buf_t held; /* output of held_stream not sent yet: an unfinished line */
        stream_kind_t held_stream;
        bool timer_armed;
} run_data_t;

/* ------------------------------------------------------------------ inline expressions */

/* How the lines that must stay outside the wrapping function are found. */
typedef enum hoist {
        HOIST_NONE, /* the template has no $${IMPORTS} */
        HOIST_GO,   /* import "x", import alias "x", import ( ... ) */
        HOIST_C,    /* #include ... */
        HOIST_RUST, /* use ...; and extern crate ...; (up to the ';', over several lines) */
} hoist_t;

typedef struct lang_tpl {
        const char *lang; /* a toolchain name */
        hoist_t hoist;
        /* ranna's form: $${IMPORTS} is replaced by the hoisted lines, $${CODE} by the rest */
        const char *tpl;
        const char *import_regex; /* the same rule as an RE2 expression, for GET /v1/spec */
} lang_tpl_t;

/* The languages whose inline expressions ranna wraps (the hoisting rules are code); a spec's
 * example is the toolchain's hello world, for every language. */
static const lang_tpl_t templates[] = {
    {"bash", HOIST_NONE, "$${CODE}", ""},
    {"python", HOIST_NONE, "$${CODE}", ""},
    {"javascript", HOIST_NONE, "$${CODE}", ""},
    {"c", HOIST_C, "$${IMPORTS}\n\nint main(void) {\n$${CODE}\nreturn 0;\n}\n",
     "(?m)^[ \\t]*#[ \\t]*include\\b.*$"},
    {"cpp", HOIST_C, "$${IMPORTS}\n\nint main() {\n$${CODE}\nreturn 0;\n}\n",
     "(?m)^[ \\t]*#[ \\t]*include\\b.*$"},
    {"go", HOIST_GO, "package main\n\n$${IMPORTS}\n\nfunc main() {\n$${CODE}\n}\n",
     "(?m)^[ \\t]*import\\b[^(\\n]*$|^[ \\t]*import[ \\t]*\\([^)]*\\).*$"},
    {"rust", HOIST_RUST, "$${IMPORTS}\n\nfn main() {\n$${CODE}\n}\n",
     "(?m)^[ \\t]*(?:use|extern[ \\t]+crate)\\b[^;]*;.*$"},
};

static const lang_tpl_t *template_for(const char *lang)
{
        for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
                if (strcmp(templates[i].lang, lang) == 0)
                        return &templates[i];
        return NULL;
}

static const char *skip_blanks(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

static bool is_word(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

/* p starts with the word w (followed by something that is not a word character)? */
static const char *word(const char *p, const char *w)
{
        size_t n = strlen(w);
        return strncmp(p, w, n) == 0 && !is_word(p[n]) ? p + n : NULL;
}

/* The hoisted part starting at line (NUL-free, bounded by end): its end, just past the
 * line that finishes it (before that line's '\n'), or NULL when the line is code. */
static const char *hoisted_end(hoist_t h, const char *line, const char *end)
{
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
                eol = end;
        const char *p = skip_blanks(line), *q, *close;
        switch (h) {
        case HOIST_GO:
                if (!(q = word(p, "import")))
                        return NULL;
                q = skip_blanks(q);
                if (*q == '(') { /* a block, up to the line holding its ')' */
                        close = memchr(q, ')', (size_t)(end - q));
                        if (!close)
                                return NULL;
                        eol = memchr(close, '\n', (size_t)(end - close));
                        return eol ? eol : end;
                }
                return memchr(q, '(', (size_t)(eol - q)) ? NULL : eol;
        case HOIST_C:
                if (*p != '#')
                        return NULL;
                return word(skip_blanks(p + 1), "include") ? eol : NULL;
        case HOIST_RUST:
                if (!(q = word(p, "use"))) {
                        if (!(q = word(p, "extern")))
                                return NULL;
                        if (!(q = word(skip_blanks(q), "crate")))
                                return NULL;
                }
                close = memchr(q, ';', (size_t)(end - q));
                if (!close)
                        return NULL;
                eol = memchr(close, '\n', (size_t)(end - close));
                return eol ? eol : end;
        case HOIST_NONE:
        default:
                return NULL;
        }
}

/* Wrap code in the language's template: the hoisted lines in $${IMPORTS} (each on its own
 * line, in their order), the other lines in $${CODE}. */
static int expand_inline(const lang_tpl_t *t, const char *code, buf_t *out)
{
        buf_t part[2] = {{0}, {0}}; /* the hoisted lines, the code */
        bool any[2] = {false, false};
        const char *p = code, *end = code + strlen(code);
        int rc = 0;
        while (p < end && rc == 0) {
                const char *stop = hoisted_end(t->hoist, p, end);
                int k = stop ? 0 : 1;
                if (!stop) {
                        stop = memchr(p, '\n', (size_t)(end - p));
                        if (!stop)
                                stop = end;
                }
                if (any[k])
                        rc |= buf_append(&part[k], "\n", 1);
                any[k] = true;
                rc |= buf_append(&part[k], p, (size_t)(stop - p));
                p = stop < end ? stop + 1 : end;
        }
        for (const char *s = t->tpl; *s && rc == 0;) {
                if (strncmp(s, "$${IMPORTS}", 11) == 0) {
                        rc |= buf_append(out, part[0].data ? part[0].data : "", part[0].len);
                        s += 11;
                } else if (strncmp(s, "$${CODE}", 8) == 0) {
                        rc |= buf_append(out, part[1].data ? part[1].data : "", part[1].len);
                        s += 8;
                } else {
                        rc |= buf_append(out, s, 1);
                        s++;
                }
        }
        if (!out->data && rc == 0)
                rc = buf_append(out, "", 0);
        buf_free(&part[0]);
        buf_free(&part[1]);
        return rc;
}

/* ------------------------------------------------------------------ requests */

typedef struct failure {
        int status; /* an HTTP status, also the ERROR event's code */
        char message[600];
} failure_t;

static cJSON *refuse(failure_t *f, int status, const char *message)
{
        f->status = status;
        snprintf(f->message, sizeof(f->message), "%s", message);
        return NULL;
}

static bool all_strings(const cJSON *container)
{
        const cJSON *it;
        cJSON_ArrayForEach(it, container)
        {
                if (!cJSON_IsString(it))
                        return false;
        }
        return true;
}

/* The run document for an ExecutionRequest (a WebSocket EXEC's args or a POST /v1/exec body),
 * or NULL with f filled in. */
static cJSON *decode_exec(const cJSON *req, failure_t *f)
{
        if (req && !cJSON_IsNull(req) && !cJSON_IsObject(req))
                return refuse(f, 400, "the execution request must be a JSON object");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(req, "code");
        const cJSON *lang = cJSON_GetObjectItemCaseSensitive(req, "language");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "arguments");
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(req, "environment");
        const cJSON *inl = cJSON_GetObjectItemCaseSensitive(req, "inline_expression");
        if (code && !cJSON_IsNull(code) && !cJSON_IsString(code))
                return refuse(f, 400, "\"code\" must be a string");
        if (!cJSON_IsString(code) || !*code->valuestring)
                return refuse(f, 400, MSG_EMPTY_CODE);
        if (!cJSON_IsString(lang))
                return refuse(f, 400, "\"language\" (a string) is required");
        if (args && !cJSON_IsNull(args) && !(cJSON_IsArray(args) && all_strings(args)))
                return refuse(f, 400, "\"arguments\" must be an array of strings");
        if (env && !cJSON_IsNull(env) && !(cJSON_IsObject(env) && all_strings(env)))
                return refuse(f, 400, "\"environment\" must be an object of strings");
        if (inl && !cJSON_IsNull(inl) && !cJSON_IsBool(inl))
                return refuse(f, 400, "\"inline_expression\" must be true or false");
        catalog_t *cat = dl_catalog();
        const toolchain_t *tc = cat ? toolchain_set_find(&cat->set, lang->valuestring) : NULL;
        if (!tc)
                return refuse(f, 404, MSG_UNSUPPORTED);

        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", tc->name);
        if (cJSON_IsTrue(inl)) {
                const lang_tpl_t *t = template_for(tc->name);
                if (!t) {
                        cJSON_Delete(doc);
                        return refuse(f, 400, MSG_NO_INLINE);
                }
                buf_t src = {0};
                if (expand_inline(t, code->valuestring, &src) < 0) {
                        buf_free(&src);
                        cJSON_Delete(doc);
                        return refuse(f, 500, "out of memory");
                }
                cJSON_AddStringToObject(doc, "source", src.data);
                buf_free(&src);
        } else {
                cJSON_AddStringToObject(doc, "source", code->valuestring);
        }
        if (cJSON_IsArray(args))
                cJSON_AddItemToObject(doc, "args", cJSON_Duplicate(args, true));
        if (cJSON_IsObject(env))
                cJSON_AddItemToObject(doc, "env", cJSON_Duplicate(env, true));
        /* ranna's one time limit for a whole execution; the compile stage keeps its own */
        cJSON *lim = cJSON_AddObjectToObject(doc, "limits");
        cJSON_AddNumberToObject(lim, "wall_ms", (double)timeout_seconds * 1000);
        return doc;
}

/* ------------------------------------------------------------------ events */

static cJSON *event(int code, const cJSON *nonce)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "code", code);
        if (nonce)
                cJSON_AddItemToObject(o, "nonce", cJSON_Duplicate(nonce, true));
        return o;
}

static void send_error(dl_conn_t *c, const cJSON *nonce, int status, const char *message)
{
        cJSON *o = event(EV_ERROR, nonce);
        cJSON *d = cJSON_AddObjectToObject(o, "data");
        cJSON_AddNumberToObject(d, "code", status);
        cJSON_AddStringToObject(d, "message", message);
        dl_send_json(c, o);
}

static cJSON *run_event_msg(int code, dl_run_t *r)
{
        run_data_t *rd = dl_run_data(r);
        cJSON *o = event(code, rd->nonce);
        cJSON *d = cJSON_AddObjectToObject(o, "data");
        cJSON_AddStringToObject(d, "runid", dl_run_id(r));
        return o;
}

static void send_log(dl_run_t *r, stream_kind_t stream, const char *data, size_t len)
{
        dl_conn_t *c = dl_run_conn(r);
        if (!len || !c)
                return;
        cJSON *o = run_event_msg(EV_LOG, r);
        cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(o, "data"),
                              stream == STREAM_STDOUT ? "stdout" : "stderr",
                              json_bytes_item(data, len));
        dl_send_json(c, o);
}

/* Send what is held as one LOG event. */
static void flush_held(dl_run_t *r)
{
        run_data_t *rd = dl_run_data(r);
        dl_run_timer(r, 0, NULL);
        rd->timer_armed = false;
        send_log(r, rd->held_stream, rd->held.data, rd->held.len);
        buf_free(&rd->held);
}

/* A chunk of output: what ends a line goes out at once, an unfinished line is held for up to
 * HOLD_MS (less when the line ends, the other stream writes or the stage ends). */
static void on_output(dl_run_t *r, const dl_event_t *ev)
{
        run_data_t *rd = dl_run_data(r);
        if (rd->held.len && rd->held_stream != ev->stream)
                flush_held(r);
        rd->held_stream = ev->stream;
        if (buf_append(&rd->held, ev->data, ev->len) < 0 || rd->held.len >= HOLD_MAX) {
                flush_held(r);
                return;
        }
        const char *nl = memrchr(rd->held.data, '\n', rd->held.len);
        if (nl) {
                size_t n = (size_t)(nl + 1 - rd->held.data);
                send_log(r, ev->stream, rd->held.data, n);
                memmove(rd->held.data, nl + 1, rd->held.len - n);
                rd->held.len -= n;
                rd->held.data[rd->held.len] = '\0';
        }
        if (!rd->held.len) {
                flush_held(r);
        } else if (!rd->timer_armed) {
                rd->timer_armed = true;
                dl_run_timer(r, HOLD_MS, flush_held);
        }
}

static int64_t exectime_ms(const run_data_t *rd)
{
        return rd->started ? dl_now_ms() - rd->t0_ms : 0;
}

/* The stage that decided the run: the run stage, or the compile stage when it did not get
 * that far. */
static const stage_result_t *last_stage(const job_result_t *res)
{
        return res->run.present ? &res->run : &res->compile;
}

static void http_error(dl_http_t *h, int status, const char *message)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", message);
        cJSON_AddNumberToObject(o, "code", status);
        dl_http_json(h, status, o);
}

/* POST /v1/exec: one answer when the run is over. */
static void http_done(dl_http_t *h, run_data_t *rd, const job_result_t *res)
{
        const stage_result_t *st = last_stage(res);
        char msg[600];
        if (st->present && st->status == STATUS_TIME_LIMIT) {
                http_error(h, 400, MSG_TIMED_OUT);
        } else if (st->present && st->status == STATUS_INTERNAL_ERROR) {
                snprintf(msg, sizeof(msg), "the sandbox failed: %s", st->error);
                http_error(h, 500, msg);
        } else if (res->compile.truncated || res->run.truncated) {
                http_error(h, 400, MSG_OUTPUT_LIMIT);
        } else {
                buf_t out = {0}, err = {0};
                buf_append(&out, res->compile.out.data, res->compile.out.len);
                buf_append(&out, res->run.out.data, res->run.out.len);
                buf_append(&err, res->compile.err.data, res->compile.err.len);
                buf_append(&err, res->run.err.data, res->run.err.len);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddItemToObject(o, "stdout", json_bytes_item(out.data, out.len));
                cJSON_AddItemToObject(o, "stderr", json_bytes_item(err.data, err.len));
                cJSON_AddNumberToObject(o, "exectimems", (double)exectime_ms(rd));
                buf_free(&out);
                buf_free(&err);
                dl_http_json(h, 200, o);
        }
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        run_data_t *rd = dl_run_data(r);
        dl_conn_t *c = dl_run_conn(r);
        dl_http_t *h = dl_run_http(r);
        if (ev->kind == DL_EV_STAGE && !rd->started) {
                rd->started = true;
                rd->t0_ms = dl_now_ms();
        }
        if (h) {
                if (ev->kind == DL_EV_DONE)
                        http_done(h, rd, ev->result);
                else if (ev->kind == DL_EV_DROPPED)
                        http_error(h, dl_error_status(ev->code), ev->message);
                return;
        }
        cJSON *o;
        switch (ev->kind) {
        case DL_EV_QUEUED: { /* accepted: the run has its id, so SPAWN now */
                conn_data_t *cd = dl_conn_data(c);
                rd->nonce = cd->pending_nonce;
                cd->pending_nonce = NULL;
                dl_send_json(c, run_event_msg(EV_SPAWN, r));
                break;
        }
        case DL_EV_OUTPUT:
                on_output(r, ev);
                break;
        case DL_EV_EXIT:
                flush_held(r);
                break;
        case DL_EV_DONE: {
                flush_held(r);
                const stage_result_t *st = last_stage(ev->result);
                char msg[600];
                if (st->present && st->status == STATUS_TIME_LIMIT) {
                        send_error(c, rd->nonce, 400, MSG_TIMED_OUT);
                } else if (st->present && st->status == STATUS_INTERNAL_ERROR) {
                        snprintf(msg, sizeof(msg), "the sandbox failed: %s", st->error);
                        send_error(c, rd->nonce, 500, msg);
                }
                o = run_event_msg(EV_STOP, r);
                cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(o, "data"), "exectimems",
                                        (double)exectime_ms(rd));
                dl_send_json(c, o);
                break;
        }
        case DL_EV_DROPPED: /* queued, never started: the server is stopping */
                flush_held(r);
                send_error(c, rd->nonce, dl_error_status(ev->code), ev->message);
                o = run_event_msg(EV_STOP, r);
                cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(o, "data"), "exectimems",
                                        0);
                dl_send_json(c, o);
                break;
        case DL_EV_STAGE:
        default:
                break;
        }
}

static void run_free(dl_run_t *r)
{
        run_data_t *rd = dl_run_data(r);
        cJSON_Delete(rd->nonce);
        rd->nonce = NULL;
        buf_free(&rd->held);
}

/* ------------------------------------------------------------------ WebSocket operations */

static void on_exec(dl_conn_t *c, const cJSON *msg, const cJSON *nonce)
{
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(msg, "args");
        failure_t f;
        cJSON *doc = decode_exec(args, &f);
        if (!doc) {
                send_error(c, nonce, f.status, f.message);
                return;
        }
        char runid[2 * RUNID_BYTES + 1];
        dl_random_hex(runid, RUNID_BYTES);
        conn_data_t *cd = dl_conn_data(c);
        cd->pending_nonce = nonce ? cJSON_Duplicate(nonce, true) : NULL;
        dl_error_t e;
        if (!dl_run_start(c, NULL, doc, runid, &e))
                send_error(c, nonce, dl_error_status(e.code), e.message);
        cJSON_Delete(cd->pending_nonce); /* not taken: the run was refused */
        cd->pending_nonce = NULL;
}

static void on_kill(dl_conn_t *c, const cJSON *msg, const cJSON *nonce)
{
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(msg, "args");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(args, "runid");
        if ((args && !cJSON_IsObject(args)) || !cJSON_IsString(id)) {
                send_error(c, nonce, 400, "\"args.runid\" (a string) is required");
                return;
        }
        for (dl_run_t *r = dl_conn_next_run(c, NULL); r; r = dl_conn_next_run(c, r))
                if (strcmp(dl_run_id(r), id->valuestring) == 0) {
                        dl_run_kill(r, SIGKILL); /* its STOP follows */
                        return;
                }
        send_error(c, nonce, 400, MSG_NOT_RUNNING);
}

static void ws_message(dl_conn_t *c, const char *data, size_t len, bool binary)
{
        if (!data) {
                send_error(c, NULL, 413, "the message is over the size limit");
                return;
        }
        if (binary) {
                send_error(c, NULL, 400, MSG_BAD_TYPE);
                return;
        }
        char why[160], emsg[240];
        cJSON *msg = json_parse_strict(data, len, why, sizeof(why));
        if (!cJSON_IsObject(msg)) {
                snprintf(emsg, sizeof(emsg), "invalid JSON: %s",
                         msg ? "an operation is one JSON object" : why);
                send_error(c, NULL, 400, emsg);
        } else if (!dl_json_depth_ok(msg)) {
                send_error(c, NULL, 400, "the operation is nested too deeply");
        } else if (!dl_echo_ok(cJSON_GetObjectItemCaseSensitive(msg, "nonce"))) {
                snprintf(emsg, sizeof(emsg), "\"nonce\" is over %d bytes (as JSON)", DL_ECHO_MAX);
                send_error(c, NULL, 400, emsg);
        } else {
                const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(msg, "nonce");
                const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");
                double v = cJSON_IsNumber(op) ? op->valuedouble : -1;
                if (v == OP_PING) {
                        cJSON *o = event(EV_PONG, nonce);
                        cJSON_AddStringToObject(o, "data", "Pong!");
                        dl_send_json(c, o);
                } else if (v == OP_EXEC) {
                        on_exec(c, msg, nonce);
                } else if (v == OP_KILL) {
                        on_kill(c, msg, nonce);
                } else {
                        send_error(c, nonce, 400, MSG_BAD_OP);
                }
        }
        cJSON_Delete(msg);
}

static void ws_close(dl_conn_t *c)
{
        conn_data_t *cd = dl_conn_data(c);
        cJSON_Delete(cd->pending_nonce);
        cd->pending_nonce = NULL;
}

/* ------------------------------------------------------------------ HTTP */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An argv template as one command line, placeholders filled with the source file. */
static void join_argv(buf_t *b, const strv_t *argv, const char *file)
{
        for (size_t i = 0; i < argv->n; i++) {
                const char *a = argv->v[i];
                if (strcmp(a, "{options}") == 0)
                        continue; /* a client's compile options: none here */
                if (b->len)
                        buf_append(b, " ", 1);
                if (strcmp(a, "{entry}") == 0 || strcmp(a, "{sources}") == 0)
                        a = file;
                buf_append(b, a, strlen(a));
        }
}

static cJSON *spec_entry(const toolchain_t *tc)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "image", tc->rootfs);
        buf_t b = {0};
        size_t n = tc->run.n;
        if (!tc->compile.n && n && strcmp(tc->run.v[n - 1], "{entry}") == 0) {
                /* ranna's entrypoint: the interpreter, given the file */
                strv_t head = {.v = tc->run.v, .n = n - 1};
                join_argv(&b, &head, tc->source_file);
                cJSON_AddStringToObject(o, "entrypoint", b.data ? b.data : "");
                cJSON_AddStringToObject(o, "filename", tc->source_file);
        } else { /* ranna's cmd: the whole command line */
                cJSON_AddStringToObject(o, "filename", tc->source_file);
                if (tc->compile.n) {
                        join_argv(&b, &tc->compile, tc->source_file);
                        buf_append(&b, " &&", 3);
                }
                join_argv(&b, &tc->run, tc->source_file);
                cJSON_AddStringToObject(o, "cmd", b.data ? b.data : "");
        }
        buf_free(&b);
        cJSON_AddStringToObject(o, "language", tc->name);
        cJSON_AddStringToObject(o, "example", tc->hello.source);
        const lang_tpl_t *t = template_for(tc->name);
        if (t) {
                cJSON *in = cJSON_AddObjectToObject(o, "inline");
                cJSON_AddStringToObject(in, "import_regex", t->import_regex);
                cJSON_AddStringToObject(in, "template", t->tpl);
        }
        return o;
}

/* ranna's spec map: every language by name, and its aliases as {"use": name}, keys sorted
 * (as Go prints a map). */
static cJSON *spec_json(catalog_t *cat)
{
        cJSON *o = cJSON_CreateObject();
        size_t n = 0;
        for (size_t i = 0; i < cat->set.n; i++)
                n += 1 + cat->set.items[i]->aliases.n;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        if (!keys)
                return o;
        n = 0;
        for (size_t i = 0; i < cat->set.n; i++) {
                const toolchain_t *tc = cat->set.items[i];
                keys[n++] = tc->name;
                for (size_t a = 0; a < tc->aliases.n; a++)
                        keys[n++] = tc->aliases.v[a];
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (size_t k = 0; k < n; k++) {
                if (k > 0 && strcmp(keys[k], keys[k - 1]) == 0)
                        continue; /* several versions of a language: one entry */
                const toolchain_t *tc = toolchain_set_find(&cat->set, keys[k]);
                if (strcmp(tc->name, keys[k]) == 0) {
                        cJSON_AddItemToObject(o, keys[k], spec_entry(tc));
                } else {
                        cJSON *u = cJSON_AddObjectToObject(o, keys[k]);
                        cJSON_AddStringToObject(u, "use", tc->name);
                }
        }
        free(keys);
        return o;
}

static cJSON *info_json(void)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "version", RUNCELL_VERSION);
        cJSON_AddStringToObject(o, "builddate", "");
        cJSON_AddStringToObject(o, "go_version", "");
        cJSON *s = cJSON_AddObjectToObject(o, "sandbox");
        cJSON_AddStringToObject(s, "type", "runcell");
        cJSON_AddStringToObject(s, "version", RUNCELL_VERSION);
        return o;
}

static void http(dl_http_t *h, int tag, dl_method_t method, const char *body, size_t len)
{
        (void)method;
        if (tag == R_SPEC) {
                dl_http_json(h, 200, spec_json(dl_catalog()));
                return;
        }
        if (tag == R_INFO) {
                dl_http_json(h, 200, info_json());
                return;
        }
        char why[160], emsg[240];
        cJSON *req = json_parse_strict(body, len, why, sizeof(why));
        failure_t f;
        cJSON *doc = NULL;
        if (!cJSON_IsObject(req)) {
                snprintf(emsg, sizeof(emsg), "the body must be one JSON object%s%s",
                         req ? "" : ": ", req ? "" : why);
                refuse(&f, 400, emsg);
        } else if (!dl_json_depth_ok(req))
                refuse(&f, 400, "the body is nested too deeply");
        else
                doc = decode_exec(req, &f);
        cJSON_Delete(req);
        if (!doc) {
                http_error(h, f.status, f.message);
                return;
        }
        char runid[2 * RUNID_BYTES + 1];
        dl_random_hex(runid, RUNID_BYTES);
        dl_error_t e;
        if (!dl_run_start(NULL, h, doc, runid, &e))
                http_error(h, dl_error_status(e.code), e.message);
}

static void http_too_large(dl_http_t *h, int tag)
{
        (void)tag;
        http_error(h, 413, "the body is over the size limit");
}

/* POST /v1/exec is shared with codapi: ranna's bodies name a "language". */
static bool claims(const cJSON *body)
{
        return cJSON_IsObject(body) && cJSON_HasObjectItem(body, "language");
}

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *it;
        cJSON_ArrayForEach(it, opts)
        {
                if (strcmp(it->string, "timeout_seconds") == 0) {
                        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 3600 ||
                            it->valuedouble != (int)it->valuedouble)
                                return rc_err_set(err, EINVAL,
                                                  "timeout_seconds: a whole number, 1 to 3600");
                        timeout_seconds = (int)it->valuedouble;
                } else {
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", it->string);
                }
        }
        return 0;
}

static const dl_route_t routes[] = {
    {"/ws", DL_WS, R_WS},
    {"/exec", DL_POST, R_EXEC},
    {"/spec", DL_GET, R_SPEC},
    {"/info", DL_GET, R_INFO},
};

const dialect_t dialect_ranna = {
    .name = "ranna",
    .base = "/v1",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .conn_size = sizeof(conn_data_t),
    .run_size = sizeof(run_data_t),
    .configure = configure,
    .claims = claims,
    .http = http,
    .http_too_large = http_too_large,
    .ws_message = ws_message,
    .ws_close = ws_close,
    .run_event = run_event,
    .run_free = run_free,
};
