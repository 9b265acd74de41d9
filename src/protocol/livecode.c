/* LiveCode's WebSocket protocol: GET /livecode, JSON messages with a "msgtype". The client
 * sends ping, exec, event and quit; the server sends welcome, pong, write (one per output
 * line), exitstatus, error and goodbye, and forwards the program's own messages (a line
 * "--MSG--{json}" on its stdout). docs/dialects.md ("livecode") has the details. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dialect.h"
#include "util/json.h"
#include "util/jsonstrict.h"

#define MSG_PREFIX     "--MSG--"
#define LINE_MAX_BYTES (1u << 20) /* a longer unfinished line goes out as it is */
#define ECHO_MAX_BYTES 1024       /* of a text that is not JSON, in an error's "msg" */

static bool close_after_exit; /* the original closes the socket after exitstatus */

typedef struct lc_run {
        buf_t line[2]; /* the unfinished last line of stdout and of stderr */
} lc_run_t;

static int configure(const cJSON *opts, rc_err_t *err)
{
        const cJSON *k;
        cJSON_ArrayForEach(k, opts)
        {
                if (strcmp(k->string, "close_after_exit") != 0)
                        return rc_err_set(err, EINVAL, "unknown option \"%s\"", k->string);
                if (!cJSON_IsBool(k))
                        return rc_err_set(err, EINVAL, "close_after_exit: true or false");
                close_after_exit = cJSON_IsTrue(k);
        }
        return 0;
}

static cJSON *message(const char *msgtype)
{
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "msgtype", msgtype);
        return o;
}

/* {"msgtype":"error","error":text,"msg":echo} (echo taken over; NULL: null). */
static void send_error(dl_conn_t *c, const char *text, cJSON *echo)
{
        cJSON *o = message("error");
        cJSON_AddStringToObject(o, "error", text);
        cJSON_AddItemToObject(o, "msg", echo ? echo : cJSON_CreateNull());
        dl_send_json(c, o);
}

static void send_error_msg(dl_conn_t *c, const char *text, const cJSON *msg)
{
        send_error(c, text, cJSON_Duplicate(msg, 1));
}

/* ------------------------------------------------------------------ output */

static bool valid_text(const char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                size_t l = s[i] ? utf8_seq_len((const unsigned char *)s + i, n - i) : 0;
                if (!l)
                        return false;
                i += l;
        }
        return true;
}

/* "--MSG--{...}" on the program's stdout: that JSON object, when it is one with a msgtype. */
static cJSON *program_message(const char *p, size_t n)
{
        size_t pl = strlen(MSG_PREFIX);
        if (n <= pl || memcmp(p, MSG_PREFIX, pl) != 0 || !valid_text(p, n))
                return NULL;
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p + pl, n - pl, &end, false);
        const char *stop = p + n;
        while (j && end && end < stop &&
               (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
                end++;
        if (!j || end != stop || !cJSON_IsObject(j) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "msgtype")) ||
            !dl_json_depth_ok(j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

static void send_line(dl_conn_t *c, stage_kind_t stage, int stream, const char *p, size_t n)
{
        cJSON *own = stage == STAGE_RUN && stream == 0 ? program_message(p, n) : NULL;
        if (own) {
                dl_send_json(c, own);
                return;
        }
        cJSON *o = message("write");
        cJSON_AddStringToObject(o, "file", stream == 0 ? "stdout" : "stderr");
        cJSON_AddItemToObject(o, "data", json_bytes_item(p, n));
        dl_send_json(c, o);
}

/* Whole lines go out one message each; the rest waits for more (or the stage's end). */
static void add_output(dl_conn_t *c, lc_run_t *rd, stage_kind_t stage, int stream, const char *data,
                       size_t len)
{
        buf_t *b = &rd->line[stream];
        if (buf_append(b, data, len) < 0)
                return;
        size_t start = 0;
        for (size_t i = 0; i < b->len; i++) {
                if (b->data[i] != '\n')
                        continue;
                send_line(c, stage, stream, b->data + start, i + 1 - start);
                start = i + 1;
        }
        if (b->len - start >= LINE_MAX_BYTES) { /* a line without end in sight */
                send_line(c, stage, stream, b->data + start, b->len - start);
                start = b->len;
        }
        memmove(b->data, b->data + start, b->len - start);
        b->len -= start;
}

static void flush_lines(dl_conn_t *c, lc_run_t *rd, stage_kind_t stage)
{
        for (int s = 0; s < 2; s++) {
                if (c && rd->line[s].len)
                        send_line(c, stage, s, rd->line[s].data, rd->line[s].len);
                rd->line[s].len = 0;
        }
}

/* The number in exitstatus (docs/dialects.md): the exit code of the last stage that ran;
 * 128 + the signal that ended it; 124 for a time limit (as timeout(1)); 137 for the memory
 * limit (a SIGKILL, as Docker reports it); 125 when the sandbox itself failed (as docker run
 * does when it cannot run the container). */
static int exit_status(const job_result_t *res)
{
        const stage_result_t *s = res->run.present ? &res->run : &res->compile;
        switch (s->status) {
        case STATUS_TIME_LIMIT:
                return 124;
        case STATUS_MEMORY_LIMIT:
                return 137;
        case STATUS_INTERNAL_ERROR:
                return 125;
        default:
                break;
        }
        if (s->exit_code >= 0)
                return s->exit_code;
        return 128 + (s->signal > 0 ? s->signal : 9);
}

static void run_event(dl_run_t *r, const dl_event_t *ev)
{
        lc_run_t *rd = dl_run_data(r);
        dl_conn_t *c = dl_run_conn(r);
        if (!c)
                return;
        char text[700];
        cJSON *o;
        switch (ev->kind) {
        case DL_EV_OUTPUT:
                add_output(c, rd, ev->stage, ev->stream == STREAM_STDOUT ? 0 : 1, ev->data,
                           ev->len);
                break;
        case DL_EV_EXIT:
                flush_lines(c, rd, ev->stage);
                break;
        case DL_EV_DONE:
                flush_lines(c, rd, STAGE_RUN);
                o = message("exitstatus");
                cJSON_AddNumberToObject(o, "exitstatus", exit_status(ev->result));
                dl_send_json(c, o);
                if (close_after_exit)
                        dl_close(c, 1000, "exit");
                break;
        case DL_EV_DROPPED:
                snprintf(text, sizeof(text), "%s: %s", ev->code, ev->message);
                send_error(c, text, NULL);
                break;
        case DL_EV_QUEUED:
        case DL_EV_STAGE:
        default:
                break;
        }
}

static void run_free(dl_run_t *r)
{
        lc_run_t *rd = dl_run_data(r);
        buf_free(&rd->line[0]);
        buf_free(&rd->line[1]);
}

/* ------------------------------------------------------------------ client messages */

/* files [{filename, contents}] after the code: a file named like the code's file replaces it,
 * as in the original (the files were written after the code). */
static int add_files(cJSON *out, const char *code_name, const char *code, const cJSON *files)
{
        const cJSON *f, *replaces = NULL;
        cJSON_ArrayForEach(f, files)
        {
                const cJSON *fn = cJSON_GetObjectItemCaseSensitive(f, "filename");
                const cJSON *fc = cJSON_GetObjectItemCaseSensitive(f, "contents");
                if (!cJSON_IsString(fn) || !cJSON_IsString(fc))
                        return -1;
                if (strcmp(fn->valuestring, code_name) == 0)
                        replaces = f;
        }
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddStringToObject(entry, "name", code_name);
        cJSON_AddStringToObject(
            entry, "content",
            replaces ? cJSON_GetObjectItemCaseSensitive(replaces, "contents")->valuestring : code);
        cJSON_AddItemToArray(out, entry);
        cJSON_ArrayForEach(f, files)
        {
                if (f == replaces)
                        continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(
                    o, "name", cJSON_GetObjectItemCaseSensitive(f, "filename")->valuestring);
                cJSON_AddStringToObject(
                    o, "content", cJSON_GetObjectItemCaseSensitive(f, "contents")->valuestring);
                cJSON_AddItemToArray(out, o);
        }
        return 0;
}

static void on_exec(dl_conn_t *c, const cJSON *msg)
{
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(msg, "runtime");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(msg, "code");
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(msg, "files");
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(msg, "env");
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(msg, "command");
        const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(msg, "timeout");
        char text[700];
        if (dl_conn_next_run(c, NULL)) {
                send_error_msg(c, "a program is already running: one exec at a time", msg);
                return;
        }
        if (!cJSON_IsString(rt)) {
                send_error_msg(c, "exec: \"runtime\" (a string) is required", msg);
                return;
        }
        if (!cJSON_IsString(code)) {
                send_error_msg(c, "exec: \"code\" (a string) is required", msg);
                return;
        }
        if (files && !cJSON_IsNull(files) && !cJSON_IsArray(files)) {
                send_error_msg(c, "exec: \"files\" must be a list of {filename, contents}", msg);
                return;
        }
        if (timeout && !cJSON_IsNull(timeout) &&
            (!cJSON_IsNumber(timeout) || timeout->valuedouble < 1 ||
             timeout->valuedouble > INT_MAX || timeout->valuedouble != (int)timeout->valuedouble)) {
                send_error_msg(c, "exec: \"timeout\" must be a positive integer (milliseconds)",
                               msg);
                return;
        }
        const toolchain_t *tc = toolchain_set_find(&dl_catalog()->set, rt->valuestring);
        if (!tc) {
                snprintf(text, sizeof(text), "unknown runtime: %.200s", rt->valuestring);
                send_error_msg(c, text, msg);
                return;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "language", rt->valuestring);
        if (add_files(cJSON_AddArrayToObject(doc, "files"), tc->source_file, code->valuestring,
                      cJSON_IsArray(files) ? files : NULL) < 0) {
                cJSON_Delete(doc);
                send_error_msg(c, "exec: \"files\" must be a list of {filename, contents}", msg);
                return;
        }
        if (env && !cJSON_IsNull(env))
                cJSON_AddItemToObject(doc, "env", cJSON_Duplicate(env, 1));
        if (cmd && !cJSON_IsNull(cmd))
                cJSON_AddItemToObject(doc, "command", cJSON_Duplicate(cmd, 1));
        if (timeout && !cJSON_IsNull(timeout))
                cJSON_AddNumberToObject(cJSON_AddObjectToObject(doc, "limits"), "wall_ms",
                                        timeout->valuedouble);
        /* events reach the program on its stdin while it runs */
        cJSON_AddBoolToObject(doc, "interactive", true);
        static unsigned long seq;
        char id[32];
        snprintf(id, sizeof(id), "lc%lu", ++seq);
        dl_error_t err;
        if (!dl_run_start(c, NULL, doc, id, &err)) {
                snprintf(text, sizeof(text), "%s: %s", err.code, err.message);
                send_error_msg(c, text, msg);
        }
}

static void on_event(dl_conn_t *c, const cJSON *msg)
{
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "event")) ||
            !cJSON_GetObjectItemCaseSensitive(msg, "data")) {
                send_error_msg(c, "event: \"event\" (a string) and \"data\" are required", msg);
                return;
        }
        dl_run_t *r = dl_conn_next_run(c, NULL);
        if (!r) {
                send_error_msg(c, "event: no program is running", msg);
                return;
        }
        /* the whole message, compactly, as one line */
        char *text = cJSON_PrintUnformatted(msg);
        buf_t line = {0};
        if (!text || buf_printf(&line, "%s\n", text) < 0 ||
            dl_run_stdin(r, line.data, line.len) < 0)
                send_error_msg(c, "event: the program's input is closed", msg);
        free(text);
        buf_free(&line);
}

static void ws_message(dl_conn_t *c, const char *data, size_t len, bool binary)
{
        if (!data) {
                send_error(c, "the message is over the size limit", NULL);
                return;
        }
        if (binary) {
                send_error(c, "binary messages are not accepted: send JSON text", NULL);
                return;
        }
        char why[160], emsg[240];
        cJSON *msg = json_parse_strict(data, len, why, sizeof(why));
        if (!msg) {
                /* "invalid JSON" for what is not JSON at all (as the original says); with the
                 * reason for what only the strict parse refuses (a NUL, equal keys, ...) */
                cJSON *lenient = cJSON_ParseWithLength(data, len);
                snprintf(emsg, sizeof(emsg), "invalid JSON%s%s", lenient ? ": " : "",
                         lenient ? why : "");
                cJSON_Delete(lenient);
                send_error(c, emsg,
                           json_bytes_item(data, len > ECHO_MAX_BYTES ? ECHO_MAX_BYTES : len));
                return;
        }
        const cJSON *mt =
            cJSON_IsObject(msg) ? cJSON_GetObjectItemCaseSensitive(msg, "msgtype") : NULL;
        const char *type = cJSON_IsString(mt) ? mt->valuestring : NULL;
        char text[300];
        if (!dl_json_depth_ok(msg)) {
                send_error(c, "the message is nested too deeply", NULL);
        } else if (!cJSON_IsObject(msg)) {
                send_error_msg(c, "a message is a JSON object", msg);
        } else if (!type) {
                send_error_msg(c, "\"msgtype\" (a string) is required", msg);
        } else if (strcmp(type, "ping") == 0) {
                dl_send_json(c, message("pong"));
        } else if (strcmp(type, "exec") == 0) {
                on_exec(c, msg);
        } else if (strcmp(type, "event") == 0) {
                on_event(c, msg);
        } else if (strcmp(type, "quit") == 0) {
                dl_send_json(c, message("goodbye"));
                dl_close(c, 1000, "goodbye");
        } else {
                snprintf(text, sizeof(text), "unknown message type: %.200s", type);
                send_error_msg(c, text, msg);
        }
        cJSON_Delete(msg);
}

static void ws_open(dl_conn_t *c, int tag)
{
        (void)tag;
        cJSON *o = message("welcome");
        cJSON_AddStringToObject(o, "message", "welcome to livecode");
        dl_send_json(c, o);
}

static const dl_route_t routes[] = {
    {"", DL_WS, 0},
};

const dialect_t dialect_livecode = {
    .name = "livecode",
    .base = "/livecode",
    .routes = routes,
    .nroutes = sizeof(routes) / sizeof(routes[0]),
    .run_size = sizeof(lc_run_t),
    .configure = configure,
    .ws_open = ws_open,
    .ws_message = ws_message,
    .run_event = run_event,
    .run_free = run_free,
};
